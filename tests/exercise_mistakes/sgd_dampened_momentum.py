"""sgd_momentum_step: the moving-average form of momentum."""

import numpy as np

HINT = 'the damped (moving-average) form'


def sgd_momentum_step(param, grad, velocity, lr, momentum, weight_decay):
    grad = grad + weight_decay * param
    velocity = momentum * velocity + (1 - momentum) * grad
    return param - lr * velocity, velocity
