"""The im2col convolution in bounded memory: the work cut into tiles that fit the workspace limit.

Read ``numconv.functional.im2col`` first. Its column matrix holds every
input pixel ``prod(k)`` times: for a batch of 256 images of 64 x 112 x 112
and a 3 x 3 kernel that is 7 GB in float32. So the convolution runs tile by
tile, each tile a block of

    samples  x  groups  x  output rows (the first spatial axis: L, D or H)

whose scratch (its padded input, its columns, their matrix products and,
in the backward pass, their gradients) fits within ``workspace_limit()``.
Tiles are as large as fit: whole samples while one sample fits, then whole
groups of one sample, then bands of output rows of one group (and, where
one row is still too large, as for the planes of a 3-D convolution, blocks
along the next axes). Only the smallest tile, one output position of one
group of one sample, could exceed the limit.

Padding is applied per tile (``padded_tile``) and its gradient folded back
per tile (``fold_tile``), for every padding mode, so no padded copy of the
whole input, and no padded input gradient, is ever made. The output and
the input and weight gradients are the only arrays of the batch's size.

When the whole batch is one tile (small layers: LeNet-5's C5), the forward
pass keeps its columns for the backward pass, as the plain im2col
algorithm does; otherwise the backward pass rebuilds each tile's columns
from the input.

The same tiles cut the forward and backward passes, and the weight
gradient adds up the tiles in order, so a result depends only on the
shapes and the limit. With another limit the sums run in another order
and the last bits of a float may change (integers add exactly, which is
what the tests compare bit for bit).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..kernels import workers
from .im2col import _col2im, _im2col, conv_output_shape

__all__ = ["Geometry", "geometry", "plan_tiles", "tiles", "tile_bytes", "worker_parts", "padded_tile", "fold_tile",
           "im2col_forward", "im2col_backward"]


class Geometry(NamedTuple):
    """The shapes of one convolution, as the tiles need them.

    Attributes
    ----------
    x_shape : tuple
        The input's shape (N, C, *spatial), unpadded.
    kernel, stride, dilation : tuple
        One entry per spatial axis.
    groups : int
    out_channels : int
    pad_width : tuple of (before, after) pairs
    mode : str
        The padding mode ('zeros', 'reflect', 'replicate', 'circular').
    out_spatial : tuple
        The output's spatial shape.
    used : tuple
        How many pixels of the padded input the windows reach, per axis
        (the padded size, less any trailing pixels no window touches).
    """

    x_shape: tuple
    kernel: tuple
    stride: tuple
    dilation: tuple
    groups: int
    out_channels: int
    pad_width: tuple
    mode: str
    out_spatial: tuple
    used: tuple


def geometry(x_shape, weight_shape, stride, dilation, groups, pad_width, mode) -> Geometry:
    """The ``Geometry`` of a convolution of an (N, C, *spatial) input with a (K, C/G, *k) weight."""
    kernel = tuple(weight_shape[2:])
    padded = tuple(s + b + a for s, (b, a) in zip(x_shape[2:], pad_width))
    out = conv_output_shape(padded, kernel, stride, dilation)
    used = tuple((o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(out, stride, dilation, kernel))
    return Geometry(tuple(x_shape), kernel, tuple(stride), tuple(dilation), groups, weight_shape[0],
                    tuple(pad_width), mode, out, used)


# ---------------------------------------------------------------------------------------------- the tiles
def _span(geo: Geometry, axis: int, extent: int) -> int:
    """Padded input pixels along ``axis`` that ``extent`` consecutive outputs read."""
    return (extent - 1) * geo.stride[axis] + geo.dilation[axis] * (geo.kernel[axis] - 1) + 1


def tile_bytes(geo: Geometry, samples: int, groups: int, extents, itemsize: int, backward: bool) -> int:
    """Scratch bytes of one tile of ``samples`` x ``groups`` x ``extents`` (outputs per spatial axis).

    Forward: its padded input, its columns and their product with the
    weight. Backward: twice that (the columns' gradient, the padded input's
    gradient, the upstream gradient in two layouts) and the tile's share of
    the weight gradient.
    """
    channels = groups * (geo.x_shape[1] // geo.groups)
    out_channels = groups * (geo.out_channels // geo.groups)
    positions = math.prod(extents)
    padded = channels * math.prod(_span(geo, axis, e) for axis, e in enumerate(extents))
    columns = channels * math.prod(geo.kernel) * positions
    products = out_channels * positions
    if not backward:
        return samples * (padded + columns + products) * itemsize
    weight_part = out_channels * (geo.x_shape[1] // geo.groups) * math.prod(geo.kernel)
    return (2 * samples * (padded + columns + products) + weight_part) * itemsize


def plan_tiles(geo: Geometry, itemsize: int, budget: int, backward: bool) -> tuple:
    """``(samples, groups, extents)`` per tile: the largest tile within ``budget``.

    Whole samples while one fits; else whole groups of one sample; else one
    group cut along the output's first spatial axis (rows), then, if a
    single row is still too large (3-D planes, very wide 2-D rows), along the
    next axis too. The smallest tile is one output position of one group.
    """
    n, groups, full = geo.x_shape[0], geo.groups, tuple(geo.out_spatial)

    def cost(samples, groups, extents):
        return tile_bytes(geo, samples, groups, extents, itemsize, backward)

    if cost(1, groups, full) <= budget:
        return max(1, min(n, budget // max(1, cost(1, groups, full)))), groups, full
    if cost(1, 1, full) <= budget:
        return 1, max(1, budget // cost(1, 1, full)), full
    extents = list(full)
    for axis in range(len(full)):
        extents[axis] = 1
        if cost(1, 1, extents) > budget:
            continue  # one output along this axis is still too large: cut the next axis as well
        low, high = 1, full[axis]  # the most outputs along this axis that fit (bytes grow with them)
        while low < high:
            mid = (low + high + 1) // 2
            extents[axis] = mid
            if cost(1, 1, extents) <= budget:
                low = mid
            else:
                high = mid - 1
        extents[axis] = low
        break
    return 1, 1, tuple(extents)


def tiles(geo: Geometry, plan: tuple) -> list:
    """Every tile ``(n0, n1, g0, g1, box)`` of ``plan``, ``box`` one ``(lo, hi)`` of outputs per spatial axis.

    In order: samples, then groups, then the output positions (first axis slowest).
    """
    (n, groups), (ns, gs, extents) = (geo.x_shape[0], geo.groups), plan
    boxes = [()]
    for size, step in zip(geo.out_spatial, extents):
        boxes = [box + ((lo, min(size, lo + step)),) for box in boxes for lo in range(0, size, step)]
    return [(n0, min(n, n0 + ns), g0, min(groups, g0 + gs), box)
            for n0 in range(0, n, ns) for g0 in range(0, groups, gs) for box in boxes]


def worker_parts(geo: Geometry, weight_size: int) -> list:
    """How a batch that is one tile is split over the workers: ``workers.batch_parts`` for its flops."""
    return workers.batch_parts(geo.x_shape[0], 2 * weight_size * math.prod(geo.out_spatial) * geo.x_shape[0])


def _samples(geo: Geometry, n0: int, n1: int) -> tuple:
    """The tile that is samples ``n0 .. n1 - 1``, whole."""
    return (n0, n1, 0, geo.groups, tuple((0, size) for size in geo.out_spatial))


# ---------------------------------------------------------------------------------------------- padding per tile
def _source_index(index, size, before, mode):
    """Where padded positions ``index`` read from in an axis of ``size``: ``(source, valid)``.

    ``valid`` is False where a zero-padded position reads nothing.
    """
    src = index - before
    if mode == "reflect":
        src = np.abs(src)
        src = np.where(src >= size, 2 * (size - 1) - src, src)
    elif mode == "replicate":
        src = np.clip(src, 0, size - 1)
    elif mode == "circular":
        src = src % size
    valid = (src >= 0) & (src < size)
    return np.where(valid, src, 0), valid


def _tile_ranges(geo: Geometry, tile) -> list:
    """``[lo, hi)`` of the padded input a tile reads, per spatial axis."""
    return [(lo * geo.stride[axis], lo * geo.stride[axis] + _span(geo, axis, hi - lo))
            for axis, (lo, hi) in enumerate(tile[4])]


def _inside(geo: Geometry, ranges) -> list | None:
    """Per axis, ``(src_lo, src_hi, dst_lo)``: the part of each range inside the unpadded input."""
    boxes = []
    for (lo, hi), size, (before, _) in zip(ranges, geo.x_shape[2:], geo.pad_width):
        src_lo, src_hi = max(lo - before, 0), min(hi - before, size)
        if src_hi <= src_lo:
            return None
        boxes.append((src_lo, src_hi, src_lo + before - lo))
    return boxes


def padded_tile(x, geo: Geometry, tile):
    """The padded input a tile reads: shape (n1 - n0, channels of groups g0..g1, *spans of its box).

    A view of ``x`` where the tile touches no padding; otherwise a new array,
    filled as ``numconv.functional.im2col.pad`` would fill it.
    """
    n0, n1, g0, g1 = tile[:4]
    per_group = geo.x_shape[1] // geo.groups
    part = x[n0:n1, g0 * per_group:g1 * per_group]
    ranges = _tile_ranges(geo, tile)
    box = _inside(geo, ranges)
    shape = part.shape[:2] + tuple(hi - lo for lo, hi in ranges)
    if box is not None and all(src_hi - src_lo == hi - lo for (src_lo, src_hi, _), (lo, hi) in zip(box, ranges)):
        return part[(Ellipsis, *(slice(src_lo, src_hi) for src_lo, src_hi, _ in box))]
    if geo.mode == "zeros":
        out = np.zeros(shape, dtype=x.dtype)
        if box is not None:
            out[(Ellipsis, *(slice(d, d + s1 - s0) for s0, s1, d in box))] = \
                part[(Ellipsis, *(slice(s0, s1) for s0, s1, _ in box))]
        return out
    index = [_source_index(np.arange(lo, hi), size, before, geo.mode)[0]
             for (lo, hi), size, (before, _) in zip(ranges, geo.x_shape[2:], geo.pad_width)]
    return part[(slice(None), slice(None), *np.ix_(*index))]


def fold_tile(dx, d_tile, geo: Geometry, tile) -> None:
    """Add a tile's padded-input gradient onto ``dx``: the adjoint of ``padded_tile``.

    Gradients of zero padding are dropped; those of copied border pixels
    (reflect, replicate, circular) go to the pixel they were copied from.
    """
    n0, n1, g0, g1 = tile[:4]
    per_group = geo.x_shape[1] // geo.groups
    part = dx[n0:n1, g0 * per_group:g1 * per_group]
    ranges = _tile_ranges(geo, tile)
    if geo.mode == "zeros" or not any(b or a for b, a in geo.pad_width):
        box = _inside(geo, ranges)
        if box is not None:
            part[(Ellipsis, *(slice(s0, s1) for s0, s1, _ in box))] += \
                d_tile[(Ellipsis, *(slice(d, d + s1 - s0) for s0, s1, d in box))]
        return
    index = [_source_index(np.arange(lo, hi), size, before, geo.mode)[0]
             for (lo, hi), size, (before, _) in zip(ranges, geo.x_shape[2:], geo.pad_width)]
    np.add.at(part, (slice(None), slice(None), *np.ix_(*index)), d_tile)


# ---------------------------------------------------------------------------------------------- forward and backward
def _weight_groups(weight, g0, g1, groups):
    """Groups ``g0 .. g1 - 1`` of the weight as (g1 - g0, K_g, C_g * prod(k)), a view."""
    per_group = weight.shape[0] // groups
    part = weight[g0 * per_group:g1 * per_group]
    return part.reshape(g1 - g0, per_group, math.prod(weight.shape[1:]))


def _forward_tile(x, weight, bias, geo: Geometry, tile, out):
    """Convolve one tile into its block of ``out``; return its columns."""
    n0, n1, g0, g1, box = tile
    count = g1 - g0
    src = padded_tile(x, geo, tile)
    cols = _im2col(src, geo.kernel, geo.stride, geo.dilation)  # (C_t * prod(k), n * L_t)
    w = _weight_groups(weight, g0, g1, geo.groups)  # (G_t, K_g, C_g * prod(k))
    with workers.blas_threads_for(2 * w.size * cols.shape[1]):  # small products: one BLAS thread
        y = np.matmul(w, cols.reshape(count, cols.shape[0] // count, cols.shape[1]))  # (G_t, K_g, n * L_t)
    k0, k1 = g0 * w.shape[1], g1 * w.shape[1]
    target = out[(slice(n0, n1), slice(k0, k1), *(slice(lo, hi) for lo, hi in box))]  # (n, K_t, *box)
    y = y.reshape(k1 - k0, n1 - n0, *target.shape[2:]).swapaxes(0, 1)
    if bias is None:
        target[...] = y
    else:
        np.add(y, bias[k0:k1].reshape(-1, *(1,) * (y.ndim - 2)), out=target)  # the transpose and the bias in one
    return cols


def _backward_tile(dout, cols, x, weight, geo: Geometry, tile, dx, dweight):
    """Add one tile's input gradient into ``dx`` and its weight gradient into ``dweight``."""
    n0, n1, g0, g1, box = tile
    n, count = n1 - n0, g1 - g0
    if cols is None:
        cols = _im2col(padded_tile(x, geo, tile), geo.kernel, geo.stride, geo.dilation)
    w = _weight_groups(weight, g0, g1, geo.groups)
    k0, k1 = g0 * w.shape[1], g1 * w.shape[1]
    d = dout[(slice(n0, n1), slice(k0, k1), *(slice(lo, hi) for lo, hi in box))]
    positions = math.prod(d.shape[2:])
    # (n, K_t, L_t) -> (G_t, K_g, n * L_t): the layout of the forward's product.
    d_groups = d.reshape(n, count, w.shape[1], positions).transpose(1, 2, 0, 3).reshape(count, w.shape[1],
                                                                                       n * positions)
    c_groups = cols.reshape(count, cols.shape[0] // count, cols.shape[1])
    # y = W @ cols, so dW = dy @ cols.T and dcols = W.T @ dy (one product per group, batched). dW is
    # computed as (cols @ dy.T).T: the same numbers, but OpenBLAS ran the long, thin product 10-30 %
    # faster in that orientation (ResNet-8's layers, one thread).
    with workers.blas_threads_for(2 * w.size * cols.shape[1]):
        d_w = np.matmul(c_groups, d_groups.swapaxes(1, 2)).swapaxes(1, 2)
        dcols = np.matmul(w.swapaxes(1, 2), d_groups).reshape(cols.shape)
    dweight[k0:k1] += d_w.reshape(k1 - k0, *dweight.shape[1:])
    ranges = _tile_ranges(geo, tile)
    tile_shape = (n, cols.shape[0] // math.prod(geo.kernel), *(hi - lo for lo, hi in ranges))
    fold_tile(dx, _col2im(dcols, tile_shape, geo.kernel, geo.stride, geo.dilation), geo, tile)


def im2col_forward(x, weight, bias, stride, dilation, groups, pad_width, mode):
    """Convolution by im2col, tile by tile within the workspace limit.

    Parameters
    ----------
    x : ndarray, shape (N, C, *spatial), not padded
    weight : ndarray, shape (K, C / groups, *k), in ``x``'s dtype
    bias : ndarray, shape (K,), or None
    stride, dilation : tuples; groups : int
    pad_width : tuple of (before, after) pairs
    mode : {'zeros', 'reflect', 'replicate', 'circular'}

    Returns
    -------
    out : ndarray, shape (N, K, *out_spatial), C-contiguous
    state : tuple
        The geometry, ``x`` and the weight (by reference) and, when the whole
        batch was one tile, each worker's columns by its ``(n0, n1)`` (else None),
        for ``im2col_backward``.
    """
    geo = geometry(x.shape, weight.shape, stride, dilation, groups, pad_width, mode)
    out = np.empty((x.shape[0], weight.shape[0], *geo.out_spatial), dtype=x.dtype)
    limit = workers.workspace_limit()
    if out.size == 0:
        return out, (geo, x, weight, None)
    if tile_bytes(geo, x.shape[0], groups, geo.out_spatial, x.itemsize, backward=True) <= limit:
        # One tile, whose backward pass fits too: keep the columns rather than rebuild them. The batch
        # is split over the workers (as Winograd and the row slab do), each half a tile of its own with
        # BLAS on one thread: im2col, the product and the transpose all run in parallel, not the
        # product alone.
        parts = worker_parts(geo, weight.size)
        cols = workers.run_parts(lambda n0, n1: _forward_tile(x, weight, bias, geo, _samples(geo, n0, n1), out),
                                 parts)
        return out, (geo, x, weight, dict(zip(parts, cols)))
    for tile in tiles(geo, plan_tiles(geo, x.itemsize, limit, backward=False)):
        _forward_tile(x, weight, bias, geo, tile, out)
    return out, (geo, x, weight, None)


def im2col_backward(dout, state):
    """Gradients of ``im2col_forward``: ``(dx, dweight)``, dx of the unpadded input."""
    geo, x, weight, cols = state
    dx = np.zeros(x.shape, dtype=x.dtype)
    if cols is not None and dout.size:  # the forward's parts, each with its columns
        def part(n0, n1):
            d_part = np.zeros(weight.shape, dtype=x.dtype)  # this part's weight gradient
            _backward_tile(dout, cols[n0, n1], x, weight, geo, _samples(geo, n0, n1), dx, d_part)
            return d_part
        partial = workers.run_parts(part, list(cols))
        dweight = partial[0]
        for more in partial[1:]:  # in part order: the same sum every run
            dweight += more
        return dx, dweight
    dweight = np.zeros(weight.shape, dtype=x.dtype)
    if dout.size == 0:
        return dx, dweight
    for tile in tiles(geo, plan_tiles(geo, x.itemsize, workers.workspace_limit(), backward=True)):
        _backward_tile(dout, None, x, weight, geo, tile, dx, dweight)
    return dx, dweight
