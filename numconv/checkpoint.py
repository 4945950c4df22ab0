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

import json
import os
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ._ckpt_checks import (FORMAT, FORMAT_VERSION, META_KEY, CheckpointError, _check_container, _check_entries, _check_header,
                           _entry_header, _foreign_hint, check_state_values, entry_limits)
from .data._files import atomic_write

__all__ = [
    "CheckpointError", "FORMAT", "FORMAT_VERSION", "save", "load", "atomic_write",
    "save_checkpoint", "load_checkpoint", "Checkpoint", "save_state_dict", "load_state_dict", "read_config",
]







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

    A missing folder is created. If ``path`` is a symlink, the file it
    points to is replaced and the link stays.
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

    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    os.makedirs(folder, exist_ok=True)  # save_checkpoint("run/last.npz") creates run/, as fit does
    atomic_write(path, write)


def load(path, check_entry=None) -> tuple[dict, dict]:
    """Load a file written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike
    check_entry : callable, optional
        ``check_entry(key, shape, dtype, path)`` is called for every array
        entry, from its header, before any entry's data is read; it raises
        ``CheckpointError`` to refuse the file (see ``entry_limits``).

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
        The file is missing, empty, not a zip (``.npz``) file, not a numconv
        checkpoint, truncated, corrupt, of a newer format version, holds
        Python objects (which would need unpickling), or its entries do not
        match its description. The message is one line naming the file.
    """
    path = os.fspath(path)
    _check_container(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = list(npz.files)
            if META_KEY not in names:
                raise CheckpointError(f"checkpoint '{path}' is not a numconv checkpoint (no '{META_KEY}' entry)"
                                      + _foreign_hint(names))
            if _entry_header(npz, META_KEY, path)[1].kind != "U":  # also caps its inflated size
                raise CheckpointError(f"checkpoint '{path}' is not a numconv checkpoint ('{META_KEY}' is not text)")
            try:
                document = json.loads(str(npz[META_KEY][()]))
            except json.JSONDecodeError as error:
                raise CheckpointError(f"checkpoint '{path}' is corrupt: its description ('{META_KEY}') is not "
                                      f"valid JSON ({error})") from None
            _check_header(document, path)
            expected = {node["key"]: node for node in _array_nodes(document["tree"])}
            _check_entries(expected, [n for n in names if n != META_KEY], path)
            for key, node in expected.items():
                # Every entry's own header is checked (against the description, and by check_entry)
                # before any data are read: refusing a file costs no more than reading its headers.
                shape, dtype = _entry_header(npz, key, path)
                if list(shape) != node["shape"] or dtype.str != node["dtype"]:
                    raise CheckpointError(
                        f"checkpoint '{path}' is corrupt: entry '{key}' has shape {tuple(shape)} and dtype "
                        f"{dtype}, but the file's description says {tuple(node['shape'])} and "
                        f"{np.dtype(node['dtype'])}"
                    )
                if check_entry is not None:
                    check_entry(key, shape, dtype, path)
            arrays = {key: npz[key] for key in expected}  # reading an entry verifies its CRC-32
    except CheckpointError:
        raise
    except Exception as error:  # noqa: BLE001 - deliberately broad, see below
        # Truncation and bit flips surface as many different exceptions
        # (BadZipFile, EOFError, NotImplementedError for a garbled zip
        # version, ValueError from the .npy header parser, JSONDecodeError,
        # ...); whatever it is, the file cannot be trusted. One clear line.
        detail = (str(error).strip().splitlines() or [""])[0]
        raise CheckpointError(
            f"checkpoint '{path}' is truncated or corrupt and cannot be read ({type(error).__name__}: {detail})"
        ) from None
    try:
        tree = _decode(document["tree"], arrays)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise CheckpointError(f"checkpoint '{path}' has a malformed description ({error})") from None
    return tree, document.get("meta", {})


# ---------------------------------------------------------------------------- model state dicts
def check_state_dict(model, state: dict, where: str = "checkpoint") -> None:
    """Raise ``CheckpointError`` naming the first key, shape or dtype that does not fit ``model``.

    The model's entries are checked in the model's order, so the message
    names the first layer that differs; then entries the model lacks.
    Nothing is loaded: call this before ``model.load_state_dict`` so that a
    mismatch leaves the model untouched and the message names the file.

    Parameters
    ----------
    model : Module
    state : dict of str -> ndarray
        E.g. the ``model`` section of a checkpoint.
    where : str
        How the message names the source, e.g. ``"checkpoint 'run/last.npz'"``.
    """
    ours = model.state_dict()
    for key, value in ours.items():
        if key not in state:
            listed = ", ".join(list(state)[:4]) + (", ..." if len(state) > 4 else "")
            raise CheckpointError(f"{where}: the model has '{key}' but the file does not "
                                  f"(the file has {listed or 'nothing'})")
        theirs = np.asarray(state[key])
        if theirs.shape != value.shape:
            raise CheckpointError(
                f"{where} has '{key}' of shape {tuple(theirs.shape)}; the model expects {tuple(value.shape)}"
            )
        if theirs.dtype != value.dtype:
            raise CheckpointError(
                f"{where} has '{key}' of dtype {theirs.dtype}; the model expects {value.dtype} "
                f"(convert the model with .to(np.{theirs.dtype}) first)"
            )
    for key in state:
        if key not in ours:
            raise CheckpointError(f"{where} has '{key}', which the model does not have")


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


def read_config(path) -> dict:
    """The ``config`` section of a training checkpoint, read without reading any array.

    ``numconv eval`` and ``predict`` rebuild the model from it, then load
    the checkpoint into that model, so every array's size is checked
    against the model before it is inflated.
    """
    path = os.fspath(path)
    _check_container(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            if META_KEY not in npz.files:
                raise CheckpointError(f"checkpoint '{path}' is not a numconv checkpoint (no '{META_KEY}' entry)"
                                      + _foreign_hint(npz.files))
            if _entry_header(npz, META_KEY, path)[1].kind != "U":
                raise CheckpointError(f"checkpoint '{path}' is not a numconv checkpoint ('{META_KEY}' is not text)")
            document = json.loads(str(npz[META_KEY][()]))
    except CheckpointError:
        raise
    except Exception as error:  # noqa: BLE001 - as in load(): any failure means the file cannot be trusted
        detail = (str(error).strip().splitlines() or [""])[0]
        raise CheckpointError(
            f"checkpoint '{path}' is truncated or corrupt and cannot be read ({type(error).__name__}: {detail})"
        ) from None
    _check_header(document, path)
    items = dict((k, v) for k, v in document["tree"].get("items", []) if isinstance(k, str))
    node = items.get("config")
    if node is None:
        return {}
    try:
        if any(True for _ in _array_nodes(node)):
            raise CheckpointError(f"checkpoint '{path}': 'config' holds arrays; it should hold plain settings")
        config = _decode(node, {})
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise CheckpointError(f"checkpoint '{path}' has a malformed description ({error})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"checkpoint '{path}': 'config' should be a dict, got {type(config).__name__}")
    return config


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


#: the bit generators numpy offers; a stored state must name one of them
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def _check_generator_state(state, path: str) -> None:
    """Refuse a random-generator state that ``set_rng_state`` could not (or should not) use."""
    if state is None:
        raise CheckpointError(f"checkpoint '{path}' has no random-generator state")
    try:
        parsed = json.loads(state) if isinstance(state, (str, bytes)) else state
        name = parsed["bit_generator"]
        if name not in _BIT_GENERATORS:
            raise ValueError(f"unknown bit generator {name!r}")
        getattr(np.random, name)().state = parsed  # numpy validates the state itself
    except (ValueError, TypeError, KeyError, OverflowError) as error:
        raise CheckpointError(f"checkpoint '{path}' has a malformed random-generator state ({error})") from None
