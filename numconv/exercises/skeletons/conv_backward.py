"""Exercise: the backward pass of a 2-D convolution: dx, dw and db.

Task
----
Given the gradient of the loss with respect to the output of
``out = conv2d_forward(x, w, b, stride, padding)`` (see
``conv_forward_loops.py``), return the gradients with respect to ``x``, ``w``
and ``b``::

    conv2d_backward(dout, x, w, b, stride, padding) -> (dx, dw, db)

Each output ``out[n, f, i, j] = b[f] + sum(window * w[f])`` used one window of
the padded input. So, by the chain rule, it sends back

- ``dout[n, f, i, j]`` to ``db[f]``,
- ``dout[n, f, i, j] * window`` to ``dw[f]``,
- ``dout[n, f, i, j] * w[f]`` to the window's place in ``dx_padded``.

Shapes
------
dout : (N, F, H_out, W_out)
x    : (N, C, H, W)          ->  dx : (N, C, H, W)
w    : (F, C, HH, WW)        ->  dw : (F, C, HH, WW)
b    : (F,)                  ->  db : (F,)
stride, padding : int
"""

import numpy as np


def conv2d_backward(dout, x, w, b, stride, padding):
    """(dx, dw, db) of the convolution, from the upstream gradient dout (N, F, H_out, W_out)."""
    # TODO 1: db: every output of filter f added b[f] once, so db[f] is the sum of dout[:, f].
    #         Which axes do you sum over? The result has shape (F,).
    # TODO 2: pad x as in the forward pass; dx_padded = np.zeros_like(x_padded); dw = np.zeros_like(w).
    # TODO 3: loop over n, f, i, j as in the forward pass, with the same window, and ADD (+=)
    #         dout[n, f, i, j] * window to dw[f] and dout[n, f, i, j] * w[f] to the window's slice of dx_padded.
    #         Windows overlap when stride < HH: assigning (=) instead of adding loses gradient.
    # TODO 4: crop the padding off: dx = dx_padded[:, :, padding:padding + H, padding:padding + W].
    # Hint: check your answer by hand on the tiniest case, a 1 x 1 filter on a 1 x 2 image.
    raise NotImplementedError("conv2d_backward: fill in the TODOs")
