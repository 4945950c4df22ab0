"""Solution: col2im, the adjoint of im2col (it sums, it does not invert)."""

import numpy as np


def col2im(cols, x_shape, kernel_h, kernel_w, stride, padding):
    """Add every entry of ``cols`` back onto the pixel ``im2col`` copied it from.

    Parameters
    ----------
    cols : ndarray, shape (C * kernel_h * kernel_w, N * H_out * W_out)
        In im2col's layout: row ``(c * kernel_h + p) * kernel_w + q``, column ``(n * H_out + i) * W_out + j``.
    x_shape : tuple (N, C, H, W)
        The shape of the input, before padding.
    kernel_h, kernel_w, stride, padding : int

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    """
    n_samples, channels, height, width = x_shape
    padded = np.zeros((n_samples, channels, height + 2 * padding, width + 2 * padding))
    out_h = (height + 2 * padding - kernel_h) // stride + 1
    out_w = (width + 2 * padding - kernel_w) // stride + 1
    for c in range(channels):
        for p in range(kernel_h):
            for q in range(kernel_w):
                row = cols[(c * kernel_h + p) * kernel_w + q].reshape(n_samples, out_h, out_w)
                # A pixel may sit in several windows: add every copy's gradient.
                padded[:, c, p:p + stride * out_h:stride, q:q + stride * out_w:stride] += row
    return padded[:, :, padding:padding + height, padding:padding + width]
