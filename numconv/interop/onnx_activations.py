"""ONNX converters of the activations (see :mod:`numconv.interop.onnx_layers` for the contract)."""

from __future__ import annotations

import math

from .onnx_graph import UnsupportedLayerError
from .onnx_layers import SELU_ALPHA, SELU_SCALE, _per_channel, _param

__all__ = ["ACTIVATIONS"]


def _simple(op, **attributes):
    """A converter for an activation that is one ONNX operator with fixed attributes."""
    def convert(b, layer, x, shapes):
        return b.node(op, [x], **attributes)
    return convert


def leaky_relu(b, layer, x, shapes):
    return b.node("LeakyRelu", [x], alpha=float(layer.negative_slope))


def prelu(b, layer, x, shapes):
    slope = _param(b, layer, "weight")
    if layer.weight.data.size > 1 and len(shapes[0]) > 2:
        slope = _per_channel(b, slope, len(shapes[0]))  # (C,) -> (C, 1, ...): one slope per channel
    return b.node("PRelu", [x, slope])


def elu(b, layer, x, shapes):
    return b.node("Elu", [x], alpha=float(layer.alpha))


def celu(b, layer, x, shapes):
    return b.node("Celu", [x], alpha=float(layer.alpha))


def hardtanh(b, layer, x, shapes):
    return b.node("Clip", [x, b.const("min", layer.min_val), b.const("max", layer.max_val)])


def gelu(b, layer, x, shapes):
    if b.opset >= 20:
        return b.node("Gelu", [x], approximate=layer.approximate)
    half_x = b.node("Mul", [x, b.const("half", 0.5)])
    if layer.approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = b.node("Mul", [b.node("Mul", [x, x]), x])
        inner = b.node("Add", [x, b.node("Mul", [cube, b.const("c", 0.044715)])])
        curve = b.node("Tanh", [b.node("Mul", [inner, b.const("sqrt_2_over_pi", math.sqrt(2 / math.pi))])])
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        curve = b.node("Erf", [b.node("Mul", [x, b.const("inv_sqrt2", 1 / math.sqrt(2))])])
    return b.node("Mul", [half_x, b.node("Add", [curve, b.const("one", 1.0)])])


def silu(b, layer, x, shapes):
    return b.node("Mul", [x, b.node("Sigmoid", [x])])


def mish(b, layer, x, shapes):
    if b.opset >= 18:
        return b.node("Mish", [x])
    return b.node("Mul", [x, b.node("Tanh", [b.node("Softplus", [x])])])


def softplus(b, layer, x, shapes):
    # (1/beta) log(1 + exp(beta x)), and x itself where beta x > threshold (PyTorch's linear tail).
    beta = float(layer.beta)
    scaled = x if beta == 1 else b.node("Mul", [x, b.const("beta", beta)])
    curve = b.node("Softplus", [scaled])
    if beta != 1:
        curve = b.node("Div", [curve, b.const("beta", beta)])
    tail = b.node("Greater", [scaled, b.const("threshold", layer.threshold)])
    return b.node("Where", [tail, x, curve])


def threshold(b, layer, x, shapes):
    keep = b.node("Greater", [x, b.const("threshold", layer.threshold)])
    return b.node("Where", [keep, x, b.const("value", layer.value)])


def _dim(layer, rank):
    if layer.dim is not None:
        return int(layer.dim)
    return 0 if rank in (0, 1, 3) else 1  # PyTorch's deprecated implicit choice, as numconv follows


def softmax(b, layer, x, shapes):
    return b.node("Softmax", [x], axis=_dim(layer, len(shapes[0])))


def log_softmax(b, layer, x, shapes):
    return b.node("LogSoftmax", [x], axis=_dim(layer, len(shapes[0])))


def softmin(b, layer, x, shapes):
    return b.node("Softmax", [b.node("Neg", [x])], axis=_dim(layer, len(shapes[0])))


def maxout(b, layer, x, shapes):
    # (N, k*m, *) -> (N, m, k, *) -> max over the k pieces.
    shape_in, k = shapes[0], layer.pool_size
    if len(shape_in) < 2:
        raise UnsupportedLayerError(f"{b.where}: only batched input (N, k*m, ...) is exported")
    pieces = b.node("Reshape", [x, b.ints("pieces", [0, shape_in[1] // k, k, *shape_in[2:]])])
    if b.opset >= 18:
        return b.node("ReduceMax", [pieces, b.ints("axes", [2])], keepdims=0)
    return b.node("ReduceMax", [pieces], axes=[2], keepdims=0)


def step(b, layer, x, shapes):
    return b.node("Where", [b.node("Greater", [x, b.const("zero", 0.0)]), b.const("one", 1.0),
                            b.const("zero", 0.0)])


ACTIVATIONS = {
    "ReLU": _simple("Relu"), "LeakyReLU": leaky_relu, "PReLU": prelu, "ELU": elu, "CELU": celu,
    "SELU": _simple("Selu", alpha=SELU_ALPHA, gamma=SELU_SCALE), "GELU": gelu, "SiLU": silu, "Mish": mish,
    "Sigmoid": _simple("Sigmoid"), "Tanh": _simple("Tanh"), "Hardtanh": hardtanh, "ReLU6": hardtanh,
    "Hardsigmoid": _simple("HardSigmoid", alpha=1 / 6, beta=0.5), "Hardswish": _simple("HardSwish"),
    "Softplus": softplus, "Softsign": _simple("Softsign"), "Threshold": threshold, "Softmax": softmax,
    "LogSoftmax": log_softmax, "Softmin": softmin, "Maxout": maxout, "Step": step,
}
