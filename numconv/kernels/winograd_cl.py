"""numba kernels for Winograd F(2x2, 3x3) computed channels-last: the tile transforms.

The same transforms as ``numconv.kernels.winograd`` (read it first), on
another memory layout. There a plane of one channel is walked tile by tile,
which costs the same per plane however few tiles it holds: on a 7 x 7 map
(16 tiles) that cost is most of the time. Here the channels are the last,
contiguous axis:

- the input arrives zero-padded and channels-last, ``(n, rows, cols, C)``;
- the tiles are laid out ``(16, n*TH*TW, C)``, so ``V[t]`` is a (tiles, C)
  matrix and the products are ``V[t] @ U[t]^T``;
- the output is written channels-last, ``(n, H_out, W_out, K)``.

Every transform then works on whole channel vectors: ``B^T d B`` of one tile
is 32 vector additions of length C. Each is its own short loop with two or
three input streams and one output: written as one loop over the channels
with all 16 inputs and 16 outputs, LLVM cannot prove the 32 streams apart and
leaves it scalar (measured 3-6x slower than these loops). Tile ``t`` is tile
``(m, ti, tj)`` with ``t = (m*TH + ti)*TW + tj``; it covers output rows
``2ti, 2ti + 1`` and columns ``2tj, 2tj + 1``.

The NumPy versions are ``numconv.functional.fast.winograd``'s ``*_numpy``
functions with the axes moved (the tests hold these kernels to them).
"""

from __future__ import annotations

from ._jit import jit_helper, lazy_njit

__all__ = ["winograd_cl_input_tiles", "winograd_cl_output_tiles", "winograd_cl_grad_tiles"]


@jit_helper
def _sum(out, a, b):  # pragma: no cover - compiled by numba (inlined)
    """``out[:] = a + b`` over the channels: one short loop of three streams, which LLVM vectorises."""
    for c in range(out.shape[0]):
        out[c] = a[c] + b[c]


@jit_helper
def _difference(out, a, b):  # pragma: no cover - compiled by numba (inlined)
    """``out[:] = a - b`` over the channels."""
    for c in range(out.shape[0]):
        out[c] = a[c] - b[c]


@lazy_njit
def winograd_cl_input_tiles(padded, rows, tiles):  # pragma: no cover - compiled by numba
    """Transform 4 x 4 input tiles: ``tiles[:, t, c] = (B^T d B).ravel()`` for tile ``t`` of channel ``c``.

    Parameters
    ----------
    padded : ndarray, shape (n, 2*TH + 2, 2*TW + 2, C)
        The input, zero-padded and channels-last: tile ``(m, ti, tj)`` is
        ``padded[m, 2ti:2ti + 4, 2tj:2tj + 4]``.
    rows : ndarray, shape (4, 4, C)
        Scratch for ``B^T d`` of one tile.
    tiles : ndarray, shape (16, n*TH*TW, C)
        Output.

    Notes
    -----
    With ``BT = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]``, equals::

        d = sliding 4 x 4 windows of padded at stride 2, shape (n, TH, TW, C, 4, 4)
        tiles = np.einsum("ar,nstcrq,bq->abnstc", BT, d, BT).reshape(16, n*TH*TW, C)
    """
    count, tiles_h, tiles_w = padded.shape[0], (padded.shape[1] - 2) // 2, (padded.shape[2] - 2) // 2
    for m in range(count):
        for ti in range(tiles_h):
            r = 2 * ti
            for tj in range(tiles_w):
                q = 2 * tj
                t = (m * tiles_h + ti) * tiles_w + tj
                for j in range(4):  # rows = B^T d, one column of the tile at a time
                    d0, d1, d2, d3 = padded[m, r, q + j], padded[m, r + 1, q + j], padded[m, r + 2, q + j], \
                        padded[m, r + 3, q + j]
                    _difference(rows[0, j], d0, d2)
                    _sum(rows[1, j], d1, d2)
                    _difference(rows[2, j], d2, d1)
                    _difference(rows[3, j], d1, d3)
                for i in range(4):  # tiles = rows B, the same combinations of the columns
                    a0, a1, a2, a3 = rows[i, 0], rows[i, 1], rows[i, 2], rows[i, 3]
                    _difference(tiles[4 * i, t], a0, a2)
                    _sum(tiles[4 * i + 1, t], a1, a2)
                    _difference(tiles[4 * i + 2, t], a2, a1)
                    _difference(tiles[4 * i + 3, t], a1, a3)
    return tiles


@lazy_njit
def winograd_cl_output_tiles(products, bias, sums, out):  # pragma: no cover - compiled by numba
    """Transform back and crop: ``out[m, 2ti:2ti+2, 2tj:2tj+2, k] = A^T M A + bias[k]``.

    Parameters
    ----------
    products : ndarray, shape (16, n*TH*TW, K)
        ``M``, the 16 matrix products, tile position first.
    bias : ndarray, shape (K,)
        Added to every output (pass zeros for none).
    sums : ndarray, shape (2, 4, K)
        Scratch for ``A^T M`` of one tile.
    out : ndarray, shape (n, H_out, W_out, K), channels-last
        Written whole; a tile's rows / columns past ``H_out`` / ``W_out`` are dropped
        (``TH = ceil(H_out / 2)``, ``TW = ceil(W_out / 2)``).

    Notes
    -----
    With ``AT = [[1, 1, 1, 0], [0, 1, -1, -1]]``, equals::

        y = np.einsum("ia,abnstk,jb->nsitjk", AT, products.reshape(4, 4, n, TH, TW, K), AT)
        out[...] = y.reshape(n, 2 * TH, 2 * TW, K)[:, :H_out, :W_out] + bias
    """
    count, out_h, out_w, kernels = out.shape[0], out.shape[1], out.shape[2], out.shape[3]
    tiles_h, tiles_w = (out_h + 1) // 2, (out_w + 1) // 2
    for m in range(count):
        for ti in range(tiles_h):
            r = 2 * ti
            for tj in range(tiles_w):
                q = 2 * tj
                t = (m * tiles_h + ti) * tiles_w + tj
                for j in range(4):  # sums = A^T M, one column at a time
                    p0, p1, p2, p3 = products[j, t], products[4 + j, t], products[8 + j, t], products[12 + j, t]
                    s0, s1 = sums[0, j], sums[1, j]
                    for k in range(kernels):
                        s0[k] = p0[k] + p1[k] + p2[k]
                    for k in range(kernels):
                        s1[k] = p1[k] - p2[k] - p3[k]
                for i in range(2):  # out = sums A (+ bias), cropped
                    if r + i < out_h:
                        a0, a1, a2, a3 = sums[i, 0], sums[i, 1], sums[i, 2], sums[i, 3]
                        y = out[m, r + i, q]
                        for k in range(kernels):
                            y[k] = a0[k] + a1[k] + a2[k] + bias[k]
                        if q + 1 < out_w:
                            y = out[m, r + i, q + 1]
                            for k in range(kernels):
                                y[k] = a1[k] - a2[k] - a3[k] + bias[k]
    return out


@lazy_njit
def winograd_cl_grad_tiles(grad, rows, tiles):  # pragma: no cover - compiled by numba
    """Transform 2 x 2 blocks of the output's gradient: ``tiles[:, t, k] = (A g A^T).ravel()``.

    Parameters
    ----------
    grad : ndarray, shape (n, 2*TH, 2*TW, K)
        The output's gradient, channels-last, zero-padded at the bottom and right to whole blocks:
        block ``(m, ti, tj)`` is ``grad[m, 2ti:2ti + 2, 2tj:2tj + 2]``.
    rows : ndarray, shape (4, 2, K)
        Scratch for ``A g`` of one block (rows 1 and 2; rows 0 and 3 are ``g``'s own rows).
    tiles : ndarray, shape (16, n*TH*TW, K)
        Output.

    Notes
    -----
    With ``A = AT.T = [[1, 0], [1, 1], [1, -1], [0, -1]]``, equals::

        g = grad reshaped to (n, TH, 2, TW, 2, K)
        tiles = np.einsum("ai,nsitjk,bj->abnstk", A, g, A).reshape(16, n*TH*TW, K)
    """
    count, tiles_h, tiles_w, kernels = grad.shape[0], grad.shape[1] // 2, grad.shape[2] // 2, grad.shape[3]
    for m in range(count):
        for ti in range(tiles_h):
            r = 2 * ti
            for tj in range(tiles_w):
                q = 2 * tj
                t = (m * tiles_h + ti) * tiles_w + tj
                for j in range(2):  # rows 1 and 2 of A g: the sum and the difference of g's two rows
                    g0, g1 = grad[m, r, q + j], grad[m, r + 1, q + j]
                    w1, w2 = rows[1, j], rows[2, j]
                    for k in range(kernels):
                        w1[k] = g0[k] + g1[k]
                    for k in range(kernels):
                        w2[k] = g0[k] - g1[k]
                for i in range(4):  # tiles = (A g) A^T; row 3 of A g is -g1, so its signs flip
                    if i == 0:
                        u0, u1 = grad[m, r, q], grad[m, r, q + 1]
                    elif i == 3:
                        u0, u1 = grad[m, r + 1, q], grad[m, r + 1, q + 1]
                    else:
                        u0, u1 = rows[i, 0], rows[i, 1]
                    sign = -1.0 if i == 3 else 1.0
                    v0, v1, v2, v3 = tiles[4 * i, t], tiles[4 * i + 1, t], tiles[4 * i + 2, t], tiles[4 * i + 3, t]
                    for k in range(kernels):
                        v0[k] = sign * u0[k]
                    for k in range(kernels):
                        v1[k] = sign * (u0[k] + u1[k])
                    for k in range(kernels):
                        v2[k] = sign * (u0[k] - u1[k])
                    for k in range(kernels):
                        v3[k] = -sign * u1[k]
    return tiles
