"""Exercise: one step of Adam, as torch.optim.Adam.

Task
----
Adam keeps two running averages per parameter, of the gradient and of its
square, and divides one by the square root of the other::

    m     = beta1 * m + (1 - beta1) * grad           # m, v start at 0
    v     = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)                       # bias correction: t = 1, 2, ...
    v_hat = v / (1 - beta2**t)
    param = param - lr * m_hat / (sqrt(v_hat) + eps)

Write ``adam_step(param, grad, m, v, t, lr, beta1, beta2, eps) -> (param, m,
v)``. The checker calls it once per step (t = 1, 2, ...), passing back the m
and v your previous call returned, and compares the parameter after every
step, and the final m and v, with torch's.

Shapes
------
param, grad, m, v : (D,)   ->  param, m, v : (D,)
t : int; lr, beta1, beta2, eps : float
"""

import numpy as np


def adam_step(param, grad, m, v, t, lr, beta1, beta2, eps):
    """See the task above."""
    # TODO 1: update m and v from the ones you are given.
    # TODO 2: the bias-corrected m_hat and v_hat (for the step only: return m and v uncorrected).
    # TODO 3: the new param; return (param, m, v).
    raise NotImplementedError("adam_step: fill in the TODOs")
