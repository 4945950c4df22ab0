"""Exercise: the backward pass of 2-D max pooling.

Task
----
Max pooling keeps the largest value of each ``kernel_size x kernel_size``
window (no padding)::

    out[n, c, i, j] = max of x[n, c, i * stride : i * stride + kernel_size,
                                     j * stride : j * stride + kernel_size]

Write ``maxpool2d_backward(dout, x, kernel_size, stride) -> dx``: only the
input that was the maximum moved the output, so each ``dout[n, c, i, j]``
goes to that one input, and nowhere else. (The inputs of the checks have no
ties.)

Shapes
------
dout : (N, C, H_out, W_out) with H_out = (H - kernel_size) // stride + 1, same for W
x    : (N, C, H, W)
kernel_size, stride : int
dx   : (N, C, H, W)
"""

import numpy as np


def maxpool2d_backward(dout, x, kernel_size, stride):
    """dx (N, C, H, W) of max pooling, from dout (N, C, H_out, W_out)."""
    # TODO 1: dx = np.zeros_like(x).
    # TODO 2: loop over n, c, i, j; take the window of x[n, c] as in the forward pass.
    # TODO 3: find where its maximum is: np.argmax(window) is a flat index; np.unravel_index turns it
    #         into (p, q) inside the window, i.e. (i * stride + p, j * stride + q) in x.
    # TODO 4: ADD dout[n, c, i, j] there. With stride < kernel_size the windows overlap and one input
    #         can be the maximum of two windows: it gets both gradients.
    raise NotImplementedError("maxpool2d_backward: fill in the TODOs")
