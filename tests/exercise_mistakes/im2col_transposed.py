"""im2col: one row per window instead of one column."""

import numpy as np

HINT = 'that is the transpose'


def im2col(x, kernel_h, kernel_w, stride, padding):
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n_samples, channels, height, width = x.shape
    out_h, out_w = (height - kernel_h) // stride + 1, (width - kernel_w) // stride + 1
    cols = np.zeros((channels * kernel_h * kernel_w, n_samples * out_h * out_w))
    for c in range(channels):
        for p in range(kernel_h):
            for q in range(kernel_w):
                row = (c * kernel_h + p) * kernel_w + q
                patch = x[:, c, p:p + stride * out_h:stride, q:q + stride * out_w:stride]
                cols[row] = patch.reshape(-1)
    return cols.T
