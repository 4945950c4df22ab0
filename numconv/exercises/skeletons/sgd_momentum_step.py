"""Exercise: one step of SGD with momentum and weight decay, as torch.optim.SGD.

Task
----
``torch.optim.SGD(params, lr, momentum, weight_decay)`` updates each
parameter, at every step, as::

    g        = grad + weight_decay * param
    velocity = momentum * velocity + g          # velocity starts at 0 (so the first velocity is g)
    param    = param - lr * velocity

Write ``sgd_momentum_step(param, grad, velocity, lr, momentum, weight_decay)
-> (param, velocity)``. The checker calls it once per step with that step's
gradient and the velocity your previous call returned, and compares the
parameter after every step with torch's.

Shapes
------
param, grad, velocity : (D,)   ->  param, velocity : (D,)
lr, momentum, weight_decay : float
"""

import numpy as np


def sgd_momentum_step(param, grad, velocity, lr, momentum, weight_decay):
    """See the task above."""
    # TODO 1: the gradient with weight decay.
    # TODO 2: the new velocity (from the one you are given), then the new param.
    # TODO 3: return both, as new arrays.
    raise NotImplementedError("sgd_momentum_step: fill in the TODOs")
