"""batchnorm_backward that centres x in place (x -= mean), corrupting the caller's array."""

import numpy as np

HINT = "never change an input in place (x -= ..., x[...] = ...)"


def batchnorm_backward(dout, x, gamma, beta, eps):
    axes = (0, 2, 3)
    m = x.shape[0] * x.shape[2] * x.shape[3]
    x -= x.mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    x_hat = x * inv_std
    dx_hat = dout * gamma.reshape(1, -1, 1, 1)
    dx = inv_std / m * (m * dx_hat - dx_hat.sum(axis=axes, keepdims=True)
                        - x_hat * (dx_hat * x_hat).sum(axis=axes, keepdims=True))
    return dx, (dout * x_hat).sum(axis=axes), dout.sum(axis=axes)
