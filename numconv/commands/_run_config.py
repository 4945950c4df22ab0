"""The settings a training checkpoint records (``config``), checked before ``eval`` or ``predict`` uses them.

A tampered or hand-edited checkpoint could otherwise ask for a 94 GiB
classifier (``num_classes`` 3e8), divide by a zero ``std``, or pad by
"two" pixels; each bad value is refused with one line naming its key.
"""

from __future__ import annotations

import math
import numbers

from ..checkpoint import CheckpointError

#: bounds on what a model config may ask for: generous for the built-in models, far from exhausting memory
_MODEL_KWARGS = {"num_classes": (1, 100_000), "in_channels": (1, 4096), "input_size": (1, 4096)}
_TRANSFORM_INTS = {"image_size": (1, 4096), "pad": (0, 1024)}


def check_run_config(config: dict, path: str) -> None:
    """Raise ``CheckpointError`` naming the first config key whose value a run could not have."""
    spec = config.get("model")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise CheckpointError(f"checkpoint '{path}' does not record which model it holds (no config.model.name)")
    kwargs = spec.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise CheckpointError(_bad(path, "model.kwargs", kwargs, "a dict"))
    for key, value in kwargs.items():
        low, high = _MODEL_KWARGS.get(key, (None, None))
        if low is not None:
            _check_int(value, path, f"model.kwargs.{key}", low, high)
        elif not isinstance(value, (bool, numbers.Real, str)):
            raise CheckpointError(_bad(path, f"model.kwargs.{key}", value, "a number, bool or string"))
    data = config.get("data", {})
    if not isinstance(data, dict):
        raise CheckpointError(_bad(path, "data", data, "a dict"))
    if "dataset" in data and not isinstance(data["dataset"], str):
        raise CheckpointError(_bad(path, "data.dataset", data["dataset"], "a name"))
    classes = data.get("classes")
    if classes is not None and (not isinstance(classes, list) or not classes
                                or not all(isinstance(c, str) for c in classes)):
        raise CheckpointError(_bad(path, "data.classes", classes, "a non-empty list of class names"))
    transform = data.get("transform")
    if transform is not None:
        _check_transform(transform, path)


def _check_transform(transform, path: str) -> None:
    if not isinstance(transform, dict):
        raise CheckpointError(_bad(path, "data.transform", transform, "a dict"))
    for key, (low, high) in _TRANSFORM_INTS.items():
        if key in transform:
            _check_int(transform[key], path, f"data.transform.{key}", low, high)
    for key in ("mean", "std"):
        values = transform.get(key)
        if not isinstance(values, list) or not values or not all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            raise CheckpointError(_bad(path, f"data.transform.{key}", values, "a non-empty list of finite numbers"))
    if len(transform["mean"]) != len(transform["std"]):
        raise CheckpointError(f"checkpoint '{path}': config 'data.transform' has {len(transform['mean'])} means but "
                              f"{len(transform['std'])} stds")
    if not all(v > 0 for v in transform["std"]):
        raise CheckpointError(_bad(path, "data.transform.std", transform["std"], "positive numbers (it divides)"))


def _check_int(value, path: str, key: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise CheckpointError(_bad(path, key, value, f"an int from {low} to {high:,}"))


def _bad(path: str, key: str, value, expected: str) -> str:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return f"checkpoint '{path}': config '{key}' is {shown}; expected {expected}"
