"""Solution: the backward pass of batch normalisation in training mode."""

import numpy as np


def batchnorm_backward(dout, x, gamma, beta, eps):
    """Gradients of ``out = gamma * (x - mean) / sqrt(var + eps) + beta``, statistics per channel.

    Parameters
    ----------
    dout : ndarray, shape (N, C, H, W)
    x : ndarray, shape (N, C, H, W)
    gamma, beta : ndarray, shape (C,)
    eps : float

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    dgamma, dbeta : ndarray, shape (C,)
    """
    axes = (0, 2, 3)  # everything but the channel axis
    m = x.shape[0] * x.shape[2] * x.shape[3]  # values per channel
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)  # the biased variance (divide by m), as in the forward pass
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std

    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx_hat = dout * gamma.reshape(1, -1, 1, 1)
    # x moves x_hat directly, and through the mean and the variance as well:
    dx = inv_std / m * (m * dx_hat - dx_hat.sum(axis=axes, keepdims=True)
                        - x_hat * (dx_hat * x_hat).sum(axis=axes, keepdims=True))
    return dx, dgamma, dbeta
