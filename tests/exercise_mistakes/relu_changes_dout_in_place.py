"""relu_backward: zeroes dout in place (the textbook slip)."""

import numpy as np

HINT = "a backward pass must never change dout"


def relu_backward(dout, x):
    dout[x <= 0] = 0
    return dout
