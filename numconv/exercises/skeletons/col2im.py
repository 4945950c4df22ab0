"""Exercise: col2im, the adjoint of im2col.

Task
----
``im2col`` (see im2col.py) copies every window of the padded input into a
column. ``col2im`` goes the other way for the backward pass: given a
gradient ``cols`` in im2col's layout, it adds every entry back onto the pixel
it was copied from, and crops the padding off. A pixel that sat in several
windows gets the SUM of all its copies' gradients: col2im is the adjoint of
im2col (``sum(im2col(x) * c) == sum(x * col2im(c))``), not its inverse.

Layout of ``cols`` (as im2col): row ``(c * kernel_h + p) * kernel_w + q``,
column ``(n * H_out + i) * W_out + j`` holds padded pixel
``x_padded[n, c, i * stride + p, j * stride + q]``.

Shapes
------
cols    : (C * kernel_h * kernel_w, N * H_out * W_out)
x_shape : (N, C, H, W), before padding   ->  dx : (N, C, H, W)
kernel_h, kernel_w, stride, padding : int
"""

import numpy as np


def col2im(cols, x_shape, kernel_h, kernel_w, stride, padding):
    """See the task above."""
    # TODO 1: H_out, W_out as in im2col; dx_padded = zeros of the padded shape.
    # TODO 2: for each row (c, p, q): reshape it to (N, H_out, W_out) and ADD it onto
    #         dx_padded[:, c, p : p + stride * H_out : stride, q : q + stride * W_out : stride].
    # TODO 3: crop: dx = dx_padded[:, :, padding:padding + H, padding:padding + W].
    raise NotImplementedError("col2im: fill in the TODOs")
