"""What ``numconv train`` settles before the first batch: its settings, its output folder, a resume plan.

Three rules, each checked up front so that a mistake costs no training time:

* **Results are never overwritten silently.** A folder that already holds a
  run (``last.npz``, ``best.npz`` or ``history.json``) is refused unless the
  command says ``--resume`` (continue it) or ``--overwrite`` (start again:
  the old run's files are deleted first, so no stale ``best.npz`` survives).
* **A resumed run is the run that was saved.** Settings left out of the
  command are taken from the checkpoint; a setting given with another value
  than the saved one (model, data set, optimiser, learning rate, momentum,
  weight decay, batch size, schedule, seed, image limits) is refused, naming
  both values. Only ``--epochs`` may change: the cosine schedule is then
  re-planned to be exactly what a fresh run of the new length has at that
  epoch.
* **The output folder can take the run.** ``--out`` must not be a file or lie
  under one; the folder must be writable (a probe file is created and
  removed) and have room for the checkpoints (estimated from the model's size).
"""

from __future__ import annotations

import math
import os
import shutil
import warnings

from ._shared import CLIError

#: files a run writes into its folder; their presence means "a run lives here"
RUN_FILES = ("last.npz", "best.npz", "history.json", "history.csv", "curves.png", "feature_maps.png",
             "predictions.npz", "report.html")
_RUN_MARKERS = ("last.npz", "best.npz", "history.json")

#: the defaults of a fresh run, for the flags a resumed run takes from its checkpoint instead
FRESH_DEFAULTS = {"model": "lenet5", "dataset": "sample", "optimizer": "sgd", "batch_size": 64, "epochs": 10,
                  "scheduler": "cosine", "seed": 0}
#: momentum applies to these optimisers; the default where the flag is absent
MOMENTUM_DEFAULT = {"sgd": 0.9, "rmsprop": 0.0}
#: flags a resumed run must keep, with where the saved value lives in the checkpoint's config
KEPT_ON_RESUME = {
    "model": ("model", "name"), "dataset": ("data", "dataset"), "optimizer": ("train", "optimizer"),
    "batch_size": ("train", "batch_size"), "lr": ("train", "lr"), "momentum": ("train", "momentum"),
    "weight_decay": ("train", "weight_decay"), "scheduler": ("train", "scheduler"), "seed": ("train", "seed"),
    "limit_train": ("train", "limit_train"), "limit_test": ("train", "limit_test"),
}


# ---------------------------------------------------------------------------- flag values
#: the values a run can use: (lowest, below this, what the message says). Integers for the counts and the seed.
SETTING_RANGES = {
    "epochs": (1, math.inf, "at least 1"), "batch_size": (1, math.inf, "at least 1"),
    "limit_train": (1, math.inf, "at least 1"), "limit_test": (1, math.inf, "at least 1"),
    "seed": (0, math.inf, "0 or more"),
    "lr": (0.0, math.inf, "finite and >= 0"), "momentum": (0.0, 1.0, "in [0, 1)"),
    "weight_decay": (0.0, math.inf, "finite and >= 0"),
}
_INTEGER_SETTINGS = ("epochs", "batch_size", "limit_train", "limit_test", "seed")


def in_range(name: str, value) -> bool:
    """Whether ``value`` (not None) is a number of the right kind within ``SETTING_RANGES[name]``."""
    kinds = int if name in _INTEGER_SETTINGS else (int, float)
    low, below, _ = SETTING_RANGES[name]
    return not isinstance(value, bool) and isinstance(value, kinds) and low <= value < below


def check_flag_values(args) -> None:
    """Refuse flag values no run can use, each with one line naming the flag."""
    for name, (_, _, expected) in SETTING_RANGES.items():
        value = getattr(args, name)
        if value is not None and not in_range(name, value):
            raise CLIError(f"--{name.replace('_', '-')} must be {expected}, got {value}")


def fill_fresh_defaults(args) -> None:
    """A fresh run: every flag left out takes its default; --momentum only where it means something."""
    for name, value in FRESH_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    _check_momentum_applies(args)
    if args.momentum is None:
        args.momentum = MOMENTUM_DEFAULT.get(args.optimizer)


def _check_momentum_applies(args) -> None:
    if args.momentum is not None and args.optimizer not in MOMENTUM_DEFAULT:
        raise CLIError(f"--momentum applies to {' and '.join(MOMENTUM_DEFAULT)}, not {args.optimizer} "
                       "(Adam-style optimizers keep their own running averages, set by betas); leave it out")


# ---------------------------------------------------------------------------- the output folder
def check_output_folder(out: str, resume: bool, overwrite: bool) -> None:
    """Refuse an --out that is (or lies under) a file, and a run folder the command would overwrite."""
    if resume and overwrite:
        raise CLIError("--resume continues the run in the output folder and --overwrite starts it again: "
                       "give one of them")
    path = os.path.abspath(out)
    while True:
        if os.path.lexists(path) and not os.path.isdir(path):
            what = "is a file" if path == os.path.abspath(out) else f"lies under '{path}', which is a file"
            raise CLIError(f"--out '{out}' {what}, not a folder; choose another --out")
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    if resume or overwrite:
        return
    present = [name for name in _RUN_MARKERS if os.path.lexists(os.path.join(out, name))]
    if present:
        raise CLIError(f"'{out}' already holds a run ({', '.join(present)}); pass --resume to continue it, "
                       "--overwrite to delete it and start again, or --out for another folder")


def prepare_output_folder(out: str, overwrite: bool, bytes_needed: int) -> None:
    """Create the folder, prove it is writable and roomy enough, and (with --overwrite) clear the old run."""
    from ..data._files import create_temp

    made = _missing_folders(out)  # the folders this call creates: removed again if the run is refused here
    try:
        os.makedirs(out, exist_ok=True)
        fd, probe = create_temp(_Path(out, "write-probe"))
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        _remove_empty(made)
        raise CLIError(f"cannot write in the output folder '{out}': {error.strerror or error}") from None
    free = shutil.disk_usage(out).free
    if free < bytes_needed:
        _remove_empty(made)
        raise CLIError(f"the output folder '{out}' has {_size(free)} free, but the run's checkpoints need about "
                       f"{_size(bytes_needed)}; free some space or choose another --out")
    if overwrite:
        for name in RUN_FILES:
            target = os.path.join(out, name)
            if os.path.lexists(target):
                try:
                    os.unlink(target)
                except OSError as error:
                    raise CLIError(f"--overwrite: cannot delete '{target}': {error.strerror or error}") from None


def _missing_folders(out: str) -> list:
    """``out`` and each of its parents that does not exist yet, deepest first."""
    missing, folder = [], os.path.abspath(out)
    while folder and not os.path.exists(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return missing


def _remove_empty(folders: list) -> None:
    """Remove the folders a refused run created (deepest first), if still empty."""
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:
            break


def checkpoint_bytes(model, optimizer_name: str) -> int:
    """A generous estimate of the disk a run needs: last.npz, best.npz and one temporary copy."""
    per_param = {"sgd": 2, "rmsprop": 4, "adam": 4, "adamw": 4, "adagrad": 2}.get(optimizer_name, 4)
    weights = sum(p.data.nbytes for p in model.parameters()) + sum(b.nbytes for b in model.buffers())
    return 3 * per_param * weights + (4 << 20)  # + room for histories, figures and headers


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def _Path(folder, name):
    from pathlib import Path

    return Path(folder) / name


# ---------------------------------------------------------------------------- resume
def saved_settings(out: str):
    """``(checkpoint, path)`` of the run in ``out``, read without restoring anything."""
    from ..checkpoint import load_checkpoint

    path = os.path.join(out, "last.npz")
    if not os.path.lexists(path):
        raise CLIError(f"nothing to resume: there is no checkpoint '{path}'")
    return load_checkpoint(path), path


def merge_resume(args, config: dict, done: int, path: str) -> None:
    """Fill the flags left out from the saved run; refuse any flag that contradicts it."""
    from ..models import _canonical

    saved = {}
    for name, (section, key) in KEPT_ON_RESUME.items():
        block = config.get(section)
        if isinstance(block, dict) and key in block:
            saved[name] = block[key]
            _check_saved_value(name, block[key], path)
    for name, value in saved.items():
        requested = getattr(args, name)
        if name == "model" and requested is not None:
            requested = _canonical(requested) or requested
        if requested is None:
            if name != "momentum" or saved.get("optimizer") in MOMENTUM_DEFAULT:
                setattr(args, name, value)
        elif name == "weight_decay" and (requested or 0.0) == (value or 0.0):
            continue  # --weight-decay 0 is what a run saved without one used
        elif requested != value:
            flag = f"--{name.replace('_', '-')}"
            raise CLIError(f"cannot resume '{path}' with {flag} {requested}: the run was trained with {flag} "
                           f"{value}; leave {flag} out (or give the saved value), or start a new run with "
                           "--overwrite or another --out")
    if args.epochs is None:
        saved_epochs = config.get("train", {}).get("epochs", done + 1) if isinstance(config.get("train"), dict) \
            else done + 1
        if isinstance(saved_epochs, bool) or not isinstance(saved_epochs, int):
            raise CLIError(f"the checkpoint '{path}' holds epochs = {saved_epochs!r}, which no run of numconv train "
                           "writes (was the file edited?); pass --epochs")
        args.epochs = saved_epochs
    if args.epochs <= done:
        raise CLIError(f"the run in '{path}' has already trained {done} epoch{'s' if done != 1 else ''}; pass "
                       f"--epochs {done + 1} or more to train further")
    fill_fresh_defaults(args)


def _check_saved_value(name: str, value, path: str) -> None:
    """Refuse a setting read from a checkpoint that no run of numconv train could have written.

    The flags' own checks (argparse's choices, ``check_flag_values``) never see these values, so a checkpoint
    saved by hand or edited would otherwise fail later as 'a bug', or train with a setting ignored.
    """
    from ._shared import DATASETS, DEFAULT_LR, SCHEDULERS

    choices = {"dataset": DATASETS, "optimizer": DEFAULT_LR, "scheduler": SCHEDULERS}
    if name == "model":
        valid = isinstance(value, str) and bool(value)
    elif name in choices:
        valid = value in choices[name]
    else:  # a number; the limits and the optimiser's hyper-parameters may be None (not given)
        valid = in_range(name, value) if value is not None else name not in ("batch_size", "seed")
    if not valid:
        raise CLIError(f"the checkpoint '{path}' holds {name} = {value!r}, which no run of numconv train writes (was "
                       "the file saved by hand or edited?); start a new run with --overwrite or another --out")


def replan_schedule(scheduler, epochs: int, done: int):
    """Make a restored cosine schedule the one a fresh run of ``epochs`` epochs has after ``done`` of them.

    Returns a note for the user, or None when the length did not change.
    The new learning rates come from actually stepping a fresh schedule
    ``done`` times, so they equal a fresh run's bit for bit.
    """
    if scheduler is None or scheduler.T_max == epochs:
        return None
    import numpy as np

    from ..nn import Parameter
    from ..optim import SGD
    from ..optim.lr_scheduler import CosineAnnealingLR

    groups = [{"params": [Parameter(np.zeros(1))], "lr": lr} for lr in scheduler.base_lrs]
    probe = SGD(groups, lr=scheduler.base_lrs[0])
    fresh = CosineAnnealingLR(probe, T_max=epochs, eta_min=scheduler.eta_min)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the probe never takes an optimiser step
        for _ in range(done):
            fresh.step()
    old = scheduler.T_max
    for group, probe_group in zip(scheduler.optimizer.param_groups, probe.param_groups):
        group["lr"] = probe_group["lr"]
    scheduler.T_max = epochs
    scheduler._last_lr = fresh.get_last_lr()
    return (f"cosine schedule re-planned from {old} to {epochs} epochs: lr {fresh.get_last_lr()[0]:g} for epoch "
            f"{done + 1}, as in a fresh {epochs}-epoch run")
