"""The checkpoint file: a nested structure of arrays and plain values encoded for one ``.npz``, and read back.

``encode`` turns the structure into arrays (entries under their path) and
one JSON description of everything else; ``numconv.checkpoint.save`` writes
them atomically. ``load`` reads a file back with ``allow_pickle=False``
after the checks in ``_ckpt_checks``; ``read_config`` reads the ``config``
section alone, without reading any array. ``numconv.checkpoint`` builds the
training checkpoints on top and tells the whole story.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

from ._ckpt_checks import (FORMAT, FORMAT_VERSION, META_KEY, CheckpointError, _check_container, _check_entries,
                           _check_header, _entry_header, _foreign_hint)

__all__ = ["encode", "load", "read_config"]


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


def encode(tree: dict, meta: dict | None = None) -> dict:
    """The ``.npz`` entries of ``tree``: its arrays by path, and the JSON description under ``__meta__``."""
    if not isinstance(tree, dict):
        raise TypeError(f"checkpoint.save: expected a dict, got {type(tree).__name__}")
    arrays: dict[str, np.ndarray] = {}
    description = _encode(tree, "", arrays)
    if META_KEY in arrays:
        raise ValueError(f"checkpoint.save: '{META_KEY}' is reserved")
    document = {"format": FORMAT, "version": FORMAT_VERSION, "tree": description, "meta": meta or {}}
    return {META_KEY: np.array(json.dumps(document)), **arrays}


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
    with _opened(path) as npz:
        document = _read_description(npz, path)
        expected = {node["key"]: node for node in _array_nodes(document["tree"])}
        _check_entries(expected, [n for n in npz.files if n != META_KEY], path)
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
    try:
        tree = _decode(document["tree"], arrays)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise CheckpointError(f"checkpoint '{path}' has a malformed description ({error})") from None
    return tree, document.get("meta", {})


def read_config(path) -> dict:
    """The ``config`` section of a training checkpoint, read without reading any array.

    ``numconv eval`` and ``predict`` rebuild the model from it, then load
    the checkpoint into that model, so every array's size is checked
    against the model before it is inflated.
    """
    path = os.fspath(path)
    with _opened(path) as npz:
        document = _read_description(npz, path)
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


@contextmanager
def _opened(path: str):
    """``np.load(path, allow_pickle=False)``, with any failure to read it turned into one ``CheckpointError`` line."""
    _check_container(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            yield npz
    except CheckpointError:
        raise
    except Exception as error:  # noqa: BLE001 - deliberately broad, see below
        # Truncation and bit flips surface as many different exceptions
        # (BadZipFile, EOFError, NotImplementedError for a garbled zip
        # version, ValueError from the .npy header parser, ...); whatever
        # it is, the file cannot be trusted. One clear line.
        detail = (str(error).strip().splitlines() or [""])[0]
        raise CheckpointError(
            f"checkpoint '{path}' is truncated or corrupt and cannot be read ({type(error).__name__}: {detail})"
        ) from None


def _read_description(npz, path: str) -> dict:
    """The JSON description stored under ``__meta__``, checked for format and version."""
    if META_KEY not in npz.files:
        raise CheckpointError(f"checkpoint '{path}' is not a numconv checkpoint (no '{META_KEY}' entry)"
                              + _foreign_hint(npz.files))
    if _entry_header(npz, META_KEY, path)[1].kind != "U":  # also caps its inflated size
        raise CheckpointError(f"checkpoint '{path}' is not a numconv checkpoint ('{META_KEY}' is not text)")
    try:
        document = json.loads(str(npz[META_KEY][()]))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"checkpoint '{path}' is corrupt: its description ('{META_KEY}') is not "
                              f"valid JSON ({error})") from None
    _check_header(document, path)
    return document
