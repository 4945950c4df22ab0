"""batchnorm_backward that treats the mean and the variance as constants."""

import numpy as np

HINT = 'dx treats the mean and the variance as constants'


def batchnorm_backward(dout, x, gamma, beta, eps):
    axes = (0, 2, 3)
    m = x.shape[0] * x.shape[2] * x.shape[3]
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx_hat = dout * gamma.reshape(1, -1, 1, 1)
    dx = dx_hat * inv_std
    return dx, dgamma, dbeta
