"""ONNX operators -> numconv layers, for nodes of files ``to_onnx`` did not write.

Each entry is ``make(graph, node, attrs) -> layer``; weights come from the
node's initializer inputs. An attribute numconv has no setting for (an
asymmetric padding, ``Gemm`` with ``alpha != 1``) is a clear error.
"""

from __future__ import annotations

import numpy as np

from .. import nn
from .onnx_graph import UnsupportedLayerError
from .onnx_layers import SELU_ALPHA, SELU_SCALE

__all__ = ["NODE_LAYERS"]


def _where(node):
    return f"from_onnx: node '{node.name}' ({node.op_type})"


def _rank(graph, node):
    rank = graph.ranks.get(node.input[0])
    if rank is None:
        raise UnsupportedLayerError(f"{_where(node)}: the rank of its input is unknown (run shape inference)")
    return rank


def _weight(graph, node, i):
    if len(node.input) <= i or not node.input[i]:
        return None
    if node.input[i] not in graph.arrays:
        raise UnsupportedLayerError(f"{_where(node)}: input {i} ('{node.input[i]}') must be a constant")
    return graph.arrays[node.input[i]]


def _symmetric(node, pads, n):
    pads = list(pads or [0] * 2 * n)
    if pads[:n] != pads[n:]:
        raise UnsupportedLayerError(f"{_where(node)}: pads {pads} differ at the two ends; numconv pads both equally")
    return tuple(int(p) for p in pads[:n])


def _load(layer, **arrays):
    state = {k: np.asarray(v) for k, v in arrays.items() if v is not None}
    if any(v.dtype == np.float64 for v in state.values()):
        layer.double()
    layer.load_state_dict({**layer.state_dict(), **state})
    return layer


def conv(graph, node, attrs):
    weight, bias = _weight(graph, node, 1), _weight(graph, node, 2)
    n = weight.ndim - 2
    cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[n]
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise UnsupportedLayerError(f"{_where(node)}: auto_pad is not supported; write explicit pads")
    groups = int(attrs.get("group", 1))
    layer = cls(weight.shape[1] * groups, weight.shape[0], tuple(weight.shape[2:]),
                stride=tuple(attrs.get("strides", [1] * n)), padding=_symmetric(node, attrs.get("pads"), n),
                dilation=tuple(attrs.get("dilations", [1] * n)), groups=groups, bias=bias is not None)
    return _load(layer, weight=weight, bias=bias)


def conv_transpose(graph, node, attrs):
    weight, bias = _weight(graph, node, 1), _weight(graph, node, 2)
    n = weight.ndim - 2
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") or "output_shape" in attrs:
        raise UnsupportedLayerError(f"{_where(node)}: auto_pad and output_shape are not supported; write explicit "
                                    f"pads and output_padding")
    groups = int(attrs.get("group", 1))
    cls = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[n]
    layer = cls(weight.shape[0], weight.shape[1] * groups, tuple(weight.shape[2:]),
                stride=tuple(attrs.get("strides", [1] * n)), padding=_symmetric(node, attrs.get("pads"), n),
                output_padding=tuple(attrs.get("output_padding", [0] * n)),
                dilation=tuple(attrs.get("dilations", [1] * n)), groups=groups, bias=bias is not None)
    return _load(layer, weight=weight, bias=bias)


def gemm(graph, node, attrs):
    if attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0 or attrs.get("transA", 0):
        raise UnsupportedLayerError(f"{_where(node)}: only Gemm with alpha = beta = 1 and transA = 0 is a Linear")
    weight, bias = _weight(graph, node, 1), _weight(graph, node, 2)
    if not attrs.get("transB", 0):
        weight = weight.T
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    return _load(layer, weight=np.ascontiguousarray(weight), bias=bias)


def _pool(kind):
    def make(graph, node, attrs):
        kernel = tuple(attrs["kernel_shape"])
        n = len(kernel)
        common = dict(stride=tuple(attrs.get("strides", [1] * n)), padding=_symmetric(node, attrs.get("pads"), n),
                      ceil_mode=bool(attrs.get("ceil_mode", 0)))
        if kind == "max":
            cls = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[n]
            return cls(kernel, dilation=tuple(attrs.get("dilations", [1] * n)), **common)
        cls = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}[n]
        return cls(kernel, count_include_pad=bool(attrs.get("count_include_pad", 0)), **common)
    return make


def _global(kind):
    def make(graph, node, attrs):
        n = _rank(graph, node) - 2
        table = {"avg": (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d),
                 "max": (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)}[kind]
        return table[n - 1](1)
    return make


def batch_norm(graph, node, attrs):
    scale, bias, mean, var = (_weight(graph, node, i) for i in range(1, 5))
    n = _rank(graph, node)
    cls = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}[n]
    layer = cls(len(scale), eps=float(attrs.get("epsilon", 1e-5)))
    return _load(layer, weight=scale, bias=bias, running_mean=mean, running_var=var)


def instance_norm(graph, node, attrs):
    scale, bias = _weight(graph, node, 1), _weight(graph, node, 2)
    cls = {3: nn.InstanceNorm1d, 4: nn.InstanceNorm2d, 5: nn.InstanceNorm3d}[_rank(graph, node)]
    return _load(cls(len(scale), eps=float(attrs.get("epsilon", 1e-5)), affine=True), weight=scale, bias=bias)


def layer_norm(graph, node, attrs):
    scale, bias = _weight(graph, node, 1), _weight(graph, node, 2)
    axis = int(attrs.get("axis", -1))
    if axis >= 0:
        axis -= _rank(graph, node)
    if scale.ndim != -axis:
        raise UnsupportedLayerError(f"{_where(node)}: scale of shape {scale.shape} for axis {axis}")
    layer = nn.LayerNorm(tuple(scale.shape), eps=float(attrs.get("epsilon", 1e-5)), bias=bias is not None)
    return _load(layer, weight=scale, bias=bias)


def lrn(graph, node, attrs):
    return nn.LocalResponseNorm(int(attrs["size"]), alpha=float(attrs.get("alpha", 1e-4)),
                                beta=float(attrs.get("beta", 0.75)), k=float(attrs.get("bias", 1.0)))


def clip(graph, node, attrs):
    low, high = _weight(graph, node, 1), _weight(graph, node, 2)
    if low is None or high is None:
        raise UnsupportedLayerError(f"{_where(node)}: a Clip needs both bounds to be a Hardtanh")
    return nn.Hardtanh(float(low), float(high))


def prelu(graph, node, attrs):
    slope = _weight(graph, node, 1).reshape(-1)
    return _load(nn.PReLU(len(slope)), weight=slope)


def selu(graph, node, attrs):
    if not (np.isclose(attrs.get("alpha", SELU_ALPHA), SELU_ALPHA) and np.isclose(attrs.get("gamma", SELU_SCALE),
                                                                               SELU_SCALE)):
        raise UnsupportedLayerError(f"{_where(node)}: only SELU's own alpha and gamma are a numconv SELU")
    return nn.SELU()


def hard_sigmoid(graph, node, attrs):
    if not (np.isclose(attrs.get("alpha", 0.2), 1 / 6) and np.isclose(attrs.get("beta", 0.5), 0.5)):
        raise UnsupportedLayerError(f"{_where(node)}: only alpha = 1/6, beta = 0.5 is PyTorch's Hardsigmoid")
    return nn.Hardsigmoid()


def flatten(graph, node, attrs):
    if int(attrs.get("axis", 1)) != 1:
        raise UnsupportedLayerError(f"{_where(node)}: only Flatten with axis 1 (keep the batch axis) is supported")
    return nn.Flatten()


def reshape(graph, node, attrs):
    shape = _weight(graph, node, 1)
    if shape is not None and shape.ndim == 1 and len(shape) == 2 and shape[0] in (0, -1) and \
            (shape[1] == -1 or graph.ranks.get(node.input[0], 0) >= 2):
        return nn.Flatten()
    raise UnsupportedLayerError(f"{_where(node)}: only a Reshape to (batch, -1) (a Flatten) imports as a layer")


def _text(value, default):
    value = default if value is None else value
    return value.decode() if isinstance(value, bytes) else value


_PAD_LAYERS = {"constant": "ConstantPad", "reflect": "ReflectionPad", "edge": "ReplicationPad", "wrap": "CircularPad"}


def pad(graph, node, attrs):
    rank, mode = _rank(graph, node), _text(attrs.get("mode"), "constant")
    pads, value = _weight(graph, node, 1), _weight(graph, node, 2)
    if len(node.input) > 3 and node.input[3]:
        raise UnsupportedLayerError(f"{_where(node)}: the axes input is not supported; give pads for every axis")
    pads = [int(p) for p in pads]
    begins, ends = pads[:rank], pads[rank:]
    nd = rank - 2
    if mode not in _PAD_LAYERS or not 1 <= nd <= 3 or any(begins[:2] + ends[:2]):
        raise UnsupportedLayerError(f"{_where(node)}: only a {'/'.join(_PAD_LAYERS)} Pad of the 1 to 3 spatial "
                                    f"axes of (N, C, ...) input is a numconv padding layer (mode {mode!r}, pads "
                                    f"{pads}, rank {rank})")
    if mode != "constant" and min(pads) < 0:
        raise UnsupportedLayerError(f"{_where(node)}: negative pads (a crop) with mode {mode!r}")
    padding = tuple(p for axis in reversed(range(2, rank)) for p in (begins[axis], ends[axis]))  # last axis first
    cls = getattr(nn, f"{_PAD_LAYERS[mode]}{nd}d")
    if mode == "constant":
        return cls(padding, float(value.reshape(-1)[0]) if value is not None and value.size else 0.0)
    return cls(padding)


_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


def resize(graph, node, attrs):
    """A ``Resize`` with constant scales or sizes, in one of the pixel rules ``to_onnx`` writes, as ``Upsample``."""
    rank = _rank(graph, node)
    mode = _text(attrs.get("mode"), "nearest")
    transform = _text(attrs.get("coordinate_transformation_mode"), "half_pixel")
    rounding = _text(attrs.get("nearest_mode"), "round_prefer_floor")
    rules = {("nearest", "asymmetric", "floor"): ("nearest", None),
             ("nearest", "half_pixel", "round_prefer_ceil"): ("nearest-exact", None),
             ("linear", "half_pixel", rounding): (_LINEAR.get(rank - 2), False),
             ("linear", "align_corners", rounding): (_LINEAR.get(rank - 2), True)}
    rule = rules.get((mode, transform, rounding))
    axes = [a % rank for a in attrs.get("axes", range(rank))]
    spatial = list(range(2, rank))
    if rule is None or rule[0] is None or attrs.get("antialias", 0) or axes not in (list(range(rank)), spatial):
        raise UnsupportedLayerError(
            f"{_where(node)}: mode {mode!r}, coordinate_transformation_mode {transform!r}, nearest_mode {rounding!r} "
            f"(rank {rank}, axes {axes}) is not one of numconv's interpolations: nearest (asymmetric, floor), "
            f"nearest-exact (half_pixel, round_prefer_ceil), linear (half_pixel or align_corners), no antialias, "
            f"every axis or the spatial ones")
    scales = _weight(graph, node, 2) if len(node.input) > 2 and node.input[2] else None
    sizes = _weight(graph, node, 3) if len(node.input) > 3 and node.input[3] else None
    given = sizes if sizes is not None and sizes.size else scales
    lead = 0 if axes == spatial else 2  # with every axis, the batch and channel entries come first
    if given is None or given.size != len(axes) or (given is scales and list(scales[:lead]) != [1] * lead):
        raise UnsupportedLayerError(f"{_where(node)}: needs constant scales (1 for batch and channels) or sizes, "
                                    f"one per axis of {axes}")
    if given is sizes:
        return nn.Upsample(size=tuple(int(v) for v in sizes[lead:]), mode=rule[0], align_corners=rule[1])
    return nn.Upsample(scale_factor=tuple(float(v) for v in scales[lead:]), mode=rule[0], align_corners=rule[1])


def depth_to_space(graph, node, attrs):
    if _text(attrs.get("mode"), "DCR") != "CRD":
        raise UnsupportedLayerError(f"{_where(node)}: mode DCR orders the channels block-first; only mode CRD is "
                                    f"a PixelShuffle")
    return nn.PixelShuffle(int(attrs["blocksize"]))


def _softmax(cls):
    return lambda graph, node, attrs: cls(dim=int(attrs.get("axis", -1)))


NODE_LAYERS = {
    "Conv": conv, "Gemm": gemm, "MaxPool": _pool("max"), "AveragePool": _pool("avg"),
    "GlobalAveragePool": _global("avg"), "GlobalMaxPool": _global("max"), "BatchNormalization": batch_norm,
    "InstanceNormalization": instance_norm, "LayerNormalization": layer_norm, "LRN": lrn,
    "Relu": lambda g, n, a: nn.ReLU(), "LeakyRelu": lambda g, n, a: nn.LeakyReLU(float(a.get("alpha", 0.01))),
    "PRelu": prelu, "Elu": lambda g, n, a: nn.ELU(float(a.get("alpha", 1.0))),
    "Celu": lambda g, n, a: nn.CELU(float(a.get("alpha", 1.0))), "Selu": selu,
    "Gelu": lambda g, n, a: nn.GELU(a.get("approximate", b"none").decode() if isinstance(a.get("approximate"), bytes)
                                    else a.get("approximate", "none")),
    "Sigmoid": lambda g, n, a: nn.Sigmoid(), "Tanh": lambda g, n, a: nn.Tanh(), "Mish": lambda g, n, a: nn.Mish(),
    "HardSigmoid": hard_sigmoid, "HardSwish": lambda g, n, a: nn.Hardswish(),
    "Softsign": lambda g, n, a: nn.Softsign(), "Clip": clip, "Softmax": _softmax(nn.Softmax),
    "LogSoftmax": _softmax(nn.LogSoftmax), "Flatten": flatten, "Identity": lambda g, n, a: nn.Identity(),
    "Dropout": lambda g, n, a: nn.Identity(), "Reshape": reshape, "ConvTranspose": conv_transpose, "Pad": pad,
    "Resize": resize, "DepthToSpace": depth_to_space,
}
