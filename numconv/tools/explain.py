"""``explain``: the arithmetic of a layer, or the receptive field of a network, with the numbers filled in.

For one layer it prints how the output size follows from the input size
(per spatial axis), how many parameters the layer has and how many
multiply-adds it does, and the window it looks through::

    >>> import numconv
    >>> e = numconv.explain("conv2d", (3, 32, 32), out_channels=16, kernel_size=5, padding=2)
    >>> e.output_shape, e.params, e.mult_adds
    ((16, 32, 32), 1216, 1245184)
    >>> print(e.axes[0].text)
    H_out = floor((H_in + 2P - D(K-1) - 1)/S) + 1 = floor((32 + 2·2 - 1·(5-1) - 1)/1) + 1 = 32

For a whole network it follows the receptive field from layer to layer with
the standard recurrence, per spatial axis (``K`` kernel, ``S`` stride, ``D``
dilation, ``P`` padding before the axis)::

    r_out     = r_in + (K - 1)·D·j_in            pixels of the input one output sees
    j_out     = j_in·S                           input pixels between neighbouring outputs
    start_out = start_in + ((K - 1)·D/2 - P)·j_in  input pixel at the centre of the first output's window

starting from ``r = 1, j = 1, start = 0`` at the input (``start`` is a pixel
index: 0 is the centre of the first pixel; it can be negative, in the
padding, or end in .5 for even windows). After a ``Linear`` layer every
output sees the whole input. The recurrence follows the layers in the order
they run, which is exact for a chain such as a ``Sequential``.

Input shapes are those of **one sample, without the batch axis**, as in
``summary``; mult-adds are per sample, with ``summary``'s (torchinfo's)
conventions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..nn import Module
from ._shapes import LayerSpec, Window, layer_class, spec, spec_of

__all__ = ["explain", "LayerExplanation", "ModelExplanation", "AxisArithmetic", "ReceptiveField", "parse_shape"]

_AXIS_NAMES = {0: (), 1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
_KERNEL_SYMBOLS = {1: "K", 2: "Kh·Kw", 3: "Kd·Kh·Kw"}


# ---------------------------------------------------------------------------- data
@dataclass(frozen=True)
class AxisArithmetic:
    """How one spatial axis of a window layer's output follows from the input.

    Attributes
    ----------
    axis : str
        ``"H"``, ``"W"``, ``"L"`` or ``"D"``.
    size : int
        Input length along the axis.
    window : Window
        Kernel, stride, padding (before, after), dilation, ceil_mode.
    output : int
        Output length along the axis.
    text : str
        The formula, then the same with the numbers filled in, then the result.
    """

    axis: str
    size: int
    window: Window
    output: int
    text: str


@dataclass(frozen=True)
class ReceptiveField:
    """What one output element sees, per spatial axis.

    Attributes
    ----------
    kind : {"local", "global", "unknown"}
        ``"local"``: ``size``, ``jump`` and ``start`` hold the numbers.
        ``"global"``: every output depends on the whole input.
        ``"unknown"``: a layer with uneven windows (adaptive pooling whose sizes
        do not divide) or of a type the arithmetic does not know.
    size : tuple of int
        Pixels of the input one output sees (``r``).
    jump : tuple of int
        Input pixels between two neighbouring outputs (``j``).
    start : tuple of float
        Input pixel index at the centre of the first output's window.
    """

    kind: str
    size: tuple = ()
    jump: tuple = ()
    start: tuple = ()

    def cells(self) -> tuple:
        """Three strings for a table: size, jump, start (``"5"`` or ``"5x3"`` when the axes differ)."""
        if self.kind == "global":
            return ("whole input", "", "")
        if self.kind == "unknown":
            return ("unknown", "", "")
        return (_join_axes(self.size), _join_axes(self.jump), _join_axes(tuple(_number(s) for s in self.start)))


@dataclass
class LayerExplanation:
    """The arithmetic of one layer on one input shape; ``str()`` prints it.

    Attributes
    ----------
    layer : LayerSpec
    input_shape, output_shape : tuple
        Of one sample, without the batch axis.
    axes : list of AxisArithmetic
        One per spatial axis for convolution and pooling; empty otherwise.
    params : int
    params_text : str
        Formula = numbers = result.
    buffers : int
        Elements of the buffers (running statistics), which are not parameters.
    mult_adds : int
        Per sample.
    mult_adds_text : str
    receptive_field : ReceptiveField
        Of this layer alone (its window).
    im2col_shape : (int, int) or None
        Convolutions: the im2col matrix for one sample, (C_in·prod(K), prod(out)).
    notes : list of str
    """

    layer: LayerSpec
    input_shape: tuple
    output_shape: tuple
    axes: list
    params: int
    params_text: str
    buffers: int
    mult_adds: int
    mult_adds_text: str
    receptive_field: ReceptiveField
    im2col_shape: tuple | None = None
    notes: list = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{self.layer!r}", f"input {_shape(self.input_shape)} -> output {_shape(self.output_shape)}", ""]
        if self.axes:
            lines.append("output size per axis (K kernel, S stride, P padding, D dilation):")
            lines += [f"  {a.text}" for a in self.axes]
        lines.append("parameters:")
        lines.append(f"  {self.params_text}")
        if self.buffers:
            lines.append(f"  plus {self.buffers:,} buffer elements (running statistics: saved, not learned)")
        lines.append("mult-adds (one sample):")
        lines += [f"  {text}" for text in self.mult_adds_text.splitlines()]
        rf = self.receptive_field
        lines.append("receptive field of this layer alone:")
        if rf.kind == "local" and self.axes:
            for a, size, jump, start in zip(self.axes, rf.size, rf.jump, rf.start):
                lines.append(f"  {a.axis}: D(K-1)+1 = {a.window.dilation}·({a.window.kernel}-1)+1 = {size} pixels, "
                             f"jump S = {jump}, first window centred at input pixel (K-1)·D/2 - P = {_number(start)}")
        elif rf.kind == "local":
            lines.append("  1 pixel: each output element depends on the input element at the same place")
        elif rf.kind == "global":
            lines.append("  the whole input: each output depends on every input element")
        else:
            lines.append("  uneven windows (see the notes)")
        if self.im2col_shape is not None:
            rows, cols = self.im2col_shape
            itemsize = np.dtype(self.layer.hparams["dtype"]).itemsize
            lines.append(f"im2col matrix (one sample): C_in·{_KERNEL_SYMBOLS[self.layer.nd]} x "
                         f"{'·'.join(a.axis + '_out' for a in self.axes)} = {rows:,} x {cols:,} "
                         f"({rows * cols * itemsize:,} bytes in {self.layer.hparams['dtype']})")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass
class ModelRow:
    """One layer of a :class:`ModelExplanation`."""

    path: str
    type_name: str
    output_shape: tuple
    params: int
    receptive_field: ReceptiveField


@dataclass
class ModelExplanation:
    """Output shapes and the receptive field after each layer of a network; ``str()`` prints the table.

    Attributes
    ----------
    name : str
    input_shape : tuple
        One sample, without the batch axis.
    rows : list of ModelRow
        The layers (leaf modules) in the order they run.
    """

    name: str
    input_shape: tuple
    rows: list

    @property
    def receptive_field(self) -> ReceptiveField:
        """The receptive field of the network's output (that of its last layer)."""
        return self.rows[-1].receptive_field if self.rows else _start(len(self.input_shape) - 1)

    def __str__(self) -> str:
        header = ("layer", "output shape", "params", "RF", "jump", "start")
        first = ("(input)", _shape(self.input_shape), "", *_start(len(self.input_shape) - 1).cells())
        body = [first] + [(f"{r.type_name}: {r.path}", _shape(r.output_shape), f"{r.params:,}" if r.params else "--",
                           *r.receptive_field.cells()) for r in self.rows]
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        align = ("<", "<", ">", ">", ">", ">")

        def line(cells):
            return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()

        return "\n".join([
            f"Receptive field of {self.name} on input {_shape(self.input_shape)}, per spatial axis:",
            "  r_out = r_in + (K-1)·D·j_in    j_out = j_in·S    start_out = start_in + ((K-1)·D/2 - P)·j_in",
            "  (RF r: input pixels one output sees; jump j: input pixels between neighbouring outputs;",
            "   start: input pixel at the centre of the first output's window, 0 = the first pixel)",
            "",
            line(header), line(tuple("-" * w for w in widths)), *(line(b) for b in body),
        ])


# ---------------------------------------------------------------------------- the entry point
def explain(layer_or_model, input_shape=None, **hparams):
    """Spell out a layer's arithmetic, or a network's receptive field, with the numbers filled in.

    Parameters
    ----------
    layer_or_model : str, numconv.nn layer class, LayerSpec, Module, or list / dict of LayerSpec
        A layer name (``"conv2d"``, ``"maxpool2d"``, ``"linear"``, ...) or
        class with its constructor arguments in ``hparams``; a layer or a
        :class:`LayerSpec` (one layer); a network (a Module with children,
        or a list / dict of specs as taken by ``summary``).
    input_shape : tuple of int or str
        One sample, **without the batch axis**: ``(3, 32, 32)`` or ``"3x32x32"``.
        Default for a network: its ``input_shape`` attribute.
    **hparams
        With a layer name: the constructor arguments, by name
        (``out_channels=16, kernel_size=5, padding=2``). ``in_channels``,
        ``in_features``, ``num_features`` and ``num_channels`` default to
        the input's size.

    Returns
    -------
    LayerExplanation or ModelExplanation
        The numbers as data; ``str()`` is the explanation.

    Raises
    ------
    ValueError
        An input the layer cannot take (named in the message), or a bad shape.
    TypeError
        Missing or unknown layer arguments.
    """
    if isinstance(layer_or_model, (str, type)):
        input_shape = _check_shape(input_shape)
        layer = spec(layer_or_model, **_fill_input_sizes(layer_class(layer_or_model).__name__, input_shape, hparams))
        return _explain_layer(layer, input_shape)
    if hparams:
        raise TypeError(f"explain: layer arguments ({', '.join(hparams)}) go with a layer name, not with a "
                        f"{type(layer_or_model).__name__}")
    if isinstance(layer_or_model, LayerSpec):
        return _explain_layer(layer_or_model, _check_shape(input_shape))
    if isinstance(layer_or_model, Module) and not any(True for _ in layer_or_model.children()):
        return _explain_layer(spec_of(layer_or_model), _check_shape(input_shape))
    if isinstance(layer_or_model, (Module, list, tuple, dict)):
        if input_shape is None:
            input_shape = getattr(layer_or_model, "input_shape", None)
        return _explain_model(layer_or_model, _check_shape(input_shape))
    raise TypeError(f"explain: expected a layer name, a layer, a layer spec or a network, got "
                    f"{type(layer_or_model).__name__}")


def parse_shape(text: str, what: str = "shape", example: str = "3x32x32") -> tuple:
    """``"3x32x32"`` -> ``(3, 32, 32)``; ``"5"`` -> ``(5,)``. ``ValueError`` naming ``what`` otherwise."""
    parts = str(text).lower().replace("×", "x").replace(",", "x").split("x")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if not values or any(v < 0 for v in values):
        raise ValueError(f"{what}: expected non-negative integers joined by 'x' (such as {example}), got {text!r}")
    return values


def _check_shape(input_shape) -> tuple:
    if input_shape is None:
        raise ValueError("explain: pass input_shape, the shape of one sample without the batch axis (e.g. (3, 32, 32))")
    if isinstance(input_shape, str):
        input_shape = parse_shape(input_shape, "explain: input_shape")
    if isinstance(input_shape, (int, np.integer)) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    if not isinstance(input_shape, (tuple, list)) or not input_shape or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in input_shape):
        raise ValueError(f"explain: expected input_shape to be a non-empty tuple of positive ints (one sample, "
                         f"without the batch axis), got {input_shape!r}")
    return tuple(int(s) for s in input_shape)


def _fill_input_sizes(type_name: str, input_shape: tuple, hparams: dict) -> dict:
    """Default the argument that must equal the input's channel (or feature) count to that count."""
    hparams = dict(hparams)
    key = {"Linear": "in_features", "GroupNorm": "num_channels"}.get(type_name)
    if type_name.startswith("Conv"):
        key = "in_channels"
    elif type_name.startswith(("BatchNorm", "InstanceNorm")):
        key = "num_features"
    if key is not None and key not in hparams:
        hparams[key] = input_shape[-1] if key == "in_features" else input_shape[0]
    return hparams


# ---------------------------------------------------------------------------- one layer
def _explain_layer(layer: LayerSpec, input_shape: tuple) -> LayerExplanation:
    batched = (1, *input_shape)
    try:
        out = layer.output_shape(batched)
    except ValueError as error:
        raise ValueError(f"{error} (explain puts a batch axis of 1 in front of the input shape "
                         f"{_shape(input_shape)})") from None
    axes, notes, im2col = [], [], None
    family = layer.family
    if family in ("conv", "maxpool", "avgpool"):
        names = _AXIS_NAMES[layer.nd]
        for name, size, window, o in zip(names, batched[2:], layer.windows(batched[2:]), out[2:]):
            axes.append(AxisArithmetic(name, size, window, o, _axis_text(name, size, window, o)))
        if any(a.window.ceil_mode for a in axes):
            notes.append("ceil_mode rounds the number of windows up, but drops a last window that would start "
                         "beyond the input and its leading padding")
    params, params_text = _params_text(layer)
    buffers = sum(math.prod(s) for s in layer.buffer_shapes().values())
    macs, macs_text = _mult_adds_text(layer, out, params)
    if family == "convtranspose":
        axes, more_notes = _transpose_axes(layer, batched, out)
        notes += more_notes
    if family == "conv":
        c_in = layer.hparams["in_channels"]
        im2col = (c_in * math.prod(layer.hparams["kernel_size"]), math.prod(out[2:]))
    if family == "upsample":
        notes += _upsample_notes(layer, batched, out)
    if family == "adaptive":
        notes.append("adaptive pooling: output i along an axis of n inputs and m outputs averages/maxes inputs "
                     "floor(i·n/m) to ceil((i+1)·n/m) - 1, windows that are all alike only when m divides n")
    rf = _update(_start(len(batched) - 2), layer, batched)
    return LayerExplanation(layer, input_shape, out[1:], axes, params, params_text, buffers, macs, macs_text, rf,
                            im2col, notes)


def _transpose_axes(layer: LayerSpec, batched: tuple, out: tuple) -> tuple:
    """The per-axis arithmetic of a transposed convolution, and notes on output_padding and its columns."""
    hp = layer.hparams
    axes, notes = [], []
    for name, size, k, s, p, op, d, o in zip(_AXIS_NAMES[layer.nd], batched[2:], hp["kernel_size"], hp["stride"],
                                             hp["padding"], hp["output_padding"], hp["dilation"], out[2:]):
        text = (f"{name}_out = ({name}_in - 1)·S - 2P + D(K-1) + output_padding + 1 = "
                f"({size} - 1)·{s} - 2·{p} + {d}·({k}-1) + {op} + 1 = {o}")
        axes.append(AxisArithmetic(name, size, Window(k, s, (p, p), d), o, text))
        if s > 1:
            low = o - op
            sizes = ", ".join(str(low + i) for i in range(s))
            choices = ", ".join(f"{i} gives {low + i}" for i in range(s))
            notes.append(
                f"{name}: a convolution with stride {s} (kernel {k}, padding {p}, dilation {d}) maps each of the "
                f"sizes {sizes} to {size} (floor((n + 2·{p} - {d}·({k}-1) - 1)/{s}) + 1 = {size}), so its "
                f"transpose must be told which one to give back: output_padding {choices} (here {op}: {o}); "
                "forward(x, output_size=...) works it out from the size wanted"
            )
    c_out, k = hp["out_channels"], math.prod(hp["kernel_size"])
    positions = math.prod(batched[2:])
    notes.append(f"computed as the adjoint of a convolution: columns W^T·x of C_out·prod(K) x prod(in) = "
                 f"{c_out * k:,} x {positions:,} per sample, added onto the output by col2im (each input pixel "
                 f"stamps the kernel, scaled by its value, {'x'.join(map(str, hp['stride']))} pixels from its "
                 "neighbour's stamp)")
    return axes, notes


def _upsample_notes(layer: LayerSpec, batched: tuple, out: tuple) -> list:
    """How each output size follows, and where each output pixel reads the input."""
    hp = layer.hparams
    names = _AXIS_NAMES[len(batched) - 2]
    notes = []
    factors = hp["scale_factor"]
    for i, (name, n, m) in enumerate(zip(names, batched[2:], out[2:])):
        if factors is None:
            notes.append(f"{name}_out = size = {m}; scale = {name}_in / {name}_out = {n}/{m}")
            continue
        f = factors[i] if isinstance(factors, tuple) else factors
        scale = f"{n}/{m}" if hp["recompute_scale_factor"] else f"1/{f:g}"
        notes.append(f"{name}_out = floor({name}_in · scale_factor) = floor({n} · {f:g}) = {m}; scale = {scale}")
    mode = hp["mode"]
    if mode == "nearest":
        notes.append("nearest: output i copies input floor(i · scale) (no half-pixel shift)")
    elif mode == "nearest-exact":
        notes.append("nearest-exact: output i copies input floor((i + 0.5) · scale), the pixel under its centre")
    elif hp["align_corners"]:
        notes.append(f"{mode}, align_corners=True: output i reads input i · (in - 1)/(out - 1) (first and last "
                     "pixel centres aligned) and mixes the two pixels around it")
    else:
        notes.append(f"{mode}: output i reads input (i + 0.5) · scale - 0.5 (pixel centres aligned, clamped at 0) "
                     "and mixes the two pixels around it; the backward pass sends each gradient back with the "
                     "same two weights")
    return notes


def _axis_text(axis: str, size: int, w: Window, out: int) -> str:
    before, after = w.padding
    rounding = "ceil" if w.ceil_mode else "floor"
    if before == after:
        symbolic, pad = "2P", f"2·{before}"
    else:
        symbolic, pad = "P_before + P_after", f"{before} + {after}"
    numbers = f"{rounding}(({size} + {pad} - {w.dilation}·({w.kernel}-1) - 1)/{w.stride}) + 1"
    exact = (size + before + after - w.span) / w.stride + 1
    dropped = w.ceil_mode and out < math.ceil(exact)
    return (f"{axis}_out = {rounding}(({axis}_in + {symbolic} - D(K-1) - 1)/S) + 1 = {numbers} = {out}"
            + (" (the last window would start past the input, so it is dropped)" if dropped else ""))


def _params_text(layer: LayerSpec) -> tuple:
    """(count, "formula = numbers = count") of the layer's parameters."""
    hp, family = layer.hparams, layer.family
    count = sum(math.prod(s) for s in layer.parameter_shapes().values())
    if family == "conv":
        k = hp["kernel_size"]
        formula = f"C_out·(C_in/groups)·{_KERNEL_SYMBOLS[layer.nd]}" + (" + C_out" if hp["bias"] else "")
        numbers = (f"{hp['out_channels']}·({hp['in_channels']}/{hp['groups']})·" + "·".join(map(str, k))
                   + (f" + {hp['out_channels']}" if hp["bias"] else ""))
    elif family == "convtranspose":
        k = hp["kernel_size"]
        formula = f"C_in·(C_out/groups)·{_KERNEL_SYMBOLS[layer.nd]}" + (" + C_out" if hp["bias"] else "")
        numbers = (f"{hp['in_channels']}·({hp['out_channels']}/{hp['groups']})·" + "·".join(map(str, k))
                   + (f" + {hp['out_channels']}" if hp["bias"] else ""))
    elif family == "linear":
        formula = "out·in" + (" + out" if hp["bias"] else "")
        numbers = f"{hp['out_features']}·{hp['in_features']}" + (f" + {hp['out_features']}" if hp["bias"] else "")
    elif count and family in ("batchnorm", "instancenorm", "groupnorm"):
        c = hp["num_channels"] if family == "groupnorm" else hp["num_features"]
        shapes = layer.parameter_shapes()
        formula = f"{len(shapes)}·C ({' and '.join(shapes)}, one per channel)"
        numbers = f"{len(shapes)}·{c}"
    elif count and family == "layernorm":
        shapes = layer.parameter_shapes()
        formula = f"{len(shapes)}·prod(normalized_shape) ({' and '.join(shapes)})"
        numbers = f"{len(shapes)}·" + "·".join(map(str, hp["normalized_shape"]))
    elif family == "prelu":
        return count, f"num_parameters = {count}"
    else:
        reason = "affine=False: " if family in ("batchnorm", "instancenorm", "groupnorm", "layernorm") else ""
        return 0, f"0 ({reason}this layer learns nothing)"
    return count, f"{formula} = {numbers} = {count:,}"


def _mult_adds_text(layer: LayerSpec, out: tuple, params: int) -> tuple:
    """(count, "formula = numbers = count") per sample, with summary's (torchinfo's) conventions."""
    if layer.family == "conv":
        hp = layer.hparams
        per_output = math.prod(hp["kernel_size"]) * hp["in_channels"] // hp["groups"] + (1 if hp["bias"] else 0)
        count = math.prod(out[1:]) * per_output
        axes = "·".join(a + "_out" for a in _AXIS_NAMES[layer.nd])
        formula = f"C_out·{axes}·((C_in/groups)·{_KERNEL_SYMBOLS[layer.nd]}" + (" + 1)" if hp["bias"] else ")")
        numbers = (f"{'·'.join(map(str, out[1:]))}·(({hp['in_channels']}/{hp['groups']})·"
                   + "·".join(map(str, hp["kernel_size"])) + (" + 1)" if hp["bias"] else ")"))
        return count, (f"{formula} = {numbers} = {count:,}\n(one multiply-add per weight tap"
                       + (", plus one add for the bias)" if hp["bias"] else ")"))
    if layer.family == "convtranspose":
        count = layer.mult_adds(out)
        axes = "·".join(a + "_out" for a in _AXIS_NAMES[layer.nd])
        hp = layer.hparams
        taps = hp["in_channels"] * hp["out_channels"] // hp["groups"] * math.prod(hp["kernel_size"])
        pixels = _prod_in(layer, out)
        bias_adds = f", plus {math.prod(out[1:]):,} bias adds" if hp["bias"] else ""
        return count, (f"parameters·{axes} = {params:,}·{'·'.join(map(str, out[2:]))} = {count:,}\n"
                       f"(summary's and torchinfo's convention for every convolution; the layer really does one "
                       f"multiply-add per weight tap per input pixel, C_in·(C_out/groups)·prod(K)·prod(in) = "
                       f"{taps:,}·{pixels:,} = {taps * pixels:,}{bias_adds})")
    if params:
        rows = math.prod(out[:-1]) if layer.family == "linear" else 1
        if layer.family == "linear" and rows > 1:
            note = (f"\n(summary's and torchinfo's convention counts the batch axis only; the layer really does "
                    f"{rows}·{params:,} = {rows * params:,} for its {rows} rows)")
        else:
            note = "\n(by convention: one multiply-add per parameter per sample)"
        return params, f"N·parameters = 1·{params:,} = {params:,}{note}"
    return 0, "0\n(no parameters; by convention only multiplications by parameters are counted)"


# ---------------------------------------------------------------------------- the receptive-field recurrence
def _prod_in(layer: LayerSpec, out: tuple) -> int:
    """Input pixels per channel of a transposed convolution, worked back from its output."""
    hp = layer.hparams
    sizes = [(o - op - 1 + 2 * p - d * (k - 1)) // s + 1 for o, k, s, p, op, d in
             zip(out[2:], hp["kernel_size"], hp["stride"], hp["padding"], hp["output_padding"], hp["dilation"])]
    return math.prod(sizes)


def _start(nd: int) -> ReceptiveField:
    return ReceptiveField("local", (1,) * nd, (1,) * nd, (0.0,) * nd)


def _update(rf: ReceptiveField, layer: LayerSpec | None, in_shape: tuple) -> ReceptiveField:
    """The receptive field after ``layer`` (run on the batched ``in_shape``), from the one before it."""
    if rf.kind == "global":
        return rf
    if layer is None:
        return ReceptiveField("unknown")
    family = layer.family
    if family in ("linear", "instancenorm", "groupnorm") or (family == "layernorm" and len(in_shape) >= 3):
        return ReceptiveField("global")  # mixes (or normalises over) every position
    if family == "softmax":
        dim = layer.hparams["dim"]
        if dim is None:  # PyTorch's implicit choice
            dim = 0 if len(in_shape) in (0, 1, 3) else 1
        return ReceptiveField("global") if (dim % len(in_shape)) >= 2 else rf
    if family == "adaptive":
        return _adaptive_update(rf, layer, in_shape)
    if family in ("convtranspose", "upsample", "pixelshuffle") or (family == "pad" and layer.pad_mode != "constant"):
        # Neighbouring outputs see different inputs by their phase (transposed convolution, upsampling,
        # pixel shuffle), or border outputs copy pixels from elsewhere (reflect, replicate, circular):
        # no single window describes it.
        return ReceptiveField("unknown")
    if family == "pad":  # a constant border: a 1-pixel window with that padding (negative: a crop)
        pads = layer.hparams["padding"]
        windows = [Window(1, 1, (pads[2 * i], pads[2 * i + 1])) for i in reversed(range(len(pads) // 2))]
        return _apply_windows(rf, windows[-len(rf.size):]) if len(windows) <= len(rf.size) else ReceptiveField(
            "unknown")
    if family not in ("conv", "maxpool", "avgpool") or rf.kind != "local":
        return rf
    windows = layer.windows(in_shape[2:])
    if len(windows) != len(rf.size):
        return ReceptiveField("unknown")
    return _apply_windows(rf, windows)


def _apply_windows(rf: ReceptiveField, windows) -> ReceptiveField:
    size, jump, start = [], [], []
    for w, r, j, s in zip(windows, rf.size, rf.jump, rf.start):
        size.append(r + (w.kernel - 1) * w.dilation * j)
        start.append(s + ((w.kernel - 1) * w.dilation / 2 - w.padding[0]) * j)
        jump.append(j * w.stride)
    return ReceptiveField("local", tuple(size), tuple(jump), tuple(start))


def _adaptive_update(rf, layer, in_shape) -> ReceptiveField:
    sizes = layer.output_shape(in_shape)[2:]
    if all(o == 1 for o in sizes):
        return ReceptiveField("global")
    if rf.kind != "local" or any(n % o for n, o in zip(in_shape[2:], sizes)):
        return ReceptiveField("unknown")
    # Equal windows: kernel = stride = n / m, no padding.
    return _apply_windows(rf, [Window(n // o, n // o, (0, 0)) for n, o in zip(in_shape[2:], sizes)])


# ---------------------------------------------------------------------------- a whole network
def _explain_model(model, input_shape: tuple) -> ModelExplanation:
    from .summary import summary

    chain = isinstance(model, (list, tuple, dict))
    try:
        result = summary(model, input_shape, run_forward=not chain and not _is_sequential_tree(model),
                         print_table=False)
    except ValueError as error:
        raise ValueError(str(error).replace("summary:", "explain:", 1)) from None
    layers = dict(_named_leaves(model, ""))
    rf = _start(len(input_shape) - 1)
    rows = []
    for row in result.leaf_rows():
        node = layers.get(row.path)
        try:
            layer = node if isinstance(node, LayerSpec) else spec_of(node)
        except TypeError:
            layer = None
        rf = _update(rf, layer, row.input_shape)
        rows.append(ModelRow(row.path, row.type_name, row.output_shape[1:], row.params, rf))
    name = type(model).__name__ if isinstance(model, Module) else "the network"
    return ModelExplanation(name, input_shape, rows)


def _is_sequential_tree(module) -> bool:
    from ..nn import Sequential

    children = list(module.children())
    if not children:
        return True
    return type(module).forward is Sequential.forward and all(_is_sequential_tree(c) for c in children)


def _named_leaves(node, prefix):
    if isinstance(node, Module):
        children = list(node.named_children())
        if not children:
            yield prefix, node
        for name, child in children:
            yield from _named_leaves(child, f"{prefix}.{name}" if prefix else name)
    elif isinstance(node, LayerSpec):
        yield prefix, node
    else:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for name, child in items:
            yield from _named_leaves(child, f"{prefix}.{name}" if prefix else str(name))


# ---------------------------------------------------------------------------- formatting
def _shape(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _number(x) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _join_axes(values) -> str:
    values = [str(v) for v in values]
    return values[0] if len(set(values)) == 1 else "x".join(values)
