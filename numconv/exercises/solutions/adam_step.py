"""Solution: one step of Adam, as torch.optim.Adam."""

import numpy as np


def adam_step(param, grad, m, v, t, lr, beta1, beta2, eps):
    """One update; the checker calls it once per step, passing back the m and v it returned.

    Parameters
    ----------
    param, grad, m, v : ndarray, same shape
        ``m`` and ``v`` are zeros before the first step.
    t : int
        The step number, 1 for the first step.
    lr, beta1, beta2, eps : float

    Returns
    -------
    param, m, v : ndarray
    """
    m = beta1 * m + (1 - beta1) * grad  # running mean of the gradient
    v = beta2 * v + (1 - beta2) * grad * grad  # running mean of its square
    # Both started at zero: divide by (1 - beta**t) so that early averages are not too small.
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    param = param - lr * m_hat / (np.sqrt(v_hat) + eps)
    return param, m, v
