"""``to_onnx``: write a numconv model as an ONNX file that onnxruntime runs with the same results.

The model is run once, layer by layer, in eval mode on an input of the
given shape; each layer's converter (:mod:`.onnx_layers`,
:mod:`.onnx_activations`) adds the ONNX nodes that compute what it
computed. Batch norm is written in its inference form (running
statistics), dropout as the identity. The batch axis of the file's input
is symbolic (``N``), so the file takes any batch size.

The file also records, as metadata, each layer's numconv type and
constructor arguments (``numconv.layers``) and the batch counters of batch
norm (``numconv.buffers``), so :func:`~numconv.interop.from_onnx` rebuilds
the same modules, with the same ``state_dict``, also where a layer had to be
written as several ONNX operators.
"""

from __future__ import annotations

import json
import os

import numpy as np

from .. import nn
from .._state import no_grad
from .onnx_activations import ACTIVATIONS
from .onnx_graph import GraphBuilder, UnsupportedLayerError, require_onnx
from .onnx_layers import (
    adaptive_pool, avg_pool, batch_norm, conv, flatten, group_norm, identity, instance_norm, layer_norm, linear,
    local_response_norm, max_pool, unflatten,
)

__all__ = ["to_onnx", "CONVERTERS", "UnsupportedLayerError", "DEFAULT_OPSET"]

DEFAULT_OPSET = 17

CONVERTERS = {
    **{f"Conv{d}d": conv for d in (1, 2, 3)},
    **{f"MaxPool{d}d": max_pool for d in (1, 2, 3)},
    **{f"AvgPool{d}d": avg_pool for d in (1, 2, 3)},
    **{f"Adaptive{k}Pool{d}d": adaptive_pool for d in (1, 2, 3) for k in ("Avg", "Max")},
    **{f"BatchNorm{d}d": batch_norm for d in (1, 2, 3)},
    **{f"InstanceNorm{d}d": instance_norm for d in (1, 2, 3)},
    "LayerNorm": layer_norm, "GroupNorm": group_norm, "LocalResponseNorm": local_response_norm,
    "Linear": linear, "Flatten": flatten, "Unflatten": unflatten, "Identity": identity,
    **{name: identity for name in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                                   "FeatureAlphaDropout")},
    **ACTIVATIONS,
}


def _converter(layer):
    for cls in type(layer).__mro__:  # a subclass of a known layer converts like it (ReLU6 is a Hardtanh)
        if cls.__module__.startswith("numconv.nn") and cls.__name__ in CONVERTERS:
            return CONVERTERS[cls.__name__]
    return None


def _is_chain(module) -> bool:
    """A Sequential (or subclass) that keeps Sequential's forward: its children run one after the other."""
    return isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward


def leaves(module, path: str = ""):
    """``(path, layer)`` of every layer of a chain of Sequentials, in the order they run."""
    if _is_chain(module):
        for name, child in module.named_children():
            yield from leaves(child, f"{path}.{name}" if path else name)
        return
    if _converter(module) is None:
        kind = "a module with its own forward" if any(True for _ in module.children()) else "a layer"
        raise UnsupportedLayerError(
            f"to_onnx: {type(module).__name__} at '{path or '(the model)'}' is {kind} ONNX export does not "
            f"cover; exportable: Sequential chains of {', '.join(sorted(CONVERTERS))}")
    yield path, module


def constructor_kwargs(layer) -> dict:
    """The layer's constructor arguments, read back from its attributes (JSON-able)."""
    from .pytorch import _init_args

    kwargs = {}
    for name in _init_args(type(layer)):
        if name in ("dtype", "inplace") or not hasattr(layer, name):
            continue
        value = getattr(layer, name)
        if name == "bias" and not isinstance(value, bool):
            value = value is not None
        elif name == "weight" or name == "init":
            continue
        kwargs[name] = _jsonable(value)
    return kwargs


def _jsonable(value):
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _trace(model, input_shape, dtype):
    """Each layer with the shapes it saw, from one eval-mode forward pass."""
    x = np.random.default_rng(0).standard_normal(input_shape).astype(dtype)
    steps = []
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for path, layer in leaves(model):
                y = np.asarray(layer(x))
                steps.append((path, layer, tuple(x.shape), tuple(y.shape)))
                x = y
    finally:
        model.train(was_training)
    return steps


def _model_dtype(model):
    for p in model.parameters():
        return np.dtype(p.data.dtype)
    return np.dtype(np.float32)


def build_onnx(model, input_shape, opset: int = DEFAULT_OPSET):
    """The ONNX ``ModelProto`` of ``model`` for inputs shaped like ``input_shape`` (see :func:`to_onnx`)."""
    onnx = require_onnx()
    input_shape = tuple(int(s) for s in input_shape)
    if len(input_shape) < 2 or any(s < 1 for s in input_shape):
        raise ValueError(f"to_onnx: expected input_shape (N, C, ...) of positive sizes, got {input_shape}")
    if isinstance(opset, bool) or not isinstance(opset, int) or not 13 <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"to_onnx: opset must be an int from 13 to {onnx.defs.onnx_opset_version()}, got {opset!r}")
    dtype = _model_dtype(model)
    b = GraphBuilder(dtype, opset)
    name, layers, buffers = "input", {}, {}
    for path, layer, shape_in, shape_out in _trace(model, input_shape, dtype):
        b.path, b.prefix = path, f"{path}." if path else ""
        b.where = f"to_onnx: {type(layer).__name__} at '{path or '(the model)'}'"
        name = _converter(layer)(b, layer, name, (shape_in, shape_out))
        layers[path] = {"type": type(layer).__name__, "kwargs": constructor_kwargs(layer)}
        for key, value in layer.state_dict().items():
            if key.endswith("num_batches_tracked"):
                buffers[b.prefix + key] = int(value)
    b.nodes.append(onnx.helper.make_node("Identity", [name], ["output"], name="output/Identity"))
    dims = ["N", *input_shape[1:]]
    graph = onnx.helper.make_graph(
        b.nodes, type(model).__name__, [onnx.helper.make_tensor_value_info("input", b.elem_type(), dims)],
        [onnx.helper.make_tensor_value_info("output", b.elem_type(), None)], initializer=b.initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="numconv")
    onnx.helper.set_model_props(proto, {"numconv.layers": json.dumps(layers),
                                        "numconv.buffers": json.dumps(buffers)})
    proto = onnx.shape_inference.infer_shapes(proto, strict_mode=True)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def to_onnx(model, input_shape, path, opset: int = DEFAULT_OPSET) -> str:
    """Write ``model`` as an ONNX file.

    Parameters
    ----------
    model : Module
        A ``Sequential`` (nested ones included, e.g. ``numconv.models``) of
        layers ONNX has operators for; see ``CONVERTERS``.
    input_shape : tuple of int
        The shape of one input batch, ``(N, C, H, W)`` (or ``(N, C, L)``,
        ``(N, features)``...); the file accepts any batch size.
    path : str or PathLike
        Where to write the ``.onnx`` file.
    opset : int
        The ONNX opset (default 17; GELU and Mish use their own operators
        from opsets 20 and 18, circular padding needs 19).

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    UnsupportedLayerError
        A layer (or a setting) with no ONNX equivalent; the message names it
        by its path in the model.
    """
    proto = build_onnx(model, input_shape, opset)
    path = os.fspath(path)
    from ..data._files import atomic_write

    atomic_write(path, lambda f: f.write(proto.SerializeToString()))
    return path
