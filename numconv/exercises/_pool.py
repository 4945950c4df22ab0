"""Exercises on pooling: the backward passes of max pooling and average pooling."""

from __future__ import annotations

from functools import partial

import numpy as np

from .. import functional as F
from ._base import distinct, exercise, near, out_size, values

__all__ = ["MAXPOOL2D_BACKWARD", "AVGPOOL2D_BACKWARD"]


def _pool_case(N, C, H, W, k, stride) -> dict:
    return dict(N=N, C=C, H=H, W=W, k=k, stride=stride)


POOL_CASES = [
    _pool_case(1, 1, 2, 2, 2, 2),
    _pool_case(1, 1, 4, 4, 2, 2),
    _pool_case(2, 2, 4, 6, 2, 2),
    _pool_case(1, 1, 5, 5, 3, 2),  # overlapping windows: one input can win twice
    _pool_case(2, 3, 6, 5, 3, 1),
    _pool_case(2, 2, 7, 7, 3, 3),
]


def _pool_valid(case) -> bool:
    return case["H"] >= case["k"] and case["W"] >= case["k"]


def _pool_inputs(case, rng) -> dict:
    out_h = out_size(case["H"], case["k"], case["stride"], 0)
    out_w = out_size(case["W"], case["k"], case["stride"], 0)
    return {
        "dout": values(rng, (case["N"], case["C"], out_h, out_w)),
        "x": distinct(rng, (case["N"], case["C"], case["H"], case["W"])),
        "kernel_size": case["k"],
        "stride": case["stride"],
    }


def _windows(dout, k, stride):
    """Every output position (i, j) with the slices of its window."""
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            yield i, j, (slice(None), slice(None), slice(i * stride, i * stride + k), slice(j * stride, j * stride + k))


def _routed(dout, x, k, stride, add: bool) -> np.ndarray:
    """Max-pool dx with each window's gradient sent to its maximum, added or assigned."""
    dx = np.zeros_like(x)
    n, c = np.indices(x.shape[:2])
    for i, j, window in _windows(dout, k, stride):
        p, q = np.unravel_index(x[window].reshape(*x.shape[:2], -1).argmax(axis=2), (k, k))
        if add:
            np.add.at(dx, (n, c, i * stride + p, j * stride + q), dout[:, :, i, j])
        else:
            dx[n, c, i * stride + p, j * stride + q] = dout[:, :, i, j]
    return dx


def _spread(dout, x, k, stride, add: bool) -> np.ndarray:
    """Average-pool dx: each window's gradient shared evenly over it, added or assigned."""
    dx = np.zeros_like(x)
    for i, j, window in _windows(dout, k, stride):
        share = np.broadcast_to(dout[:, :, i, j, None, None] / k**2, dx[window].shape)
        if add:
            dx[window] += share
        else:
            dx[window] = share
    return dx


def _pool_reference(forward, backward):
    """The reference of a pooling exercise: numconv's ``forward``, then its ``backward`` of ``dout``."""
    def reference(inputs) -> tuple:
        _, cache = forward(inputs["x"], inputs["kernel_size"], inputs["stride"])
        return (backward(inputs["dout"], cache),)

    return reference


def _pool_mistakes(slips: dict):
    """The ``mistakes`` of a pooling exercise, from its usual ``{slip: hint}``, in order.

    A slip names a wrong dx: ``"max"``, each window's gradient sent to its
    maximum (what max pooling does); ``"mean"``, shared evenly over the window
    (what average pooling does); either one ``", assigned"`` (``=`` where
    overlapping windows must add); ``"max over the area"``, sent to the
    maximum and divided by ``kernel_size**2``.
    """
    def mistakes(case, inputs, expected) -> dict:
        args = (inputs["dout"], inputs["x"], inputs["kernel_size"], inputs["stride"])
        wrong = {"max": lambda: _routed(*args, add=True), "max, assigned": lambda: _routed(*args, add=False),
                 "max over the area": lambda: _routed(*args, add=True) / inputs["kernel_size"]**2,
                 "mean": lambda: _spread(*args, add=True), "mean, assigned": lambda: _spread(*args, add=False)}
        return {"dx": [(wrong[slip](), hint) for slip, hint in slips.items()]}

    return mistakes


# What the two pooling exercises share: the call, the cases and how a case shrinks.
_pool_exercise = partial(exercise, cases=POOL_CASES, make_inputs=_pool_inputs,
                         shrink_keys=("N", "C", "H", "W", "k", "stride"), minimum={"k": 2}, valid=_pool_valid,
                         settings=("N", "C", "overlap"))

MAXPOOL2D_BACKWARD = _pool_exercise(
    "maxpool2d_backward(dout, x, kernel_size, stride) -> dx", "max pooling backward", "maxpool_backward.py",
    reference=_pool_reference(F.max_pool2d, F.max_pool2d_backward), mistakes=_pool_mistakes({
        "max, assigned": "when windows overlap, an input can be the maximum of several windows: add (+=) each "
                         "window's gradient, do not overwrite it (=)",
        "mean": "the gradient is spread evenly over the window (that is average pooling): in max pooling only the "
                "window's maximum gets dout",
    }))


# ---------------------------------------------------------------------------------------------- average pooling
def _avgpool_factor_hint(case, output, k) -> str | None:
    size = case["k"]
    if near(k, size**2):
        return (f"dx is exactly kernel_size**2 = {size**2} times too large: each output is the mean of "
                f"{size**2} inputs, so each of them gets dout / kernel_size**2")
    if near(k, size):
        return (f"dx is exactly kernel_size = {size} times too large: divide by the window's area, kernel_size**2 "
                f"= {size**2}, not by kernel_size")
    if near(k, 1 / size**2):
        return f"dx is exactly kernel_size**2 = {size**2} times too small: divide by the window's area once"
    return None


AVGPOOL2D_BACKWARD = _pool_exercise(
    "avgpool2d_backward(dout, x, kernel_size, stride) -> dx", "average pooling backward", "avgpool_backward.py",
    reference=_pool_reference(F.avg_pool2d, F.avg_pool2d_backward), factor_hints=_avgpool_factor_hint,
    mistakes=_pool_mistakes({
        "mean, assigned": "when windows overlap, an input is in several windows: add (+=) each window's share, do "
                          "not overwrite it (=)",
        "max over the area": "the gradient goes to the window's maximum only (that is max pooling): in average "
                             "pooling every input of the window moved the mean, so each gets dout / kernel_size**2",
        "max": "the gradient goes to the window's maximum only (that is max pooling): in average pooling each input "
               "gets dout / kernel_size**2",
    }))
