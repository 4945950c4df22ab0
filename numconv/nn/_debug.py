"""Debug mode: name the first layer whose output holds a NaN or an Inf.

With ``numconv.set_debug(True)``, ``with numconv.debug():`` or
``NUMCONV_DEBUG=1`` in the environment, every layer's forward output, every
backward output (the gradient with respect to the layer's input) and the
gradients of the layer's own parameters are checked for NaN and Inf as soon
as the layer returns. The first one found raises ``FloatingPointError``
naming the layer by its dotted path in the model and saying whether the bad
value came in with the layer's input or was made by the layer itself::

    model.features.3 (Conv2d) produced NaN in its forward output (2 of 1,024 values;
    first at index (0, 5, 2, 7)); its input was finite

Because a layer's check runs when it returns, and a container returns after
its children, the error names the innermost layer at fault: in the forward
pass the earliest one, in the backward pass the first one the gradient
reached.

How it hooks in: ``Module.__call__`` routes through :func:`checked_forward`
and every ``backward`` a ``Module`` subclass defines is wrapped by
:func:`checked_backward` (in ``Module.__init_subclass__``), so custom modules
are covered without writing anything. With debug mode off, the cost is one
boolean test per call.

Paths are worked out when the outermost call starts (``model`` is whatever
module was called first; its children are ``model.0``, ``model.features``,
...); a layer or loss called on its own is named by its class. A module that
runs inside the model without being registered as a sub-module is named as
such.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .. import _state

# Modules whose forward or backward is running, outermost first.
_active: list = []
# During the outermost call: {id(module): dotted path} and the ids of the arrays the call received.
_paths: dict = {}
_root_inputs: set = set()

_ROOT = "model"


class _Bad(NamedTuple):
    """Where an array holds non-finite values, for the message."""

    n_nan: int
    n_inf: int
    size: int
    first: tuple  # index of the first non-finite value
    item: int | None  # position in a tuple/list output, None for a single array
    array_id: int


# ---------------------------------------------------------------------------- the two hooks
def checked_forward(module, args, kwargs):
    """Run ``module.forward(*args, **kwargs)`` and check what it returns."""
    if not _active:
        _start(module, args, kwargs)
    _active.append(module)
    try:
        out = module.forward(*args, **kwargs)
    finally:
        _active.pop()
    bad = _find_bad(out)
    if bad is not None:
        received = [*args, *kwargs.values()]
        raise FloatingPointError(
            _message(module, "its forward output", bad)
            + "; " + _received_report(received, "its input", "its inputs", "the data passed to the model")
        )
    return out


def checked_backward(backward):
    """Wrap a ``backward`` method so that debug mode checks its result."""

    @functools.wraps(backward)
    def backward_checked_in_debug_mode(self, *args, **kwargs):
        if not _state._debug:
            return backward(self, *args, **kwargs)
        return _run_backward(self, backward, args, kwargs)

    return backward_checked_in_debug_mode


def _run_backward(module, backward, args, kwargs):
    if _active and _active[-1] is module:
        # ``super().backward(...)`` from inside this module's own backward: checked once, by the outer call.
        return backward(module, *args, **kwargs)
    if not _active:
        _start(module, args, kwargs)
    _active.append(module)
    try:
        grad = backward(module, *args, **kwargs)
    finally:
        _active.pop()
    received = [*args, *kwargs.values()]
    bad = _find_bad(grad)
    if bad is not None:
        raise FloatingPointError(
            _message(module, "its backward output, the gradient w.r.t. its input", bad)
            + "; " + _received_report(received, "the gradient it received", "the gradients it received",
                                         "the gradient passed to the model's backward")
        )
    for name, p in module._parameters.items():
        bad = None if p is None or p.grad is None else _find_bad(p.grad)
        if bad is not None:
            raise FloatingPointError(
                _message(module, f"the gradient of its parameter '{name}' ({name}.grad)", bad)
                + "; " + _received_report(received, "the gradient it received", "the gradients it received",
                                         "the gradient passed to the model's backward")
            )
    return grad


# ---------------------------------------------------------------------------- naming
def _start(root, args, kwargs) -> None:
    """The outermost call: name every module in ``root``'s tree, remember the data it was given."""
    _paths.clear()
    for path, m in root.named_modules():
        _paths[id(m)] = f"{_ROOT}.{path}" if path else _ROOT
    if not root._modules:
        _paths[id(root)] = ""  # a layer or a loss called on its own is named by its class alone
    _root_inputs.clear()
    _root_inputs.update(id(a) for a in (*args, *kwargs.values()) if isinstance(a, np.ndarray))


def _name(module) -> str:
    path = _paths.get(id(module))
    kind = type(module).__name__
    if path is None:
        return f"a {kind} that is not a registered sub-module of the model"
    return f"{path} ({kind})" if path else kind


# ---------------------------------------------------------------------------- finding and describing
def _find_bad(value) -> _Bad | None:
    """The first array in ``value`` (an array, a float, or a tuple/list of them) with NaN or Inf."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    for i, item in enumerate(items):
        if isinstance(item, (float, np.floating)):
            item = np.asarray(item)
        if not isinstance(item, np.ndarray) or item.dtype.kind != "f":
            continue
        finite = np.isfinite(item)
        if finite.all():
            continue
        nan = np.isnan(item)
        first = tuple(int(j) for j in np.argwhere(~finite)[0]) if item.ndim else ()
        n_nan = int(nan.sum())
        return _Bad(n_nan, int(item.size - finite.sum()) - n_nan, int(item.size), first,
                    i if isinstance(value, (tuple, list)) else None, id(item))
    return None


def _kinds(bad: _Bad) -> str:
    return " and ".join(k for k, n in (("NaN", bad.n_nan), ("Inf", bad.n_inf)) if n)


def _counts(bad: _Bad) -> str:
    """``"2 of 1,024 values; first at index (0, 5)"``."""
    if bad.n_nan and bad.n_inf:
        counted = f"{bad.n_nan:,} NaN and {bad.n_inf:,} Inf among {bad.size:,} values"
    else:
        counted = f"{bad.n_nan or bad.n_inf:,} of {bad.size:,} value{'s' if bad.size != 1 else ''}"
    if not bad.first:
        return "a scalar" if bad.size == 1 else counted
    return f"{counted}; first at index {bad.first}"


def _message(module, what: str, bad: _Bad) -> str:
    if bad.item is not None:
        what = f"{what} (item {bad.item} of the tuple it returned)"
    return f"{_name(module)} produced {_kinds(bad)} in {what} ({_counts(bad)})"


def _received_report(received, one: str, many: str, root: str) -> str:
    """Whether the arrays a layer was given were finite: says if the fault lies before the layer."""
    arrays = [a for a in received if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    label = one if len(arrays) <= 1 else many
    for a in arrays:
        bad = _find_bad(a)
        if bad is not None:
            origin = f"{root} has it" if bad.array_id in _root_inputs else "it came from before this layer"
            return f"but {label} already had {_kinds(bad)} ({_counts(bad)}), so {origin}"
    return f"{label} {'was' if label == one else 'were'} finite, so this layer made it"
