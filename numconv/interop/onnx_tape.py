"""Export by replaying the tape: one forward pass is recorded, and each recorded call becomes ONNX nodes.

``to_onnx`` runs the model once in eval mode; the tape of layer calls
(:mod:`numconv.nn.tape`) then says which module was called on which array.
Walking it:

- a layer with a converter becomes its nodes (:mod:`.onnx_layers`, :mod:`.onnx_activations`);
- ``Add`` becomes ``Add`` (NumPy and ONNX broadcast alike), ``Cat`` ``Concat``;
- ``Sequential`` feeds each child the previous child's output; ``Residual``
  adds ``body(x)`` to ``shortcut(x)`` (or ``x``); ``Parallel`` runs its
  branches on one input and joins them;
- a module with its own ``forward`` (and no hand-written ``backward``) is
  walked through its own tape: each argument of each call inside it is the
  model's input or an earlier call's output, possibly reshaped
  (``x.reshape(n, -1)``), which becomes a ``Reshape``.

Anything else (a module with a hand-written backward whose inside export
cannot see, a view that is not a reshape) is refused naming the module.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from ..nn import tape
from .onnx_graph import UnsupportedLayerError

__all__ = ["emit_call"]


def _shape(value):
    return tuple(np.shape(value))


def _received(call) -> list:
    """The float arrays ``call`` was given, in order (the tape notes them for every call)."""
    return [array for _, array, _ in call.seen]


class Emitter:
    """Turns recorded calls into nodes of ``b``; ``converter(module)`` finds a layer's converter."""

    def __init__(self, b, model, converter):
        self.b, self.converter = b, converter
        self.paths = {id(m): name for name, m in model.named_modules()}
        self.layers = {}  # path -> the layer, for the file's metadata

    def _enter(self, module):
        path = self.paths.get(id(module), type(module).__name__)
        self.b.path, self.b.prefix = path or "", f"{path}." if path else ""
        self.b.where = f"to_onnx: {type(module).__name__} at '{path or '(the model)'}'"
        return path

    def emit(self, call, inputs):
        """The output name of ``call`` given the names of its array arguments."""
        module = call.module
        convert = self.converter(module)
        if convert is not None:
            path = self._enter(module)
            self.layers[path] = module
            return convert(self.b, module, inputs[0], (_shape(_received(call)[0]), _shape(call.output)))
        if isinstance(module, (nn.Add, nn.Cat)):
            self._enter(module)
            if isinstance(module, nn.Add):
                out = inputs[0]
                for other in inputs[1:]:
                    out = self.b.node("Add", [out, other])
                return out if len(inputs) > 1 else self.b.node("Identity", [out])
            return self.b.node("Concat", inputs, axis=int(module.dim))
        if isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward:
            name = inputs[0]
            for child in call.children:
                name = self.emit(child, [name])
            return name
        if isinstance(module, nn.Residual):
            body = self.emit(call.children[0], inputs)
            skip = self.emit(call.children[1], inputs) if module.shortcut is not None else inputs[0]
            self._enter(module)
            return self.b.node("Add", [body, skip])
        if isinstance(module, nn.Parallel):
            parent = self.paths.get(id(module), "")
            self.paths[id(module.join)] = f"{parent}.join" if parent else "join"  # the join is not a child
            outs = [self.emit(child, inputs) for child in call.children[:-1]]
            return self.emit(call.children[-1], outs)
        if call.traced:
            return self._emit_traced(call, inputs)
        path = self.paths.get(id(module), "?")
        if not any(True for _ in module.children()):
            raise UnsupportedLayerError(f"to_onnx: {type(module).__name__} at '{path}' is a layer ONNX export does "
                                        f"not cover")
        raise UnsupportedLayerError(
            f"to_onnx: {type(module).__name__} at '{path}' has a hand-written backward, "
            f"so export cannot see which layers its forward calls; give it only a forward (the tape then records "
            f"its calls), or build it from Sequential / Residual / Parallel")

    def _emit_traced(self, call, inputs):
        """A module with its own forward: follow its tape, slot by slot."""
        names = list(inputs)  # slots 0.. are the call's array arguments, in order
        path = self.paths.get(id(call.module), "")
        for child in call.children:
            received = _received(child)
            self.b.path = f"{path}.reshape" if path else "reshape"  # where a reshape between layers is named
            child_inputs = [self._argument(source, names, arg, type(child.module).__name__)
                            for source, arg in zip(child.sources, received)]
            out = self.emit(child, child_inputs)
            names.extend(out for _ in child.out_slots)
        self.b.path = f"{path}.reshape" if path else "reshape"
        results = [self._argument(source, names, value, f"{type(call.module).__name__}'s result")
                   for source, value in zip(call.result_sources, tape._outputs(call.output))]
        if len(results) != 1:
            raise UnsupportedLayerError(f"to_onnx: {type(call.module).__name__}.forward returns {len(results)} "
                                        f"arrays; export needs exactly one output")
        return results[0]

    def _argument(self, source, names, received, who):
        """The name of an argument: the slot's array itself, or a Reshape of it."""
        if source is None:
            raise UnsupportedLayerError(f"to_onnx: an argument of {who} was computed with NumPy between layers; "
                                        f"combine arrays with nn.Add / nn.Cat so the tape can see it")
        name = names[source.slot]
        if source.kind == tape.SAME:
            return name
        if source.kind == tape.VIEW and not _is_reshape(source.base, source.view):
            raise UnsupportedLayerError(f"to_onnx: {who} receives a view of an earlier result that is not a "
                                        f"reshape (a slice or a transpose); export only follows reshapes")
        shape, base = _shape(received), _shape(source.base)
        first = 0 if shape and base and shape[0] == base[0] else -1  # keep the batch axis free where it stays
        return self.b.node("Reshape", [name, self.b.ints("shape", [first, *shape[1:]])])


def _is_reshape(base, view) -> bool:
    """True when ``view`` holds ``base``'s elements in the same order (a reshape, not a slice or transpose)."""
    return view.size == base.size and np.array_equal(np.reshape(base, -1), np.reshape(view, -1))


def emit_call(b, model, root_call, converter):
    """Emit the whole recorded forward of ``model``; return (output name, {path: layer})."""
    emitter = Emitter(b, model, converter)
    out = emitter.emit(root_call, ["input"])
    return out, emitter.layers
