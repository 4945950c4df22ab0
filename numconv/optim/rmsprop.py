"""RMSprop: divide the gradient by a running root-mean-square of its recent values."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_bool, check_number

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), step for step ``torch.optim.RMSprop``.

    For each parameter ``p`` with gradient ``g``, one step does::

        g = -g if maximize
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g             # mean square
        if centered:                                    # subtract the squared mean:
            a = alpha * a + (1 - alpha) * g             # a variance estimate
            avg = sqrt(v - a * a) + eps
        else:
            avg = sqrt(v) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg              # buf starts at zeros
            p = p - lr * buf
        else:
            p = p - lr * g / avg

    Note ``eps`` is added *outside* the square root, as in PyTorch (some
    other libraries add it inside).

    Parameters
    ----------
    params, lr, weight_decay, maximize
        As for every optimiser (:class:`Optimizer`); ``lr`` defaults to 1e-2 here.
    alpha : float
        Smoothing constant of the mean square (default 0.99).
    eps : float
        Default 1e-8.
    momentum : float
        Default 0.
    centered : bool
        Normalise by an estimate of the gradient's variance instead of its mean square.

    State per parameter: ``step`` (int), ``square_avg``, and ``momentum_buffer``
    (momentum > 0) and ``grad_avg`` (centered), each the shape of the parameter.
    """

    STATE_ENTRIES = {"step": "count", "square_avg": "array", "momentum_buffer": "array", "grad_avg": "array"}
    REQUIRED_STATE = ("step", "square_avg")

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False, *, maximize: bool = False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        super()._check_group(group)
        check_number(group["momentum"], "momentum value", below=1.0, expected="0 <= momentum < 1")
        check_number(group["alpha"], "alpha value")
        check_bool(group["centered"], "centered")

    def _update(self, param, grad, state, group):
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        momentum = float(group["momentum"])
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param.data)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(param.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param.data)
        state["step"] += 1
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state.setdefault("grad_avg", np.zeros_like(param.data))
            grad_avg += (1 - alpha) * (grad - grad_avg)  # = alpha * grad_avg + (1 - alpha) * grad
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += eps

        if momentum > 0:
            buf = state.setdefault("momentum_buffer", np.zeros_like(param.data))
            buf *= momentum
            buf += grad / avg
            param.data -= lr * buf
        else:
            param.data -= lr * (grad / avg)
