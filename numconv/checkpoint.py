"""Safe checkpoint files: one ``.npz``, no pickle, written atomically.

A checkpoint is everything a training run needs to continue exactly where it
stopped: the model's ``state_dict``, the optimizer's and the scheduler's
state, numconv's random-generator state, the data loader's shuffling state,
the epoch, the history, and the settings needed to rebuild the model and the
data transform. All of it goes into ONE ``.npz`` file:

* every array becomes its own entry, under a key that spells out where it
  lives: ``model/0.weight``, ``optim/state/3/momentum_buffer``, ...;
* everything else (numbers, strings, lists, the *shape* of the nested dicts)
  goes into one JSON document, stored as a 0-d unicode array under
  ``__meta__``. JSON keeps Python floats exactly (it writes ``repr``), and the
  document records which dict keys were ints, which containers were lists or
  tuples, and the shape and dtype of every array entry.

Loading uses ``np.load(..., allow_pickle=False)``, so a checkpoint can never
run code; an entry holding Python objects is refused by its header, before
numpy reads it. Loading checks the format name and version, that the entries
are exactly the ones the document lists, with the recorded shapes and dtypes,
and turns any empty, foreign, truncated or corrupted file into one
``CheckpointError`` line that names the file and the first problem found.
``load_checkpoint`` then checks the model's keys, shapes and dtypes and
restores model, optimizer, scheduler and loader all or nothing.

Writing is atomic: the file is written to a temporary name in the same
directory, flushed and fsync'ed, then renamed over the target with
``os.replace`` (atomic on POSIX and Windows) and the directory fsync'ed. A
crash mid-write leaves the previous checkpoint untouched. ``docs/robustness.md``
tells the whole story.

Examples
--------
>>> from numconv import checkpoint
>>> checkpoint.save_checkpoint("run/last.npz", model, optimizer, epoch=3)   # doctest: +SKIP
>>> ckpt = checkpoint.load_checkpoint("run/last.npz", model, optimizer)      # doctest: +SKIP
>>> ckpt.epoch                                                               # doctest: +SKIP
3
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ._ckpt_checks import (FORMAT, FORMAT_VERSION, CheckpointError, _check_generator_state, check_state_dict,
                           check_state_values, entry_limits)
from ._ckpt_file import encode, load, read_config
from .data._files import atomic_write

__all__ = [
    "CheckpointError", "FORMAT", "FORMAT_VERSION", "save", "load", "atomic_write",
    "save_checkpoint", "load_checkpoint", "Checkpoint", "save_state_dict", "load_state_dict", "read_config",
]


# ---------------------------------------------------------------------------- writing
def save(path, tree: dict, meta: dict | None = None) -> None:
    """Save a nested structure of arrays and plain values as one ``.npz``, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file (``.npz`` is customary but not added).
    tree : dict
        Nested dicts / lists / tuples whose leaves are ndarrays, NumPy
        scalars, Python numbers, strings or None. Each top-level key is a
        section (``"model"``, ``"optim"``, ...); arrays are stored under
        ``section/sub/key`` paths.
    meta : dict, optional
        Extra JSON-able information stored as is (e.g. the command line).

    A missing folder is created. If ``path`` is a symlink, the file it
    points to is replaced and the link stays. Reading is ``load``
    (``numconv/_ckpt_file.py``, with the encoding).
    """
    entries = encode(tree, meta)

    def write(f):
        # Uncompressed: faster, and zip's CRC-32 still guards every entry.
        np.savez(f, **entries)

    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    os.makedirs(folder, exist_ok=True)  # save_checkpoint("run/last.npz") creates run/, as fit does
    atomic_write(path, write)


# ---------------------------------------------------------------------------- model state dicts
def save_state_dict(obj, path) -> None:
    """Save the ``state_dict`` of a model, an optimizer or a scheduler as one atomic ``.npz``.

    A model's state (a flat dict of arrays) goes into the section ``model``;
    anything else (an optimizer's nested state) into the section ``state``.

    Parameters
    ----------
    obj : Module, Optimizer, LR scheduler, or a dict as their ``state_dict()`` returns
    path : str or os.PathLike
    """
    state = obj.state_dict() if hasattr(obj, "state_dict") else obj
    if not isinstance(state, dict):
        raise TypeError(f"save_state_dict: expected an object with state_dict() or a dict, got {type(obj).__name__}")
    is_arrays = all(isinstance(v, (np.ndarray, np.generic)) or hasattr(v, "detach") for v in state.values())
    if is_arrays:
        save(path, {"model": OrderedDict((k, np.asarray(v)) for k, v in state.items())})
    else:
        save(path, {"state": state})


def load_state_dict(path) -> dict:
    """Load what :func:`save_state_dict` saved, for ``obj.load_state_dict(...)``.

    Returns
    -------
    OrderedDict of str -> ndarray, or dict
        A model's state (also the ``model`` section of a file written by
        :func:`save_checkpoint`), or the optimizer's / scheduler's state.
    """
    tree, _ = load(path)
    if "model" in tree:
        return OrderedDict(tree["model"])
    if "state" in tree:
        return tree["state"]
    raise CheckpointError(f"checkpoint '{os.fspath(path)}' has no saved state (sections: {sorted(tree)})")


# ---------------------------------------------------------------------------- training checkpoints
@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` read.

    Attributes
    ----------
    model : OrderedDict of str -> ndarray
        The model's state dict.
    optim, scheduler, loader : dict or None
        The state dicts of the optimizer, the LR scheduler and the training
        data loader (None where none was saved).
    rng_state : str or None
        numconv's global generator state (``numconv.get_rng_state()``).
    epoch : int
        How many epochs were complete when the file was written.
    history : list of dict
        One dict of metrics per completed epoch.
    config : dict
        How to rebuild the model and the data (model name and kwargs,
        dataset, transform settings, ...).
    """

    model: OrderedDict
    optim: dict | None = None
    scheduler: dict | None = None
    loader: dict | None = None
    rng_state: str | None = None
    epoch: int = 0
    history: list = field(default_factory=list)
    config: dict = field(default_factory=dict)
    path: str = ""


def save_checkpoint(path, model, optimizer=None, scheduler=None, loader=None, *, epoch: int = 0,
                    history=None, config=None, rng_state: str | None = None) -> None:
    """Save a whole training state as one atomic ``.npz``.

    Parameters
    ----------
    path : str or os.PathLike
    model : Module
    optimizer, scheduler, loader : objects with ``state_dict()``, optional
    epoch : int
        Completed epochs.
    history : list of dict, optional
        Per-epoch metrics (plain numbers and strings).
    config : dict, optional
        JSON-able settings to rebuild the model and data (e.g.
        ``{"model": {"name": "lenet5", "kwargs": {}}, "transform": {...}}``).
    rng_state : str, optional
        Defaults to ``numconv.get_rng_state()`` now.
    """
    from ._random import get_rng_state

    tree = {
        "model": model.state_dict(),
        "optim": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "loader": loader.state_dict() if loader is not None and hasattr(loader, "state_dict") else None,
        "rng": get_rng_state() if rng_state is None else rng_state,
        "epoch": int(epoch),
        "history": list(history or []),
        "config": dict(config or {}),
    }
    save(path, tree)


def load_checkpoint(path, model=None, optimizer=None, scheduler=None, loader=None,
                    restore_rng: bool = False) -> Checkpoint:
    """Read a checkpoint and (optionally) restore it into the given objects.

    Each object passed is restored from its section: ``model`` (after
    checking every key, shape and dtype), ``optimizer``, ``scheduler``,
    ``loader``; ``restore_rng=True`` also restores numconv's global
    generator. A section the file lacks, for an object that was passed, is
    an error. Restoring is all or nothing: if any object refuses its state,
    the ones already restored get their previous state back before the
    ``CheckpointError`` is raised.

    With a ``model``, every entry's size is checked from its header before
    any data are read (see ``entry_limits``): a small file whose entries
    would inflate to gigabytes is refused at once.

    Returns
    -------
    Checkpoint
    """
    from ._random import set_rng_state

    path = os.fspath(path)
    tree, _ = load(path, entry_limits(model) if model is not None else None)
    if "model" not in tree:
        raise CheckpointError(f"checkpoint '{path}' has no 'model' section (it has {sorted(tree)})")
    check_state_values(tree, path)
    ckpt = Checkpoint(
        model=OrderedDict(tree["model"]), optim=tree.get("optim"), scheduler=tree.get("scheduler"),
        loader=tree.get("loader"), rng_state=tree.get("rng"), epoch=int(tree.get("epoch", 0)),
        history=list(tree.get("history") or []), config=dict(tree.get("config") or {}), path=path,
    )
    # Check everything that can be checked before anything changes.
    if model is not None:
        check_state_dict(model, ckpt.model, f"checkpoint '{path}'")
    sections = [(model, ckpt.model, "model"), (optimizer, ckpt.optim, "optimizer"),
                (scheduler, ckpt.scheduler, "scheduler"), (loader, ckpt.loader, "data loader")]
    sections = [(obj, state, name) for obj, state, name in sections if obj is not None]
    for obj, state, name in sections:
        if state is None:
            raise CheckpointError(f"checkpoint '{path}' has no {name} state to restore")
    if restore_rng:
        _check_generator_state(ckpt.rng_state, path)

    restored = []  # (object, its state before) to undo on failure
    try:
        for obj, state, name in sections:
            before = obj.state_dict()
            try:
                obj.load_state_dict(state)
            except (KeyError, ValueError, TypeError, IndexError) as error:
                raise CheckpointError(f"checkpoint '{path}': the {name} state does not fit ({error})") from None
            restored.append((obj, before))
        if restore_rng:
            set_rng_state(ckpt.rng_state)
    except BaseException:
        for obj, before in reversed(restored):
            obj.load_state_dict(before)
        raise
    return ckpt
