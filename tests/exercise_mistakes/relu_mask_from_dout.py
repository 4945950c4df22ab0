"""relu_backward: the mask taken from dout instead of x."""

import numpy as np

HINT = 'the mask is taken from dout'


def relu_backward(dout, x):
    return dout * (dout > 0)
