"""Shape arithmetic of the layers, worked out without running them.

A :class:`LayerSpec` describes one layer by its type (``"Conv2d"``) and its
constructor arguments, exactly as ``numconv.nn`` takes them, but allocates no
weights. It knows the layer's output shape for a given input shape, the
shapes of its parameters and buffers, and the sliding window it applies along
each spatial axis (for convolutions and pooling). ``summary`` uses it to
describe networks too large to build (AlexNet's first fully connected layer
alone holds 177 M weights), and ``explain`` to spell the arithmetic out.

Two ways to get one::

    spec("Conv2d", 3, 96, 11, stride=4)     # from a name (or class) and arguments
    spec_of(nn.Conv2d(3, 96, 11, stride=4))  # from an existing layer

Every input shape here is *batched*: ``(N, C, *spatial)`` for convolution
and pooling, ``(N, ..., features)`` for ``Linear``.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import numpy as np

from .. import nn
from .._checks import check_float_dtype, check_positive_int, ntuple, shape_str
from .._geometry import window_output_size, window_span
from ..functional.conv import parse_padding
from ..functional.conv_transpose import check_output_padding, conv_transpose_output_shape
from ..functional.padding import pad_output_shape
from ..functional.upsample import check_options, interpolate_output_shape, shuffle_output_shape
from ..functional.pool import _window_params

__all__ = ["LayerSpec", "Window", "BranchSpec", "SpecMaker", "spec", "spec_of", "layer_class", "merge_shapes"]

# ---------------------------------------------------------------------------- layer families
# Which arithmetic each layer type follows.
_FAMILIES = {
    **{f"Conv{n}d": "conv" for n in (1, 2, 3)},
    **{f"ConvTranspose{n}d": "convtranspose" for n in (1, 2, 3)},
    **{f"MaxPool{n}d": "maxpool" for n in (1, 2, 3)},
    **{f"AvgPool{n}d": "avgpool" for n in (1, 2, 3)},
    **{f"Adaptive{k}Pool{n}d": "adaptive" for k in ("Avg", "Max") for n in (1, 2, 3)},
    **{f"BatchNorm{n}d": "batchnorm" for n in (1, 2, 3)},
    **{f"InstanceNorm{n}d": "instancenorm" for n in (1, 2, 3)},
    "Linear": "linear", "LayerNorm": "layernorm", "GroupNorm": "groupnorm", "LocalResponseNorm": "lrn",
    "PReLU": "prelu", "Maxout": "maxout", "Flatten": "flatten", "Unflatten": "unflatten",
    "Softmax": "softmax", "LogSoftmax": "softmax", "Softmin": "softmax",
    "Upsample": "upsample", "UpsamplingNearest2d": "upsample", "UpsamplingBilinear2d": "upsample",
    "PixelShuffle": "pixelshuffle", "PixelUnshuffle": "pixelshuffle",
    **{f"{kind}Pad{n}d": "pad" for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular")
       for n in (1, 2, 3)},
}
# The mode of each padding layer (functional.pad's) and of the fixed-mode upsampling layers.
_PAD_MODES = {"Zero": "constant", "Constant": "constant", "Reflection": "reflect", "Replication": "replicate",
              "Circular": "circular"}
_UPSAMPLING = {"UpsamplingNearest2d": ("nearest", None), "UpsamplingBilinear2d": ("bilinear", True)}
# Layers whose output has the input's shape and whose every output element
# depends only on the input element at the same place.
_ELEMENTWISE = (
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh", "Hardtanh",
    "Hardsigmoid", "Hardswish", "Softplus", "Softsign", "Threshold", "Step", "Identity",
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
)
_FAMILIES.update({name: "elementwise" for name in _ELEMENTWISE})


def layer_class(name):
    """The ``numconv.nn`` class for ``name`` (``"conv2d"``, ``"max_pool2d"``, ``"Conv2d"`` or the class).

    Raises
    ------
    ValueError
        If no layer of that name is known to the shape arithmetic.
    """
    if isinstance(name, type):
        name = name.__name__
    if not isinstance(name, str):
        raise TypeError(f"expected a layer name or a numconv.nn layer class, got {type(name).__name__}")
    key = name.lower().replace("_", "").replace("-", "")
    for known in _FAMILIES:
        if known.lower() == key:
            return getattr(nn, known)
    raise ValueError(f"unknown layer {name!r}; known layers: {', '.join(sorted(k.lower() for k in _FAMILIES))}")


# ---------------------------------------------------------------------------- one axis of a window
@dataclass(frozen=True)
class Window:
    """A sliding window along one spatial axis (a convolution's kernel or a pooling window).

    Attributes
    ----------
    kernel, stride, dilation : int
    padding : (int, int)
        Pixels added before and after the axis.
    ceil_mode : bool
        Pooling only: round the number of windows up.
    """

    kernel: int
    stride: int
    padding: tuple
    dilation: int = 1
    ceil_mode: bool = False

    @property
    def span(self) -> int:
        """Input pixels from the first tap to the last: ``dilation * (kernel - 1) + 1``."""
        return window_span(self.kernel, self.dilation)

    def output_size(self, size: int) -> int:
        """Number of window positions on an axis of ``size`` pixels (may be <= 0 if the window does not fit)."""
        return window_output_size(size, self.kernel, self.stride, self.padding, self.dilation, self.ceil_mode)


# ---------------------------------------------------------------------------- the spec
@dataclass(frozen=True, eq=False)
class LayerSpec:
    """One layer described by its type and hyper-parameters, with no weights allocated.

    Attributes
    ----------
    type_name : str
        The ``numconv.nn`` class name, e.g. ``"Conv2d"``.
    hparams : dict
        The constructor arguments, checked and normalised (tuples for
        ``kernel_size``, ``stride``, ...; ``stride`` of pooling filled in).
    """

    type_name: str
    hparams: dict

    # ------------------------------------------------------------------ what kind of layer
    @property
    def family(self) -> str:
        return _FAMILIES[self.type_name]

    @property
    def nd(self) -> int:
        """Number of spatial axes of a convolution, pooling or norm layer (0 otherwise)."""
        last = self.type_name[-2:]
        return int(last[0]) if last[1] == "d" and last[0].isdigit() else 0

    @property
    def dtype(self):
        """The dtype of the parameters, or None for a layer without parameters."""
        return np.dtype(self.hparams["dtype"]) if self.parameter_shapes() else None

    @property
    def pad_mode(self) -> str:
        """A padding layer's ``functional.pad`` mode (``"reflect"`` for ``ReflectionPad2d``, ...)."""
        return _PAD_MODES[self.type_name[:self.type_name.index("Pad")]]

    def __repr__(self) -> str:
        """Like the layer's constructor call: required arguments, then those that differ from the defaults."""
        params = inspect.signature(getattr(nn, self.type_name)).parameters
        required = [name for name, p in params.items()
                    if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        try:
            defaults = spec(self.type_name, **{name: self.hparams[name] for name in required}).hparams
        except ValueError:  # the defaults alone are no valid layer (Upsample needs a size or a scale factor)
            defaults = {name: p.default for name, p in params.items() if p.default is not p.empty}
        args = [repr(self.hparams[name]) for name in required]
        args += [f"{k}={v!r}" for k, v in self.hparams.items()
                 if k in params and k not in required and v != defaults.get(k)]
        return f"{self.type_name}({', '.join(args)})"

    # ------------------------------------------------------------------ parameters and buffers
    def parameter_shapes(self) -> dict:
        """``{name: shape}`` of the parameters the real layer would hold."""
        hp, family = self.hparams, self.family
        if family == "conv":
            shapes = {"weight": (hp["out_channels"], hp["in_channels"] // hp["groups"], *hp["kernel_size"])}
            channels = hp["out_channels"]
        elif family == "convtranspose":  # PyTorch's layout: input channels first
            shapes = {"weight": (hp["in_channels"], hp["out_channels"] // hp["groups"], *hp["kernel_size"])}
            channels = hp["out_channels"]
        elif family == "linear":
            shapes = {"weight": (hp["out_features"], hp["in_features"])}
            channels = hp["out_features"]
        elif family in ("batchnorm", "instancenorm", "groupnorm"):
            if not hp["affine"]:
                return {}
            channels = hp["num_channels"] if family == "groupnorm" else hp["num_features"]
            shapes = {"weight": (channels,)}
        elif family == "layernorm":
            if not hp["elementwise_affine"]:
                return {}
            return {"weight": hp["normalized_shape"], **({"bias": hp["normalized_shape"]} if hp["bias"] else {})}
        elif family == "prelu":
            return {"weight": (hp["num_parameters"],)}
        else:
            return {}
        if hp.get("bias", True):
            shapes["bias"] = (channels,)
        return shapes

    def buffer_shapes(self) -> dict:
        """``{name: shape}`` of the buffers (running statistics): state that is saved but not learned."""
        hp = self.hparams
        if self.family in ("batchnorm", "instancenorm") and hp["track_running_stats"]:
            c = hp["num_features"]
            return {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()}
        return {}

    # ------------------------------------------------------------------ windows
    def windows(self, spatial) -> list:
        """The :class:`Window` along each spatial axis, for an input with spatial shape ``spatial``.

        Convolution and (non-adaptive) pooling only; ``spatial`` matters for
        ``padding='same'`` only.
        """
        hp, family = self.hparams, self.family
        if family == "conv":
            pads = parse_padding(hp["padding"], self.nd, hp["kernel_size"], hp["stride"], hp["dilation"],
                                 self.type_name)
            return [Window(k, s, p, d) for k, s, p, d in zip(hp["kernel_size"], hp["stride"], pads, hp["dilation"])]
        if family in ("maxpool", "avgpool"):
            dilation = hp.get("dilation", (1,) * self.nd)
            return [Window(k, s, (p, p), d, bool(hp["ceil_mode"]))
                    for k, s, p, d in zip(hp["kernel_size"], hp["stride"], hp["padding"], dilation)]
        raise ValueError(f"{self.type_name} has no sliding window")

    # ------------------------------------------------------------------ mult-adds
    def mult_adds(self, output_shape) -> int:
        """torchinfo's multiply-add count of one call with the batched ``output_shape``.

        Convolutions, transposed ones included: ``params * N * prod(out_spatial)``;
        any other layer: ``params * N``. (For a transposed convolution this is
        torchinfo's convention, not the work done: each input pixel stamps the
        kernel once, ``C_in * C_out / groups * prod(k) * N * prod(in_spatial)``.)
        """
        params = sum(math.prod(s) for s in self.parameter_shapes().values())
        if not params or not output_shape:
            return 0
        if self.family in ("conv", "convtranspose"):
            return params * output_shape[0] * math.prod(output_shape[2:])
        return params * output_shape[0]

    # ------------------------------------------------------------------ output shape
    def output_shape(self, input_shape) -> tuple:
        """The output shape for a batched ``input_shape``; ``ValueError`` if the layer cannot take it."""
        shape = tuple(int(s) for s in input_shape)
        return _OUTPUT_RULES[self.family](self, shape)

    def _fail(self, shape, expected: str) -> ValueError:
        return ValueError(f"{self.type_name}: expected {expected}, got input of shape {shape_str(shape)}")

    def _check_rank(self, shape, ranks, layout: str) -> None:
        if len(shape) not in ranks:
            raise self._fail(shape, f"a {' or '.join(f'{r}-D' for r in ranks)} input {layout}")

    def _check_channels(self, shape, expected: int, what: str) -> None:
        if shape[1] != expected:
            raise self._fail(shape, f"input with {expected} channels on axis 1 ({what})")


def _windowed_output(layer: LayerSpec, shape, channels_out) -> tuple:
    nd = layer.nd
    layer._check_rank(shape, (nd + 2,), "(N, C, " + ", ".join("DHW"[3 - nd:]) + ")")
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


def _batchnorm_output(layer, shape):
    ranks = {1: (2, 3), 2: (4,), 3: (5,)}[layer.nd]
    layer._check_rank(shape, ranks, "(N, C, *spatial)")
    hp = layer.hparams
    if hp["affine"] or hp["track_running_stats"]:
        layer._check_channels(shape, hp["num_features"], f"num_features={hp['num_features']}")
    return shape


def _instancenorm_output(layer, shape):
    layer._check_rank(shape, (layer.nd + 2,), "(N, C, *spatial)")
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
    try:
        return interpolate_output_shape(shape, hp["size"], hp["scale_factor"], hp["mode"], hp["align_corners"],
                                        hp["recompute_scale_factor"])
    except ValueError as error:
        raise ValueError(str(error).replace("interpolate:", f"{layer.type_name}:", 1)) from None


def _pixelshuffle_output(layer, shape):
    up = layer.type_name == "PixelShuffle"
    factor = layer.hparams["upscale_factor" if up else "downscale_factor"]
    return shuffle_output_shape(shape, factor, up, layer.type_name)


def _pad_output(layer, shape):
    try:
        return pad_output_shape(shape, layer.hparams["padding"], layer.pad_mode, layer.hparams.get("value", 0.0))
    except ValueError as error:
        raise ValueError(str(error).replace("pad:", f"{layer.type_name}:", 1)) from None


_OUTPUT_RULES = {
    "conv": _conv_output, "convtranspose": _conv_transpose_output, "maxpool": _pool_output, "avgpool": _pool_output, "adaptive": _adaptive_output,
    "linear": _linear_output, "batchnorm": _batchnorm_output, "instancenorm": _instancenorm_output,
    "layernorm": _layernorm_output, "groupnorm": _groupnorm_output, "lrn": _lrn_output, "prelu": _prelu_output,
    "maxout": _maxout_output, "flatten": _flatten_output, "unflatten": _unflatten_output,
    "softmax": _same_shape, "elementwise": _same_shape,
    "upsample": _upsample_output, "pixelshuffle": _pixelshuffle_output, "pad": _pad_output,
}


# ---------------------------------------------------------------------------- building specs
def spec(layer, *args, **kwargs) -> LayerSpec:
    """Describe a layer by name (or ``numconv.nn`` class) and its constructor arguments, allocating nothing.

    The arguments are those of the ``numconv.nn`` class, with its defaults:
    ``spec("Conv2d", 96, 256, 5, padding=2, groups=2)`` describes
    ``nn.Conv2d(96, 256, 5, padding=2, groups=2)``. Names are matched without
    regard to case, ``_`` or ``-`` (``"conv2d"``, ``"max_pool2d"``).

    Raises
    ------
    TypeError
        Missing or unknown arguments, or arguments of the wrong type.
    ValueError
        Unknown layer, or arguments the layer would refuse.
    """
    cls = layer_class(layer)
    try:
        bound = inspect.signature(cls).bind(*args, **kwargs)
    except TypeError as error:
        raise TypeError(f"{cls.__name__}: {error}") from None
    bound.apply_defaults()
    hparams = {k: v for k, v in bound.arguments.items() if k not in ("args", "kwargs")}
    return LayerSpec(cls.__name__, _normalise(cls.__name__, hparams))


def spec_of(module) -> LayerSpec:
    """The :class:`LayerSpec` of an existing ``numconv.nn`` layer (read from its attributes).

    Raises
    ------
    TypeError
        If the layer's type is not one the shape arithmetic knows.
    """
    name = type(module).__name__
    cls = getattr(nn, name, None)
    if name not in _FAMILIES or not isinstance(module, cls):
        raise TypeError(f"cannot work out the shapes of a {name} without running it (known layers: the "
                        "convolution, pooling, linear, normalisation, activation, dropout and reshaping layers of "
                        "numconv.nn)")
    hparams = {}
    for param in inspect.signature(cls).parameters:
        if param == "bias" and "bias" in module._parameters:
            hparams["bias"] = module._parameters["bias"] is not None
        elif param == "dtype":
            hparams["dtype"] = module.dtype or np.float32
        elif hasattr(module, param):
            hparams[param] = getattr(module, param)
    return LayerSpec(name, _normalise(name, hparams))


def _normalise(name: str, hp: dict) -> dict:
    """Check the hyper-parameters as the layer's constructor would, and put them in one canonical form."""
    family = _FAMILIES[name]
    nd = int(name[-2]) if name[-1] == "d" and name[-2].isdigit() else 0
    hp = dict(hp)
    if "dtype" in hp:
        hp["dtype"] = check_float_dtype(hp["dtype"], name).name
    if family == "conv":
        for key in ("in_channels", "out_channels", "groups"):
            hp[key] = check_positive_int(hp[key], name, key)
        for key in ("in_channels", "out_channels"):
            if hp[key] % hp["groups"]:
                raise ValueError(f"{name}: {key} ({hp[key]}) must be divisible by groups ({hp['groups']})")
        hp["kernel_size"] = ntuple(hp["kernel_size"], nd, name, "kernel_size", minimum=1)
        hp["stride"] = ntuple(hp["stride"], nd, name, "stride", minimum=1)
        hp["dilation"] = ntuple(hp["dilation"], nd, name, "dilation", minimum=1)
        parse_padding(hp["padding"], nd, hp["kernel_size"], hp["stride"], hp["dilation"], name)
        if not isinstance(hp["padding"], str):
            hp["padding"] = ntuple(hp["padding"], nd, name, "padding", minimum=0)
        hp["bias"] = bool(hp["bias"])
    elif family == "convtranspose":
        for key in ("in_channels", "out_channels", "groups"):
            hp[key] = check_positive_int(hp[key], name, key)
        for key in ("in_channels", "out_channels"):
            if hp[key] % hp["groups"]:
                raise ValueError(f"{name}: {key} ({hp[key]}) must be divisible by groups ({hp['groups']})")
        for key, low in (("kernel_size", 1), ("stride", 1), ("dilation", 1), ("padding", 0), ("output_padding", 0)):
            hp[key] = ntuple(hp[key], nd, name, key, minimum=low)
        check_output_padding(hp["output_padding"], hp["stride"], hp["dilation"], name)
        hp["bias"] = bool(hp["bias"])
    elif family == "upsample":
        if name in _UPSAMPLING:
            hp["mode"], hp["align_corners"] = _UPSAMPLING[name]
            hp.setdefault("recompute_scale_factor", None)
        hp["align_corners"] = check_options(hp["size"], hp["scale_factor"], hp["mode"], hp["align_corners"],
                                            hp["recompute_scale_factor"], name)
    elif family == "pad":
        if isinstance(hp["padding"], (int, np.integer)) and not isinstance(hp["padding"], bool):
            hp["padding"] = (int(hp["padding"]),) * (2 * nd)
        hp["padding"] = ntuple(hp["padding"], 2 * nd, name, "padding")
    elif family in ("maxpool", "avgpool"):
        dilation = hp.get("dilation", 1)
        kernel, stride, padding, dilation = _window_params(nd, hp["kernel_size"], hp["stride"], hp["padding"],
                                                           dilation, name)
        hp.update(kernel_size=kernel, stride=stride, padding=padding)
        if family == "maxpool":
            hp["dilation"] = dilation
        hp["ceil_mode"] = bool(hp["ceil_mode"])
    elif family == "adaptive":
        size = hp["output_size"]
        sizes = (size,) * nd if size is None or isinstance(size, (int, np.integer)) else tuple(size)
        if len(sizes) == 1:
            sizes = sizes * nd
        if len(sizes) != nd or not all(s is None or (isinstance(s, (int, np.integer)) and s >= 1) for s in sizes):
            raise ValueError(f"{name}: expected output_size to be a positive int or a tuple of {nd} positive ints "
                             f"or None, got {size!r}")
        hp["output_size"] = tuple(None if s is None else int(s) for s in sizes)
    elif family == "linear":
        for key in ("in_features", "out_features"):
            hp[key] = check_positive_int(hp[key], name, key, minimum=0)
        hp["bias"] = bool(hp["bias"])
    elif family in ("batchnorm", "instancenorm"):
        hp["num_features"] = check_positive_int(hp["num_features"], name, "num_features", minimum=0)
        hp["affine"], hp["track_running_stats"] = bool(hp["affine"]), bool(hp["track_running_stats"])
    elif family == "groupnorm":
        hp["num_groups"] = check_positive_int(hp["num_groups"], name, "num_groups")
        hp["num_channels"] = check_positive_int(hp["num_channels"], name, "num_channels", minimum=0)
        if hp["num_channels"] % hp["num_groups"]:
            raise ValueError(f"{name}: num_channels ({hp['num_channels']}) must be divisible by num_groups "
                             f"({hp['num_groups']})")
    elif family == "layernorm":
        shape = hp["normalized_shape"]
        shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
        hp["normalized_shape"] = tuple(check_positive_int(s, name, "normalized_shape", minimum=0) for s in shape)
    elif family == "prelu":
        hp["num_parameters"] = check_positive_int(hp["num_parameters"], name, "num_parameters")
    elif family == "maxout":
        hp["pool_size"] = check_positive_int(hp["pool_size"], name, "pool_size")
    return hp


class SpecMaker:
    """The shape-only maker for the ``describe`` functions of ``numconv.models``: specs, lists and dicts.

    ``models.alexnet.describe(SpecMaker())`` gives AlexNet as a tree of
    :class:`LayerSpec` that ``summary`` walks without allocating weights;
    ``describe(models._build.Layers())`` builds the same network for real.
    """

    def __call__(self, name: str, *args, **kwargs) -> LayerSpec:
        return spec(name, *args, **kwargs)

    def seq(self, *layers) -> list:
        return list(layers)

    def named(self, pairs) -> dict:
        return dict(pairs)

    def branches(self, type_name: str, branches, merge: str = "add", dim: int = 1, join=None, after=None):
        return BranchSpec(type_name, [dict(b) for b in branches], merge, dim, join, dict(after or {}))


@dataclass
class BranchSpec:
    """Branches that start from one input and are joined, described without weights (a ResNet block).

    Attributes
    ----------
    type_name : str
        What the table calls the block (``"BasicBlock"``).
    branches : list of dict
        Each branch: its layers (specs, lists, dicts, or more ``BranchSpec``),
        named at the block's own level (``{"conv1": ..., "bn1": ...}``); an
        empty dict is the identity.
    merge : {"add", "cat"}
    dim : int
        The axis of ``"cat"``.
    join : str or None
        The name of the join's own row (``"add"`` for a block that calls an
        ``nn.Add`` child), or None when the join is not a child.
    after : dict
        Layers applied to the joined output, named at the block's level.
    """

    type_name: str
    branches: list
    merge: str = "add"
    dim: int = 1
    join: str | None = None
    after: dict | None = None

    def children(self) -> list:
        """Every (name, node) of the block, branches first."""
        out = [pair for branch in self.branches for pair in branch.items()]
        return out + list((self.after or {}).items())


def merge_shapes(shapes, merge: str, dim: int, where: str) -> tuple:
    """The shape of ``Add`` (all equal after broadcasting) or ``Cat`` along ``dim`` of the branch outputs."""
    shapes = [tuple(s) for s in shapes]
    if merge == "add":
        try:
            return tuple(np.broadcast_shapes(*shapes))
        except ValueError:
            raise ValueError(f"{where}: the branches give shapes {', '.join(map(shape_str, shapes))}, which do not "
                             "add") from None
    axis = dim % len(shapes[0])
    rest = {s[:axis] + s[axis + 1:] for s in shapes}
    if len(rest) > 1 or len({len(s) for s in shapes}) > 1:
        raise ValueError(f"{where}: cannot concatenate shapes {', '.join(map(shape_str, shapes))} along dim {dim}")
    return shapes[0][:axis] + (sum(s[axis] for s in shapes),) + shapes[0][axis + 1:]
