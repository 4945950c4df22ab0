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

The layers come from one table: a row gives the name, the functional pair
(the private form that takes the layer's name for its errors), the
constructor's arguments in PyTorch's order with their defaults, and the
docstring. The constructor checks each argument with the functional op's
own check and stores it; ``forward`` passes them on by name.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np

from .. import functional as F
from ..functional import loss as _losses
from ..functional import loss_pointwise as _pointwise
from .._checks import as_float_array, check_flag, shape_str
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
    # stacklevel 4: this function, _Loss.__init__, the layer's __init__, then the caller's line
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
                  UserWarning, stacklevel=4)
    return reduction


# How a constructor argument is checked and stored, by name: the functional op's own checks.
_NORMALISE = {
    "ignore_index": _losses._check_ignore_index,
    "label_smoothing": _losses._check_label_smoothing,
    "beta": _pointwise._check_beta,
    "delta": _pointwise._check_delta,
    "log_target": check_flag,
}
_BUFFERS = ("weight", "pos_weight")  # kept as buffers (None is not saved in ``state_dict``)
_REDUCTION_ARGS = ("size_average", "reduce", "reduction")


class _Loss(Module):
    """Shared machinery: the constructor, reduction, the forward/backward protocol, the cache.

    A subclass is one row of the table below: ``_forward`` is the private
    functional op (it takes ``where=``, the name its errors start with),
    ``_backward`` its backward, ``_args`` the constructor arguments it takes
    by name.
    """

    # The input's gradient only: the target (labels, or floats) gets none, as a PyTorch target without grad.
    _gradient_for_first_argument_only = True

    _forward = _backward = None
    _args = ()
    _allow_batchmean = False

    def __init__(self, *args, **kwargs):
        super().__init__()
        where = type(self).__name__
        bound = inspect.signature(type(self)).bind(*args, **kwargs)
        bound.apply_defaults()
        values = bound.arguments
        reduction = values.pop("reduction")
        size_average, reduce = values.pop("size_average", None), values.pop("reduce", None)
        if size_average is not None or reduce is not None:
            reduction = _legacy_reduction(size_average, reduce)
        self.reduction = F.check_reduction(reduction, where, self._allow_batchmean)
        for name, value in values.items():
            if name in _BUFFERS:
                self.register_buffer(name, None if value is None else as_float_array(value, where, name))
            else:
                setattr(self, name, _NORMALISE[name](value, where, name))

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
        loss, cache = type(self)._forward(x, target, reduction=self.reduction, where=where,
                                          **{name: getattr(self, name) for name in self._args})
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


# The docstring lines every loss shares, by argument name; a row gives the others.
_ARG_DOCS = {
    "size_average": "size_average, reduce : deprecated, use ``reduction``",
    "reduction": 'reduction : {"mean", "sum", "none"}',
}
_SAME_SHAPE = "input (*); target (*), the same shape."


def _loss_layer(name, forward, backward, params, summary, arg_docs, shapes, allow_batchmean=False):
    """A ``_Loss`` subclass: ``params`` is ``((name, default), ...)`` in PyTorch's order.

    The docstring is ``summary``, a Parameters section (one entry per
    argument: ``arg_docs[name]``, else the shared text) and ``shapes``.
    """
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    signature = inspect.Signature([inspect.Parameter(p, kind, default=d) for p, d in params])

    def __init__(self, *args, **kwargs):  # its own function, so that inspect and interop see this signature
        _Loss.__init__(self, *args, **kwargs)
    __init__.__signature__ = inspect.Signature([inspect.Parameter("self", kind), *signature.parameters.values()])
    docs = {**_ARG_DOCS, **arg_docs}
    lines = [docs[p] for p, _ in params if p in docs]  # "reduce" is documented with "size_average"
    doc = (f"{summary}\n\n    Parameters\n    ----------\n    " + "\n    ".join(lines)
           + f"\n\n    Shapes\n    ------\n    {shapes}\n    ")
    namespace = {"__doc__": doc, "__module__": __name__, "__qualname__": name, "__signature__": signature,
                 "__init__": __init__, "_forward": staticmethod(forward), "_backward": staticmethod(backward),
                 "_args": tuple(p for p, _ in params if p not in _REDUCTION_ARGS),
                 "_allow_batchmean": allow_batchmean}
    return type(name, (_Loss,), namespace)


_WEIGHT, _SIZE_AVERAGE, _REDUCE, _REDUCTION = ("weight", None), ("size_average", None), ("reduce", None), (
    "reduction", "mean")
_LEGACY = [_SIZE_AVERAGE, _REDUCE, _REDUCTION]  # the arguments every loss but Huber starts or ends with
_CLASS_WEIGHT_DOC = "weight : ndarray, shape (C,), optional\n        A weight per class; kept as the buffer ``weight``."
_BROADCAST_WEIGHT_DOC = ("weight : ndarray, broadcastable to the input's shape, optional\n"
                         "        Kept as the buffer ``weight``.")
_IGNORE_INDEX_DOC = "ignore_index : int\n        Class-index target value that is skipped (default -100)."

# One row per loss: name, functional pair, constructor arguments (name, default), docstring parts.
CrossEntropyLoss = _loss_layer(
    "CrossEntropyLoss", _losses._cross_entropy, F.cross_entropy_backward,
    [_WEIGHT, _SIZE_AVERAGE, ("ignore_index", -100), _REDUCE, _REDUCTION, ("label_smoothing", 0.0)],
    """Softmax cross-entropy from logits, as ``torch.nn.CrossEntropyLoss``.

    See ``numconv.functional.cross_entropy`` for the exact formula (class
    weights, ``ignore_index``, label smoothing, probability targets).""",
    {"weight": _CLASS_WEIGHT_DOC, "ignore_index": _IGNORE_INDEX_DOC,
     "label_smoothing": "label_smoothing : float in [0, 1]"},
    """input (N, C), (C,) or (N, C, d1, ...); target: integer class indices
    (N,), () or (N, d1, ...), or float probabilities of the input's shape.
    Output: a float, or for "none" an array of the target's (index) shape.""")
NLLLoss = _loss_layer(
    "NLLLoss", _losses._nll_loss, F.nll_loss_backward,
    [_WEIGHT, _SIZE_AVERAGE, ("ignore_index", -100), _REDUCE, _REDUCTION],
    """Negative log-likelihood of log-probabilities, as ``torch.nn.NLLLoss``.

    Use it after a ``LogSoftmax`` (``CrossEntropyLoss`` does both at once).""",
    {"weight": _CLASS_WEIGHT_DOC, "ignore_index": _IGNORE_INDEX_DOC},
    "input (N, C), (C,) or (N, C, d1, ...); target integer (N,), () or (N, d1, ...).")
BCELoss = _loss_layer(
    "BCELoss", _pointwise._binary_cross_entropy, F.binary_cross_entropy_backward, [_WEIGHT, *_LEGACY],
    """Binary cross-entropy of probabilities in [0, 1], as ``torch.nn.BCELoss``.

    Each log is clamped to >= -100, as in PyTorch.""",
    {"weight": _BROADCAST_WEIGHT_DOC}, "input (*) with values in [0, 1]; target (*), the same shape, in [0, 1].")
BCEWithLogitsLoss = _loss_layer(
    "BCEWithLogitsLoss", _pointwise._binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits_backward,
    [_WEIGHT, *_LEGACY, ("pos_weight", None)],
    "Sigmoid + binary cross-entropy, stable for any logit, as ``torch.nn.BCEWithLogitsLoss``.",
    {"weight": _BROADCAST_WEIGHT_DOC,
     "pos_weight": """pos_weight : ndarray, broadcastable to the input's shape, optional
        Weight of the positive examples, usually one per class (C,); kept
        as the buffer ``pos_weight``."""},
    "input (*) logits; target (*), the same shape.")
MSELoss = _loss_layer(
    "MSELoss", _pointwise._mse_loss, F.mse_loss_backward, _LEGACY,
    "Mean squared error ``(x - y)**2``, as ``torch.nn.MSELoss``.", {}, _SAME_SHAPE)
L1Loss = _loss_layer(
    "L1Loss", _pointwise._l1_loss, F.l1_loss_backward, _LEGACY,
    "Mean absolute error ``|x - y|``, as ``torch.nn.L1Loss`` (gradient 0 where x == y).", {}, _SAME_SHAPE)
SmoothL1Loss = _loss_layer(
    "SmoothL1Loss", _pointwise._smooth_l1_loss, F.smooth_l1_loss_backward, [*_LEGACY, ("beta", 1.0)],
    "Smooth L1 loss, as ``torch.nn.SmoothL1Loss``: quadratic below ``beta``, linear above.",
    {"beta": "beta : float >= 0\n        Where the loss turns from quadratic to linear; 0 gives the L1 loss."},
    _SAME_SHAPE)
HuberLoss = _loss_layer(
    "HuberLoss", _pointwise._huber_loss, F.huber_loss_backward, [_REDUCTION, ("delta", 1.0)],
    "Huber loss, as ``torch.nn.HuberLoss``: quadratic below ``delta``, linear (slope ``delta``) above.",
    {"delta": "delta : float > 0"}, _SAME_SHAPE)
KLDivLoss = _loss_layer(
    "KLDivLoss", _pointwise._kl_div, F.kl_div_backward, [*_LEGACY, ("log_target", False)],
    "Kullback-Leibler divergence of log-probabilities, as ``torch.nn.KLDivLoss``.",
    {"reduction": """reduction : {"mean", "batchmean", "sum", "none"}
        "batchmean" gives the true KL divergence per sample; "mean" (the
        default, as in PyTorch) divides by the number of elements.""",
     "log_target": "log_target : bool\n        The target holds log-probabilities instead of probabilities."},
    "input (*) log-probabilities; target (*), the same shape.", allow_batchmean=True)
