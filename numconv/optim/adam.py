"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

import math

import numpy as np

from .optimizer import Optimizer, check_bool, check_number

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), step for step ``torch.optim.Adam``.

    For each parameter ``p`` with gradient ``g``, step ``t = 1, 2, ...`` does::

        g = -g if maximize
        p = p * (1 - lr * weight_decay)   if decoupled_weight_decay  (AdamW)
        g = g + weight_decay * p          otherwise                  (L2 penalty)
        m = beta1 * m + (1 - beta1) * g            # first moment
        v = beta2 * v + (1 - beta2) * g * g        # second moment
        v_max = max(v_max, v)                      # amsgrad only; used instead of v
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    ``m`` and ``v`` start at zero, so early on they are biased towards zero;
    dividing by ``1 - beta**t`` (the *bias corrections*) undoes that.

    Parameters
    ----------
    params, lr, weight_decay, maximize
        As for every optimiser (:class:`Optimizer`); ``lr`` defaults to 1e-3 here.
    betas : (float, float)
        Decay rates of the two moments, each in [0, 1) (default (0.9, 0.999)).
    eps : float
        Added to the denominator for stability (default 1e-8).
    amsgrad : bool
        Use the running maximum of ``v`` (Reddi et al., 2018).
    decoupled_weight_decay : bool
        Shrink the weights directly instead of adding an L2 gradient: AdamW.

    State per parameter: ``step`` (int), ``exp_avg``, ``exp_avg_sq`` and, with
    amsgrad, ``max_exp_avg_sq`` (each the shape of the parameter).
    """

    STATE_ENTRIES = {"step": "count", "exp_avg": "array", "exp_avg_sq": "array", "max_exp_avg_sq": "array"}
    REQUIRED_STATE = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 amsgrad: bool = False, *, maximize: bool = False, decoupled_weight_decay: bool = False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group):
        super()._check_group(group)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"Invalid betas: expected a pair of numbers, got {betas!r}")
        for i, beta in enumerate(betas):
            check_number(beta, f"beta parameter at index {i}", minimum=0.0, below=1.0, expected="0 <= beta < 1")
        check_bool(group["amsgrad"], "amsgrad")
        check_bool(group["decoupled_weight_decay"], "decoupled_weight_decay")

    def _update(self, param, grad, state, group):
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param.data)
            state["exp_avg_sq"] = np.zeros_like(param.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param.data)
        state["step"] += 1
        step = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (grad - m)  # = beta1 * m + (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad

        step_size = lr / (1 - beta1**step)
        bias_correction2_sqrt = math.sqrt(1 - beta2**step)
        if group["amsgrad"]:
            v_max = state.setdefault("max_exp_avg_sq", np.zeros_like(param.data))
            np.maximum(v_max, v, out=v_max)
            v = v_max
        denom = np.sqrt(v) / bias_correction2_sqrt + eps
        param.data -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    Before each Adam step the weights shrink by ``p *= 1 - lr * weight_decay``,
    instead of an L2 term entering the gradient (where Adam's scaling would
    weaken it for parameters with large gradients). Parameters are those of
    :class:`Adam`, with ``weight_decay`` defaulting to 1e-2.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
