"""Exercises on the fully connected layer and the element-wise layers: Linear, ReLU and dropout backward."""

from __future__ import annotations

from functools import partial

import numpy as np

from .. import functional as F
from ._base import exercise, near, values
from ._diagnose import batch_sum_factor_hint

__all__ = ["LINEAR_BACKWARD", "RELU_BACKWARD", "DROPOUT_BACKWARD"]


# ---------------------------------------------------------------------------------------------- linear_backward
LINEAR_CASES = [dict(N=1, D=2, M=3), dict(N=2, D=3, M=2), dict(N=4, D=5, M=3), dict(N=3, D=4, M=4),
                dict(N=8, D=6, M=10)]


def _linear_inputs(case, rng) -> dict:
    return {"dout": values(rng, (case["N"], case["M"])), "x": values(rng, (case["N"], case["D"])),
            "w": values(rng, (case["M"], case["D"])), "b": values(rng, (case["M"],))}


def _linear_grads(dout, x, w, b) -> tuple:
    _, cache = F.linear(x, w, b)
    return tuple(F.linear_backward(dout, cache))


def _linear_mistakes(case, inputs, expected) -> dict:
    dout, x, w, b = inputs["dout"], inputs["x"], inputs["w"], inputs["b"]
    _, dw_last, db_last = _linear_grads(dout[-1:], x[-1:], w, b)
    mistakes = {
        "dw": [(dw_last, "dw holds the last sample's contribution only: is dw reset inside a loop over the batch? "
                         "dw = dout.T @ x sums every sample's outer product")],
        "db": [(dout[0], "db is the first sample's dout only: sum dout over the batch, db = dout.sum(axis=0)"),
               (dout.mean(axis=0), "db is divided by N: the bias gradient is a plain sum over the batch")],
    }
    if case["D"] == case["M"]:
        mistakes["dx"] = [(dout @ w.T, "dx uses w transposed: w has shape (out_features, in_features) as in "
                                       "PyTorch (out = x @ w.T + b), so dx = dout @ w")]
        mistakes["dw"].append((x.T @ dout, "dw is transposed: w has shape (out_features, in_features), so "
                                           "dw = dout.T @ x"))
    return mistakes


def _linear_shape_hints(case, output, shape) -> str | None:
    if output == "dw" and shape == (case["D"], case["M"]):
        return "that is dw transposed: w has shape (out_features, in_features) as in PyTorch, so dw = dout.T @ x"
    if output == "db" and shape == (case["N"], case["M"]):
        return "db still has the batch axis: sum dout over axis 0"
    return None


LINEAR_BACKWARD = exercise(
    "linear_backward(dout, x, w, b) -> (dx, dw, db)", "fully connected (Linear) layer backward",
    cases=LINEAR_CASES, make_inputs=_linear_inputs, shrink_keys=("N", "D", "M"), settings=("N",),
    reference=lambda inputs: _linear_grads(inputs["dout"], inputs["x"], inputs["w"], inputs["b"]),
    mistakes=_linear_mistakes, shape_hints=_linear_shape_hints, factor_hints=batch_sum_factor_hint("a layer's"))


# ---------------------------------------------------------------------------------------------- relu_backward
ELEMENTWISE_CASES = [dict(N=1, D=4), dict(N=2, D=5), dict(N=4, D=6), dict(N=8, D=10)]

# What the element-wise exercises share: a case is N rows of D values, and shrinks to no fewer than 2 values.
_elementwise_exercise = partial(exercise, shrink_keys=("N", "D"), minimum={"D": 2})


def _relu_inputs(case, rng) -> dict:
    x = values(rng, (case["N"], case["D"]))
    x.flat[0], x.flat[-1] = 0.7, -0.7  # at least one positive and one negative input in every case
    return {"dout": values(rng, (case["N"], case["D"])), "x": x}


def _relu_reference(inputs) -> tuple:
    _, cache = F.relu(inputs["x"])
    return (F.relu_backward(inputs["dout"], cache),)


def _relu_mistakes(case, inputs, expected) -> dict:
    dout, x = inputs["dout"], inputs["x"]
    return {"dx": [
        (dout * x, "dx = dout * x: the derivative of ReLU is 1 where x > 0 and 0 elsewhere (a mask), not x"),
        ((x > 0).astype(float), "dout is missing: dx = dout * (x > 0), the chain rule multiplies by the "
                                "upstream gradient"),
        (dout * (x < 0), "the mask is inverted: the gradient passes where x > 0 (where ReLU let x through)"),
        (dout * (dout > 0), "the mask is taken from dout: it must come from the forward input, x > 0"),
        (np.maximum(dout, 0), "dx = max(dout, 0) applies ReLU to the gradient: the mask comes from x, dout * (x > 0)"),
    ]}


RELU_BACKWARD = _elementwise_exercise("relu_backward(dout, x) -> dx", "ReLU backward", cases=ELEMENTWISE_CASES,
                                      make_inputs=_relu_inputs, reference=_relu_reference, mistakes=_relu_mistakes)


# ---------------------------------------------------------------------------------------------- dropout_backward
# p = 0.5 would make 1 / p and 1 / (1 - p) equal: the first cases use other drop probabilities.
DROPOUT_CASES = [dict(N=1, D=4, p=0.25), dict(N=2, D=5, p=0.4), dict(N=4, D=6, p=0.5), dict(N=8, D=10, p=0.2)]


def _dropout_inputs(case, rng) -> dict:
    mask = rng.random((case["N"], case["D"])) >= case["p"]
    mask.flat[0], mask.flat[-1] = True, False  # at least one kept and one dropped value in every case
    return {"dout": values(rng, (case["N"], case["D"])), "mask": mask, "p": case["p"]}


def _dropout_reference(inputs) -> tuple:
    return (inputs["dout"] * inputs["mask"] / (1 - inputs["p"]),)


def _dropout_mistakes(case, inputs, expected) -> dict:
    dout, mask, p = inputs["dout"], inputs["mask"], inputs["p"]
    return {"dx": [
        (dout * ~mask / (1 - p), "the mask is inverted: mask is True where the value was KEPT, and only kept "
                                 "values pass their gradient"),
        (dout * mask / p, "dx is divided by p: the kept values were scaled by 1 / (1 - p), the keep "
                          "probability, so their gradient is too"),
        (dout / (1 - p), "the mask is missing: a dropped value did not reach the output, so its gradient is 0"),
    ]}


def _dropout_factor_hint(case, output, k) -> str | None:
    p = case["p"]
    if near(k, 1 - p):
        return (f"dx is exactly 1 - p = {1 - p:g} times the right one: inverted dropout scales the kept values by "
                "1 / (1 - p) in the forward pass, so the backward pass scales their gradient by 1 / (1 - p) too")
    if near(k, (1 - p) ** 2):
        return "dx is (1 - p)**2 times the right one: multiply by 1 / (1 - p), do not multiply by (1 - p)"
    return None


DROPOUT_BACKWARD = _elementwise_exercise(
    "dropout_backward(dout, mask, p) -> dx", "(inverted) dropout backward", cases=DROPOUT_CASES,
    make_inputs=_dropout_inputs, reference=_dropout_reference, mistakes=_dropout_mistakes,
    factor_hints=_dropout_factor_hint)
