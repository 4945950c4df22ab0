"""One converter per numconv layer: the ONNX nodes that compute what the layer computes in eval mode.

A converter is ``convert(b, layer, x, shapes) -> output name``: ``b`` is the
:class:`~numconv.interop.onnx_graph.GraphBuilder`, ``x`` the name of the
layer's input, ``shapes`` the ``(input shape, output shape)`` of one
forward pass (the batch axis stays symbolic in the file). Layers whose
settings ONNX has no operator for raise :class:`UnsupportedLayerError`
naming the setting. Where a newer opset has an operator and opset 17 does
not (GELU, Mish, GroupNorm), the layer is written as the few elementary
operators that compute it.
"""

from __future__ import annotations

import math

import numpy as np

from .. import nn
from .onnx_graph import UnsupportedLayerError
from .onnx_resize import wrap

__all__ = ["CONVERTERS", "converter_for"]

# torch.nn.SELU's constants, to full precision (ONNX's Selu defaults are their float32 roundings).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _spatial(value, n: int) -> list:
    return [int(v) for v in value] if isinstance(value, (tuple, list)) else [int(value)] * n


def _param(b, layer, name):
    """The initializer of ``layer.<name>`` under its state_dict key."""
    return b.tensor(f"{b.prefix}{name}", getattr(layer, name).data if hasattr(getattr(layer, name), "data")
                    else getattr(layer, name))


# ------------------------------------------------------------------------------------------ convolution
def _conv_pads(layer, n: int) -> tuple:
    """(begin pads, end pads) per spatial axis, 'same' and 'valid' worked out as PyTorch does."""
    if layer.padding == "valid":
        return [0] * n, [0] * n
    if layer.padding == "same":
        total = [d * (k - 1) for d, k in zip(_spatial(layer.dilation, n), _spatial(layer.kernel_size, n))]
        return [t // 2 for t in total], [t - t // 2 for t in total]
    pads = _spatial(layer.padding, n)
    return pads, pads


_PAD_MODES = {"reflect": "reflect", "replicate": "edge"}


def conv(b, layer, x, shapes):
    n = len(shapes[0]) - 2
    begin, end = _conv_pads(layer, n)
    if layer.padding_mode != "zeros" and any(begin + end):
        if layer.padding_mode == "circular":
            x = wrap(b, x, begin, end, 2)  # Pad mode 'wrap' from opset 19, Slice + Concat before
        else:
            x = b.node("Pad", [x, b.ints("pads", [0, 0, *begin, 0, 0, *end])], mode=_PAD_MODES[layer.padding_mode])
        begin, end = [0] * n, [0] * n
    inputs = [x, _param(b, layer, "weight")] + ([_param(b, layer, "bias")] if layer.bias is not None else [])
    return b.node("Conv", inputs, kernel_shape=_spatial(layer.kernel_size, n), strides=_spatial(layer.stride, n),
                  pads=begin + end, dilations=_spatial(layer.dilation, n), group=int(layer.groups))


def conv_transpose(b, layer, x, shapes):
    """``ConvTranspose`` with explicit ``pads`` and ``output_padding`` (never ``auto_pad`` or ``output_shape``).

    The output padding written is the one the recorded call used: the
    layer's own ``output_padding``, or, for a call with ``output_size=``, the
    output padding that size resolved to for the exported input shape (a
    static graph has no per-call sizes). Both are ONNX's formula,
    ``out = stride * (in - 1) + output_padding + dilation * (k - 1) + 1 - 2 * padding``.
    """
    n = len(shapes[0]) - 2
    kernel, stride, dilation = (_spatial(v, n) for v in (layer.kernel_size, layer.stride, layer.dilation))
    pads = _spatial(layer.padding, n)
    output_padding = [out - (s * (size - 1) + d * (k - 1) + 1 - 2 * p)
                      for out, size, s, d, k, p in zip(shapes[1][2:], shapes[0][2:], stride, dilation, kernel, pads)]
    # onnxruntime refuses output_padding >= stride, which PyTorch allows below the dilation. The output
    # padding only stops the end crop short, and past it adds rows no input reaches (bias only): so it
    # becomes a smaller end pad, and what is left a zero Pad after the convolution, then the bias.
    end, extra = list(pads), [0] * n
    for i, (s, p) in enumerate(zip(stride, pads)):
        if output_padding[i] >= s:
            moved = min(output_padding[i], p)
            end[i], extra[i], output_padding[i] = p - moved, output_padding[i] - moved, 0
    bias = [_param(b, layer, "bias")] if layer.bias is not None else []
    y = b.node("ConvTranspose", [x, _param(b, layer, "weight")] + (bias if not any(extra) else []),
               kernel_shape=kernel, strides=stride, pads=pads + end, output_padding=output_padding,
               dilations=dilation, group=int(layer.groups))
    if any(extra):
        y = b.node("Pad", [y, b.ints("pads", [0] * (n + 2) + [0, 0] + extra)])
        if bias:
            y = b.node("Add", [y, _per_channel(b, bias[0], n + 2)])
    return y


# ------------------------------------------------------------------------------------------ pooling
def _pool_sizes(layer, shapes, dilation):
    """Per axis: (input, padding, stride, effective kernel, PyTorch's output, floor output, ONNX ceil output)."""
    n = len(shapes[0]) - 2
    stride = layer.stride if layer.stride is not None else layer.kernel_size
    rows = []
    for size, pad, s, k, d, out in zip(shapes[0][2:], _spatial(layer.padding, n), _spatial(stride, n),
                                       _spatial(layer.kernel_size, n), dilation, shapes[1][2:]):
        span = d * (k - 1) + 1
        rows.append((size, pad, s, span, out, (size + 2 * pad - span) // s + 1,
                     -(-(size + 2 * pad - span) // s) + 1))
    return rows


def _ceil_mode(b, layer, rows) -> int:
    """ONNX's ceil_mode keeps a last window that starts in the padding; PyTorch drops it. Pick what agrees."""
    if not layer.ceil_mode or all(out == floor for _, _, _, _, out, floor, _ in rows):
        return 0
    if all(out == ceil for _, _, _, _, out, _, ceil in rows):
        return 1
    raise UnsupportedLayerError(
        f"{b.where}: with ceil_mode=True PyTorch drops a last window that would start in the padding, and "
        f"ONNX keeps it; for this input the two give different sizes")


def max_pool(b, layer, x, shapes):
    if layer.return_indices:
        raise UnsupportedLayerError(f"{b.where}: return_indices=True returns two arrays; export the layer without")
    n = len(shapes[0]) - 2
    dilation = _spatial(layer.dilation, n)
    rows = _pool_sizes(layer, shapes, dilation)
    # Max pooling ignores padding, so PyTorch's ceil mode is floor mode with just enough padding at the end.
    begin = [pad for _, pad, *_ in rows]
    end = [max(pad, (out - 1) * s + span - size - pad) for size, pad, s, span, out, _, _ in rows]
    return b.node("MaxPool", [x], kernel_shape=_spatial(layer.kernel_size, n), strides=[r[2] for r in rows],
                  pads=begin + end, dilations=dilation, ceil_mode=0)


def avg_pool(b, layer, x, shapes):
    if getattr(layer, "divisor_override", None) is not None:
        raise UnsupportedLayerError(f"{b.where}: divisor_override={layer.divisor_override} has no ONNX "
                                    f"AveragePool equivalent")
    n = len(shapes[0]) - 2
    rows = _pool_sizes(layer, shapes, [1] * n)
    begin = [pad for _, pad, *_ in rows]
    if layer.ceil_mode and not layer.count_include_pad:
        # Padding never counts, so PyTorch's ceil mode is floor mode with just enough padding at the end.
        end, ceil = [max(pad, (out - 1) * s + span - size - pad) for size, pad, s, span, out, _, _ in rows], 0
    else:
        end, ceil = begin, _ceil_mode(b, layer, rows)
    return b.node("AveragePool", [x], kernel_shape=_spatial(layer.kernel_size, n), strides=[r[2] for r in rows],
                  pads=begin + end, ceil_mode=ceil, count_include_pad=int(layer.count_include_pad))


def adaptive_pool(b, layer, x, shapes):
    if getattr(layer, "return_indices", False):
        raise UnsupportedLayerError(f"{b.where}: return_indices=True returns two arrays; export the layer without")
    kind = "Max" if isinstance(layer, (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)) else "Average"
    size_in, size_out = shapes[0][2:], shapes[1][2:]
    if all(s == 1 for s in size_out):
        return b.node(f"Global{kind}Pool", [x])
    if any(i % o for i, o in zip(size_in, size_out)):
        raise UnsupportedLayerError(
            f"{b.where}: adaptive pooling from {tuple(size_in)} to {tuple(size_out)} uses windows of different "
            f"sizes, which ONNX pooling cannot express (only output 1 or an output that divides the input)")
    kernel = [i // o for i, o in zip(size_in, size_out)]
    return b.node(f"{kind}Pool", [x], kernel_shape=kernel, strides=kernel)


# ------------------------------------------------------------------------------------------ normalisation
def _affine(b, layer, name, fill, count):
    """The layer's ``weight`` / ``bias`` initializer, or a constant of ``fill`` when it has none."""
    p = getattr(layer, name, None)
    if p is not None:
        return _param(b, layer, name)
    return b.const(f"{name}_{'ones' if fill else 'zeros'}", np.full(count, fill))


def batch_norm(b, layer, x, shapes):
    if layer.running_mean is None:
        raise UnsupportedLayerError(
            f"{b.where}: without running statistics (track_running_stats=False) the layer normalises with each "
            f"batch's own statistics even in eval mode; ONNX's BatchNormalization needs running statistics")
    c = layer.num_features
    inputs = [x, _affine(b, layer, "weight", 1.0, c), _affine(b, layer, "bias", 0.0, c),
              _param(b, layer, "running_mean"), _param(b, layer, "running_var")]
    return b.node("BatchNormalization", inputs, epsilon=float(layer.eps))


def instance_norm(b, layer, x, shapes):
    if layer.running_mean is not None:  # eval mode with running statistics: the batch-norm formula
        return batch_norm(b, layer, x, shapes)
    c = layer.num_features
    inputs = [x, _affine(b, layer, "weight", 1.0, c), _affine(b, layer, "bias", 0.0, c)]
    return b.node("InstanceNormalization", inputs, epsilon=float(layer.eps))


def layer_norm(b, layer, x, shapes):
    shape = tuple(layer.normalized_shape)
    inputs = [x, _affine(b, layer, "weight", 1.0, shape)]
    if getattr(layer, "bias", None) is not None:
        inputs.append(_param(b, layer, "bias"))
    return b.node("LayerNormalization", inputs, axis=-len(shape), epsilon=float(layer.eps))


def _per_channel(b, name, rank):
    """Reshape a (C,) initializer to (C, 1, ..., 1) so it broadcasts over an input of ``rank`` axes."""
    return b.node("Reshape", [name, b.ints(f"{name.rsplit('.', 1)[-1]}_shape", [-1] + [1] * (rank - 2))])


def group_norm(b, layer, x, shapes):
    # (N, C, *) -> (N, G, C/G * prod(*)): instance norm of that is group norm, then the per-channel affine.
    rank, groups = len(shapes[0]), layer.num_groups
    grouped = b.node("Reshape", [x, b.ints("grouped", [0, groups, -1])])
    normed = b.node("InstanceNormalization", [grouped, b.const("ones", np.ones(groups)),
                                              b.const("zeros", np.zeros(groups))], epsilon=float(layer.eps))
    y = b.node("Reshape", [normed, b.ints("shape", [0, *shapes[0][1:]])])
    if layer.weight is not None:
        y = b.node("Mul", [y, _per_channel(b, _param(b, layer, "weight"), rank)])
    if getattr(layer, "bias", None) is not None:
        y = b.node("Add", [y, _per_channel(b, _param(b, layer, "bias"), rank)])
    return y


def local_response_norm(b, layer, x, shapes):
    if layer.size % 2 == 0:
        raise UnsupportedLayerError(
            f"{b.where}: an even size={layer.size} sums a window PyTorch places one channel earlier than "
            f"ONNX's LRN; only odd sizes are exported")
    shape = tuple(shapes[0])
    four_d = len(shape) == 4
    if not four_d:
        # onnxruntime's LRN takes (N, C, H, W) only; the sum runs over channels at each position, so any
        # other rank (3-D or more: the layer refuses fewer) folds its positions into (N, C, positions, 1) and back.
        x = _reshape_to(b, x, (shape[0], shape[1], math.prod(shape[2:]), 1), keep_batch=True)
    y = b.node("LRN", [x], size=int(layer.size), alpha=float(layer.alpha), beta=float(layer.beta),
               bias=float(layer.k))
    return y if four_d else _reshape_to(b, y, shape, keep_batch=True)


# ------------------------------------------------------------------------------------------ linear, shapes
def linear(b, layer, x, shapes):
    weight = _param(b, layer, "weight")
    if len(shapes[0]) == 2:
        inputs = [x, weight] + ([_param(b, layer, "bias")] if layer.bias is not None else [])
        return b.node("Gemm", inputs, transB=1)
    y = b.node("MatMul", [x, b.node("Transpose", [weight], perm=[1, 0])])
    return b.node("Add", [y, _param(b, layer, "bias")]) if layer.bias is not None else y


def _reshape_to(b, x, shape_out, keep_batch: bool):
    target = [0 if keep_batch else -1, *shape_out[1:]]
    return b.node("Reshape", [x, b.ints("shape", target)])


def flatten(b, layer, x, shapes):
    rank = len(shapes[0])
    start, end = layer.start_dim % rank, layer.end_dim % rank
    if start == 1 and end == rank - 1:
        return b.node("Flatten", [x], axis=1)
    return _reshape_to(b, x, shapes[1], keep_batch=start > 0)


def unflatten(b, layer, x, shapes):
    if layer.dim % len(shapes[0]) == 0:
        raise UnsupportedLayerError(f"{b.where}: unflattening the batch axis (dim=0) is not exported")
    return _reshape_to(b, x, shapes[1], keep_batch=True)


def identity(b, layer, x, shapes):
    return b.node("Identity", [x])  # dropout of every kind is the identity in eval mode
