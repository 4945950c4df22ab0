"""Exercise: the backward pass of batch normalisation (training mode).

Task
----
In training mode, batch norm standardises each channel with the mean and the
(biased) variance of that channel over the batch and the spatial positions,
then scales and shifts it::

    mean    = x.mean(axis=(0, 2, 3))                  # per channel, shape (C,)
    var     = x.var(axis=(0, 2, 3))                   # divided by m = N * H * W, not m - 1
    x_hat   = (x - mean) / sqrt(var + eps)            # mean, var broadcast as (1, C, 1, 1)
    out     = gamma * x_hat + beta                    # gamma, beta broadcast as (1, C, 1, 1)

Write ``batchnorm_backward(dout, x, gamma, beta, eps) -> (dx, dgamma, dbeta)``.
The catch: ``mean`` and ``var`` are computed from ``x``, so moving one input
moves every output of its channel. Work it out on paper first (a computation
graph with x -> mean -> var -> x_hat -> out helps), or use the compact result
for ``dx_hat = dout * gamma``::

    dx = (1 / m) / sqrt(var + eps) * (m * dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat))

with the sums over axes (0, 2, 3) of each channel.

Shapes
------
dout, x : (N, C, H, W)      ->  dx : (N, C, H, W)
gamma, beta : (C,)          ->  dgamma, dbeta : (C,)
eps : float
"""

import numpy as np


def batchnorm_backward(dout, x, gamma, beta, eps):
    """(dx, dgamma, dbeta) of training-mode batch norm, from dout (N, C, H, W)."""
    # TODO 1: recompute mean, var (np.var's default divides by m), x_hat as in the forward pass above.
    #         keepdims=True keeps them broadcastable against x.
    # TODO 2: dbeta = sum of dout per channel; dgamma = sum of dout * x_hat per channel. Shapes (C,).
    # TODO 3: dx_hat = dout * gamma (reshaped to (1, C, 1, 1)), then dx with the formula above, or from
    #         your own derivation. Do not change x or dout in place (x -= mean would corrupt the caller's x).
    # Hint: if dgamma and dbeta pass but dx does not, did you forget the paths through mean and var?
    raise NotImplementedError("batchnorm_backward: fill in the TODOs")
