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

from .data._files import atomic_write

__all__ = [
    "CheckpointError", "FORMAT", "FORMAT_VERSION", "save", "load", "atomic_write",
    "save_checkpoint", "load_checkpoint", "Checkpoint", "save_state_dict", "load_state_dict",
]

FORMAT = "numconv-checkpoint"
FORMAT_VERSION = 1
META_KEY = "__meta__"


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, corrupt, or does not fit the model."""




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
            if _entry_header(npz, META_KEY, path)[1].kind != "U":
                raise CheckpointError(f"checkpoint '{path}' is not a numconv checkpoint ('{META_KEY}' is not text)")
            try:
                document = json.loads(str(npz[META_KEY][()]))
            except json.JSONDecodeError as error:
                raise CheckpointError(f"checkpoint '{path}' is corrupt: its description ('{META_KEY}') is not "
                                      f"valid JSON ({error})") from None
            _check_header(document, path)
            expected = {node["key"]: node for node in _array_nodes(document["tree"])}
            _check_entries(expected, [n for n in names if n != META_KEY], path)
            arrays = {}
            for key, node in expected.items():
                # The entry's own header is checked against the description before its data are read.
                shape, dtype = _entry_header(npz, key, path)
                if list(shape) != node["shape"] or dtype.str != node["dtype"]:
                    raise CheckpointError(
                        f"checkpoint '{path}' is corrupt: entry '{key}' has shape {tuple(shape)} and dtype "
                        f"{dtype}, but the file's description says {tuple(node['shape'])} and "
                        f"{np.dtype(node['dtype'])}"
                    )
                arrays[key] = npz[key]  # reading the entry verifies its CRC-32
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


_ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry, or the end record of an empty zip
_NPY_START = b"\x93NUMPY"


def _check_container(path: str) -> None:
    """Refuse, in one line, a file that is not even a zip archive.

    ``np.load`` guesses a file's kind from its first bytes (zip, ``.npy``,
    else pickle); this check gives each wrong kind its own message first.
    """
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    if os.path.isdir(path):
        raise CheckpointError(f"checkpoint '{path}' is a directory, not a file")
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as error:
        raise CheckpointError(f"checkpoint '{path}' cannot be read ({error.strerror or error})") from None
    if head.startswith(_ZIP_STARTS):
        return
    if not head:
        raise CheckpointError(f"checkpoint '{path}' is empty (0 bytes)")
    if head.startswith(_NPY_START):
        raise CheckpointError(f"checkpoint '{path}' is a single .npy array, not a numconv checkpoint (.npz)")
    if head[0] == 0x80:  # the PROTO opcode every pickle since protocol 2 starts with
        raise CheckpointError(f"checkpoint '{path}' is a Python pickle, not a numconv checkpoint; numconv never "
                              "unpickles files, because unpickling can run arbitrary code")
    if not any(head):
        raise CheckpointError(f"checkpoint '{path}' starts with zero bytes, not a zip (.npz) header: the file is "
                              "damaged (an interrupted copy, or a disk error)")
    raise CheckpointError(f"checkpoint '{path}' is not a zip (.npz) file, so not a numconv checkpoint "
                          f"(it starts with {head[:8]!r})")


def _foreign_hint(names) -> str:
    """A pointer for the files people most often mistake for a numconv checkpoint."""
    if any(name.endswith(".pkl") for name in names):
        return ("; it looks like a PyTorch file (torch.save), which holds pickles: load it with torch, then give "
                "its arrays to model.load_state_dict, or convert a torch model with numconv.interop.from_torch")
    return ""


def _entry_header(npz, key: str, path: str) -> tuple[tuple, np.dtype]:
    """The shape and dtype an entry's ``.npy`` header announces, read without reading (or unpickling) its data.

    Raises ``CheckpointError`` for an entry holding Python objects: such an
    entry is a pickle, and numconv never unpickles.
    """
    name = f"{key}.npy" if f"{key}.npy" in npz.zip.namelist() else key
    with npz.zip.open(name) as f:
        version = np.lib.format.read_magic(f)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise CheckpointError(f"checkpoint '{path}': entry '{key}' uses .npy format version "
                                  f"{version[0]}.{version[1]}, which numconv never writes")
        shape, _, dtype = read_header(f)
    if dtype.hasobject:
        raise CheckpointError(f"checkpoint '{path}': entry '{key}' holds Python objects (a pickle); numconv never "
                              "unpickles, because unpickling can run arbitrary code, so the file is refused")
    return shape, dtype


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

    Returns
    -------
    Checkpoint
    """
    from ._random import set_rng_state

    path = os.fspath(path)
    tree, _ = load(path)
    if "model" not in tree:
        raise CheckpointError(f"checkpoint '{path}' has no 'model' section (it has {sorted(tree)})")
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
