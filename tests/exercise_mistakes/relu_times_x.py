"""relu_backward: multiplies by x instead of by the mask x > 0."""

import numpy as np

HINT = 'the derivative of ReLU is 1 where x > 0'


def relu_backward(dout, x):
    return dout * x
