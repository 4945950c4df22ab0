"""Convolution over 1, 2 or 3 spatial axes, as ``torch.nn.functional.conv1d/2d/3d``.

One N-d implementation (``_conv_nd`` / ``_conv_nd_backward``) does the work;
``conv1d``, ``conv2d`` and ``conv3d`` are thin wrappers. The steps:

1. check the arguments and work out the padding (int, tuple, 'valid' or
   'same'; filled with zeros, a reflection, a replica or a wrap-around),
2. pad the input (as ``pad`` does),
3. run a *valid* convolution of the padded input with the chosen algorithm.
   ``"im2col"`` writes every receptive field out as a column (``im2col``)
   and does one matrix product per group, all groups in one batched
   ``np.matmul``; the backward pass does two more products and scatters the
   column gradients back with ``col2im``,
4. fold the padding's gradient back (as ``pad_backward`` does).

The algorithms do steps 2 and 4 as they go, on the pieces they work on
(im2col for every padding mode, the others for zeros), so no padded copy
of the whole input is made; for a mode an algorithm cannot apply on the
fly, ``pad`` and ``pad_backward`` run on the whole input around it.

The ``algorithm`` keyword picks step 3's implementation; every one gives
the same result up to float rounding:

- ``"im2col"``: the readable path above (``conv_im2col``), any convolution
  (under ``"auto"``, a call large enough for the workers runs the same
  products with the batch split over them, in ``tiling.im2col_forward``);
- ``"winograd"`` (F(2x2, 3x3)), ``"winograd4"`` (F(4x4, 3x3)),
  ``"winograd_cl"`` (F(2x2, 3x3) channels-last, for small maps) and
  ``"rowslab"``: faster for the 2-D layers they apply to, in
  ``numconv.functional.fast`` (read this file and ``im2col.py`` first);
- ``"auto"`` (the default) picks per call by a three-line rule
  (``numconv.functional.fast.choice._auto``).

Memory stays bounded: a call's scratch stays within ``set_workspace_limit``
(default 256 MiB, or ``$NUMCONV_CONV_WORKSPACE_MB``) beside its output and
gradient buffers, for every algorithm, rank, group count and padding mode.
im2col runs tile by tile (``numconv.functional.tiling``: samples, then
groups, then output rows), padding each tile on the fly; Winograd and the
row slab walk the batch in chunks of samples, and a call whose single
sample would not fit their chunks runs through im2col's tiles instead
(``numconv.functional.fast.choice.fits``, the one rule that decides it).
The worker threads and their BLAS policy are described in
``numconv.kernels.workers`` (``NUMCONV_NUM_THREADS=1`` turns them off).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, channel_last_hint, check_dout, check_ndim, check_positive_int, ntuple, shape_str
from ..kernels import workers
from ..kernels.workers import set_workspace_limit, workspace_limit
from ._docs import RANKS, gradient_of
from .fast.choice import ALGORITHMS, WINOGRAD, auto_winograd_backward, choose_algorithm, fits, runs_readable
from .im2col import PadCache, _check_pad, _col2im, _im2col, _pad, _span_text, conv_output_shape, pad_backward

__all__ = [
    "conv1d", "conv1d_backward", "conv2d", "conv2d_backward", "conv3d", "conv3d_backward", "ConvCache",
    "conv_im2col", "conv_im2col_backward", "Im2colCache",
    "set_workspace_limit", "workspace_limit",
]

_LAYOUTS = {1: "(C, L) or (N, C, L)", 2: "(C, H, W) or (N, C, H, W)", 3: "(C, D, H, W) or (N, C, D, H, W)"}
_KERNEL_AXES = {1: "kL", 2: "kH, kW", 3: "kD, kH, kW"}


class ConvCache(NamedTuple):
    """What ``conv*d_backward`` needs.

    Attributes
    ----------
    algorithm : str
        The algorithm that ran the forward pass (its backward runs now).
    state : tuple
        That algorithm's own cache (for ``"im2col"``: the columns, the weight, ...;
        for ``"winograd"``, ``"winograd4"``, ``"winograd_cl"`` and ``"rowslab"``: the input itself and the weight,
        by reference, as PyTorch saves them: change neither in place between
        the forward and the backward pass).
    pad : PadCache or None
        The explicit padding (None when there was none).
    out_shape : tuple
        The output's shape, batched: (N, C_out, *out_spatial).
    has_bias, unbatched : bool
    dtype : np.dtype
        The computation's dtype (the input's).
    """

    algorithm: str
    state: tuple
    pad: PadCache | None
    out_shape: tuple
    has_bias: bool
    unbatched: bool
    dtype: np.dtype
    auto: bool = False  # "auto" chose the algorithm (then a Winograd backward checks the gradient it is given)


# ---------------------------------------------------------------------------------------------- public ops
# The docstring of conv1d and conv3d: conv2d's, along other axes.
_RANK_DOC = """{nd}-D convolution (cross-correlation), as ``torch.nn.functional.conv{nd}d``.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, {axes}) or (C_in, {axes})
    weight : ndarray, shape (C_out, C_in / groups, {kernel_axes})
    bias : ndarray, shape (C_out,), optional
    stride, dilation : int or {ints}
    padding : int, {ints}, 'valid' or 'same'
    groups : int
    padding_mode : {{'zeros', 'reflect', 'replicate', 'circular'}}
    algorithm : {{'auto', 'im2col'}}
        (the other algorithms are 2-D only)

    Returns
    -------
    out : ndarray, shape (N, C_out, {out_axes}) (or (C_out, {out_axes}) for unbatched input)
    cache : ConvCache

    See ``conv2d`` for the details, which are the same along each axis.
    """


def _rank_doc(op):
    """Give ``conv1d`` or ``conv3d`` its docstring (``_RANK_DOC`` for its rank); return ``op`` itself."""
    op.__doc__ = _RANK_DOC.format(**RANKS[int(op.__name__[-2])])
    return op


@_rank_doc
def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, padding_mode="zeros",
           algorithm="auto"):
    return _conv_nd(1, "conv1d", x, weight, bias, stride, padding, dilation, groups, padding_mode, algorithm)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, padding_mode="zeros",
           algorithm="auto"):
    """2-D convolution (cross-correlation), as ``torch.nn.functional.conv2d``.

    ``out[n, k, i, j] = bias[k] + sum over c, p, q of
    x_padded[n, g*C_g + c, i*s_h + p*d_h, j*s_w + q*d_w] * weight[k, c, p, q]``,
    where ``g = k // (C_out / groups)`` is the group of output channel ``k``
    and ``C_g = C_in / groups``.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W) or (C_in, H, W)
        float32 or float64; the output keeps this dtype (the weight is cast to it).
    weight : ndarray, shape (C_out, C_in / groups, kH, kW)
    bias : ndarray, shape (C_out,), optional
    stride : int or (int, int)
    padding : int, (int, int), 'valid' or 'same'
        Pixels added on both sides of each axis. 'valid' is 0; 'same' (stride
        1 only) makes the output as large as the input: a total of
        ``dilation * (k - 1)`` per axis, ``total // 2`` before and the rest
        after, so an even kernel gets the extra pixel on the right/bottom,
        as in PyTorch.
    dilation : int or (int, int)
        Spacing between kernel taps.
    groups : int
        Split the channels into this many independent convolutions
        (``groups == C_in`` is a depthwise convolution).
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}, keyword only
        What fills the padding (the ``padding_mode`` of ``torch.nn.Conv2d``,
        which pads with ``F.pad`` and then convolves with no padding).
    algorithm : {'auto', 'im2col', 'winograd', 'winograd4', 'winograd_cl', 'rowslab'}, keyword only
        How to compute it; every algorithm gives the same result up to float
        rounding. The Winograd ones need a 3 x 3 kernel, stride 1, dilation 1 and
        groups 1; 'rowslab' needs groups 1 and vertical dilation 1; 'auto'
        picks the fastest that applies. A call that would not fit the
        workspace limit with the algorithm asked for (one sample's Winograd
        tiles larger than the limit) runs through im2col's tiles instead.

    Returns
    -------
    out : ndarray, shape (N, C_out, H_out, W_out) (or (C_out, H_out, W_out))
        ``H_out = (H + pad_top + pad_bottom - d_h * (kH - 1) - 1) // s_h + 1``, same for W.
    cache : ConvCache
    """
    return _conv_nd(2, "conv2d", x, weight, bias, stride, padding, dilation, groups, padding_mode, algorithm)


@_rank_doc
def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, padding_mode="zeros",
           algorithm="auto"):
    return _conv_nd(3, "conv3d", x, weight, bias, stride, padding, dilation, groups, padding_mode, algorithm)


def conv1d_backward(dout, cache: ConvCache):
    """Gradients of ``conv1d``: ``(dx, dweight, dbias)``; see ``conv2d_backward``."""
    return _conv_nd_backward(dout, cache, "conv1d_backward")


@gradient_of("conv2d", "ConvCache")
def conv2d_backward(dout, cache: ConvCache):
    """Gradients of ``conv2d``.

    Returns
    -------
    dx : ndarray, shape of ``x`` (N, C_in, H, W) or (C_in, H, W)
    dweight : ndarray, shape (C_out, C_in / groups, kH, kW)
    dbias : ndarray, shape (C_out,), or None when the forward had no bias
        All in the input's dtype.
    """
    return _conv_nd_backward(dout, cache, "conv2d_backward")


def conv3d_backward(dout, cache: ConvCache):
    """Gradients of ``conv3d``: ``(dx, dweight, dbias)``; see ``conv2d_backward``."""
    return _conv_nd_backward(dout, cache, "conv3d_backward")


# ---------------------------------------------------------------------------------------------- the readable path
class Im2colCache(NamedTuple):
    """What ``conv_im2col_backward`` needs: the input's shape, the weight, (stride, dilation, groups), the columns."""

    x_shape: tuple
    weight: np.ndarray
    geometry: tuple
    cols: np.ndarray


def conv_im2col(x, weight, bias, stride, dilation, groups):
    """Convolution as one matrix product: every receptive field a column, times the kernels as rows.

    Parameters
    ----------
    x : ndarray, shape (N, C, *spatial), already padded
    weight : ndarray, shape (K, C / groups, *k)
    bias : ndarray, shape (K,), or None
    stride, dilation : tuple, one int per spatial axis
    groups : int

    Returns
    -------
    out : ndarray, shape (N, K, *out_spatial)
    cache : Im2colCache
    """
    n, k = x.shape[0], weight.shape[0]
    out_spatial = conv_output_shape(x.shape[2:], weight.shape[2:], stride, dilation)
    cols = _im2col(x, weight.shape[2:], stride, dilation)        # (C * prod(k), N * prod(out))
    w = weight.reshape(groups, k // groups, -1)                    # each group's kernels as rows
    with workers.blas_threads_for(2 * w.size * cols.shape[1]):    # (a small product runs on one BLAS thread)
        y = np.matmul(w, cols.reshape(groups, -1, cols.shape[1]))  # THE product, per group: (G, K/G, N * prod(out))
    y = y.reshape(k, n, *out_spatial).swapaxes(0, 1)               # (N, K, *out_spatial), a view
    out = np.empty(y.shape, dtype=x.dtype)
    np.add(y, 0 if bias is None else bias.reshape(k, *(1,) * len(out_spatial)), out=out)  # + bias, made contiguous
    return out, Im2colCache(x.shape, weight, (stride, dilation, groups), cols)


def conv_im2col_backward(dout, cache: Im2colCache):
    """Gradients of ``conv_im2col``: ``(dx, dweight)``; dx of the padded input.

    ``out = W @ cols``, so ``dW = dout @ cols.T`` and ``dcols = W.T @ dout``;
    ``col2im`` then adds each column's gradient back onto the pixels it was
    copied from (the adjoint of im2col: overlapping windows sum).
    """
    (stride, dilation, groups), weight, cols = cache.geometry, cache.weight, cache.cols
    n, k = dout.shape[:2]
    d = dout.reshape(n, groups, k // groups, -1).transpose(1, 2, 0, 3).reshape(groups, k // groups, -1)
    c = cols.reshape(groups, -1, cols.shape[1])
    w = weight.reshape(groups, k // groups, -1)
    with workers.blas_threads_for(2 * w.size * cols.shape[1]):
        dweight = np.matmul(d, c.swapaxes(1, 2)).reshape(weight.shape)
        dcols = np.matmul(w.swapaxes(1, 2), d).reshape(cols.shape)
    dx = _col2im(dcols, cache.x_shape, weight.shape[2:], stride, dilation)
    return dx, dweight


# ---------------------------------------------------------------------------------------------- the shared N-d op
def _conv_nd(nd, where, x, weight, bias, stride, padding, dilation, groups, padding_mode, algorithm):
    """Check the arguments, pad, and run the chosen algorithm; ``where`` names the caller in errors."""
    x, weight, unbatched = _batched(nd, where, x, weight)
    weight, bias = _check_weight(nd, where, x, weight, bias, groups, unbatched)
    stride = ntuple(stride, nd, where, "stride", minimum=1)
    dilation = ntuple(dilation, nd, where, "dilation", minimum=1)
    pad_width = parse_padding(padding, nd, weight.shape[2:], stride, dilation, where)
    _check_kernel_fits(where, x.shape, weight.shape[2:], dilation, pad_width, padding_mode)
    name = choose_algorithm(algorithm, where, x, weight, stride, dilation, groups, pad_width)
    if not fits(name, x, weight, stride, dilation, pad_width, padding_mode):
        name = "im2col"  # its tiles always fit the workspace limit
    chosen = ALGORITHMS[name]

    pad_cache = None
    if name == "im2col" and runs_readable(algorithm, x, weight, stride, dilation, groups, pad_width, padding_mode):
        # The readable path: pad, then one matrix product. (When "auto" chose im2col for a call large
        # enough for the workers, the same products run batch-split, in tiling.im2col_forward.)
        if any(before or after for before, after in pad_width):
            x, pad_cache = _pad(x, pad_width, padding_mode)
        out, state = conv_im2col(x, weight, bias, stride, dilation, groups)
    elif padding_mode in chosen.pads:
        out, state = chosen.forward(x, weight, bias, stride, dilation, groups, pad_width, padding_mode)
    else:
        if any(before or after for before, after in pad_width):
            x, pad_cache = _pad(x, pad_width, padding_mode)
        no_padding = ((0, 0),) * nd
        out, state = chosen.forward(x, weight, bias, stride, dilation, groups, no_padding, "zeros")
    cache = ConvCache(name, state, pad_cache, out.shape, bias is not None, unbatched, x.dtype, algorithm == "auto")
    return (out[0] if unbatched else out), cache


def _conv_nd_backward(dout, cache: ConvCache, where):
    """``(dx, dweight, dbias)`` from the upstream gradient and the forward's cache."""
    dout = _batched_dout(dout, cache, ConvCache, where)
    if isinstance(cache.state, Im2colCache):
        dx, dweight = conv_im2col_backward(dout, cache.state)
    elif cache.auto and cache.algorithm in WINOGRAD:
        dx, dweight = auto_winograd_backward(cache.algorithm, dout, cache.state)
    else:
        dx, dweight = ALGORITHMS[cache.algorithm].backward(dout, cache.state)
    if cache.pad is not None:
        dx = pad_backward(dx, cache.pad)
    return (dx[0] if cache.unbatched else dx), dweight, _bias_gradient(dout, cache.has_bias)


def _batched(nd, where, x, weight):
    """The input and weight checked as float arrays, the input given a batch axis if it has none.

    Shared by convolution and transposed convolution.

    Returns
    -------
    x : ndarray, shape (N, C, *spatial), ``nd`` spatial axes
    weight : ndarray, float (checked against ``x`` next, by the caller)
    unbatched : bool
        Whether ``x`` came as (C, *spatial).
    """
    x = as_float_array(x, where)
    weight = as_float_array(weight, where, "weight")
    check_ndim(x, (nd + 1, nd + 2), where, _LAYOUTS[nd])
    unbatched = x.ndim == nd + 1
    return (x[np.newaxis] if unbatched else x), weight, unbatched


def _batched_dout(dout, cache, cache_type, where):
    """The upstream gradient, checked against the forward's output and given a batch axis as ``x`` was.

    ``cache`` must be a ``cache_type`` (its ``out_shape`` is the forward's
    output shape, batched, its ``dtype`` the computation's). Shared by
    convolution and transposed convolution.

    Returns
    -------
    dout : ndarray, shape (N, C_out, *out_spatial)
    """
    if not isinstance(cache, cache_type):
        raise TypeError(f"{where}: expected the {cache_type.__name__} returned by the forward op, "
                        f"got {type(cache).__name__}")
    shape = cache.out_shape[1:] if cache.unbatched else cache.out_shape
    dout = check_dout(dout, shape, cache.dtype, where)
    return dout[np.newaxis] if cache.unbatched else dout


def _bias_gradient(dout, has_bias):
    """``dout`` (N, C_out, *out_spatial) summed over all but the channel axis: (C_out,); None without a bias."""
    if not has_bias:
        return None
    # Sum the contiguous spatial axis first: much faster than dout.sum(axis=(0, 2, 3)).
    return dout.reshape(dout.shape[0], dout.shape[1], math.prod(dout.shape[2:])).sum(axis=2).sum(axis=0)


# ---------------------------------------------------------------------------------------------- argument checks
def parse_padding(padding, nd, kernel_size, stride, dilation, where) -> tuple:
    """Turn ``padding`` into ``nd`` pairs ``(before, after)``.

    An int or tuple pads both sides equally; 'valid' is no padding; 'same'
    (stride 1 only) pads ``dilation * (k - 1)`` in total, ``total // 2``
    before and the rest after, as PyTorch does.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding != "same":
            raise ValueError(f"{where}: invalid padding string {padding!r}, should be 'valid' or 'same'")
        if any(s != 1 for s in stride):
            raise ValueError(f"{where}: padding='same' is not supported for strided convolutions (stride={stride})")
        totals = [d * (k - 1) for k, d in zip(kernel_size, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    try:
        padding = ntuple(padding, nd, where, "padding", minimum=0)
    except TypeError:
        raise TypeError(
            f"{where}: expected padding to be 'valid', 'same', an int or a tuple of {nd} ints, got {padding!r}"
        ) from None
    return tuple((p, p) for p in padding)


def _check_weight(nd, where, x, weight, bias, groups, unbatched):
    """Check the weight and bias against the input and groups; cast both to the input's dtype."""
    _check_weight_rank(nd, where, weight, "out_channels, in_channels/groups")
    groups = check_positive_int(groups, where, "groups")
    x_shape = x.shape[1:] if unbatched else x.shape
    channels = x.shape[1]
    if channels % groups:
        raise ValueError(f"{where}: input channels ({channels}) must be divisible by groups ({groups}), "
                         f"got input of shape {shape_str(x_shape)}")
    if weight.shape[1] * groups != channels:
        per_group = f", groups={groups}" if groups != 1 else ""
        raise ValueError(
            f"{where}: expected input with {weight.shape[1] * groups} channels (weight has shape "
            f"{shape_str(weight.shape)}{per_group}), got input of shape {shape_str(x_shape)}"
            + channel_last_hint(x_shape, 0 if unbatched else 1, weight.shape[1] * groups)
        )
    if weight.shape[0] % groups:
        raise ValueError(f"{where}: out_channels ({weight.shape[0]}, from weight of shape {shape_str(weight.shape)}) "
                         f"must be divisible by groups ({groups})")
    return _cast_weight_and_bias(where, x.dtype, weight, bias, weight.shape[0], "")


def _check_weight_rank(nd, where, weight, channel_axes):
    """An (nd + 2)-D weight: two channel axes (named by ``channel_axes``), then one per kernel axis."""
    if weight.ndim != nd + 2:
        raise ValueError(f"{where}: expected a {nd + 2}-D weight ({channel_axes}, {_KERNEL_AXES[nd]}), "
                         f"got shape {shape_str(weight.shape)}")


def _cast_weight_and_bias(where, dtype, weight, bias, out_channels, bias_hint):
    """Check the kernel is not empty and the bias has one value per output channel; cast both to ``dtype``.

    Shared by convolution and transposed convolution (``bias_hint`` says where the count comes from).
    """
    if any(k == 0 for k in weight.shape[2:]):
        raise ValueError(f"{where}: expected a non-empty kernel, got weight of shape {shape_str(weight.shape)}")
    weight = weight.astype(dtype, copy=False)
    if bias is not None:
        bias = as_float_array(bias, where, "bias")
        if bias.shape != (out_channels,):
            raise ValueError(f"{where}: expected bias of shape ({out_channels},) (one per output channel"
                             f"{bias_hint}), got {shape_str(bias.shape)}")
        bias = bias.astype(dtype, copy=False)
    return weight, bias


def _check_kernel_fits(where, x_shape, kernel_size, dilation, pad_width, padding_mode) -> None:
    """Check the padding mode suits the input and the kernel fits inside the padded input."""
    if 0 in x_shape[2:] and x_shape[0] and x_shape[1]:  # PyTorch allows empty spatial axes only then
        raise ValueError(f"{where}: expected non-empty spatial dimensions (or an empty batch), got input of shape "
                         f"{shape_str(x_shape)}")
    _check_pad(x_shape, pad_width, padding_mode, where)
    padded = tuple(s + b + a for s, (b, a) in zip(x_shape[2:], pad_width))
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation))
    if any(span > size for span, size in zip(spans, padded)):
        raise ValueError(
            f"{where}: kernel size {tuple(kernel_size)} with dilation {dilation} spans {_span_text(spans)} pixels, "
            f"but the padded input is only {' x '.join(str(s) for s in padded)}"
        )
