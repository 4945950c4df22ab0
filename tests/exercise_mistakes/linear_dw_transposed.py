"""linear_backward: dw = x.T @ dout, the transpose of PyTorch's weight layout."""

import numpy as np

HINT = 'that is dw transposed'


def linear_backward(dout, x, w, b):
    return dout @ w, x.T @ dout, dout.sum(axis=0)
