"""sgd_momentum_step: starts from a fresh velocity at every step."""

import numpy as np

HINT = 'the velocity is not carried from step to step'


def sgd_momentum_step(param, grad, velocity, lr, momentum, weight_decay):
    v = np.zeros_like(param)
    v = momentum * v + grad + weight_decay * param
    return param - lr * v, v
