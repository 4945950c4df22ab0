"""linear_backward: db averaged over the batch."""

import numpy as np

HINT = 'db is divided by N'


def linear_backward(dout, x, w, b):
    return dout @ w, dout.T @ x, dout.mean(axis=0)
