"""``explain`` for one layer: the output size per axis, the parameters and the mult-adds, with the numbers filled in.

The output sizes come from the layer's own arithmetic (``LayerSpec.output_shape``,
which calls ``numconv._geometry``); this module writes the formulas out beside
them, one function per part: the axes of a window (convolution, pooling) or of
a transposed convolution, the notes of upsampling, the parameters, the mult-adds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._geometry import ceil_mode_drops_last
from ._shapes import LayerSpec, Window
from ._table import number_text, shape_text
from .receptive_field import ReceptiveField, field_after, input_field

__all__ = ["AxisArithmetic", "LayerExplanation", "explain_layer"]

_AXIS_NAMES = {0: (), 1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
_KERNEL_SYMBOLS = {1: "K", 2: "Kh·Kw", 3: "Kd·Kh·Kw"}


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
        lines = [f"{self.layer!r}", f"input {shape_text(self.input_shape)} -> output {shape_text(self.output_shape)}",
                 ""]
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
                             f"jump S = {jump}, first window centred at input pixel (K-1)·D/2 - P = "
                             f"{number_text(start)}")
        elif rf.kind == "local" and any(size != 1 or jump != 1 for size, jump in zip(rf.size, rf.jump)):
            for axis, size, jump, start in zip("DHW"[-len(rf.size):], rf.size, rf.jump, rf.start):
                lines.append(f"  {axis}: {size} pixels, jump {jump}, first window centred at input pixel "
                             f"{number_text(start)}")
        elif rf.kind == "local":
            lines.append("  1 pixel: each output element depends on the input element at the same place")
        elif rf.kind == "global":
            lines.append("  the whole input: each output depends on every input element")
        else:
            lines.append(f"  no single window: {_why_no_window(self.layer.family)}")
        if self.im2col_shape is not None:
            rows, cols = self.im2col_shape
            itemsize = np.dtype(self.layer.hparams["dtype"]).itemsize
            lines.append(f"im2col matrix (one sample): C_in·{_KERNEL_SYMBOLS[self.layer.nd]} x "
                         f"{'·'.join(a.axis + '_out' for a in self.axes)} = {rows:,} x {cols:,} "
                         f"({rows * cols * itemsize:,} bytes in {self.layer.hparams['dtype']})")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _why_no_window(family: str) -> str:
    """Why the receptive-field arithmetic has no window for a layer of ``family``."""
    if family in ("convtranspose", "upsample", "pixelshuffle"):
        return ("neighbouring outputs read different input pixels by their place within the stride (their "
                "phase), so no window slides by a fixed jump")
    if family == "pad":
        return "border outputs copy pixels from elsewhere (reflect, replicate, circular)"
    if family == "adaptive":
        return "the adaptive windows differ in size (see the note)"
    return "the arithmetic does not know this layer"


def explain_layer(layer: LayerSpec, input_shape: tuple) -> LayerExplanation:
    batched = (1, *input_shape)
    try:
        out = layer.output_shape(batched)
    except ValueError as error:
        raise ValueError(f"{error} (explain puts a batch axis of 1 in front of the input shape "
                         f"{shape_text(input_shape)})") from None
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
    macs, macs_text = _mult_adds_text(layer, batched, out, params)
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
    rf = field_after(input_field(len(batched) - 2), layer, batched)
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
    dropped = w.ceil_mode and ceil_mode_drops_last(size, w.kernel, w.stride, w.padding, w.dilation)
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


def _mult_adds_text(layer: LayerSpec, batched: tuple, out: tuple, params: int) -> tuple:
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
        pixels = math.prod(batched[2:])
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
