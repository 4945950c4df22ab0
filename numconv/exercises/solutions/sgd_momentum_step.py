"""Solution: one step of SGD with momentum and weight decay, as torch.optim.SGD."""

import numpy as np


def sgd_momentum_step(param, grad, velocity, lr, momentum, weight_decay):
    """One update; the checker calls it once per step, passing back the velocity it returned.

    Parameters
    ----------
    param, grad, velocity : ndarray, same shape
        ``velocity`` is zeros before the first step.
    lr, momentum, weight_decay : float

    Returns
    -------
    param, velocity : ndarray
        The new values (new arrays; the inputs are left alone).
    """
    grad = grad + weight_decay * param  # L2 regularisation enters through the gradient
    velocity = momentum * velocity + grad  # torch keeps the undamped sum of past gradients
    param = param - lr * velocity
    return param, velocity
