"""Exercise: the backward pass of 2-D average pooling, with loops.

Task
----
Average pooling replaces each ``kernel_size x kernel_size`` window of each
channel by its mean; windows start every ``stride`` pixels (no padding)::

    out[n, c, i, j] = mean(x[n, c, i*stride : i*stride + k, j*stride : j*stride + k])

Write ``avgpool2d_backward(dout, x, kernel_size, stride) -> dx`` (``x`` is
given for its shape). Every input of a window moved the mean by
``1 / kernel_size**2``.

Shapes
------
dout : (N, C, H_out, W_out), H_out = (H - kernel_size) // stride + 1
x    : (N, C, H, W)       ->  dx : (N, C, H, W)
"""

import numpy as np


def avgpool2d_backward(dout, x, kernel_size, stride):
    """See the task above."""
    # TODO 1: dx = np.zeros_like(x)
    # TODO 2: loop over the output positions (i, j); share dout[:, :, i, j] evenly over the window's
    #         kernel_size**2 inputs. Windows overlap when stride < kernel_size: add (+=), do not assign.
    raise NotImplementedError("avgpool2d_backward: fill in the TODOs")
