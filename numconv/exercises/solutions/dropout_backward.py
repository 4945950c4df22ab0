"""Solution: the backward pass of inverted dropout."""

import numpy as np


def dropout_backward(dout, mask, p):
    """Gradient of ``out = x * mask / (1 - p)``.

    Parameters
    ----------
    dout : ndarray, any shape
    mask : ndarray of bool, same shape: True where the forward pass KEPT the value
    p : float: the probability of dropping a value

    Returns
    -------
    dx : ndarray, same shape
    """
    # The forward pass multiplied each value by mask / (1 - p): the gradient is multiplied by the same.
    return dout * mask / (1.0 - p)
