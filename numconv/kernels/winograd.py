"""numba kernels for Winograd F(2x2, 3x3) convolution: the tile transforms.

Winograd's minimal filtering computes a 2 x 2 block of a 3 x 3 convolution's
output from a 4 x 4 block of input with 16 multiplications instead of 36::

    Y = A^T [(G g G^T) * (B^T d B)] A        (* elementwise)

for a 3 x 3 filter ``g`` and a 4 x 4 input tile ``d``. Summed over input
channels, the 16 elementwise products become 16 independent matrix products
(one per tile position ``(i, j)``), which is where the time goes; these
kernels do the cheap parts around them:

- ``winograd_input_tiles``: ``V = B^T d B`` for every 4 x 4 input tile,
- ``winograd_output_tiles``: ``Y = A^T M A`` for every tile, plus the bias,
- ``winograd_grad_tiles``: ``A dY A^T``, the transform of a 2 x 2 block of the
  output's gradient that the weight gradient needs.

Tiles are laid out ``(16, C, n, TH, TW)``: tile position ``4*i + j`` first, so
``V[t]`` is a (C, n*TH*TW) matrix ready for the matrix product. Tile
``(ti, tj)`` covers output rows ``2*ti, 2*ti + 1`` and columns ``2*tj, 2*tj + 1``.
The NumPy versions of all three transforms are ``numconv.functional.fast.winograd``'s
``*_numpy`` functions; the tests hold these kernels to them.
"""

from __future__ import annotations

import numpy as np

from ._jit import lazy_njit

__all__ = ["winograd_input_tiles", "winograd_output_tiles", "winograd_grad_tiles"]


@lazy_njit
def winograd_input_tiles(src, first, origin_h, origin_w, plane, rows, tiles):  # pragma: no cover - numba
    """Transform 4 x 4 input tiles: ``tiles[:, c, m, ti, tj] = (B^T d B).ravel()``.

    Parameters
    ----------
    src : ndarray, shape (N, C, H, W), C-contiguous
    first : int
        The first sample to transform (``tiles`` holds ``n`` of them).
    origin_h, origin_w : int
        Where tile (0, 0) starts in ``src``; negative values read zeros
        above / left of the image (implicit zero padding).
    plane : ndarray, shape (2*TH + 2, 2*TW + 2)
        Scratch for one zero-padded image plane (allocated by NumPy).
    rows : ndarray, shape (4, 2*TW + 2)
        Scratch for ``B^T d`` of one row of tiles.
    tiles : ndarray, shape (16, C, n, TH, TW), C-contiguous
        Output.

    Notes
    -----
    Equals the NumPy expression::

        padded = zero-padded src[first:first + n] so that padded[..., r, q] == src[..., r + origin_h, q + origin_w]
        d = sliding 4 x 4 windows of padded at stride 2, shape (n, C, TH, TW, 4, 4)
        tiles = np.einsum("ar,ncstrq,bq->abcnst", BT, d, BT).reshape(16, C, n, TH, TW)

    with ``BT = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]``.
    Only additions and subtractions.

    One row of tiles at a time, ``B^T d`` (combine four image rows) for the
    whole row first, then ``. B`` (combine columns) writing runs of ``TW``
    consecutive values into each of the 16 outputs: writing tile by tile
    into 16 outputs a multiple of 4 KiB apart thrashed the cache (5x slower).
    """
    channels, height, width = src.shape[1], src.shape[2], src.shape[3]
    count, tiles_h, tiles_w = tiles.shape[2], tiles.shape[3], tiles.shape[4]
    plane_h, plane_w = plane.shape[0], plane.shape[1]
    # The part of the plane that comes from src (the rest stays zero).
    r0, q0 = max(0, -origin_h), max(0, -origin_w)
    r1, q1 = max(r0, min(plane_h, height - origin_h)), max(q0, min(plane_w, width - origin_w))
    for m in range(count):
        for c in range(channels):
            plane[:, :] = 0.0
            plane[r0:r1, q0:q1] = src[first + m, c, r0 + origin_h:r1 + origin_h, q0 + origin_w:q1 + origin_w]
            for ti in range(tiles_h):
                d0, d1, d2, d3 = plane[2 * ti], plane[2 * ti + 1], plane[2 * ti + 2], plane[2 * ti + 3]
                for q in range(plane_w):  # rows = B^T d
                    rows[0, q] = d0[q] - d2[q]
                    rows[1, q] = d1[q] + d2[q]
                    rows[2, q] = d2[q] - d1[q]
                    rows[3, q] = d1[q] - d3[q]
                for i in range(4):  # tiles = rows B, four outputs per row of B^T d
                    t = rows[i]
                    v0, v1 = tiles[4 * i, c, m, ti], tiles[4 * i + 1, c, m, ti]
                    v2, v3 = tiles[4 * i + 2, c, m, ti], tiles[4 * i + 3, c, m, ti]
                    for tj in range(tiles_w):
                        q = 2 * tj
                        v0[tj] = t[q] - t[q + 2]
                        v1[tj] = t[q + 1] + t[q + 2]
                        v2[tj] = t[q + 2] - t[q + 1]
                        v3[tj] = t[q + 1] - t[q + 3]
    return tiles


@lazy_njit
def winograd_output_tiles(products, bias, first, out):  # pragma: no cover - compiled by numba
    """Transform back and crop: ``out[first + m, k, 2ti:2ti+2, 2tj:2tj+2] = A^T M A + bias[k]``.

    Parameters
    ----------
    products : ndarray, shape (16, K, n, TH, TW)
        ``M``, the 16 matrix products, tile position first.
    bias : ndarray, shape (K,)
        Added to every output (pass zeros for none).
    first : int
        The sample ``products[:, :, 0]`` belongs to.
    out : ndarray, shape (N, K, H_out, W_out)
        Written for samples ``first .. first + n - 1``; a tile's rows / columns
        past ``H_out`` / ``W_out`` are dropped.

    Notes
    -----
    Equals the NumPy expression::

        y = np.einsum("ia,abkmst,jb->kmsitj", AT, products.reshape(4, 4, K, n, TH, TW), AT)
        y = y.reshape(K, n, 2 * TH, 2 * TW)[:, :, :H_out, :W_out]
        out[first:first + n] = y.swapaxes(0, 1) + bias[:, None, None]

    with ``AT = [[1, 1, 1, 0], [0, 1, -1, -1]]``.
    """
    kernels, count, tiles_h, tiles_w = products.shape[1], products.shape[2], products.shape[3], products.shape[4]
    out_h, out_w = out.shape[2], out.shape[3]
    for m in range(count):
        for k in range(kernels):
            b = bias[k]
            for ti in range(tiles_h):
                row = 2 * ti
                for tj in range(tiles_w):
                    col = 2 * tj
                    p = products[:, k, m, ti, tj]
                    # s = A^T M (rows 0 and 1), one column at a time
                    s00 = p[0] + p[4] + p[8]
                    s01 = p[1] + p[5] + p[9]
                    s02 = p[2] + p[6] + p[10]
                    s03 = p[3] + p[7] + p[11]
                    s10 = p[4] - p[8] - p[12]
                    s11 = p[5] - p[9] - p[13]
                    s12 = p[6] - p[10] - p[14]
                    s13 = p[7] - p[11] - p[15]
                    out[first + m, k, row, col] = s00 + s01 + s02 + b
                    if col + 1 < out_w:
                        out[first + m, k, row, col + 1] = s01 - s02 - s03 + b
                    if row + 1 < out_h:
                        out[first + m, k, row + 1, col] = s10 + s11 + s12 + b
                        if col + 1 < out_w:
                            out[first + m, k, row + 1, col + 1] = s11 - s12 - s13 + b
    return out


@lazy_njit
def winograd_grad_tiles(grad, first, plane, rows, tiles):  # pragma: no cover - compiled by numba
    """Transform 2 x 2 blocks of the output's gradient: ``tiles[:, k, m, ti, tj] = (A g A^T).ravel()``.

    Parameters
    ----------
    grad : ndarray, shape (N, K, H_out, W_out), C-contiguous
    first : int
        The first sample to transform.
    plane : ndarray, shape (2*TH, 2*TW)
        Scratch for one zero-padded plane of ``grad``.
    rows : ndarray, shape (4, 2*TW)
        Scratch for ``A g`` of one row of blocks.
    tiles : ndarray, shape (16, K, n, TH, TW), C-contiguous
        Output; ``g = grad[first + m, k, 2ti:2ti+2, 2tj:2tj+2]``, with zeros
        where the block runs past ``H_out`` or ``W_out``.

    Notes
    -----
    Equals the NumPy expression::

        g = zero-padded grad[first:first + n] reshaped to (n, K, TH, 2, TW, 2)
        tiles = np.einsum("ai,nksitj,bj->abkmst", A, g, A).reshape(16, K, n, TH, TW)

    with ``A = AT.T = [[1, 0], [1, 1], [1, -1], [0, -1]]``. The weight
    gradient is then ``G^T (sum over tiles of this * B^T d B) G``. Row by
    row, like ``winograd_input_tiles``.
    """
    kernels, out_h, out_w = grad.shape[1], grad.shape[2], grad.shape[3]
    count, tiles_h, tiles_w = tiles.shape[2], tiles.shape[3], tiles.shape[4]
    for m in range(count):
        for k in range(kernels):
            plane[:, :] = 0.0
            plane[:out_h, :out_w] = grad[first + m, k]
            for ti in range(tiles_h):
                g0, g1 = plane[2 * ti], plane[2 * ti + 1]
                for q in range(2 * tiles_w):  # rows = A g
                    rows[0, q] = g0[q]
                    rows[1, q] = g0[q] + g1[q]
                    rows[2, q] = g0[q] - g1[q]
                    rows[3, q] = -g1[q]
                for i in range(4):  # tiles = rows A^T
                    u = rows[i]
                    v0, v1 = tiles[4 * i, k, m, ti], tiles[4 * i + 1, k, m, ti]
                    v2, v3 = tiles[4 * i + 2, k, m, ti], tiles[4 * i + 3, k, m, ti]
                    for tj in range(tiles_w):
                        q = 2 * tj
                        v0[tj] = u[q]
                        v1[tj] = u[q] + u[q + 1]
                        v2[tj] = u[q] - u[q + 1]
                        v3[tj] = -u[q + 1]
    return tiles
