"""Loss functions: the number a network is trained to make small.

Every loss is a pair, like every other op::

    loss, cache = cross_entropy(logits, target)      # forward
    dlogits = cross_entropy_backward(dloss, cache)   # backward

``loss`` is a 0-d array for ``reduction="mean"`` or ``"sum"`` and one value
per sample (or per element) for ``reduction="none"``; ``dloss`` has the same
shape (a Python float is fine for a scalar loss). The backward pass returns
the gradient with respect to the *first* input only (logits, probabilities,
predictions): targets and weights are constants of the loss.

The semantics, including the corner cases (ignored targets, label smoothing
with class weights, BCE's log clamp, the sub-gradient of ``|x|`` at 0), are
PyTorch's. Every op keeps its input's dtype; weights and float targets are
cast to it.

Two families: this module and ``loss_pointwise.py``.

- *classification over an axis of classes* (``cross_entropy``, ``nll_loss``):
  the class axis is axis 1 of (N, C) or (N, C, d1, d2, ...) inputs, axis 0 of
  an unbatched (C,) input. Internally the input is laid out as rows, one row
  of C scores per sample and position, so the math is written once for 2-D.
- *pointwise losses* (``mse_loss``, ``binary_cross_entropy``, ``kl_div``, ...):
  one loss per element of an input and a same-shape target, then a reduction.
"""

from __future__ import annotations

import inspect
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, check_number, shape_str

__all__ = [
    "cross_entropy", "cross_entropy_backward", "CrossEntropyCache",
    "nll_loss", "nll_loss_backward", "NLLLossCache", "check_reduction",
]

REDUCTIONS = ("none", "mean", "sum")


# ====================================================================== shared checks

def check_reduction(reduction, where: str, allow_batchmean: bool = False) -> str:
    """Return ``reduction`` if it is one of PyTorch's strings, else raise.

    ``"batchmean"`` (sum divided by the batch size) exists only for ``kl_div``.
    """
    allowed = REDUCTIONS + (("batchmean",) if allow_batchmean else ())
    if not isinstance(reduction, str):
        raise TypeError(f"{where}: expected reduction to be a string, got {type(reduction).__name__}")
    if reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed)
        raise ValueError(f"{where}: reduction must be one of {names}, got {reduction!r}")
    return reduction


def _public(op, name: str):
    """The public loss ``name``: ``op`` without its ``where`` argument, its errors starting with ``name``.

    Each loss is written once, as ``_op(..., where)``; the ``nn`` layers call
    that with their own name (``MSELoss: ...``), the public op with its own.
    """
    def public(*args, **kwargs):
        return op(*args, **kwargs, where=name)

    signature = inspect.signature(op)
    public.__signature__ = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != "where"])
    public.__name__ = public.__qualname__ = name
    public.__doc__, public.__module__ = op.__doc__, op.__module__
    return public


def _index_str(index) -> str:
    """``(3,)`` -> ``"[3]"``, ``(0, 2)`` -> ``"[0, 2]"``, ``()`` -> ``""``."""
    return "[" + ", ".join(str(int(i)) for i in index) + "]" if len(index) else ""


def _first_position(mask: np.ndarray) -> tuple:
    """Index (a tuple) of the first True element of ``mask``."""
    return tuple(np.argwhere(mask)[0]) if mask.ndim else ()


def _reduce(elementwise: np.ndarray, reduction: str, divisor) -> np.ndarray:
    """Sum the per-element losses, divided by ``divisor`` for a mean.

    A mean over nothing is 0 / 0 = nan, as in PyTorch, so the warning NumPy
    would print for it is silenced.
    """
    if reduction == "none":
        return elementwise
    total = elementwise.sum()
    if reduction != "sum":
        with np.errstate(invalid="ignore", divide="ignore"):
            total = total / elementwise.dtype.type(divisor)
    return np.asarray(total, dtype=elementwise.dtype)


def _upstream(dloss, reduction: str, loss_shape: tuple, dtype, where: str):
    """Check the upstream gradient against the loss's shape; return it as an array of ``dtype``."""
    dloss = np.asarray(dloss)
    if dloss.dtype.kind not in "fiu" or dloss.dtype == np.bool_:
        raise TypeError(f"{where}: expected a numeric upstream gradient, got dtype {dloss.dtype}")
    expected = loss_shape if reduction == "none" else ()
    if dloss.shape != expected:
        kind = "per-element" if reduction == "none" else "scalar"
        raise ValueError(
            f"{where}: expected an upstream gradient of the {kind} loss's shape {shape_str(expected)} "
            f"(reduction={reduction!r}), got shape {shape_str(dloss.shape)}"
        )
    return dloss.astype(dtype, copy=False)


# ====================================================================== classification: rows of class scores

def _class_layout(x: np.ndarray, where: str) -> tuple:
    """Return ``(rows, n_classes, loss_shape)`` for a classification input.

    ``rows`` has shape (M, C): row i holds the C class scores of one sample
    (and one position, for (N, C, d1, ...) inputs). ``loss_shape`` is the
    input's shape without the class axis: the shape of the target and of a
    ``reduction="none"`` loss.
    """
    if x.ndim == 0:
        raise ValueError(f"{where}: expected input of shape (C,), (N, C) or (N, C, d1, ...), got a 0-D input")
    n_classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    if n_classes == 0:
        raise ValueError(f"{where}: expected at least one class, got input of shape {shape_str(x.shape)}")
    if x.ndim == 1:  # unbatched: one sample of C scores
        return x[None, :], n_classes, ()
    loss_shape = x.shape[:1] + x.shape[2:]
    # (N, C, d1, ...) -> (N, d1, ..., C) -> (M, C); row order matches target.reshape(-1)
    rows = np.moveaxis(x, 1, -1).reshape(-1, n_classes)
    return rows, n_classes, loss_shape


def _unrows(rows: np.ndarray, input_shape: tuple) -> np.ndarray:
    """Inverse of ``_class_layout``: (M, C) rows back to the input's layout."""
    if len(input_shape) == 1:
        return rows[0]
    moved = input_shape[:1] + input_shape[2:] + input_shape[1:2]
    return np.ascontiguousarray(np.moveaxis(rows.reshape(moved), -1, 1))


def _class_weight(weight, n_classes: int, dtype, where: str):
    """The per-class weight as a (C,) array of ``dtype`` (or None)."""
    if weight is None:
        return None
    weight = as_float_array(weight, where, "weight")
    if weight.shape != (n_classes,):
        raise ValueError(
            f"{where}: expected weight of shape ({n_classes},), one per class, got weight of shape "
            f"{shape_str(weight.shape)}"
        )
    return weight.astype(dtype, copy=False)


def _class_index_target(target, loss_shape: tuple, input_shape: tuple, n_classes: int, ignore_index: int,
                        where: str) -> np.ndarray:
    """Check class-index targets and return them flattened to (M,) int64.

    Every entry must lie in ``[0, n_classes)`` or equal ``ignore_index``.
    """
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"{where}: expected class-index targets of an integer dtype, got {target.dtype}"
        )
    if target.shape != loss_shape:
        raise ValueError(
            f"{where}: expected target of shape {shape_str(loss_shape)} for input of shape "
            f"{shape_str(input_shape)}, got target of shape {shape_str(target.shape)}"
        )
    target = target.astype(np.int64, copy=False)
    bad = ((target < 0) | (target >= n_classes)) & (target != ignore_index)
    if np.any(bad):
        position = _first_position(bad)
        value = int(target[position])
        raise ValueError(
            f"{where}: target{_index_str(position)} = {value} is out of range for {n_classes} classes "
            f"(expected 0 <= target < {n_classes}, or ignore_index={ignore_index})"
        )
    return target.reshape(-1)


def _as_target_array(target, where: str) -> np.ndarray:
    if isinstance(target, np.ndarray):
        array = target
    elif isinstance(target, (int, float, np.generic, list, tuple)) and not isinstance(target, bool):
        array = np.asarray(target)
    else:
        raise TypeError(f"{where}: expected target to be a NumPy array, got {type(target).__name__}")
    if array.dtype == np.bool_ or array.dtype.kind not in "iuf":
        raise TypeError(f"{where}: expected target of an integer (class indices) or float (probabilities) dtype, "
                        f"got {array.dtype}")
    return array


def _check_ignore_index(ignore_index, where: str, name: str = "ignore_index") -> int:
    """``ignore_index`` as an int (any int: a negative one never matches a class); ``nn`` losses check with it."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"{where}: expected {name} to be an int, got {ignore_index!r}")
    return int(ignore_index)


def _check_label_smoothing(label_smoothing, where: str, name: str = "label_smoothing") -> float:
    """``label_smoothing`` as a float in [0, 1]; ``nn.CrossEntropyLoss`` checks with it too."""
    smoothing = check_number(label_smoothing, where, name)
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"{where}: {name} must be between 0.0 and 1.0, got {label_smoothing}")
    return smoothing


class _IndexTarget(NamedTuple):
    """Class-index targets laid out as rows (shared by NLL and cross-entropy)."""

    index: np.ndarray         # (M,) int64 class of each row; ignored rows point at class 0
    keep: np.ndarray          # (M,) bool, False where the target equals ignore_index
    weight: np.ndarray        # (M,) weight[target] on kept rows (1 without class weights), 0 on ignored rows
    denominator: np.ndarray   # 0-d: what reduction="mean" divides by, the sum of ``weight``


def _index_target(target, loss_shape, input_shape, n_classes, class_weight, ignore_index, dtype, where):
    index = _class_index_target(target, loss_shape, input_shape, n_classes, ignore_index, where)
    keep = index != ignore_index
    index = np.where(keep, index, 0)  # a safe column to gather from; its weight is 0
    if class_weight is None:
        row_weight = keep.astype(dtype)
    else:
        row_weight = np.where(keep, class_weight[index], dtype.type(0))
    return _IndexTarget(index, keep, row_weight, np.asarray(row_weight.sum(), dtype=dtype))


def _row_upstream(dloss, reduction, loss_shape, n_rows, denominator, keep, dtype, where) -> np.ndarray:
    """The upstream gradient of each row's loss, shape (M,).

    For ``"mean"`` that is ``dloss / denominator``. Ignored rows get exactly
    0 (also when every row is ignored and the denominator is 0: PyTorch's
    input gradient is then all zeros, not nan).
    """
    dloss = _upstream(dloss, reduction, loss_shape, dtype, where)
    if reduction == "none":
        g = dloss.reshape(-1)
    elif reduction == "sum":
        g = np.full(n_rows, dloss, dtype=dtype)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            g = np.full(n_rows, dloss / denominator, dtype=dtype)
    return g if keep is None else np.where(keep, g, dtype.type(0))


def _log_softmax_rows(rows: np.ndarray) -> np.ndarray:
    """``log(softmax(rows))`` along axis 1, computed without overflow.

    ``log softmax(z)_c = z_c - max(z) - log(sum_k exp(z_k - max(z)))``:
    after subtracting the row maximum every exponent is <= 0, so logits of
    +-1e4 (or more) do not overflow even in float32.
    """
    shifted = rows - rows.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


# ---------------------------------------------------------------------- nll_loss

class NLLLossCache(NamedTuple):
    """What ``nll_loss_backward`` needs."""

    input_shape: tuple
    loss_shape: tuple
    target: _IndexTarget
    reduction: str
    dtype: np.dtype


def _nll_loss(input, target, weight=None, *, ignore_index: int = -100, reduction: str = "mean", where: str):
    """Negative log-likelihood of the target classes, as ``torch.nn.functional.nll_loss``.

    ``loss_i = -weight[t_i] * input[i, t_i]`` for each sample (and position)
    ``i`` whose target ``t_i`` is not ``ignore_index`` (0 for ignored ones).
    ``"mean"`` divides the sum by ``sum_i weight[t_i]`` over the samples not
    ignored (their count without weights), so it is nan when all are ignored.

    Parameters
    ----------
    input : ndarray, shape (N, C), (C,) or (N, C, d1, d2, ...)
        Log-probabilities (e.g. the output of a log-softmax).
    target : integer ndarray, shape (N,), () or (N, d1, d2, ...)
        Class indices in ``[0, C)``, or ``ignore_index``.
    weight : ndarray, shape (C,), optional
        A weight per class (negative weights are allowed, as in PyTorch).
    ignore_index : int
        Target value that contributes neither loss nor gradient.
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    loss : ndarray, shape () or, for ``"none"``, the target's shape
    cache : NLLLossCache
    """
    x = as_float_array(input, where)
    reduction = check_reduction(reduction, where)
    ignore_index = _check_ignore_index(ignore_index, where)
    rows, n_classes, loss_shape = _class_layout(x, where)
    class_weight = _class_weight(weight, n_classes, x.dtype, where)
    tgt = _index_target(_as_target_array(target, where), loss_shape, x.shape, n_classes, class_weight,
                        ignore_index, x.dtype, where)
    picked = np.take_along_axis(rows, tgt.index[:, None], axis=1)[:, 0]
    # where(), not a product with the 0 weight, so an ignored row is 0 even if its input is inf
    per_row = np.where(tgt.keep, -tgt.weight * picked, x.dtype.type(0))
    loss = _reduce(per_row.reshape(loss_shape), reduction, tgt.denominator)
    return loss, NLLLossCache(x.shape, loss_shape, tgt, reduction, x.dtype)


nll_loss = _public(_nll_loss, "nll_loss")


def nll_loss_backward(dloss, cache: NLLLossCache) -> np.ndarray:
    """Gradient of ``nll_loss`` w.r.t. its input, the input's shape (``dloss``: the loss's shape).

    Zero everywhere except ``dinput[i, t_i] = -weight[t_i] * g_i``, with
    ``g_i`` the upstream gradient of row ``i`` (divided by the weight sum for
    ``"mean"``).
    """
    tgt = cache.target
    n_rows = tgt.index.shape[0]
    g = _row_upstream(dloss, cache.reduction, cache.loss_shape, n_rows, tgt.denominator, tgt.keep,
                      cache.dtype, "nll_loss_backward")
    n_classes = cache.input_shape[1] if len(cache.input_shape) > 1 else cache.input_shape[0]
    drows = np.zeros((n_rows, n_classes), dtype=cache.dtype)
    drows[np.arange(n_rows), tgt.index] = -tgt.weight * g
    return _unrows(drows, cache.input_shape)


# ---------------------------------------------------------------------- cross_entropy

class CrossEntropyCache(NamedTuple):
    """What ``cross_entropy_backward`` needs.

    The loss of row ``i`` is ``-sum_c T[i, c] * log_softmax(z_i)_c`` for a
    matrix of *target weights* ``T``; its gradient w.r.t. the logits is
    ``g_i * (softmax(z_i) * sum_c T[i, c] - T[i])``. ``T`` is kept sparse
    for class-index targets (a one-hot part ``index``/``target.weight`` plus
    a label-smoothing row ``smooth`` shared by every kept row) and dense for
    probability targets.
    """

    input_shape: tuple
    loss_shape: tuple
    probs: np.ndarray                  # (M, C) softmax of each row of logits
    target: _IndexTarget | None        # class-index targets (None for probabilities)
    one_hot_scale: float               # 1 - label_smoothing: scale of the one-hot part
    smooth: np.ndarray | None          # (C,) label_smoothing / C * weight, or None
    dense: np.ndarray | None           # (M, C) target weights for probability targets
    reduction: str
    denominator: np.ndarray            # 0-d: what "mean" divides by
    dtype: np.dtype


def _cross_entropy(input, target, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0, where: str):
    """Softmax cross-entropy from logits, as ``torch.nn.functional.cross_entropy``.

    With ``p = log_softmax(input)`` over the class axis, ``C`` classes,
    ``w`` the class weights (all 1 if not given) and ``e`` the label
    smoothing, the loss of sample (and position) ``i`` is

    * class-index target ``t_i``:
      ``-(1 - e) * w[t_i] * p[i, t_i] - (e / C) * sum_c w[c] * p[i, c]``,
      0 if ``t_i == ignore_index``. ``"mean"`` divides the sum by
      ``sum_i w[t_i]`` over the samples not ignored (nan if all are ignored);
      the smoothing term is weighted and divided in the same way.
    * probability target ``q_i`` (a float target of the input's shape):
      ``-sum_c w[c] * ((1 - e) * q[i, c] + e / C) * p[i, c]``.
      ``"mean"`` divides by the number of samples and positions (not by the
      weights). ``ignore_index`` must be negative (it cannot apply).

    The log-softmax subtracts each row's maximum first, so logits of
    +-1e4 do not overflow, even in float32.

    Parameters
    ----------
    input : ndarray, shape (N, C), (C,) or (N, C, d1, d2, ...)
        Unnormalised scores (logits).
    target : ndarray
        Integer class indices of shape (N,), () or (N, d1, d2, ...), or float
        class probabilities of the input's shape.
    weight : ndarray, shape (C,), optional
        A weight per class (negative weights are allowed, as in PyTorch).
    ignore_index : int
        Class-index target value that contributes neither loss nor gradient.
    reduction : {"mean", "sum", "none"}
    label_smoothing : float in [0, 1]
        Mixes the target with the uniform distribution over the classes.

    Returns
    -------
    loss : ndarray, shape () or, for ``"none"``, (N,), () or (N, d1, d2, ...)
    cache : CrossEntropyCache
    """
    x = as_float_array(input, where)
    reduction = check_reduction(reduction, where)
    ignore_index = _check_ignore_index(ignore_index, where)
    smoothing = _check_label_smoothing(label_smoothing, where)
    rows, n_classes, loss_shape = _class_layout(x, where)
    class_weight = _class_weight(weight, n_classes, x.dtype, where)
    target = _as_target_array(target, where)
    log_p = _log_softmax_rows(rows)
    dtype = x.dtype.type

    if target.dtype.kind == "f":  # class probabilities
        if target.shape != x.shape:
            raise TypeError(
                f"{where}: a float target is read as class probabilities and must have the input's shape "
                f"{shape_str(x.shape)}, got {shape_str(target.shape)}; class indices must be an integer array"
            )
        if ignore_index >= 0:
            raise ValueError(
                f"{where}: ignore_index={ignore_index} is not supported for class-probability (float) targets"
            )
        dense, _, _ = _class_layout(target.astype(x.dtype, copy=False), where)
        dense = dense * dtype(1.0 - smoothing) + dtype(smoothing / n_classes)
        if class_weight is not None:
            dense = dense * class_weight
        per_row = -(dense * log_p).sum(axis=1)
        denominator = np.asarray(rows.shape[0], dtype=x.dtype)
        tgt, smooth = None, None
    else:  # class indices
        if target.shape == x.shape:
            raise TypeError(
                f"{where}: a target of the input's shape {shape_str(x.shape)} is read as class probabilities "
                f"and must be float, got {target.dtype}"
            )
        tgt = _index_target(target, loss_shape, x.shape, n_classes, class_weight, ignore_index, x.dtype, where)
        picked = np.take_along_axis(log_p, tgt.index[:, None], axis=1)[:, 0]
        per_row = -dtype(1.0 - smoothing) * tgt.weight * picked
        smooth = None
        if smoothing > 0:
            smooth = np.full(n_classes, smoothing / n_classes, dtype=x.dtype)
            if class_weight is not None:
                smooth = smooth * class_weight
            per_row = per_row - (log_p @ smooth)
        per_row = np.where(tgt.keep, per_row, dtype(0))
        denominator, dense = tgt.denominator, None

    loss = _reduce(per_row.reshape(loss_shape), reduction, denominator)
    cache = CrossEntropyCache(x.shape, loss_shape, np.exp(log_p), tgt, 1.0 - smoothing, smooth, dense,
                              reduction, denominator, x.dtype)
    return loss, cache


cross_entropy = _public(_cross_entropy, "cross_entropy")


def cross_entropy_backward(dloss, cache: CrossEntropyCache) -> np.ndarray:
    """Gradient of ``cross_entropy`` w.r.t. the logits, the input's shape (``dloss``: the loss's shape).

    Row by row ``g_i * (softmax(z_i) * sum_c T[i, c] - T[i])`` (see
    ``CrossEntropyCache``); without weights or smoothing this is the familiar
    ``g_i * (softmax(z_i) - onehot(t_i))``.
    """
    probs, tgt, dtype = cache.probs, cache.target, cache.dtype
    n_rows = probs.shape[0]
    keep = None if tgt is None else tgt.keep
    g = _row_upstream(dloss, cache.reduction, cache.loss_shape, n_rows, cache.denominator, keep, dtype,
                      "cross_entropy_backward")
    # d loss / d log_softmax = -g_i * T[i]; build it, then go back through the log-softmax:
    # dz = dlogp - softmax * sum(dlogp)
    if tgt is None:
        dlog_p = -g[:, None] * cache.dense
    else:
        dlog_p = np.zeros_like(probs)
        dlog_p[np.arange(n_rows), tgt.index] = -dtype.type(cache.one_hot_scale) * tgt.weight * g
        if cache.smooth is not None:
            dlog_p -= g[:, None] * cache.smooth  # g is 0 on ignored rows
    drows = dlog_p - probs * dlog_p.sum(axis=1, keepdims=True)
    return _unrows(drows, cache.input_shape)
