"""Exercise: the backward pass of a fully connected (Linear) layer.

Task
----
A Linear layer computes, as ``torch.nn.Linear`` (the weight is stored as
(out_features, in_features))::

    out = x @ w.T + b          # out[n, i] = sum_j x[n, j] * w[i, j] + b[i]

Write ``linear_backward(dout, x, w, b) -> (dx, dw, db)``. Write out which
``out[n, i]`` each of ``x[n, j]``, ``w[i, j]`` and ``b[i]`` touches, and the
chain rule gives each gradient as a sum; then write each sum as one matrix
product (check the shapes: they leave only one way to do it).

Shapes
------
dout : (N, M)
x    : (N, D)      ->  dx : (N, D)
w    : (M, D)      ->  dw : (M, D)
b    : (M,)        ->  db : (M,)
"""

import numpy as np


def linear_backward(dout, x, w, b):
    """See the task above."""
    # TODO 1: dx: x[n, j] is used by every output of sample n, with weight w[i, j]. Shape (N, D).
    # TODO 2: dw: w[i, j] is used by every sample, with input x[n, j]. Sum over the batch. Shape (M, D).
    # TODO 3: db: b[i] was added to out[n, i] for every n. Shape (M,).
    # Hint: (M, N) @ (N, D) is (M, D).
    raise NotImplementedError("linear_backward: fill in the TODOs")
