"""Differentiating the recorded calls (the backward half of ``numconv/nn/tape.py``, which tells the whole story).

``run_backward`` is the entry point of every ``Module.backward``: it finds the call to differentiate and marks it
done afterwards. ``replay`` walks a module's tape in reverse, keeping one gradient per recorded array (a slot)
and adding each call's input gradients into the slots its arguments came from; ``replay_chain`` is the simple
case of a ``Sequential``.
"""

from __future__ import annotations

import numpy as np

from .parameter import accumulations
from .tape_arrays import _differentiable, _is_output, _outputs, _unchanged
from .tape_record import TapeError, _describe, _local


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
    cache, accumulated = call.cache, accumulations()
    try:
        result = backward(module, *grads, **kwargs)
    except BaseException as error:
        # A backward refused before it used anything keeps its forward for a corrected retry, as PyTorch keeps
        # its graph after a shape mismatch: a replay that had not begun, or a layer that refused the gradient
        # (ValueError, TypeError: its checks come before its arithmetic) before any parameter received
        # anything. Otherwise the forward is spent.
        if (not call.traced and call.cache is None and isinstance(error, (ValueError, TypeError))
                and accumulations() == accumulated):
            call.cache = cache
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
    backward would give a wrong gradient. Layers whose backward reads no
    input values (Identity, Flatten, Dropout, Add, Cat: they set
    ``_backward_reads_inputs = False``) are exempt, as PyTorch does not save
    those inputs either: ``Identity`` then ``ReLU(inplace=True)`` is fine.
    So is ``Sequential``, whose layers' calls are each checked in turn.
    """
    reads_inputs = call.module._backward_reads_inputs
    for position, array, fingerprint in call.seen:
        if isinstance(position, int) and not reads_inputs:
            continue
        if not _unchanged(array, fingerprint):
            if not isinstance(position, int):  # an output the layer kept (see record_call)
                raise RuntimeError(
                    f"{_describe(call)}.backward: its {position} (shape {array.shape}) was changed in place after "
                    "the forward pass, e.g. by an inplace=True layer after it; this layer computes its gradient "
                    "from its output, as PyTorch does, which refuses this too. Use inplace=False after it")
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
        call.known, call.slots, call.hidden = None, 0, None
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


# ---------------------------------------------------------------------------- replay
def replay(module, grad_output):
    """The default ``Module.backward``: differentiate the recorded calls of ``module``'s running call."""
    call = _local.backward[-1]
    _check_recorded(module, call)
    if call.problems:
        raise TapeError(f"{type(module).__name__}.backward cannot differentiate its last forward: "
                        + call.problems[0])
    grads_out = _seed(module, call.output, grad_output)
    slots = {}  # slot -> gradient of the loss w.r.t. that recorded array
    for source, grad in zip(call.result_sources, grads_out):
        if grad is not None and source is not None:  # (None: a buffer, a constant)
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
        if child.module._gradient_for_first_argument_only:  # a loss: no gradient for the target
            grads_in = grads_in[:1] + (None,) * (len(child.sources) - 1)
        if len(grads_in) != len(child.sources):
            raise TapeError(
                f"{_describe(child)}.backward returned {len(grads_in)} gradient(s) for {len(child.sources)} "
                "array argument(s): a backward returns one gradient per array argument of forward")
        for source, grad in zip(child.sources, grads_in):
            if grad is not None and source is not None:
                _add(slots, source, grad)
    inputs = [a for a in call.args if _differentiable(a)]
    first = {}  # each input's slot: its position among the inputs, or the slot of the same array passed before
    for i, a in enumerate(inputs):
        first.setdefault(id(a), len(first))
    # (An array passed twice gets the whole gradient at each position, as PyTorch's x.grad would hold.)
    result = tuple(slots[first[id(a)]] if first[id(a)] in slots else np.zeros_like(a) for a in inputs)
    return result[0] if len(result) == 1 else result


def replay_chain(module, grad_output):
    """``Sequential.backward``: the tape's simplest case, a chain in which each call feeds the next.

    Nothing needs routing: the gradient of each call's output is what the
    next call's backward returned, so the calls are differentiated in reverse
    order, each with its own cache.
    """
    call = _local.backward[-1]
    grad_output = _seed(module, call.output, grad_output)[0]
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


def _check_recorded(module, call) -> None:
    """Refuse to replay a call whose inner calls were not recorded: its class defines ``backward``.

    A class with a hand-written backward differentiates itself, so its forward's layer calls are not kept;
    ``super().backward(g)`` from that backward would replay nothing and return no gradient.
    """
    if not call.traced:
        raise TapeError(
            f"{type(module).__name__}.backward: this class defines its own backward, so the layer calls of its "
            "forward are not recorded and super().backward() has nothing to replay; call the sub-layers' "
            "backward yourself (e.g. self.fc.backward(g)), or drop the backward to let the tape differentiate")


def _seed(module, output, grad_output) -> list:
    """The gradient of each array in ``output`` (the forward's return value), checked against its shape.

    When the output is a dict, the gradients may come as a dict too (a key left out gets no gradient, as a
    tuple's None does).
    """
    name = type(module).__name__
    outputs = _outputs(output)
    if grad_output is None:
        if len(outputs) == 1 and np.ndim(outputs[0]) == 0:
            # (a 0-d array even for a Python float: a loss's backward refuses a plain number, which is
            # usually the loss passed back by mistake)
            return [np.ones_like(outputs[0], dtype=float) if isinstance(outputs[0], np.ndarray) else np.array(1.0)]
        raise TypeError(f"{name}.backward: pass the gradient of the loss w.r.t. the output "
                        "(only a scalar output has the implicit gradient 1)")
    if isinstance(grad_output, dict):
        # (a number for a loss's key becomes a 0-d array, as the implicit seed is: a loss's backward refuses a
        # plain number)
        grads = [np.asarray(g, dtype=float) if type(g) in (int, float) else g
                 for g in _gradients_by_key(name, output, grad_output)]
    else:
        grads = list(grad_output) if len(outputs) > 1 else [grad_output]
    if len(grads) != len(outputs):
        raise ValueError(f"{name}.backward: the last forward returned {len(outputs)} arrays, "
                         f"but {len(grads)} gradients were given")
    for out, grad in zip(outputs, grads):
        if grad is not None and np.shape(grad) != np.shape(out):
            raise ValueError(f"{name}.backward: expected a gradient of shape {np.shape(out)} (the shape of the "
                             f"last forward's output), got shape {np.shape(grad)}")
    return grads


def _gradients_by_key(name, output, grads: dict) -> list:
    """A dict of gradients as a list in the order of the forward's dict output (see ``_outputs``)."""
    if not isinstance(output, dict):
        raise TypeError(f"{name}.backward: got a dict of gradients, but the last forward returned "
                        f"{type(output).__name__}, not a dict")
    keys = [key for key, value in output.items() if _is_output(value)]
    unknown = [key for key in grads if key not in keys]
    if unknown:
        raise KeyError(f"{name}.backward: gradients given for {unknown}, which the last forward's output does not "
                       f"hold as float arrays (its keys with arrays: {keys})")
    return [grads.get(key) for key in keys]


def _add(slots: dict, source, grad) -> None:
    """Add ``grad`` into the slot ``source`` points at (a fork in the graph sums its gradients)."""
    grad = source.to_base(grad)
    previous = slots.get(source.slot)
    slots[source.slot] = grad if previous is None else previous + grad
