"""Winograd F(2x2, 3x3): a 3 x 3, stride-1 convolution with 2.25x fewer multiplications.

Read ``numconv.functional.im2col`` first: this is the same convolution,
computed another way. For one input channel ``c``, one output channel ``k``
and one 4 x 4 input tile ``d``, the 2 x 2 block of output it produces is::

    Y = A^T [(G w G^T) * (B^T d B)] A          (* elementwise, 4 x 4)

with the constant matrices below (``G`` 4 x 3, ``B^T`` 4 x 4, ``A^T`` 2 x 4).
Summing over ``c`` moves inside the brackets, so for each of the 16 positions
``t`` of the 4 x 4 "Winograd domain" the sum over channels is a matrix
product: ``M[t] = U[t] @ V[t]``, ``U[t]`` (K, C) the transformed filters and
``V[t]`` (C, tiles) the transformed input tiles. 16 products of 16 multiply-
adds per 4 output pixels, instead of 36 per 4 directly (im2col): 2.25x fewer.

The backward pass reuses the same pieces:

- ``dx`` is a convolution of ``dy`` with the filters rotated by 180 degrees
  and with input and output channels swapped (a "full" correlation), so it
  runs through the forward machinery.
- ``dW``: ``<dY, A^T (U * V) A> = <G^T [(A dY A^T) * V] G, w>``, so the
  Winograd-domain weight gradient is ``dU[t] = sum over tiles (A dY A^T)[t] @ V[t]^T``,
  16 more matrix products, and ``dW = G^T dU G``.

The batch is split over the workers of ``numconv.kernels.workers`` and each
worker walks its samples in small chunks whose tiles fit in cache; tiles live
in reusable workspaces and are recomputed in backward, so memory stays
bounded (the cache holds only the input and the weight).

float32 rounding: the transforms add at most 4 x 4 terms with coefficients
0, +-1/2, +-1, so the error grows by a small constant factor over direct
convolution; the tests hold it to the same 1e-4 relative tolerance.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ...kernels import workers
from .._docs import ALGORITHM_GRADIENTS, gradient_of
from ...kernels.winograd import winograd_grad_tiles, winograd_input_tiles, winograd_output_tiles

__all__ = ["winograd_applies", "winograd_forward", "winograd_backward", "winograd_sample_bytes", "Variant", "F2"]

# The F(2x2, 3x3) matrices (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015).
G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])  # filter, 4 x 3
BT = np.array([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 1.0, 0.0], [0.0, -1.0, 1.0, 0.0], [0.0, 1.0, 0.0, -1.0]])  # input
AT = np.array([[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]])  # output, 2 x 4
_G_KRON = np.kron(G, G)  # (16, 9): row 4a + b, column 3p + q holds G[a, p] * G[b, q]


class Variant(NamedTuple):
    """One Winograd algorithm F(m x m, 3 x 3): ``m x m`` output pixels from an ``(m + 2) x (m + 2)`` tile.

    This module's F(2 x 2, 3 x 3) is ``F2``; ``numconv.functional.fast.winograd4``
    defines F(4 x 4, 3 x 3) with the same driver (the functions below).

    Attributes
    ----------
    m : int
        Output pixels per tile side (tiles overlap by 2 input pixels).
    g_kron : ndarray, shape ((m + 2)**2, 9)
        ``kron(G, G)``: the filter transform of a flattened 3 x 3 filter.
    input_tiles, output_tiles, grad_tiles : callables
        The tile-transform kernels, with the signatures of
        ``numconv.kernels.winograd``'s.
    """

    m: int
    g_kron: np.ndarray
    input_tiles: Callable
    output_tiles: Callable
    grad_tiles: Callable

    @property
    def positions(self) -> int:
        """Positions in a transformed tile, ``(m + 2)**2``: one matrix product each."""
        return (self.m + 2) ** 2


F2 = Variant(2, _G_KRON, winograd_input_tiles, winograd_output_tiles, winograd_grad_tiles)

# Scratch per worker chunk: small enough for one chunk's tiles to stay in cache, and it bounds the
# memory the workers hold. (~3-4 MB is the block size the prototype study found best for slabs; not
# tuned further. A layer whose single sample needs more still runs one sample per chunk.)
_CHUNK_BYTES = 4 * 2**20


def winograd_applies(weight_shape, stride, dilation, groups) -> bool:
    """True for a 2-D 3 x 3 convolution with stride 1, dilation 1 and one group."""
    return (len(weight_shape) == 4 and tuple(weight_shape[2:]) == (3, 3) and tuple(stride) == (1, 1)
            and tuple(dilation) == (1, 1) and groups == 1)


def winograd_sample_bytes(x_shape, weight_shape, stride, dilation, pad_width, itemsize, variant=F2) -> int:
    """Scratch of one sample in the backward pass (the larger): its forward and input-gradient tiles.

    A worker's chunk holds at least one sample, so this per worker is the
    least memory the algorithm needs beyond its outputs and gradients.
    """
    (top, bottom), (left, right) = pad_width
    out_hw = (x_shape[2] + top + bottom - 2, x_shape[3] + left + right - 2)
    out_th, out_tw = _tiles_hw(out_hw, variant.m)
    in_th, in_tw = _tiles_hw(x_shape[2:], variant.m)
    return variant.positions * (x_shape[1] + weight_shape[0]) * (out_th * out_tw + in_th * in_tw) * itemsize


# ---------------------------------------------------------------------------------------------- filter transforms
def transform_filters(weight, variant=F2):
    """``U[t] = (G w G^T)`` for every filter, tile position first.

    Parameters
    ----------
    weight : ndarray, shape (K, C, 3, 3)

    Returns
    -------
    U : ndarray, shape (16, K, C), C-contiguous, in ``weight``'s dtype
        (``(variant.positions, K, C)`` for another variant)

    Notes
    -----
    Equals ``np.einsum("ap,kcpq,bq->abkc", G, weight, G).reshape(16, K, C)``,
    computed as one matrix product: ``G w G^T`` of a 3 x 3 filter, flattened,
    is ``kron(G, G) @ w.ravel()``, and every filter shares ``kron(G, G)``
    (16 x 9). NumPy's three-operand einsum took 0.9 ms for 64 x 64 filters,
    the product 0.05 ms (one thread).
    """
    k, c = weight.shape[:2]
    g2 = variant.g_kron.astype(weight.dtype)
    with workers.blas_threads_limited(1):  # a tiny product: a second BLAS thread would only spin
        return np.matmul(g2, weight.reshape(k * c, 9).T).reshape(variant.positions, k, c)


def filter_gradient(d_u, variant=F2):
    """Back from the Winograd domain: ``dW = G^T dU G`` for every filter.

    Parameters
    ----------
    d_u : ndarray, shape (16, K, C)

    Returns
    -------
    dweight : ndarray, shape (K, C, 3, 3)

    Notes
    -----
    Equals ``np.einsum("ap,abkc,bq->kcpq", G, dU.reshape(4, 4, K, C), G)``,
    computed as one product with ``kron(G, G)^T`` (see ``transform_filters``).
    """
    k, c = d_u.shape[1:]
    g2 = variant.g_kron.astype(d_u.dtype)
    with workers.blas_threads_limited(1):
        return np.matmul(d_u.reshape(variant.positions, k * c).T, g2).reshape(k, c, 3, 3)


# ---------------------------------------------------------------------------------------------- tile transforms (NumPy)
# The readable versions of the numba kernels in numconv.kernels.winograd (the tests hold the kernels to these).
def input_tiles_numpy(src, first, count, origin, tiles_hw, bt=BT):
    """``V = B^T d B`` for every 4 x 4 tile ``d`` (stride 2) of ``src[first:first + count]``.

    Parameters
    ----------
    src : ndarray, shape (N, C, H, W)
    first, count : int
    origin : (int, int)
        Where tile (0, 0) starts in ``src`` (negative: zero padding).
    tiles_hw : (int, int)
        (TH, TW), the number of tiles down and across.
    bt : ndarray, shape (m + 2, m + 2)
        ``B^T``: F(2x2, 3x3)'s, or another variant's (tiles of m + 2 at stride m).

    Returns
    -------
    V : ndarray, shape (16, C, count, TH, TW)
    """
    (oh, ow), (th, tw) = origin, tiles_hw
    size = bt.shape[0]
    m = size - 2
    part = src[first:first + count]
    rows, cols = m * th + 2, m * tw + 2
    padded = np.zeros(part.shape[:2] + (rows, cols), dtype=src.dtype)
    r0, q0 = max(0, -oh), max(0, -ow)
    r1, q1 = max(r0, min(rows, src.shape[2] - oh)), max(q0, min(cols, src.shape[3] - ow))
    padded[:, :, r0:r1, q0:q1] = part[:, :, r0 + oh:r1 + oh, q0 + ow:q1 + ow]
    d = np.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(2, 3))[:, :, ::m, ::m]  # (n, C, TH, TW, 4, 4)
    bt = bt.astype(src.dtype)
    v = np.einsum("ar,ncstrq,bq->abcnst", bt, d, bt)
    return v.reshape(size * size, *v.shape[2:])


def output_tiles_numpy(products, bias, out_hw, at=AT):
    """``Y = A^T M A (+ bias)`` for every tile, cropped to ``out_hw``.

    Parameters
    ----------
    products : ndarray, shape (16, K, n, TH, TW)
    bias : ndarray, shape (K,)
    out_hw : (int, int)
    at : ndarray, shape (m, m + 2)
        ``A^T``: F(2x2, 3x3)'s, or another variant's.

    Returns
    -------
    out : ndarray, shape (n, K, H_out, W_out)
    """
    k, n, th, tw = products.shape[1:]
    m, size = at.shape
    at = at.astype(products.dtype)
    y = np.einsum("ia,abkmst,jb->kmsitj", at, products.reshape(size, size, k, n, th, tw), at)
    y = y.reshape(k, n, m * th, m * tw)[:, :, :out_hw[0], :out_hw[1]]
    return y.swapaxes(0, 1) + bias[:, np.newaxis, np.newaxis]


def grad_tiles_numpy(grad, first, count, tiles_hw, at=AT):
    """``A g A^T`` for every 2 x 2 block ``g`` of ``grad[first:first + count]`` (zeros past the edge).

    Parameters
    ----------
    grad : ndarray, shape (N, K, H_out, W_out)
    first, count : int
    tiles_hw : (int, int)
    at : ndarray, shape (m, m + 2)
        ``A^T``: F(2x2, 3x3)'s (blocks of 2 x 2), or another variant's (m x m).

    Returns
    -------
    tiles : ndarray, shape (16, K, count, TH, TW)
    """
    th, tw = tiles_hw
    m, size = at.shape
    part = grad[first:first + count]
    padded = np.zeros(part.shape[:2] + (m * th, m * tw), dtype=grad.dtype)
    padded[:, :, :part.shape[2], :part.shape[3]] = part
    g = padded.reshape(*part.shape[:2], th, m, tw, m)
    a = at.T.astype(grad.dtype)
    t = np.einsum("ai,nksitj,bj->abknst", a, g, a)
    return t.reshape(size * size, *t.shape[2:])


# ---------------------------------------------------------------------------------------------- forward and backward
def _tiles_hw(out_hw, m=2):
    """Tiles needed to cover an output of ``out_hw``: one per m x m block, rounding up."""
    return (out_hw[0] + m - 1) // m, (out_hw[1] + m - 1) // m


def _convolve(src, u, bias, origin, out, variant=F2):
    """``out = conv(src, w) + bias`` through the Winograd domain, the batch split over the workers.

    Parameters
    ----------
    src : ndarray, shape (N, C, H, W), C-contiguous
    u : ndarray, shape (16, K, C), the transformed filters (``transform_filters``)
    bias : ndarray, shape (K,)
    origin : (int, int)
        ``out[n, k, i, j] = bias[k] + sum over c, p, q of``
        ``src[n, c, origin_h + i + p, origin_w + j + q] * w[k, c, p, q]``,
        reading zeros outside ``src``.
    out : ndarray, shape (N, K, H_out, W_out), written in place
    variant : Variant
        F(2 x 2, 3 x 3) (``F2``, 16 tile positions) or another (``u`` then has
        ``variant.positions`` rows).
    """
    n, c = src.shape[:2]
    k = u.shape[1]
    m, positions = variant.m, variant.positions
    th, tw = _tiles_hw(out.shape[2:], m)
    per_sample = positions * (c + k) * th * tw * src.itemsize  # input tiles + products

    def part(start, stop):
        plane = workers.workspace("winograd.plane", (m * th + 2, m * tw + 2), src.dtype)
        rows = workers.workspace("winograd.rows", (m + 2, m * tw + 2), src.dtype)
        chunks = workers.chunk_ranges(start, stop, per_sample, workers.chunk_budget(_CHUNK_BYTES))
        most = max(last - first for first, last in chunks) * th * tw
        space = workers.Scratch("winograd", src.dtype, tiles=positions * c * most, products=positions * k * most)
        for first, last in chunks:
            count = last - first
            tiles = space.get("tiles", (positions, c, count, th, tw))
            products = space.get("products", (positions, k, count * th * tw))
            variant.input_tiles(src, first, origin[0], origin[1], plane, rows, tiles)
            np.matmul(u, tiles.reshape(positions, c, count * th * tw), out=products)
            variant.output_tiles(products.reshape(positions, k, count, th, tw), bias, first, out)

    flops = 2 * n * k * c * 9 * out.shape[2] * out.shape[3]  # of the direct convolution
    workers.run_parts(part, workers.batch_parts(n, flops))
    return out


def winograd_forward(x, weight, bias, pad_width, variant=F2):
    """Valid-plus-zero-padding 3 x 3 convolution by Winograd F(2x2, 3x3) (or another ``variant``).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), not padded
    weight : ndarray, shape (K, C, 3, 3), in ``x``'s dtype
    bias : ndarray, shape (K,), or None
    pad_width : ((top, bottom), (left, right))
        Zero padding, applied on the fly (no padded copy of ``x`` is made).
    variant : Variant
        ``F2`` (this module's) or ``numconv.functional.fast.winograd4.F4``.

    Returns
    -------
    out : ndarray, shape (N, K, H_out, W_out), ``H_out = H + top + bottom - 2``
    state : tuple
        ``x``, the weight, the padding and the variant, for ``winograd_backward``.
    """
    x = np.ascontiguousarray(x)
    (top, bottom), (left, right) = pad_width
    out_hw = (x.shape[2] + top + bottom - 2, x.shape[3] + left + right - 2)
    out = np.empty((x.shape[0], weight.shape[0], *out_hw), dtype=x.dtype)
    bias = np.zeros(weight.shape[0], dtype=x.dtype) if bias is None else bias
    _convolve(x, transform_filters(weight, variant), bias, (-top, -left), out, variant)
    return out, (x, weight, pad_width, variant)


@gradient_of("winograd_forward", "tuple", dout="shape (N, K, H_out, W_out)", returns=ALGORITHM_GRADIENTS)
def winograd_backward(dout, state):
    """Gradients of ``winograd_forward``."""
    x, weight, ((top, _), (left, _)), variant = state
    dout = np.ascontiguousarray(dout)
    n, c = x.shape[:2]
    k = weight.shape[0]
    m, positions = variant.m, variant.positions
    out_th, out_tw = _tiles_hw(dout.shape[2:], m)  # the forward's tiles (for dW)
    in_th, in_tw = _tiles_hw(x.shape[2:], m)  # dx's tiles
    # dx[i, j] = sum over k, p, q of dout[k, i + top - 2 + p, j + left - 2 + q] * w[k, c, 2 - p, 2 - q]:
    # a convolution of dout with the rotated, transposed filters, starting at (top - 2, left - 2).
    u_flipped = transform_filters(np.ascontiguousarray(weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]), variant)
    no_bias = np.zeros(c, dtype=x.dtype)
    dx = np.empty(x.shape, dtype=x.dtype)
    per_sample = positions * (c + k) * (out_th * out_tw + in_th * in_tw) * x.itemsize

    def part(start, stop):
        x_plane = workers.workspace("winograd.plane", (m * out_th + 2, m * out_tw + 2), x.dtype)
        d_plane = workers.workspace("winograd.dplane", (m * in_th + 2, m * in_tw + 2), x.dtype)
        g_plane = workers.workspace("winograd.gplane", (m * out_th, m * out_tw), x.dtype)
        rows = workers.workspace("winograd.rows", (m + 2, m * max(out_tw, in_tw) + 2), x.dtype)
        d_u = np.zeros((positions, k, c), dtype=x.dtype)  # this part's weight gradient, Winograd domain
        chunks = workers.chunk_ranges(start, stop, per_sample, workers.chunk_budget(_CHUNK_BYTES))
        most = max(last - first for first, last in chunks)
        out_tiles, in_tiles = most * out_th * out_tw, most * in_th * in_tw
        space = workers.Scratch("winograd", x.dtype, tiles=positions * c * out_tiles, gtiles=positions * k * out_tiles,
                                dtiles=positions * k * in_tiles, products=positions * c * in_tiles)
        for first, last in chunks:
            count, tiles = last - first, out_th * out_tw
            # dW: dU[t] += (A dY A^T)[t] @ V[t]^T, V the forward's input tiles (recomputed, not kept).
            x_tiles = space.get("tiles", (positions, c, count, out_th, out_tw))
            g_tiles = space.get("gtiles", (positions, k, count, out_th, out_tw))
            variant.input_tiles(x, first, -top, -left, x_plane, rows, x_tiles)
            variant.grad_tiles(dout, first, g_plane, rows, g_tiles)
            d_u += np.matmul(g_tiles.reshape(positions, k, count * tiles),
                             x_tiles.reshape(positions, c, count * tiles).swapaxes(1, 2))
            # dx: the forward machinery on dY.
            tiles = in_th * in_tw
            d_tiles = space.get("dtiles", (positions, k, count, in_th, in_tw))
            products = space.get("products", (positions, c, count * tiles))
            variant.input_tiles(dout, first, top - 2, left - 2, d_plane, rows, d_tiles)
            np.matmul(u_flipped, d_tiles.reshape(positions, k, count * tiles), out=products)
            variant.output_tiles(products.reshape(positions, c, count, in_th, in_tw), no_bias, first, dx)
        return d_u

    flops = 4 * n * k * c * 9 * dout.shape[2] * dout.shape[3]  # dx and dW, of the direct convolution
    partial = workers.run_parts(part, workers.batch_parts(n, flops))
    d_u = partial[0]
    for more in partial[1:]:  # in part order: the same sum every run
        d_u = d_u + more
    return dx, filter_gradient(d_u, variant).astype(x.dtype, copy=False)
