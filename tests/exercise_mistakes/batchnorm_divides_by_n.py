"""batchnorm_backward that counts m as the batch size N instead of N·H·W."""

import numpy as np

HINT = 'where it must divide by m = N·H·W'


def batchnorm_backward(dout, x, gamma, beta, eps):
    axes = (0, 2, 3)
    m = x.shape[0]
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx_hat = dout * gamma.reshape(1, -1, 1, 1)
    dx = inv_std / m * (m * dx_hat - dx_hat.sum(axis=axes, keepdims=True)
                        - x_hat * (dx_hat * x_hat).sum(axis=axes, keepdims=True))
    return dx, dgamma, dbeta
