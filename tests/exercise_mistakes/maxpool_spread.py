"""maxpool2d_backward that shares each window's gradient evenly (average pooling's backward)."""

import numpy as np

HINT = "that is average pooling"


def maxpool2d_backward(dout, x, kernel_size, stride):
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size] += \
                dout[:, :, i:i + 1, j:j + 1] / kernel_size**2
    return dx
