"""Input checks shared by every public entry point.

numconv checks its inputs once, at the public boundary (a layer's
``forward``, a functional op, a loss), and the inner math trusts them. The
messages name what was expected and what came, so a learner can fix the call
without reading a NumPy traceback.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(x, where: str, name: str = "input") -> np.ndarray:
    """Return ``x`` as a float32/float64 ndarray, or raise a clear ``TypeError``.

    Python lists and scalars are converted (they become float64, as in NumPy).
    Integer, boolean, complex, object and float16 arrays are refused rather
    than silently converted: a learner who passes uint8 pixels should learn
    that they must scale them first.
    """
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple, float, int, np.generic)) and not isinstance(x, bool):
            x = np.asarray(x, dtype=np.float64)
        else:
            raise TypeError(f"{where}: expected {name} to be a NumPy array, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        hint = ""
        if np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
            hint = " (convert it first, e.g. x.astype(np.float32) / 255 for pixels)"
        elif x.dtype == np.float16:
            hint = " (float16 is not supported; use x.astype(np.float32))"
        raise TypeError(f"{where}: expected {name} of dtype float32 or float64, got {x.dtype}{hint}")
    return x


def check_ndim(x: np.ndarray, allowed: Sequence[int], where: str, layout: str, name: str = "input") -> None:
    """Raise ``ValueError`` unless ``x.ndim`` is one of ``allowed``.

    ``layout`` describes the expected axes, e.g. ``"(N, C, H, W) or (C, H, W)"``.
    """
    if x.ndim not in allowed:
        ranks = " or ".join(f"{r}-D" for r in allowed)
        raise ValueError(f"{where}: expected a {ranks} {name} {layout}, got shape {tuple(x.shape)} ({x.ndim}-D)")


def ntuple(value, n: int, where: str, name: str, minimum: int | None = None) -> tuple:
    """Expand an int or a length-``n`` sequence of ints into an ``n``-tuple.

    ``minimum`` (if given) is the smallest value allowed for each entry.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = (int(value),) * n
    elif isinstance(value, (tuple, list)) and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        if len(value) == 1:
            values = (int(value[0]),) * n
        elif len(value) != n:
            raise ValueError(f"{where}: expected {name} to be an int or a tuple of {n} ints, got {value!r}")
        else:
            values = tuple(int(v) for v in value)
    else:
        raise TypeError(f"{where}: expected {name} to be an int or a tuple of {n} ints, got {value!r}")
    if minimum is not None and any(v < minimum for v in values):
        raise ValueError(f"{where}: expected every entry of {name} to be >= {minimum}, got {value!r}")
    return values


def check_positive_int(value, where: str, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, raising unless it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where}: expected {name} to be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: expected {name} >= {minimum}, got {value}")
    return int(value)


def check_probability(value, where: str, name: str = "p") -> float:
    """Return ``value`` as a float in [0, 1], raising otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{where}: expected {name} to be a number, got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{where}: expected {name} between 0 and 1, got {value}")
    return float(value)


def shape_str(shape) -> str:
    """``(2, 3)`` -> ``"(2, 3)"``, used in messages."""
    return str(tuple(int(s) for s in shape))
