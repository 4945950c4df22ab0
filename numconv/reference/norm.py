"""Batch norm written out with loops, the way it is derived on a blackboard.

Training mode, input viewed as (N, C, M) (M = product of the spatial axes).
For one channel c, with its n = N * M values x_i::

    mean = sum(x_i) / n
    var  = sum((x_i - mean)**2) / n                  (biased)
    xhat_i = (x_i - mean) / sqrt(var + eps)
    y_i  = gamma * xhat_i + beta

Backward, with g_i = dL/dy_i. Every x_i moves the mean and the variance,
which move every xhat_j, so::

    dL/dbeta  = sum(g_i)
    dL/dgamma = sum(g_i * xhat_i)
    dL/dxhat_i = gamma * g_i
    dL/dx_i   = (dL/dxhat_i - mean_j(dL/dxhat_j) - xhat_i * mean_j(dL/dxhat_j * xhat_j)) / sqrt(var + eps)

These functions are slow on purpose (one Python iteration per value); they
are the oracle the fast path is tested against.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["batch_norm_train_naive", "batch_norm_train_backward_naive"]


def batch_norm_train_naive(x, gamma, beta, eps=1e-5):
    """Training-mode batch norm, one channel and one value at a time.

    Parameters
    ----------
    x : ndarray, shape (N, C, M)
    gamma, beta : ndarray, shape (C,)

    Returns
    -------
    y : ndarray, shape (N, C, M), float64
    mean, var : ndarray, shape (C,), float64 (var is biased)
    """
    n_batch, channels, m = x.shape
    n = n_batch * m
    y = np.zeros(x.shape, dtype=np.float64)
    means = np.zeros(channels)
    variances = np.zeros(channels)
    for c in range(channels):
        total = 0.0
        for i in range(n_batch):
            for j in range(m):
                total += float(x[i, c, j])
        mean = total / n
        squares = 0.0
        for i in range(n_batch):
            for j in range(m):
                squares += (float(x[i, c, j]) - mean) ** 2
        var = squares / n
        for i in range(n_batch):
            for j in range(m):
                xhat = (float(x[i, c, j]) - mean) / math.sqrt(var + eps)
                y[i, c, j] = float(gamma[c]) * xhat + float(beta[c])
        means[c], variances[c] = mean, var
    return y, means, variances


def batch_norm_train_backward_naive(dy, x, gamma, eps=1e-5):
    """Gradients of ``batch_norm_train_naive`` with respect to x, gamma and beta.

    Parameters
    ----------
    dy, x : ndarray, shape (N, C, M)
    gamma : ndarray, shape (C,)

    Returns
    -------
    dx : ndarray, shape (N, C, M), float64
    dgamma, dbeta : ndarray, shape (C,), float64
    """
    n_batch, channels, m = x.shape
    n = n_batch * m
    _, means, variances = batch_norm_train_naive(x, gamma, np.zeros(channels), eps)
    dx = np.zeros(x.shape, dtype=np.float64)
    dgamma = np.zeros(channels)
    dbeta = np.zeros(channels)
    for c in range(channels):
        invstd = 1.0 / math.sqrt(variances[c] + eps)
        sum_g = 0.0
        sum_g_xhat = 0.0
        for i in range(n_batch):
            for j in range(m):
                xhat = (float(x[i, c, j]) - means[c]) * invstd
                sum_g += float(dy[i, c, j])
                sum_g_xhat += float(dy[i, c, j]) * xhat
        dbeta[c] = sum_g
        dgamma[c] = sum_g_xhat
        for i in range(n_batch):
            for j in range(m):
                xhat = (float(x[i, c, j]) - means[c]) * invstd
                dxhat = float(gamma[c]) * float(dy[i, c, j])
                mean_dxhat = float(gamma[c]) * sum_g / n
                mean_dxhat_xhat = float(gamma[c]) * sum_g_xhat / n
                dx[i, c, j] = (dxhat - mean_dxhat - xhat * mean_dxhat_xhat) * invstd
    return dx, dgamma, dbeta
