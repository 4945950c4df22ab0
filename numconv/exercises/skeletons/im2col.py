"""Exercise: im2col, the trick that turns a convolution into one matrix product.

Task
----
Write every ``kernel_h x kernel_w`` window of the zero-padded input out as a
column of a matrix. Then a convolution is ``w.reshape(F, -1) @ cols``: one
matrix product instead of six nested loops. The layout (numconv's, the
same as ``numconv.functional.im2col``):

- row ``(c * kernel_h + p) * kernel_w + q``: channel ``c``, kernel offset ``(p, q)``
  (``c`` slowest, then ``p``, then ``q``, like ``w[f].reshape(-1)``);
- column ``(n * H_out + i) * W_out + j``: sample ``n``, output position ``(i, j)``;

::

    cols[(c * kernel_h + p) * kernel_w + q, (n * H_out + i) * W_out + j]
        == x_padded[n, c, i * stride + p, j * stride + q]

Shapes
------
x    : (N, C, H, W)
kernel_h, kernel_w, stride, padding : int
cols : (C * kernel_h * kernel_w, N * H_out * W_out),
       H_out = (H + 2 * padding - kernel_h) // stride + 1, same for W
"""

import numpy as np


def im2col(x, kernel_h, kernel_w, stride, padding):
    """cols (C * kernel_h * kernel_w, N * H_out * W_out) from x (N, C, H, W)."""
    # TODO 1: compute H_out, W_out and pad x with zeros on the two spatial axes.
    # TODO 2: the simple way: loop over n, i, j; the window x_padded[n, :, i*stride : i*stride + kernel_h,
    #         j*stride : j*stride + kernel_w] has shape (C, kernel_h, kernel_w); .reshape(-1) gives the rows
    #         in the right order; write it into column (n * H_out + i) * W_out + j.
    # TODO 3 (faster, optional): loop over the kernel offsets (p, q) only. At one offset, the pixel of every
    #         window is one strided slice: x_padded[:, :, p : p + stride * H_out : stride,
    #         q : q + stride * W_out : stride], shape (N, C, H_out, W_out). Fill an array of shape
    #         (C, kernel_h, kernel_w, N, H_out, W_out) and reshape it at the end.
    raise NotImplementedError("im2col: fill in the TODOs")
