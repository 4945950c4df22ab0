"""``pad``: PyTorch's ``torch.nn.functional.pad``, on the padding convolution already uses.

PyTorch lists the padding from the *last* axis backwards: ``(left, right)``
pads the last axis, ``(left, right, top, bottom)`` the last two,
``(left, right, top, bottom, front, back)`` the last three. A negative
amount crops instead. The modes:

- ``'constant'``: ``value`` around the input (any number of padded axes);
- ``'reflect'``: the input mirrored about its edge pixel, the edge not
  repeated (``[1 2 3 4]`` padded by 2 on the left: ``3 2 | 1 2 3 4``); each
  padding must be smaller than the axis;
- ``'replicate'``: the edge pixel repeated (``1 1 | 1 2 3 4``);
- ``'circular'``: the input wrapped around (``3 4 | 1 2 3 4``); each padding
  at most the axis.

The non-constant modes pad 1 to 3 trailing axes of an input with one or two
more axes (batch and channel, or channel only), as in PyTorch.

The work is done by ``numconv.functional.im2col``'s ``_pad`` and
``pad_backward`` (the padding of ``Conv2d(padding_mode=...)``): the positive
amounts are padded first, then the negative ones cropped (so a reflection
is always about the input's own edge, and the size limits of reflect and
circular padding apply to the input's size, as in PyTorch). The backward
pass gives cropped pixels zero gradient and folds the border's gradient
back onto the pixels it copied (reflect, replicate, circular).
"""

from __future__ import annotations

from typing import NamedTuple

import math

import numpy as np

from .._checks import as_float_array, shape_str
from ._docs import gradient_of
from .im2col import PadCache, _check_pad, _pad, pad_backward as _fold_padding

__all__ = ["pad", "pad_backward", "pad_output_shape", "PaddingCache", "PAD_MODES"]

PAD_MODES = ("constant", "reflect", "replicate", "circular")
_CONV_MODE = {"constant": "zeros", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


class PaddingCache(NamedTuple):
    """What ``pad_backward`` needs: the crop of each padded axis and the padding, in their order; the input."""

    crop_first: bool
    crop: tuple
    padding: PadCache | None
    input_shape: tuple
    dtype: np.dtype


def pad(x, pad, mode="constant", value=None):
    """Pad (or, with negative amounts, crop) the trailing axes of ``x``, as ``torch.nn.functional.pad``.

    Parameters
    ----------
    x : ndarray, shape (*, S_1, ..., S_m)
    pad : sequence of 2m ints
        ``(before_m, after_m, before_{m-1}, after_{m-1}, ...)``: the last
        axis first, as in PyTorch.
    mode : {'constant', 'reflect', 'replicate', 'circular'}
    value : float or None
        The fill of ``'constant'`` (None: 0, PyTorch's default). The other
        modes take no value: they refuse one other than None or 0, as
        PyTorch does.

    Returns
    -------
    out : ndarray, shape (*, S_1 + before_1 + after_1, ...), in ``x``'s dtype
    cache : PaddingCache

    Examples
    --------
    >>> out, _ = pad(np.array([[1.0, 2.0, 3.0, 4.0]]), (2, -1), mode="reflect")
    >>> out
    array([[3., 2., 1., 2., 3.]])
    """
    x = as_float_array(x, "pad")
    shape, dtype = x.shape, x.dtype
    pad_output_shape(shape, pad, mode, value)  # every check
    if value is not None and math.isfinite(value) and abs(value) > float(np.finfo(dtype).max):
        raise ValueError(f"pad: value={value!r} cannot be represented in {dtype} (it would pad with inf); PyTorch "
                         "refuses it too")
    pairs = _pairs(pad)
    first = x.ndim - len(pairs)
    crop_first = mode in ("constant", "circular")  # PyTorch's order: these wrap the cropped input
    crop = None
    if crop_first:
        x, crop = _crop(x, pairs, first)
    widths = tuple((max(0, before), max(0, after)) for before, after in pairs)
    padding = None
    if any(b or a for b, a in widths):
        x, padding = _pad(x, widths, _CONV_MODE[mode], 0.0 if value is None else float(value))
    if not crop_first:  # a reflection or a replica is taken about the input's own edges: crop last
        x, crop = _crop(x, pairs, first)
    out = np.ascontiguousarray(x) if x.ndim else x  # (ascontiguousarray would make a 0-d array 1-D)
    if out is x and padding is None:
        out = x.copy()  # never hand back the caller's array
    return out, PaddingCache(crop_first, crop, padding, shape, dtype)


def pad_output_shape(shape, pad, mode="constant", value=None) -> tuple:
    """The shape ``pad`` gives an input of ``shape``, with all of ``pad``'s checks, computing nothing.

    Raises
    ------
    ValueError, TypeError
        As ``pad`` would.
    """
    shape = tuple(int(s) for s in shape)
    pairs = _check_arguments(shape, pad, mode, value)
    first = len(shape) - len(pairs)
    _check_crop(shape, pairs, first, mode)
    widths = tuple((max(0, before), max(0, after)) for before, after in pairs)
    if mode in ("constant", "circular"):  # cropped first: the padding limits apply to what is left
        padded = shape[:first] + tuple(s - max(0, -b) - max(0, -a) for s, (b, a) in zip(shape[first:], pairs))
    else:
        padded = shape
    if any(b or a for b, a in widths):
        try:
            _check_pad(padded, widths, _CONV_MODE[mode], "pad")
        except ValueError as error:
            if padded == shape:
                raise
            raise ValueError(f"pad: {tuple(pad)} crops the input of shape {shape_str(shape)} to {shape_str(padded)} "
                             f"first (mode {mode!r}, as in PyTorch), then pads what is left: {error}") from None
    return shape[:first] + tuple(s + b + a for s, (b, a) in zip(shape[first:], pairs))


def _pairs(pad) -> tuple:
    """PyTorch's flat (last axis first) padding as (before, after) pairs in axis order."""
    return tuple((int(pad[2 * i]), int(pad[2 * i + 1])) for i in reversed(range(len(pad) // 2)))


def _crop(x, pairs, first):
    """``x`` without the negative amounts of ``pairs`` (a view), and the slices that cut it."""
    crop = tuple(slice(max(0, -before), size - max(0, -after))
                 for size, (before, after) in zip(x.shape[first:], pairs))
    return x[(Ellipsis,) + crop], crop


@gradient_of("pad", "PaddingCache")
def pad_backward(dout, cache: PaddingCache):
    """Gradient of ``pad``.

    Returns
    -------
    dx : ndarray, shape ``cache.input_shape``
        The centre's gradient, plus every border cell's added to the pixel it
        copied; zero for cropped pixels (and nothing from a constant border).
    """
    if not isinstance(cache, PaddingCache):
        raise TypeError(f"pad_backward: expected the PaddingCache returned by pad, got {type(cache).__name__}")
    dout = np.asarray(dout, dtype=cache.dtype)
    expected = _output_shape(cache)
    if dout.shape != expected:
        raise ValueError(f"pad_backward: expected dout of shape {shape_str(expected)} (the output's), got "
                         f"{shape_str(dout.shape)}")
    if cache.crop_first:
        grad = dout if cache.padding is None else _fold_padding(dout, cache.padding)
        return _uncrop(grad, cache.input_shape, cache.crop)
    if cache.padding is None:
        return _uncrop(dout, cache.input_shape, cache.crop)
    return _fold_padding(_uncrop(dout, _padded_shape(cache.input_shape, cache.padding), cache.crop), cache.padding)


def _uncrop(grad, shape, crop):
    """Adjoint of the crop: the gradient in place, zeros where pixels were cut away (always a new array)."""
    out = np.zeros(shape, dtype=grad.dtype)
    out[(Ellipsis,) + crop] = grad
    return out


def _padded_shape(shape, padding: PadCache) -> tuple:
    first = len(shape) - len(padding.pad_width)
    return shape[:first] + tuple(s + b + a for s, (b, a) in zip(shape[first:], padding.pad_width))


def _output_shape(cache: PaddingCache) -> tuple:
    shape = cache.input_shape
    first = len(shape) - len(cache.crop)
    cut = tuple(c.stop - c.start for c in cache.crop)
    if cache.crop_first:
        shape = shape[:first] + cut
        return shape if cache.padding is None else _padded_shape(shape, cache.padding)
    return shape[:first] + cut  # the crop's slices are those of the padded shape


def _check_arguments(shape, pad, mode, value) -> tuple:
    """Check ``pad``'s arguments as PyTorch does; return the (before, after) pairs in axis order."""
    if not isinstance(mode, str) or mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be one of {PAD_MODES}, got {mode!r}")
    if not isinstance(pad, (tuple, list)) or not all(
            isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pad):
        raise TypeError(f"pad: expected pad to be a tuple of ints (left, right, top, bottom, ...), got {pad!r}")
    if len(pad) % 2:
        raise ValueError(f"pad: the padding must come in (before, after) pairs, got {len(pad)} numbers: {tuple(pad)}")
    axes = len(pad) // 2
    if axes > len(shape):
        raise ValueError(f"pad: {tuple(pad)} pads {axes} axes, but the input of shape {shape_str(shape)} has only "
                         f"{len(shape)}")
    if mode != "constant" and (axes not in (1, 2, 3) or len(shape) not in (axes + 1, axes + 2)):
        raise ValueError(
            f"pad: mode {mode!r} pads the last 1, 2 or 3 axes of an input with one or two more axes (channel, or "
            f"batch and channel): padding {len(pad)} numbers needs a {axes + 1}-D or {axes + 2}-D input, got "
            f"shape {shape_str(shape)} ({len(shape)}-D)"
        )
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))):
        raise TypeError(f"pad: expected value to be a number or None, got {value!r}")
    if mode != "constant" and value is not None and value != 0:
        raise ValueError(f"pad: mode {mode!r} takes no value (got value={value!r}); only mode 'constant' fills "
                         "with one")
    return _pairs(pad)


def _check_crop(shape, pairs, first, mode) -> None:
    """Negative padding crops: no more than the axis holds (constant, circular: they crop first), and
    reflect and replicate must leave at least one pixel (PyTorch's 1-D kernels check it; its 2-D and
    3-D ones return an empty array instead)."""
    for axis, (size, (before, after)) in enumerate(zip(shape[first:], pairs)):
        cut = max(0, -before) + max(0, -after)
        if mode in ("constant", "circular") and cut > size:
            raise ValueError(f"pad: padding ({before}, {after}) crops {cut} pixels from axis {first + axis} of "
                             f"size {size} (input of shape {shape_str(shape)})")
        if mode in ("reflect", "replicate") and size + before + after < 1:
            raise ValueError(f"pad: padding ({before}, {after}) leaves {size + before + after} pixels of axis "
                             f"{first + axis} of size {size} (input of shape {shape_str(shape)}); mode {mode!r} "
                             "needs at least one")
