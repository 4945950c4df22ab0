"""Solution: the backward pass of 2-D average pooling, with loops."""

import numpy as np


def avgpool2d_backward(dout, x, kernel_size, stride):
    """Gradient of ``out[n, c, i, j] = mean of x[n, c]`` over window ``(i, j)``.

    Parameters
    ----------
    dout : ndarray, shape (N, C, H_out, W_out)
    x : ndarray, shape (N, C, H, W)
        The forward pass's input, for its shape only: a mean's slope does not depend on the values.
    kernel_size, stride : int
        Square windows, no padding: ``H_out = (H - kernel_size) // stride + 1``.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
        Each window's ``dout`` shared evenly over its ``kernel_size**2`` inputs
        (an input in several overlapping windows gets the sum of its shares).
    """
    dx = np.zeros_like(x)
    area = kernel_size * kernel_size
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            top, left = i * stride, j * stride
            # Every input of the window moved the mean by 1/area; windows may overlap, so add.
            dx[:, :, top:top + kernel_size, left:left + kernel_size] += dout[:, :, i:i + 1, j:j + 1] / area
    return dx
