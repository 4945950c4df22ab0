"""``inplace=True`` as PyTorch has it: the caller's array is overwritten, and the layer returns that array.

Activation and dropout layers accept ``inplace``. With it, the result is
written into the input array and that same object is returned, so code that
relies on PyTorch's in-place semantics (``y = relu(x); y is x``, or reading
``x`` afterwards) behaves the same. The gradient is unchanged: whatever the
layer's backward needs from the input is kept as a copy first. An input that
cannot be overwritten (another dtype than the layer computes in, a Python
list, a read-only array) is refused rather than silently copied.
"""

from __future__ import annotations

import numpy as np


def forward_inplace(module, x, apply):
    """Run ``apply(x) -> (out, cache)``, write ``out`` into ``x``, keep the cache, return ``x``.

    Parameters
    ----------
    module : Module
        The layer (its ``_as_input`` and ``_keep`` are used).
    x : ndarray
        The caller's array; must already be of the dtype the layer computes in, and writeable.
    apply : callable
        The layer's functional forward on ``x``.
    """
    where = f"{type(module).__name__}(inplace=True)"
    checked = module._as_input(x, type(module).__name__)
    if checked is not x:
        raise TypeError(f"{where}: the input is overwritten with the result, so it must be an ndarray of the dtype "
                        f"the layer computes in ({checked.dtype}), got {type(x).__name__}"
                        + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else "")
                        + "; convert it first, or use inplace=False")
    if not x.flags.writeable:
        raise ValueError(f"{where}: the input array is read-only, so it cannot be overwritten; pass a writeable "
                         "array (x.copy()), or use inplace=False")
    out, cache = apply(x)
    if isinstance(cache, tuple) and hasattr(cache, "_fields"):
        # Whatever the backward reads from the input must not change under it.
        cache = type(cache)(*[c.copy() if isinstance(c, np.ndarray) and np.shares_memory(c, x) else c
                              for c in cache])
    np.copyto(x, out)
    module._keep(cache)
    return x
