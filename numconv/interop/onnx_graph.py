"""The small graph builder the ONNX exporter writes into, and the lazy imports of onnx / onnxruntime.

Naming, which the importer relies on:

- a layer's weights and buffers are initializers named by their ``state_dict``
  key (``features.0.weight``), so the file reads like the model;
- every node a layer produces is named ``<layer path>/<op>_<k>``, so the
  nodes of one layer can be found again (the path of a layer that is the
  whole model is ``.``);
- constants a layer needs (a reshape target, a clip bound) are initializers
  named ``<layer path>/<what>``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["require_onnx", "require_onnxruntime", "GraphBuilder", "UnsupportedLayerError", "describe_onnx"]


class UnsupportedLayerError(ValueError):
    """A layer (or a setting of it) that ONNX cannot express; the message names the layer and why."""


def require_onnx():
    try:
        import onnx
    except ImportError as error:
        raise ImportError(f"ONNX export and import need the onnx package (pip install 'numconv[onnx]'): "
                          f"{error}") from None
    return onnx


def require_onnxruntime():
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(f"running an ONNX model needs onnxruntime (pip install 'numconv[onnx]'): {error}") from None
    return onnxruntime


class GraphBuilder:
    """Collects nodes and initializers for one ONNX graph.

    Parameters
    ----------
    dtype : np.dtype
        float32 or float64: the element type of the model's tensors.
    opset : int
        The ``ai.onnx`` opset the graph targets (converters pick operators by it).
    """

    def __init__(self, dtype, opset: int):
        self.onnx = require_onnx()
        self.dtype = np.dtype(dtype)
        self.opset = int(opset)
        self.nodes, self.initializers, self._names, self._stored = [], [], set(), set()
        self.path = "."

    def _unique(self, name: str) -> str:
        base, k = name, 0
        while name in self._names:
            k += 1
            name = f"{base}_{k}"
        self._names.add(name)
        return name

    def node(self, op: str, inputs, n_outputs: int = 1, **attributes):
        """Add a node of the current layer; return its output name (or names when ``n_outputs > 1``)."""
        name = self._unique(f"{self.path}/{op}")
        outputs = [name if n_outputs == 1 else f"{name}:{i}" for i in range(n_outputs)]
        attributes = {k: v for k, v in attributes.items() if v is not None}
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), outputs, name=name, **attributes))
        return outputs[0] if n_outputs == 1 else outputs

    def tensor(self, name: str, array) -> str:
        """Add an initializer holding ``array`` under ``name`` (a state_dict key); return the name.

        A layer called twice (or shared by two places) reuses its initializers.
        """
        if name in self._stored:
            return name
        self._stored.add(name)
        self._names.add(name)
        array = np.asarray(array)
        if array.ndim:  # a 0-d constant stays a scalar (ascontiguousarray would make it 1-D), as Pad and Clip ask
            array = np.ascontiguousarray(array)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name=name))
        return name

    def const(self, what: str, array, dtype=None) -> str:
        """A constant of the current layer (in the model's float type unless ``dtype`` is given)."""
        array = np.asarray(array, dtype=self.dtype if dtype is None else dtype)
        return self.tensor(self._unique(f"{self.path}/{what}"), array)

    def ints(self, what: str, values) -> str:
        """An int64 1-D constant (shapes, axes, pads)."""
        return self.const(what, np.asarray(values, dtype=np.int64), dtype=np.int64)

    def elem_type(self) -> int:
        return self.onnx.helper.np_dtype_to_tensor_dtype(self.dtype)


def describe_onnx(path) -> str:
    """The graph of an ONNX file, one line per node: name, operator, output shape, weights (as Netron lists it).

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    str
        Lines like ``0/Conv  Conv  -> [N, 6, 28, 28]  0.weight [6, 1, 5, 5], 0.bias [6]``.
    """
    import os

    onnx = require_onnx()
    proto = onnx.shape_inference.infer_shapes(onnx.load(os.fspath(path)))
    graph = proto.graph
    shapes = {}
    for info in [*graph.input, *graph.value_info, *graph.output]:
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = "[" + ", ".join(d.dim_param or str(d.dim_value) for d in dims) + "]"
    weights = {t.name: "[" + ", ".join(map(str, t.dims)) + "]" for t in graph.initializer}
    rows = [(node.name, node.op_type, shapes.get(node.output[0], "?"),
             ", ".join(f"{n} {weights[n]}" for n in node.input if n in weights and "/" not in n))
            for node in graph.node]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  -> {c:<{widths[2]}}  {d}".rstrip() for a, b, c, d in rows)
