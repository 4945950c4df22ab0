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

Check it
--------
    python relu_backward.py
    numconv check-exercise relu_backward.py
"""

import numpy as np


def relu_backward(dout, x):
    """See the task above."""
    # TODO 1: the mask of the inputs that went through: from x (the forward input), not from dout.
    # TODO 2: dx = dout times the mask, as a NEW array: do not change dout in place (dout[x <= 0] = 0 would
    #         corrupt the caller's array).
    raise NotImplementedError("relu_backward: fill in the TODOs")


if __name__ == "__main__":
    from numconv.exercises import check

    raise SystemExit(0 if check(relu_backward, "relu_backward") else 1)
