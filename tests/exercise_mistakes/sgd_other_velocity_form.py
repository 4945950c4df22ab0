"""sgd_momentum_step: v = momentum * v - lr * grad, param += v (the parameters agree, the velocity does not)."""

import numpy as np

HINT = "your velocity is -lr times torch's"


def sgd_momentum_step(param, grad, velocity, lr, momentum, weight_decay):
    velocity = momentum * velocity - lr * (grad + weight_decay * param)
    return param + velocity, velocity
