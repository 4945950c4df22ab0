"""The base class of the learning-rate schedules, and the checks they share.

Every schedule checks its settings twice: when it is built, and when a state
dict is loaded into it (a tampered or foreign checkpoint must not give a
negative learning rate, a NaN or a ZeroDivisionError many epochs later).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .._checks import check_choice, check_flag
from .optimizer import Optimizer, _plain

__all__ = ["LRScheduler"]


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


def _check_factor(value, where: str, name: str) -> float:
    """A multiplicative factor such as ``gamma``: a finite number > 0 (else the lr turns negative, 0 or NaN)."""
    _check_real(value, where, name)
    if not 0 < value < math.inf:
        raise ValueError(f"{where}: expected {name} to be finite and > 0, got {value}")
    return value


def _check_rate(value, where: str, name: str) -> float:
    """A learning rate (or a floor such as ``eta_min``): a finite number >= 0."""
    _check_real(value, where, name)
    if not 0 <= value < math.inf:
        raise ValueError(f"{where}: expected {name} to be finite and >= 0, got {value}")
    return value


def _check_rates(values, where: str, name: str, count: int) -> None:
    if not isinstance(values, list) or len(values) != count:
        raise ValueError(f"{where}: expected {name} to be a list of {count} learning rates (one per parameter "
                         f"group), got {values!r}")
    for value in values:
        _check_rate(value, where, name)


_check_bool = check_flag
_check_choice = check_choice


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
        self._check_settings(where)
        _check_rates(list(self.base_lrs), where, "every initial_lr", len(self.base_lrs))
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
        """Restore what :meth:`state_dict` returned (possibly after a trip through an ``.npz``).

        Every value is checked (types, ranges, one learning rate per group)
        before the scheduler changes; a bad one raises ``ValueError`` or
        ``TypeError`` naming the key, and the scheduler stays as it was.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{where}: expected a dict, got {type(state_dict).__name__}")
        unknown = [k for k in state_dict if k not in vars(self) and k != "optimizer"]
        if unknown:
            raise ValueError(f"{where}: unknown entry {unknown[0]!r} (was the state saved by another scheduler?)")
        before = dict(vars(self))
        try:
            for key, value in state_dict.items():
                if key != "optimizer":
                    setattr(self, key, _restore(value))
            self._after_load(where)
            self._check_counters(where)
            self._check_settings(where)
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            vars(self).clear()
            vars(self).update(before)
            if isinstance(error, (KeyError, AttributeError)):
                raise ValueError(f"{where}: malformed state ({error})") from None
            raise

    def _after_load(self, where: str) -> None:
        """Turn what came back from a file into the attribute types the schedule uses."""

    def _check_counters(self, where: str) -> None:
        """The bookkeeping every schedule has: epoch and step counts, and one lr per group."""
        count = len(self.optimizer.param_groups)
        _check_int(self.last_epoch, where, "last_epoch", 0)
        _check_int(self._step_count, where, "_step_count", 0)
        _check_rates(self.base_lrs, where, "base_lrs", count)
        _check_rates(self._last_lr, where, "_last_lr", count)

    def _check_settings(self, where: str) -> None:
        """Raise unless the schedule's own settings are valid (each subclass checks its own)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr})"
