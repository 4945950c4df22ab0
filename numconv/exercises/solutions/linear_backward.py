"""Solution: the backward pass of a fully connected (Linear) layer."""

import numpy as np


def linear_backward(dout, x, w, b):
    """Gradients of ``out = x @ w.T + b`` (PyTorch's layout: ``w`` is (out_features, in_features)).

    Parameters
    ----------
    dout : ndarray, shape (N, M)
    x : ndarray, shape (N, D)
    w : ndarray, shape (M, D)
    b : ndarray, shape (M,)

    Returns
    -------
    dx : ndarray, shape (N, D)
    dw : ndarray, shape (M, D)
    db : ndarray, shape (M,)
    """
    dx = dout @ w  # out[n, i] = sum_j x[n, j] * w[i, j] + b[i], so x[n, j] gets sum_i dout[n, i] * w[i, j]
    dw = dout.T @ x  # every sample adds its outer product dout[n] x[n]
    db = dout.sum(axis=0)  # every sample's output added b once
    return dx, dw, db
