"""Shape arithmetic of the layers, worked out without running them.

A :class:`LayerSpec` describes one layer by its type (``"Conv2d"``) and its
constructor arguments, exactly as ``numconv.nn`` takes them, but holds no
weights. It knows the layer's output shape for a given input shape, the
shapes of its parameters and buffers, and the sliding window it applies along
each spatial axis (for convolutions and pooling). ``summary`` uses it to
describe networks too large to build (VGG-16's first fully connected layer
alone holds 103 M weights), and ``explain`` to spell the arithmetic out.

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
from .._checks import check_float_dtype, check_positive_int, shape_str
from .._geometry import window_output_size, window_span
from ..functional.conv import parse_padding
from ._shape_rules import OUTPUT_RULES
from ._spec_args import canonical
from ._spec_tree import BranchSpec, merge_shapes

__all__ = ["LayerSpec", "Window", "BranchSpec", "SpecMaker", "spec", "spec_of", "layer_class", "merge_shapes",
           "sample_shape", "mult_adds"]

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


def sample_shape(value, where: str, name: str) -> tuple:
    """``value`` as the shape of one sample (no batch axis): a non-empty tuple of positive ints (an int is one axis)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not value or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in value):
        raise ValueError(f"{where}: expected {name} to be a non-empty tuple of positive ints (one sample, "
                         f"without the batch axis), got {value!r}")
    return tuple(int(s) for s in value)


def mult_adds(param_count: int, output_shape, is_conv: bool) -> int:
    """torchinfo's multiply-add count of one layer call.

    A convolution: ``param_count * N * prod(out_spatial)``; any other layer:
    ``param_count * N``, with ``N = output_shape[0]`` the batch axis.
    """
    if not param_count or not output_shape:
        return 0
    if is_conv:
        return param_count * output_shape[0] * math.prod(output_shape[2:])
    return param_count * output_shape[0]


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
    parameters, buffers : dict
        ``{name: shape}`` of the layer's parameters and buffers.
    """

    type_name: str
    hparams: dict
    parameters: dict
    buffers: dict

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
        """A padding layer's ``functional.pad`` mode (``"reflect"`` for ``ReflectionPad2d``, ...): the layer's own."""
        return getattr(nn, self.type_name)._mode

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
        return dict(self.parameters)

    def buffer_shapes(self) -> dict:
        """``{name: shape}`` of the buffers (running statistics): state that is saved but not learned."""
        return dict(self.buffers)

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
        return mult_adds(params, output_shape, self.family in ("conv", "convtranspose"))

    # ------------------------------------------------------------------ output shape
    def output_shape(self, input_shape) -> tuple:
        """The output shape for a batched ``input_shape``; ``ValueError`` if the layer cannot take it."""
        shape = tuple(int(s) for s in input_shape)
        return OUTPUT_RULES[self.family](self, shape)

    def _fail(self, shape, expected: str) -> ValueError:
        return ValueError(f"{self.type_name}: expected {expected}, got input of shape {shape_str(shape)}")

    def _check_rank(self, shape, ranks, layout: str) -> None:
        if len(shape) not in ranks:
            raise self._fail(shape, f"a {' or '.join(f'{r}-D' for r in ranks)} input {layout}")

    def _check_channels(self, shape, expected: int, what: str) -> None:
        if shape[1] != expected:
            raise self._fail(shape, f"input with {expected} channels on axis 1 ({what})")


# ---------------------------------------------------------------------------- building specs
def spec(layer, *args, **kwargs) -> LayerSpec:
    """Describe a layer by name (or ``numconv.nn`` class) and its constructor arguments, without its weights.

    The arguments are those of the ``numconv.nn`` class, with its defaults:
    ``spec("Conv2d", 96, 256, 5, padding=2, groups=2)`` describes
    ``nn.Conv2d(96, 256, 5, padding=2, groups=2)``. Names are matched without
    regard to case, ``_`` or ``-`` (``"conv2d"``, ``"max_pool2d"``). The
    layer's own constructor checks and normalises the arguments: it is
    built with its weights left unfilled (``np.empty``: never written, so
    no memory is touched), except ``Linear``, which is described from its
    arguments alone (VGG-16's first one would hold 103 M weights).

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
    if cls is nn.Linear:
        return _linear_spec(hparams)
    built = cls.__new__(cls)
    built.__dict__["reset_parameters"] = lambda: None  # the one method that writes the weights
    built.__init__(*bound.args, **bound.kwargs)
    return _spec(built, hparams)


def _linear_spec(hp: dict) -> LayerSpec:
    """``Linear``'s spec from its arguments alone: its weight is never allocated, not even unfilled."""
    n_in, n_out = (check_positive_int(hp[key], "Linear", key, minimum=0) for key in ("in_features", "out_features"))
    hp = {**hp, "in_features": n_in, "out_features": n_out, "bias": bool(hp["bias"]),
          "dtype": check_float_dtype(hp["dtype"], "Linear").name}
    return LayerSpec("Linear", hp, {"weight": (n_out, n_in), **({"bias": (n_out,)} if hp["bias"] else {})}, {})


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
    return _spec(module, hparams)


def _spec(layer, hparams: dict) -> LayerSpec:
    """The spec of ``layer``, a ``numconv.nn`` layer built from the arguments ``hparams``."""
    name = type(layer).__name__
    shapes = [{k: v.shape for k, v in d.items() if v is not None} for d in (layer._parameters, layer._buffers)]
    return LayerSpec(name, canonical(_FAMILIES[name], layer, hparams), *shapes)


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
