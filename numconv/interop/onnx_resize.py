"""ONNX converters of the padding and resizing layers (see :mod:`numconv.interop.onnx_layers` for the contract).

- The padding layers become ``Pad``. PyTorch lists the padding last axis
  first in (before, after) pairs; ONNX wants every axis's begin, then every
  axis's end. A negative amount (a crop) becomes a ``Slice``, placed where
  numconv crops: before the padding for constant and circular padding,
  after it for reflection and replication (which mirror or repeat the
  input's own edge). Circular padding is ``Pad`` mode ``wrap``, which ONNX
  has from opset 19 only; before that, ``Slice`` + ``Concat`` per axis.
- ``Upsample`` (and ``UpsamplingNearest2d`` / ``UpsamplingBilinear2d``)
  becomes ``Resize`` (see :func:`upsample`); a nearest resize whose pixel
  choice ``Resize`` cannot reproduce becomes one ``Gather`` per axis with
  numconv's own indices.
- ``PixelShuffle`` is ``DepthToSpace`` in mode ``CRD`` (the same channel
  order). ``PixelUnshuffle`` is not ``SpaceToDepth``, whose output channels
  are ordered block-first (``DCR``), while PyTorch's are channel-first; it is
  written as the ``Reshape``, ``Transpose``, ``Reshape`` it is.
"""

from __future__ import annotations

import numpy as np

from ..functional import upsample as U
from .onnx_graph import UnsupportedLayerError

__all__ = ["RESIZE_CONVERTERS", "onnx_nearest_indices", "wrap"]

_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}


# ------------------------------------------------------------------------------------------ padding
def _crop(b, x, pairs, rank):
    """``Slice`` away the negative amounts of ``pairs`` ((before, after) per padded axis, first axis first)."""
    first = rank - len(pairs)
    rows = [(first + i, max(0, -before), -max(0, -after)) for i, (before, after) in enumerate(pairs)
            if before < 0 or after < 0]
    if not rows:
        return x
    axes, starts, ends = zip(*rows)
    ends = [e if e < 0 else np.iinfo(np.int64).max for e in ends]  # an end of 0 means "to the end"
    return b.node("Slice", [x, b.ints("starts", starts), b.ints("ends", ends), b.ints("axes", axes)])


def wrap(b, x, begins, ends, first_axis, native=True):
    """Circular padding of the axes from ``first_axis`` on: ``Pad`` mode ``wrap`` from opset 19 (if
    ``native``), else each axis's last ``begin`` and first ``end`` entries concatenated around it."""
    if native and b.opset >= 19:
        lead = [0] * first_axis
        return b.node("Pad", [x, b.ints("pads", lead + list(begins) + lead + list(ends))], mode="wrap")
    big = np.iinfo(np.int64).max
    for axis, (before, after) in enumerate(zip(begins, ends), start=first_axis):
        # one axis at a time, each on the result of the last: the corners wrap as on a torus
        parts = [b.node("Slice", [x, b.ints("starts", [-before]), b.ints("ends", [big]), b.ints("axes", [axis])])
                 ] if before else []
        parts.append(x)
        if after:
            parts.append(b.node("Slice", [x, b.ints("starts", [0]), b.ints("ends", [after]), b.ints("axes", [axis])]))
        if len(parts) > 1:
            x = b.node("Concat", parts, axis=axis)
    return x


def pad(b, layer, x, shapes):
    mode, rank, given = layer._mode, len(shapes[0]), x
    amounts = list(layer.padding)
    pairs = [(amounts[2 * j], amounts[2 * j + 1]) for j in range(len(amounts) // 2)][::-1]  # first axis first
    crop_first = mode in ("constant", "circular")  # as numconv.functional.pad: these pad the cropped input
    if crop_first:
        x = _crop(b, x, pairs, rank)
    if any(before > 0 or after > 0 for before, after in pairs):
        lead = [0] * (rank - len(pairs))
        begins, ends = [max(0, p) for p, _ in pairs], [max(0, p) for _, p in pairs]
        if mode == "circular":  # onnxruntime's wrap fails on an empty input (all of an axis cropped)
            kept = [size + min(0, p) + min(0, q) for size, (p, q) in zip(shapes[0][len(lead):], pairs)]
            x = wrap(b, x, begins, ends, len(lead), native=min(kept) > 0)
        else:
            inputs = [x, b.ints("pads", lead + begins + lead + ends)]
            if mode == "constant":
                inputs.append(b.const("value", layer.value))
            x = b.node("Pad", inputs, mode=_PAD_MODES[mode])
    if not crop_first:
        x = _crop(b, x, pairs, rank)
    return x if x != given else b.node("Identity", [x])  # all zero: the layer is a copy


# ------------------------------------------------------------------------------------------ Upsample -> Resize
def _near(scale, steps: int = 2):
    """``scale``, then the float32 numbers 1 ulp above and below it, then 2 ulps, ..."""
    yield scale
    up = down = scale
    for _ in range(steps):
        up, down = np.nextafter(up, np.float32(np.inf)), np.nextafter(down, np.float32(-np.inf))
        yield up
        yield down


def _onnx_scales(sizes_in, sizes_out, factors):
    """The ``scales`` input that makes ``Resize`` compute numconv's output sizes with numconv's scale factors.

    onnxruntime's output size is ``floor(in * scale)`` of the float32 scale
    multiplied in float32, onnx's shape inference multiplies in float64, and
    either can fall one off numconv's ``floor(in * factor)`` (10 * 0.7 is
    6.9999998 in float32; 10 * 2.3 is 23 in float32 but 22.9999995 in
    float64). Then the scale moves by an ulp or two, until both agree: the
    source coordinates move by as little. An axis numconv leaves unchanged
    (PyTorch copies it whatever the factor) gets scale 1. None when no scale
    near the factor gives numconv's size.
    """
    scales = []
    for n, m, f in zip(sizes_in, sizes_out, factors):
        scale = np.float32(1.0 if m == n else f)
        for candidate in _near(scale):
            if int(np.floor(np.float32(n) * candidate)) == m and int(np.floor(n * np.float64(candidate))) == m:
                scales.append(candidate)
                break
        else:
            return None
    return scales


def onnx_nearest_indices(n, m, scale, exact) -> np.ndarray:
    """The pixels onnxruntime's nearest ``Resize`` copies along one axis of ``n`` resized to ``m``.

    ``scale`` is the float32 scale the node is given (or ``m / n`` from its
    ``sizes``). ``nearest``: mode ``asymmetric`` + ``floor``, ``i / scale``;
    ``nearest-exact``: ``half_pixel`` + ``round_prefer_ceil``,
    ``(i + 0.5) / scale - 0.5`` rounded half up; both in float32 and capped
    at ``n - 1``.
    """
    i = np.arange(m, dtype=np.float32)
    scale = np.float32(scale)
    if exact:
        source = (i + np.float32(0.5)) / scale - np.float32(0.5)
        index = np.floor(source.astype(np.float64) + 0.5)  # std::round, exact: half away from zero
    else:
        index = np.floor(i / scale)
    return np.clip(index.astype(np.int64), 0, n - 1)


def _gather_nearest(b, x, sizes_in, sizes_out, indices):
    """Nearest resizing as one ``Gather`` per resized axis, with numconv's own indices."""
    for axis, (n, m, index) in enumerate(zip(sizes_in, sizes_out, indices)):
        if n != m or not np.array_equal(index, np.arange(m)):
            x = b.node("Gather", [x, b.ints("index", index)], axis=axis + 2)
    return x


def _sizes_input(b, x, sizes_out):
    """An int64 ``sizes`` input of every axis (before opset 18): the input's batch and channels (from
    ``Shape``, as the batch is left free), then the spatial sizes."""
    lead = b.node("Slice", [b.node("Shape", [x]), b.ints("first", [0]), b.ints("last", [2])])
    return b.node("Concat", [lead, b.ints("spatial", sizes_out)], axis=0)


def _nearest_rule(mode, sizes_in, out, factors, scales, dtype):
    """``Resize``'s attributes for a nearest mode, or None where onnxruntime would copy other pixels."""
    exact = mode == "nearest-exact"
    kernel = U.nearest_kernel(out)
    ours = [U.nearest_indices(n, m, f, exact=exact, dtype=dtype, kernel=kernel)
            for n, m, f in zip(sizes_in, out, factors)]
    ratio = scales if scales is not None else [np.float32(m) / np.float32(n) for n, m in zip(sizes_in, out)]
    theirs = [onnx_nearest_indices(n, m, r, exact) for n, m, r in zip(sizes_in, out, ratio)]
    if not all(np.array_equal(a, c) for a, c in zip(ours, theirs)):
        return None, ours
    if exact:
        return dict(mode="nearest", coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil"), ours
    return dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"), ours


def upsample(b, layer, x, shapes):
    """``Resize`` computing what numconv's ``interpolate`` computes.

    - ``nearest``: ``coordinate_transformation_mode='asymmetric'``, ``nearest_mode='floor'``;
    - ``nearest-exact``: ``'half_pixel'`` and ``'round_prefer_ceil'`` (``floor((i + 0.5) * scale)``);
    - linear modes: ``'align_corners'``, or ``'half_pixel'`` (which, unlike
      ``'pytorch_half_pixel'``, keeps PyTorch's source coordinate for an
      output of one pixel); ONNX clamps a negative coordinate to 0 as PyTorch does.

    With ``scale_factor`` (and ``recompute_scale_factor`` not set) numconv
    reads the source at ``i / scale_factor``: the node gets ``scales``,
    so onnxruntime divides by the same factor; otherwise it gets ``sizes``.
    For the nearest modes the pixels onnxruntime would copy are worked out
    here (:func:`onnx_nearest_indices`) and compared with numconv's; where
    they differ (PyTorch's 2-D forward on small outputs copies pixel ``i // 2``
    whenever the output is twice the input, whatever the factor; see
    ``numconv.functional.upsample.nearest_indices``), the layer is written as
    ``Gather`` nodes with numconv's indices instead.
    """
    shape_in = shapes[0]
    sizes_in = list(shape_in[2:])
    # numconv's output sizes, scale factor per axis (None: from the sizes), mode and align_corners
    out, factors, mode, align_corners = U._check_arguments(tuple(shape_in), layer.size, layer.scale_factor,
                                                           layer.mode, layer.align_corners,
                                                           layer.recompute_scale_factor)
    scales = None if factors[0] is None else _onnx_scales(sizes_in, out, factors)
    if mode in ("nearest", "nearest-exact"):
        attributes, indices = _nearest_rule(mode, sizes_in, out, factors, scales, b.dtype)
        if attributes is None:
            return _gather_nearest(b, x, sizes_in, out, indices)
    else:
        if factors[0] is not None and scales is None:
            raise UnsupportedLayerError(
                f"{b.where}: no float32 scale near scale_factor={layer.scale_factor!r} gives onnxruntime the "
                f"output size {tuple(out)} of input size {tuple(sizes_in)}; use size= or recompute_scale_factor=True")
        attributes = dict(mode="linear",
                          coordinate_transformation_mode="align_corners" if align_corners else "half_pixel")
    if b.opset >= 18:  # scales or sizes of the spatial axes only: constants, no Shape + Concat
        attributes["axes"] = list(range(2, len(shape_in)))
        if scales is not None:
            return b.node("Resize", [x, "", b.const("scales", scales, dtype=np.float32)], **attributes)
        return b.node("Resize", [x, "", "", b.ints("sizes", out)], **attributes)
    if scales is not None:
        return b.node("Resize", [x, "", b.const("scales", [1.0, 1.0, *scales], dtype=np.float32)], **attributes)
    return b.node("Resize", [x, "", "", _sizes_input(b, x, out)], **attributes)


# ------------------------------------------------------------------------------------------ pixel shuffle
def _four_d(b, layer, shapes):
    if len(shapes[0]) != 4:
        raise UnsupportedLayerError(f"{b.where}: only (N, C, H, W) input is exported, got {len(shapes[0])}-D input "
                                    f"of shape {tuple(shapes[0])}")


def pixel_shuffle(b, layer, x, shapes):
    _four_d(b, layer, shapes)
    return b.node("DepthToSpace", [x], blocksize=int(layer.upscale_factor), mode="CRD")


def pixel_unshuffle(b, layer, x, shapes):
    # (N, C, H r, W r) -> (N, C, H, r, W, r) -> (N, C, r, r, H, W) -> (N, C r r, H, W): channel c's r x r block
    # becomes channels c r^2 ... c r^2 + r^2 - 1 (SpaceToDepth would put the block offset first).
    _four_d(b, layer, shapes)
    _, c, h, w = shapes[0]
    r = int(layer.downscale_factor)
    blocks = b.node("Reshape", [x, b.ints("blocks", [0, c, h // r, r, w // r, r])])
    moved = b.node("Transpose", [blocks], perm=[0, 1, 3, 5, 2, 4])
    return b.node("Reshape", [moved, b.ints("shape", [0, c * r * r, h // r, w // r])])


_PADDING = [f"{kind}Pad{d}d" for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular")
            for d in (1, 2, 3)]
RESIZE_CONVERTERS = {
    **{name: pad for name in _PADDING},
    "Upsample": upsample, "UpsamplingNearest2d": upsample, "UpsamplingBilinear2d": upsample,
    "PixelShuffle": pixel_shuffle, "PixelUnshuffle": pixel_unshuffle,
}
