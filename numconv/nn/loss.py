"""Loss layers: ``criterion(prediction, target)`` and ``criterion.backward()``.

A loss layer is where backpropagation starts::

    loss = criterion(logits, target)   # a Python float (an ndarray for reduction="none")
    dlogits = criterion.backward()     # d loss / d logits, the logits' shape and dtype
    model.backward(dlogits)

``backward(grad_output)`` scales the gradient by an upstream gradient
(default 1.0, or ones of the loss's shape for ``reduction="none"``), which is
how a loss sits inside a bigger computation and how ``numconv.gradcheck``
drives it. Only the first input (the prediction) gets a gradient.

Constructor arguments, defaults and ``state_dict`` keys are PyTorch's: class
weights are buffers named ``weight`` (and ``pos_weight``), and the
deprecated ``size_average``/``reduce`` arguments still map onto
``reduction``. A loss computes in its input's dtype; a weight keeps the dtype
it was given and is cast to the input's dtype when used.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import functional as F
from ..functional import loss as _losses
from .._checks import as_float_array, check_number, shape_str
from .module import Module

__all__ = [
    "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss", "SmoothL1Loss",
    "HuberLoss", "KLDivLoss",
]


def _legacy_reduction(size_average, reduce) -> str:
    """Map PyTorch's deprecated ``size_average``/``reduce`` flags onto ``reduction``."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "none" if not reduce else ("mean" if size_average else "sum")
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
                  UserWarning, stacklevel=3)
    return reduction


class _Loss(Module):
    """Shared machinery: reduction, the forward/backward protocol, the cache.

    A subclass implements ``_loss(x, target, where) -> (loss, cache)`` by
    calling its functional op, and names that op's backward in ``_backward``.
    """

    _allow_batchmean = False

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = _legacy_reduction(size_average, reduce)
        self.reduction = F.check_reduction(reduction, type(self).__name__, self._allow_batchmean)

    def forward(self, input, target):
        """Compute the loss.

        Parameters
        ----------
        input : ndarray
            The prediction (float32 or float64); its dtype is kept.
        target : ndarray

        Returns
        -------
        float, or ndarray for ``reduction="none"``
        """
        where = type(self).__name__
        x = as_float_array(input, where)
        loss, cache = self._loss(x, target, where)
        self._keep((cache, loss.shape, loss.dtype))
        return loss if self.reduction == "none" else float(loss)

    def backward(self, *args, grad_output=None):
        """Gradient of the loss w.r.t. the first input of the last forward.

        Call it as ``criterion.backward()``: the gradient of the loss itself.
        ``criterion.backward(loss)`` (a guess from PyTorch's
        ``loss.backward()``) would scale every gradient by the loss, so a
        plain number passed positionally is refused; give a scale by keyword,
        ``backward(grad_output=0.5)``, or as an ndarray.

        Parameters
        ----------
        grad_output : float or ndarray, optional
            Upstream gradient: a scalar for reduction "mean"/"sum", an array
            of the loss's shape for "none". Default 1 (ones).

        Returns
        -------
        ndarray, the input's shape and dtype
        """
        grad_output = self._upstream(args, grad_output)
        cache, loss_shape, dtype = self._take()
        if grad_output is None:
            grad_output = np.ones(loss_shape, dtype=dtype)
        elif np.shape(grad_output) != loss_shape:
            raise ValueError(
                f"{type(self).__name__}.backward: expected grad_output of the loss's shape {shape_str(loss_shape)} "
                f"(reduction={self.reduction!r}), got shape {shape_str(np.shape(grad_output))}"
            )
        return type(self)._backward(grad_output, cache)

    def _upstream(self, args, grad_output):
        """The upstream gradient from ``backward``'s arguments; a positional plain number is refused."""
        where = f"{type(self).__name__}.backward"
        if len(args) > 1 or (args and grad_output is not None):
            raise TypeError(f"{where}: takes one upstream gradient, got {len(args) + (grad_output is not None)}")
        if not args:
            return grad_output
        value = args[0]
        if type(value) in (bool, int, float):  # what the forward returns: the loss itself, passed back by mistake
            raise TypeError(
                f"{where}({value!r}): backward takes the upstream gradient, not the loss; call {where}() for the "
                f"gradient of the loss itself (passing the loss would scale every gradient by it), or "
                f"{where}(grad_output={value!r}) if you mean to scale it"
            )
        return value

    def _loss(self, x, target, where):
        raise NotImplementedError


class _WeightedLoss(_Loss):
    """A loss with an optional ``weight`` buffer (``None`` is not saved in ``state_dict``)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        if weight is not None:
            weight = as_float_array(weight, type(self).__name__, "weight")
        self.register_buffer("weight", weight)


def _check_ignore_index(ignore_index, where: str) -> int:
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"{where}: expected ignore_index to be an int, got {ignore_index!r}")
    return int(ignore_index)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy from logits, as ``torch.nn.CrossEntropyLoss``.

    See ``numconv.functional.cross_entropy`` for the exact formula (class
    weights, ``ignore_index``, label smoothing, probability targets).

    Parameters
    ----------
    weight : ndarray, shape (C,), optional
        A weight per class; kept as the buffer ``weight``.
    size_average, reduce : deprecated, use ``reduction``
    ignore_index : int
        Class-index target value that is skipped (default -100).
    reduction : {"mean", "sum", "none"}
    label_smoothing : float in [0, 1]

    Shapes
    ------
    input (N, C), (C,) or (N, C, d1, ...); target: integer class indices
    (N,), () or (N, d1, ...), or float probabilities of the input's shape.
    Output: a float, or for "none" an array of the target's (index) shape.
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = _check_ignore_index(ignore_index, "CrossEntropyLoss")
        smoothing = check_number(label_smoothing, "CrossEntropyLoss", "label_smoothing")
        if not 0.0 <= smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
        self.label_smoothing = smoothing

    def _loss(self, x, target, where):
        return _losses._cross_entropy(x, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing, where=where)

    _backward = staticmethod(F.cross_entropy_backward)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities, as ``torch.nn.NLLLoss``.

    Use it after a ``LogSoftmax`` (``CrossEntropyLoss`` does both at once).

    Parameters
    ----------
    weight : ndarray, shape (C,), optional
    size_average, reduce : deprecated, use ``reduction``
    ignore_index : int
    reduction : {"mean", "sum", "none"}

    Shapes
    ------
    input (N, C), (C,) or (N, C, d1, ...); target integer (N,), () or (N, d1, ...).
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = _check_ignore_index(ignore_index, "NLLLoss")

    def _loss(self, x, target, where):
        return _losses._nll_loss(x, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
                          where=where)

    _backward = staticmethod(F.nll_loss_backward)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1], as ``torch.nn.BCELoss``.

    Each log is clamped to >= -100, as in PyTorch.

    Parameters
    ----------
    weight : ndarray, broadcastable to the input's shape, optional
    size_average, reduce : deprecated, use ``reduction``
    reduction : {"mean", "sum", "none"}

    Shapes
    ------
    input (*) with values in [0, 1]; target (*), the same shape, in [0, 1].
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)

    def _loss(self, x, target, where):
        return _losses._binary_cross_entropy(x, target, self.weight, reduction=self.reduction, where=where)

    _backward = staticmethod(F.binary_cross_entropy_backward)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy, stable for any logit, as ``torch.nn.BCEWithLogitsLoss``.

    Parameters
    ----------
    weight : ndarray, broadcastable to the input's shape, optional
        Kept as the buffer ``weight``.
    size_average, reduce : deprecated, use ``reduction``
    reduction : {"mean", "sum", "none"}
    pos_weight : ndarray, broadcastable to the input's shape, optional
        Weight of the positive examples, usually one per class (C,); kept
        as the buffer ``pos_weight``.

    Shapes
    ------
    input (*) logits; target (*), the same shape.
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        if weight is not None:
            weight = as_float_array(weight, "BCEWithLogitsLoss", "weight")
        if pos_weight is not None:
            pos_weight = as_float_array(pos_weight, "BCEWithLogitsLoss", "pos_weight")
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def _loss(self, x, target, where):
        return _losses._binary_cross_entropy_with_logits(x, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight, where=where)

    _backward = staticmethod(F.binary_cross_entropy_with_logits_backward)


class MSELoss(_Loss):
    """Mean squared error ``(x - y)**2``, as ``torch.nn.MSELoss``.

    Parameters
    ----------
    size_average, reduce : deprecated, use ``reduction``
    reduction : {"mean", "sum", "none"}

    Shapes
    ------
    input (*); target (*), the same shape.
    """

    def _loss(self, x, target, where):
        return _losses._mse_loss(x, target, reduction=self.reduction, where=where)

    _backward = staticmethod(F.mse_loss_backward)


class L1Loss(_Loss):
    """Mean absolute error ``|x - y|``, as ``torch.nn.L1Loss`` (gradient 0 where x == y).

    Parameters
    ----------
    size_average, reduce : deprecated, use ``reduction``
    reduction : {"mean", "sum", "none"}

    Shapes
    ------
    input (*); target (*), the same shape.
    """

    def _loss(self, x, target, where):
        return _losses._l1_loss(x, target, reduction=self.reduction, where=where)

    _backward = staticmethod(F.l1_loss_backward)


class SmoothL1Loss(_Loss):
    """Smooth L1 loss, as ``torch.nn.SmoothL1Loss``: quadratic below ``beta``, linear above.

    Parameters
    ----------
    size_average, reduce : deprecated, use ``reduction``
    reduction : {"mean", "sum", "none"}
    beta : float >= 0
        Where the loss turns from quadratic to linear; 0 gives the L1 loss.

    Shapes
    ------
    input (*); target (*), the same shape.
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        beta = check_number(beta, "SmoothL1Loss", "beta")
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta}")
        self.beta = beta

    def _loss(self, x, target, where):
        return _losses._smooth_l1_loss(x, target, reduction=self.reduction, beta=self.beta, where=where)

    _backward = staticmethod(F.smooth_l1_loss_backward)


class HuberLoss(_Loss):
    """Huber loss, as ``torch.nn.HuberLoss``: quadratic below ``delta``, linear (slope ``delta``) above.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}
    delta : float > 0

    Shapes
    ------
    input (*); target (*), the same shape.
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        delta = check_number(delta, "HuberLoss", "delta")
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta}")
        self.delta = delta

    def _loss(self, x, target, where):
        return _losses._huber_loss(x, target, reduction=self.reduction, delta=self.delta, where=where)

    _backward = staticmethod(F.huber_loss_backward)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of log-probabilities, as ``torch.nn.KLDivLoss``.

    Parameters
    ----------
    size_average, reduce : deprecated, use ``reduction``
    reduction : {"mean", "batchmean", "sum", "none"}
        "batchmean" gives the true KL divergence per sample; "mean" (the
        default, as in PyTorch) divides by the number of elements.
    log_target : bool
        The target holds log-probabilities instead of probabilities.

    Shapes
    ------
    input (*) log-probabilities; target (*), the same shape.
    """

    _allow_batchmean = True

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
        super().__init__(size_average, reduce, reduction)
        if not isinstance(log_target, (bool, np.bool_)):
            raise TypeError(f"KLDivLoss: expected log_target to be a bool, got {log_target!r}")
        self.log_target = bool(log_target)

    def _loss(self, x, target, where):
        return _losses._kl_div(x, target, reduction=self.reduction, log_target=self.log_target, where=where)

    _backward = staticmethod(F.kl_div_backward)
