"""Recording layer calls on the tape (the forward half of ``numconv/nn/tape.py``, which tells the whole story).

Each call ``layer(x)`` made inside a module's ``forward`` becomes a :class:`Call` on that module's tape, holding
its cache, its output and, for each array argument, the :class:`Source` it came from (an earlier call's output,
an input of the module, a view or a copy of one). What the replay does with them is in ``tape_replay.py``.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from .. import _state
from .tape_arrays import (_differentiable, _fingerprint, _gradient_through_view, _is_view_of, _outputs,
                          _unchanged)


class TapeError(RuntimeError):
    """A forward pass that the tape cannot differentiate (the message says why and how to fix it)."""


class _Stacks(threading.local):
    """Per thread: the calls whose forward / backward is running, and each module's last outermost call."""

    def __init__(self):
        self.forward = []
        self.backward = []
        self.last = weakref.WeakKeyDictionary()
        self.finished = None  # the call whose backward finished last (debug mode names it)


_local = _Stacks()

# What a Source says about where an argument came from.
SAME, VIEW, COPY = "same", "view", "copy"


class Source:
    """Where one array argument of a call came from: slot ``slot`` of the calling module's tape.

    ``kind`` is ``SAME`` (the very array), ``VIEW`` (a NumPy view of ``base``)
    or ``COPY`` (an equal copy of ``base``, e.g. ``base.flatten()``).
    """

    __slots__ = ("slot", "kind", "base", "view")

    def __init__(self, slot, kind=SAME, base=None, view=None):
        self.slot, self.kind, self.base, self.view = slot, kind, base, view

    def to_base(self, grad):
        """The gradient w.r.t. the recorded array, given the gradient w.r.t. the argument."""
        if self.kind == SAME:
            return grad
        if self.kind == COPY:
            return np.reshape(grad, self.base.shape)
        return _gradient_through_view(self.base, self.view, np.asarray(grad))


class Call:
    """One call of a module: its arguments' sources, its output, its cache, and the calls made inside it."""

    __slots__ = ("module", "parent", "traced", "args", "sources", "output", "result_sources", "out_slots",
                 "cache", "children", "known", "slots", "problems", "started", "done", "seen", "hidden")

    def __init__(self, module, parent):
        self.module = module
        self.parent = parent
        self.traced = _is_traced(type(module))  # replayed by the tape (no hand-written backward)
        self.args = ()
        self.sources = ()         # one Source (or None) per float array argument
        self.output = None
        self.result_sources = ()  # traced calls: the Source of each float array it returned, on its own tape
        self.out_slots = ()       # the slot of each float array in the output, on the parent's tape
        self.cache = None         # what the module's forward kept with ``_keep``
        self.children = []        # calls made inside this call's forward, in order
        self.known = None         # traced calls: id(array) -> (slot, array, fingerprint, maker)
        self.slots = 0            # traced calls: slots given so far (the next array's slot)
        self.problems = None      # traced calls: why some argument cannot be differentiated
        self.started = False      # the replay has run a child's backward (a retry would add gradients twice)
        self.done = False
        self.seen = ()            # (position, array, fingerprint) of each array argument, after the forward
        self.hidden = None        # traced calls: arrays given by keyword or inside a list, {id: (array, what)}

    @property
    def index(self) -> int:
        """Which call of its module this is within the outermost forward (1 = first); for messages."""
        root = self
        while root.parent is not None:
            root = root.parent
        count = 0
        todo = [root]
        while todo:
            call = todo.pop()
            if call.module is self.module:
                count += 1
            if call is self:
                return count
            todo.extend(reversed(call.children))
        return count

    # ------------------------------------------------------------------ recording (forward)
    def add_array(self, array, maker):
        """Give ``array`` (made by ``maker``, a Call or None for an input) the next slot on this tape.

        Slots are counted, not read off ``len(known)``: an in-place layer returns the array it was given, so
        its output replaces the input's entry in ``known`` without adding one, and the next array would
        otherwise get the in-place output's slot (their gradients then added together).
        """
        if self.known is None:
            self.known, self.problems = {}, []
        slot = self.slots
        self.slots += 1
        self.known[id(array)] = (slot, array, _fingerprint(array), maker)
        return slot

    def source_of(self, array, who):
        """Where ``array`` came from on this tape; None (and a problem noted) if it came from nowhere.

        ``who`` names the argument in a message: a string, or a function that makes one.
        """
        if self.known is None:
            self.known, self.problems = {}, []
        entry = self.known.get(id(array))
        if entry is not None and entry[1] is array:
            if self._changed(entry, who):
                return None
            slot = entry[0]
            return _SAME[slot] if slot < len(_SAME) else Source(slot)
        who = who() if callable(who) else who
        recorded = [entry for entry in self.known.values() if isinstance(entry[1], np.ndarray)]  # (not a loss's float)
        for entry in reversed(recorded):
            slot, base = entry[0], entry[1]
            if np.may_share_memory(array, base):
                if _is_view_of(array, base):
                    return None if self._changed(entry, who, " through a view") else Source(slot, VIEW, base, array)
                break  # the most recent array sharing memory decides; never route around a layer
        for entry in reversed(recorded):
            slot, base = entry[0], entry[1]
            if base.size == array.size and base.dtype == array.dtype and base.shape != () and \
                    np.array_equal(base.reshape(-1), array.reshape(-1), equal_nan=True):
                return None if self._changed(entry, who, " through a copy") else Source(slot, COPY, base)
        why = self._why_not_recorded(array)
        if why:
            self.problems.append(f"{who} {why}")
        return None  # (for a buffer, no problem: a constant, which gets no gradient, as in PyTorch)

    def _why_not_recorded(self, array) -> str | None:
        """Why ``array``, which no recorded call made, reached a layer: as precisely as the tape can tell.

        None for a buffer of the module (``running_mean``, a registered mask): a constant, as in PyTorch.
        """
        for value, what in (self.hidden or {}).values():
            if np.may_share_memory(array, value):
                return (f"is {what}: the tape follows the arrays given to forward as positional arguments only, "
                        "so pass it positionally (as its own argument, not inside a list)")
        for _, value in self.module.named_buffers():
            if isinstance(value, np.ndarray) and np.may_share_memory(array, value):
                return None
        for name, parameter in self.module.named_parameters():
            if np.may_share_memory(array, parameter.data):
                return (f"is the parameter {name!r} (or a view of it), used outside the layer that owns it: "
                        "gradients reach a parameter only through the backward of a module it belongs to. "
                        "Use it inside a small module whose forward uses it and whose backward sets its .grad "
                        "(see 'When to write backward yourself' in docs/writing-models.md)")
        return ("is an array that no layer call produced and that is not an input of the model: it was "
                "computed with NumPy between layers (e.g. `self.conv(x) + x`, `np.concatenate(...)`, `x * 2`), "
                "so backward cannot route a gradient through it. Combine arrays with modules instead: nn.Add() "
                "for a sum, nn.Cat(dim) for a concatenation, nn.Residual(body) for `body(x) + x`, "
                "nn.Parallel(...) for branches; or give this module its own backward. (Or it is the output of "
                "a call made under numconv.no_grad(), which records nothing.)")

    def _changed(self, entry, who, how="") -> bool:
        """Whether the recorded array of ``entry`` was changed in place since it was recorded (a problem noted).

        ``how`` says how the argument reached it (" through a view", " through a copy"): a view or a copy of
        a changed array is as stale as the array.
        """
        _, array, fingerprint, maker = entry
        if _unchanged(array, fingerprint):
            return False
        made = "the model's input" if maker is None else f"the output of {_describe(maker)}"
        who = who() if callable(who) else who
        self.problems.append(
            f"{who} receives {made}{how} after it was changed in place (e.g. `out += x` or `out[...] = 0`): "
            "the layers that saw it before the change kept the old values. Write `out = add(out, x)` with an "
            "nn.Add, or copy before changing it")
        return True


def _hidden_arrays(module, args, kwargs) -> dict | None:
    """The float arrays given to ``module``'s forward where the tape does not follow them, described.

    Keyword arguments, and arrays inside a list, tuple or dict argument; None when there are none (the
    usual case), so the common call costs one loop over its arguments.
    """
    hidden = {}
    name = type(module).__name__
    for key, value in kwargs.items():
        if _differentiable(value):
            hidden[id(value)] = (value, f"the keyword argument {key}= of {name}.forward")
    for i, value in enumerate(args):
        if isinstance(value, (list, tuple, dict)):
            items = value.values() if isinstance(value, dict) else value
            for item in items:
                if _differentiable(item):
                    hidden[id(item)] = (item, f"an array inside argument {i} ({type(value).__name__}) of "
                                              f"{name}.forward")
    return hidden or None


def _describe(call) -> str:
    """The layer of ``call`` for a message: its class and where it sits in the model, e.g. ``Linear 'head.fc'``.

    With the number of the call when the layer ran more than once (``call 2 of ReLU 'act'``).
    """
    name = type(call.module).__name__
    path = _path_in_model(call)
    if path:
        name = f"{name} {path!r}"
    return f"call {call.index} of {name}" if call.index > 1 else name


def _path_in_model(call) -> str | None:
    """The dotted attribute path of ``call``'s layer from the outermost module called, or None.

    None for the outermost call itself, and for a layer reached through a module that is not a registered
    sub-module of its caller (kept in a plain list, say).
    """
    names = []
    while call.parent is not None:
        name = next((key for key, child in call.parent.module._modules.items() if child is call.module), None)
        if name is None:
            return None
        names.append(name)
        call = call.parent
    return ".".join(reversed(names)) or None


_SAME = [Source(slot) for slot in range(256)]  # the common case needs no new object
_TRACED: dict = {}


def _is_traced(cls) -> bool:
    """True when ``cls`` has no hand-written backward, so the tape replays its calls."""
    traced = _TRACED.get(cls)
    if traced is None:
        traced = _TRACED[cls] = getattr(cls.backward, "_replays_the_tape", False)
    return traced


# ---------------------------------------------------------------------------- forward
def record_call(module, args, kwargs, forward):
    """Run ``forward(*args, **kwargs)`` for ``module`` and record the call on the tape."""
    stack = _local.forward
    parent = stack[-1] if stack else None
    call = Call(module, parent)
    if parent is None:
        _local.last.pop(module, None)  # a new outermost forward replaces the old tape, even if it fails
    elif parent.traced:
        def where():
            return f"{_describe(call)} (called in the forward of {type(parent.module).__name__})"

        call.sources = [parent.source_of(a, lambda i=i: f"argument {i} of {where()}")
                        for i, a in enumerate(args) if _differentiable(a)]
        for key, value in kwargs.items():
            if isinstance(value, np.ndarray) and parent.known and id(value) in parent.known:
                parent.problems.append(
                    f"keyword argument {key}= of {where()} is a layer's output: gradients flow only through "
                    "positional arguments, so pass it positionally")
    if call.traced:
        call.args = args
        for a in args:
            if _differentiable(a) and id(a) not in (call.known or {}):  # one array passed twice: one slot
                call.add_array(a, None)
        call.hidden = _hidden_arrays(module, args, kwargs)
    stack.append(call)
    try:
        out = forward(*args, **kwargs)
    finally:
        stack.pop()
    call.output = out
    # Fingerprints taken after the forward: a layer may change its own input in place (inplace=True).
    call.seen = tuple((i, a, _fingerprint(a)) for i, a in enumerate(args) if _differentiable(a))
    if call.cache is not None:
        # An output the layer kept for its backward (tanh, sigmoid, softmax, ReLU differentiate from their
        # output) must not be changed in place either, e.g. by an inplace=True layer after it.
        kept = [o for o in _outputs(out) if isinstance(o, np.ndarray) and _holds(call.cache, o)]
        call.seen += tuple((f"output {k}", o, _fingerprint(o)) for k, o in enumerate(kept))
    if call.traced:
        call.result_sources = [call.source_of(o, lambda: f"the value returned by {type(module).__name__}.forward")
                               for o in _outputs(out)]
    if parent is None:
        _local.last[module] = call
    else:
        parent.children.append(call)
        if parent.traced:
            # A reused array (an in-place layer returns its input) gets a new slot: later users see the newest maker.
            call.out_slots = [parent.add_array(o, call) for o in _outputs(out)]
    return out


def _holds(cache, array, depth: int = 3) -> bool:
    """Whether ``cache`` (tuples within tuples, as layers keep them) holds ``array`` itself."""
    if cache is array:
        return True
    if depth and isinstance(cache, (tuple, list)):
        return any(_holds(item, array, depth - 1) for item in cache)
    return False


def current_call(module):
    """The call of ``module`` whose forward is running in this thread (None outside a recorded forward)."""
    stack = _local.forward
    if stack and stack[-1].module is module:
        return stack[-1]
    return None


def being_differentiated(module):
    """The call of ``module`` the replay is differentiating right now, if any."""
    stack = _local.backward
    return stack[-1] if stack and stack[-1].module is module else None


def last_differentiated(module):
    """The call of ``module`` whose backward finished last in this thread, if that was ``module``'s."""
    call = _local.finished
    return call if call is not None and call.module is module else None


def last_call(module):
    """The most recent outermost call of ``module`` in this thread (None if there is none)."""
    return _local.last.get(module)


def keep_cache(module, cache) -> None:
    """Store ``cache`` on the running call of ``module`` (``Module._keep``); nothing inside ``no_grad``."""
    if not _state._local.grad_enabled:
        return
    call = current_call(module)
    if call is None:  # ``layer.forward(x)`` called directly: a call of its own, outside any tape
        call = Call(module, None)
        _local.last[module] = call
    call.cache = cache
