"""Data movement for convolution: ``pad``, ``im2col`` and ``col2im``.

A convolution is a matrix product once every receptive field is written out
as a column: ``im2col`` does that, ``weight.reshape(K, -1) @ cols`` is the
convolution, and ``col2im`` carries column gradients back to the input.
These functions work for 1, 2 or 3 spatial axes; conv1d, conv2d and conv3d
all use them.

The column layout (for an input of shape (N, C, *spatial), a kernel of
shape ``k`` and an output of spatial shape ``o``)::

    cols.shape == (C * prod(k), N * prod(o))
    row    = c * prod(k) + (flat index of the kernel offset)
    column = n * prod(o) + (flat index of the output position)

Rows run over (channel, kernel offset) in the same order as a conv weight
``(K, C, *k)`` flattens, so ``weight.reshape(K, -1) @ cols`` needs no
transpose of the weight, and the matrix is C-contiguous for the GEMM.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._geometry import window_output_size
from .._checks import as_float_array, ntuple, shape_str
from ..kernels.im2col import col2im_add
from ._docs import gradient_of

# (``pad`` and ``pad_backward`` here take NumPy's (before, after) pairs; ``numconv.functional.pad`` is
# the PyTorch-style op built on them, in ``padding.py``.)
__all__ = ["im2col", "col2im", "PadCache"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_NUMPY_PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


# ---------------------------------------------------------------------------------------------- helpers
def conv_output_shape(spatial, kernel_size, stride, dilation) -> tuple:
    """Output size per axis of a convolution with no padding.

    ``out = (size - dilation * (k - 1) - 1) // stride + 1``: the number of
    window starts ``0, stride, 2*stride, ...`` whose window (spanning
    ``dilation * (k - 1) + 1`` pixels) still fits inside the input
    (``numconv._geometry.window_output_size``, shared with pooling).
    """
    return tuple(window_output_size(s, k, st, 0, d) for s, k, st, d in zip(spatial, kernel_size, stride, dilation))


def _windows(offset, stride, dilation, out_shape) -> tuple:
    """Slices that pick, for one kernel offset, the input pixel under it at every output position."""
    return tuple(
        slice(o * d, o * d + s * (m - 1) + 1, s) for o, s, d, m in zip(offset, stride, dilation, out_shape)
    )


def _check_geometry(x_shape, kernel_size, stride, dilation, where):
    """Expand the hyper-parameters to tuples and check the kernel fits inside the input."""
    nd = len(x_shape) - 2
    kernel_size = ntuple(kernel_size, nd, where, "kernel_size", minimum=1)
    stride = ntuple(stride, nd, where, "stride", minimum=1)
    dilation = ntuple(dilation, nd, where, "dilation", minimum=1)
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation))
    if any(span > size for span, size in zip(spans, x_shape[2:])):
        raise ValueError(
            f"{where}: kernel size {kernel_size} with dilation {dilation} spans {_span_text(spans)} pixels, "
            f"but the input is only {' x '.join(str(s) for s in x_shape[2:])}"
        )
    return kernel_size, stride, dilation


def _span_text(spans) -> str:
    """``(5, 5)`` -> ``"5"``, ``(5, 3)`` -> ``"5 x 3"``: how far a kernel reaches, for messages."""
    return str(spans[0]) if len(set(spans)) == 1 else " x ".join(str(s) for s in spans)


# ---------------------------------------------------------------------------------------------- im2col
def im2col(x, kernel_size, stride=1, dilation=1):
    """Write every receptive field of ``x`` out as a column.

    Parameters
    ----------
    x : ndarray, shape (N, C, L), (N, C, H, W) or (N, C, D, H, W)
        Already padded (see ``pad``); float32 or float64.
    kernel_size, stride, dilation : int or tuple of ints (one per spatial axis)

    Returns
    -------
    cols : ndarray, shape (C * prod(kernel_size), N * prod(out_shape))
        ``cols[c * prod(k) + flat(offset), n * prod(o) + flat(pos)]
        == x[n, c, pos * stride + offset * dilation]`` (per axis), in ``x``'s
        dtype; ``out_shape`` is the convolution's output size per axis.

    Notes
    -----
    Python loops over the ``prod(kernel_size)`` kernel offsets only: at each
    offset one strided slice of the whole batch (every output position at
    once) is copied into its rows.

    Examples
    --------
    A 2 x 2 kernel on a 3 x 3 image: four offsets (rows), four positions (columns).

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> im2col(x, 2)
    array([[0., 1., 3., 4.],
           [1., 2., 4., 5.],
           [3., 4., 6., 7.],
           [4., 5., 7., 8.]])
    """
    x = as_float_array(x, "im2col")
    if x.ndim not in (3, 4, 5):
        raise ValueError(f"im2col: expected a 3-D, 4-D or 5-D input (N, C, *spatial), got shape {shape_str(x.shape)}")
    kernel_size, stride, dilation = _check_geometry(x.shape, kernel_size, stride, dilation, "im2col")
    return _im2col(x, kernel_size, stride, dilation)


def _im2col(x, kernel_size, stride, dilation):
    """``im2col`` without the checks (``kernel_size`` etc. are tuples)."""
    n, c = x.shape[:2]
    if tuple(kernel_size) == tuple(x.shape[2:]) and all(d == 1 for d in dilation):
        # One window covering the whole input: each sample is one column (see _col2im).
        return np.ascontiguousarray(x.reshape(n, c * math.prod(kernel_size)).T)
    out_shape = conv_output_shape(x.shape[2:], kernel_size, stride, dilation)
    # The column matrix with its axes spelled out: (C, *kernel, N, *out). For one kernel
    # offset, cols[:, offset] is a (C, N, *out) block: that offset's pixel for every
    # channel, sample and output position, i.e. one strided slice of the input.
    cols = np.empty((c, *kernel_size, n, *out_shape), dtype=x.dtype)
    x_cn = x.swapaxes(0, 1)  # (C, N, *spatial), a view
    every = (slice(None), slice(None))
    for offset in np.ndindex(*kernel_size):
        cols[(slice(None), *offset)] = x_cn[every + _windows(offset, stride, dilation, out_shape)]
    return cols.reshape(c * math.prod(kernel_size), n * math.prod(out_shape))


# ---------------------------------------------------------------------------------------------- col2im
def col2im(cols, input_shape, kernel_size, stride=1, dilation=1):
    """The adjoint of ``im2col``: add every column entry back onto its input pixel.

    ``col2im`` is *not* the inverse of ``im2col``. A pixel that sits in
    several receptive fields appears in several columns, and ``col2im`` sums
    all of them, so ``col2im(im2col(x))`` is ``x`` times the number of windows
    covering each pixel. What holds is the adjoint identity
    ``sum(im2col(x) * c) == sum(x * col2im(c))``, which is exactly what a
    backward pass needs: the gradient of a pixel is the sum of the gradients
    of every column entry copied from it.

    Parameters
    ----------
    cols : ndarray, shape (C * prod(kernel_size), N * prod(out_shape))
        Laid out as ``im2col`` returns it.
    input_shape : tuple (N, C, *spatial)
        The shape of the (padded) input ``im2col`` was applied to.
    kernel_size, stride, dilation : int or tuple of ints

    Returns
    -------
    x : ndarray, shape ``input_shape``, in ``cols``'s dtype
    """
    cols = as_float_array(cols, "col2im", "cols")
    input_shape = tuple(input_shape)
    if len(input_shape) not in (3, 4, 5) or not all(isinstance(s, (int, np.integer)) for s in input_shape):
        raise ValueError(f"col2im: expected input_shape (N, C, *spatial) with 1 to 3 spatial axes, got {input_shape}")
    kernel_size, stride, dilation = _check_geometry(input_shape, kernel_size, stride, dilation, "col2im")
    n, c = input_shape[:2]
    out_shape = conv_output_shape(input_shape[2:], kernel_size, stride, dilation)
    expected = (c * math.prod(kernel_size), n * math.prod(out_shape))
    if cols.shape != expected:
        raise ValueError(
            f"col2im: expected cols of shape {expected} for input shape {input_shape}, kernel {kernel_size}, "
            f"stride {stride}, dilation {dilation}; got {shape_str(cols.shape)}"
        )
    return _col2im(cols, input_shape, kernel_size, stride, dilation)


def _col2im(cols, input_shape, kernel_size, stride, dilation):
    """``col2im`` without the checks: the numba scatter-add, one (n, c) plane at a time.

    ``_col2im_numpy`` below computes the same sums in NumPy; read that one first.
    """
    n, c = input_shape[:2]
    if tuple(kernel_size) == tuple(input_shape[2:]) and all(d == 1 for d in dilation):
        # One window covering the whole input (LeNet-5's C5, a 5 x 5 kernel on a 5 x 5 input):
        # every pixel sits in exactly one column entry, so col2im is a transpose. (The loops
        # below would spend their time on loop overhead: 0.9 ms at batch 256 against 0.1.)
        return np.ascontiguousarray(cols.reshape(c * math.prod(kernel_size), n).T).reshape(input_shape)
    lift = (1,) * (5 - len(input_shape))  # treat 1-D and 2-D as 3-D with size-1 leading axes
    out_shape = conv_output_shape(input_shape[2:], kernel_size, stride, dilation)
    geometry = np.array(
        (n, c, *lift, *input_shape[2:], *lift, *kernel_size, *lift, *stride, *lift, *dilation, *lift, *out_shape),
        dtype=np.uint64,
    )
    x = np.zeros(input_shape, dtype=cols.dtype)
    col2im_add(np.ascontiguousarray(cols).reshape(-1), x.reshape(-1), geometry)
    return x


def _col2im_numpy(cols, input_shape, kernel_size, stride, dilation):
    """The readable ``col2im``: one strided ``+=`` of the whole batch per kernel offset.

    Within one offset the windows do not overlap (each output position picks
    a different pixel), so the ``+=`` on a strided view is safe; overlaps
    between offsets are summed by the loop.
    """
    n, c = input_shape[:2]
    out_shape = conv_output_shape(input_shape[2:], kernel_size, stride, dilation)
    cols = cols.reshape(c, *kernel_size, n, *out_shape)
    x = np.zeros(input_shape, dtype=cols.dtype)
    x_cn = x.swapaxes(0, 1)  # a view: adding into it adds into x
    every = (slice(None), slice(None))
    for offset in np.ndindex(*kernel_size):
        x_cn[every + _windows(offset, stride, dilation, out_shape)] += cols[(slice(None), *offset)]
    return x


# ---------------------------------------------------------------------------------------------- pad
class PadCache(NamedTuple):
    """What ``pad_backward`` needs: the padding, the mode and the input's shape and dtype."""

    pad_width: tuple
    mode: str
    input_shape: tuple
    dtype: np.dtype


def pad(x, pad_width, mode="zeros"):
    """Pad the trailing (spatial) axes of ``x``, as ``torch.nn.functional.pad``.

    Parameters
    ----------
    x : ndarray, shape (*, S_1, ..., S_m)
    pad_width : sequence of m pairs ``(before, after)``
        One pair per padded trailing axis, in axis order (NumPy's ``np.pad``
        convention; note PyTorch's ``F.pad`` lists the *last* axis first).
    mode : {'zeros', 'reflect', 'replicate', 'circular'}
        What fills the border: zeros; the input mirrored about its edge
        pixel (the edge itself not repeated; needs ``pad < size``); the edge
        pixel repeated; or the input wrapped around (needs ``pad <= size``).

    Returns
    -------
    out : ndarray, shape (*, S_1 + before_1 + after_1, ...), in ``x``'s dtype
    cache : PadCache
    """
    x = as_float_array(x, "pad")
    pad_width = _check_pad(x.shape, pad_width, mode, "pad")
    return _pad(x, pad_width, mode)


def _check_pad(shape, pad_width, mode, where) -> tuple:
    """Validate ``pad_width`` and ``mode`` for an input of ``shape``; return pad_width as a tuple of pairs."""
    if not isinstance(mode, str) or mode not in PADDING_MODES:
        raise ValueError(f"{where}: padding_mode must be one of {PADDING_MODES}, got {mode!r}")
    try:
        pairs = tuple(ntuple(pair, 2, where, "each pad_width entry", minimum=0) for pair in pad_width)
    except TypeError:
        raise TypeError(
            f"{where}: expected pad_width as a sequence of (before, after) pairs, got {pad_width!r}"
        ) from None
    if len(pairs) > len(shape):
        raise ValueError(f"{where}: {len(pairs)} padded axes given for an input of shape {shape_str(shape)}")
    spatial = shape[len(shape) - len(pairs):]
    for size, (before, after) in zip(spatial, pairs):
        too_big = {
            "reflect": max(before, after) >= size,
            "circular": max(before, after) > size,
            "replicate": size == 0 and before + after > 0,
            "zeros": False,
        }[mode]
        if too_big:
            limit = "smaller than" if mode == "reflect" else "at most"
            raise ValueError(
                f"{where}: padding_mode={mode!r} needs each padding {limit} the input size, but padding "
                f"{tuple(pairs)} was asked for spatial size {' x '.join(str(s) for s in spatial)} "
                f"(input shape {shape_str(shape)})"
            )
    return pairs


def _pad(x, pad_width, mode, value=0.0):
    """``pad`` without the checks (``pad_width`` is a tuple of pairs); ``value`` fills mode 'zeros'."""
    cache = PadCache(pad_width, mode, x.shape, x.dtype)
    full = ((0, 0),) * (x.ndim - len(pad_width)) + tuple(pad_width)
    if mode == "zeros":
        # np.zeros + one copy is cheaper than np.pad's general machinery.
        shape = tuple(s + b + a for s, (b, a) in zip(x.shape, full))
        zero = value == 0 and not np.signbit(value)  # (-0.0 fills as -0.0, as PyTorch's does)
        out = np.zeros(shape, dtype=x.dtype) if zero else np.full(shape, value, dtype=x.dtype)
        out[tuple(slice(b, b + s) for s, (b, a) in zip(x.shape, full))] = x
        return out, cache
    return np.pad(x, full, mode=_NUMPY_PAD_MODE[mode]), cache


@gradient_of("pad", "PadCache")
def pad_backward(dout, cache: PadCache):
    """Gradient of ``pad``: fold the border's gradient back onto the pixels it copied.

    Returns
    -------
    dx : ndarray, shape ``cache.input_shape``
        The gradient of the centre, plus, for every border cell, its gradient
        added to the input pixel it was copied from (nothing for zeros).
    """
    dx = np.asarray(dout, dtype=cache.dtype)
    first = len(cache.input_shape) - len(cache.pad_width)
    # Padding is separable (one axis after another), so its adjoint is too.
    for i, (before, after) in enumerate(cache.pad_width):
        dx = _fold_axis(dx, first + i, before, after, cache.mode)
    return np.ascontiguousarray(dx)


def _fold_axis(g, axis, before, after, mode):
    """Adjoint of padding one axis: keep the centre, add each border cell's gradient to its source."""
    g = np.moveaxis(g, axis, -1)
    n = g.shape[-1] - before - after
    dx = g[..., before:before + n].copy()  # a copy: never write into the caller's dout
    left, right = g[..., :before], g[..., before + n:]
    if mode == "reflect":
        # left border cell i (0..before-1) copied x[before - i]; right cell j copied x[n - 2 - j]
        dx[..., 1:before + 1] += left[..., ::-1]
        dx[..., n - 1 - after:n - 1] += right[..., ::-1]
    elif mode == "replicate":
        # every left border cell copied x[0], every right one x[n - 1]
        dx[..., 0] += left.sum(axis=-1)
        dx[..., n - 1] += right.sum(axis=-1)
    elif mode == "circular":
        # left border cell i copied x[n - before + i]; right cell j copied x[j]
        dx[..., n - before:] += left
        dx[..., :after] += right
    return np.moveaxis(dx, -1, axis)
