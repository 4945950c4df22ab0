"""col2im: assigns every entry to its pixel, as if it were im2col's inverse."""

import numpy as np

HINT = 'entries are assigned (=) to their pixel instead of added (+=)'


def col2im(cols, x_shape, kernel_h, kernel_w, stride, padding):
    n, c, h, w = x_shape
    out_h = (h + 2 * padding - kernel_h) // stride + 1
    out_w = (w + 2 * padding - kernel_w) // stride + 1
    padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding))
    windows = cols.reshape(c, kernel_h, kernel_w, n, out_h, out_w)
    for b in range(n):
        for i in range(out_h):
            for j in range(out_w):
                padded[b, :, i * stride:i * stride + kernel_h, j * stride:j * stride + kernel_w] = windows[:, :, :, b, i, j]
    return padded[:, :, padding:padding + h, padding:padding + w]
