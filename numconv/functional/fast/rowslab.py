"""Row-slab implicit GEMM: a 2-D convolution as one matrix product per output row, without im2col.

Read ``numconv.functional.im2col`` first. im2col copies every input pixel
``kH * kW`` times; here only the width is unrolled (a ``kW / s_w``-fold copy,
``numconv.kernels.conv_rowslab.rowslab_expand``)::

    E[h, q, c, j] = x_padded[c, h, j * s_w + q * d_w]          shape (H_pad, kW, C, W_out)

after which the im2col matrix of output row ``i`` is already in memory:
rows ``i*s_h .. i*s_h + kH - 1`` of ``E`` are one contiguous block, which
read as a (kH * kW * C, W_out) matrix has rows ordered ``(p, q, c)``. With
the weight reordered the same way, ``W_r[k, (p, q, c)] = w[k, c, p, q]``::

    out[n, :, i, :] = W_r @ slab_i                      (K, W_out)

All rows of all samples of a chunk go to ``np.matmul`` as one stack of
overlapping strided views (``as_strided``), so BLAS runs once per row and
nothing is copied. The backward pass:

- ``dW_r^T = sum over rows of slab_i @ dy_i^T`` (the slabs rebuilt from ``x``;
  a block of rows' slabs is copied into im2col columns first, which turns
  the short per-row products into one long product per block),
- ``dslab_i = W_r^T @ dy_i``, added back onto ``dx`` by ``rowslab_scatter``.

Applies to 2-D convolutions with one group and vertical dilation 1 (any
kernel, stride, horizontal dilation). Like Winograd, the batch is split
over two workers and walked in cache-sized chunks; scratch lives in
reusable workspaces.
"""

from __future__ import annotations

import numpy as np

from ..._geometry import window_output_size
from ...kernels import workers
from .._docs import ALGORITHM_GRADIENTS, gradient_of
from ...kernels.conv_rowslab import rowslab_columns, rowslab_expand, rowslab_scatter

__all__ = ["rowslab_applies", "rowslab_forward", "rowslab_backward", "rowslab_sample_bytes"]

# Scratch per worker chunk, as for Winograd (``winograd._CHUNK_BYTES``): one chunk's slabs stay in cache.
_CHUNK_BYTES = 4 * 2**20
# The backward's row blocks cover at least this many output pixels (see rowslab_backward).
_MIN_BLOCK_COLUMNS = 1024


def rowslab_applies(weight_shape, stride, dilation, groups) -> bool:
    """True for a 2-D convolution with one group and vertical dilation 1."""
    return len(weight_shape) == 4 and groups == 1 and dilation[0] == 1


def _chunk_budget() -> int:
    """Bytes for a worker's expanded input, and as many again for its row blocks (see rowslab_backward)."""
    return workers.chunk_budget(_CHUNK_BYTES, buffers=2)


def _min_rows(out_h, out_w) -> int:
    """The fewest output rows of a backward row block (see rowslab_backward)."""
    return min(out_h, -(-_MIN_BLOCK_COLUMNS // out_w))


def rowslab_sample_bytes(x_shape, weight_shape, stride, dilation, pad_width, itemsize) -> int:
    """Scratch of one sample in the backward pass (the larger): expanded input, shortest row block, dW.

    A worker's chunk holds at least one sample, so this per worker is the
    least memory the algorithm needs beyond its outputs and gradients.
    """
    rows, out_h, out_w = _geometry(x_shape, weight_shape, stride, dilation, pad_width)
    k, c, kh, kw = weight_shape
    span = kh * kw * c
    return (rows * kw * c * out_w + 2 * span * _min_rows(out_h, out_w) * out_w + span * k) * itemsize


def _slabs(expanded, out_h, kernel_h, stride_h):
    """The (n, H_out, kH * kW * C, W_out) stack of slabs: overlapping views into ``expanded``."""
    n, rows, kw, c, out_w = expanded.shape
    item = expanded.itemsize
    row_bytes = kw * c * out_w * item  # one row h of E
    return np.lib.stride_tricks.as_strided(
        expanded,
        shape=(n, out_h, kernel_h * kw * c, out_w),
        strides=(rows * row_bytes, stride_h * row_bytes, out_w * item, item),
        writeable=False,
    )


def _geometry(x_shape, weight_shape, stride, dilation, pad_width):
    """Padded height used, output height and width."""
    kh, kw = weight_shape[2:]
    out_h = window_output_size(x_shape[2], kh, stride[0], pad_width[0])  # vertical dilation is 1 here
    out_w = window_output_size(x_shape[3], kw, stride[1], pad_width[1], dilation[1])
    rows = (out_h - 1) * stride[0] + kh  # rows of the padded input any window touches
    return rows, out_h, out_w


def rowslab_forward(x, weight, bias, stride, dilation, pad_width):
    """Convolution with zero padding by row-slab matrix products.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), not padded
    weight : ndarray, shape (K, C, kH, kW), in ``x``'s dtype
    bias : ndarray, shape (K,), or None
    stride, dilation : (int, int); ``dilation[0]`` must be 1
    pad_width : ((top, bottom), (left, right)), zero padding applied on the fly

    Returns
    -------
    out : ndarray, shape (N, K, H_out, W_out)
    state : tuple, for ``rowslab_backward``
    """
    x = np.ascontiguousarray(x)
    n, c = x.shape[:2]
    k, _, kh, kw = weight.shape
    rows, out_h, out_w = _geometry(x.shape, weight.shape, stride, dilation, pad_width)
    (top, _), (left, _) = pad_width
    w_rows = np.ascontiguousarray(weight.transpose(0, 2, 3, 1)).reshape(k, kh * kw * c)  # W_r, (K, (p, q, c))
    out = np.empty((n, k, out_h, out_w), dtype=x.dtype)
    per_sample = rows * kw * c * out_w * x.itemsize

    def part(start, stop):
        for first, last in workers.chunk_ranges(start, stop, per_sample, _chunk_budget()):
            expanded = workers.workspace("rowslab.expanded", (last - first, rows, kw, c, out_w), x.dtype)
            rowslab_expand(x, first, top, left, stride[1], dilation[1], expanded)
            # (K, kH*kW*C) @ (n, H_out, kH*kW*C, W_out) -> (n, H_out, K, W_out), written straight into out.
            np.matmul(w_rows, _slabs(expanded, out_h, kh, stride[0]), out=out[first:last].transpose(0, 2, 1, 3))
            if bias is not None:
                out[first:last] += bias[:, np.newaxis, np.newaxis]

    workers.run_parts(part, workers.batch_parts(n, 2 * n * k * kh * kw * c * out_h * out_w))
    return out, (x, weight, stride, dilation, pad_width)


@gradient_of("rowslab_forward", "tuple", dout="shape (N, K, H_out, W_out)", returns=ALGORITHM_GRADIENTS)
def rowslab_backward(dout, state):
    """Gradients of ``rowslab_forward``."""
    x, weight, stride, dilation, pad_width = state
    n, c = x.shape[:2]
    k, _, kh, kw = weight.shape
    rows, out_h, out_w = _geometry(x.shape, weight.shape, stride, dilation, pad_width)
    (top, _), (left, _) = pad_width
    span = kh * kw * c
    w_rows_t = np.ascontiguousarray(weight.transpose(0, 2, 3, 1)).reshape(k, span).T  # W_r^T, (span, K)
    dx = np.zeros(x.shape, dtype=x.dtype)
    # Scratch per sample: the expanded input, or the columns and slab gradients of the shortest row
    # block below (2 * span * W_out per row), whichever is larger. Counting only the expanded input
    # let a chunk hold far more samples than its block scratch fits: on LeNet-5's first layer at
    # batch 256 that scratch grew to 36 MB, and the backward pass took 6.6x its time at batch 64.
    min_rows = _min_rows(out_h, out_w)
    per_sample = max(rows * kw * c, 2 * span * min_rows) * out_w * x.itemsize

    def part(start, stop):
        d_rows_t = np.zeros((span, k), dtype=x.dtype)  # this part's dW_r^T
        for first, last in workers.chunk_ranges(start, stop, per_sample, _chunk_budget()):
            count = last - first
            expanded = workers.workspace("rowslab.expanded", (count, rows, kw, c, out_w), x.dtype)
            rowslab_expand(x, first, top, left, stride[1], dilation[1], expanded)
            # The rest runs over blocks of output rows, so that its scratch (columns and slab
            # gradients, each span * W_out per row and sample) stays within the chunk budget even for
            # large images; but never so short that the dW product sums fewer than _MIN_BLOCK_COLUMNS
            # terms (short products are slow in BLAS). Smaller, L2-sized blocks measured slower on W3.
            row_bytes = 2 * count * span * out_w * x.itemsize
            # (A worker has twice the chunk budget: what its expanded input leaves, at most one budget.)
            block_budget = min(_chunk_budget(), 2 * _chunk_budget() - expanded.nbytes)
            block = max(-(-_MIN_BLOCK_COLUMNS // out_w), block_budget // row_bytes)
            for i0 in range(0, out_h, block):
                i1 = min(out_h, i0 + block)
                rb = i1 - i0
                dy_block = dout[first:last, :, i0:i1]  # (n, K, rb, W_out)
                # dW_r^T += sum over rows of slab_i @ dy_i^T. Done per row, the products would sum
                # over only W_out terms (slow for BLAS), so the block's slabs are first copied side
                # by side into im2col's columns (span, rb * W_out): one long product per sample.
                # (rowslab_columns is that copy of the ``_slabs`` views, in numba: NumPy's copy of
                # those short rows took up to 1.6x as long.)
                # (In this orientation, (span, K) rather than (K, span), OpenBLAS ran it 1.4x faster.)
                cols = workers.workspace("rowslab.cols", (count, span, rb, out_w), x.dtype)
                rowslab_columns(expanded, i0, stride[0], cols)
                sample_grads = workers.workspace("rowslab.dweight", (count, span, k), x.dtype)
                np.matmul(cols.reshape(count, span, rb * out_w),
                          dy_block.reshape(count, k, rb * out_w).swapaxes(1, 2), out=sample_grads)
                d_rows_t += sample_grads.sum(axis=0)
                # dslab_i = W_r^T @ dy_i, scattered back onto dx
                d_slabs = workers.workspace("rowslab.dslabs", (count, rb, span, out_w), x.dtype)
                np.matmul(w_rows_t, dy_block.transpose(0, 2, 1, 3), out=d_slabs)
                rowslab_scatter(d_slabs.reshape(count, rb, kh, kw, c, out_w), first, i0, top, left, stride[0],
                                stride[1], dilation[1], dx)
        return d_rows_t

    partial = workers.run_parts(part, workers.batch_parts(n, 4 * n * k * span * out_h * out_w))
    d_rows_t = partial[0]
    for more in partial[1:]:  # in part order: the same sum every run
        d_rows_t = d_rows_t + more
    # (span, K) with span ordered (p, q, c) -> (K, C, kH, kW)
    return dx, np.ascontiguousarray(d_rows_t.reshape(kh, kw, c, k).transpose(3, 2, 0, 1))
