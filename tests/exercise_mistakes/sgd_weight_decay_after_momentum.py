"""sgd_momentum_step: weight decay added to the step, not to the gradient."""

import numpy as np

HINT = 'the weight decay is added after the momentum'


def sgd_momentum_step(param, grad, velocity, lr, momentum, weight_decay):
    velocity = momentum * velocity + grad
    return param - lr * (velocity + weight_decay * param), velocity
