"""The tape of layer calls: how a model with only a ``forward`` gets its ``backward``.

Every layer in numconv differentiates itself: its ``backward`` turns the
gradient of its output into the gradient of its input. A model written the
PyTorch way, as a ``Module`` subclass with a ``forward`` that calls layers,
needs one more thing: the bookkeeping that chains those backward passes. This
file is that bookkeeping. It is what autograd does, at the grain of layer
calls instead of single operations.

Forward: recording
    Each call ``layer(x)`` made inside a module's ``forward`` becomes a
    :class:`Call` on that module's tape, in order, holding what the layer
    kept for its backward (its *cache*: per call, not per layer, so one
    layer may be called several times). For every array argument the call
    notes where the array came from (its :class:`Source`): the output of an
    earlier call, an input of the module, a view of one of those
    (``x.reshape(n, -1)``, ``x[:, None]``, ``x.T``) or a copy of one
    (``x.flatten()``). An array that came from none of them was made by NumPy
    arithmetic between layers; that is noted as a problem.

Backward: replay
    ``module.backward(grad)`` walks the tape in reverse. It keeps one
    gradient per recorded array (a *slot*): each call gets the gradient of
    its output, runs its own ``backward``, and adds the result into the slot
    each argument came from. A slot used by several calls therefore receives
    the **sum** of their gradients (a fork in the graph). Views get their
    gradient reshaped back onto the array they view. Before anything is
    computed, the problems are checked: NumPy arithmetic between layers
    (``self.conv(x) + x``) is refused with an error that names the call and
    the fix (``nn.Add``, ``nn.Cat``, ...), never differentiated wrongly.

Modules that define their own ``backward`` are not replayed: their calls are
still recorded (so their backward can call ``self.child.backward(g)``, and
each such call finds its own cache), but the module's backward decides what
to do with them. ``Sequential`` defines none: it is the tape's simplest case.

State is per thread: each thread has its own stack of running calls and its
own "last outermost call" per module, so two threads may use one model.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from .. import _state

__all__ = ["Call", "Source", "TapeError", "last_call", "record_call", "run_backward", "replay"]


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
                 "cache", "children", "known", "problems", "started", "done", "seen")

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
        self.problems = None      # traced calls: why some argument cannot be differentiated
        self.started = False      # the replay has run a child's backward (a retry would add gradients twice)
        self.done = False
        self.seen = ()            # (position, array, fingerprint) of each array argument, after the forward

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
        """Give ``array`` (made by ``maker``, a Call or None for an input) the next slot on this tape."""
        if self.known is None:
            self.known, self.problems = {}, []
        slot = len(self.known)
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
            slot, _, fingerprint, maker = entry
            if _fingerprint(array) != fingerprint:
                made = "the model's input" if maker is None else f"{_describe(maker)}'s output"
                who = who() if callable(who) else who
                self.problems.append(
                    f"{who} receives {made} after it was changed in place (e.g. `out += x` or `out[...] = 0`): "
                    "the layers that saw it before the change kept the old values. Write `out = add(out, x)` "
                    "with an nn.Add, or copy before changing it")
                return None
            return _SAME[slot] if slot < len(_SAME) else Source(slot)
        who = who() if callable(who) else who
        for slot, base, _, _ in reversed(list(self.known.values())):
            if np.may_share_memory(array, base):
                if _is_view_of(array, base):
                    return Source(slot, VIEW, base, array)
                break  # the most recent array sharing memory decides; never route around a layer
        for slot, base, _, _ in reversed(list(self.known.values())):
            if base.size == array.size and base.dtype == array.dtype and base.shape != () and \
                    np.array_equal(base.reshape(-1), array.reshape(-1), equal_nan=True):
                return Source(slot, COPY, base)
        self.problems.append(
            f"{who} is an array that no layer call produced and that is not an input of the model: it was "
            "computed with NumPy between layers (e.g. `self.conv(x) + x`, `np.concatenate(...)`, `x * 2`), "
            "so backward cannot route a gradient through it. Combine arrays with modules instead: nn.Add() "
            "for a sum, nn.Cat(dim) for a concatenation, nn.Residual(body) for `body(x) + x`, "
            "nn.Parallel(...) for branches; or give this module its own backward")
        return None


def _describe(call) -> str:
    name = type(call.module).__name__
    return f"call {call.index} of {name}" if call.index > 1 else name


_SAME = [Source(slot) for slot in range(256)]  # the common case needs no new object
_TRACED: dict = {}


def _is_traced(cls) -> bool:
    """True when ``cls`` has no hand-written backward, so the tape replays its calls."""
    traced = _TRACED.get(cls)
    if traced is None:
        traced = _TRACED[cls] = getattr(cls.backward, "_replays_the_tape", False)
    return traced


def _differentiable(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def _outputs(value) -> list:
    """The float arrays (and Python floats, as losses return) in a call's output, in order."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    return [v for v in items if _differentiable(v) or type(v) is float]


_SAMPLES: dict = {}


def _fingerprint(array) -> bytes:
    """Nine values of ``array`` spread over it: enough to notice an in-place change such as ``out += x``."""
    size = array.size
    positions = _SAMPLES.get(size)
    if positions is None:
        positions = _SAMPLES[size] = np.unique(np.linspace(0, max(size - 1, 0), 9).astype(np.intp))[:size]
    return array.take(positions).tobytes() if size else b""


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
            if _differentiable(a):
                call.add_array(a, None)
    stack.append(call)
    try:
        out = forward(*args, **kwargs)
    finally:
        stack.pop()
    call.output = out
    # Fingerprints taken after the forward: a layer may change its own input in place (inplace=True).
    call.seen = tuple((i, a, _fingerprint(a)) for i, a in enumerate(args) if _differentiable(a))
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


# ---------------------------------------------------------------------------- backward
def run_backward(module, backward, grads, kwargs):
    """Run ``backward(module, *grads, **kwargs)`` on the right call of ``module``; the entry point of every backward.

    The call is the one the caller is replaying (top of the backward stack),
    else the latest not yet differentiated call of ``module`` made inside the
    call whose backward is running (a hand-written backward calling
    ``self.child.backward(g)``), else ``module``'s last outermost call.
    """
    stack = _local.backward
    top = stack[-1] if stack else None
    if top is not None and top.module is module:  # the replay set it up, or ``super().backward(...)``
        return backward(module, *grads, **kwargs)
    call = None
    if top is not None:
        for child in reversed(top.children):
            if child.module is module and not child.done:
                call = child
                break
    if call is None:
        call = _local.last.get(module)
        if call is None or call.done:
            why = "its last forward was already differentiated" if call is not None else \
                "it has not been called in this thread"
            raise RuntimeError(
                f"{type(module).__name__}.backward: there is no forward pass to differentiate ({why}). Call it "
                "on an input first (outside numconv.no_grad()), then call backward once; backward "
                "differentiates the most recent forward (a second forward before backward replaces the first)")
    check_unchanged(call)
    stack.append(call)
    try:
        result = backward(module, *grads, **kwargs)
    except BaseException:
        # A backward refused before it used anything (a replay that had not begun, a layer that had not taken
        # its cache) keeps its forward for a corrected retry; otherwise the forward is spent.
        if (call.started if call.traced else call.cache is None):
            _finish(call)
        raise
    finally:
        stack.pop()
    _finish(call)
    return result


def check_unchanged(call) -> None:
    """Refuse to differentiate a call whose array arguments were changed in place since its forward.

    Layers keep references to what their backward needs (as PyTorch keeps
    its saved tensors), so an array changed in place between forward and
    backward would give a wrong gradient: one rule for every layer.
    """
    for position, array, fingerprint in call.seen:
        if _fingerprint(array) != fingerprint:
            raise RuntimeError(
                f"{_describe(call)}.backward: its argument {position} (shape {array.shape}) was changed in place "
                "after the forward pass that used it. Layers keep references to their inputs for backward, as "
                "PyTorch does; copy the array before changing it (x = x.copy()), or run the forward again")


def _finish(call) -> None:
    """Mark a call differentiated and let go of what it held (caches, recorded arrays)."""
    _local.finished = call
    call.done = True
    call.cache = None
    call.seen = ()
    if call.parent is None or call.traced:
        call.known = None
        call.args = ()
        call.children = []


def take_cache(module):
    """The cache the running backward of ``module`` should use (``Module._take``)."""
    stack = _local.backward
    call = stack[-1] if stack else None
    if call is None or call.module is not module:
        call = _local.last.get(module)
    cache = None if call is None else call.cache
    if cache is None:
        raise RuntimeError(
            f"{type(module).__name__}.backward: there is no forward pass to differentiate. Call the layer on "
            "an input first (outside numconv.no_grad()), and call backward once per forward.")
    call.cache = None
    return cache


def keep_cache(module, cache) -> None:
    """Store ``cache`` on the running call of ``module`` (``Module._keep``); nothing inside ``no_grad``."""
    if not _state._local.grad_enabled:
        return
    call = current_call(module)
    if call is None:  # ``layer.forward(x)`` called directly: a call of its own, outside any tape
        call = Call(module, None)
        _local.last[module] = call
    call.cache = cache


# ---------------------------------------------------------------------------- replay
def replay(module, grad_output):
    """The default ``Module.backward``: differentiate the recorded calls of ``module``'s running call."""
    call = _local.backward[-1]
    if call.problems:
        raise TapeError(f"{type(module).__name__}.backward cannot differentiate its last forward: "
                        + call.problems[0])
    outputs = _outputs(call.output)
    grads_out = _seed(module, outputs, grad_output)
    slots = {}  # slot -> gradient of the loss w.r.t. that recorded array
    for source, grad in zip(call.result_sources, grads_out):
        if grad is not None:
            _add(slots, source, grad)
    for child in reversed(call.children):
        grads = [slots.pop(slot, None) for slot in child.out_slots]
        if all(g is None for g in grads):
            continue  # nothing this call made reaches the output: its layer gets no gradient
        if len(grads) == 1:
            child_grad = (grads[0],)
        else:  # several outputs: zeros for the ones that were not used
            child_outputs = _outputs(child.output)
            child_grad = (tuple(np.zeros_like(o) if g is None else g for g, o in zip(grads, child_outputs)),)
        check_unchanged(child)
        call.started = True
        _local.backward.append(child)
        try:
            grads_in = child.module.backward(*child_grad)
        finally:
            _local.backward.pop()
            _finish(child)
        grads_in = grads_in if isinstance(grads_in, tuple) else (grads_in,)
        if len(grads_in) != len(child.sources):
            raise TapeError(
                f"{_describe(child)}.backward returned {len(grads_in)} gradient(s) for {len(child.sources)} "
                "array argument(s): a backward returns one gradient per array argument of forward")
        for source, grad in zip(child.sources, grads_in):
            if grad is not None:
                _add(slots, source, grad)
    inputs = [a for a in call.args if _differentiable(a)]
    result = tuple(slots[i] if i in slots else np.zeros_like(a) for i, a in enumerate(inputs))
    return result[0] if len(result) == 1 else result


def replay_chain(module, grad_output):
    """``Sequential.backward``: the tape's simplest case, a chain in which each call feeds the next.

    Nothing needs routing: the gradient of each call's output is what the
    next call's backward returned, so the calls are differentiated in reverse
    order, each with its own cache.
    """
    call = _local.backward[-1]
    grad_output = _seed(module, _outputs(call.output), grad_output)[0]
    for child in reversed(call.children):
        check_unchanged(child)
        call.started = True
        _local.backward.append(child)
        try:
            grad_output = child.module.backward(grad_output)
        finally:
            _local.backward.pop()
            _finish(child)
    return grad_output


def _seed(module, outputs, grad_output) -> list:
    """The gradient of each output, checked against the output's shape."""
    name = type(module).__name__
    if grad_output is None:
        if len(outputs) == 1 and np.ndim(outputs[0]) == 0:
            return [np.ones_like(outputs[0], dtype=float) if isinstance(outputs[0], np.ndarray) else 1.0]
        raise TypeError(f"{name}.backward: pass the gradient of the loss w.r.t. the output "
                        "(only a scalar output has the implicit gradient 1)")
    grads = list(grad_output) if len(outputs) > 1 else [grad_output]
    if len(grads) != len(outputs):
        raise ValueError(f"{name}.backward: the last forward returned {len(outputs)} arrays, "
                         f"but {len(grads)} gradients were given")
    for out, grad in zip(outputs, grads):
        if grad is not None and np.shape(grad) != np.shape(out):
            raise ValueError(f"{name}.backward: expected a gradient of shape {np.shape(out)} (the shape of the "
                             f"last forward's output), got shape {np.shape(grad)}")
    return grads


def _add(slots: dict, source, grad) -> None:
    """Add ``grad`` into the slot ``source`` points at (a fork in the graph sums its gradients)."""
    grad = source.to_base(grad)
    previous = slots.get(source.slot)
    slots[source.slot] = grad if previous is None else previous + grad


# ---------------------------------------------------------------------------- views
def _byte_extent(a):
    """(lowest byte address, highest + itemsize) of the elements of ``a``."""
    start = a.__array_interface__["data"][0]
    low = start + sum(s * (n - 1) for s, n in zip(a.strides, a.shape) if s < 0 and n > 0)
    high = start + sum(s * (n - 1) for s, n in zip(a.strides, a.shape) if s > 0 and n > 0) + a.itemsize
    return low, high


def _is_view_of(view, base) -> bool:
    """True if every element of ``view`` is an element of ``base`` (so its gradient can be mapped back)."""
    if view.dtype != base.dtype or not (base.flags.c_contiguous or base.flags.f_contiguous):
        return False
    (low, high), (vlow, vhigh) = _byte_extent(base), _byte_extent(view)
    return low <= vlow and vhigh <= high and (vlow - low) % base.itemsize == 0 and \
        all(s % base.itemsize == 0 for s in view.strides)


def _gradient_through_view(base, view, grad):
    """Scatter ``grad`` (w.r.t. ``view``) onto a zero gradient w.r.t. ``base``.

    The common case, a reshape of a contiguous array, is a reshape. Otherwise
    both are laid over one zero buffer with their own offsets and strides, as
    they lie in memory, and the view's gradient is added in place; axes the
    view repeats (stride 0, from broadcasting) are summed first.
    """
    if view.size == base.size and view.flags.c_contiguous and base.flags.c_contiguous:
        return grad.reshape(base.shape)
    low, high = _byte_extent(base)
    item = base.itemsize
    buffer = np.zeros((high - low) // item, dtype=grad.dtype)
    repeated = tuple(i for i, (s, n) in enumerate(zip(view.strides, view.shape)) if s == 0 and n > 1)
    if repeated:
        grad = grad.sum(axis=repeated, keepdims=True)
    shape = tuple(1 if i in repeated else n for i, n in enumerate(view.shape))
    strides = [s // item for s in view.strides]
    offset = (view.__array_interface__["data"][0] - low) // item
    index = np.full(shape, offset, dtype=np.int64)
    for axis, (n, s) in enumerate(zip(shape, strides)):
        if n > 1:
            index += (np.arange(n, dtype=np.int64) * s).reshape([-1 if k == axis else 1 for k in range(len(shape))])
    np.add.at(buffer, index, grad)
    base_offset = (base.__array_interface__["data"][0] - low) // item
    base_strides = tuple(s // item * buffer.itemsize for s in base.strides)
    return np.lib.stride_tricks.as_strided(buffer[base_offset:], base.shape, base_strides).copy()
