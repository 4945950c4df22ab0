"""``ReduceLROnPlateau``: lower the learning rate when a metric stops improving, as PyTorch's does."""

from __future__ import annotations

import math

from ._scheduler_base import (LRScheduler, _check_choice, _check_int, _check_optimizer, _check_rate, _check_rates,
                              _check_real, _per_group)

__all__ = ["ReduceLROnPlateau"]


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
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = _per_group(list(min_lr), optimizer, where, "min_lr")
        else:
            self.default_min_lr = _check_rate(min_lr, where, "min_lr")
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience, self.cooldown, self.eps = patience, cooldown, eps
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
        self._check_settings(where)

    def _check_settings(self, where):
        _check_real(self.factor, where, "factor")
        if not 0 <= self.factor < 1.0:
            raise ValueError(f"{where}: factor should be < 1.0 and >= 0, got {self.factor}")
        for name in ("patience", "cooldown", "cooldown_counter", "num_bad_epochs"):
            setattr(self, name, _check_int(getattr(self, name), where, name, 0))
        _check_rate(self.threshold, where, "threshold")
        _check_rate(self.eps, where, "eps")
        _check_choice(self.mode, where, "mode", ("min", "max"))
        _check_choice(self.threshold_mode, where, "threshold_mode", ("rel", "abs"))
        _check_rates(list(self.min_lrs), where, "min_lr", len(self.min_lrs))
        if self.default_min_lr is not None:
            _check_rate(self.default_min_lr, where, "default_min_lr")
        _check_real(self.best, where, "best")
        if math.isnan(self.best):
            raise ValueError(f"{where}: best is NaN")

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
        default_min_lr = self.default_min_lr
        self.default_min_lr = None  # left out of the state dict when it was None
        try:
            super().load_state_dict(state_dict)
        except (TypeError, ValueError):
            self.default_min_lr = default_min_lr
            raise

    def _check_counters(self, where):
        _check_int(self.last_epoch, where, "last_epoch", 0)
        _check_rates(self._last_lr, where, "_last_lr", len(self.optimizer.param_groups))
