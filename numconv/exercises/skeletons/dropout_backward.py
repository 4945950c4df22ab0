"""Exercise: the backward pass of (inverted) dropout.

Task
----
In training, dropout zeroes each value with probability ``p`` and scales the
others up so that the expected value does not change::

    mask = np.random.rand(*x.shape) >= p     # True where the value is KEPT
    out = x * mask / (1 - p)

Write ``dropout_backward(dout, mask, p) -> dx``, given the forward pass's
``mask``.

Shapes
------
dout : any shape; mask : bool, the same shape   ->  dx : the same shape
p : float, the probability of dropping a value
"""

import numpy as np


def dropout_backward(dout, mask, p):
    """See the task above."""
    # TODO 1: the forward pass multiplied each x by mask / (1 - p): what does the backward pass multiply dout by?
    # Hint: a dropped value never reached the output; a kept one was scaled by 1 / (1 - p).
    raise NotImplementedError("dropout_backward: fill in the TODOs")
