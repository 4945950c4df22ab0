"""numba kernels for Winograd F(4x4, 3x3) convolution: the tile transforms.

The larger sibling of ``numconv.kernels.winograd`` (read that first). A
6 x 6 input tile gives a 4 x 4 block of output::

    Y = A^T [(G g G^T) * (B^T d B)] A        (* elementwise, 6 x 6)

so a 3 x 3 convolution costs 36 multiplications per 16 output pixels, 4x
fewer than directly (F(2x2, 3x3): 2.25x), and the tiles hold 2.25 numbers
per output pixel instead of 4: less to write, to multiply and to read back.
The matrices use the points 0, 1, -1, 2, -2 and infinity (Lavin & Gray 2015)::

    B^T = [[4,  0, -5,  0, 1, 0],       A^T = [[1, 1,  1, 1,  1, 0],
           [0, -4, -4,  1, 1, 0],              [0, 1, -1, 2, -2, 0],
           [0,  4, -4, -1, 1, 0],              [0, 1,  1, 4,  4, 0],
           [0, -2, -1,  2, 1, 0],              [0, 1, -1, 8, -8, 1]]
           [0,  2, -1, -2, 1, 0],
           [0,  4,  0, -5, 0, 1]]

The kernels mirror the F(2x2) ones: tiles laid out ``(36, C, n, TH, TW)``
(tile position ``6*i + j`` first), one row of tiles at a time, the first
pass (``B^T d``) over a whole row of the image, the second writing runs of
``TW`` values into each of the 36 outputs. Every transform is written out
by hand, with the common sub-expressions shared: a generic loop over the
6 x 6 matrices ran 2x slower than F(2x2) did. The NumPy versions are
``numconv.functional.fast.winograd4``'s ``*_numpy`` functions.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit_helper, lazy_njit

__all__ = ["winograd4_input_tiles", "winograd4_output_tiles", "winograd4_grad_tiles"]


@jit_helper
def _constants(like):
    """2, 4, 5 and 8 in ``like``'s dtype: a float64 literal would turn float32 arithmetic into float64."""
    k = np.empty(4, dtype=like.dtype)
    k[0], k[1], k[2], k[3] = 2.0, 4.0, 5.0, 8.0
    return k[0], k[1], k[2], k[3]


@jit_helper
def _bt(d0, d1, d2, d3, d4, d5, two, four, five):
    """``B^T d`` of six numbers (a column or a row of a 6 x 6 tile)."""
    t1, t2 = d4 - four * d2, d3 - four * d1
    t3, t4 = d4 - d2, two * (d3 - d1)
    return four * d0 - five * d2 + d4, t1 + t2, t1 - t2, t3 + t4, t3 - t4, four * d1 - five * d3 + d5


@jit_helper
def _at(m0, m1, m2, m3, m4, m5, two, four, eight):
    """``A^T m`` of six numbers: four."""
    plus, minus = m1 + m2, m1 - m2
    plus2, minus2 = m3 + m4, m3 - m4
    return m0 + plus + plus2, minus + two * minus2, plus + four * plus2, minus + eight * minus2 + m5


@jit_helper
def _a(g0, g1, g2, g3, two, four, eight):
    """``A g`` of four numbers: six (``A = (A^T)^T``)."""
    even, odd = g0 + g2, g1 + g3
    even4, odd2 = g0 + four * g2, two * g1 + eight * g3
    return g0, even + odd, even - odd, even4 + odd2, even4 - odd2, g3


@lazy_njit
def winograd4_input_tiles(src, first, origin_h, origin_w, plane, rows, tiles):  # pragma: no cover - numba
    """Transform 6 x 6 input tiles (stride 4): ``tiles[:, c, m, ti, tj] = (B^T d B).ravel()``.

    The arguments of ``numconv.kernels.winograd.winograd_input_tiles``, for 6 x 6 tiles: ``plane``
    is (4*TH + 2, 4*TW + 2), ``rows`` (6, 4*TW + 2) and ``tiles`` (36, C, n, TH, TW).
    """
    channels, height, width = src.shape[1], src.shape[2], src.shape[3]
    count, tiles_h, tiles_w = tiles.shape[2], tiles.shape[3], tiles.shape[4]
    plane_h, plane_w = plane.shape[0], plane.shape[1]
    r0, q0 = max(0, -origin_h), max(0, -origin_w)
    r1, q1 = max(r0, min(plane_h, height - origin_h)), max(q0, min(plane_w, width - origin_w))
    two, four, five, eight = _constants(tiles)
    for m in range(count):
        for c in range(channels):
            plane[:, :] = 0.0
            plane[r0:r1, q0:q1] = src[first + m, c, r0 + origin_h:r1 + origin_h, q0 + origin_w:q1 + origin_w]
            for ti in range(tiles_h):
                top = 4 * ti
                for q in range(plane_w):  # rows = B^T d, a whole row of tiles at once
                    rows[0, q], rows[1, q], rows[2, q], rows[3, q], rows[4, q], rows[5, q] = _bt(
                        plane[top, q], plane[top + 1, q], plane[top + 2, q], plane[top + 3, q], plane[top + 4, q],
                        plane[top + 5, q], two, four, five)
                for i in range(6):  # tiles = rows B, six outputs per row of B^T d
                    t = rows[i]
                    v0, v1, v2 = tiles[6 * i, c, m, ti], tiles[6 * i + 1, c, m, ti], tiles[6 * i + 2, c, m, ti]
                    v3, v4, v5 = tiles[6 * i + 3, c, m, ti], tiles[6 * i + 4, c, m, ti], tiles[6 * i + 5, c, m, ti]
                    for tj in range(tiles_w):
                        q = 4 * tj
                        v0[tj], v1[tj], v2[tj], v3[tj], v4[tj], v5[tj] = _bt(t[q], t[q + 1], t[q + 2], t[q + 3],
                                                                             t[q + 4], t[q + 5], two, four, five)
    return tiles


@lazy_njit
def winograd4_output_tiles(products, bias, first, out):  # pragma: no cover - compiled by numba
    """Transform back and crop: ``out[first + m, k, 4ti:4ti+4, 4tj:4tj+4] = A^T M A + bias[k]``.

    The arguments of ``numconv.kernels.winograd.winograd_output_tiles``, with ``products``
    (36, K, n, TH, TW); a tile's rows / columns past ``H_out`` / ``W_out`` are dropped.
    """
    kernels, count, tiles_h, tiles_w = products.shape[1], products.shape[2], products.shape[3], products.shape[4]
    out_h, out_w = out.shape[2], out.shape[3]
    s = np.empty((4, 6), dtype=products.dtype)  # A^T M of one tile
    two, four, _, eight = _constants(products)
    for m in range(count):
        for k in range(kernels):
            b = bias[k]
            for ti in range(tiles_h):
                for tj in range(tiles_w):
                    p = products[:, k, m, ti, tj]
                    for col in range(6):
                        s[0, col], s[1, col], s[2, col], s[3, col] = _at(p[col], p[6 + col], p[12 + col],
                                                                         p[18 + col], p[24 + col], p[30 + col],
                                                                         two, four, eight)
                    for i in range(min(4, out_h - 4 * ti)):
                        y0, y1, y2, y3 = _at(s[i, 0], s[i, 1], s[i, 2], s[i, 3], s[i, 4], s[i, 5], two, four, eight)
                        row = out[first + m, k, 4 * ti + i]
                        col = 4 * tj
                        if col + 3 < out_w:
                            row[col], row[col + 1], row[col + 2], row[col + 3] = y0 + b, y1 + b, y2 + b, y3 + b
                        else:
                            ys = (y0, y1, y2, y3)
                            for j in range(out_w - col):
                                row[col + j] = ys[j] + b
    return out


@lazy_njit
def winograd4_grad_tiles(grad, first, plane, rows, tiles):  # pragma: no cover - compiled by numba
    """Transform 4 x 4 blocks of the output's gradient: ``tiles[:, k, m, ti, tj] = (A g A^T).ravel()``.

    The arguments of ``numconv.kernels.winograd.winograd_grad_tiles``, for 4 x 4 blocks: ``plane``
    is (4*TH, 4*TW), ``rows`` (6, 4*TW) and ``tiles`` (36, K, n, TH, TW); ``A = (A^T)^T`` is 6 x 4.
    """
    kernels, out_h, out_w = grad.shape[1], grad.shape[2], grad.shape[3]
    count, tiles_h, tiles_w = tiles.shape[2], tiles.shape[3], tiles.shape[4]
    two, four, _, eight = _constants(tiles)
    for m in range(count):
        for k in range(kernels):
            plane[:, :] = 0.0
            plane[:out_h, :out_w] = grad[first + m, k]
            for ti in range(tiles_h):
                top = 4 * ti
                for q in range(4 * tiles_w):  # rows = A g
                    rows[0, q], rows[1, q], rows[2, q], rows[3, q], rows[4, q], rows[5, q] = _a(
                        plane[top, q], plane[top + 1, q], plane[top + 2, q], plane[top + 3, q], two, four, eight)
                for i in range(6):  # tiles = rows A^T
                    u = rows[i]
                    v0, v1, v2 = tiles[6 * i, k, m, ti], tiles[6 * i + 1, k, m, ti], tiles[6 * i + 2, k, m, ti]
                    v3, v4, v5 = tiles[6 * i + 3, k, m, ti], tiles[6 * i + 4, k, m, ti], tiles[6 * i + 5, k, m, ti]
                    for tj in range(tiles_w):
                        q = 4 * tj
                        v0[tj], v1[tj], v2[tj], v3[tj], v4[tj], v5[tj] = _a(u[q], u[q + 1], u[q + 2], u[q + 3], two,
                                                                            four, eight)
    return tiles
