"""im2col: rows ordered (kernel row, kernel column, channel)."""

import numpy as np

HINT = '(kernel row, kernel column, channel)'


def im2col(x, kernel_h, kernel_w, stride, padding):
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n_samples, channels, height, width = x.shape
    out_h, out_w = (height - kernel_h) // stride + 1, (width - kernel_w) // stride + 1
    cols = np.zeros((channels * kernel_h * kernel_w, n_samples * out_h * out_w))
    for c in range(channels):
        for p in range(kernel_h):
            for q in range(kernel_w):
                row = (p * kernel_w + q) * channels + c
                patch = x[:, c, p:p + stride * out_h:stride, q:q + stride * out_w:stride]
                cols[row] = patch.reshape(-1)
    return cols
