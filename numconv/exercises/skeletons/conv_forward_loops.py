"""Exercise: the forward pass of a 2-D convolution, with loops.

Task
----
Write ``conv2d_forward(x, w, b, stride, padding) -> out``, the convolution
of a batch of images ``x`` with ``F`` filters ``w``, plus a bias per filter.
As in PyTorch (and numconv), "convolution" here means cross-correlation: the
filter is *not* flipped::

    out[n, f, i, j] = b[f] + sum over c, p, q of
                      x_padded[n, c, i * stride + p, j * stride + q] * w[f, c, p, q]

Shapes
------
x    : (N, C, H, W)        a batch of N images with C channels
w    : (F, C, HH, WW)      F filters of size HH x WW
b    : (F,)                one bias per filter
stride, padding : int      the same along H and W; padding adds zeros on all four sides
out  : (N, F, H_out, W_out) with H_out = (H + 2 * padding - HH) // stride + 1
                                 W_out = (W + 2 * padding - WW) // stride + 1
"""

import numpy as np


def conv2d_forward(x, w, b, stride, padding):
    """out (N, F, H_out, W_out) from x (N, C, H, W), w (F, C, HH, WW), b (F,), stride, padding."""
    # TODO 1: read N, C, H, W from x.shape and F, HH, WW from w.shape; compute H_out and W_out.
    # TODO 2: pad x with zeros: np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding))).
    #         (Only the two spatial axes get padding, never the batch or the channels.)
    # TODO 3: out = np.zeros((N, F, H_out, W_out)), then loop over n, f, i, j:
    #         the window is x_padded[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW],
    #         a (C, HH, WW) block; out[n, f, i, j] = np.sum(window * w[f]) + b[f].
    # Hint: start with the four loops; once it passes, try to remove the loops over n and f.
    raise NotImplementedError("conv2d_forward: fill in the TODOs")
