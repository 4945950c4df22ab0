"""Process-wide switches: gradient recording and debug mode.

``no_grad()`` works like ``torch.no_grad()``: inside it, layers do not keep
what their backward pass would need, which saves memory during evaluation.
``set_debug(True)``, ``with debug():`` or ``NUMCONV_DEBUG=1`` in the
environment makes every layer check its forward and backward outputs for NaN
and Inf and name the first layer that made one (``numconv/nn/_debug.py``).
"""

from __future__ import annotations

import contextlib
import os

_grad_enabled = True
_debug = os.environ.get("NUMCONV_DEBUG", "") not in ("", "0", "false", "False")


def is_grad_enabled() -> bool:
    """True unless inside a :func:`no_grad` block."""
    return _grad_enabled


@contextlib.contextmanager
def no_grad():
    """Context manager: forward passes inside it keep nothing for backward."""
    global _grad_enabled
    previous = _grad_enabled
    _grad_enabled = False
    try:
        yield
    finally:
        _grad_enabled = previous


def set_debug(enabled: bool = True) -> None:
    """Turn the NaN/Inf check on every forward and backward output on or off."""
    global _debug
    _debug = bool(enabled)


def is_debug() -> bool:
    """Whether debug mode is on."""
    return _debug


@contextlib.contextmanager
def debug(enabled: bool = True):
    """Context manager: debug mode on (or off) inside the block, as before after it.

    Examples
    --------
    >>> with numconv.debug():
    ...     loss = criterion(model(x), y)   # FloatingPointError names the first layer making NaN/Inf
    """
    global _debug
    previous = _debug
    _debug = bool(enabled)
    try:
        yield
    finally:
        _debug = previous
