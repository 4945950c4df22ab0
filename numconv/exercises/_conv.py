"""Exercises on convolution: the forward pass with loops, the backward pass, im2col and col2im."""

from __future__ import annotations

from functools import partial

import numpy as np

from .. import functional as F
from ._base import distinct, exercise, out_size, values
from ._diagnose import batch_sum_factor_hint

__all__ = ["CONV2D_FORWARD", "CONV2D_BACKWARD", "IM2COL", "COL2IM"]


def _conv_case(N, C, H, W, F, HH, WW, stride, padding) -> dict:
    return dict(N=N, C=C, H=H, W=W, F=F, HH=HH, WW=WW, stride=stride, padding=padding)


# The first cases have one sample, stride 1 and no padding, so that a mistake in the batch, the stride or the
# padding shows up as "the same case without it passes".
CONV_CASES = [
    _conv_case(1, 1, 2, 2, 1, 1, 1, 1, 0),
    _conv_case(1, 1, 3, 3, 1, 2, 2, 1, 0),
    _conv_case(1, 2, 4, 3, 2, 2, 1, 1, 0),
    _conv_case(2, 2, 4, 4, 3, 3, 3, 1, 1),
    _conv_case(1, 1, 5, 5, 1, 3, 3, 2, 0),
    _conv_case(2, 3, 5, 6, 2, 3, 2, 2, 1),
    _conv_case(2, 2, 6, 5, 3, 2, 3, 3, 2),
    _conv_case(3, 3, 7, 7, 4, 3, 3, 2, 1),
]


def _conv_valid(case) -> bool:
    return (out_size(case["H"], case["HH"], case["stride"], case["padding"]) >= 1
            and out_size(case["W"], case["WW"], case["stride"], case["padding"]) >= 1)


# What the convolution exercises share: the cases, how a case shrinks (padding down to 0) and the settings.
_conv_exercise = partial(
    exercise, cases=CONV_CASES, shrink_keys=("N", "C", "F", "H", "W", "HH", "WW", "stride", "padding"),
    minimum={"padding": 0}, valid=_conv_valid, settings=("N", "C", "F", "stride", "padding"))


def _conv_inputs(case, rng) -> dict:
    return {
        "x": values(rng, (case["N"], case["C"], case["H"], case["W"])),
        "w": values(rng, (case["F"], case["C"], case["HH"], case["WW"])),
        "b": values(rng, (case["F"],)),
        "stride": case["stride"],
        "padding": case["padding"],
    }


def _conv_out_shape(case, stride=None, padding=None) -> tuple:
    stride = case["stride"] if stride is None else stride
    padding = case["padding"] if padding is None else padding
    return (case["N"], case["F"], out_size(case["H"], case["HH"], stride, padding),
            out_size(case["W"], case["WW"], stride, padding))


def _flip(w) -> np.ndarray:
    return w[..., ::-1, ::-1]


# ---------------------------------------------------------------------------------------------- conv2d_forward
def _conv_forward_reference(inputs) -> tuple:
    out, _ = F.conv2d(inputs["x"], inputs["w"], inputs["b"], stride=inputs["stride"], padding=inputs["padding"])
    return (out,)


def _conv_forward_mistakes(case, inputs, expected) -> dict:
    x, w, b = inputs["x"], inputs["w"], inputs["b"]
    stride, padding = inputs["stride"], inputs["padding"]
    bias = b.reshape(1, -1, 1, 1)
    flipped, _ = F.conv2d(x, _flip(w), b, stride=stride, padding=padding)
    return {"out": [
        (expected[0] - bias, "the bias is missing: add b[f] to every output of filter f"),
        (expected[0] + bias, "the bias is added twice"),
        (flipped, "the kernel is flipped (that is the textbook 'true' convolution); here, as in PyTorch, "
                  "out[n, f, i, j] = sum(window * w[f]) with no flipping (a cross-correlation)"),
    ]}


def _conv_out_shape_hints(case, output, shape) -> str | None:
    if case["padding"] and shape == _conv_out_shape(case, padding=0):
        return "that is the shape without padding: did you forget to pad x (np.pad) before sliding the window?"
    if case["stride"] > 1 and shape == _conv_out_shape(case, stride=1):
        return "that is the shape with stride 1: did you forget the stride in H_out / W_out?"
    if case["padding"] and shape == _conv_out_shape(case, padding=2 * case["padding"]):
        return "that is the shape with twice the padding: padding is added once on each side"
    return None


CONV2D_FORWARD = _conv_exercise("conv2d_forward(x, w, b, stride, padding) -> out",
                                "convolution forward, with loops", "conv_forward_loops.py",
                                make_inputs=_conv_inputs, reference=_conv_forward_reference,
                                mistakes=_conv_forward_mistakes, shape_hints=_conv_out_shape_hints)


# ---------------------------------------------------------------------------------------------- conv2d_backward
def _conv_backward_inputs(case, rng) -> dict:
    inputs = _conv_inputs(case, rng)
    return {"dout": values(rng, _conv_out_shape(case)), **inputs}


def _conv_grads(dout, x, w, b, stride, padding) -> tuple:
    _, cache = F.conv2d(x, w, b, stride=stride, padding=padding)
    return tuple(F.conv2d_backward(dout, cache))


def _conv_backward_reference(inputs) -> tuple:
    return _conv_grads(*(inputs[k] for k in ("dout", "x", "w", "b", "stride", "padding")))


def _dx_assigned(dout, x, w, stride, padding, filters_inside: bool) -> np.ndarray:
    """dx when each window's share is assigned (=) instead of added, looping n, f, i, j (or n, i, j, f)."""
    n_samples, n_filters, out_h, out_w = dout.shape
    kh, kw = w.shape[2:]
    padded = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * padding, x.shape[3] + 2 * padding))
    order = [(f, i, j) for i in range(out_h) for j in range(out_w) for f in range(n_filters)] if filters_inside \
        else [(f, i, j) for f in range(n_filters) for i in range(out_h) for j in range(out_w)]
    for n in range(n_samples):
        for f, i, j in order:
            padded[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] = dout[n, f, i, j] * w[f]
    return padded[:, :, padding:padding + x.shape[2], padding:padding + x.shape[3]]


def _dw_assigned(dout, x, w, stride, padding) -> np.ndarray:
    """dw when ``dw[f] = dout * window`` overwrites instead of adding: only the last (n, i, j) is left."""
    n_samples, _, out_h, out_w = dout.shape
    kh, kw = w.shape[2:]
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    i, j = out_h - 1, out_w - 1
    window = padded[n_samples - 1, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
    return dout[n_samples - 1, :, i, j].reshape(-1, 1, 1, 1) * window


def _conv_backward_mistakes(case, inputs, expected) -> dict:
    dout, x, w, b = inputs["dout"], inputs["x"], inputs["w"], inputs["b"]
    stride, padding = inputs["stride"], inputs["padding"]
    dx_flipped, _, _ = _conv_grads(dout, x, _flip(w), b, stride, padding)
    _, dw_last, db_last = _conv_grads(dout[-1:], x[-1:], w, b, stride, padding)
    _, dw_first, db_first = _conv_grads(dout[:1], x[:1], w, b, stride, padding)
    assigned = ("dx is overwritten (=) where it must be added to (+=): an input pixel sits in several windows and "
                "feeds every filter, so its gradient is the sum of all their contributions")
    return {
        "dx": [(dx_flipped, "dx uses the kernel flipped: spread dout[n, f, i, j] * w[f] (not flipped) over the "
                            "window it came from"),
               (_dx_assigned(dout, x, w, stride, padding, False), assigned),
               (_dx_assigned(dout, x, w, stride, padding, True), assigned)],
        "dw": [(_flip(expected[1]), "dw is flipped in H and W: add dout[n, f, i, j] * window, with the window "
                                    "in its own orientation"),
               (dw_last, "dw holds the last sample's contribution only: is dw reset (dw = np.zeros_like(w)) inside "
                         "the loop over the batch? Create it once, before the loops, and add every sample"),
               (dw_first, "dw holds the first sample's contribution only: add the contributions of every sample "
                          "n = 0 ... N-1"),
               (_dw_assigned(dout, x, w, stride, padding), "dw is overwritten (=) where it must be added to (+=): "
                                                           "dw[f] is the sum over every n, i, j of dout * window")],
        "db": [(dout.sum(axis=(2, 3)).sum(axis=0) / case["N"], "db is divided by N: the bias gradient is a plain "
                                                                "sum over the batch and the positions"),
               (db_last, "db holds the last sample's sum only: is it reset inside the loop over the batch? db is "
                         "the sum of dout over axes (0, 2, 3), the batch too"),
               (db_first, "db holds the first sample's sum only: sum dout over the batch too, axes (0, 2, 3)")],
    }


def _conv_backward_shape_hints(case, output, shape) -> str | None:
    padded = (case["N"], case["C"], case["H"] + 2 * case["padding"], case["W"] + 2 * case["padding"])
    if output == "dx" and case["padding"] and shape == padded:
        return ("that is the padded input's shape: crop the padding off at the end, "
                "dx = dx_padded[:, :, padding:padding + H, padding:padding + W]")
    if output == "db" and shape == (case["N"], case["F"]):
        return "db still has the batch axis: sum dout over axes (0, 2, 3)"
    if output == "db" and shape == (case["F"], 1, 1):
        return "db must be 1-D, shape (F,): sum without keepdims"
    return None


CONV2D_BACKWARD = _conv_exercise("conv2d_backward(dout, x, w, b, stride, padding) -> (dx, dw, db)",
                                 "convolution backward", "conv_backward.py",
                                 make_inputs=_conv_backward_inputs, reference=_conv_backward_reference,
                                 mistakes=_conv_backward_mistakes, shape_hints=_conv_backward_shape_hints,
                                 factor_hints=batch_sum_factor_hint("a convolution's", "no mean here: "))


# ---------------------------------------------------------------------------------------------- im2col
def _im2col_case(N, C, H, W, kh, kw, stride, padding) -> dict:
    return dict(N=N, C=C, H=H, W=W, kh=kh, kw=kw, stride=stride, padding=padding)


IM2COL_CASES = [
    _im2col_case(1, 1, 2, 2, 1, 1, 1, 0),
    _im2col_case(1, 1, 3, 3, 2, 2, 1, 0),
    _im2col_case(1, 2, 3, 4, 2, 3, 1, 0),
    _im2col_case(2, 1, 3, 3, 2, 2, 1, 1),
    _im2col_case(2, 2, 5, 4, 3, 2, 2, 0),
    _im2col_case(2, 3, 5, 6, 3, 3, 2, 1),
]


def _im2col_valid(case) -> bool:
    return (out_size(case["H"], case["kh"], case["stride"], case["padding"]) >= 1
            and out_size(case["W"], case["kw"], case["stride"], case["padding"]) >= 1)


# What im2col and col2im share: the cases, how a case shrinks (padding down to 0) and the settings.
_im2col_exercise = partial(
    exercise, cases=IM2COL_CASES, shrink_keys=("N", "C", "H", "W", "kh", "kw", "stride", "padding"),
    minimum={"padding": 0}, valid=_im2col_valid, settings=("N", "C", "stride", "padding"))


def _im2col_geometry(case) -> tuple:
    """(rows, out_h, out_w) of the column matrix of ``case``."""
    out_h = out_size(case["H"], case["kh"], case["stride"], case["padding"])
    out_w = out_size(case["W"], case["kw"], case["stride"], case["padding"])
    return case["C"] * case["kh"] * case["kw"], out_h, out_w


def _im2col_inputs(case, rng) -> dict:
    return {
        "x": distinct(rng, (case["N"], case["C"], case["H"], case["W"])),
        "kernel_h": case["kh"], "kernel_w": case["kw"], "stride": case["stride"], "padding": case["padding"],
    }


def _im2col_reference(inputs) -> tuple:
    p = inputs["padding"]
    x = np.pad(inputs["x"], ((0, 0), (0, 0), (p, p), (p, p)))
    return (F.im2col(x, (inputs["kernel_h"], inputs["kernel_w"]), inputs["stride"]),)


def _reordered(case, cols) -> list:
    """``cols`` with its rows or columns in the four usual wrong orders, each with the hint that names it."""
    c, kh, kw, n = case["C"], case["kh"], case["kw"], case["N"]
    rows, out_h, out_w = _im2col_geometry(case)
    axes = cols.reshape(c, kh, kw, n, out_h, out_w)
    columns = n * out_h * out_w
    return [
        (axes.transpose(1, 2, 0, 3, 4, 5).reshape(rows, columns),
         "the rows are ordered (kernel row, kernel column, channel); the layout asks for (channel, kernel row, "
         "kernel column): row (c * kernel_h + p) * kernel_w + q"),
        (axes.transpose(0, 2, 1, 3, 4, 5).reshape(rows, columns),
         "the kernel offsets are swapped: p (down) must vary slower than q (across)"),
        (axes.transpose(0, 1, 2, 4, 5, 3).reshape(rows, columns),
         "the columns are ordered (i, j, n); the layout asks for (n, i, j): column (n * H_out + i) * W_out + j"),
        (axes.transpose(0, 1, 2, 3, 5, 4).reshape(rows, columns),
         "the output positions are transposed: i (down) must vary slower than j (across)"),
    ]


def _im2col_shape_hints(case, output, shape) -> str | None:
    c, kh, kw, n = case["C"], case["kh"], case["kw"], case["N"]
    p, s = case["padding"], case["stride"]
    positions = n * out_size(case["H"], kh, s, p) * out_size(case["W"], kw, s, p)
    if shape == (positions, c * kh * kw):
        return "that is the transpose: one row per kernel entry, one column per window"
    if p and shape == (c * kh * kw, n * out_size(case["H"], kh, s, 0) * out_size(case["W"], kw, s, 0)):
        return "that is the shape without padding: pad x with zeros first"
    if s > 1 and shape == (c * kh * kw, n * out_size(case["H"], kh, 1, p) * out_size(case["W"], kw, 1, p)):
        return "that is the shape with stride 1: the windows start every `stride` pixels"
    return None


IM2COL = _im2col_exercise("im2col(x, kernel_h, kernel_w, stride, padding) -> cols", "im2col, windows as columns",
                          make_inputs=_im2col_inputs, reference=_im2col_reference,
                          mistakes=lambda case, inputs, expected: {"cols": _reordered(case, expected[0])},
                          shape_hints=_im2col_shape_hints)


# ---------------------------------------------------------------------------------------------- col2im
def _col2im_inputs(case, rng) -> dict:
    rows, out_h, out_w = _im2col_geometry(case)
    return {
        "cols": values(rng, (rows, case["N"] * out_h * out_w)),
        "x_shape": (case["N"], case["C"], case["H"], case["W"]),
        "kernel_h": case["kh"], "kernel_w": case["kw"], "stride": case["stride"], "padding": case["padding"],
    }


def _col2im_reference(inputs) -> tuple:
    n, c, h, w = inputs["x_shape"]
    p = inputs["padding"]
    padded = F.col2im(inputs["cols"], (n, c, h + 2 * p, w + 2 * p), (inputs["kernel_h"], inputs["kernel_w"]),
                      inputs["stride"])
    return (padded[:, :, p:p + h, p:p + w],)


def _col2im_assigned(case, cols) -> np.ndarray:
    """col2im when each entry is assigned (=) to its pixel instead of added: the last window wins."""
    n, c, h, w = case["N"], case["C"], case["H"], case["W"]
    kh, kw, s, p = case["kh"], case["kw"], case["stride"], case["padding"]
    _, out_h, out_w = _im2col_geometry(case)
    padded = np.zeros((n, c, h + 2 * p, w + 2 * p))
    windows = cols.reshape(c, kh, kw, n, out_h, out_w)
    for b in range(n):
        for i in range(out_h):
            for j in range(out_w):
                padded[b, :, i * s:i * s + kh, j * s:j * s + kw] = windows[:, :, :, b, i, j]
    return padded[:, :, p:p + h, p:p + w]


def _col2im_read_wrongly(case, cols) -> list:
    """What a col2im that reads ``cols`` in a wrong layout effectively sums, each with the hint that names it."""
    c, kh, kw, n = case["C"], case["kh"], case["kw"], case["N"]
    rows, out_h, out_w = _im2col_geometry(case)
    shape = (rows, n * out_h * out_w)
    return [
        (cols.reshape(kh, kw, c, n, out_h, out_w).transpose(2, 0, 1, 3, 4, 5).reshape(shape),
         "the rows are read as (kernel row, kernel column, channel); im2col's layout is (channel, kernel row, "
         "kernel column): row (c * kernel_h + p) * kernel_w + q"),
        (cols.reshape(c, kw, kh, n, out_h, out_w).transpose(0, 2, 1, 3, 4, 5).reshape(shape),
         "the kernel offsets are swapped: in im2col's rows p (down) varies slower than q (across)"),
        (cols.reshape(c, kh, kw, out_h, out_w, n).transpose(0, 1, 2, 5, 3, 4).reshape(shape),
         "the columns are read as (i, j, n); im2col's layout is (n, i, j): column (n * H_out + i) * W_out + j"),
        (cols.reshape(c, kh, kw, n, out_w, out_h).transpose(0, 1, 2, 3, 5, 4).reshape(shape),
         "the output positions are transposed: in im2col's columns i (down) varies slower than j (across)"),
    ]


def _col2im_mistakes(case, inputs, expected) -> dict:
    cols = inputs["cols"]
    candidates = [(_col2im_assigned(case, cols),
                   "entries are assigned (=) to their pixel instead of added (+=): where windows overlap a pixel "
                   "appears in several columns and col2im must sum them (it is the adjoint of im2col, not its "
                   "inverse)")]
    for read, hint in _col2im_read_wrongly(case, cols):
        candidates.append((_col2im_reference(dict(inputs, cols=read))[0], hint))
    return {"dx": candidates}


def _col2im_shape_hints(case, output, shape) -> str | None:
    p = case["padding"]
    if p and shape == (case["N"], case["C"], case["H"] + 2 * p, case["W"] + 2 * p):
        return ("that is the padded shape: sum into a padded array, then crop the padding off, "
                "dx = dx_padded[:, :, padding:padding + H, padding:padding + W]")
    return None


COL2IM = _im2col_exercise("col2im(cols, x_shape, kernel_h, kernel_w, stride, padding) -> dx",
                          "col2im, the adjoint of im2col", make_inputs=_col2im_inputs, reference=_col2im_reference,
                          mistakes=_col2im_mistakes, shape_hints=_col2im_shape_hints)
