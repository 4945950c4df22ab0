"""Learning-rate schedules, value for value those of ``torch.optim.lr_scheduler``.

A scheduler rewrites ``group["lr"]`` in its optimiser's parameter groups.
Call ``scheduler.step()`` once per epoch (or per batch, for ``OneCycleLR``),
*after* ``optimizer.step()``::

    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(90):
        train_one_epoch(model, optimizer)     # calls optimizer.step() per batch
        scheduler.step()

Most schedules here are *recursive*, as PyTorch's are: each step multiplies
or moves the current ``group["lr"]``, so they compose with changes made from
outside. ``CosineAnnealingLR`` in particular uses PyTorch's recursive form,
whose values equal the closed form only while nothing else touches the lr.

``state_dict()`` returns plain values (numbers, strings, bools, lists,
dicts; ``None`` entries left out), so a checkpoint writer can store it in an
``.npz`` opened with ``allow_pickle=False``; ``load_state_dict`` accepts
what comes back (0-d arrays, arrays for lists).
"""

from __future__ import annotations

import math
from collections import Counter

from ._plateau import ReduceLROnPlateau
from ._one_cycle import OneCycleLR
from ._scheduler_base import LRScheduler, _check_factor, _check_int, _check_rate
from .optimizer import _as_list

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "OneCycleLR",
           "ReduceLROnPlateau"]


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    With ``lr=0.05, step_size=30, gamma=0.1``: 0.05 for epochs 0-29, 0.005
    for 30-59, 0.0005 for 60-89, ...

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Period of the decay, >= 1.
    gamma : float
        Factor of the decay (default 0.1).
    last_epoch : int
        Default -1 (start afresh).
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _check_settings(self, where):
        self.step_size = _check_int(self.step_size, where, "step_size", 1)
        _check_factor(self.gamma, where, "gamma")

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each epoch listed in ``milestones``.

    With ``lr=0.05, milestones=[30, 80], gamma=0.1``: 0.05 for epochs 0-29,
    0.005 for 30-79, 0.0005 from 80 on. A milestone listed twice applies
    ``gamma`` twice.

    Parameters
    ----------
    optimizer : Optimizer
    milestones : iterable of int
    gamma : float
        Default 0.1.
    last_epoch : int
    """

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        self.milestones = Counter(_milestones(milestones, "MultiStepLR"))
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _check_settings(self, where):
        _check_factor(self.gamma, where, "gamma")

    def get_lr(self):
        hits = self.milestones.get(self.last_epoch, 0)
        if hits == 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma**hits for group in self.optimizer.param_groups]

    def state_dict(self):
        state = super().state_dict()
        state["milestones"] = sorted(self.milestones.elements())  # a list: dict keys must not be ints
        return state

    def _after_load(self, where):
        self.milestones = Counter(_milestones(_as_list(self.milestones), where))


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch.

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float
    last_epoch : int
    """

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _check_settings(self, where):
        _check_factor(self.gamma, where, "gamma")

    def get_lr(self):
        if self._is_initial:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the learning rate along half a cosine, from ``base_lr`` to ``eta_min`` over ``T_max`` epochs.

    The target is the SGDR curve (without restarts)::

        lr(t) = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2

    computed, as PyTorch does, recursively from the current lr::

        lr(t) = eta_min + (lr(t-1) - eta_min) * (1 + cos(pi t / T_max)) / (1 + cos(pi (t-1) / T_max))

    Past ``T_max`` the curve continues as a cosine (rising back towards
    ``base_lr`` until ``2 T_max``, and so on); at the bottom, where the ratio
    above would be 0/0, a fixed increment is added instead.

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Half-period in epochs, >= 1.
    eta_min : float
        Minimum learning rate (default 0).
    last_epoch : int
    """

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def _check_settings(self, where):
        self.T_max = _check_int(self.T_max, where, "T_max", 1)
        _check_rate(self.eta_min, where, "eta_min")

    def get_lr(self):
        groups = self.optimizer.param_groups
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return [group["lr"] for group in groups]
        if (t - 1 - T) % (2 * T) == 0:
            # Leaving the bottom of the cosine: the ratio below would be 0/0.
            return [group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base_lr, group in zip(self.base_lrs, groups)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (group["lr"] - eta_min) + eta_min for group in groups]



def _milestones(values, where: str) -> list:
    values = list(values)
    for m in values:
        _check_int(m, where, "every milestone", 0)
    return [int(m) for m in values]
