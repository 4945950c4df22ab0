"""numba kernels for the row-slab convolution: expand the width, and its adjoint.

``numconv.functional.fast.rowslab`` turns each output row of a 2-D convolution
into one matrix product over a slab of an "expanded" copy of the input, in
which only the width axis is unrolled over the kernel's columns::

    E[m, h, q, c, j] = x_padded[first + m, c, h, j * s_w + q * d_w]

Shape (n, H_pad, kW, C, W_out). Output row ``i`` then needs rows
``i*s_h .. i*s_h + kH - 1`` of ``E``: a contiguous block, read as a
(kH * kW * C, W_out) matrix without copying.

- ``rowslab_expand`` writes ``E`` (zero padding done on the fly),
- ``rowslab_columns`` copies the slabs of a block of output rows side by
  side into im2col's columns (for the weight gradient's long products),
- ``rowslab_scatter`` is the adjoint of ``E``'s slabs: it adds the column
  gradients of every output row back onto the input gradient.
"""

from __future__ import annotations

import numpy as np

from ._jit import lazy_njit

__all__ = ["rowslab_expand", "rowslab_columns", "rowslab_scatter"]


@lazy_njit
def rowslab_expand(x, first, pad_top, pad_left, stride_w, dilation_w, expanded):  # pragma: no cover - numba
    """Write ``expanded[m, h, q, c, j] = x_padded[first + m, c, h, j * stride_w + q * dilation_w]``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), not padded
    first : int
        The first sample to expand.
    pad_top, pad_left : int
        Zero padding above and left of ``x`` (``x_padded[..., h, w] ==
        x[..., h - pad_top, w - pad_left]``, zero outside ``x``).
    stride_w, dilation_w : int
    expanded : ndarray, shape (n, H_pad, kW, C, W_out)
        Output; ``H_pad`` rows of the padded input are written.

    Notes
    -----
    Equals the NumPy expression (``xp`` the zero-padded ``x``)::

        for q in range(kW):
            cols = xp[first:first + n, :, :H_pad, q*dilation_w : q*dilation_w + stride_w*(W_out - 1) + 1 : stride_w]
            expanded[:, :, q] = cols.transpose(0, 2, 1, 3)       # (n, H_pad, C, W_out)
    """
    channels, height, width = x.shape[1], x.shape[2], x.shape[3]
    count, rows, kw, out_w = expanded.shape[0], expanded.shape[1], expanded.shape[2], expanded.shape[4]
    for m in range(count):
        for h in range(rows):
            r = h - pad_top
            for q in range(kw):
                for c in range(channels):
                    dst = expanded[m, h, q, c]
                    if r < 0 or r >= height:
                        dst[:] = 0.0
                        continue
                    src = x[first + m, c, r]
                    # (A branch per pixel, not a split into padding and inside ranges: the check
                    # 0 <= col lets numba drop its negative-index handling and vectorise; 3x faster.)
                    for j in range(out_w):
                        col = j * stride_w + q * dilation_w - pad_left
                        dst[j] = src[col] if 0 <= col < width else 0.0
    return expanded


@lazy_njit
def rowslab_columns(expanded, first_row, stride_h, cols):  # pragma: no cover - compiled by numba
    """Copy the slabs of a block of output rows side by side into im2col's columns.

    ``cols[m, s, i, j]`` is entry ``(s, j)`` of sample ``m``'s slab of output
    row ``first_row + i``.

    Parameters
    ----------
    expanded : ndarray, shape (n, H_pad, kW, C, W_out), C-contiguous
        From ``rowslab_expand``.
    first_row : int
        The first output row of the block.
    stride_h : int
    cols : ndarray, shape (n, kH * kW * C, R, W_out), C-contiguous
        Output: the block's ``R`` slabs, each (kH * kW * C, W_out), with the
        rows of all slabs side by side.

    Notes
    -----
    Equals ``np.copyto(cols, slabs[:, first_row:first_row + R].transpose(0, 2, 1, 3))``
    with ``slabs`` the overlapping views of ``numconv.functional.fast.rowslab._slabs``;
    the NumPy copy walks rows of only ``W_out`` elements with its general
    strided loop, which took 1.2-1.6x the time of this flat one on LeNet-5.
    """
    count, rows, out_w = expanded.shape[0], expanded.shape[1], expanded.shape[4]
    span, block_rows = cols.shape[1], cols.shape[2]
    row_len = expanded.shape[2] * expanded.shape[3] * out_w  # one row h of expanded
    u = np.uint64
    src = expanded.reshape(-1)
    dst = cols.reshape(-1)
    for m in range(count):
        for i in range(block_rows):
            # Slab i is one contiguous run of span * W_out elements of expanded.
            slab = u((m * rows + (first_row + i) * stride_h) * row_len)
            for s in range(span):
                a = slab + u(s * out_w)
                b = u(((m * span + s) * block_rows + i) * out_w)
                for j in range(out_w):
                    dst[b + u(j)] = src[a + u(j)]
    return cols


@lazy_njit
def rowslab_scatter(slabs, first, first_row, pad_top, pad_left, stride_h, stride_w, dilation_w,
                    dx):  # pragma: no cover - compiled by numba
    """Add slab gradients onto the input gradient: the adjoint of reading ``expanded``'s slabs.

    Parameters
    ----------
    slabs : ndarray, shape (n, R, kH, kW, C, W_out), C-contiguous
        ``slabs[m, i]`` is the gradient of output row ``first_row + i``'s
        slab (rows ``(first_row + i)*stride_h .. + kH - 1`` of ``expanded``).
    first : int
        The sample ``slabs[0]`` belongs to.
    first_row : int
        The output row ``slabs[:, 0]`` belongs to (a block of ``R`` rows).
    pad_top, pad_left, stride_h, stride_w, dilation_w : int
    dx : ndarray, shape (N, C, H, W), C-contiguous
        The input gradient (of the unpadded input), added into in place for
        samples ``first .. first + n - 1``; gradients landing in the padding
        are dropped.

    Notes
    -----
    Equals the NumPy loop (``dxp`` the padded gradient, cropped at the end)::

        for i in range(R):
            for p in range(kH):
                for q in range(kW):
                    dxp[first:first + n, :, (first_row + i)*stride_h + p,
                        q*dilation_w : q*dilation_w + stride_w*(W_out - 1) + 1 : stride_w] += slabs[:, i, p, q]

    in the same order (rows, then kernel offsets, then channels and columns).
    """
    channels, height, width = dx.shape[1], dx.shape[2], dx.shape[3]
    count, out_h, kh, kw, out_w = slabs.shape[0], slabs.shape[1], slabs.shape[2], slabs.shape[3], slabs.shape[5]
    # For each kernel column q, the output columns j0[q] <= j < j1[q] whose pixel lands inside the
    # input (the others land in the padding), found once here instead of tested per pixel.
    j0 = np.zeros(kw, dtype=np.int64)
    j1 = np.zeros(kw, dtype=np.int64)
    for q in range(kw):
        shift = q * dilation_w - pad_left
        lo, hi = 0, out_w
        while lo < out_w and lo * stride_w + shift < 0:
            lo += 1
        while hi > lo and (hi - 1) * stride_w + shift >= width:
            hi -= 1
        j0[q], j1[q] = lo, hi
    # Flat arrays and unsigned offsets: numba then drops its negative-index checks and vectorises
    # the inner loop (1.4-1.6x faster on LeNet-5's layers than indexing the 6-D and 4-D arrays).
    u = np.uint64
    src = slabs.reshape(-1)
    dst = dx.reshape(-1)
    step = u(stride_w)
    for m in range(count):
        for i in range(out_h):
            for p in range(kh):
                r = (first_row + i) * stride_h + p - pad_top
                if r < 0 or r >= height:
                    continue
                for q in range(kw):
                    lo, valid = j0[q], j1[q] - j0[q]
                    col = lo * stride_w + q * dilation_w - pad_left  # >= 0: the first valid column
                    for c in range(channels):
                        s = u(((((m * out_h + i) * kh + p) * kw + q) * channels + c) * out_w + lo)
                        d = u((((first + m) * channels + c) * height + r) * width + col)
                        for j in range(valid):
                            dst[d + u(j) * step] += src[s + u(j)]
    return dx
