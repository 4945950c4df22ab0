"""``OneCycleLR``: the 1cycle policy, value for value ``torch.optim.lr_scheduler.OneCycleLR``."""

from __future__ import annotations

import math

from ._scheduler_base import (LRScheduler, _check_bool, _check_choice, _check_factor, _check_int, _check_optimizer,
                              _check_real, _per_group)
from .optimizer import _as_list

__all__ = ["OneCycleLR"]


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
        _check_factor(div_factor, where, "div_factor")
        _check_factor(final_div_factor, where, "final_div_factor")

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

        max_lrs = [_check_factor(v, where, "max_lr") for v in _per_group(max_lr, optimizer, where, "max_lr")]
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
            max_momentums = [_check_momentum(v, where, "max_momentum")
                             for v in _per_group(max_momentum, optimizer, where, "max_momentum")]
            base_momentums = [_check_momentum(v, where, "base_momentum")
                              for v in _per_group(base_momentum, optimizer, where, "base_momentum")]
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

    def _after_load(self, where):
        phases = _as_list(self._schedule_phases)
        if not all(isinstance(phase, dict) for phase in phases):
            raise ValueError(f"{where}: expected _schedule_phases to be a list of dicts, got {phases!r}")
        self._schedule_phases = [{k: (float(v) if k == "end_step" else str(v)) for k, v in phase.items()}
                                 for phase in phases]

    def _check_settings(self, where):
        self.total_steps = _check_int(self.total_steps, where, "total_steps", 1)
        _check_choice(self._anneal_func_type, where, "_anneal_func_type", ("cos", "linear"))
        _check_bool(self.cycle_momentum, where, "cycle_momentum")
        if self.cycle_momentum:
            _check_bool(self.use_beta1, where, "use_beta1")
        if self.last_epoch > self.total_steps:
            raise ValueError(f"{where}: last_epoch {self.last_epoch} is past total_steps {self.total_steps}")
        names = ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum")
        if len(self._schedule_phases) not in (2, 3):
            raise ValueError(f"{where}: expected 2 or 3 _schedule_phases, got {len(self._schedule_phases)}")
        for phase in self._schedule_phases:
            if set(phase) != {"end_step", "start_lr", "end_lr", "start_momentum", "end_momentum"}:
                raise ValueError(f"{where}: malformed entry of _schedule_phases: {phase!r}")
            if not math.isfinite(phase["end_step"]):
                raise ValueError(f"{where}: an end_step of _schedule_phases is {phase['end_step']}")
            for key in ("start_lr", "end_lr", "start_momentum", "end_momentum"):
                _check_choice(phase[key], where, f"_schedule_phases {key}", names)


def _check_momentum(value, where: str, name: str) -> float:
    if not 0 <= value < 1:
        raise ValueError(f"{where}: expected {name} in [0, 1), got {value}")
    return value
