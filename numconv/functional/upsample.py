"""Resizing: ``interpolate`` (nearest, nearest-exact, linear, bilinear, trilinear) and pixel (un)shuffle.

Interpolation is *separable*: resizing an image is resizing every row, then
every column (then every depth slice). Along one axis of ``n`` pixels resized
to ``m``, each output pixel ``i`` reads the input at a *source coordinate*
``src(i)``:

- ``align_corners=False`` (the default): pixels are unit squares and the
  output squares are stretched over the input ones, so centres map to
  centres: ``src = (i + 0.5) * scale - 0.5`` with ``scale = n / m`` (or
  ``1 / scale_factor`` when a scale factor was given; PyTorch uses it as is),
  clamped at 0;
- ``align_corners=True``: the first and last pixel centres of input and
  output coincide: ``src = i * (n - 1) / (m - 1)``.

``nearest`` takes pixel ``floor(i * scale)`` (no half-pixel shift: PyTorch's
and OpenCV's historical rule, which shifts the image by up to half a pixel);
``nearest-exact`` takes ``floor((i + 0.5) * scale)``, the pixel whose square
holds the output centre. ``linear`` mixes the two neighbours of ``src``:
``(1 - t) * x[floor(src)] + t * x[floor(src) + 1]``, ``t = src - floor(src)``.

Along each axis the linear modes are therefore a matrix ``A`` of shape
``(m, n)`` with two nonzeros per row (``interpolation_matrix``), and the whole
resize applies one such matrix per axis. The backward pass applies the
transposes: ``A^T`` adds every output gradient back onto the two inputs it
came from. Nearest modes are a gather (``x[..., index]``); their backward
sums the gradients of every output that copied a pixel: upsampling by 2 sums
each 2 x 2 block (never an average, never a slice).

Index arithmetic follows PyTorch's CPU kernels exactly, in their precision:
nearest indices as its two nearest kernels round them (``nearest_indices``),
linear weights in the input's dtype.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, check_positive_int, shape_str
from ..kernels import workers
from ..kernels.upsample import bilinear_backward, bilinear_forward
from ._docs import gradient_of

__all__ = [
    "interpolate", "interpolate_backward", "InterpolateCache", "interpolation_matrix", "linear_taps", "LinearTaps",
    "nearest_indices", "nearest_kernel",
    "pixel_shuffle", "pixel_shuffle_backward", "pixel_unshuffle", "pixel_unshuffle_backward",
    "interpolate_output_shape", "shuffle_output_shape",
]

MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear")
_LINEAR_RANK = {"linear": 3, "bilinear": 4, "trilinear": 5}


class InterpolateCache(NamedTuple):
    """What ``interpolate_backward`` needs: per spatial axis, the index array (nearest) or the taps (linear)."""

    mode: str
    maps: tuple
    input_shape: tuple
    dtype: np.dtype


# ---------------------------------------------------------------------------------------------- the public op
def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
    """Resize the spatial axes of ``x``, as ``torch.nn.functional.interpolate``.

    Parameters
    ----------
    x : ndarray, shape (N, C, L), (N, C, H, W) or (N, C, D, H, W)
        ``linear`` needs 3-D input, ``bilinear`` 4-D, ``trilinear`` 5-D; the
        nearest modes take any of them.
    size : int or tuple of ints, optional
        The output's spatial size.
    scale_factor : float or tuple of floats, optional
        Output size ``floor(in * scale_factor)`` per axis. Exactly one of
        ``size`` and ``scale_factor`` must be given.
    mode : {'nearest', 'nearest-exact', 'linear', 'bilinear', 'trilinear'}
    align_corners : bool, optional
        Linear modes only (default False); see the module docstring.
    recompute_scale_factor : bool, optional
        With ``scale_factor``: True computes the output size, then
        interpolates as if that size had been asked for (scale ``in / out``);
        False or None (the default) uses ``1 / scale_factor`` as the scale,
        which differs when ``in * scale_factor`` is not an integer.

    Returns
    -------
    out : ndarray, shape (N, C, *out_spatial), in ``x``'s dtype
    cache : InterpolateCache
    """
    x = as_float_array(x, "interpolate")
    out_spatial, scales, mode, align_corners = _check_arguments(x.shape, size, scale_factor, mode, align_corners,
                                                                recompute_scale_factor)
    maps = []
    for n, m, scale in zip(x.shape[2:], out_spatial, scales):
        if mode in ("nearest", "nearest-exact"):
            maps.append(nearest_indices(n, m, scale, exact=mode == "nearest-exact", dtype=x.dtype,
                                        kernel=nearest_kernel(out_spatial)))
        else:
            maps.append(linear_taps(n, m, scale, align_corners, x.dtype))
    if mode == "bilinear":
        return _bilinear(x, maps), InterpolateCache(mode, tuple(maps), x.shape, x.dtype)
    out = x
    for axis, axis_map in enumerate(maps):
        out = _apply_axis(out, axis + 2, axis_map, mode, transpose=False)
    if out is x:
        out = x.copy()  # same size everywhere: a copy, never the caller's array
    return np.ascontiguousarray(out), InterpolateCache(mode, tuple(maps), x.shape, x.dtype)


@gradient_of("interpolate", "InterpolateCache")
def interpolate_backward(dout, cache: InterpolateCache):
    """Gradient of ``interpolate``.

    Returns
    -------
    dx : ndarray, shape ``cache.input_shape``
        Every output's gradient added onto the input pixels it read from,
        with the weights it read them with (nearest: weight 1, so each
        input pixel gets the sum over the outputs that copied it).
    """
    if not isinstance(cache, InterpolateCache):
        raise TypeError(f"interpolate_backward: expected the InterpolateCache returned by interpolate, got "
                        f"{type(cache).__name__}")
    dout = np.asarray(dout, dtype=cache.dtype)
    expected = cache.input_shape[:2] + tuple(_map_size(m, cache.mode) for m in cache.maps)
    if dout.shape != expected:
        raise ValueError(f"interpolate_backward: expected dout of shape {shape_str(expected)} (the output's), "
                         f"got {shape_str(dout.shape)}")
    if cache.mode == "bilinear":
        return _bilinear_backward(dout, cache.maps, cache.input_shape)
    dx = dout
    for axis in reversed(range(len(cache.maps))):  # the adjoint of a chain runs it backwards
        dx = _apply_axis(dx, axis + 2, cache.maps[axis], cache.mode, transpose=True, size=cache.input_shape[axis + 2])
    if dx is dout:
        dx = dout.copy()
    return np.ascontiguousarray(dx)


# ---------------------------------------------------------------------------------------------- one axis
def nearest_kernel(out_spatial) -> str:
    """Which of PyTorch's two CPU kernels computes a nearest resize to ``out_spatial`` (see ``nearest_indices``).

    ``"channels_last"`` for 2-D outputs with ``H_out + W_out <= 128`` (PyTorch
    picks its vectorised kernel there, and for channels-last inputs with more
    than 3 channels, which a C-ordered NumPy array never is but for 1 x 1
    images, whose only pixel is copied either way); ``"generic"`` otherwise,
    1-D and 3-D included.
    """
    return "channels_last" if len(out_spatial) == 2 and sum(out_spatial) <= 128 else "generic"


def nearest_indices(in_size, out_size, scale_factor=None, exact=False, dtype=np.float32, kernel="generic"):
    """Input pixel each output pixel copies along one axis, computed as PyTorch's CPU forward computes it.

    The scale is ``1 / scale_factor`` when a scale factor is given, else
    ``in_size / out_size``. ``nearest`` reads ``floor(i * scale)``,
    ``nearest-exact`` ``floor((i + 0.5) * scale)``, both capped at
    ``in_size - 1``. Where ``i * scale`` lands next to an integer the
    rounding decides, and PyTorch's two kernels round differently:

    - ``kernel="generic"`` (1-D, 3-D, large 2-D outputs; see
      ``nearest_kernel``): the arithmetic in the input's ``dtype``, the
      product rounded to float32 before the floor. ``nearest-exact`` reads
      ``max(scale * (i + 0.5) - 0.5, 0) + 0.5``.
    - ``kernel="channels_last"`` (small 2-D outputs): the scale in float32
      whatever the dtype, and plain ``nearest`` *copies* when the sizes are
      equal and takes ``i // 2`` when the output is twice the input, whatever
      the scale factor (``scale_factor=1.1`` on 5 pixels: the generic kernel
      gives ``[0, 0, 1, 2, 3]``, this one a copy).

    PyTorch's backward always uses the ``channels_last`` rule, so where the
    two differ its gradient is not the gradient of its own forward. numconv
    follows the forward and differentiates it exactly.

    Parameters
    ----------
    in_size, out_size : int
    scale_factor : float, optional
    exact : bool
        ``nearest-exact`` rather than ``nearest``.
    dtype : float32 or float64
        The input's (used by the generic kernel).
    kernel : {"generic", "channels_last"}

    Returns
    -------
    index : ndarray of int64, shape (out_size,), non-decreasing
    """
    i = np.arange(out_size)
    if kernel == "channels_last":
        if not exact and out_size == in_size:
            return i
        if not exact and out_size == 2 * in_size:
            return i // 2
        s = _scale(in_size, out_size, scale_factor, np.float32)
        if exact:  # (i + 0.5) in double times the float32 scale, rounded to float32
            position = ((i + 0.5) * np.float64(s)).astype(np.float32)
        else:  # i converted to float32, times the float32 scale
            position = i.astype(np.float32) * s
    else:
        dtype = np.dtype(dtype).type
        s = _scale(in_size, out_size, scale_factor, dtype)
        if exact:  # the source coordinate of half-pixel centres, clamped at 0, in dtype; + 0.5 in double
            source = np.maximum(((i + 0.5) * np.float64(s) - 0.5).astype(dtype), 0)
            position = (source.astype(np.float64) + 0.5).astype(np.float32)
        else:
            position = (i.astype(dtype) * s).astype(np.float32)
    return np.minimum(np.floor(position).astype(np.int64), in_size - 1)


class LinearTaps(NamedTuple):
    """Linear interpolation along one axis: output ``i`` is ``w0[i] * x[first[i]] + w1[i] * x[second[i]]``."""

    first: np.ndarray
    second: np.ndarray
    w0: np.ndarray
    w1: np.ndarray
    in_size: int

    def matrix(self) -> np.ndarray:
        """The (out, in) matrix with ``w0`` and ``w1`` in each row (added where the two columns coincide)."""
        rows = np.arange(len(self.first))
        matrix = np.zeros((len(self.first), self.in_size), dtype=self.w0.dtype)
        np.add.at(matrix, (rows, self.first), self.w0)
        np.add.at(matrix, (rows, self.second), self.w1)
        return matrix


def linear_taps(in_size, out_size, scale_factor=None, align_corners=False, dtype=np.float64) -> LinearTaps:
    """The two input pixels each output pixel mixes along one axis, and their weights, as PyTorch weighs them.

    Output ``i`` reads the input at the source coordinate ``src`` (see the
    module docstring) and mixes ``floor(src)`` with weight ``1 - t`` and the
    next pixel (the same one at the last pixel) with weight ``t``,
    ``t = src - floor(src)``. Computed in ``dtype``'s precision, like
    PyTorch's kernel (float32 weights for float32 input).
    """
    dtype = np.dtype(dtype).type
    i = np.arange(out_size)
    if out_size == in_size:  # PyTorch copies in this case, whatever the scale
        return LinearTaps(i, i, np.ones(out_size, dtype), np.zeros(out_size, dtype), in_size)
    if align_corners:
        ratio = dtype(in_size - 1) / dtype(out_size - 1) if out_size > 1 else dtype(0)
        src = (ratio * i).astype(dtype)
    else:
        ratio = _scale(in_size, out_size, scale_factor, dtype)
        src = np.maximum((ratio * (i + 0.5) - 0.5).astype(dtype), dtype(0))
    first = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    t = np.clip(src - first.astype(dtype), 0, 1).astype(dtype)
    return LinearTaps(first, np.minimum(first + 1, in_size - 1), (1 - t).astype(dtype), t, in_size)


def interpolation_matrix(in_size, out_size, scale_factor=None, align_corners=False, dtype=np.float64) -> np.ndarray:
    """The (out_size, in_size) matrix of linear interpolation along one axis (``linear_taps`` as a matrix).

    Row ``i`` holds ``1 - t`` at column ``floor(src)`` and ``t`` at the next
    column: two nonzeros per row. Resizing along an axis multiplies by it;
    the backward pass multiplies by its transpose.

    Examples
    --------
    Doubling 2 pixels, centres aligned: the outer outputs copy, the inner ones mix.

    >>> interpolation_matrix(2, 4)
    array([[1.  , 0.  ],
           [0.75, 0.25],
           [0.25, 0.75],
           [0.  , 1.  ]])
    """
    return linear_taps(in_size, out_size, scale_factor, align_corners, dtype).matrix()


def _scale(in_size, out_size, scale_factor, dtype):
    """Input pixels per output pixel: ``1 / scale_factor`` if one was given (PyTorch uses it as is), else in / out."""
    if scale_factor is not None:
        return dtype(1.0 / scale_factor)
    return dtype(in_size) / dtype(out_size)


def _map_size(axis_map, mode) -> int:
    """Output length of one axis's map."""
    return len(axis_map) if mode in ("nearest", "nearest-exact") else len(axis_map.first)


def _apply_axis(x, axis, axis_map, mode, transpose, size=None):
    """Resize ``x`` along ``axis`` with the axis's map (or apply its transpose, for the backward pass).

    Nearest: a gather, ``x[..., index]``, whose transpose sums each run of
    outputs that copied the same pixel. Linear: two gathers weighted,
    ``w0 * x[..., first] + w1 * x[..., second]``, whose transpose sums
    ``w0 * g`` over the outputs of each ``first`` and ``w1 * g`` over those of
    each ``second`` (the interpolation matrix and its transpose, without
    multiplying by its zeros, so an Inf or NaN stays where it belongs).
    """
    if mode in ("nearest", "nearest-exact"):
        if not transpose:
            if x.shape[axis] == len(axis_map) and np.array_equal(axis_map, np.arange(len(axis_map))):
                return x
            return np.take(x, axis_map, axis=axis)
        return _sum_blocks(x, axis, axis_map, size)
    taps = axis_map
    w0, w1 = (w.reshape((-1,) + (1,) * (x.ndim - axis - 1)) for w in (taps.w0, taps.w1))
    if not transpose:
        return np.take(x, taps.first, axis=axis) * w0 + np.take(x, taps.second, axis=axis) * w1
    return _sum_blocks(x * w0, axis, taps.first, size) + _sum_blocks(x * w1, axis, taps.second, size)


def _bilinear(x, taps):
    """``interpolate`` for mode 'bilinear': the numba kernel over (N * C) planes, split over the workers."""
    (th, tw), (n, c) = taps, x.shape[:2]
    planes = np.ascontiguousarray(x).reshape(n * c, *x.shape[2:])
    out = np.empty((n * c, len(th.first), len(tw.first)), dtype=x.dtype)

    def part(first, stop):
        bilinear_forward(planes, out, th.first, th.second, th.w0, th.w1, tw.first, tw.second, tw.w0, tw.w1,
                         first, stop)

    workers.run_parts(part, workers.batch_parts(n * c, 8 * out.size))
    return out.reshape(n, c, *out.shape[1:])


def _bilinear_backward(dout, taps, input_shape):
    """The adjoint of ``_bilinear``: each output's gradient added onto the four pixels it mixed."""
    (th, tw), (n, c) = taps, input_shape[:2]
    grads = np.ascontiguousarray(dout).reshape(n * c, *dout.shape[2:])
    dx = np.zeros((n * c, *input_shape[2:]), dtype=dout.dtype)

    def part(first, stop):
        bilinear_backward(grads, dx, th.first, th.second, th.w0, th.w1, tw.first, tw.second, tw.w0, tw.w1,
                          first, stop)

    workers.run_parts(part, workers.batch_parts(n * c, 12 * grads.size))
    return dx.reshape(input_shape)


def _sum_blocks(g, axis, index, size):
    """Adjoint of ``np.take(x, index, axis)`` for a non-decreasing ``index``: sum each run of equal indices.

    Outputs that copied the same input pixel are neighbours (the index never
    decreases), so ``np.add.reduceat`` sums each run in one pass; input
    pixels no output copied (when shrinking) get zero. When every pixel is
    copied the same number of times ``k`` (an integer scale factor), the runs
    are every ``k``-th output from ``0``, ``1``, ..., ``k - 1``: ``k`` strided
    slices added up (much faster than ``reduceat`` over runs of 2).
    """
    k = len(index) // size if size else 0
    if k and len(index) == k * size and np.array_equal(index, np.repeat(np.arange(size), k)):
        before = (slice(None),) * axis
        out = g[before + (slice(0, None, k),)].copy()
        for j in range(1, k):
            out += g[before + (slice(j, None, k),)]
        return out
    starts = np.flatnonzero(np.diff(index, prepend=-1))
    out = np.zeros(g.shape[:axis] + (size,) + g.shape[axis + 1:], dtype=g.dtype)
    sums = np.add.reduceat(g, starts, axis=axis)
    out[(slice(None),) * axis + (index[starts],)] = sums
    return out


# ---------------------------------------------------------------------------------------------- arguments
def interpolate_output_shape(shape, size=None, scale_factor=None, mode="nearest", align_corners=None,
                             recompute_scale_factor=None) -> tuple:
    """The shape ``interpolate`` gives an input of ``shape``, with all of its checks, computing nothing."""
    out_spatial = _check_arguments(tuple(shape), size, scale_factor, mode, align_corners, recompute_scale_factor)[0]
    return tuple(shape[:2]) + out_spatial


def check_options(size, scale_factor, mode, align_corners, recompute_scale_factor, where="interpolate"):
    """The checks of ``interpolate``'s options that need no input (``Upsample`` runs them when built).

    Returns the mode's ``align_corners`` (False by default for the linear modes, None for nearest).
    """
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"{where}: mode must be one of {MODES}, got {mode!r}"
                         + (" (bicubic and area are not implemented)" if mode in ("bicubic", "area") else ""))
    if mode.startswith("nearest"):
        if align_corners is not None:
            raise ValueError(f"{where}: align_corners can only be set with the interpolating modes linear, bilinear "
                             f"and trilinear, not with mode {mode!r}")
    else:
        align_corners = bool(align_corners)
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{where}: give exactly one of size and scale_factor, got "
                         + ("both" if size is not None else "neither"))
    if size is not None and recompute_scale_factor:
        raise ValueError(f"{where}: recompute_scale_factor is not meaningful with an explicit size")
    for s in (size if isinstance(size, (tuple, list)) else [size]) if size is not None else []:
        check_positive_int(s, where, "every entry of size")
    for f in (scale_factor if isinstance(scale_factor, (tuple, list)) else [scale_factor]) \
            if scale_factor is not None else []:
        if isinstance(f, bool) or not isinstance(f, (int, float, np.integer, np.floating)):
            raise TypeError(f"{where}: expected scale_factor to be a number or a tuple of numbers, "
                            f"got {scale_factor!r}")
        if not f > 0 or not math.isfinite(f):
            raise ValueError(f"{where}: scale_factor must be positive and finite, got {scale_factor!r}")
    return align_corners


def _check_arguments(shape, size, scale_factor, mode, align_corners, recompute_scale_factor):
    """Check ``interpolate``'s arguments as PyTorch does; return (out_spatial, scale factors, mode, align_corners)."""
    where = "interpolate"
    align_corners = check_options(size, scale_factor, mode, align_corners, recompute_scale_factor)
    if len(shape) not in (3, 4, 5):
        raise ValueError(f"{where}: expected a 3-D, 4-D or 5-D input (N, C, *spatial) with 1 to 3 spatial axes, "
                         f"got shape {shape_str(shape)}")
    if mode in _LINEAR_RANK and len(shape) != _LINEAR_RANK[mode]:
        raise ValueError(f"{where}: mode {mode!r} needs a {_LINEAR_RANK[mode]}-D input (N, C, "
                         f"{', '.join('DHW'[5 - _LINEAR_RANK[mode]:])}), got shape {shape_str(shape)} "
                         f"({len(shape)}-D)")
    nd = len(shape) - 2
    if size is not None:
        out = tuple(int(s) for s in _per_axis(size, nd, "size"))
        given, scales = f"size={size!r}", (None,) * nd
    else:
        factors = _per_axis(scale_factor, nd, "scale_factor")
        out = tuple(math.floor(float(n) * float(f)) for n, f in zip(shape[2:], factors))
        given = f"scale_factor={scale_factor!r}"
        scales = (None,) * nd if recompute_scale_factor else tuple(float(f) for f in factors)
    # (An empty input axis would leave the kernels no pixel to read: their indices would be -1.)
    if min(out) < 1 or min(shape[2:]) < 1:
        raise ValueError(f"{where}: input and output sizes should be greater than 0, but got input spatial size "
                         f"{tuple(shape[2:])} and output {out} ({given})")
    return out, scales, mode, align_corners


def _per_axis(value, nd, name):
    """An int/float or a sequence of ``nd`` of them, as a tuple of ``nd``."""
    if isinstance(value, (tuple, list)):
        if len(value) != nd:
            raise ValueError(f"interpolate: expected {name} to have {nd} entries (one per spatial axis of the "
                             f"input), got {value!r}")
        return tuple(value)
    return (value,) * nd


# ---------------------------------------------------------------------------------------------- pixel shuffle
def pixel_shuffle(x, upscale_factor):
    """Move channels into space, as ``torch.nn.functional.pixel_shuffle``.

    ``out[..., c, h * r + i, w * r + j] = x[..., c * r * r + i * r + j, h, w]``:
    every group of ``r * r`` channels becomes an ``r x r`` block of one
    channel (the sub-pixel convolution of super-resolution networks).

    Parameters
    ----------
    x : ndarray, shape (*, C * r^2, H, W)
    upscale_factor : int (r)

    Returns
    -------
    out : ndarray, shape (*, C, H * r, W * r)
    cache : tuple (the factor and the input's shape)
    """
    x = as_float_array(x, "pixel_shuffle")
    r = upscale_factor
    shuffle_output_shape(x.shape, r, up=True)
    *lead, c, h, w = x.shape
    out = x.reshape(*lead, c // (r * r), r, r, h, w)
    out = np.moveaxis(out, (-4, -3), (-3, -1))  # (*, C, H, r, W, r)
    # Always a copy: with r = 1 (or H = W = 1) the permutation moves nothing, and the output must still not be
    # the caller's array (an in-place layer after it would write into the input, which PyTorch never does).
    return out.copy(order="C").reshape(*lead, c // (r * r), h * r, w * r), (r, x.shape)


def pixel_shuffle_backward(dout, cache):
    """Gradient of ``pixel_shuffle``: the same permutation undone (``pixel_unshuffle``)."""
    r, shape = cache
    return _unshuffle(np.asarray(dout), r).reshape(shape)


def pixel_unshuffle(x, downscale_factor):
    """Move space into channels, the inverse of ``pixel_shuffle``, as ``torch.nn.functional.pixel_unshuffle``.

    Parameters
    ----------
    x : ndarray, shape (*, C, H * r, W * r)
    downscale_factor : int (r)

    Returns
    -------
    out : ndarray, shape (*, C * r^2, H, W)
    cache : tuple
    """
    x = as_float_array(x, "pixel_unshuffle")
    r = downscale_factor
    shuffle_output_shape(x.shape, r, up=False)
    return _unshuffle(x, r), (r, x.shape)


def shuffle_output_shape(shape, factor, up=True, where=None) -> tuple:
    """The shape ``pixel_shuffle`` (``up``) or ``pixel_unshuffle`` gives an input of ``shape``, with their checks."""
    shape = tuple(int(s) for s in shape)
    if up:
        where = where or "pixel_shuffle"
        r = check_positive_int(factor, where, "upscale_factor")
        if len(shape) < 3 or shape[-3] % (r * r):
            raise ValueError(f"{where}: expected an input (*, C * {r * r}, H, W) with at least 3 axes whose channel "
                             f"count is divisible by upscale_factor^2 = {r * r}, got shape {shape_str(shape)}")
        return shape[:-3] + (shape[-3] // (r * r), shape[-2] * r, shape[-1] * r)
    where = where or "pixel_unshuffle"
    r = check_positive_int(factor, where, "downscale_factor")
    if len(shape) < 3 or shape[-1] % r or shape[-2] % r:
        raise ValueError(f"{where}: expected an input (*, C, H, W) with at least 3 axes whose height and width are "
                         f"divisible by downscale_factor = {r}, got shape {shape_str(shape)}")
    return shape[:-3] + (shape[-3] * r * r, shape[-2] // r, shape[-1] // r)


def pixel_unshuffle_backward(dout, cache):
    """Gradient of ``pixel_unshuffle``: ``pixel_shuffle`` of the gradient."""
    r, shape = cache
    dout = np.asarray(dout)
    *lead, c, h, w = dout.shape
    dx = np.moveaxis(dout.reshape(*lead, c // (r * r), r, r, h, w), (-4, -3), (-3, -1))
    return dx.copy(order="C").reshape(shape)  # a copy, never the caller's dout (see pixel_shuffle)


def _unshuffle(x, r):
    *lead, c, h, w = x.shape
    blocks = x.reshape(*lead, c, h // r, r, w // r, r)
    moved = np.moveaxis(blocks, (-3, -1), (-4, -3))
    return moved.copy(order="C").reshape(*lead, c * r * r, h // r, w // r)  # a copy, never the caller's array
