"""Activation layers, made from one table over ``numconv.functional``'s activation pairs.

A row gives the name, the functional pair, the constructor's arguments with
their defaults, what the repr shows, and the docstring; the class stores its
arguments (checked, kept as given: the repr prints ``2`` for an int, as
PyTorch's does) and its ``forward`` calls the functional op. Shapes: input (*)
-> output (*), except ``Maxout``. Only ``PReLU`` has a parameter.
``inplace=True`` writes the result into the input array and returns it, as in
PyTorch (see ``numconv.nn._inplace``).
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from .. import functional as F
from .._checks import as_float_array, check_choice, check_number, check_parameters, check_positive_int, shape_str
from ..functional.activation import _celu_alpha, _hardtanh_range
from ._inplace import forward_inplace
from .module import Module
from .parameter import Parameter

__all__ = [
    "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
    "Sigmoid", "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish", "Softplus", "Softsign", "Threshold",
    "Softmax", "LogSoftmax", "Softmin", "Maxout", "Step",
]

_REQUIRED = inspect.Parameter.empty


def _dim(value, where: str, name: str):
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
        raise TypeError(f"{where}: expected dim to be an int or None, got {value!r}")
    return value


# How a constructor argument is normalised, by name (a number otherwise).
_NORMALISE = {
    "inplace": lambda value, where, name: value,
    "approximate": lambda value, where, name: check_choice(value, where, name, ("none", "tanh")),
    "dim": _dim,
    "pool_size": check_positive_int,
}
_number = functools.partial(check_number, keep=True)
# Checks that tie several arguments together, shared with the functional op.
_CHECKS = {
    "Hardtanh": lambda m: _hardtanh_range(m.min_val, m.max_val, "Hardtanh"),
    "CELU": lambda m: _celu_alpha(m.alpha, "CELU"),
}


class _Activation(Module):
    """Base of the parameter-free activations; a subclass is one row of the table below."""

    _forward = _backward = None  # the functional pair
    _args = ()  # the constructor arguments the functional op takes, in order
    _shown = ()  # the arguments extra_repr shows, in order

    def __init__(self, *args, **kwargs):
        super().__init__()
        name = type(self).__name__
        bound = inspect.signature(type(self)).bind(*args, **kwargs)
        bound.apply_defaults()
        for arg, value in bound.arguments.items():
            setattr(self, arg, _NORMALISE.get(arg, _number)(value, name, arg))
        if name in _CHECKS:
            _CHECKS[name](self)

    def _apply(self, x):
        return type(self)._forward(x, *[getattr(self, a) for a in self._args])

    def forward(self, x):
        if getattr(self, "inplace", False):
            return forward_inplace(self, x, self._apply)
        x = self._as_input(x, type(self).__name__)
        return self._output(self._apply(x))

    def backward(self, grad_output):
        return type(self)._backward(grad_output, self._take())

    def extra_repr(self) -> str:
        shown = [f"{a}={getattr(self, a)!r}" if isinstance(getattr(self, a), str) else f"{a}={getattr(self, a)}"
                 for a in self._shown if a != "inplace" or self.inplace]
        return ", ".join(shown)


def _layer(name, forward, backward, params, shown, doc):
    """A ``_Activation`` subclass: ``params`` is ``((name, default), ...)``, ``shown`` what its repr prints."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    signature = inspect.Signature([inspect.Parameter(p, kind, default=d) for p, d in params])

    def __init__(self, *args, **kwargs):  # its own function, so that interop sees this signature
        _Activation.__init__(self, *args, **kwargs)
    __init__.__signature__ = inspect.Signature([inspect.Parameter("self", kind), *signature.parameters.values()])
    namespace = {"__doc__": doc, "__module__": __name__, "__signature__": signature, "__init__": __init__,
                 "_forward": staticmethod(forward), "_backward": staticmethod(backward), "_shown": shown,
                 "_args": tuple(p for p, _ in params if p != "inplace")}
    return type(name, (_Activation,), namespace)


_INPLACE = ("inplace", False)
_SOFTMAX_DOC = ("along ``dim`` (an int, negative counts from the end; ``None`` follows PyTorch's deprecated "
                "implicit rule, axis 0 for 0-, 1- and 3-D input, else axis 1, and warns)")
# One row per layer: name, functional pair, constructor arguments (name, default), shown in the repr, docstring.
ReLU = _layer("ReLU", F.relu, F.relu_backward, [_INPLACE], ("inplace",),
    "``max(x, 0)``, as ``torch.nn.ReLU``; its gradient at 0 is 0.")
Hardtanh = _layer("Hardtanh", F.hardtanh, F.hardtanh_backward, [("min_val", -1.0), ("max_val", 1.0), _INPLACE],
    ("min_val", "max_val", "inplace"),
    "Clip to ``[min_val, max_val]``, as ``torch.nn.Hardtanh``; zero gradient at and beyond the edges.")
LeakyReLU = _layer("LeakyReLU", F.leaky_relu, F.leaky_relu_backward, [("negative_slope", 1e-2), _INPLACE],
    ("negative_slope", "inplace"),
    "``x if x > 0 else negative_slope * x``, as ``torch.nn.LeakyReLU``; gradient ``negative_slope`` at 0.")
ELU = _layer("ELU", F.elu, F.elu_backward, [("alpha", 1.0), _INPLACE], ("alpha", "inplace"),
    "``x if x > 0 else alpha * (exp(x) - 1)``, as ``torch.nn.ELU``; gradient ``alpha`` at 0.")
SELU = _layer("SELU", F.selu, F.selu_backward, [_INPLACE], ("inplace",),
    "Self-normalising ELU, ``1.0507 * elu(x, 1.6733)``, as ``torch.nn.SELU``.")
CELU = _layer("CELU", F.celu, F.celu_backward, [("alpha", 1.0), _INPLACE], ("alpha", "inplace"),
    "``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``, as ``torch.nn.CELU`` (``alpha`` non-zero).")
GELU = _layer("GELU", F.gelu, F.gelu_backward, [("approximate", "none")], ("approximate",),
    "``x * Phi(x)`` (``Phi`` the standard normal CDF), as ``torch.nn.GELU``; ``approximate='tanh'`` uses "
    "``0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))`` for ``Phi``.")
SiLU = _layer("SiLU", F.silu, F.silu_backward, [_INPLACE], ("inplace",),
               "``x * sigmoid(x)`` (swish), as ``torch.nn.SiLU``.")
Mish = _layer("Mish", F.mish, F.mish_backward, [_INPLACE], ("inplace",),
               "``x * tanh(softplus(x))``, as ``torch.nn.Mish``.")
Sigmoid = _layer("Sigmoid", F.sigmoid, F.sigmoid_backward, [], (),
    "``1 / (1 + exp(-x))``, as ``torch.nn.Sigmoid``; keeps its output for the backward ``y (1 - y)``.")
Tanh = _layer("Tanh", F.tanh, F.tanh_backward, [], (),
    "Hyperbolic tangent, as ``torch.nn.Tanh``; keeps its output for the backward ``1 - y**2``.")
Hardsigmoid = _layer("Hardsigmoid", F.hardsigmoid, F.hardsigmoid_backward, [_INPLACE], (),
    "``relu6(x + 3) / 6``, as ``torch.nn.Hardsigmoid`` (``inplace``, as in PyTorch, is not in the repr).")
Hardswish = _layer("Hardswish", F.hardswish, F.hardswish_backward, [_INPLACE], (),
    "``x * relu6(x + 3) / 6``, as ``torch.nn.Hardswish`` (``inplace``, as in PyTorch, is not in the repr).")
Softplus = _layer("Softplus", F.softplus, F.softplus_backward, [("beta", 1.0), ("threshold", 20.0)],
                   ("beta", "threshold"),
    "``log(1 + exp(beta * x)) / beta``, and ``x`` where ``beta * x > threshold``, as ``torch.nn.Softplus``.")
Softsign = _layer("Softsign", F.softsign, F.softsign_backward, [], (), "``x / (1 + |x|)``, as ``torch.nn.Softsign``.")
Threshold = _layer("Threshold", F.threshold, F.threshold_backward,
                   [("threshold", _REQUIRED), ("value", _REQUIRED), _INPLACE],
    ("threshold", "value", "inplace"), "``x if x > threshold else value``, as ``torch.nn.Threshold``.")
Softmax = _layer("Softmax", F.softmax, F.softmax_backward, [("dim", None)], ("dim",),
    f"``exp(x) / sum(exp(x))`` {_SOFTMAX_DOC}, as ``torch.nn.Softmax``.")
LogSoftmax = _layer("LogSoftmax", F.log_softmax, F.log_softmax_backward, [("dim", None)], ("dim",),
    f"``log(softmax(x))`` {_SOFTMAX_DOC}, computed stably, as ``torch.nn.LogSoftmax``.")
Softmin = _layer("Softmin", F.softmin, F.softmin_backward, [("dim", None)], ("dim",),
    f"``softmax(-x)`` {_SOFTMAX_DOC}, as ``torch.nn.Softmin``.")
Maxout = _layer("Maxout", F.maxout, F.maxout_backward, [("pool_size", _REQUIRED)], ("pool_size",),
    """Maxout: the maximum over groups of ``pool_size`` consecutive channels (axis 1).

    A maxout unit computes ``k`` linear functions of its input and outputs the
    largest, ``h(x) = max_j (w_j . x + b_j)`` (Goodfellow et al., 2013). It is
    piecewise linear and convex, can imitate ReLU (``max(w.x + b, 0)``), leaky
    ReLU or ``|x|``, and learns its own shape. This layer does the ``max``;
    the linear pieces come from the layer before it, which computes ``k * m``
    outputs, grouped ``k`` at a time::

        net = nn.Sequential(nn.Linear(784, 3 * 128), nn.Maxout(3))   # 128 maxout units

    Output channel ``j`` is the max of input channels ``j*k, ..., j*k + k - 1``;
    the gradient goes to the winning piece (the first one on ties).
    Input (N, k*m, *) -> output (N, m, *); a 1-D input (k*m,) is one sample.
    """)
Step = _layer("Step", F.step, F.step_backward, [], (),
    """Heaviside step, 1 where ``x > 0`` else 0: the perceptron's activation.

    Its derivative is 0 wherever it exists (and undefined at 0), so
    ``backward`` returns zeros: no gradient reaches the layers below, and
    gradient descent cannot train them. That is why trained networks replace
    it by a sigmoid or a ReLU. Provided for teaching (compare a perceptron's
    update rule with backpropagation).
    """)


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``, as ``torch.nn.ReLU6`` (a ``Hardtanh(0, 6)``, like PyTorch's)."""

    __signature__ = inspect.Signature([inspect.Parameter("inplace", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                         default=False)])
    _shown = ("inplace",)

    def __init__(self, inplace: bool = False):
        Module.__init__(self)
        self.min_val, self.max_val, self.inplace = 0.0, 6.0, inplace

    def _apply(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)


class PReLU(Module):
    """Leaky ReLU with a learned slope, ``x if x > 0 else weight * x``, as ``torch.nn.PReLU``.

    Parameters
    ----------
    num_parameters : int
        1 (one slope shared by all channels) or the number of channels C
        (one slope per channel on axis 1).
    init : float
        Initial value of every slope (default 0.25).
    dtype : float32 (default) or float64

    Attributes
    ----------
    weight : Parameter, shape (num_parameters,)
        The slopes. Its gradient, ``sum(x * dout)`` over the entries with
        ``x <= 0`` (per channel), accumulates into ``weight.grad``.

    Shapes
    ------
    input (N, C, *) or any shape when ``num_parameters == 1`` -> output, same shape.
    An input with fewer than two axes has one channel.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=np.float32):
        super().__init__()
        self.num_parameters = check_positive_int(num_parameters, "PReLU", "num_parameters")
        self.init = check_number(init, "PReLU", "init", keep=True)
        self.weight = Parameter(np.empty(self.num_parameters, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.weight.data[...] = self.init

    def forward(self, x):
        check_parameters(self)
        x = as_float_array(x, "PReLU")
        in_dtype = x.dtype
        x = self._as_input(x, "PReLU")
        channels = x.shape[1] if x.ndim >= 2 else 1
        if self.num_parameters != 1 and channels != self.num_parameters:
            raise ValueError(
                f"PReLU: expected an input with {self.num_parameters} channels on axis 1 (weight has shape "
                f"{shape_str(self.weight.shape)}), got input of shape {shape_str(x.shape)}"
            )
        out, cache = F.prelu(x, self.weight.data)
        self._keep((cache, in_dtype))
        return out

    def backward(self, grad_output):
        cache, in_dtype = self._take()
        dx, dweight = F.prelu_backward(grad_output, cache)
        self.weight.accumulate_grad(dweight)
        return dx.astype(in_dtype, copy=False)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
