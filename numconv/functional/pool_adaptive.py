"""Adaptive pooling and max-unpooling, over 1, 2 or 3 spatial axes.

Adaptive pooling picks the windows from the output size instead of a kernel:
output ``i`` of ``m`` along an axis of size ``n`` covers ``[floor(i*n/m),
ceil((i+1)*n/m))``; ``output_size=1`` is global pooling. Max-unpooling puts
each value back at the position ``max_pool*(..., return_indices=True)``
reported. The shared machinery (input checks, planes, the max-pooling
backward) is in ``pool.py``; the loops in ``numconv.kernels.pool``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import check_dout, check_flag, ntuple, shape_str
from ..kernels import pool as kernels
from .pool import MaxPoolCache, _as_planes, _check_input, _max_result, _plane_shape, max_pool_backward

__all__ = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_avg_pool_backward",
    "adaptive_avg_pool1d_backward", "adaptive_avg_pool2d_backward", "adaptive_avg_pool3d_backward",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "adaptive_max_pool1d_backward", "adaptive_max_pool2d_backward", "adaptive_max_pool3d_backward",
    "max_unpool1d", "max_unpool2d", "max_unpool3d", "max_unpool_backward",
    "max_unpool1d_backward", "max_unpool2d_backward", "max_unpool3d_backward",
    "AdaptiveAvgPoolCache", "MaxUnpoolCache",
]

adaptive_max_pool1d_backward = adaptive_max_pool2d_backward = adaptive_max_pool3d_backward = max_pool_backward


class AdaptiveAvgPoolCache(NamedTuple):
    """What adaptive average pooling's backward needs: the two shapes."""

    nd: int
    x_shape: tuple
    out_shape: tuple
    dtype: np.dtype


class MaxUnpoolCache(NamedTuple):
    """What max-unpooling's backward needs: the (P, M) indices the values went to."""

    indices: np.ndarray
    x_shape: tuple
    out_shape: tuple
    dtype: np.dtype


# ---------------------------------------------------------------------------- adaptive pooling
def _adaptive_sizes(x, nd, output_size, where) -> tuple:
    """``output_size`` (int, or nd entries each an int or None = keep the input size) as an nd-tuple."""
    entries = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * nd
    if len(entries) == 1 and nd > 1:
        entries = tuple(entries) * nd
    if len(entries) != nd or not all(
        e is None or (isinstance(e, (int, np.integer)) and not isinstance(e, bool)) for e in entries
    ) or (nd == 1 and entries[0] is None):
        what = "an int" if nd == 1 else f"an int or a tuple of {nd} ints (None keeps that input size)"
        raise TypeError(f"{where}: expected output_size to be {what}, got {output_size!r}")
    sizes = tuple(n if e is None else int(e) for e, n in zip(entries, x.shape[-nd:]))
    if min(sizes) < 0:
        raise ValueError(f"{where}: expected output_size >= 0 on every axis, got {output_size!r} "
                         f"for an input of shape {shape_str(x.shape)}")
    return sizes


def _adaptive_avg_pool(x, nd, output_size, where):
    """Adaptive average pooling; the shared body of adaptive_avg_pool1d/2d/3d and AdaptiveAvgPool*."""
    x = _check_input(x, nd, where)
    out_sizes = _adaptive_sizes(x, nd, output_size, where)
    cache = AdaptiveAvgPoolCache(nd, x.shape, x.shape[:-nd] + out_sizes, x.dtype)
    out = np.empty(_plane_shape(cache.out_shape, nd), dtype=x.dtype)
    kernels.adaptive_avg_pool_forward(_as_planes(x, nd), out)
    return out.reshape(cache.out_shape), cache


def adaptive_avg_pool2d(x, output_size):
    """2-D adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool2d``.

    Output ``(i, j)`` is the mean of rows ``floor(i*H/H_out) .. ceil((i+1)*H/H_out) - 1``
    and the matching columns, so any input size gives the same output size.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W) or (C, H, W)
    output_size : int or (int or None, int or None)
        ``(H_out, W_out)``; None keeps that input size; 1 is global average pooling.

    Returns
    -------
    out : ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)
    cache : AdaptiveAvgPoolCache
    """
    return _adaptive_avg_pool(x, 2, output_size, "adaptive_avg_pool2d")


def adaptive_avg_pool1d(x, output_size):
    """1-D adaptive average pooling: ``x`` (N, C, L) or (C, L), ``output_size`` an int L_out."""
    return _adaptive_avg_pool(x, 1, output_size, "adaptive_avg_pool1d")


def adaptive_avg_pool3d(x, output_size):
    """3-D adaptive average pooling: ``x`` (N, C, D, H, W) or (C, D, H, W), ``output_size`` as in 2-D with 3 entries."""
    return _adaptive_avg_pool(x, 3, output_size, "adaptive_avg_pool3d")


def adaptive_avg_pool_backward(dout, cache: AdaptiveAvgPoolCache):
    """Gradient of adaptive average pooling (any rank): each ``dout / window_size`` added over its window.

    Returns
    -------
    dx : ndarray, the input's shape and dtype
    """
    dout = np.ascontiguousarray(check_dout(dout, cache.out_shape, cache.dtype, "adaptive_avg_pool_backward"))
    dx = np.zeros(_plane_shape(cache.x_shape, cache.nd), dtype=cache.dtype)
    kernels.adaptive_avg_pool_backward(dout.reshape(_plane_shape(cache.out_shape, cache.nd)), dx)
    return dx.reshape(cache.x_shape)


adaptive_avg_pool1d_backward = adaptive_avg_pool2d_backward = adaptive_avg_pool3d_backward = adaptive_avg_pool_backward


def _adaptive_max_pool(x, nd, output_size, return_indices, where):
    """Adaptive max pooling; the shared body of adaptive_max_pool1d/2d/3d and AdaptiveMaxPool*."""
    x = _check_input(x, nd, where)
    out_sizes = _adaptive_sizes(x, nd, output_size, where)
    return_indices = check_flag(return_indices, where, "return_indices")
    out_shape = x.shape[:-nd] + out_sizes
    out = np.empty(_plane_shape(out_shape, nd), dtype=x.dtype)
    idx = np.empty(out.shape, dtype=np.int64)
    kernels.adaptive_max_pool_forward(_as_planes(x, nd), out, idx)
    return _max_result(out, idx, x.shape, out_shape, return_indices)


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """2-D adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool2d``.

    Windows as in :func:`adaptive_avg_pool2d`; maxima, ties and indices as in
    :func:`max_pool2d`. The backward pass is ``adaptive_max_pool2d_backward``
    (the same as max pooling's).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W) or (C, H, W)
    output_size : int or (int or None, int or None)
    return_indices : bool

    Returns
    -------
    out : ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)
        ``(out, indices)`` if ``return_indices``.
    cache : MaxPoolCache
    """
    return _adaptive_max_pool(x, 2, output_size, return_indices, "adaptive_max_pool2d")


def adaptive_max_pool1d(x, output_size, return_indices=False):
    """1-D adaptive max pooling: ``x`` (N, C, L) or (C, L), ``output_size`` an int L_out."""
    return _adaptive_max_pool(x, 1, output_size, return_indices, "adaptive_max_pool1d")


def adaptive_max_pool3d(x, output_size, return_indices=False):
    """3-D adaptive max pooling: ``x`` (N, C, D, H, W) or (C, D, H, W), ``output_size`` with 3 entries."""
    return _adaptive_max_pool(x, 3, output_size, return_indices, "adaptive_max_pool3d")


# ---------------------------------------------------------------------------- max-unpooling
def _unpool_sizes(x, nd, kernel, stride, padding, output_size, where) -> tuple:
    """Unpooled spatial size: ``(n - 1) * stride - 2 * padding + kernel``, or a given size within a stride of it."""
    default = tuple((n - 1) * s - 2 * p + k for n, k, s, p in zip(x.shape[-nd:], kernel, stride, padding))
    if output_size is None:
        sizes = default
    else:
        if not isinstance(output_size, (tuple, list)) or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in output_size
        ):
            raise TypeError(f"{where}: expected output_size to be a tuple of ints, got {output_size!r}")
        sizes = tuple(int(v) for v in output_size)
        if len(sizes) == nd + 2:  # a full (N, C, *spatial) shape is accepted, as in PyTorch
            sizes = sizes[2:]
        if len(sizes) != nd:
            raise ValueError(f"{where}: expected output_size with {nd} or {nd + 2} entries, got {output_size!r}")
        for axis, (size, d, s) in enumerate(zip(sizes, default, stride)):
            if not d - s < size < d + s:
                raise ValueError(
                    f"{where}: output_size {sizes} is out of range for an input of shape {shape_str(x.shape)}: "
                    f"axis {axis} must be strictly between {d - s} and {d + s} (default {default})"
                )
    if min(sizes) < 1:
        raise ValueError(f"{where}: the output would have spatial size {sizes} for an input of shape "
                         f"{shape_str(x.shape)} (kernel_size {kernel}, stride {stride}, padding {padding})")
    return sizes


def _max_unpool(x, indices, nd, kernel_size, stride, padding, output_size, where):
    """Max-unpooling; the shared body of max_unpool1d/2d/3d and MaxUnpool*."""
    x = _check_input(x, nd, where)
    if not isinstance(indices, np.ndarray) or indices.dtype.kind not in "iu":
        what = f"an array of dtype {indices.dtype}" if isinstance(indices, np.ndarray) else type(indices).__name__
        raise TypeError(f"{where}: expected indices to be an integer array (as returned with return_indices=True), "
                        f"got {what}")
    if indices.shape != x.shape:
        raise ValueError(f"{where}: expected indices of the input's shape {shape_str(x.shape)}, "
                         f"got {shape_str(indices.shape)}")
    kernel = ntuple(kernel_size, nd, where, "kernel_size", minimum=1)
    stride = kernel if stride is None else ntuple(stride, nd, where, "stride", minimum=1)
    padding = ntuple(padding, nd, where, "padding", minimum=0)
    out_sizes = _unpool_sizes(x, nd, kernel, stride, padding, output_size, where)
    plane_size = int(np.prod(out_sizes))
    planes = int(np.prod(x.shape[:-nd]))
    idx = np.ascontiguousarray(indices, dtype=np.int64).reshape(planes, -1 if planes else 0)
    bad = (idx < 0) | (idx >= plane_size)
    if bad.any():
        at = np.unravel_index(int(np.argmax(bad)), x.shape)
        raise ValueError(
            f"{where}: index {int(indices[at])} at position {tuple(int(i) for i in at)} is outside the output "
            f"plane of {' x '.join(map(str, out_sizes))} = {plane_size} elements (output_size {out_sizes})"
        )
    out = np.zeros((planes, plane_size), dtype=x.dtype)
    # Each value goes back to where its maximum came from; everything else stays zero.
    # (Two values sent to the same place: the last one wins; PyTorch leaves that undefined.)
    np.put_along_axis(out, idx, np.ascontiguousarray(x).reshape(idx.shape), axis=1)
    out_shape = x.shape[:-nd] + out_sizes
    return out.reshape(out_shape), MaxUnpoolCache(idx, x.shape, out_shape, x.dtype)


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of :func:`max_pool2d`, as ``torch.nn.functional.max_unpool2d``.

    Puts each value of ``x`` at the position ``indices`` names in a zero
    plane; the non-maximal positions stay zero.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W) or (C, H, W)
    indices : ndarray of int, same shape
        Flat positions ``h * W_out + w`` in each output plane, as returned by
        ``max_pool2d(..., return_indices=True)``.
    kernel_size, stride, padding : int or (int, int)
        Those of the max pooling being inverted (stride defaults to kernel_size).
    output_size : tuple of ints, optional
        ``(H_out, W_out)`` (or a whole ``(N, C, H_out, W_out)``) when the
        default ``(H - 1) * stride - 2 * padding + kernel_size`` is not the
        size the pooling came from; it must be within one stride of it.

    Returns
    -------
    out : ndarray, shape (N, C, H_out, W_out) or (C, H_out, W_out)
    cache : MaxUnpoolCache
    """
    return _max_unpool(x, indices, 2, kernel_size, stride, padding, output_size, "max_unpool2d")


def max_unpool1d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """1-D max-unpooling: ``x`` and ``indices`` (N, C, L) or (C, L); see :func:`max_unpool2d`."""
    return _max_unpool(x, indices, 1, kernel_size, stride, padding, output_size, "max_unpool1d")


def max_unpool3d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """3-D max-unpooling: ``x`` and ``indices`` (N, C, D, H, W) or (C, D, H, W); see :func:`max_unpool2d`."""
    return _max_unpool(x, indices, 3, kernel_size, stride, padding, output_size, "max_unpool3d")


def max_unpool_backward(dout, cache: MaxUnpoolCache):
    """Gradient of max-unpooling: each input's gradient is ``dout`` read back at its index.

    As in PyTorch, two inputs sent to the same index (overlapping pooling
    windows that shared a maximum) both read the gradient there, although
    only one of them survived the forward pass.

    Returns
    -------
    (dx, None) : the gradient w.r.t. ``x`` (its shape and dtype); indices get none.
    """
    dout = np.ascontiguousarray(check_dout(dout, cache.out_shape, cache.dtype, "max_unpool_backward"))
    planes = cache.indices.shape[0]
    dx = np.take_along_axis(dout.reshape(planes, -1 if planes else 0), cache.indices, axis=1)
    return dx.reshape(cache.x_shape), None


max_unpool1d_backward = max_unpool2d_backward = max_unpool3d_backward = max_unpool_backward
