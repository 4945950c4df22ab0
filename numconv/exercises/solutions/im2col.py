"""Solution: im2col, every receptive field written out as a column."""

import numpy as np


def im2col(x, kernel_h, kernel_w, stride, padding):
    """Write every (kernel_h x kernel_w) window of the zero-padded ``x`` out as a column.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel_h, kernel_w, stride, padding : int

    Returns
    -------
    cols : ndarray, shape (C * kernel_h * kernel_w, N * H_out * W_out)
        ``cols[(c * kernel_h + p) * kernel_w + q, (n * H_out + i) * W_out + j]
        == x_padded[n, c, i * stride + p, j * stride + q]``.
    """
    n_samples, channels, height, width = x.shape
    out_h = (height + 2 * padding - kernel_h) // stride + 1
    out_w = (width + 2 * padding - kernel_w) // stride + 1
    x_padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.empty((channels, kernel_h, kernel_w, n_samples, out_h, out_w), dtype=x.dtype)
    # Loop over the kernel offsets only: at offset (p, q), the pixel of every
    # window is one strided slice of the whole batch.
    for p in range(kernel_h):
        for q in range(kernel_w):
            rows = slice(p, p + stride * out_h, stride)
            columns = slice(q, q + stride * out_w, stride)
            cols[:, p, q] = x_padded[:, :, rows, columns].transpose(1, 0, 2, 3)
    return cols.reshape(channels * kernel_h * kernel_w, n_samples * out_h * out_w)
