"""adam_step: returns m_hat and v_hat as the new state."""

import numpy as np

HINT = 'returned as the new m and v'


def adam_step(param, grad, m, v, t, lr, beta1, beta2, eps):
    m = (beta1 * m + (1 - beta1) * grad) / (1 - beta1**t)
    v = (beta2 * v + (1 - beta2) * grad**2) / (1 - beta2**t)
    return param - lr * m / (np.sqrt(v) + eps), m, v
