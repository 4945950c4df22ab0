"""Winograd F(2x2, 3x3) computed channels-last: for small maps with many channels (ResNet's 7 x 7 stage).

Read ``numconv.functional.fast.winograd`` first: this is the same algorithm,
the same filter transforms and the same backward pass, on another memory
layout. There each channel's plane is transformed tile by tile, at a cost
per plane that a 7 x 7 map (16 tiles) does not pay back; im2col then ran
those layers, its products alone as slow as PyTorch's whole layer. Here the
samples of a chunk are transposed to channels-last first, so every tile
transform works on whole channel vectors (``numconv.kernels.winograd_cl``):

- the padded input chunk ``(n, rows, cols, C)``, tiles ``V`` ``(16, n*TH*TW, C)``;
- the 16 products ``M[t] = V[t] @ U[t]^T`` with ``U^T`` ``(16, C, K)``;
- the output transform writes ``(n, H_out, W_out, K)``, transposed back to
  ``(n, K, H_out, W_out)`` into the result.

The two transposes per pass cost a few per cent; in exchange the transforms
run 3x faster on 64 channels at 7 x 7. On larger maps the plane-by-plane
layout wins (its rows are long enough), and with fewer than 32 channels the
vectors are too short: ``auto`` runs this algorithm for outputs narrower
than 10 pixels with at least 32 channels (docs/performance.md, "How auto
chooses").

Backward, as in ``winograd``: ``dW = G^T [sum over tiles of (A dY A^T)[t]^T V[t]] G``
with the input tiles recomputed, and ``dx`` the forward machinery run on
``dY`` with the rotated, transposed filters.
"""

from __future__ import annotations

import numpy as np

from ...kernels import workers
from ...kernels.winograd_cl import winograd_cl_grad_tiles, winograd_cl_input_tiles, winograd_cl_output_tiles
from .._docs import ALGORITHM_GRADIENTS, gradient_of
from .winograd import _tiles_hw, filter_gradient, transform_filters

__all__ = ["winograd_cl_forward", "winograd_cl_backward", "winograd_cl_sample_bytes"]

# Scratch per worker chunk. 2 MiB timed best on 64 channels at 7 x 7, batch 64 (one and two workers,
# 0.25 to 8 MiB tried): 8.6 and 6.0 ms forward + backward, against 9.3 and 7.4 ms with 4 MiB.
_CHUNK_BYTES = 2 * 2**20


def winograd_cl_sample_bytes(x_shape, weight_shape, stride, dilation, pad_width, itemsize) -> int:
    """Scratch of one sample in the backward pass (the larger): padded copies, tiles, products, dx's rows."""
    (top, bottom), (left, right) = pad_width
    c, k = x_shape[1], weight_shape[0]
    out_hw = (x_shape[2] + top + bottom - 2, x_shape[3] + left + right - 2)
    out_th, out_tw = _tiles_hw(out_hw)
    in_th, in_tw = _tiles_hw(x_shape[2:])
    padded = (2 * out_th + 2) * (2 * out_tw + 2) * c + 4 * out_th * out_tw * k + (2 * in_th + 2) * (2 * in_tw + 2) * k
    tiles = 16 * out_th * out_tw * (c + k) + 16 * in_th * in_tw * (k + c)
    return (padded + tiles + x_shape[2] * x_shape[3] * c) * itemsize


def _channels_last(src, first, count, origin, rows_cols, buffer):
    """``buffer[:count]`` = samples ``first .. first + count - 1`` of ``src``, channels-last, placed so that
    ``buffer[m, r, q] == src[first + m, :, r + origin[0], q + origin[1]]``, zeros outside ``src``.

    Parameters
    ----------
    src : ndarray, shape (N, C, H, W)
    buffer : ndarray, shape (>= count, rows, cols, C)

    Returns
    -------
    ndarray, shape (count, rows, cols, C), a view of ``buffer``
    """
    (oh, ow), (rows, cols) = origin, rows_cols
    height, width = src.shape[2:]
    out = buffer[:count]
    r0, q0 = max(0, -oh), max(0, -ow)
    r1, q1 = min(rows, height - oh), min(cols, width - ow)
    if r1 <= r0 or q1 <= q0:
        out[...] = 0
        return out
    # Zero only the border the copy leaves: the copy itself writes the rest.
    out[:, :r0] = 0
    out[:, r1:] = 0
    out[:, r0:r1, :q0] = 0
    out[:, r0:r1, q1:] = 0
    out[:, r0:r1, q0:q1] = src[first:first + count, :, r0 + oh:r1 + oh, q0 + ow:q1 + ow].transpose(0, 2, 3, 1)
    return out


def _convolve(src, u_t, bias, origin, out):
    """``out = conv(src, w) + bias`` through the Winograd domain, channels-last, the batch split over the workers.

    Parameters
    ----------
    src : ndarray, shape (N, C, H, W)
    u_t : ndarray, shape (16, C, K)
        The transformed filters, transposed (``transform_filters(w).transpose(0, 2, 1)``).
    bias : ndarray, shape (K,)
    origin : (int, int)
        ``out[n, k, i, j] = bias[k] + sum over c, p, q of``
        ``src[n, c, origin_h + i + p, origin_w + j + q] * w[k, c, p, q]``, reading zeros outside ``src``.
    out : ndarray, shape (N, K, H_out, W_out), written in place
    """
    n, c = src.shape[:2]
    k = u_t.shape[2]
    out_h, out_w = out.shape[2:]
    th, tw = _tiles_hw((out_h, out_w))
    rows_cols = (2 * th + 2, 2 * tw + 2)
    per_sample = (rows_cols[0] * rows_cols[1] * c + 16 * th * tw * (c + k) + out_h * out_w * k) * src.itemsize

    def part(start, stop):
        rows = workers.workspace("winograd_cl.rows", (4, 4, c), src.dtype)
        sums = workers.workspace("winograd_cl.sums", (2, 4, k), src.dtype)
        chunks = workers.chunk_ranges(start, stop, per_sample, workers.chunk_budget(_CHUNK_BYTES))
        most = max(last - first for first, last in chunks)
        space = workers.Scratch("winograd_cl", src.dtype, padded=most * rows_cols[0] * rows_cols[1] * c,
                                tiles=most * 16 * th * tw * c, products=most * 16 * th * tw * k,
                                out=most * out_h * out_w * k)
        for first, last in chunks:
            count = last - first
            padded = space.get("padded", (count, *rows_cols, c))
            tiles = space.get("tiles", (16, count * th * tw, c))
            products = space.get("products", (16, count * th * tw, k))
            result = space.get("out", (count, out_h, out_w, k))
            winograd_cl_input_tiles(_channels_last(src, first, count, origin, rows_cols, padded), rows, tiles)
            np.matmul(tiles, u_t, out=products)
            winograd_cl_output_tiles(products, bias, sums, result)
            out[first:last] = result.transpose(0, 3, 1, 2)

    flops = 2 * n * k * c * 9 * out_h * out_w  # of the direct convolution
    workers.run_parts(part, workers.batch_parts(n, flops))
    return out


def winograd_cl_forward(x, weight, bias, pad_width):
    """Valid-plus-zero-padding 3 x 3 convolution by Winograd F(2x2, 3x3), channels-last inside.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), not padded
    weight : ndarray, shape (K, C, 3, 3), in ``x``'s dtype
    bias : ndarray, shape (K,), or None
    pad_width : ((top, bottom), (left, right))
        Zero padding, applied as each chunk is copied channels-last.

    Returns
    -------
    out : ndarray, shape (N, K, H_out, W_out), ``H_out = H + top + bottom - 2``
    state : tuple
        ``x``, the weight, the padding and None, for ``winograd_cl_backward``
        (the same four items as ``winograd_forward``'s state).
    """
    (top, bottom), (left, right) = pad_width
    out_hw = (x.shape[2] + top + bottom - 2, x.shape[3] + left + right - 2)
    out = np.empty((x.shape[0], weight.shape[0], *out_hw), dtype=x.dtype)
    bias = np.zeros(weight.shape[0], dtype=x.dtype) if bias is None else bias
    u_t = np.ascontiguousarray(transform_filters(weight).transpose(0, 2, 1))
    _convolve(x, u_t, bias, (-top, -left), out)
    return out, (x, weight, pad_width, None)


@gradient_of("winograd_cl_forward", "tuple", dout="shape (N, K, H_out, W_out)", returns=ALGORITHM_GRADIENTS)
def winograd_cl_backward(dout, state):
    """Gradients of ``winograd_cl_forward``."""
    x, weight, ((top, _), (left, _)), _ = state
    n, c = x.shape[:2]
    k = weight.shape[0]
    out_h, out_w = dout.shape[2:]
    th, tw = _tiles_hw((out_h, out_w))  # the forward's tiles (for dW)
    x_rows_cols = (2 * th + 2, 2 * tw + 2)
    per_sample = (x_rows_cols[0] * x_rows_cols[1] * c + 4 * th * tw * k + 16 * th * tw * (c + k)) * x.itemsize

    def part(start, stop):
        rows = workers.workspace("winograd_cl.rows", (4, 4, c), x.dtype)
        g_rows = workers.workspace("winograd_cl.grows", (4, 2, k), x.dtype)
        d_u = np.zeros((16, k, c), dtype=x.dtype)  # this part's weight gradient, Winograd domain
        chunks = workers.chunk_ranges(start, stop, per_sample, workers.chunk_budget(_CHUNK_BYTES))
        most = max(last - first for first, last in chunks)
        space = workers.Scratch("winograd_cl", x.dtype, padded=most * x_rows_cols[0] * x_rows_cols[1] * c,
                                tiles=most * 16 * th * tw * c, grad=most * 4 * th * tw * k,
                                gtiles=most * 16 * th * tw * k)
        for first, last in chunks:
            count = last - first
            padded = space.get("padded", (count, *x_rows_cols, c))
            x_tiles = space.get("tiles", (16, count * th * tw, c))
            grad = space.get("grad", (count, 2 * th, 2 * tw, k))
            g_tiles = space.get("gtiles", (16, count * th * tw, k))
            winograd_cl_input_tiles(_channels_last(x, first, count, (-top, -left), x_rows_cols, padded), rows,
                                    x_tiles)
            winograd_cl_grad_tiles(_channels_last(dout, first, count, (0, 0), (2 * th, 2 * tw), grad), g_rows,
                                   g_tiles)
            d_u += np.matmul(g_tiles.transpose(0, 2, 1), x_tiles)  # dU[t] += (A dY A^T)[t]^T V[t]
        return d_u

    flops = 2 * n * k * c * 9 * out_h * out_w
    partial = workers.run_parts(part, workers.batch_parts(n, flops))
    d_u = partial[0]
    for more in partial[1:]:  # in part order: the same sum every run
        d_u = d_u + more
    # dx[i, j] = sum over k, p, q of dout[k, i + top - 2 + p, j + left - 2 + q] * w[k, c, 2 - p, 2 - q]:
    # a convolution of dout with the rotated, transposed filters, starting at (top - 2, left - 2).
    flipped = np.ascontiguousarray(weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
    u_flipped_t = np.ascontiguousarray(transform_filters(flipped).transpose(0, 2, 1))
    dx = np.empty(x.shape, dtype=x.dtype)
    _convolve(np.ascontiguousarray(dout), u_flipped_t, np.zeros(c, dtype=x.dtype), (top - 2, left - 2), dx)
    return dx, filter_gradient(d_u).astype(x.dtype, copy=False)
