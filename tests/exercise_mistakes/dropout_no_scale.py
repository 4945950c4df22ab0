"""dropout_backward: the mask without the 1 / (1 - p) scale."""

import numpy as np

HINT = 'scales their gradient by 1 / (1 - p) too'


def dropout_backward(dout, mask, p):
    return dout * mask
