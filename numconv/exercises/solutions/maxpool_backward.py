"""Solution: the backward pass of 2-D max pooling, with loops."""

import numpy as np


def maxpool2d_backward(dout, x, kernel_size, stride):
    """Gradient of ``out[n, c, i, j] = max of x[n, c]`` over window ``(i, j)``.

    Parameters
    ----------
    dout : ndarray, shape (N, C, H_out, W_out)
    x : ndarray, shape (N, C, H, W)
        The forward pass's input: its values say which input won each window.
    kernel_size, stride : int
        Square windows, no padding: ``H_out = (H - kernel_size) // stride + 1``.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
        Zero but at each window's maximum, which gets the window's ``dout``
        (an input that wins several overlapping windows gets the sum).
    """
    n_samples, channels, out_h, out_w = dout.shape
    dx = np.zeros_like(x)
    for n in range(n_samples):
        for c in range(channels):
            for i in range(out_h):
                for j in range(out_w):
                    top, left = i * stride, j * stride
                    window = x[n, c, top:top + kernel_size, left:left + kernel_size]
                    # Only the largest input of the window moved the output.
                    p, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, top + p, left + q] += dout[n, c, i, j]
    return dx
