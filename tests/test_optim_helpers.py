"""Helpers shared by the optimiser and scheduler tests (this module holds no tests).

``npz_round_trip`` stores a state dict the way a checkpoint writer would:
flattened to ``"a/b/c"`` keys, written with ``np.savez`` and read back with
``allow_pickle=False``. Lists of scalars come back as arrays, numbers as
0-d arrays, and lists of dicts as dicts keyed ``"0"``, ``"1"``, ... — what
``load_state_dict`` must accept.
"""

from __future__ import annotations

import io
import numbers

import numpy as np

_EMPTY_DICT = "{}"


def assert_plain(value, where="state_dict"):
    """Fail unless ``value`` is made of numbers, strings, bools, ndarrays, lists and dicts only."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, (str, int)) and not isinstance(k, bool), f"{where}: key {k!r} is not str/int"
            assert_plain(v, f"{where}[{k!r}]")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            assert_plain(v, f"{where}[{i}]")
    else:
        assert isinstance(value, (np.ndarray, str, bool, numbers.Real)) and not isinstance(value, np.generic), (
            f"{where}: {type(value).__name__} is not a plain value"
        )


def _flatten(prefix, value, out):
    if isinstance(value, dict):
        if not value:
            out[f"{prefix}/{_EMPTY_DICT}"] = np.zeros(0)
        for k, v in value.items():
            _flatten(f"{prefix}/{k}", v, out)
    elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        for i, v in enumerate(value):
            _flatten(f"{prefix}/{i}", v, out)
    else:
        out[prefix] = np.asarray(value)


def npz_round_trip(state: dict) -> dict:
    """``state`` after a trip through an ``.npz`` file (no pickling)."""
    flat = {}
    _flatten("root", state, flat)
    buffer = io.BytesIO()
    np.savez(buffer, **flat)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        root = {}
        for key in data.files:
            parts = key.split("/")[1:]
            node = root
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            if parts[-1] != _EMPTY_DICT:
                node[parts[-1]] = data[key]
    return root
