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
import numbers
import warnings
from collections import Counter

import numpy as np

from .optimizer import Optimizer, _as_list, _plain

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "OneCycleLR",
           "ReduceLROnPlateau"]


def _check_optimizer(optimizer, where: str) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{where}: expected a numconv optimizer, got {type(optimizer).__name__}")


def _check_real(value, where: str, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: expected {name} to be a number, got {value!r}")
    return value


def _check_int(value, where: str, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: expected {name} to be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: expected {name} >= {minimum}, got {value}")
    return int(value)


def _per_group(value, optimizer, where: str, name: str) -> list:
    """One value per parameter group: a list as given, or a scalar repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(
                f"{where}: {name} must have one value per parameter group: got {len(value)} values for "
                f"{len(optimizer.param_groups)} groups"
            )
        return [_check_real(v, where, name) for v in value]
    return [_check_real(value, where, name)] * len(optimizer.param_groups)


def _restore(value):
    """Undo what an ``.npz`` round trip does: 0-d arrays to scalars, arrays to lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return [_restore(v) for v in value]
    if isinstance(value, dict):
        return {k: _restore(v) for k, v in value.items()}
    return value


class LRScheduler:
    """Base class of the schedules: keeps the epoch count and writes the learning rates.

    A subclass implements :meth:`get_lr`, which returns the learning rate of
    every group for epoch ``self.last_epoch`` (already advanced when it is
    called), usually from the current ``group["lr"]``.

    Parameters
    ----------
    optimizer : Optimizer
    last_epoch : int
        The index of the last epoch done; -1 (default) starts afresh and
        records each group's starting lr as ``group["initial_lr"]``. Another
        value resumes a run, and needs ``initial_lr`` in every group.

    Attributes
    ----------
    last_epoch : int
        How many times :meth:`step` has run since the start (0 after construction).
    base_lrs : list of float
        Each group's ``initial_lr``.
    """

    def __init__(self, optimizer, last_epoch: int = -1):
        where = type(self).__name__
        _check_optimizer(optimizer, where)
        _check_int(last_epoch, where, "last_epoch", -1)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{where}: param 'initial_lr' is not specified in param_groups[{i}] when resuming with "
                        f"last_epoch={last_epoch}; load the optimizer's state dict first, or use last_epoch=-1"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        # The constructor takes the first step (to epoch 0), which sets the starting lr.
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        """The learning rate of every group at epoch ``last_epoch``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr")

    def get_last_lr(self) -> list:
        """The learning rates the last step set, one per parameter group."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance one epoch (or batch) and set every group's learning rate."""
        if self._step_count == 1 and getattr(self.optimizer, "_steps_taken", 1) == 0:
            warnings.warn(
                f"{type(self).__name__}.step() was called before optimizer.step(). Call optimizer.step() "
                "first; otherwise the first value of the schedule is skipped.",
                UserWarning, stacklevel=2,
            )
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Every attribute but the optimiser, as plain values (``None`` ones left out)."""
        return {k: _plain(v) for k, v in vars(self).items() if k != "optimizer" and v is not None}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what :meth:`state_dict` returned (possibly after a trip through an ``.npz``)."""
        if not isinstance(state_dict, dict):
            raise TypeError(f"{type(self).__name__}.load_state_dict: expected a dict, got {type(state_dict).__name__}")
        for key, value in state_dict.items():
            if key != "optimizer":
                setattr(self, key, _restore(value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr})"


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
        self.step_size = _check_int(step_size, "StepLR", "step_size", 1)
        self.gamma = _check_real(gamma, "StepLR", "gamma")
        super().__init__(optimizer, last_epoch)

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
        milestones = list(milestones)
        for m in milestones:
            _check_int(m, "MultiStepLR", "every milestone", 0)
        self.milestones = Counter(int(m) for m in milestones)
        self.gamma = _check_real(gamma, "MultiStepLR", "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        hits = self.milestones.get(self.last_epoch, 0)
        if hits == 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma**hits for group in self.optimizer.param_groups]

    def state_dict(self):
        state = super().state_dict()
        state["milestones"] = sorted(self.milestones.elements())  # a list: dict keys must not be ints
        return state

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self.milestones = Counter(int(m) for m in _as_list(self.milestones))


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch.

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float
    last_epoch : int
    """

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = _check_real(gamma, "ExponentialLR", "gamma")
        super().__init__(optimizer, last_epoch)

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
        self.T_max = _check_int(T_max, "CosineAnnealingLR", "T_max", 1)
        self.eta_min = _check_real(eta_min, "CosineAnnealingLR", "eta_min")
        super().__init__(optimizer, last_epoch)

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


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topor, 2017): warm up to ``max_lr``, then anneal far below the start.

    Stepped once per *batch*. Over ``total_steps`` steps the lr rises from
    ``max_lr / div_factor`` to ``max_lr`` during the first ``pct_start`` of
    the cycle, then falls to ``initial_lr / final_div_factor``. With
    ``three_phase=True`` it first falls back to the initial lr
    (symmetrically) and only then to the minimum. With ``cycle_momentum``,
    the momentum (SGD, RMSprop) or ``beta1`` (Adam, AdamW) moves the other
    way, between ``max_momentum`` and ``base_momentum``.

    Parameters
    ----------
    optimizer : Optimizer
    max_lr : float or list of float (one per group)
    total_steps : int, optional
        The cycle's length; else ``epochs * steps_per_epoch``.
    epochs, steps_per_epoch : int, optional
    pct_start : float
        Share of the cycle spent rising (default 0.3).
    anneal_strategy : {"cos", "linear"}
    cycle_momentum : bool
        Default True; needs an optimiser with ``momentum`` or ``betas``.
    base_momentum, max_momentum : float or list of float
        Defaults 0.85 and 0.95.
    div_factor : float
        ``initial_lr = max_lr / div_factor`` (default 25).
    final_div_factor : float
        ``min_lr = initial_lr / final_div_factor`` (default 1e4).
    three_phase : bool
    last_epoch : int
        The index of the last *batch* done (default -1: start afresh).
    """

    def __init__(self, optimizer, max_lr, total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False, last_epoch: int = -1):
        where = "OneCycleLR"
        _check_optimizer(optimizer, where)
        if total_steps is not None:
            self.total_steps = _check_int(total_steps, where, "total_steps", 1)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (_check_int(epochs, where, "epochs", 1)
                                * _check_int(steps_per_epoch, where, "steps_per_epoch", 1))
        else:
            raise ValueError(f"{where}: you must define either total_steps OR (epochs AND steps_per_epoch)")
        _check_real(pct_start, where, "pct_start")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"{where}: expected pct_start between 0 and 1, got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{where}: anneal_strategy must be one of 'cos' or 'linear', got {anneal_strategy!r}")
        self._anneal_func_type = anneal_strategy
        _check_real(div_factor, where, "div_factor")
        _check_real(final_div_factor, where, "final_div_factor")

        # Each phase runs up to (and including) step end_step, moving from one
        # group entry (named here) to another.
        rise_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                dict(end_step=rise_end, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=float(2 * pct_start * self.total_steps) - 2, start_lr="max_lr", end_lr="initial_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
                dict(end_step=float(self.total_steps - 1), start_lr="initial_lr", end_lr="min_lr",
                     start_momentum="max_momentum", end_momentum="max_momentum"),
            ]
        else:
            self._schedule_phases = [
                dict(end_step=rise_end, start_lr="initial_lr", end_lr="max_lr",
                     start_momentum="max_momentum", end_momentum="base_momentum"),
                dict(end_step=float(self.total_steps - 1), start_lr="max_lr", end_lr="min_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
            ]

        max_lrs = _per_group(max_lr, optimizer, where, "max_lr")
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"{where}: optimizer must support momentum or beta1 with `cycle_momentum` option enabled "
                    f"({type(optimizer).__name__} has neither; pass cycle_momentum=False)"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group(max_momentum, optimizer, where, "max_momentum")
            base_momentums = _per_group(base_momentum, optimizer, where, "base_momentum")
            if last_epoch == -1:
                for group, top, bottom in zip(optimizer.param_groups, max_momentums, base_momentums):
                    self._set_momentum(group, top)
                    group["max_momentum"] = top
                    group["base_momentum"] = bottom
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group, value) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start, end, pct):
        """Move from ``start`` (pct = 0) to ``end`` (pct = 1)."""
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times; the specified number of total steps is "
                             f"{self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        momentum = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                        self._set_momentum(group, momentum)
                    break
                start_step = end_step
        return lrs

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        phases = _as_list(self._schedule_phases)
        self._schedule_phases = [{k: (float(v) if k == "end_step" else str(v)) for k, v in phase.items()}
                                 for phase in phases]


class ReduceLROnPlateau(LRScheduler):
    """Divide the learning rate when a metric has stopped improving.

    ``step(metric)`` is called once per epoch with, e.g., the validation
    loss. A value better than the best so far by more than ``threshold``
    resets the count of bad epochs; when more than ``patience`` bad epochs
    in a row have passed, every group's lr becomes
    ``max(lr * factor, min_lr)`` (unless that changes it by less than
    ``eps``), and the next ``cooldown`` epochs are not counted.

    "Better" means ``metric < best * (1 - threshold)`` for mode ``"min"``
    with threshold_mode ``"rel"``, ``metric < best - threshold`` with
    ``"abs"``, and the mirror images for mode ``"max"``.

    Parameters
    ----------
    optimizer : Optimizer
    mode : {"min", "max"}
    factor : float
        Default 0.1, must be < 1.
    patience : int
        Bad epochs tolerated before a reduction (default 10).
    threshold : float
        Default 1e-4.
    threshold_mode : {"rel", "abs"}
    cooldown : int
        Default 0.
    min_lr : float or list of float (one per group)
        Default 0.
    eps : float
        Default 1e-8.
    """

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr=0,
                 eps: float = 1e-8):
        where = "ReduceLROnPlateau"
        _check_optimizer(optimizer, where)
        if _check_real(factor, where, "factor") >= 1.0:
            raise ValueError(f"{where}: factor should be < 1.0, got {factor}")
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = _per_group(list(min_lr), optimizer, where, "min_lr")
        else:
            self.default_min_lr = _check_real(min_lr, where, "min_lr")
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = _check_int(patience, where, "patience", 0)
        self.cooldown = _check_int(cooldown, where, "cooldown", 0)
        self.eps = _check_real(eps, where, "eps")
        _check_real(threshold, where, "threshold")
        if mode not in ("min", "max"):
            raise ValueError(f"{where}: mode {mode!r} is unknown (expected 'min' or 'max')")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{where}: threshold mode {threshold_mode!r} is unknown (expected 'rel' or 'abs')")
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """Whether metric value ``a`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            return a < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return a > (best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metrics) -> None:
        """Record one epoch's metric and reduce the learning rates if it has plateaued.

        Parameters
        ----------
        metrics : float
            The monitored quantity (a number or a 0-d/size-1 array).
        """
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(f"ReduceLROnPlateau.step: expected the metric as a number, got {metrics!r}") from None
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: the optimizer now has {len(groups)} parameter groups but min_lr gave "
                    f"{len(self.min_lrs)} values; set scheduler.min_lrs to one value per group"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def load_state_dict(self, state_dict):
        self.default_min_lr = None  # left out of the state dict when it was None
        super().load_state_dict(state_dict)
