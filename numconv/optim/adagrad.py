"""Adagrad: per-coordinate learning rates from the sum of all past squared gradients."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_number

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), step for step ``torch.optim.Adagrad``.

    For each parameter ``p`` with gradient ``g``, step ``t = 1, 2, ...`` does::

        g = -g if maximize
        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g                        # s starts at initial_accumulator_value
        p = p - clr * g / (sqrt(s) + eps)

    Coordinates that have seen large gradients take small steps; the
    accumulated sum only grows, so the steps keep shrinking.

    Parameters
    ----------
    params, lr, weight_decay, maximize
        As for every optimiser (:class:`Optimizer`); ``lr`` defaults to 1e-2 here.
    lr_decay : float
        Default 0.
    initial_accumulator_value : float
        Starting value of ``s`` (default 0).
    eps : float
        Default 1e-10.

    State per parameter (created with the optimiser, as in PyTorch): ``step``
    (int) and ``sum`` (the shape of the parameter). A parameter group's own
    ``initial_accumulator_value`` fills its sums (PyTorch uses the
    constructor's value for every group).
    """

    STATE_ENTRIES = {"step": "count", "sum": "array"}
    REQUIRED_STATE = ("step", "sum")

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(self.state[p], p, group)

    @staticmethod
    def _init_state(state, param, group):
        state["step"] = 0
        state["sum"] = np.full_like(param.data, float(group["initial_accumulator_value"]))

    def _check_group(self, group):
        super()._check_group(group)
        check_number(group["lr_decay"], "lr_decay value")
        check_number(group["initial_accumulator_value"], "initial_accumulator_value value")

    def _update(self, param, grad, state, group):
        lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
        if not state:  # a group added after construction
            self._init_state(state, param, group)
        state["step"] += 1
        clr = lr / (1 + (state["step"] - 1) * lr_decay)
        state["sum"] += grad * grad
        std = np.sqrt(state["sum"])
        std += eps
        param.data -= clr * (grad / std)
