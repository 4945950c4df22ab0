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
and every ``backward`` (the tape's replay and each hand-written one) through
:func:`checked_backward` (``numconv/nn/module.py``), so custom modules are
covered without writing anything. With debug mode off, the cost is one
boolean test per call. A layer called several times in one forward is named
with the number of the call (``model.act (ReLU, call 2)``). Like debug mode
itself, this bookkeeping belongs to the thread that runs the model.

Paths are worked out when the outermost call starts (``model`` is whatever
module was called first; its children are ``model.0``, ``model.features``,
...); a layer or loss called on its own is named by its class. A module that
runs inside the model without being registered as a sub-module is named as
such.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np


class _Bookkeeping(threading.local):
    def __init__(self):
        self.active = []          # modules whose forward or backward is running, outermost first
        self.paths = {}           # during the outermost call: {id(module): dotted path}
        self.root_inputs = set()  # ids of the arrays the outermost call received
        self.calls = {}           # {id(module): number of forward calls so far in the outermost forward}


_local = _Bookkeeping()

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
def checked_forward(module, *args, **kwargs):
    """Run ``module.forward(*args, **kwargs)`` and check what it returns."""
    if not _local.active:
        _start(module, args, kwargs)
    _local.calls[id(module)] = index = _local.calls.get(id(module), 0) + 1
    _local.active.append(module)
    try:
        out = module.forward(*args, **kwargs)
    finally:
        _local.active.pop()
    bad = _find_bad(out)
    if bad is not None:
        received = [*args, *kwargs.values()]
        raise FloatingPointError(
            _message(module, "its forward output", bad, index)
            + "; " + _received_report(received, "its input", "its inputs", "the data passed to the model")
        )
    return out


def checked_backward(module, run, received):
    """Run ``run()``, the backward of ``module`` given the gradients ``received``, and check its results."""
    from . import tape  # the tape knows which call of ``module`` is being differentiated (for its number)

    active = _local.active
    if active and active[-1] is module:
        # ``super().backward(...)`` from inside this module's own backward: checked once, by the outer call.
        return run()
    if not active:
        _start(module, (), {})
    call = tape.being_differentiated(module)  # set when the tape's replay runs this backward
    active.append(module)
    try:
        grad = run()
    finally:
        active.pop()
    call = call or tape.last_differentiated(module)
    index = 1 if call is None else call.index
    where = "the gradient it received", "the gradients it received", "the gradient passed to the model's backward"
    bad = _find_bad(grad)
    if bad is not None:
        raise FloatingPointError(
            _message(module, "its backward output, the gradient w.r.t. its input", bad, index)
            + "; " + _received_report(list(received), *where)
        )
    for name, p in module._parameters.items():
        bad = None if p is None or p.grad is None else _find_bad(p.grad)
        if bad is not None:
            raise FloatingPointError(
                _message(module, f"the gradient of its parameter '{name}' ({name}.grad)", bad, index)
                + "; " + _received_report(list(received), *where)
            )
    return grad


# ---------------------------------------------------------------------------- naming
def _start(root, args, kwargs) -> None:
    """The outermost call: name every module in ``root``'s tree, remember the data it was given."""
    paths = _local.paths
    paths.clear()
    _local.calls.clear()
    for path, m in root.named_modules():
        paths[id(m)] = f"{_ROOT}.{path}" if path else _ROOT
    if not root._modules:
        paths[id(root)] = ""  # a layer or a loss called on its own is named by its class alone
    _local.root_inputs.clear()
    _local.root_inputs.update(id(a) for a in (*args, *kwargs.values()) if isinstance(a, np.ndarray))


def _name(module, index: int = 1) -> str:
    path = _local.paths.get(id(module))
    kind = type(module).__name__
    if path is None:
        return f"a {kind} that is not a registered sub-module of the model"
    kind = f"{kind}, call {index}" if index > 1 else kind
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


def _message(module, what: str, bad: _Bad, index: int = 1) -> str:
    if bad.item is not None:
        what = f"{what} (item {bad.item} of the tuple it returned)"
    return f"{_name(module, index)} produced {_kinds(bad)} in {what} ({_counts(bad)})"


def _received_report(received, one: str, many: str, root: str) -> str:
    """Whether the arrays a layer was given were finite: says if the fault lies before the layer."""
    arrays = [a for a in received if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    label = one if len(arrays) <= 1 else many
    for a in arrays:
        bad = _find_bad(a)
        if bad is not None:
            origin = f"{root} has it" if bad.array_id in _local.root_inputs else "it came from before this layer"
            return f"but {label} already had {_kinds(bad)} ({_counts(bad)}), so {origin}"
    return f"{label} {'was' if label == one else 'were'} finite, so this layer made it"
