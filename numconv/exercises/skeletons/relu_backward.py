"""Exercise: the backward pass of ReLU.

Task
----
ReLU keeps the positive values and zeroes the others: ``out = max(x, 0)``.
Write ``relu_backward(dout, x) -> dx``. The local slope is 1 where ``x``
went through and 0 where it was cut; the chain rule multiplies it by
``dout``.

Shapes
------
dout, x : any shape, the same   ->  dx : the same shape
"""

import numpy as np


def relu_backward(dout, x):
    """See the task above."""
    # TODO 1: the mask of the inputs that went through: from x (the forward input), not from dout.
    # TODO 2: dx = dout times the mask, as a NEW array: do not change dout in place (dout[x <= 0] = 0 would
    #         corrupt the caller's array).
    raise NotImplementedError("relu_backward: fill in the TODOs")
