"""Kernels for activations: the error function, which NumPy lacks.

GELU needs ``erf`` elementwise. NumPy has no ``erf`` ufunc, and a Python loop
over ``math.erf`` costs about a microsecond per element, so this is the one
activation loop compiled with numba.
"""

from __future__ import annotations

import math

from ._jit import lazy_njit

__all__ = ["erf_kernel"]


@lazy_njit
def erf_kernel(x, out):
    """Write ``erf(x)`` into ``out``, elementwise.

    Equals ``np.vectorize(math.erf)(x)`` (NumPy has no ``erf`` of its own).

    Parameters
    ----------
    x : ndarray, shape (n,), float32 or float64, contiguous
    out : ndarray, shape (n,), same dtype as ``x``
        Allocated by the caller (NumPy allocations get huge pages; numba's do not).
    """
    for i in range(x.shape[0]):
        out[i] = math.erf(x[i])
