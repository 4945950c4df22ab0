"""The receptive field: which input pixels one output element sees, followed from layer to layer.

Per spatial axis, with ``K`` kernel, ``S`` stride, ``D`` dilation and ``P``
the padding before the axis::

    r_out     = r_in + (K - 1)·D·j_in              pixels of the input one output sees
    j_out     = j_in·S                             input pixels between neighbouring outputs
    start_out = start_in + ((K - 1)·D/2 - P)·j_in  input pixel at the centre of the first output's window

starting from ``r = 1, j = 1, start = 0`` at the input. ``explain`` prints it
after each layer of a network (``numconv.tools.explain``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._shapes import LayerSpec, Window
from ._table import join_axes, number_text

__all__ = ["ReceptiveField", "input_field", "field_after", "joined_field"]


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
        return (join_axes(self.size), join_axes(self.jump), join_axes(tuple(number_text(s) for s in self.start)))


def input_field(nd: int) -> ReceptiveField:
    """The receptive field of the input itself: one pixel, a jump of one, starting at pixel 0."""
    return ReceptiveField("local", (1,) * nd, (1,) * nd, (0.0,) * nd)


def field_after(rf: ReceptiveField, layer: LayerSpec | None, in_shape: tuple) -> ReceptiveField:
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
        size.append(r + (w.span - 1) * j)  # span = D(K-1) + 1, numconv._geometry.window_span
        start.append(s + ((w.span - 1) / 2 - w.padding[0]) * j)
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


def joined_field(fields) -> ReceptiveField:
    """The field of branches that start from one input and are joined (concatenated or added).

    An output pixel of the join sees what any branch's pixel sees: per axis
    the union of the branches' windows, from the lowest window edge to the
    highest (branches of one block keep the same jump). Unknown if any branch
    is, or if their jumps differ; the whole input if any branch sees it.
    """
    fields = list(fields)
    if any(f.kind == "unknown" for f in fields):
        return ReceptiveField("unknown")
    if any(f.kind == "global" for f in fields):
        return ReceptiveField("global")
    if len({f.jump for f in fields}) != 1:
        return ReceptiveField("unknown")
    size, start = [], []
    for axis in range(len(fields[0].size)):
        low = min(f.start[axis] - (f.size[axis] - 1) / 2 for f in fields)
        high = max(f.start[axis] + (f.size[axis] - 1) / 2 for f in fields)
        size.append(int(round(high - low)) + 1)
        start.append((low + high) / 2)
    return ReceptiveField("local", tuple(size), fields[0].jump, tuple(start))
