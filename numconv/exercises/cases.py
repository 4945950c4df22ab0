"""The exercises: signatures, test cases, reference answers and common mistakes.

Each ``Exercise`` says how to call the student's function, draws the inputs
of a case, computes the expected answer with numconv's own functional ops
(which are tested against PyTorch), and lists *mistake candidates*: what a
typical wrong solution returns, with a hint. ``numconv.exercises.check``
runs the cases and uses the candidates to say what went wrong.

A case is a small dict of integers (``N``, ``C``, ``H``, ``W``, ``stride``,
...). The list of an exercise starts with the tiniest case and grows; the
first few have no padding and stride 1, so that a mistake in the padding or
the stride shows up as "these passed, that one did not".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import functional as F

__all__ = ["Exercise", "EXERCISES", "get_exercise"]


@dataclass(frozen=True)
class Exercise:
    """One exercise.

    Attributes
    ----------
    name : str
        ``"conv2d_backward"``: the function the student writes and the checker's key.
    signature : str
        The exact call and return, shown in messages.
    arguments : tuple of str
        The names of the positional arguments, in order.
    outputs : tuple of str
        The names of the returned arrays (one name: a single array is returned).
    cases : list of dict
        From tiny to larger.
    make_inputs : callable
        ``make_inputs(case, rng) -> dict`` of the arguments.
    reference : callable
        ``reference(inputs) -> tuple`` of the expected outputs.
    shrink : callable
        ``shrink(case) -> list of dict``: valid cases one step smaller.
    mistakes : callable
        ``mistakes(case, inputs, expected) -> {output name: [(array, hint), ...]}``.
    shape_hints : callable
        ``shape_hints(case, output name, got shape) -> str or None``.
    skeleton : str
        The file in ``docs/exercises/`` to start from.
    """

    name: str
    signature: str
    arguments: tuple
    outputs: tuple
    cases: list
    make_inputs: Callable
    reference: Callable
    shrink: Callable
    mistakes: Callable = field(default=lambda case, inputs, expected: {})
    shape_hints: Callable = field(default=lambda case, output, shape: None)
    skeleton: str = ""


# ---------------------------------------------------------------------------------------------- helpers
def _values(rng, shape) -> np.ndarray:
    """Normal values rounded to one decimal (easy to read when a case is printed), never exactly 0."""
    values = np.round(rng.standard_normal(shape), 1)
    values[values == 0] = 0.5  # a zero weight or gradient would hide mistakes in a tiny case
    return values


def _distinct(rng, shape) -> np.ndarray:
    """Distinct values (no ties for a max), one decimal each."""
    size = int(np.prod(shape))
    return (rng.permutation(size) - size // 2).reshape(shape) / 10.0


def _out_size(size, kernel, stride, padding) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _smaller(case: dict, keys, minimum: dict, valid: Callable) -> list:
    """Every case with one of ``keys`` decreased by one (not below ``minimum``) that is ``valid``."""
    found = []
    for key in keys:
        if case[key] > minimum.get(key, 1):
            smaller = dict(case, **{key: case[key] - 1})
            if valid(smaller):
                found.append(smaller)
    return found


def _conv_valid(case) -> bool:
    return (_out_size(case["H"], case["HH"], case["stride"], case["padding"]) >= 1
            and _out_size(case["W"], case["WW"], case["stride"], case["padding"]) >= 1)


def _conv_shrink(case) -> list:
    keys = ("N", "C", "F", "H", "W", "HH", "WW", "stride", "padding")
    return _smaller(case, keys, {"padding": 0}, _conv_valid)


def _conv_case(N, C, H, W, F, HH, WW, stride, padding) -> dict:
    return dict(N=N, C=C, H=H, W=W, F=F, HH=HH, WW=WW, stride=stride, padding=padding)


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


def _conv_inputs(case, rng) -> dict:
    return {
        "x": _values(rng, (case["N"], case["C"], case["H"], case["W"])),
        "w": _values(rng, (case["F"], case["C"], case["HH"], case["WW"])),
        "b": _values(rng, (case["F"],)),
        "stride": case["stride"],
        "padding": case["padding"],
    }


def _conv_out_shape(case, stride=None, padding=None) -> tuple:
    stride = case["stride"] if stride is None else stride
    padding = case["padding"] if padding is None else padding
    return (case["N"], case["F"], _out_size(case["H"], case["HH"], stride, padding),
            _out_size(case["W"], case["WW"], stride, padding))


def _conv_out_shape_hints(case, output, shape) -> str | None:
    if output != "out":
        return None
    if case["padding"] and shape == _conv_out_shape(case, padding=0):
        return "that is the shape without padding: did you forget to pad x (np.pad) before sliding the window?"
    if case["stride"] > 1 and shape == _conv_out_shape(case, stride=1):
        return "that is the shape with stride 1: did you forget the stride in H_out / W_out?"
    if case["padding"] and shape == _conv_out_shape(case, padding=2 * case["padding"]):
        return "that is the shape with twice the padding: padding is added once on each side"
    return None


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


CONV2D_FORWARD = Exercise(
    name="conv2d_forward",
    signature="conv2d_forward(x, w, b, stride, padding) -> out",
    arguments=("x", "w", "b", "stride", "padding"),
    outputs=("out",),
    cases=CONV_CASES,
    make_inputs=_conv_inputs,
    reference=_conv_forward_reference,
    shrink=_conv_shrink,
    mistakes=_conv_forward_mistakes,
    shape_hints=_conv_out_shape_hints,
    skeleton="docs/exercises/conv_forward_loops.py",
)


# ---------------------------------------------------------------------------------------------- conv2d_backward
def _conv_backward_inputs(case, rng) -> dict:
    inputs = _conv_inputs(case, rng)
    return {"dout": _values(rng, _conv_out_shape(case)), **inputs}


def _conv_backward_reference(inputs) -> tuple:
    _, cache = F.conv2d(inputs["x"], inputs["w"], inputs["b"], stride=inputs["stride"], padding=inputs["padding"])
    return tuple(F.conv2d_backward(inputs["dout"], cache))


def _conv_backward_mistakes(case, inputs, expected) -> dict:
    dout, x, w, b = inputs["dout"], inputs["x"], inputs["w"], inputs["b"]
    stride, padding = inputs["stride"], inputs["padding"]
    _, cache = F.conv2d(x, _flip(w), b, stride=stride, padding=padding)
    dx_flipped, _, _ = F.conv2d_backward(dout, cache)
    return {
        "dx": [(dx_flipped, "dx uses the kernel flipped: spread dout[n, f, i, j] * w[f] (not flipped) over the "
                            "window it came from")],
        "dw": [(_flip(expected[1]), "dw is flipped in H and W: add dout[n, f, i, j] * window, with the window "
                                    "in its own orientation")],
        "db": [(dout.sum(axis=(2, 3)).sum(axis=0) / case["N"], "db is divided by N: the bias gradient is a plain "
                                                                 "sum over the batch and the positions")],
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


CONV2D_BACKWARD = Exercise(
    name="conv2d_backward",
    signature="conv2d_backward(dout, x, w, b, stride, padding) -> (dx, dw, db)",
    arguments=("dout", "x", "w", "b", "stride", "padding"),
    outputs=("dx", "dw", "db"),
    cases=CONV_CASES,
    make_inputs=_conv_backward_inputs,
    reference=_conv_backward_reference,
    shrink=_conv_shrink,
    mistakes=_conv_backward_mistakes,
    shape_hints=_conv_backward_shape_hints,
    skeleton="docs/exercises/conv_backward.py",
)


# ---------------------------------------------------------------------------------------------- maxpool2d_backward
def _pool_case(N, C, H, W, k, stride) -> dict:
    return dict(N=N, C=C, H=H, W=W, k=k, stride=stride)


def _pool_valid(case) -> bool:
    return case["H"] >= case["k"] and case["W"] >= case["k"]


POOL_CASES = [
    _pool_case(1, 1, 2, 2, 2, 2),
    _pool_case(1, 1, 4, 4, 2, 2),
    _pool_case(2, 2, 4, 6, 2, 2),
    _pool_case(1, 1, 5, 5, 3, 2),  # overlapping windows: one input can win twice
    _pool_case(2, 3, 6, 5, 3, 1),
    _pool_case(2, 2, 7, 7, 3, 3),
]


def _pool_inputs(case, rng) -> dict:
    out_h = _out_size(case["H"], case["k"], case["stride"], 0)
    out_w = _out_size(case["W"], case["k"], case["stride"], 0)
    return {
        "dout": _values(rng, (case["N"], case["C"], out_h, out_w)),
        "x": _distinct(rng, (case["N"], case["C"], case["H"], case["W"])),
        "kernel_size": case["k"],
        "stride": case["stride"],
    }


def _pool_reference(inputs) -> tuple:
    _, cache = F.max_pool2d(inputs["x"], inputs["kernel_size"], inputs["stride"])
    return (F.max_pool2d_backward(inputs["dout"], cache),)


def _pool_mistakes(case, inputs, expected) -> dict:
    dout, x, k, stride = inputs["dout"], inputs["x"], inputs["kernel_size"], inputs["stride"]
    assigned = np.zeros_like(x)
    spread = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * stride:i * stride + k, j * stride:j * stride + k].reshape(*x.shape[:2], -1)
            winner = window.argmax(axis=2)
            p, q = np.unravel_index(winner, (k, k))
            n, c = np.indices(x.shape[:2])
            assigned[n, c, i * stride + p, j * stride + q] = dout[:, :, i, j]
            spread[:, :, i * stride:i * stride + k, j * stride:j * stride + k] += dout[:, :, i, j, None, None] / k**2
    return {"dx": [
        (assigned, "when windows overlap, an input can be the maximum of several windows: add (+=) each "
                   "window's gradient, do not overwrite it (=)"),
        (spread, "the gradient is spread evenly over the window (that is average pooling): in max pooling "
                 "only the window's maximum gets dout"),
    ]}


MAXPOOL2D_BACKWARD = Exercise(
    name="maxpool2d_backward",
    signature="maxpool2d_backward(dout, x, kernel_size, stride) -> dx",
    arguments=("dout", "x", "kernel_size", "stride"),
    outputs=("dx",),
    cases=POOL_CASES,
    make_inputs=_pool_inputs,
    reference=_pool_reference,
    shrink=lambda case: _smaller(case, ("N", "C", "H", "W", "k", "stride"), {"k": 2}, _pool_valid),
    mistakes=_pool_mistakes,
    skeleton="docs/exercises/maxpool_backward.py",
)


# ---------------------------------------------------------------------------------------------- batchnorm_backward
def _bn_case(N, C, H, W) -> dict:
    return dict(N=N, C=C, H=H, W=W)


BN_CASES = [_bn_case(2, 1, 1, 1), _bn_case(4, 1, 1, 1), _bn_case(3, 2, 1, 2), _bn_case(2, 3, 2, 2),
            _bn_case(4, 2, 3, 3), _bn_case(5, 4, 2, 3)]
BN_EPS = 1e-5


def _bn_inputs(case, rng) -> dict:
    shape = (case["N"], case["C"], case["H"], case["W"])
    return {
        "dout": _values(rng, shape),
        "x": _distinct(rng, shape) * 3 + 1,  # no two equal: every channel has a spread
        "gamma": np.round(rng.uniform(0.5, 2.0, case["C"]), 1),
        "beta": _values(rng, (case["C"],)),
        "eps": BN_EPS,
    }


def _bn_reference(inputs) -> tuple:
    _, cache = F.batch_norm(inputs["x"], None, None, inputs["gamma"], inputs["beta"], training=True,
                            eps=inputs["eps"])
    return tuple(F.batch_norm_backward(inputs["dout"], cache))


def _bn_mistakes(case, inputs, expected) -> dict:
    dout, x, gamma, eps = inputs["dout"], inputs["x"], inputs["gamma"], inputs["eps"]
    axes = (0, 2, 3)
    g = gamma.reshape(1, -1, 1, 1)
    mean = x.mean(axis=axes, keepdims=True)
    m = x.size // x.shape[1]
    hints = {"dx": [(g / np.sqrt(x.var(axis=axes, keepdims=True) + eps) * dout,
                     "dx treats the mean and the variance as constants: they depend on x too, which adds two "
                     "terms (one through the mean, one through the variance)")]}
    if m > 1:
        unbiased = x.var(axis=axes, ddof=1)
        # The same statistic with the unbiased variance, the usual slip:
        x_hat = (x - mean) / np.sqrt(unbiased.reshape(1, -1, 1, 1) + eps)
        hints["dgamma"] = [((dout * x_hat).sum(axis=axes), "dgamma uses the unbiased variance (divided by m - 1); "
                                                           "batch norm divides by m, the number of values per "
                                                           "channel (np.var's default)")]
    return hints


BATCHNORM_BACKWARD = Exercise(
    name="batchnorm_backward",
    signature="batchnorm_backward(dout, x, gamma, beta, eps) -> (dx, dgamma, dbeta)",
    arguments=("dout", "x", "gamma", "beta", "eps"),
    outputs=("dx", "dgamma", "dbeta"),
    cases=BN_CASES,
    make_inputs=_bn_inputs,
    reference=_bn_reference,
    shrink=lambda case: _smaller(case, ("N", "C", "H", "W"), {},
                                 lambda c: c["N"] * c["H"] * c["W"] >= 2),
    mistakes=_bn_mistakes,
    shape_hints=lambda case, output, shape: (
        f"{output} must have one value per channel, shape ({case['C']},): sum over axes (0, 2, 3) without keepdims"
        if output in ("dgamma", "dbeta") and len(shape) != 1 else None),
    skeleton="docs/exercises/batchnorm_backward.py",
)


# ---------------------------------------------------------------------------------------------- softmax cross-entropy
def _ce_case(N, K, scale=1.0) -> dict:
    return dict(N=N, K=K, scale=scale)


CE_CASES = [_ce_case(1, 2), _ce_case(2, 3), _ce_case(4, 5), _ce_case(8, 10), _ce_case(3, 4, 1000.0)]


def _ce_inputs(case, rng) -> dict:
    return {
        "logits": _values(rng, (case["N"], case["K"])) * case["scale"],
        "labels": rng.integers(0, case["K"], size=case["N"]),
    }


def _ce_reference(inputs) -> tuple:
    _, cache = F.cross_entropy(inputs["logits"], inputs["labels"])
    return (F.cross_entropy_backward(1.0, cache),)


def _ce_mistakes(case, inputs, expected) -> dict:
    logits, labels = inputs["logits"], inputs["labels"]
    n = logits.shape[0]
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = shifted / shifted.sum(axis=1, keepdims=True)
    return {"dlogits": [
        (probs / n, "the one-hot target is missing: subtract 1 at each row's correct class, "
                    "dlogits = (softmax - one_hot) / N"),
    ]}


SOFTMAX_CROSS_ENTROPY_BACKWARD = Exercise(
    name="softmax_cross_entropy_backward",
    signature="softmax_cross_entropy_backward(logits, labels) -> dlogits",
    arguments=("logits", "labels"),
    outputs=("dlogits",),
    cases=CE_CASES,
    make_inputs=_ce_inputs,
    reference=_ce_reference,
    shrink=lambda case: _smaller(case, ("N", "K"), {"K": 2}, lambda c: True),
    mistakes=_ce_mistakes,
    skeleton="docs/exercises/softmax_cross_entropy_backward.py",
)


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
    return (_out_size(case["H"], case["kh"], case["stride"], case["padding"]) >= 1
            and _out_size(case["W"], case["kw"], case["stride"], case["padding"]) >= 1)


def _im2col_inputs(case, rng) -> dict:
    return {
        "x": _distinct(rng, (case["N"], case["C"], case["H"], case["W"])),
        "kernel_h": case["kh"], "kernel_w": case["kw"], "stride": case["stride"], "padding": case["padding"],
    }


def _im2col_reference(inputs) -> tuple:
    p = inputs["padding"]
    x = np.pad(inputs["x"], ((0, 0), (0, 0), (p, p), (p, p)))
    return (F.im2col(x, (inputs["kernel_h"], inputs["kernel_w"]), inputs["stride"]),)


def _im2col_mistakes(case, inputs, expected) -> dict:
    c, kh, kw, n = case["C"], case["kh"], case["kw"], case["N"]
    cols = expected[0]
    out_h = _out_size(case["H"], kh, case["stride"], case["padding"])
    out_w = _out_size(case["W"], kw, case["stride"], case["padding"])
    axes = cols.reshape(c, kh, kw, n, out_h, out_w)
    rows, columns = c * kh * kw, n * out_h * out_w
    return {"cols": [
        (axes.transpose(1, 2, 0, 3, 4, 5).reshape(rows, columns),
         "the rows are ordered (kernel row, kernel column, channel); the layout asks for (channel, kernel row, "
         "kernel column): row (c * kernel_h + p) * kernel_w + q"),
        (axes.transpose(0, 2, 1, 3, 4, 5).reshape(rows, columns),
         "the kernel offsets are swapped: p (down) must vary slower than q (across)"),
        (axes.transpose(0, 1, 2, 4, 5, 3).reshape(rows, columns),
         "the columns are ordered (i, j, n); the layout asks for (n, i, j): column (n * H_out + i) * W_out + j"),
        (axes.transpose(0, 1, 2, 3, 5, 4).reshape(rows, columns),
         "the output positions are transposed: i (down) must vary slower than j (across)"),
    ]}


def _im2col_shape_hints(case, output, shape) -> str | None:
    c, kh, kw, n = case["C"], case["kh"], case["kw"], case["N"]
    p, s = case["padding"], case["stride"]
    positions = n * _out_size(case["H"], kh, s, p) * _out_size(case["W"], kw, s, p)
    if shape == (positions, c * kh * kw):
        return "that is the transpose: one row per kernel entry, one column per window"
    if p and shape == (c * kh * kw, n * _out_size(case["H"], kh, s, 0) * _out_size(case["W"], kw, s, 0)):
        return "that is the shape without padding: pad x with zeros first"
    if s > 1 and shape == (c * kh * kw, n * _out_size(case["H"], kh, 1, p) * _out_size(case["W"], kw, 1, p)):
        return "that is the shape with stride 1: the windows start every `stride` pixels"
    return None


IM2COL = Exercise(
    name="im2col",
    signature="im2col(x, kernel_h, kernel_w, stride, padding) -> cols",
    arguments=("x", "kernel_h", "kernel_w", "stride", "padding"),
    outputs=("cols",),
    cases=IM2COL_CASES,
    make_inputs=_im2col_inputs,
    reference=_im2col_reference,
    shrink=lambda case: _smaller(case, ("N", "C", "H", "W", "kh", "kw", "stride", "padding"), {"padding": 0},
                                 _im2col_valid),
    mistakes=_im2col_mistakes,
    shape_hints=_im2col_shape_hints,
    skeleton="docs/exercises/im2col.py",
)


EXERCISES = {ex.name: ex for ex in (CONV2D_FORWARD, CONV2D_BACKWARD, MAXPOOL2D_BACKWARD, BATCHNORM_BACKWARD,
                                    SOFTMAX_CROSS_ENTROPY_BACKWARD, IM2COL)}


def get_exercise(name: str) -> Exercise:
    """The exercise called ``name``; a ``ValueError`` lists the names if there is none."""
    if name not in EXERCISES:
        raise ValueError(f"no exercise named {name!r}; the exercises are {', '.join(EXERCISES)}")
    return EXERCISES[name]
