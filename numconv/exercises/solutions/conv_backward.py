"""Solution: the backward pass of a 2-D convolution, with loops."""

import numpy as np


def conv2d_backward(dout, x, w, b, stride, padding):
    """Gradients of ``out = conv2d_forward(x, w, b, stride, padding)``.

    Parameters
    ----------
    dout : ndarray, shape (N, F, H_out, W_out)
        Gradient of the loss with respect to ``out``.
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (F, C, HH, WW)
    b : ndarray, shape (F,)
    stride, padding : int

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    dw : ndarray, shape (F, C, HH, WW)
    db : ndarray, shape (F,)
    """
    n_samples, n_filters, out_h, out_w = dout.shape
    _, _, kernel_h, kernel_w = w.shape
    x_padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dx_padded = np.zeros_like(x_padded)
    dw = np.zeros_like(w)
    # Each output is bias + sum(window * filter): the bias gets every output's gradient.
    db = dout.sum(axis=(0, 2, 3))
    for n in range(n_samples):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    top, left = i * stride, j * stride
                    window = x_padded[n, :, top:top + kernel_h, left:left + kernel_w]
                    dw[f] += dout[n, f, i, j] * window
                    # Windows overlap when stride < kernel: add, never assign.
                    dx_padded[n, :, top:top + kernel_h, left:left + kernel_w] += dout[n, f, i, j] * w[f]
    height, width = x.shape[2:]
    dx = dx_padded[:, :, padding:padding + height, padding:padding + width]
    return dx, dw, db
