"""Exercises on batch normalisation's backward pass and on the gradient of softmax cross-entropy."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ._base import distinct, exercise, near, values

__all__ = ["BATCHNORM_BACKWARD", "SOFTMAX_CROSS_ENTROPY_BACKWARD"]


# ---------------------------------------------------------------------------------------------- batchnorm_backward
def _bn_case(N, C, H, W) -> dict:
    return dict(N=N, C=C, H=H, W=W)


# With m = N·H·W = 2 values per channel, x_hat is +-1 whatever x is, so the true dx is 0 (up to eps) and a wrong
# dx could not be told from a right one: every case has m >= 3, and the first one has a clearly non-zero dx.
BN_CASES = [_bn_case(3, 1, 1, 1), _bn_case(4, 1, 1, 1), _bn_case(3, 2, 1, 2), _bn_case(2, 3, 2, 2),
            _bn_case(4, 2, 3, 3), _bn_case(5, 4, 2, 3)]
BN_EPS = 1e-5
_AXES = (0, 2, 3)


def _bn_valid(case) -> bool:
    return case["N"] * case["H"] * case["W"] >= 3


def _bn_inputs(case, rng) -> dict:
    shape = (case["N"], case["C"], case["H"], case["W"])
    return {
        "dout": values(rng, shape),
        "x": distinct(rng, shape) * 3 + 1,  # no two equal: every channel has a spread
        "gamma": np.round(rng.uniform(0.5, 2.0, case["C"]), 1),
        "beta": values(rng, (case["C"],)),
        "eps": BN_EPS,
    }


def _bn_reference(inputs) -> tuple:
    _, cache = F.batch_norm(inputs["x"], None, None, inputs["gamma"], inputs["beta"], training=True,
                            eps=inputs["eps"])
    return tuple(F.batch_norm_backward(inputs["dout"], cache))


def _bn_mistakes(case, inputs, expected) -> dict:
    dout, x, gamma, eps = inputs["dout"], inputs["x"], inputs["gamma"], inputs["eps"]
    inv_std = 1 / np.sqrt(x.var(axis=_AXES, keepdims=True) + eps)
    x_hat = (x - x.mean(axis=_AXES, keepdims=True)) * inv_std
    dx_hat = dout * gamma.reshape(1, -1, 1, 1)
    through_mean = dx_hat.mean(axis=_AXES, keepdims=True)
    through_var = x_hat * (dx_hat * x_hat).mean(axis=_AXES, keepdims=True)
    n = case["N"]
    hints = {
        "dx": [
            (dx_hat * inv_std, "dx treats the mean and the variance as constants: they depend on x too, which adds "
                               "two terms (one through the mean, one through the variance)"),
            (inv_std * (dx_hat - (through_mean + through_var) * case["H"] * case["W"]),
             f"dx divides by N = {n} where it must divide by m = N·H·W = {x.size // x.shape[1]}: the statistics "
             "of a channel are over the batch AND the positions, so m counts the values per channel"),
            (inv_std * (dx_hat - through_mean), "the path through the variance is missing: subtract "
                                                "x_hat * mean(dx_hat * x_hat) too"),
            (inv_std * (dx_hat - through_var), "the path through the mean is missing: subtract mean(dx_hat) too"),
            (inv_std * (dout - dout.mean(axis=_AXES, keepdims=True)
                        - x_hat * (dout * x_hat).mean(axis=_AXES, keepdims=True)),
             "gamma is missing from dx: the output is gamma * x_hat + beta, so dx_hat = dout * gamma"),
        ],
        "dgamma": [((dout * x).sum(axis=_AXES), "dgamma uses x where it must use x_hat: dgamma = sum of "
                                                "dout * x_hat per channel")],
    }
    if x.size // x.shape[1] > 1:
        unbiased = x.var(axis=_AXES, ddof=1, keepdims=True)
        x_hat_unbiased = (x - x.mean(axis=_AXES, keepdims=True)) / np.sqrt(unbiased + eps)
        hints["dgamma"].append(((dout * x_hat_unbiased).sum(axis=_AXES),
                                "dgamma uses the unbiased variance (divided by m - 1); batch norm divides by m, the "
                                "number of values per channel (np.var's default)"))
    return hints


def _bn_factor_hint(case, output, k) -> str | None:
    m = case["N"] * case["H"] * case["W"]
    if output == "dx" and near(k, m):
        return (f"dx is exactly m = N·H·W = {m} times too large: the 1/m in front of the formula is missing "
                "(m is the number of values per channel, over the batch and the positions)")
    if output == "dx" and near(k, 1 / m):
        return f"dx is exactly m = N·H·W = {m} times too small: is the 1/m applied twice?"
    if output in ("dgamma", "dbeta") and (near(k, 1 / m) or near(k, 1 / case["N"])):
        return (f"{output} is exactly {round(1 / k)} times too small: {output} is a plain sum over axes (0, 2, 3), "
                "not a mean")
    return None


BATCHNORM_BACKWARD = exercise(
    "batchnorm_backward(dout, x, gamma, beta, eps) -> (dx, dgamma, dbeta)", "batch norm backward (training mode)",
    cases=BN_CASES, shrink_keys=("N", "C", "H", "W"), valid=_bn_valid, settings=("N", "C", "HW"),
    make_inputs=_bn_inputs, reference=_bn_reference, mistakes=_bn_mistakes, factor_hints=_bn_factor_hint,
    shape_hints=lambda case, output, shape: (
        f"{output} must have one value per channel, shape ({case['C']},): sum over axes (0, 2, 3) without keepdims"
        if output in ("dgamma", "dbeta") and len(shape) != 1 else None))


# ---------------------------------------------------------------------------------------------- softmax cross-entropy
def _ce_case(N, K, scale=1.0) -> dict:
    return dict(N=N, K=K, scale=scale)


CE_CASES = [_ce_case(1, 2), _ce_case(2, 3), _ce_case(4, 5), _ce_case(8, 10), _ce_case(3, 4, 1000.0)]


def _ce_inputs(case, rng) -> dict:
    return {
        "logits": values(rng, (case["N"], case["K"])) * case["scale"],
        "labels": rng.integers(0, case["K"], size=case["N"]),
    }


def _ce_reference(inputs) -> tuple:
    _, cache = F.cross_entropy(inputs["logits"], inputs["labels"])
    return (F.cross_entropy_backward(1.0, cache),)


def _softmax(logits, axis) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def _ce_mistakes(case, inputs, expected) -> dict:
    logits, labels = inputs["logits"], inputs["labels"]
    n = logits.shape[0]
    one_hot = np.eye(logits.shape[1])[labels]
    return {"dlogits": [
        (_softmax(logits, 1) / n, "the one-hot target is missing: subtract 1 at each row's correct class, "
                                  "dlogits = (softmax - one_hot) / N"),
        ((_softmax(logits, 0) - one_hot) / n,
         "the softmax is taken over the wrong axis (over the batch, axis 0): each row holds one sample's K class "
         "scores, so normalise each row (axis=1); then every row of dlogits sums to 0"),
        ((one_hot - _softmax(logits, 1)) / n, "dlogits has the wrong sign: it is (softmax - one_hot) / N"),
    ]}


def _ce_checks(case, inputs, output, got) -> list:
    sums = got.sum(axis=1)
    if np.max(np.abs(sums)) > 1e-6 * max(float(np.max(np.abs(got))), 1e-300):
        return [f"each row of dlogits should sum to 0 (a softmax row sums to 1 and so does a one-hot row); yours "
                f"sum to {np.array2string(sums, precision=3, separator=', ')}: is the softmax normalised over the "
                "classes (axis=1), and is 1 subtracted once per row?"]
    return []


def _ce_factor_hint(case, output, k) -> str | None:
    n = case["N"]
    if n > 1 and near(k, 1 / n):
        return (f"dlogits is exactly N = {n} times too small: did you divide by the batch size twice (or divide a "
                "sum that was already a mean)?")
    if n > 1 and near(k, n):
        return (f"dlogits is exactly N = {n} times too large: did you forget to divide by the batch size (the loss "
                "is a mean over the batch)?")
    return None


SOFTMAX_CROSS_ENTROPY_BACKWARD = exercise(
    "softmax_cross_entropy_backward(logits, labels) -> dlogits", "gradient of the mean softmax cross-entropy",
    cases=CE_CASES, shrink_keys=("N", "K"), minimum={"K": 2}, settings=("N", "scale"), make_inputs=_ce_inputs,
    reference=_ce_reference, mistakes=_ce_mistakes, factor_hints=_ce_factor_hint, checks=_ce_checks)
