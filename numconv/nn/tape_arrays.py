"""What the tape needs to know about arrays: which ones carry gradients, whether one was changed in place, and
how a gradient goes back through a view.

The tape (``numconv/nn/tape.py``) records, for every array argument of a layer call, where it came from. These
helpers answer the three questions that takes: is this a float array (:func:`_differentiable`, :func:`_outputs`);
is it still what the layer saw (:func:`_fingerprint`: nine values spread over it, or every byte in debug mode;
:func:`_unchanged`); and, for a NumPy view of a recorded array, which of its elements are which
(:func:`_is_view_of`, :func:`_gradient_through_view`).
"""

from __future__ import annotations

import hashlib

import numpy as np

from .._state import is_debug


def _differentiable(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def _outputs(value) -> list:
    """The float arrays (and Python floats, as losses return) in a call's output, in order.

    The output may be one array, a tuple or list of them, or a dict (its values, in the dict's order).
    """
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (tuple, list)) else (value,)
    return [v for v in items if _is_output(v)]


def _is_output(value) -> bool:
    """Whether a value a call returned carries a gradient: a float array, or a Python float (a loss)."""
    return _differentiable(value) or type(value) is float


_SAMPLES: dict = {}


def _fingerprint(array):
    """What an in-place change of ``array`` would alter: nine values spread over it, or (in debug mode) all.

    Nine values notice an in-place change of the whole array such as ``out += x`` at almost no cost; a
    change of a few elements (``out[:, 5] = 0``) can miss them. In debug mode (``numconv.set_debug``) the
    fingerprint is a checksum of every byte instead, which notices any change but reads the whole array.
    A Python float (a loss's value) is its own fingerprint.
    """
    if is_debug() and isinstance(array, np.ndarray):
        return _checksum(array)
    return _sampled(array)


def _unchanged(array, fingerprint) -> bool:
    """Whether ``array`` still has ``fingerprint``, taken the same way it was (sampled or whole)."""
    if isinstance(fingerprint, _Checksum):
        return isinstance(array, np.ndarray) and _checksum(array) == fingerprint
    return _sampled(array) == fingerprint


def _sampled(array) -> bytes:
    """Nine values spread over ``array`` (a Python float: its own value), as bytes."""
    if not isinstance(array, np.ndarray):
        return np.float64(array).tobytes()
    size = array.size
    positions = _SAMPLES.get(size)
    if positions is None:
        positions = _SAMPLES[size] = np.unique(np.linspace(0, max(size - 1, 0), 9).astype(np.intp))[:size]
    return array.take(positions).tobytes() if size else b""


class _Checksum(bytes):
    """A whole-array fingerprint (debug mode); a type of its own, so it is never compared with a sampled one."""


def _checksum(array) -> _Checksum:
    # BLAKE2 of the bytes: any change of any element changes it (NaN payloads and -0.0 included).
    data = np.ascontiguousarray(array).view(np.uint8)
    return _Checksum(hashlib.blake2b(data, digest_size=16).digest())


# ---------------------------------------------------------------------------- views
def _byte_extent(a):
    """(lowest byte address, highest + itemsize) of the elements of ``a``."""
    start = a.__array_interface__["data"][0]
    low = start + sum(s * (n - 1) for s, n in zip(a.strides, a.shape) if s < 0 and n > 0)
    high = start + sum(s * (n - 1) for s, n in zip(a.strides, a.shape) if s > 0 and n > 0) + a.itemsize
    return low, high


def _is_view_of(view, base) -> bool:
    """True if every element of ``view`` is an element of ``base`` (so its gradient can be mapped back)."""
    if view.dtype != base.dtype or not (base.flags.c_contiguous or base.flags.f_contiguous):
        return False
    (low, high), (vlow, vhigh) = _byte_extent(base), _byte_extent(view)
    return low <= vlow and vhigh <= high and (vlow - low) % base.itemsize == 0 and \
        all(s % base.itemsize == 0 for s in view.strides)


def _gradient_through_view(base, view, grad):
    """Scatter ``grad`` (w.r.t. ``view``) onto a zero gradient w.r.t. ``base``.

    The common case, a reshape of a contiguous array, is a reshape. Otherwise
    both are laid over one zero buffer with their own offsets and strides, as
    they lie in memory, and the view's gradient is added in place; axes the
    view repeats (stride 0, from broadcasting) are summed first.
    """
    if view.size == base.size and view.flags.c_contiguous and base.flags.c_contiguous:
        return grad.reshape(base.shape)
    low, high = _byte_extent(base)
    item = base.itemsize
    buffer = np.zeros((high - low) // item, dtype=grad.dtype)
    repeated = tuple(i for i, (s, n) in enumerate(zip(view.strides, view.shape)) if s == 0 and n > 1)
    if repeated:
        grad = grad.sum(axis=repeated, keepdims=True)
    shape = tuple(1 if i in repeated else n for i, n in enumerate(view.shape))
    strides = [s // item for s in view.strides]
    offset = (view.__array_interface__["data"][0] - low) // item
    index = np.full(shape, offset, dtype=np.int64)
    for axis, (n, s) in enumerate(zip(shape, strides)):
        if n > 1:
            index += (np.arange(n, dtype=np.int64) * s).reshape([-1 if k == axis else 1 for k in range(len(shape))])
    np.add.at(buffer, index, grad)
    base_offset = (base.__array_interface__["data"][0] - low) // item
    base_strides = tuple(s // item * buffer.itemsize for s in base.strides)
    return np.lib.stride_tricks.as_strided(buffer[base_offset:], base.shape, base_strides).copy()
