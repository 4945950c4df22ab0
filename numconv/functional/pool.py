"""Pooling: max, average, adaptive and max-unpooling, over 1, 2 or 3 spatial axes.

Pooling slides a window over each channel of each sample separately and
replaces it by one number: its maximum or its mean. It has no parameters.

Window geometry, per spatial axis of size ``n``, as in PyTorch::

    span = dilation * (kernel_size - 1) + 1            # pixels one window covers
    out  = floor((n + 2 * padding - span) / stride) + 1    # ceil(...) with ceil_mode

Output ``o`` reads input positions ``o * stride - padding + t * dilation``
for ``t = 0 .. kernel_size - 1``. With ``ceil_mode`` the last window may hang
past the end of the input, but it must *start* inside the input or its left
padding: if ``(out - 1) * stride >= n + padding`` the last window is dropped.
``padding`` may be at most half the kernel (``padding <= kernel_size // 2``),
so a window without dilation always sees some real input. (A dilated window
can skip over a tiny input entirely; max pooling gives ``-inf`` there, with
index -1, and passes no gradient.)

* Max pooling pads with ``-inf``. Its backward pass sends each output
  gradient to the one input that was the maximum (the *first* maximum in
  scan order when several tie, as PyTorch does; a NaN counts as the maximum).
  ``return_indices=True`` also returns where each maximum was: the flat
  position inside its (n, c) plane of the unpadded input, int64, like
  PyTorch; ``max_unpool*`` puts values back at those positions.
* Average pooling pads with zeros and divides each window sum by
  ``divisor_override`` if given, else by the number of window positions
  inside the *padded* input (``count_include_pad=True``, the default) or
  inside the real input (``count_include_pad=False``).
* Adaptive pooling picks the windows from the output size instead: output
  ``i`` of ``m`` along an axis of size ``n`` covers ``[floor(i*n/m),
  ceil((i+1)*n/m))``. ``output_size=1`` is global pooling.

Every op takes a batch ``(N, C, *spatial)`` or one sample ``(C, *spatial)``.
The loops run in numba (``numconv.kernels.pool``), one generic 3-D loop for
all ranks: 1-D and 2-D inputs are viewed with size-1 leading spatial axes.
The common 2-D windows (2 x 2 and 3 x 3, with stride 1 or 2 on both axes)
have kernels compiled with the window's size built in, several times faster;
the naive loops in ``numconv.reference.pool`` compute the same thing.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, check_dout, check_flag, check_ndim, ntuple, shape_str
from .._geometry import window_output_size, window_span
from ..kernels import pool as kernels
from ..kernels import pool_windows
from ..kernels import workers

# Inputs (or input gradients) this large are split between two threads.
_SPLIT_MIN_ELEMENTS = 1 << 20

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool_backward",
    "max_pool1d_backward", "max_pool2d_backward", "max_pool3d_backward",
    "avg_pool1d", "avg_pool2d", "avg_pool3d", "avg_pool_backward",
    "avg_pool1d_backward", "avg_pool2d_backward", "avg_pool3d_backward",
    "pool2d_numpy", "pool_output_size", "MaxPoolCache", "AvgPoolCache",
]

_LAYOUTS = {1: "(C, L) or (N, C, L)", 2: "(C, H, W) or (N, C, H, W)", 3: "(C, D, H, W) or (N, C, D, H, W)"}


class MaxPoolCache(NamedTuple):
    """What max pooling's backward needs: where each maximum was.

    ``indices`` is (P, M): P = N*C planes, M outputs per plane, each the flat
    position of the maximum in its input plane (-1: no input element).
    """

    indices: np.ndarray
    x_shape: tuple
    out_shape: tuple
    dtype: np.dtype


class AvgPoolCache(NamedTuple):
    """What average pooling's backward needs: the window geometry, as 3-tuples."""

    nd: int
    x_shape: tuple
    out_shape: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    count_include_pad: bool
    divisor_override: int
    dtype: np.dtype


# ---------------------------------------------------------------------------- checks and shapes
def pool_output_size(size: int, kernel_size: int, stride: int, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """Output length of pooling along one axis (``numconv._geometry.window_output_size``).

    May be <= 0 when the window is larger than the padded input.
    """
    return window_output_size(size, kernel_size, stride, padding, dilation, ceil_mode)


def _check_input(x, nd: int, where: str) -> np.ndarray:
    """A float array of rank nd+1 or nd+2 with non-empty spatial axes."""
    x = as_float_array(x, where)
    check_ndim(x, (nd + 1, nd + 2), where, _LAYOUTS[nd])
    if min(x.shape[-nd:]) < 1:
        raise ValueError(f"{where}: expected non-empty spatial dimensions, got input of shape {shape_str(x.shape)}")
    if x.shape[-nd - 1] < 1:  # only the batch may be empty (PyTorch's max/avg pools agree)
        raise ValueError(f"{where}: expected at least one channel (only the batch axis may be empty), got input "
                         f"of shape {shape_str(x.shape)}")
    return x


def _window_params(nd, kernel_size, stride, padding, dilation, where):
    """Validate and expand the window arguments into nd-tuples (stride None -> kernel_size)."""
    kernel = ntuple(kernel_size, nd, where, "kernel_size", minimum=1)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        stride = kernel
    stride = ntuple(stride, nd, where, "stride", minimum=1)
    padding = ntuple(padding, nd, where, "padding", minimum=0)
    dilation = ntuple(dilation, nd, where, "dilation", minimum=1)
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(
            f"{where}: padding {padding} must be at most half of kernel_size {kernel} "
            f"(padding <= kernel_size // 2 on every axis)"
        )
    return kernel, stride, padding, dilation


def _output_sizes(x, nd, kernel, stride, padding, dilation, ceil_mode, where) -> tuple:
    """Spatial output shape; a clear error if the window does not fit."""
    spatial = x.shape[-nd:]
    out = tuple(window_output_size(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(spatial, kernel, stride, padding, dilation))
    if min(out) < 1:
        spans = " x ".join(str(window_span(k, d)) for k, d in zip(kernel, dilation))
        padded = " x ".join(str(n + 2 * p) for n, p in zip(spatial, padding))
        raise ValueError(
            f"{where}: kernel_size {kernel} with dilation {dilation} spans {spans} pixels, but the padded "
            f"input is only {padded} (input shape {shape_str(x.shape)}, padding {padding}, stride {stride}): "
            f"the output would have size {out}"
        )
    return out


def _plane_shape(shape, nd: int) -> tuple:
    """``(*lead, *spatial)`` -> ``(P, D, H, W)``: P = prod(lead), size-1 axes in front for nd < 3."""
    return (int(np.prod(shape[:-nd])),) + _pad3(shape[-nd:], 1)


def _as_planes(x, nd: int) -> np.ndarray:
    """``x`` as a C-contiguous ``(P, D, H, W)`` array (a view when it can be)."""
    return np.ascontiguousarray(x).reshape(_plane_shape(x.shape, nd))


def _pad3(values: tuple, fill: int) -> tuple:
    """An nd-tuple as a 3-tuple for the generic kernels: (2, 2) -> (fill, 2, 2)."""
    return (fill,) * (3 - len(values)) + tuple(values)


# ---------------------------------------------------------------------------- max pooling
def _max_pool(x, nd, kernel_size, stride, padding, dilation, ceil_mode, return_indices, where):
    """Max pooling over the last ``nd`` axes; the shared body of max_pool1d/2d/3d and MaxPool*."""
    x = _check_input(x, nd, where)
    kernel, stride, padding, dilation = _window_params(nd, kernel_size, stride, padding, dilation, where)
    ceil_mode = check_flag(ceil_mode, where, "ceil_mode")
    return_indices = check_flag(return_indices, where, "return_indices")
    out_sizes = _output_sizes(x, nd, kernel, stride, padding, dilation, ceil_mode, where)
    planes = _as_planes(x, nd)
    out_shape = x.shape[:-nd] + out_sizes
    out = np.empty(_plane_shape(out_shape, nd), dtype=x.dtype)
    idx = np.empty(out.shape, dtype=np.int64)
    window = _window_kernels(kernel, stride) if nd <= 2 and max(dilation) == 1 else None
    if (nd == 2 and kernel == stride == (2, 2) and padding == (0, 0) and dilation == (1, 1)
            and out_sizes == (x.shape[-2] // 2, x.shape[-1] // 2)):
        def part(a, b):  # the common case, unrolled
            kernels.max_pool2x2_forward(planes[a:b, 0], out[a:b, 0], idx[a:b, 0])
    elif window:  # this window shape compiled in
        def part(a, b):
            window.max_forward(planes[a:b, 0], out[a:b, 0], idx[a:b, 0], *_pad3(padding, 0)[1:])
    else:
        def part(a, b):
            kernels.max_pool_forward(planes[a:b], out[a:b], idx[a:b], _pad3(kernel, 1), _pad3(stride, 1),
                                     _pad3(padding, 0), _pad3(dilation, 1))
    _over_planes(part, planes.shape[0], x.size)
    return _max_result(out, idx, x.shape, out_shape, return_indices)


def _max_result(out, idx, x_shape, out_shape, return_indices):
    """Reshape a max-pooling kernel's planes back and build the cache."""
    planes = out.shape[0]
    cache = MaxPoolCache(idx.reshape(planes, out[0].size if planes else 0), x_shape, out_shape, out.dtype)
    out = out.reshape(out_shape)
    if return_indices:
        # a copy, so that changing the returned indices cannot change the backward pass
        return (out, idx.reshape(out_shape).copy()), cache
    return out, cache


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling, as ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W) or (C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Default: ``kernel_size`` (windows side by side).
    padding : int or (int, int)
        Implicit ``-inf`` on both sides; at most ``kernel_size // 2``.
    dilation : int or (int, int)
        Spacing between the taps of a window.
    ceil_mode : bool
        Round the output size up instead of down (see the module docstring).
    return_indices : bool
        Also return where each maximum was.

    Returns
    -------
    out : ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)
        ``(out, indices)`` if ``return_indices``; ``indices`` has the same
        shape, int64, each the flat position ``h * W + w`` in its input plane.
    cache : MaxPoolCache
    """
    return _max_pool(x, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices, "max_pool2d")


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-D max pooling, as ``torch.nn.functional.max_pool1d``.

    ``x`` is (N, C, L) or (C, L); ``out`` is (N, C, L_out) or (C, L_out).
    Arguments and returns as in :func:`max_pool2d`, with ints for the window.
    """
    return _max_pool(x, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices, "max_pool1d")


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """3-D max pooling, as ``torch.nn.functional.max_pool3d``.

    ``x`` is (N, C, D, H, W) or (C, D, H, W); ``out`` is (N, C, D_out,
    H_out, W_out) or (C, D_out, H_out, W_out); indices are ``(d * H + h) * W
    + w``. Arguments as in :func:`max_pool2d`, with 3-tuples.
    """
    return _max_pool(x, 3, kernel_size, stride, padding, dilation, ceil_mode, return_indices, "max_pool3d")


def max_pool_backward(dout, cache: MaxPoolCache):
    """Gradient of max pooling (1-D, 2-D, 3-D and adaptive alike; ``max_pool2d_backward`` etc. are this).

    Each output gradient goes to the input element that was its window's
    maximum; an element that is the maximum of several overlapping windows
    collects all their gradients.

    ``dout`` has the output's shape; ``dx`` the input's shape and dtype.
    """
    dout = np.ascontiguousarray(check_dout(dout, cache.out_shape, cache.dtype, "max_pool_backward"))
    planes, outputs = cache.indices.shape
    plane_size = int(np.prod(cache.x_shape)) // planes if planes else 0
    dx = np.empty((planes, plane_size), dtype=cache.dtype)
    dout = dout.reshape(planes, outputs)

    def part(a, b):
        dx[a:b] = 0  # zeroed by the thread that fills it: both halves at once, and in its core's cache
        kernels.max_pool_backward(dout[a:b], cache.indices[a:b], dx[a:b])
    _over_planes(part, planes, dx.size)
    return dx.reshape(cache.x_shape)


max_pool1d_backward = max_pool2d_backward = max_pool3d_backward = max_pool_backward
adaptive_max_pool1d_backward = adaptive_max_pool2d_backward = adaptive_max_pool3d_backward = max_pool_backward


# ---------------------------------------------------------------------------- average pooling
def _avg_pool(x, nd, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, where):
    """Average pooling over the last ``nd`` axes; the shared body of avg_pool1d/2d/3d and AvgPool*."""
    x = _check_input(x, nd, where)
    kernel, stride, padding, dilation = _window_params(nd, kernel_size, stride, padding, 1, where)
    ceil_mode = check_flag(ceil_mode, where, "ceil_mode")
    count_include_pad = check_flag(count_include_pad, where, "count_include_pad")
    if divisor_override is None:
        divisor = 0  # the kernels' "no override"
    elif isinstance(divisor_override, bool) or not isinstance(divisor_override, (int, np.integer)):
        raise TypeError(f"{where}: expected divisor_override to be an int or None, got {divisor_override!r}")
    elif divisor_override == 0:
        raise ValueError(f"{where}: divisor_override must not be zero")
    elif abs(divisor_override) > 2**53:
        raise ValueError(f"{where}: divisor_override must be at most 2**53 in size (beyond it a float64 division is "
                         f"not exact and the pooling kernels' int64 overflows), got {divisor_override}")
    else:
        divisor = int(divisor_override)
    if nd == 3 and any(n < k for n, k in zip(x.shape[-3:], kernel)):
        # PyTorch's avg_pool3d (not 1-D or 2-D) refuses this even when padding would make the window fit.
        raise ValueError(f"{where}: input of spatial size {shape_str(x.shape[-3:])} is smaller than kernel_size "
                         f"{kernel} (3-D average pooling needs the unpadded input to hold one window)")
    out_sizes = _output_sizes(x, nd, kernel, stride, padding, dilation, ceil_mode, where)
    cache = AvgPoolCache(nd, x.shape, x.shape[:-nd] + out_sizes, _pad3(kernel, 1), _pad3(stride, 1),
                         _pad3(padding, 0), count_include_pad, divisor, x.dtype)
    planes = _as_planes(x, nd)
    out = np.empty(_plane_shape(cache.out_shape, nd), dtype=x.dtype)
    window = _window_kernels(kernel, stride) if nd <= 2 else None
    if _is_plain_2x2(cache):
        def part(a, b):  # the common case, unrolled
            kernels.avg_pool2x2_forward(planes[a:b, 0], out[a:b, 0], divisor or 4)
    elif window:  # this window shape compiled in
        def part(a, b):
            window.avg_forward(planes[a:b, 0], out[a:b, 0], *cache.padding[1:], count_include_pad, divisor)
    else:
        def part(a, b):
            kernels.avg_pool_forward(planes[a:b], out[a:b], cache.kernel, cache.stride, cache.padding,
                                     count_include_pad, divisor)
    _over_planes(part, planes.shape[0], x.size)
    return out.reshape(cache.out_shape), cache


def _over_planes(part, planes: int, elements: int) -> None:
    """Run ``part(start, stop)`` over ranges of the ``planes`` (n, c) planes.

    Planes are independent, so a large input is split between the
    batch-split workers of ``numconv.kernels.workers`` (the kernels release
    the GIL); below ``_SPLIT_MIN_ELEMENTS`` elements handing a part to a
    thread costs more than it saves, and one call does everything.
    """
    if elements < _SPLIT_MIN_ELEMENTS:
        part(0, planes)
    else:
        workers.run_parts(part, workers.split_range(planes, workers.num_workers()))


def _window_kernels(kernel: tuple, stride: tuple):
    """The plane kernels compiled for this window shape, or None (see ``kernels.window_kernels``).

    ``kernel`` and ``stride`` are the 1-, 2- or 3-tuples of a 1-D or 2-D
    pooling (the 3-tuples in an ``AvgPoolCache`` have a leading 1).
    """
    (kh, kw), (sh, sw) = _pad3(kernel, 1)[-2:], _pad3(stride, 1)[-2:]
    return pool_windows.window_kernels(kh, kw, sh, sw)


def _is_plain_2x2(cache: AvgPoolCache) -> bool:
    """2x2 windows, stride 2, no padding, all inside the input: the unrolled kernels apply."""
    return (cache.nd == 2 and cache.kernel == cache.stride == (1, 2, 2) and cache.padding == (0, 0, 0)
            and cache.out_shape[-2:] == (cache.x_shape[-2] // 2, cache.x_shape[-1] // 2))


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W) or (C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Default: ``kernel_size``.
    padding : int or (int, int)
        Implicit zeros on both sides; at most ``kernel_size // 2``.
    ceil_mode : bool
        Round the output size up instead of down.
    count_include_pad : bool
        Count the padding in the divisor (default True).
    divisor_override : int, optional
        Divide every window sum by this instead.

    Returns
    -------
    out : ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)
    cache : AvgPoolCache
    """
    return _avg_pool(x, 2, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                     "avg_pool2d")


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-D average pooling, as ``torch.nn.functional.avg_pool1d`` (no ``divisor_override``).

    ``x`` is (N, C, L) or (C, L); ``out`` is (N, C, L_out) or (C, L_out).
    Arguments as in :func:`avg_pool2d`, with ints.
    """
    return _avg_pool(x, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None, "avg_pool1d")


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """3-D average pooling, as ``torch.nn.functional.avg_pool3d``.

    ``x`` is (N, C, D, H, W) or (C, D, H, W); ``out`` is (N, C, D_out,
    H_out, W_out) or (C, D_out, H_out, W_out). Arguments as in
    :func:`avg_pool2d`, with 3-tuples.
    """
    return _avg_pool(x, 3, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override,
                     "avg_pool3d")


def avg_pool_backward(dout, cache: AvgPoolCache):
    """Gradient of average pooling (1-D, 2-D and 3-D alike; ``avg_pool2d_backward`` etc. are this).

    Each output gradient, divided by its window's divisor, is added to every
    input element of the window (padding positions get nothing).
    ``dout`` has the output's shape; ``dx`` the input's shape and dtype.
    """
    dout = np.ascontiguousarray(check_dout(dout, cache.out_shape, cache.dtype, "avg_pool_backward"))
    dout = dout.reshape(_plane_shape(cache.out_shape, cache.nd))
    dx = np.empty(_plane_shape(cache.x_shape, cache.nd), dtype=cache.dtype)
    window = _window_kernels(cache.kernel, cache.stride) if cache.nd <= 2 else None
    # Each part zeroes the planes it fills (both halves at once, and in its core's cache).
    if _is_plain_2x2(cache):
        uncovered = cache.x_shape[-2] % 2 or cache.x_shape[-1] % 2  # only an odd last row or column is not written

        def part(a, b):
            if uncovered:
                dx[a:b] = 0
            kernels.avg_pool2x2_backward(dout[a:b, 0], dx[a:b, 0], cache.divisor_override or 4)
    elif window:
        def part(a, b):
            dx[a:b] = 0
            window.avg_backward(dout[a:b, 0], dx[a:b, 0], *cache.padding[1:], cache.count_include_pad,
                                cache.divisor_override)
    else:
        def part(a, b):
            dx[a:b] = 0
            kernels.avg_pool_backward(dout[a:b], dx[a:b], cache.kernel, cache.stride, cache.padding,
                                      cache.count_include_pad, cache.divisor_override)
    _over_planes(part, dx.shape[0], dx.size)
    return dx.reshape(cache.x_shape)


avg_pool1d_backward = avg_pool2d_backward = avg_pool3d_backward = avg_pool_backward


# ---------------------------------------------------------------------------- the readable path
def pool2d_numpy(x, kernel_size: int, stride: int | None = None, padding: int = 0, mode: str = "max"):
    """Max or average pooling in ten lines of NumPy: what the numba kernels compute, to read.

    Pad (``-inf`` for max, zeros for the average), view every window without
    copying (``sliding_window_view``), keep every ``stride``-th one, and reduce
    each. Equals ``max_pool2d`` / ``avg_pool2d`` with square windows and the
    defaults (no dilation, ``ceil_mode=False``, ``count_include_pad=True``);
    tests hold the two equal. It is 5-20x slower, and has no backward pass.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W) or (C, H, W)
    kernel_size, stride, padding : int
    mode : {"max", "avg"}

    Returns
    -------
    out : ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)
    """
    stride = stride or kernel_size
    pad = [(0, 0)] * (x.ndim - 2) + [(padding, padding)] * 2
    padded = np.pad(x, pad, constant_values=-np.inf if mode == "max" else 0)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kernel_size, kernel_size), axis=(-2, -1))
    windows = windows[..., ::stride, ::stride, :, :]  # (..., H_out, W_out, k, k)
    return windows.max(axis=(-2, -1)) if mode == "max" else windows.mean(axis=(-2, -1))
