"""numconv's one source of randomness.

Every random draw in numconv (weight initialisation, dropout masks, data
shuffling, random crops) comes from one NumPy ``Generator`` kept here, so
``numconv.manual_seed(s)`` makes a whole run repeatable, the way
``torch.manual_seed`` does. Components that need their own stream (a
``DataLoader`` with ``seed=``) make their own ``Generator`` instead.
"""

from __future__ import annotations

import contextlib
import json
import threading

import numpy as np

_generator = np.random.default_rng(0)
_local = threading.local()  # a per-thread replacement, set by a DataLoader worker for one batch


def manual_seed(seed: int) -> np.random.Generator:
    """Reset numconv's global generator to ``seed`` and return it.

    Parameters
    ----------
    seed : int
        Any non-negative integer.
    """
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: expected an integer seed, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: expected a non-negative seed, got {seed}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def get_generator() -> np.random.Generator:
    """The global generator (it changes identity after ``manual_seed``).

    Inside :func:`using_generator` (a ``DataLoader`` worker loading one
    batch) it is that block's generator instead, in that thread only.
    """
    override = getattr(_local, "generator", None)
    return _generator if override is None else override


@contextlib.contextmanager
def using_generator(generator: np.random.Generator):
    """Make ``get_generator()`` return ``generator`` in this thread while the block runs."""
    previous = getattr(_local, "generator", None)
    _local.generator = generator
    try:
        yield generator
    finally:
        _local.generator = previous


def get_rng_state() -> str:
    """The global generator's state as a JSON string (safe to store in ``.npz``)."""
    return json.dumps(_generator.bit_generator.state)


def set_rng_state(state: str) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    parsed = json.loads(state) if isinstance(state, (str, bytes)) else state
    bit_generator = getattr(np.random, parsed["bit_generator"])()
    bit_generator.state = parsed
    global _generator
    _generator = np.random.Generator(bit_generator)
