"""``to_onnx``: write a numconv model as an ONNX file that onnxruntime runs with the same results.

The model is run once in eval mode on an input of the given shape, and
the tape of that forward (:mod:`.onnx_tape`) is walked: each layer's
converter (:mod:`.onnx_layers`, :mod:`.onnx_activations`) adds the ONNX
nodes that compute what it computed, merge modules become ``Add`` /
``Concat``, and a module with its own ``forward`` is followed call by
call. Batch norm is written in its inference form (running statistics),
dropout as the identity. The batch axis of the file's input is symbolic
(``N``), so the file takes any batch size.

The file also records, as metadata, each layer's numconv type and
constructor arguments (``numconv.layers``), the module tree where the model
is built from ``Sequential`` / ``Residual`` / ``Parallel`` / ``Add`` / ``Cat``
and layers (``numconv.tree``), and the batch counters of batch norm
(``numconv.buffers``), so :func:`~numconv.interop.from_onnx` rebuilds the
same modules, with the same ``state_dict``, also where a layer had to be
written as several ONNX operators.
"""

from __future__ import annotations

import json
import os

import numpy as np

from .. import nn
from .._state import enable_grad
from ..nn import tape
from .onnx_activations import ACTIVATIONS
from .onnx_graph import GraphBuilder, UnsupportedLayerError, require_onnx
from .onnx_resize import RESIZE_CONVERTERS
from .onnx_tape import emit_call
from .onnx_layers import (
    adaptive_pool, avg_pool, batch_norm, conv, conv_transpose, flatten, group_norm, identity, instance_norm,
    layer_norm, linear, local_response_norm, max_pool, unflatten,
)

__all__ = ["to_onnx", "CONVERTERS", "UnsupportedLayerError", "DEFAULT_OPSET"]

DEFAULT_OPSET = 17

CONVERTERS = {
    **{f"Conv{d}d": conv for d in (1, 2, 3)},
    **{f"ConvTranspose{d}d": conv_transpose for d in (1, 2, 3)},
    **{f"MaxPool{d}d": max_pool for d in (1, 2, 3)},
    **{f"AvgPool{d}d": avg_pool for d in (1, 2, 3)},
    **{f"Adaptive{k}Pool{d}d": adaptive_pool for d in (1, 2, 3) for k in ("Avg", "Max")},
    **{f"BatchNorm{d}d": batch_norm for d in (1, 2, 3)},
    **{f"InstanceNorm{d}d": instance_norm for d in (1, 2, 3)},
    "LayerNorm": layer_norm, "GroupNorm": group_norm, "LocalResponseNorm": local_response_norm,
    "Linear": linear, "Flatten": flatten, "Unflatten": unflatten, "Identity": identity,
    **{name: identity for name in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                                   "FeatureAlphaDropout")},
    **RESIZE_CONVERTERS,
    **ACTIVATIONS,
}


def _converter(layer):
    for cls in type(layer).__mro__:  # a subclass of a known layer converts like it (ReLU6 is a Hardtanh)
        if cls.__module__.startswith("numconv.nn") and cls.__name__ in CONVERTERS:
            return CONVERTERS[cls.__name__]
    return None


def module_tree(module):
    """A JSON description of ``module`` built from Sequential / Residual / Parallel / Add / Cat and layers.

    None when some module has its own forward: the file cannot say how to rebuild that class.
    """
    if isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward:
        children = [[name, module_tree(child)] for name, child in module.named_children()]
        return None if any(c is None for _, c in children) else {"type": "Sequential", "children": children}
    if isinstance(module, nn.Residual):
        body = module_tree(module.body)
        shortcut = None if module.shortcut is None else module_tree(module.shortcut)
        if body is None or (module.shortcut is not None and shortcut is None):
            return None
        return {"type": "Residual", "body": body, "shortcut": shortcut}
    if isinstance(module, nn.Parallel):
        branches = [[name, module_tree(child)] for name, child in module.named_children()]
        if any(b is None for _, b in branches):
            return None
        return {"type": "Parallel", "branches": branches, "merge": module.merge,
                "dim": int(getattr(module.join, "dim", 1))}
    if isinstance(module, nn.Cat):
        return {"type": "Cat", "dim": int(module.dim)}
    if isinstance(module, nn.Add):
        return {"type": "Add"}
    if _converter(module) is not None:
        return {"type": type(module).__name__, "kwargs": constructor_kwargs(module)}
    return None


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


def _record(model, input_shape, dtype):
    """The tape of one eval-mode forward pass of ``model`` on a random input of ``input_shape``."""
    x = np.random.default_rng(0).standard_normal(input_shape).astype(dtype)
    was_training = model.training
    model.eval()
    try:
        with enable_grad():  # the tape records only where gradients are on
            model(x)
    finally:
        model.train(was_training)
    return tape.last_call(model)


def _model_dtype(model, dtype=None):
    """The file's dtype: the parameters' (which the model computes in); ``dtype`` for a model without any."""
    for p in model.parameters():
        if dtype is not None and np.dtype(dtype) != p.data.dtype:
            raise ValueError(f"to_onnx: dtype={np.dtype(dtype).name} differs from the model's parameters "
                             f"({p.data.dtype}); convert the model (model.double() / model.float()) instead")
        return np.dtype(p.data.dtype)
    if dtype is not None and np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(f"to_onnx: dtype must be float32 or float64, got {np.dtype(dtype).name}")
    return np.dtype(np.float32 if dtype is None else dtype)


def build_onnx(model, input_shape, opset: int = DEFAULT_OPSET, dtype=None):
    """The ONNX ``ModelProto`` of ``model`` for inputs shaped like ``input_shape`` (see :func:`to_onnx`)."""
    onnx = require_onnx()
    input_shape = tuple(int(s) for s in input_shape)
    if len(input_shape) < 2 or any(s < 1 for s in input_shape):
        raise ValueError(f"to_onnx: expected input_shape (N, C, ...) of positive sizes, got {input_shape}")
    if isinstance(opset, bool) or not isinstance(opset, int) or not 13 <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"to_onnx: opset must be an int from 13 to {onnx.defs.onnx_opset_version()}, got {opset!r}")
    dtype = _model_dtype(model, dtype)
    b = GraphBuilder(dtype, opset)
    name, called = emit_call(b, model, _record(model, input_shape, dtype), _converter)
    layers, buffers = {}, {}
    for path, layer in called.items():
        layers[path] = {"type": type(layer).__name__, "kwargs": constructor_kwargs(layer)}
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            buffers[key] = int(value)
    b.nodes.append(onnx.helper.make_node("Identity", [name], ["output"], name="output/Identity"))
    dims = ["N", *input_shape[1:]]
    graph = onnx.helper.make_graph(
        b.nodes, type(model).__name__, [onnx.helper.make_tensor_value_info("input", b.elem_type(), dims)],
        [onnx.helper.make_tensor_value_info("output", b.elem_type(), None)], initializer=b.initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="numconv")
    props = {"numconv.layers": json.dumps(layers), "numconv.buffers": json.dumps(buffers)}
    tree = module_tree(model)
    if tree is not None:
        props["numconv.tree"] = json.dumps(tree)
    onnx.helper.set_model_props(proto, props)
    proto = onnx.shape_inference.infer_shapes(proto, strict_mode=True)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def to_onnx(model, input_shape, path, opset: int = DEFAULT_OPSET, dtype=None) -> str:
    """Write ``model`` as an ONNX file.

    Parameters
    ----------
    model : Module
        Layers ONNX has operators for (see ``CONVERTERS``), combined by
        ``Sequential``, ``Residual``, ``Parallel``, ``Add``, ``Cat``, or by a
        module's own ``forward`` (recorded by the tape); all of ``numconv.models``.
    input_shape : tuple of int
        The shape of one input batch, ``(N, C, H, W)`` (or ``(N, C, L)``,
        ``(N, features)``...); the file accepts any batch size.
    path : str or PathLike
        Where to write the ``.onnx`` file.
    opset : int
        The ONNX opset (default 17; GELU and Mish use their own operators
        from opsets 20 and 18, circular padding ONNX's ``Pad`` mode
        ``wrap`` from 19; before them, the few operators that compute them).
    dtype : float32 or float64, optional
        The file's input and output type for a model without parameters
        (default float32); a model with parameters is written in their dtype.

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
    proto = build_onnx(model, input_shape, opset, dtype)
    path = os.fspath(path)
    from ..data._files import atomic_write

    atomic_write(path, lambda f: f.write(proto.SerializeToString()))
    return path
