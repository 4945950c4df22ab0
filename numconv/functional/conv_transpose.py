"""Transposed convolution over 1, 2 or 3 spatial axes, as ``torch.nn.functional.conv_transpose1d/2d/3d``.

A transposed convolution is the *adjoint* of a convolution: take a
convolution ``conv(z, W)`` with stride ``s``, padding ``p``, dilation ``d``
and groups ``g``; its input gradient ``z -> W^T y`` is the transposed
convolution of ``y``. So the three passes reuse convolution's machinery
(``numconv.functional.im2col``) with the roles swapped:

- forward: ``cols = W^T @ x`` (one matrix product per group), then
  ``col2im`` adds every column onto the output pixels under its window,
  which is conv's backward ``dcols -> dx``. Each input pixel "stamps" the
  kernel, scaled by its value, onto the output ``s`` pixels further than
  its neighbour; overlapping stamps add up. (Equivalently: insert ``s - 1``
  zeros between input pixels, pad with ``d * (k - 1) - p`` and convolve with
  the flipped kernel; that picture is drawn in docs/transposed-convolution.md.)
- backward, input gradient: a convolution of ``dout`` with the same weight
  (``im2col`` of ``dout`` and ``W @ cols``), conv's forward,
- backward, weight gradient: ``x @ cols^T`` from the same columns.

The column moves run as numba kernels (``numconv.kernels.conv_transpose``)
that work on the cropped output directly, with no full-grid buffer; the
reference loops are in ``numconv.reference.conv_transpose``.

The output size along each axis is::

    out = (in - 1) * s - 2 * p + d * (k - 1) + output_padding + 1

``output_padding`` (smaller than the stride or the dilation) adds pixels on
one side only: it chooses among the ``s`` output sizes that a convolution
with stride ``s`` maps to the same input size (14 -> 28 with stride 2, kernel
3 and padding 1 needs ``output_padding=1``; without it the output is 27).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._checks import channel_last_hint, check_positive_int, ntuple, shape_str
from ..kernels import workers
from ..kernels.conv_transpose import gather_columns, stamp_columns
from ._docs import gradient_of
from .conv import _batched, _batched_dout, _bias_gradient, _cast_weight_and_bias, _check_weight_rank

__all__ = [
    "conv_transpose1d", "conv_transpose1d_backward", "conv_transpose2d", "conv_transpose2d_backward",
    "conv_transpose3d", "conv_transpose3d_backward", "ConvTransposeCache", "conv_transpose_output_shape",
    "output_padding_for_size",
]

# Bytes of scratch per worker chunk: the columns of a sample or two of a decoder layer. The columns are
# read straight back after their product, and from the cache they are read ~2x faster. Measured on W11
# (ConvTranspose2d 64 -> 32, 16 x 64 x 28 x 28, two workers): chunks of 1-2 samples (1.6-3.2 MB of
# columns) ran forward + backward in 1.12-1.17x PyTorch's time, chunks of a worker's whole half-batch in
# 1.43x; the products themselves also ran ~10 % faster. About an L2 cache's size per core.
_CHUNK_BYTES = 2 * 2**20


class ConvTransposeCache(NamedTuple):
    """What ``conv_transpose*d_backward`` needs.

    Attributes
    ----------
    x : ndarray, shape (N, C_in, *in_spatial)
        The (batched) input, by reference, as PyTorch saves it: do not change
        it in place between the forward and the backward pass.
    weight : ndarray, shape (C_in, C_out / groups, *k), in ``x``'s dtype
    geometry : tuple
        ``(stride, padding, dilation, groups, out_spatial)``, tuples per axis.
    has_bias, unbatched : bool
    """

    x: np.ndarray
    weight: np.ndarray
    geometry: tuple
    has_bias: bool
    unbatched: bool

    @property
    def out_shape(self) -> tuple:
        """The forward's output shape, batched: (N, C_out, *out_spatial)."""
        groups, out_spatial = self.geometry[3:]
        return (self.x.shape[0], self.weight.shape[1] * groups, *out_spatial)

    @property
    def dtype(self) -> np.dtype:
        """The computation's dtype (the input's)."""
        return self.x.dtype


# ---------------------------------------------------------------------------------------------- public ops
def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution, as ``torch.nn.functional.conv_transpose1d``.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, L) or (C_in, L)
    weight : ndarray, shape (C_in, C_out / groups, kL)
    bias : ndarray, shape (C_out,), optional
    stride, padding, output_padding, dilation : int or tuple of 1 int
    groups : int

    Returns
    -------
    out : ndarray, shape (N, C_out, L_out) (or (C_out, L_out) for unbatched input)
    cache : ConvTransposeCache

    See ``conv_transpose2d`` for the details, which are the same along one axis.
    """
    return _conv_transpose_nd(1, "conv_transpose1d", x, weight, bias, stride, padding, output_padding, groups,
                              dilation)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    ``out[n, g*K_g + k, i*s_h + p*d_h - pad_h, j*s_w + q*d_w - pad_w] +=
    x[n, c, i, j] * weight[c, k, p, q]`` for every input channel ``c`` of
    group ``g`` (``K_g = C_out / groups``), every input pixel ``(i, j)`` and
    kernel tap ``(p, q)`` landing inside the output; then ``+ bias``.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W) or (C_in, H, W)
        float32 or float64; the output keeps this dtype (the weight is cast to it).
    weight : ndarray, shape (C_in, C_out / groups, kH, kW)
        PyTorch's layout: input channels first (the transpose of a
        convolution's weight layout).
    bias : ndarray, shape (C_out,), optional
    stride : int or (int, int)
    padding : int or (int, int)
        ``dilation * (k - 1) - padding`` zeros of padding for the equivalent
        direct convolution: a larger ``padding`` crops the output.
    output_padding : int or (int, int)
        Pixels added to one side (bottom/right) of the output; each must be
        smaller than the stride or the dilation along its axis.
    groups : int
    dilation : int or (int, int)

    Returns
    -------
    out : ndarray, shape (N, C_out, H_out, W_out) (or without N)
        ``H_out = (H - 1) * s_h - 2 * pad_h + d_h * (kH - 1) + output_padding_h + 1``, same for W.
    cache : ConvTransposeCache
    """
    return _conv_transpose_nd(2, "conv_transpose2d", x, weight, bias, stride, padding, output_padding, groups,
                              dilation)


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-D transposed convolution, as ``torch.nn.functional.conv_transpose3d``.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, D, H, W) or (C_in, D, H, W)
    weight : ndarray, shape (C_in, C_out / groups, kD, kH, kW)
    bias : ndarray, shape (C_out,), optional
    stride, padding, output_padding, dilation : int or tuple of 3 ints
    groups : int

    Returns
    -------
    out : ndarray, shape (N, C_out, D_out, H_out, W_out) (or without N)
    cache : ConvTransposeCache

    See ``conv_transpose2d`` for the details, which are the same along each axis.
    """
    return _conv_transpose_nd(3, "conv_transpose3d", x, weight, bias, stride, padding, output_padding, groups,
                              dilation)


def conv_transpose1d_backward(dout, cache):
    """Gradients of ``conv_transpose1d``: ``(dx, dweight, dbias)``; see ``conv_transpose2d_backward``."""
    return _conv_transpose_nd_backward(dout, cache, "conv_transpose1d_backward")


@gradient_of("conv_transpose2d", "ConvTransposeCache")
def conv_transpose2d_backward(dout, cache):
    """Gradients of ``conv_transpose2d``.

    Returns
    -------
    dx : ndarray, shape of ``x`` (N, C_in, H, W) or (C_in, H, W)
        A (direct) convolution of ``dout`` with the weight.
    dweight : ndarray, shape (C_in, C_out / groups, kH, kW)
    dbias : ndarray, shape (C_out,), or None when the forward had no bias
        All in the input's dtype.
    """
    return _conv_transpose_nd_backward(dout, cache, "conv_transpose2d_backward")


def conv_transpose3d_backward(dout, cache):
    """Gradients of ``conv_transpose3d``: ``(dx, dweight, dbias)``; see ``conv_transpose2d_backward``."""
    return _conv_transpose_nd_backward(dout, cache, "conv_transpose3d_backward")


# ---------------------------------------------------------------------------------------------- geometry
def conv_transpose_output_shape(in_spatial, kernel_size, stride, padding, output_padding, dilation) -> tuple:
    """``(in - 1) * s - 2 * p + d * (k - 1) + output_padding + 1`` per axis (may be < 1 for bad arguments)."""
    return tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1
                 for i, k, s, p, op, d in zip(in_spatial, kernel_size, stride, padding, output_padding, dilation))


def output_padding_for_size(output_size, in_shape, kernel_size, stride, padding, dilation, where) -> tuple:
    """The ``output_padding`` that makes a transposed convolution produce ``output_size``, as PyTorch works it out.

    ``output_size`` lists the spatial sizes, or the whole output shape (its
    leading batch and channel sizes are ignored, as in PyTorch); ``in_shape``
    is the input's shape, batched or not. Each spatial size must lie between the
    smallest output ``(in - 1) * s - 2 * p + d * (k - 1) + 1`` and that plus
    ``s - 1``: the sizes a convolution with stride ``s`` maps back to ``in``.
    """
    nd = len(kernel_size)
    in_spatial = tuple(in_shape[len(in_shape) - nd:])
    whole = len(in_shape)  # the length of a whole output shape
    sizes = list(output_size) if isinstance(output_size, (tuple, list)) else [output_size]
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes):
        raise TypeError(f"{where}: expected output_size to be a tuple of ints, got {output_size!r}")
    if len(sizes) not in (nd, whole):
        raise ValueError(f"{where}: for a {whole}-D input, output_size must have {nd} or {whole} elements "
                         f"(got {len(sizes)}): {output_size!r}")
    sizes = sizes[len(sizes) - nd:]
    smallest = conv_transpose_output_shape(in_spatial, kernel_size, stride, padding, (0,) * nd, dilation)
    for axis, (size, low, s) in enumerate(zip(sizes, smallest, stride)):
        if not low <= size <= low + s - 1:
            raise ValueError(
                f"{where}: requested an output size of {tuple(sizes)}, but valid sizes along axis {axis} range from "
                f"{low} to {low + s - 1} (for an input of spatial size {tuple(in_spatial)}, kernel {tuple(kernel_size)}"
                f", stride {tuple(stride)}, padding {tuple(padding)}, dilation {tuple(dilation)})"
            )
    return tuple(size - low for size, low in zip(sizes, smallest))


def check_output_padding(output_padding, stride, dilation, where) -> None:
    """Each ``output_padding`` must be smaller than the stride or the dilation along its axis (PyTorch's rule).

    Larger values would add output pixels that no input pixel reaches and
    that no convolution with this stride could map back from.
    """
    for axis, (op, s, d) in enumerate(zip(output_padding, stride, dilation)):
        if op >= s and op >= d:
            raise ValueError(
                f"{where}: output_padding must be smaller than either stride or dilation, but got "
                f"output_padding={tuple(output_padding)} with stride={tuple(stride)}, dilation={tuple(dilation)} "
                f"(axis {axis}: {op} >= {s} and {op} >= {d}); to reach a given output size, pass output_size "
                "to the layer's forward instead"
            )


# ---------------------------------------------------------------------------------------------- the shared N-d op
def _conv_transpose_nd(nd, where, x, weight, bias, stride, padding, output_padding, groups, dilation):
    """Check the arguments and run the transposed convolution; ``where`` names the caller in errors."""
    x, weight, unbatched = _batched(nd, where, x, weight)
    weight, bias = _check_weight(nd, where, x, weight, bias, groups, unbatched)
    groups = int(groups)
    stride = ntuple(stride, nd, where, "stride", minimum=1)
    padding = ntuple(padding, nd, where, "padding", minimum=0)
    output_padding = ntuple(output_padding, nd, where, "output_padding", minimum=0)
    dilation = ntuple(dilation, nd, where, "dilation", minimum=1)
    check_output_padding(output_padding, stride, dilation, where)
    if 0 in x.shape[2:] and x.shape[0] and x.shape[1]:
        raise ValueError(f"{where}: expected non-empty spatial dimensions (or an empty batch), got input of shape "
                         f"{shape_str(x.shape[1:] if unbatched else x.shape)}")
    out_spatial = conv_transpose_output_shape(x.shape[2:], weight.shape[2:], stride, padding, output_padding,
                                              dilation)
    if min(out_spatial) < (0 if x.shape[0] == 0 else 1):  # an empty batch may have an empty output, as in PyTorch
        raise ValueError(
            f"{where}: the output would be {' x '.join(map(str, out_spatial))} for an input of spatial size "
            f"{' x '.join(map(str, x.shape[2:]))} (out = (in - 1) * stride - 2 * padding + dilation * (k - 1) + "
            f"output_padding + 1 with stride {stride}, padding {padding}, dilation {dilation}, kernel "
            f"{tuple(weight.shape[2:])}); use less padding"
        )
    out = _forward(x, weight, bias, stride, padding, dilation, groups, out_spatial)
    geometry = (stride, padding, dilation, groups, out_spatial)
    cache = ConvTransposeCache(x, weight, geometry, bias is not None, unbatched)
    return (out[0] if unbatched else out), cache


def _conv_transpose_nd_backward(dout, cache, where):
    """``(dx, dweight, dbias)`` from the upstream gradient and the forward's cache."""
    dout = _batched_dout(dout, cache, ConvTransposeCache, where)
    x, weight = cache.x, cache.weight
    stride, padding, dilation, groups, _ = cache.geometry
    dx, dweight = _backward(dout, x, weight, stride, padding, dilation, groups)
    return (dx[0] if cache.unbatched else dx), dweight, _bias_gradient(dout, cache.has_bias)


def _check_weight(nd, where, x, weight, bias, groups, unbatched):
    """Check the (C_in, C_out / groups, *k) weight and the bias; cast both to the input's dtype."""
    _check_weight_rank(nd, where, weight, "in_channels, out_channels/groups")
    groups = check_positive_int(groups, where, "groups")
    x_shape = x.shape[1:] if unbatched else x.shape
    if weight.shape[0] != x.shape[1]:
        raise ValueError(
            f"{where}: expected input with {weight.shape[0]} channels (weight has shape {shape_str(weight.shape)}, "
            f"in_channels first), got input of shape {shape_str(x_shape)}"
            + channel_last_hint(x_shape, 0 if unbatched else 1, weight.shape[0])
        )
    if x.shape[1] % groups:
        raise ValueError(f"{where}: input channels ({x.shape[1]}) must be divisible by groups ({groups}), "
                         f"got input of shape {shape_str(x_shape)}")
    return _cast_weight_and_bias(where, x.dtype, weight, bias, weight.shape[1] * groups, ": weight.shape[1] * groups")


# ---------------------------------------------------------------------------------------------- the math
def _kernel_geometry(count, channels, in_spatial, kernel, stride, dilation, padding, out_spatial):
    """The 20 numbers the kernels in ``numconv.kernels.conv_transpose`` take, lifted to 3-D."""
    lift = 3 - len(kernel)
    one, zero = (1,) * lift, (0,) * lift
    return np.array((count, channels, *one, *in_spatial, *one, *kernel, *one, *stride, *one, *dilation,
                     *zero, *padding, *one, *out_spatial), dtype=np.int64)


def _forward(x, weight, bias, stride, padding, dilation, groups, out_spatial):
    """``out = crop(col2im(W^T @ x)) + bias``, the batch split over the workers and walked in chunks.

    A chunk's columns (C_out * prod(k), samples * L) live in a per-thread
    workspace. Chunks are cache-sized (``_CHUNK_BYTES``: a sample or two of
    a decoder layer), so the columns are still in the cache when
    ``stamp_columns`` reads them back, and never larger than the workspace
    limit allows (``numconv.functional.conv.set_workspace_limit``).
    ``stamp_columns`` adds the columns up straight into the cropped output
    (the readable picture: onto the full grid, then crop; see the module text).
    """
    n = x.shape[0]
    c_in, per_group = weight.shape[:2]
    kernel = weight.shape[2:]
    c_out = per_group * groups
    out = np.empty((n, c_out, *out_spatial), dtype=x.dtype)
    bias_c = np.zeros(c_out, dtype=x.dtype) if bias is None else np.ascontiguousarray(bias, dtype=x.dtype)
    # W^T per group: (G, K_g * prod(k), C_g), rows ordered (output channel, kernel offset) as im2col's.
    w_t = _weight_groups(weight, groups).swapaxes(1, 2)
    positions = math.prod(x.shape[2:])
    rows = c_out * math.prod(kernel)
    per_sample = rows * positions * x.itemsize

    def part(start, stop):
        for first, last in workers.chunk_ranges(start, stop, per_sample, workers.chunk_budget(_CHUNK_BYTES)):
            count = last - first
            # (N, C_in, L) -> (G, C_g, count * L): the columns' layout (channel rows, (sample, position) columns).
            x_groups = x[first:last].reshape(count, groups, c_in // groups, positions).transpose(1, 2, 0, 3)
            x_groups = x_groups.reshape(groups, c_in // groups, count * positions)
            cols = workers.workspace("conv_transpose.cols", (groups, rows // groups, count * positions), x.dtype)
            np.matmul(w_t, x_groups, out=cols)
            geometry = _kernel_geometry(count, c_out, x.shape[2:], kernel, stride, dilation, padding, out_spatial)
            stamp_columns(cols.reshape(-1), bias_c, out[first:last].reshape(-1), geometry)

    workers.run_parts(part, workers.batch_parts(n, 2 * weight.size * n * positions))
    return out


def _backward(dout, x, weight, stride, padding, dilation, groups):
    """``(dx, dweight)``: the columns of ``dout`` (on the full grid), then ``W @ cols`` and ``x @ cols^T``."""
    n, c_in = x.shape[:2]
    kernel = weight.shape[2:]
    c_g = c_in // groups
    dout = np.ascontiguousarray(dout)
    positions = math.prod(x.shape[2:])
    w_groups = _weight_groups(weight, groups)  # (G, C_g, K_g * prod(k))
    rows = dout.shape[1] * math.prod(kernel)
    per_sample = rows * positions * x.itemsize
    dx = np.empty(x.shape, dtype=x.dtype)

    def part(start, stop):
        dweight = np.zeros(w_groups.shape, dtype=x.dtype)
        for first, last in workers.chunk_ranges(start, stop, per_sample, workers.chunk_budget(_CHUNK_BYTES)):
            count = last - first
            # im2col of the upstream gradient put back on the full grid (zeros where the padding cropped it).
            cols = workers.workspace("conv_transpose.cols", (rows, count * positions), x.dtype)
            geometry = _kernel_geometry(count, dout.shape[1], x.shape[2:], kernel, stride, dilation, padding,
                                        dout.shape[2:])
            gather_columns(dout[first:last].reshape(-1), cols.reshape(-1), geometry)
            cols = cols.reshape(groups, rows // groups, count * positions)
            if count == 1:  # one sample's (G, C_g, L) is its slice of dx: write the product there
                np.matmul(w_groups, cols, out=dx[first].reshape(groups, c_g, positions))
            else:
                dx_groups = np.matmul(w_groups, cols)  # (G, C_g, count * L)
                dx[first:last] = dx_groups.reshape(c_in, count, *x.shape[2:]).swapaxes(0, 1)
            x_groups = x[first:last].reshape(count, groups, c_g, positions).transpose(1, 2, 0, 3)
            x_groups = x_groups.reshape(groups, c_g, count * positions)
            # (G, C_g, K_g * prod(k)), computed as (cols @ x.T).T: OpenBLAS ran this long, thin product
            # 13-30 % faster in that orientation (as the im2col convolution's weight gradient).
            dweight += np.matmul(cols, x_groups.swapaxes(1, 2)).swapaxes(1, 2)
        return dweight

    partial = workers.run_parts(part, workers.batch_parts(n, 4 * weight.size * n * positions))
    dweight = partial[0]
    for more in partial[1:]:  # in part order: the same sum every run
        dweight = dweight + more
    return dx, dweight.reshape(weight.shape)


def _weight_groups(weight, groups):
    """(C_in, K_g, *k) -> (G, C_g, K_g * prod(k)), a view."""
    return weight.reshape(groups, weight.shape[0] // groups, math.prod(weight.shape[1:]))
