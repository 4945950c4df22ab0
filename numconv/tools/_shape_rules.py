"""The output shape of each layer family, worked out from its hyper-parameters and the input shape.

One rule per family of ``numconv.tools._shapes``: it checks that the layer
can take the input (with the message the layer itself would give) and
returns the output shape. Every size along a sliding window comes from
``numconv._geometry`` (through ``Window.output_size``) or from the op's own
output-shape helper (transposed convolution, upsampling, pixel shuffle,
padding); nothing here restates a formula.
"""

from __future__ import annotations

import math

from typing import TYPE_CHECKING

from .._checks import shape_str
from ..functional.conv_transpose import conv_transpose_output_shape
from ..functional.padding import pad_output_shape
from ..functional.upsample import interpolate_output_shape, shuffle_output_shape

if TYPE_CHECKING:
    from ._shapes import LayerSpec

__all__ = ["OUTPUT_RULES"]


def _windowed_output(layer: LayerSpec, shape, channels_out) -> tuple:
    """``(N, channels_out, *out)`` with each ``out`` from ``numconv._geometry`` (``Window.output_size``)."""
    windows = layer.windows(shape[2:])
    out = tuple(w.output_size(n) for w, n in zip(windows, shape[2:]))
    if min(out) < 1:
        spans = " x ".join(str(w.span) for w in windows)
        padded = " x ".join(str(n + sum(w.padding)) for w, n in zip(windows, shape[2:]))
        raise ValueError(f"{layer.type_name}: the window spans {spans} pixels, but the padded input is only "
                         f"{padded} (input of shape {shape_str(shape)})")
    return (shape[0], channels_out, *out)


def _conv_output(layer, shape):
    layer._check_rank(shape, (layer.nd + 2,), "(N, C, *spatial)")
    layer._check_channels(shape, layer.hparams["in_channels"], f"in_channels={layer.hparams['in_channels']}")
    return _windowed_output(layer, shape, layer.hparams["out_channels"])


def _conv_transpose_output(layer, shape):
    hp = layer.hparams
    layer._check_rank(shape, (layer.nd + 2,), "(N, C, *spatial)")
    layer._check_channels(shape, hp["in_channels"], f"in_channels={hp['in_channels']}")
    out = conv_transpose_output_shape(shape[2:], hp["kernel_size"], hp["stride"], hp["padding"],
                                      hp["output_padding"], hp["dilation"])
    if min(out) < 1:
        raise ValueError(f"{layer.type_name}: the output would be {' x '.join(map(str, out))} for input of shape "
                         f"{shape_str(shape)}: (in - 1)·S - 2P + D(K-1) + output_padding + 1 < 1; use less padding")
    return (shape[0], hp["out_channels"], *out)


def _pool_output(layer, shape):
    layer._check_rank(shape, (layer.nd + 2,), "(N, C, *spatial)")
    return _windowed_output(layer, shape, shape[1])


def _adaptive_output(layer, shape):
    nd = layer.nd
    layer._check_rank(shape, (nd + 2,), "(N, C, *spatial)")
    sizes = layer.hparams["output_size"]
    return shape[:2] + tuple(n if o is None else o for o, n in zip(sizes, shape[2:]))


def _linear_output(layer, shape):
    n_in = layer.hparams["in_features"]
    if len(shape) < 1 or shape[-1] != n_in:
        raise layer._fail(shape, f"input with last axis {n_in} (in_features={n_in})")
    return shape[:-1] + (layer.hparams["out_features"],)


def _norm_output(layer, shape):
    """Batch and instance norm: the channels must match when there are weights or running statistics."""
    ranks = (2, 3) if layer.type_name == "BatchNorm1d" else (layer.nd + 2,)
    layer._check_rank(shape, ranks, "(N, C, *spatial)")
    hp = layer.hparams
    if hp["affine"] or hp["track_running_stats"]:
        layer._check_channels(shape, hp["num_features"], f"num_features={hp['num_features']}")
    return shape


def _layernorm_output(layer, shape):
    normalized = layer.hparams["normalized_shape"]
    if shape[len(shape) - len(normalized):] != normalized:
        raise layer._fail(shape, f"an input of shape (*, {', '.join(map(str, normalized))})")
    return shape


def _groupnorm_output(layer, shape):
    if len(shape) < 2:
        raise layer._fail(shape, "an input (N, C, *)")
    layer._check_channels(shape, layer.hparams["num_channels"], f"num_channels={layer.hparams['num_channels']}")
    return shape


def _lrn_output(layer, shape):
    if len(shape) < 3:
        raise layer._fail(shape, "an input (N, C, *) with at least 3 axes")
    return shape


def _prelu_output(layer, shape):
    k = layer.hparams["num_parameters"]
    if k != 1 and (len(shape) < 2 or shape[1] != k):
        raise layer._fail(shape, f"input with {k} channels on axis 1 (num_parameters={k})")
    return shape


def _maxout_output(layer, shape):
    k = layer.hparams["pool_size"]
    if len(shape) < 2 or shape[1] % k:
        raise layer._fail(shape, f"an input (N, C, *) whose C is a multiple of pool_size={k}")
    return (shape[0], shape[1] // k, *shape[2:])


def _flatten_output(layer, shape):
    ndim = max(len(shape), 1)
    start, end = layer.hparams["start_dim"], layer.hparams["end_dim"]
    start, end = (start + ndim if start < 0 else start), (end + ndim if end < 0 else end)
    if not (0 <= start <= end < ndim):
        raise layer._fail(shape, f"an input with axes start_dim={layer.hparams['start_dim']} to "
                                 f"end_dim={layer.hparams['end_dim']}")
    return shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]


def _unflatten_output(layer, shape):
    dim, sizes = layer.hparams["dim"], tuple(layer.hparams["unflattened_size"])
    axis = dim + len(shape) if dim < 0 else dim
    if not 0 <= axis < len(shape) or shape[axis] != math.prod(sizes):
        raise layer._fail(shape, f"an axis {dim} of size {math.prod(sizes)} to split into {sizes}")
    return shape[:axis] + sizes + shape[axis + 1:]


def _same_shape(layer, shape):
    return shape


def _upsample_output(layer, shape):
    hp = layer.hparams
    return _as_layer(layer, "interpolate", interpolate_output_shape, shape, hp["size"], hp["scale_factor"],
                     hp["mode"], hp["align_corners"], hp["recompute_scale_factor"])


def _pixelshuffle_output(layer, shape):
    up = layer.type_name == "PixelShuffle"
    factor = layer.hparams["upscale_factor" if up else "downscale_factor"]
    return shuffle_output_shape(shape, factor, up, layer.type_name)


def _pad_output(layer, shape):
    return _as_layer(layer, "pad", pad_output_shape, shape, layer.hparams["padding"], layer.pad_mode,
                     layer.hparams.get("value", 0.0))


def _as_layer(layer, op: str, output_shape, *args) -> tuple:
    """``output_shape(*args)``, the op's own helper, with its errors naming the layer instead of the op ``op``."""
    try:
        return output_shape(*args)
    except ValueError as error:
        raise ValueError(str(error).replace(f"{op}:", f"{layer.type_name}:", 1)) from None


OUTPUT_RULES = {
    "conv": _conv_output, "convtranspose": _conv_transpose_output, "maxpool": _pool_output,
    "avgpool": _pool_output, "adaptive": _adaptive_output, "linear": _linear_output, "batchnorm": _norm_output,
    "instancenorm": _norm_output, "layernorm": _layernorm_output, "groupnorm": _groupnorm_output,
    "lrn": _lrn_output, "prelu": _prelu_output, "maxout": _maxout_output, "flatten": _flatten_output,
    "unflatten": _unflatten_output, "softmax": _same_shape, "elementwise": _same_shape,
    "upsample": _upsample_output, "pixelshuffle": _pixelshuffle_output, "pad": _pad_output,
}
