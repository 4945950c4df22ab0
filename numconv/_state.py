"""Switches that hold per thread: gradient recording and debug mode.

``no_grad()`` works like ``torch.no_grad()``: inside it, layer calls are not
recorded on the tape and layers keep nothing for backward, which saves memory
during evaluation. ``set_debug(True)``, ``with debug():`` or
``NUMCONV_DEBUG=1`` in the environment makes every layer check its forward
and backward outputs for NaN and Inf and name the first layer that made one
(``numconv/nn/_debug.py``), and makes the tape notice any in-place change of
an array a layer recorded, not only one that alters a sample of nine values
(``numconv/nn/tape_arrays.py``).

Both switches belong to the thread that sets them, as in PyTorch: a
``no_grad()`` block in one thread does not switch gradients off in another,
and a new thread starts with gradients on and debug mode as the environment
says.
"""

from __future__ import annotations

import contextlib
import os
import threading

_DEBUG_FROM_ENV = os.environ.get("NUMCONV_DEBUG", "") not in ("", "0", "false", "False")


class _Switches(threading.local):
    """One instance per thread (``threading.local`` runs ``__init__`` in each thread on first use)."""

    def __init__(self):
        self.grad_enabled = True
        self.debug = _DEBUG_FROM_ENV


_local = _Switches()


def is_grad_enabled() -> bool:
    """True unless this thread is inside a :func:`no_grad` block."""
    return _local.grad_enabled


@contextlib.contextmanager
def no_grad():
    """Context manager (or decorator): forward passes inside it record nothing for backward."""
    previous = _local.grad_enabled
    _local.grad_enabled = False
    try:
        yield
    finally:
        _local.grad_enabled = previous


@contextlib.contextmanager
def enable_grad():
    """Context manager: recording back on inside a :func:`no_grad` block."""
    previous = _local.grad_enabled
    _local.grad_enabled = True
    try:
        yield
    finally:
        _local.grad_enabled = previous


def set_debug(enabled: bool = True) -> None:
    """Turn debug mode on or off (in this thread).

    Debug mode checks every forward and backward output for NaN and Inf, and makes the tape's in-place
    check compare a checksum of each recorded array rather than nine sampled values.
    """
    _local.debug = bool(enabled)


def is_debug() -> bool:
    """Whether debug mode is on in this thread."""
    return _local.debug


@contextlib.contextmanager
def debug(enabled: bool = True):
    """Context manager: debug mode on (or off) inside the block, as before after it.

    Examples
    --------
    >>> with numconv.debug():
    ...     loss = criterion(model(x), y)   # FloatingPointError names the first layer making NaN/Inf
    """
    previous = _local.debug
    _local.debug = bool(enabled)
    try:
        yield
    finally:
        _local.debug = previous
