"""Pointwise losses: one loss per element of an input and a same-shape target, then a reduction.

``mse_loss``, ``l1_loss``, ``smooth_l1_loss``, ``huber_loss``,
``binary_cross_entropy``, ``binary_cross_entropy_with_logits`` and ``kl_div``,
each a pair ``loss, cache = op(input, target, ...)`` / ``dinput =
op_backward(dloss, cache)`` with PyTorch's semantics; the shared rules
(reductions, shapes of ``loss`` and ``dloss``) are in ``loss.py``.

What every op here shares, said once:

- ``input`` is any shape; ``target`` has exactly the input's shape;
- ``reduction`` is ``"mean"`` (divides by the number of elements; ``kl_div``
  also takes ``"batchmean"``), ``"sum"`` or ``"none"``;
- it returns ``(loss, cache)``: ``loss`` of shape (), or the input's shape for
  ``"none"``, and the cache its backward takes; the backward returns the
  gradient w.r.t. ``input``, the input's shape.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, check_flag, check_number, shape_str
from .loss import _first_position, _index_str, _public, _reduce, _upstream, check_reduction

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_backward", "BCECache",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_backward", "BCEWithLogitsCache",
    "mse_loss", "mse_loss_backward", "l1_loss", "l1_loss_backward",
    "smooth_l1_loss", "smooth_l1_loss_backward", "huber_loss", "huber_loss_backward", "RegressionCache",
    "kl_div", "kl_div_backward", "KLDivCache",
]

# binary_cross_entropy's backward divides by max(x * (1 - x), _BCE_EPS), as PyTorch does,
# so an input of exactly 0 or 1 gives a huge but finite gradient instead of inf. PyTorch's
# constant is the float32 number nearest 1e-12 (9.99999996e-13), also in float64; so is ours.
_BCE_EPS = float(np.float32(1e-12))


def _float_target(target, x: np.ndarray, where: str) -> np.ndarray:
    """A float target of exactly the input's shape, cast to the input's dtype."""
    target = as_float_array(target, where, "target")
    if target.shape != x.shape:
        raise ValueError(
            f"{where}: expected target of the input's shape {shape_str(x.shape)}, got target of shape "
            f"{shape_str(target.shape)}"
        )
    return target.astype(x.dtype, copy=False)


def _broadcast_weight(weight, x: np.ndarray, where: str, name: str = "weight"):
    """``weight`` broadcast to the input's shape and cast to its dtype (or None)."""
    if weight is None:
        return None
    weight = as_float_array(weight, where, name)
    try:
        return np.broadcast_to(weight.astype(x.dtype, copy=False), x.shape)
    except ValueError:
        raise ValueError(
            f"{where}: {name} of shape {shape_str(weight.shape)} cannot be broadcast to the input's shape "
            f"{shape_str(x.shape)}"
        ) from None


def _check_beta(beta, where: str, name: str = "beta") -> float:
    """Smooth L1's ``beta`` as a float >= 0; ``nn.SmoothL1Loss`` checks with it too."""
    beta = check_number(beta, where, name)
    if beta < 0:
        raise ValueError(f"{where}: {name} must be >= 0, got {beta}")
    return beta


def _check_delta(delta, where: str, name: str = "delta") -> float:
    """Huber's ``delta`` as a float > 0; ``nn.HuberLoss`` checks with it too."""
    delta = check_number(delta, where, name)
    if not delta > 0:
        raise ValueError(f"{where}: {name} must be > 0, got {delta}")
    return delta


# ====================================================================== pointwise losses

class RegressionCache(NamedTuple):
    """What the backward of ``mse_loss``/``l1_loss``/``smooth_l1_loss``/``huber_loss`` needs."""

    diff: np.ndarray       # input - target
    reduction: str
    param: float           # beta (smooth L1) or delta (Huber); unused otherwise


def _regression_inputs(input, target, reduction, where):
    x = as_float_array(input, where)
    reduction = check_reduction(reduction, where)
    return x - _float_target(target, x, where), reduction


def _pointwise_upstream(dloss, reduction, shape, dtype, where, divisor=None):
    """Upstream gradient of every element's loss (broadcastable to ``shape``)."""
    g = _upstream(dloss, reduction, shape, dtype, where)
    if reduction in ("mean", "batchmean"):
        size = int(np.prod(shape)) if divisor is None else divisor
        with np.errstate(invalid="ignore", divide="ignore"):
            g = g / dtype.type(size)
    return g


def _mse_loss(input, target, *, reduction: str = "mean", where: str):
    """Mean squared error ``(x - y)**2``, as ``torch.nn.functional.mse_loss``.


    Cache: ``RegressionCache``.
    """
    diff, reduction = _regression_inputs(input, target, reduction, where)
    return _reduce(diff * diff, reduction, diff.size), RegressionCache(diff, reduction, 0.0)


mse_loss = _public(_mse_loss, "mse_loss")


def mse_loss_backward(dloss, cache: RegressionCache) -> np.ndarray:
    """Gradient of ``mse_loss`` w.r.t. its input: ``2 (x - y) g``, shape of the input."""
    g = _pointwise_upstream(dloss, cache.reduction, cache.diff.shape, cache.diff.dtype, "mse_loss_backward")
    return 2 * cache.diff * g


def _l1_loss(input, target, *, reduction: str = "mean", where: str):
    """Mean absolute error ``|x - y|``, as ``torch.nn.functional.l1_loss``.


    Cache: ``RegressionCache``.
    """
    diff, reduction = _regression_inputs(input, target, reduction, where)
    return _reduce(np.abs(diff), reduction, diff.size), RegressionCache(diff, reduction, 0.0)


l1_loss = _public(_l1_loss, "l1_loss")


def l1_loss_backward(dloss, cache: RegressionCache) -> np.ndarray:
    """Gradient of ``l1_loss``: ``sign(x - y) g``, input's shape.

    ``|d|`` has no derivative at ``d = 0``; like PyTorch we use the
    sub-gradient ``sign(0) = 0``. At a NaN ``d`` the gradient is 0 too, as
    PyTorch's ``sign(nan) = 0`` makes it (NumPy's is NaN).
    """
    g = _pointwise_upstream(dloss, cache.reduction, cache.diff.shape, cache.diff.dtype, "l1_loss_backward")
    sign = np.sign(cache.diff)
    return np.where(np.isnan(sign), 0, sign).astype(sign.dtype, copy=False) * g


def _smooth_l1_loss(input, target, *, reduction: str = "mean", beta: float = 1.0, where: str):
    """Smooth L1 loss, as ``torch.nn.functional.smooth_l1_loss``.

    With ``d = x - y``: ``0.5 d**2 / beta`` where ``|d| < beta``, else
    ``|d| - 0.5 beta``. ``beta = 0`` is the L1 loss.


    Parameters
    ----------
    beta : float >= 0

    Cache: ``RegressionCache``.
    """
    beta = _check_beta(beta, where)
    diff, reduction = _regression_inputs(input, target, reduction, where)
    size = np.abs(diff)
    if beta == 0.0:
        elementwise = size
    else:
        b = diff.dtype.type(beta)
        elementwise = np.where(size < b, 0.5 * diff * diff / b, size - 0.5 * b)
    return _reduce(elementwise, reduction, diff.size), RegressionCache(diff, reduction, beta)


smooth_l1_loss = _public(_smooth_l1_loss, "smooth_l1_loss")


def smooth_l1_loss_backward(dloss, cache: RegressionCache) -> np.ndarray:
    """Gradient of ``smooth_l1_loss``: ``clip(d / beta, -1, 1) g`` (``sign(d) g`` for beta 0), input's shape."""
    diff = cache.diff
    g = _pointwise_upstream(dloss, cache.reduction, diff.shape, diff.dtype, "smooth_l1_loss_backward")
    if cache.param == 0.0:
        return np.sign(diff) * g
    return np.clip(diff / diff.dtype.type(cache.param), -1, 1) * g


def _huber_loss(input, target, *, reduction: str = "mean", delta: float = 1.0, where: str):
    """Huber loss, as ``torch.nn.functional.huber_loss``.

    With ``d = x - y``: ``0.5 d**2`` where ``|d| < delta``, else
    ``delta (|d| - 0.5 delta)`` (smooth L1 scaled by ``delta``).


    Parameters
    ----------
    delta : float > 0

    Cache: ``RegressionCache``.
    """
    delta = _check_delta(delta, where)
    diff, reduction = _regression_inputs(input, target, reduction, where)
    size = np.abs(diff)
    d = diff.dtype.type(delta)
    elementwise = np.where(size < d, 0.5 * diff * diff, d * (size - 0.5 * d))
    return _reduce(elementwise, reduction, diff.size), RegressionCache(diff, reduction, delta)


huber_loss = _public(_huber_loss, "huber_loss")


def huber_loss_backward(dloss, cache: RegressionCache) -> np.ndarray:
    """Gradient of ``huber_loss``: ``clip(d, -delta, delta) g``, input's shape."""
    diff = cache.diff
    g = _pointwise_upstream(dloss, cache.reduction, diff.shape, diff.dtype, "huber_loss_backward")
    return np.clip(diff, -cache.param, cache.param).astype(diff.dtype, copy=False) * g


# ---------------------------------------------------------------------- binary cross-entropy

class BCECache(NamedTuple):
    """What ``binary_cross_entropy_backward`` needs."""

    input: np.ndarray
    target: np.ndarray
    weight: np.ndarray | None   # broadcast to the input's shape
    reduction: str


def _check_unit_interval(a: np.ndarray, what: str, where: str) -> None:
    outside = ~((a >= 0) & (a <= 1))  # also catches nan
    if np.any(outside):
        position = _first_position(outside)
        raise ValueError(f"{where}: {what}{_index_str(position)} = {float(a[position])} is outside [0, 1] "
                         f"({what} must be probabilities)")


def _binary_cross_entropy(input, target, weight=None, *, reduction: str = "mean", where: str):
    """Binary cross-entropy of probabilities, as ``torch.nn.functional.binary_cross_entropy``.

    ``loss = -w * (y * log(x) + (1 - y) * log(1 - x))`` with each log
    clamped to >= -100 (as PyTorch does), so ``x = 0`` or ``1`` gives a loss
    of at most 100 instead of inf.

    Parameters
    ----------
    input : ndarray, any shape, values in [0, 1]
        Probabilities (e.g. a sigmoid output).
    target : ndarray, the input's shape, values in [0, 1]
    weight : ndarray, broadcastable to the input's shape, optional
    reduction : {"mean", "sum", "none"}
        ``"mean"`` divides by the number of elements (not by the weights).

    Cache: ``BCECache``.
    """
    x = as_float_array(input, where)
    reduction = check_reduction(reduction, where)
    y = _float_target(target, x, where)
    _check_unit_interval(x, "input", where)
    _check_unit_interval(y, "target", where)
    w = _broadcast_weight(weight, x, where)
    with np.errstate(divide="ignore"):  # log(0) = -inf, clamped right away
        log_x = np.maximum(np.log(x), -100)
        log_1mx = np.maximum(np.log1p(-x), -100)
    elementwise = (y - 1) * log_1mx - y * log_x
    if w is not None:
        elementwise = elementwise * w
    return _reduce(elementwise, reduction, x.size), BCECache(x, y, w, reduction)


binary_cross_entropy = _public(_binary_cross_entropy, "binary_cross_entropy")


def binary_cross_entropy_backward(dloss, cache: BCECache) -> np.ndarray:
    """Gradient of ``binary_cross_entropy`` w.r.t. its input.

    ``w g (x - y) / max(x (1 - x), 1e-12)`` (PyTorch's formula; the 1e-12
    keeps it finite at x = 0 or 1), input's shape.
    """
    x, y = cache.input, cache.target
    g = _pointwise_upstream(dloss, cache.reduction, x.shape, x.dtype, "binary_cross_entropy_backward")
    dx = (x - y) / np.maximum((1 - x) * x, x.dtype.type(_BCE_EPS)) * g
    return dx if cache.weight is None else dx * cache.weight


class BCEWithLogitsCache(NamedTuple):
    """What ``binary_cross_entropy_with_logits_backward`` needs."""

    input: np.ndarray
    target: np.ndarray
    weight: np.ndarray | None       # broadcast to the input's shape
    pos_weight: np.ndarray | None   # broadcast to the input's shape
    reduction: str


def _sigmoid_and_log_sigmoid(x: np.ndarray):
    """``sigmoid(x)`` and ``log(sigmoid(x))`` without overflow for any ``x``.

    With ``e = exp(-|x|)`` (never more than 1): ``log sigmoid(x) =
    min(x, 0) - log1p(e)``, and ``sigmoid(x)`` is ``1 / (1 + e)`` for x >= 0
    and ``e / (1 + e)`` for x < 0.
    """
    e = np.exp(-np.abs(x))
    sigmoid = np.where(x >= 0, 1, e) / (1 + e)
    return sigmoid.astype(x.dtype, copy=False), np.minimum(x, 0) - np.log1p(e)


def _binary_cross_entropy_with_logits(input, target, weight=None, *, reduction: str = "mean", pos_weight=None,
                                     where: str):
    """Sigmoid + binary cross-entropy in one stable step, as PyTorch's.

    ``loss = -w * (p * y * log sigmoid(x) + (1 - y) * log(1 - sigmoid(x)))``
    with ``p`` the positive-class weight, computed as
    ``(1 - y) x - (1 + (p - 1) y) log sigmoid(x)`` (using
    ``log(1 - sigmoid(x)) = log sigmoid(x) - x``), which never overflows.

    Parameters
    ----------
    input : ndarray, any shape
        Logits.
    target : ndarray, the input's shape
        Usually in [0, 1] (not checked, as in PyTorch).
    weight : ndarray, broadcastable to the input's shape, optional
    reduction : {"mean", "sum", "none"}
        ``"mean"`` divides by the number of elements.
    pos_weight : ndarray, broadcastable to the input's shape, optional
        Weight of the positive term, typically one per class, shape (C,)
        for an (N, C) input.

    Cache: ``BCEWithLogitsCache``.
    """
    x = as_float_array(input, where)
    reduction = check_reduction(reduction, where)
    y = _float_target(target, x, where)
    w = _broadcast_weight(weight, x, where)
    pw = _broadcast_weight(pos_weight, x, where, "pos_weight")
    _, log_sig = _sigmoid_and_log_sigmoid(x)
    log_weight = 1 if pw is None else 1 + (pw - 1) * y
    elementwise = (1 - y) * x - log_weight * log_sig
    if w is not None:
        elementwise = elementwise * w
    return _reduce(elementwise, reduction, x.size), BCEWithLogitsCache(x, y, w, pw, reduction)


binary_cross_entropy_with_logits = _public(_binary_cross_entropy_with_logits, "binary_cross_entropy_with_logits")


def binary_cross_entropy_with_logits_backward(dloss, cache: BCEWithLogitsCache) -> np.ndarray:
    """Gradient w.r.t. the logits: ``w g ((1 + (p - 1) y) sigmoid(x) - p y)``, input's shape.

    Without ``pos_weight`` (p = 1) this is ``w g (sigmoid(x) - y)``.
    """
    x, y, pw = cache.input, cache.target, cache.pos_weight
    g = _pointwise_upstream(dloss, cache.reduction, x.shape, x.dtype, "binary_cross_entropy_with_logits_backward")
    sig, _ = _sigmoid_and_log_sigmoid(x)
    local = sig - y if pw is None else (pw * y + 1 - y) * sig - pw * y
    dx = local * g
    return dx if cache.weight is None else dx * cache.weight


# ---------------------------------------------------------------------- KL divergence

class KLDivCache(NamedTuple):
    """What ``kl_div_backward`` needs."""

    target: np.ndarray
    log_target: bool
    reduction: str
    divisor: int      # what "mean" / "batchmean" divide by


def _kl_div(input, target, *, reduction: str = "mean", log_target: bool = False, where: str):
    """Kullback-Leibler divergence, as ``torch.nn.functional.kl_div``.

    ``input`` holds log-probabilities ``log q``; the target holds
    probabilities ``p`` (or ``log p`` with ``log_target=True``). Per element:
    ``p * (log p - log q)``, where a target of exactly 0 contributes 0
    (``0 log 0 = 0``), and with ``log_target`` ``exp(t) * (t - log q)``.

    ``"batchmean"`` (sum / batch size, the mathematical KL divergence per
    sample) is usually what you want; ``"mean"`` divides by the number of
    elements, which PyTorch keeps (with a warning) for compatibility.

    Parameters
    ----------
    input : ndarray, any shape (batch first)
        Log-probabilities.
    target : ndarray, the input's shape
    reduction : {"mean", "batchmean", "sum", "none"}
    log_target : bool

    Cache: ``KLDivCache``.
    """
    x = as_float_array(input, where)
    reduction = check_reduction(reduction, where, allow_batchmean=True)
    log_target = check_flag(log_target, where, "log_target")
    t = _float_target(target, x, where)
    if log_target:
        elementwise = np.exp(t) * (t - x)
    else:
        # xlogy(t, t): t * log(t) with 0 * log 0 = 0; a negative target gives nan, as in PyTorch
        with np.errstate(divide="ignore", invalid="ignore"):
            t_log_t = np.where(t == 0, 0, t * np.log(np.where(t == 0, 1, t)))
        elementwise = t_log_t - t * x
    divisor = (x.shape[0] if x.ndim else 1) if reduction == "batchmean" else x.size
    loss = _reduce(elementwise, "mean" if reduction == "batchmean" else reduction, divisor)
    return loss, KLDivCache(t, bool(log_target), reduction, divisor)


kl_div = _public(_kl_div, "kl_div")


def kl_div_backward(dloss, cache: KLDivCache) -> np.ndarray:
    """Gradient of ``kl_div`` w.r.t. its input: ``-p g`` (``-exp(t) g`` with ``log_target``), input's shape."""
    t = cache.target
    g = _pointwise_upstream(dloss, cache.reduction, t.shape, t.dtype, "kl_div_backward", cache.divisor)
    p = np.exp(t) if cache.log_target else t
    return -p * g
