"""``from_onnx``: read an ONNX file back into numconv modules.

A file ``to_onnx`` wrote from ``Sequential`` / ``Residual`` / ``Parallel`` /
``Add`` / ``Cat`` and layers records that module tree (``numconv.tree``):
the same tree is built and its ``state_dict`` read from the initializers
named by its keys. Otherwise the graph must be a chain (each layer's output
feeds the next); its nodes are grouped into layers by name
(``<layer path>/<op>``, as ``to_onnx`` writes them; a node of another
exporter is a layer of its own):

- a layer recorded in the file's ``numconv.layers`` metadata (every layer
  ``to_onnx`` wrote) is rebuilt as that numconv type with its constructor
  arguments, and its weights and buffers are read from the initializers
  named by its ``state_dict`` keys: the same modules and the same
  ``state_dict``, also for layers written as several operators;
- any other node is mapped by its ONNX operator and attributes (``Conv`` to
  ``ConvNd``, ``Gemm`` to ``Linear``, ``BatchNormalization`` to
  ``BatchNormNd``, pooling, the activations, ...); an operator outside that
  set is a clear error naming the node.

The layers are nested in ``Sequential`` s following their paths, so
``features.0`` becomes child ``0`` of child ``features``.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict

import numpy as np

from .. import nn
from .onnx_graph import UnsupportedLayerError, require_onnx

__all__ = ["from_onnx"]


class _Graph:
    """What the importer reads from a model: initializers, ranks of every tensor, metadata."""

    def __init__(self, proto):
        onnx = require_onnx()
        self.arrays = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
        inferred = onnx.shape_inference.infer_shapes(proto)
        self.ranks = {}
        for info in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
            shape = info.type.tensor_type.shape
            if info.type.tensor_type.HasField("shape"):
                self.ranks[info.name] = len(shape.dim)
        props = {p.key: p.value for p in proto.metadata_props}
        self.layers = json.loads(props.get("numconv.layers", "{}"))
        self.buffers = json.loads(props.get("numconv.buffers", "{}"))
        self.tree = json.loads(props["numconv.tree"]) if "numconv.tree" in props else None
        self.attributes = onnx.helper.get_attribute_value


def _groups(nodes):
    """Consecutive nodes sharing a layer path: ``[(path, [nodes])]`` (a foreign node is its own group)."""
    groups = []
    for i, node in enumerate(nodes):
        path = node.name.rsplit("/", 1)[0] if "/" in node.name else f"node{i}"
        if groups and groups[-1][0] == path:
            groups[-1][1].append(node)
        else:
            groups.append((path, [node]))
    return groups


def _layer_class(spec, path):
    cls = getattr(nn, str(spec.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):  # the name comes from a file: only nn layers
        raise ValueError(f"from_onnx: layer '{path}' is recorded as {spec.get('type')!r}, not a numconv.nn layer")
    return cls


def _tuples(kwargs):
    """Constructor arguments read from JSON, its lists back to the tuples they were (``size=(7, 3)``)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


def _build(spec, path=""):
    """The module a ``numconv.tree`` description names (weights still to be loaded)."""
    kind = spec.get("type")
    if kind == "Sequential":
        return nn.Sequential(OrderedDict((name, _build(child, f"{path}.{name}")) for name, child in spec["children"]))
    if kind == "Residual":
        shortcut = None if spec["shortcut"] is None else _build(spec["shortcut"], f"{path}.shortcut")
        return nn.Residual(_build(spec["body"], f"{path}.body"), shortcut)
    if kind == "Parallel":
        branches = OrderedDict((name, _build(child, f"{path}.{name}")) for name, child in spec["branches"])
        return nn.Parallel(branches, merge=spec["merge"], dim=int(spec["dim"]))
    if kind == "Cat":
        return nn.Cat(int(spec["dim"]))
    return _layer_class(spec, path)(**_tuples(spec.get("kwargs", {})))


def _load_state(graph, module, prefix):
    """Load ``module``'s state from the initializers (and recorded buffers) named by its state_dict keys."""
    state = {}
    for key, value in module.state_dict().items():
        full = prefix + key
        if full in graph.arrays:
            state[key] = graph.arrays[full]
        elif full in graph.buffers:
            state[key] = np.asarray(graph.buffers[full], dtype=np.asarray(value).dtype)
        else:
            raise ValueError(f"from_onnx: the file has no initializer '{full}'")
    _match_dtype(module, state)
    module.load_state_dict(state)
    return module


def _recorded_layer(graph, path, spec):
    """The numconv layer the metadata names, with its state read from the initializers."""
    layer = _layer_class(spec, path)(**_tuples(spec["kwargs"]))
    return _load_state(graph, layer, f"{path}." if path else "")


def _match_dtype(layer, state):
    """Float64 weights in the file make a float64 layer."""
    if any(np.asarray(v).dtype == np.float64 for v in state.values()):
        layer.double()


def _node_layer(graph, node):
    """A numconv layer for one ONNX node of a foreign file, from its operator and attributes."""
    from .onnx_ops import NODE_LAYERS

    make = NODE_LAYERS.get(node.op_type)
    if make is None:
        raise UnsupportedLayerError(
            f"from_onnx: node '{node.name}' is {node.op_type}, which has no numconv layer here; importable "
            f"operators: {', '.join(sorted(NODE_LAYERS))} (and whatever to_onnx writes)")
    attrs = {a.name: graph.attributes(a) for a in node.attribute}
    return make(graph, node, attrs)


def _nest(layers):
    """Sequentials nested along the dotted paths of ``layers`` (``[(path, layer)]``)."""
    tree = OrderedDict()
    for path, layer in layers:
        *parents, name = path.split(".")
        level = tree
        for part in parents:
            level = level.setdefault(part, OrderedDict())
        level[name] = layer

    def build(level):
        return nn.Sequential(OrderedDict((k, build(v) if isinstance(v, OrderedDict) else v) for k, v in level.items()))
    return build(tree)


def from_onnx(path):
    """Read an ONNX file into numconv modules (see the module docstring).

    Parameters
    ----------
    path : str or PathLike
        A ``.onnx`` file whose graph is a chain of layers.

    Returns
    -------
    Module
        A ``Sequential`` (nested like the exported model), in eval mode; a
        file holding one layer gives that layer.
    """
    onnx = require_onnx()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"from_onnx: there is no file '{path}'")
    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    graph = _Graph(proto)
    if graph.tree is not None:  # written by to_onnx from Sequential / Residual / Parallel / Add / Cat and layers
        return _load_state(graph, _build(graph.tree), "").eval()
    nodes = [n for n in proto.graph.node if n.name != "output/Identity"]
    _check_chain(proto, nodes)
    layers = []
    for group_path, group in _groups(nodes):
        spec = graph.layers.get(group_path)
        if spec is not None:
            layers.append((group_path, _recorded_layer(graph, group_path, spec)))
        else:  # not written by to_onnx: one layer per node, named by position
            layers.extend((str(len(layers) + i), _node_layer(graph, node)) for i, node in enumerate(group))
    if len(layers) == 1 and layers[0][0] == "":
        return layers[0][1].eval()
    return _nest(layers).eval()


def _check_chain(proto, nodes):
    """Refuse graphs that branch: one data input, and each layer reads only what the layer before it made."""
    constants = {t.name for t in proto.graph.initializer}
    inputs = [i.name for i in proto.graph.input if i.name not in constants]
    if len(inputs) != 1 or len(proto.graph.output) != 1:
        raise UnsupportedLayerError(f"from_onnx: the graph has inputs {inputs} and {len(proto.graph.output)} "
                                    f"outputs; only chains of layers with one input and one output import")
    previous = inputs[0]
    for path, group in _groups(nodes):
        inside = {name for node in group for name in node.output}
        for node in group:
            outside = [n for n in node.input if n and n not in constants and n not in inside]
            if any(name != previous for name in outside):
                raise UnsupportedLayerError(
                    f"from_onnx: node '{node.name}' ({node.op_type}) reads {outside}, not only the output of the "
                    f"layer before it ('{previous}'); only chains of layers import")
        previous = group[-1].output[0]
