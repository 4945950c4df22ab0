"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from .optimizer import Optimizer, check_bool, check_number

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, step for step ``torch.optim.SGD``.

    For each parameter ``p`` with gradient ``g``, one step does::

        g = -g if maximize
        g = g + weight_decay * p                      # L2 penalty
        if momentum != 0:
            buf = g  (first step)  or  momentum * buf + (1 - dampening) * g
            g = g + momentum * buf  if nesterov  else  buf
        p = p - lr * g

    The momentum buffer starts as the first gradient itself (not as zeros),
    as in PyTorch; this is the "velocity" form ``v = mu v + g; p -= lr v``,
    which differs from Sutskever et al.'s ``v = mu v - lr g`` only in where
    ``lr`` sits (the two agree while ``lr`` is constant).

    Parameters
    ----------
    params, lr, weight_decay, maximize
        As for every optimiser (:class:`Optimizer`); ``lr`` defaults to 1e-3 here.
    momentum : float
        Momentum factor in [0, 1) (default 0).
    dampening : float
        Damping of the gradient's share of the momentum (default 0).
    nesterov : bool
        Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.

    State per parameter: ``momentum_buffer`` (shape of the parameter), only
    when momentum is on.
    """

    STATE_ENTRIES = {"momentum_buffer": "array"}
    REQUIRED_STATE = ()

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        super()._check_group(group)
        # momentum >= 1 never forgets a gradient and diverges (PyTorch accepts it; numconv refuses)
        check_number(group["momentum"], "momentum value", below=1.0, expected="0 <= momentum < 1")
        check_number(group["dampening"], "dampening value", minimum=None)
        check_bool(group["nesterov"], "nesterov")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update(self, param, grad, state, group):
        lr, momentum = float(group["lr"]), float(group["momentum"])  # (Python floats: see Optimizer._gradient)
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= momentum
                buf += (1 - float(group["dampening"])) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param.data -= lr * grad
