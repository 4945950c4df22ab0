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
run code. It checks the format name and version, that the entries are
exactly the ones the document lists, with the recorded shapes and dtypes, and
turns any truncated or corrupted file into one ``CheckpointError`` that names
the file and the first problem found.

Writing is atomic: the file is written to a temporary name in the same
directory, flushed and fsync'ed, then renamed over the target with
``os.replace`` (atomic on POSIX and Windows) and the directory fsync'ed. A
crash mid-write leaves the previous checkpoint untouched.

Examples
--------
>>> from numconv import checkpoint
>>> checkpoint.save_checkpoint("run/last.npz", model, optimizer, epoch=3)   # doctest: +SKIP
>>> ckpt = checkpoint.load_checkpoint("run/last.npz", model, optimizer)      # doctest: +SKIP
>>> ckpt.epoch                                                               # doctest: +SKIP
3
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "CheckpointError", "FORMAT", "FORMAT_VERSION", "save", "load", "atomic_write",
    "save_checkpoint", "load_checkpoint", "Checkpoint", "save_state_dict", "load_state_dict",
]

FORMAT = "numconv-checkpoint"
FORMAT_VERSION = 1
META_KEY = "__meta__"


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt, or does not fit the model."""


# ---------------------------------------------------------------------------- atomic write
def atomic_write(path, write) -> None:
    """Write a file so that readers see the old version or the new one, never half of one.

    Parameters
    ----------
    path : str or os.PathLike
        The destination. Its directory must exist.
    write : callable
        ``write(f)`` writes the content into the open binary file ``f``.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # Leave no stray temp file; the old `path` (if any) is untouched.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------- encode / decode
def _encode(obj, path: str, arrays: dict):
    """Turn a nested structure into a JSON-able description; arrays go into ``arrays``.

    Every node is a small dict with a type tag ``t``. Dict items are kept as a
    list of ``[key, node]`` pairs so int keys stay ints.
    """
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biufcU":
            raise TypeError(f"checkpoint: cannot store '{path}' of dtype {obj.dtype} (no object arrays)")
        if path in arrays:
            raise ValueError(f"checkpoint: two entries would both be stored as '{path}'")
        arrays[path] = obj
        return {"t": "array", "key": path, "shape": list(obj.shape), "dtype": obj.dtype.str}
    if isinstance(obj, np.generic):
        # A NumPy scalar keeps its exact dtype (e.g. a float32 step counter).
        return {"t": "npscalar", "node": _encode(np.asarray(obj), path, arrays)}
    if hasattr(obj, "detach") and hasattr(obj, "numpy"):  # a torch tensor in a state dict
        return _encode(obj.detach().cpu().numpy(), path, arrays)
    if obj is None or isinstance(obj, (bool, str)):
        return {"t": "value", "v": obj}
    if isinstance(obj, int):
        return {"t": "value", "v": obj}
    if isinstance(obj, float):
        # JSON has no NaN/Infinity; Python's json writes them anyway and reads them back.
        return {"t": "float", "v": obj}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"checkpoint: dict keys must be str or int, got {key!r} at '{path}'")
            items.append([key, _encode(value, f"{path}/{key}" if path else str(key), arrays)])
        kind = "odict" if isinstance(obj, OrderedDict) else "dict"
        return {"t": kind, "items": items}
    if isinstance(obj, (list, tuple)):
        nodes = [_encode(v, f"{path}/{i}" if path else str(i), arrays) for i, v in enumerate(obj)]
        return {"t": "tuple" if isinstance(obj, tuple) else "list", "items": nodes}
    raise TypeError(
        f"checkpoint: cannot store '{path}' of type {type(obj).__name__} "
        "(only arrays, numbers, strings, None, lists, tuples and dicts)"
    )


def _decode(node, arrays):
    t = node["t"]
    if t == "array":
        return arrays[node["key"]]
    if t == "npscalar":
        return _decode(node["node"], arrays)[()]
    if t in ("value", "float"):
        return node["v"]
    if t in ("dict", "odict"):
        cls = OrderedDict if t == "odict" else dict
        return cls((key, _decode(value, arrays)) for key, value in node["items"])
    if t == "list":
        return [_decode(v, arrays) for v in node["items"]]
    if t == "tuple":
        return tuple(_decode(v, arrays) for v in node["items"])
    raise KeyError(f"unknown node type {t!r}")


def _array_nodes(node):
    """Yield every ``array`` node of a description, in order."""
    t = node["t"]
    if t == "array":
        yield node
    elif t == "npscalar":
        yield from _array_nodes(node["node"])
    elif t in ("dict", "odict"):
        for _, value in node["items"]:
            yield from _array_nodes(value)
    elif t in ("list", "tuple"):
        for value in node["items"]:
            yield from _array_nodes(value)


# ---------------------------------------------------------------------------- save / load
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
    """
    if not isinstance(tree, dict):
        raise TypeError(f"checkpoint.save: expected a dict, got {type(tree).__name__}")
    arrays: dict[str, np.ndarray] = {}
    description = _encode(tree, "", arrays)
    if META_KEY in arrays:
        raise ValueError(f"checkpoint.save: '{META_KEY}' is reserved")
    document = {"format": FORMAT, "version": FORMAT_VERSION, "tree": description, "meta": meta or {}}
    text = json.dumps(document)
    entries = {META_KEY: np.array(text), **arrays}

    def write(f):
        # Uncompressed: faster, and zip's CRC-32 still guards every entry.
        np.savez(f, **entries)

    atomic_write(path, write)


def load(path) -> tuple[dict, dict]:
    """Load a file written by :func:`save`.

    Returns
    -------
    tree : dict
        The nested structure, with ndarrays at the leaves (and the same int
        keys, lists and tuples as saved).
    meta : dict
        The ``meta`` given to :func:`save`.

    Raises
    ------
    CheckpointError
        The file is missing, not a numconv checkpoint, truncated, corrupt, of
        a newer format version, or its entries do not match its description.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            if META_KEY not in names:
                raise CheckpointError(f"checkpoint '{path}' is not a numconv checkpoint (no '{META_KEY}' entry)")
            document = json.loads(str(npz[META_KEY][()]))
            _check_header(document, path)
            expected = {node["key"]: node for node in _array_nodes(document["tree"])}
            _check_entries(expected, [n for n in names if n != META_KEY], path)
            arrays = {}
            for key, node in expected.items():
                value = npz[key]  # reading the entry verifies its CRC-32
                if list(value.shape) != node["shape"] or value.dtype.str != node["dtype"]:
                    raise CheckpointError(
                        f"checkpoint '{path}' is corrupt: entry '{key}' has shape {tuple(value.shape)} and dtype "
                        f"{value.dtype}, but the file's description says {tuple(node['shape'])} and "
                        f"{np.dtype(node['dtype'])}"
                    )
                arrays[key] = value
    except CheckpointError:
        raise
    except Exception as error:  # noqa: BLE001 - deliberately broad, see below
        # Truncation and bit flips surface as many different exceptions
        # (BadZipFile, EOFError, NotImplementedError for a garbled zip
        # version, ValueError from the .npy header parser, JSONDecodeError,
        # ...); whatever it is, the file cannot be trusted. One clear message.
        raise CheckpointError(
            f"checkpoint '{path}' is truncated or corrupt and cannot be read ({type(error).__name__}: {error})"
        ) from None
    try:
        tree = _decode(document["tree"], arrays)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise CheckpointError(f"checkpoint '{path}' has a malformed description ({error})") from None
    return tree, document.get("meta", {})


def _check_header(document, path) -> None:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint '{path}' is not a numconv checkpoint (format {document.get('format')!r})"
                              if isinstance(document, dict) else f"checkpoint '{path}' is not a numconv checkpoint")
    version = document.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise CheckpointError(
            f"checkpoint '{path}' has format version {version!r}; this numconv reads versions 1 to "
            f"{FORMAT_VERSION} (upgrade numconv to read it)"
        )
    if not isinstance(document.get("tree"), dict):
        raise CheckpointError(f"checkpoint '{path}' has no description of its contents")


def _check_entries(expected: dict, present: list, path) -> None:
    missing = [k for k in expected if k not in present]
    unexpected = [k for k in present if k not in expected]
    if missing:
        raise CheckpointError(f"checkpoint '{path}' is corrupt: entry '{missing[0]}' is listed but missing "
                              f"({len(missing)} missing in all)")
    if unexpected:
        raise CheckpointError(f"checkpoint '{path}' is corrupt: unexpected entry '{unexpected[0]}' "
                              f"({len(unexpected)} unexpected in all)")


# ---------------------------------------------------------------------------- model state dicts
def check_state_dict(model, state: dict, where: str = "checkpoint") -> None:
    """Raise ``CheckpointError`` naming the first key, shape or dtype that does not fit ``model``.

    Nothing is loaded; call this before ``model.load_state_dict`` so a
    mismatch leaves the model untouched and the message names the file.
    """
    ours = model.state_dict()
    for key in ours:
        if key not in state:
            raise CheckpointError(f"{where}: the model has '{key}' but the file does not "
                                  f"(the file has {list(state)[:4]}{'...' if len(state) > 4 else ''})")
    for key in state:
        if key not in ours:
            raise CheckpointError(f"{where}: the file has '{key}' but the model does not")
    for key, value in ours.items():
        theirs = np.asarray(state[key])
        if theirs.shape != value.shape:
            raise CheckpointError(
                f"{where}: '{key}' has shape {tuple(theirs.shape)} in the file but {tuple(value.shape)} in the model"
            )
        if theirs.dtype != value.dtype:
            raise CheckpointError(
                f"{where}: '{key}' has dtype {theirs.dtype} in the file but {value.dtype} in the model "
                f"(convert the model with .to(np.{theirs.dtype}) first)"
            )


def save_state_dict(model, path) -> None:
    """Save a model's ``state_dict`` (or a dict of arrays) as a checkpoint with one section, ``model``.

    Parameters
    ----------
    model : Module or dict of str -> ndarray
    path : str or os.PathLike
    """
    state = model.state_dict() if hasattr(model, "state_dict") else model
    if not isinstance(state, dict):
        raise TypeError(f"save_state_dict: expected a Module or a dict of arrays, got {type(model).__name__}")
    save(path, {"model": OrderedDict((k, np.asarray(v)) for k, v in state.items())})


def load_state_dict(path) -> "OrderedDict[str, np.ndarray]":
    """Load the ``model`` section of a checkpoint: ``{"0.weight": array, ...}``.

    Works on files from :func:`save_state_dict` and from :func:`save_checkpoint`.
    """
    tree, _ = load(path)
    if "model" not in tree:
        raise CheckpointError(f"checkpoint '{os.fspath(path)}' has no model state (sections: {sorted(tree)})")
    return OrderedDict(tree["model"])


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
    an error.

    Returns
    -------
    Checkpoint
    """
    path = os.fspath(path)
    tree, _ = load(path)
    for section in ("model", "epoch"):
        if section not in tree:
            raise CheckpointError(f"checkpoint '{path}' has no '{section}' section (it has {sorted(tree)})")
    ckpt = Checkpoint(
        model=OrderedDict(tree["model"]), optim=tree.get("optim"), scheduler=tree.get("scheduler"),
        loader=tree.get("loader"), rng_state=tree.get("rng"), epoch=int(tree["epoch"]),
        history=list(tree.get("history") or []), config=dict(tree.get("config") or {}), path=path,
    )
    if model is not None:
        check_state_dict(model, ckpt.model, f"checkpoint '{path}'")
        model.load_state_dict(ckpt.model)
    for obj, state, name in ((optimizer, ckpt.optim, "optimizer"), (scheduler, ckpt.scheduler, "scheduler"),
                             (loader, ckpt.loader, "data loader")):
        if obj is None:
            continue
        if state is None:
            raise CheckpointError(f"checkpoint '{path}' has no {name} state to restore")
        try:
            obj.load_state_dict(state)
        except (KeyError, ValueError, TypeError, IndexError) as error:
            raise CheckpointError(f"checkpoint '{path}': the {name} state does not fit ({error})") from None
    if restore_rng:
        if ckpt.rng_state is None:
            raise CheckpointError(f"checkpoint '{path}' has no random-generator state")
        from ._random import set_rng_state

        set_rng_state(ckpt.rng_state)
    return ckpt
