"""Activations that mix the elements along an axis: softmax, softmin, log-softmax, and maxout.

Each is a pair ``out, cache = op(x, ...)`` / ``dx = op_backward(dout, cache)``
with PyTorch's semantics. ``out`` keeps ``x``'s dtype; ``dx`` has ``x``'s
shape. The softmax family keeps its output (an :class:`OutputCache` whose
``args`` is ``(dim,)``); maxout keeps which piece won each group.

Numerical stability: softmax subtracts the maximum first, so ``exp`` never
sees a large positive number.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, check_dout, check_positive_int, shape_str
from .activation import OutputCache, _saved

__all__ = [
    "softmax", "softmax_backward", "log_softmax", "log_softmax_backward", "softmin", "softmin_backward",
    "maxout", "maxout_backward", "MaxoutCache",
]


class MaxoutCache(NamedTuple):
    """Which of the ``pool_size`` pieces won in each group, and the input's shape."""

    argmax: np.ndarray
    x_shape: tuple
    axis: int
    dtype: np.dtype


# ---------------------------------------------------------------------------- softmax family
def _softmax_dim(x: np.ndarray, dim, where: str) -> int:
    """Resolve ``dim`` (negative counts from the end; ``None`` is PyTorch's legacy rule)."""
    if dim is None:
        # PyTorch's deprecated implicit choice: axis 0 for 0-, 1- and 3-D input, else axis 1.
        dim = 0 if x.ndim in (0, 1, 3) else 1
        warnings.warn(
            f"{where}: no dim given; using dim={dim} for this {x.ndim}-D input (PyTorch's deprecated implicit "
            "rule). Pass dim= explicitly.",
            UserWarning,
            stacklevel=3,
        )
        return dim
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{where}: expected dim to be an int or None, got {dim!r}")
    ndim = max(x.ndim, 1)  # a 0-D input behaves as one element along dim 0 / -1
    if not -ndim <= dim < ndim:
        raise ValueError(
            f"{where}: dim {dim} is out of range for an input of shape {shape_str(x.shape)} "
            f"(expected -{ndim} <= dim < {ndim})"
        )
    return int(dim) % ndim


def _shifted(x: np.ndarray, dim: int) -> np.ndarray:
    """``x - max(x)`` along ``dim``: the largest entry becomes 0, so ``exp`` cannot overflow."""
    return x - np.max(x, axis=dim, keepdims=True, initial=-np.inf)


def softmax(x, dim=None):
    """``exp(x) / sum(exp(x))`` along ``dim``, as ``torch.nn.functional.softmax``.

    Computed as ``exp(x - max) / sum(exp(x - max))``: the same value, without
    overflow for large ``x``. The backward uses the output ``y``:
    ``y * (dout - sum(dout * y))``.

    Parameters
    ----------
    x : ndarray, any shape
    dim : int or None
        The axis that sums to 1. ``None`` follows PyTorch's deprecated implicit
        rule (axis 0 for 0-, 1- and 3-D input, else axis 1) with a warning.
    """
    x = as_float_array(x, "softmax")
    return _softmax(x, _softmax_dim(x, dim, "softmax"))


def _softmax(x: np.ndarray, dim: int):
    xx = x.reshape(1) if x.ndim == 0 else x
    e = np.exp(_shifted(xx, dim))
    out = (e / np.sum(e, axis=dim, keepdims=True)).reshape(x.shape)
    return out, OutputCache(out, (dim,))


def softmax_backward(dout, cache: OutputCache):
    """``dx = y * (dout - sum(dout * y, dim))``: the Jacobian ``diag(y) - y y^T`` applied to ``dout``."""
    y, (dim,), dout = _saved(dout, cache, "softmax_backward")
    yy, dd = (y.reshape(1), dout.reshape(1)) if y.ndim == 0 else (y, dout)
    return (yy * (dd - np.sum(dd * yy, axis=dim, keepdims=True))).reshape(y.shape)


def softmin(x, dim=None):
    """``softmax(-x, dim)``, as ``torch.nn.functional.softmin``: small entries get large weights."""
    x = as_float_array(x, "softmin")
    return _softmax(np.negative(x).reshape(x.shape), _softmax_dim(x, dim, "softmin"))


def softmin_backward(dout, cache: OutputCache):
    """The softmax backward with its sign flipped (chain rule through ``-x``)."""
    return -softmax_backward(dout, cache)


def log_softmax(x, dim=None):
    """``log(softmax(x))`` along ``dim``, as ``torch.nn.functional.log_softmax``.

    Computed as ``(x - max) - log(sum(exp(x - max)))``, which stays finite where
    ``log(softmax(x))`` would take the log of an underflowed 0. The backward
    uses the output (log-probabilities): ``dout - exp(out) * sum(dout)``.

    Parameters
    ----------
    x : ndarray, any shape
    dim : int or None
        As for :func:`softmax`.
    """
    x = as_float_array(x, "log_softmax")
    dim = _softmax_dim(x, dim, "log_softmax")
    xx = x.reshape(1) if x.ndim == 0 else x
    shifted = _shifted(xx, dim)
    out = (shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))).reshape(x.shape)
    return out, OutputCache(out, (dim,))


def log_softmax_backward(dout, cache: OutputCache):
    """``dx = dout - softmax(x) * sum(dout, dim)``, with ``softmax(x) = exp(out)``."""
    out, (dim,), dout = _saved(dout, cache, "log_softmax_backward")
    oo, dd = (out.reshape(1), dout.reshape(1)) if out.ndim == 0 else (out, dout)
    return (dd - np.exp(oo) * np.sum(dd, axis=dim, keepdims=True)).reshape(out.shape)


# ---------------------------------------------------------------------------- maxout
def maxout(x, pool_size: int):
    """Maximum over groups of ``pool_size`` consecutive channels (axis 1), the maxout unit.

    A maxout unit (Goodfellow et al., 2013) is the maximum of ``k`` linear
    functions of its input. Computing all ``k * m`` linear pieces with one
    ``Linear`` (or ``Conv``) layer and taking the max over each group of ``k``
    gives ``m`` maxout units; see :class:`numconv.nn.Maxout`.

    Parameters
    ----------
    x : ndarray, shape (N, k*m, *) or (k*m,)
        Channels/features on axis 1; a 1-D input is one sample of features.
    pool_size : int
        ``k``, the number of pieces per unit.

    Returns
    -------
    out : ndarray, shape (N, m, *) or (m,)
        ``out[:, j] = max(x[:, j*k], ..., x[:, j*k + k - 1])``.
    cache : MaxoutCache
        The index of the winning piece in each group (the *first* one on ties,
        which is where the whole gradient goes, as in PyTorch's max pooling).
    """
    x = as_float_array(x, "maxout")
    k = check_positive_int(pool_size, "maxout", "pool_size")
    if x.ndim == 0:
        raise ValueError("maxout: expected an input of shape (N, C, *) or (C,), got a 0-D input")
    axis = 1 if x.ndim >= 2 else 0
    channels = x.shape[axis]
    if channels % k:
        raise ValueError(
            f"maxout: the {channels} channels on axis {axis} of the input (shape {shape_str(x.shape)}) "
            f"are not a multiple of pool_size={k}"
        )
    groups = x.reshape(x.shape[:axis] + (channels // k, k) + x.shape[axis + 1:])
    winner = np.argmax(groups, axis=axis + 1)  # argmax returns the first maximum on ties
    out = np.take_along_axis(groups, np.expand_dims(winner, axis + 1), axis=axis + 1)
    out = out.reshape(winner.shape)
    # The winner index is < k: store it small (k <= 256 for nearly every network).
    winner = winner.astype(np.min_scalar_type(k - 1), copy=False)
    return out, MaxoutCache(winner, x.shape, axis, x.dtype)


def maxout_backward(dout, cache: MaxoutCache):
    """Route each ``dout`` entry to the piece that won its group; the others get 0.

    Returns
    -------
    dx : ndarray, shape (N, k*m, *) or (k*m,)
    """
    winner, x_shape, axis, dtype = cache
    dout = check_dout(dout, winner.shape, dtype, "maxout_backward")
    k = x_shape[axis] // winner.shape[axis]
    dgroups = np.zeros(winner.shape[:axis + 1] + (k,) + winner.shape[axis + 1:], dtype=dtype)
    np.put_along_axis(dgroups, np.expand_dims(winner.astype(np.intp), axis + 1),
                      np.expand_dims(dout, axis + 1), axis=axis + 1)
    return dgroups.reshape(x_shape)
