"""Solution: the forward pass of a 2-D convolution, with loops."""

import numpy as np


def conv2d_forward(x, w, b, stride, padding):
    """Cross-correlate ``x`` with the filters ``w`` and add the bias ``b``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, HH, WW)
    b : ndarray, shape (F,)
    stride : int
    padding : int
        Zeros added on every side of H and W.

    Returns
    -------
    out : ndarray, shape (N, F, H_out, W_out)
        ``H_out = (H + 2 * padding - HH) // stride + 1``, same for W.
    """
    n_samples, _, height, width = x.shape
    n_filters, _, kernel_h, kernel_w = w.shape
    out_h = (height + 2 * padding - kernel_h) // stride + 1
    out_w = (width + 2 * padding - kernel_w) // stride + 1
    x_padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((n_samples, n_filters, out_h, out_w), dtype=x.dtype)
    # The four loops of the task, out[n, f, i, j] = np.sum(window_n * w[f]) + b[f], with the loops over the
    # samples n and the filters f done at once: at each output position (i, j), one sum over (c, p, q)
    # of every sample's window against every filter.
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * stride, j * stride
            windows = x_padded[:, :, top:top + kernel_h, left:left + kernel_w]  # (N, C, HH, WW)
            out[:, :, i, j] = np.einsum("ncpq,fcpq->nf", windows, w) + b
    return out
