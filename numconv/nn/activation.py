"""Activation layers: thin wrappers around ``numconv.functional.activation``.

Each layer has PyTorch's name, constructor arguments, attributes and repr.
``inplace=True`` does what it does in PyTorch: the result is written into the
input array, which the layer returns (see ``numconv.nn._inplace``).

Only ``PReLU`` has a parameter. The others keep their input's dtype.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._checks import as_float_array, check_parameters, check_positive_int, shape_str
from ._inplace import forward_inplace
from .module import Module
from .parameter import Parameter

__all__ = [
    "ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
    "Sigmoid", "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish", "Softplus", "Softsign", "Threshold",
    "Softmax", "LogSoftmax", "Softmin", "Maxout", "Step",
]


def _number(value, where: str, name: str):
    """Check a real hyper-parameter; keep it as given (PyTorch's repr prints ``2`` for an int)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{where}: expected {name} to be a number, got {value!r}")
    return value


def _inplace_only(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


def _inplace_suffix(inplace: bool) -> str:
    return ", inplace=True" if inplace else ""


class _Elementwise(Module):
    """Base of the parameter-free activations.

    A subclass says which functional pair it is: ``_apply(x)`` calls the
    forward op, ``_backward`` is the matching backward.
    """

    _backward = None

    def _apply(self, x):
        raise NotImplementedError

    def forward(self, x):
        if getattr(self, "inplace", False):
            return forward_inplace(self, x, self._apply)
        x = self._as_input(x, type(self).__name__)
        out, cache = self._apply(x)
        self._keep(cache)
        return out

    def backward(self, grad_output):
        return type(self)._backward(grad_output, self._take())


class ReLU(_Elementwise):
    """``max(x, 0)``, as ``torch.nn.ReLU``; its gradient at 0 is 0.

    Parameters
    ----------
    inplace : bool
        Write the result into the input array and return that array, as PyTorch does.

    Shapes
    ------
    input (*) -> output (*), same shape.
    """

    _backward = staticmethod(F.relu_backward)

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def _apply(self, x):
        return F.relu(x)

    def extra_repr(self) -> str:
        return _inplace_only(self.inplace)


class Hardtanh(_Elementwise):
    """Clip to ``[min_val, max_val]``, as ``torch.nn.Hardtanh``; zero gradient at and beyond the edges.

    Parameters
    ----------
    min_val, max_val : float
        ``min_val < max_val``; defaults -1 and 1.
    inplace : bool
        Write the result into the input array and return that array, as PyTorch does.

    Shapes
    ------
    input (*) -> output (*), same shape.
    """

    _backward = staticmethod(F.hardtanh_backward)

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        self.min_val = _number(min_val, type(self).__name__, "min_val")
        self.max_val = _number(max_val, type(self).__name__, "max_val")
        if not max_val > min_val:
            raise ValueError(f"Hardtanh: expected max_val > min_val, got min_val={min_val}, max_val={max_val}")
        self.inplace = inplace

    def _apply(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_suffix(self.inplace)}"


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``, as ``torch.nn.ReLU6`` (a ``Hardtanh(0, 6)``, like PyTorch's).

    Parameters
    ----------
    inplace : bool
        Write the result into the input array and return that array, as PyTorch does.
    """

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace_only(self.inplace)


class LeakyReLU(_Elementwise):
    """``x if x > 0 else negative_slope * x``, as ``torch.nn.LeakyReLU``; gradient ``negative_slope`` at 0.

    Parameters
    ----------
    negative_slope : float
        Default 0.01.
    inplace : bool
        Write the result into the input array and return that array, as PyTorch does.
    """

    _backward = staticmethod(F.leaky_relu_backward)

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False):
        super().__init__()
        self.negative_slope = _number(negative_slope, "LeakyReLU", "negative_slope")
        self.inplace = inplace

    def _apply(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace_suffix(self.inplace)}"


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
        self.init = _number(init, "PReLU", "init")
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


class ELU(_Elementwise):
    """``x if x > 0 else alpha * (exp(x) - 1)``, as ``torch.nn.ELU``; gradient ``alpha`` at 0.

    Parameters
    ----------
    alpha : float
        Default 1.0.
    inplace : bool
        Write the result into the input array and return that array, as PyTorch does.
    """

    _backward = staticmethod(F.elu_backward)

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = _number(alpha, "ELU", "alpha")
        self.inplace = inplace

    def _apply(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_suffix(self.inplace)}"


class SELU(_Elementwise):
    """Self-normalising ELU, ``1.0507 * elu(x, 1.6733)``, as ``torch.nn.SELU``.

    Parameters
    ----------
    inplace : bool
        Write the result into the input array and return that array, as PyTorch does.
    """

    _backward = staticmethod(F.selu_backward)

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def _apply(self, x):
        return F.selu(x)

    def extra_repr(self) -> str:
        return _inplace_only(self.inplace)


class CELU(_Elementwise):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``, as ``torch.nn.CELU``.

    Parameters
    ----------
    alpha : float
        Non-zero; default 1.0.
    inplace : bool
        Write the result into the input array and return that array, as PyTorch does.
    """

    _backward = staticmethod(F.celu_backward)

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = _number(alpha, "CELU", "alpha")
        if alpha == 0:
            raise ValueError("CELU: alpha must be non-zero (the function divides by it), got 0")
        self.inplace = inplace

    def _apply(self, x):
        return F.celu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace_suffix(self.inplace)}"


class GELU(_Elementwise):
    """``x * Phi(x)`` (``Phi`` the standard normal CDF), as ``torch.nn.GELU``.

    Parameters
    ----------
    approximate : {"none", "tanh"}
        ``"tanh"`` uses ``0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))`` for ``Phi``.
    """

    _backward = staticmethod(F.gelu_backward)

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: expected approximate to be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def _apply(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(_Elementwise):
    """``x * sigmoid(x)`` (swish), as ``torch.nn.SiLU``.

    Parameters
    ----------
    inplace : bool
        Write the result into the input array and return that array, as PyTorch does.
    """

    _backward = staticmethod(F.silu_backward)

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def _apply(self, x):
        return F.silu(x)

    def extra_repr(self) -> str:
        return _inplace_only(self.inplace)


class Mish(_Elementwise):
    """``x * tanh(softplus(x))``, as ``torch.nn.Mish``.

    Parameters
    ----------
    inplace : bool
        Write the result into the input array and return that array, as PyTorch does.
    """

    _backward = staticmethod(F.mish_backward)

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def _apply(self, x):
        return F.mish(x)

    def extra_repr(self) -> str:
        return _inplace_only(self.inplace)


class Sigmoid(_Elementwise):
    """``1 / (1 + exp(-x))``, as ``torch.nn.Sigmoid``; keeps its output for the backward ``y (1 - y)``."""

    _backward = staticmethod(F.sigmoid_backward)

    def _apply(self, x):
        return F.sigmoid(x)


class Tanh(_Elementwise):
    """Hyperbolic tangent, as ``torch.nn.Tanh``; keeps its output for the backward ``1 - y**2``."""

    _backward = staticmethod(F.tanh_backward)

    def _apply(self, x):
        return F.tanh(x)


class Hardsigmoid(_Elementwise):
    """``relu6(x + 3) / 6``, as ``torch.nn.Hardsigmoid``.

    Parameters
    ----------
    inplace : bool
        Write the result into the input array and return it, as PyTorch does (not shown in the repr).
    """

    _backward = staticmethod(F.hardsigmoid_backward)

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def _apply(self, x):
        return F.hardsigmoid(x)


class Hardswish(_Elementwise):
    """``x * relu6(x + 3) / 6``, as ``torch.nn.Hardswish``.

    Parameters
    ----------
    inplace : bool
        Write the result into the input array and return it, as PyTorch does (not shown in the repr).
    """

    _backward = staticmethod(F.hardswish_backward)

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def _apply(self, x):
        return F.hardswish(x)


class Softplus(_Elementwise):
    """``log(1 + exp(beta * x)) / beta``, and ``x`` where ``beta * x > threshold``, as ``torch.nn.Softplus``.

    Parameters
    ----------
    beta : float
        Default 1.0.
    threshold : float
        Default 20.0.
    """

    _backward = staticmethod(F.softplus_backward)

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = _number(beta, "Softplus", "beta")
        self.threshold = _number(threshold, "Softplus", "threshold")

    def _apply(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softsign(_Elementwise):
    """``x / (1 + |x|)``, as ``torch.nn.Softsign``."""

    _backward = staticmethod(F.softsign_backward)

    def _apply(self, x):
        return F.softsign(x)


class Threshold(_Elementwise):
    """``x if x > threshold else value``, as ``torch.nn.Threshold``.

    Parameters
    ----------
    threshold, value : float
    inplace : bool
        Write the result into the input array and return that array, as PyTorch does.
    """

    _backward = staticmethod(F.threshold_backward)

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        super().__init__()
        self.threshold = _number(threshold, "Threshold", "threshold")
        self.value = _number(value, "Threshold", "value")
        self.inplace = inplace

    def _apply(self, x):
        return F.threshold(x, self.threshold, self.value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}{_inplace_suffix(self.inplace)}"


class _SoftmaxBase(_Elementwise):
    """Shared constructor and repr of ``Softmax``, ``LogSoftmax`` and ``Softmin``.

    ``dim=None`` follows PyTorch's deprecated implicit rule (axis 0 for 0-, 1-
    and 3-D input, else axis 1) and warns; pass ``dim`` explicitly.
    """

    def __init__(self, dim: int | None = None):
        super().__init__()
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, (int, np.integer))):
            raise TypeError(f"{type(self).__name__}: expected dim to be an int or None, got {dim!r}")
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """``exp(x) / sum(exp(x))`` along ``dim``, as ``torch.nn.Softmax``.

    Parameters
    ----------
    dim : int or None
        The axis that sums to 1 (negative counts from the end).

    Shapes
    ------
    input (*) -> output (*), same shape.
    """

    _backward = staticmethod(F.softmax_backward)

    def _apply(self, x):
        return F.softmax(x, self.dim)


class LogSoftmax(_SoftmaxBase):
    """``log(softmax(x))`` along ``dim``, computed stably, as ``torch.nn.LogSoftmax``.

    Parameters
    ----------
    dim : int or None
    """

    _backward = staticmethod(F.log_softmax_backward)

    def _apply(self, x):
        return F.log_softmax(x, self.dim)


class Softmin(_SoftmaxBase):
    """``softmax(-x)`` along ``dim``, as ``torch.nn.Softmin``.

    Parameters
    ----------
    dim : int or None
    """

    _backward = staticmethod(F.softmin_backward)

    def _apply(self, x):
        return F.softmin(x, self.dim)


class Maxout(_Elementwise):
    """Maxout: the maximum over groups of ``pool_size`` consecutive channels (axis 1).

    A maxout unit computes ``k`` linear functions of its input and outputs the
    largest, ``h(x) = max_j (w_j . x + b_j)`` (Goodfellow et al., 2013). It is
    piecewise linear and convex, can imitate ReLU (``max(w.x + b, 0)``), leaky
    ReLU or ``|x|``, and learns its own shape. This layer does the ``max``;
    the linear pieces come from the layer before it, which computes ``k * m``
    outputs, grouped ``k`` at a time::

        d, k, m = 784, 3, 128
        net = nn.Sequential(nn.Linear(d, k * m), nn.Maxout(k))   # m maxout units
        conv = nn.Sequential(nn.Conv2d(1, k * 16, 3), nn.Maxout(k))  # 16 maxout feature maps

    Output channel ``j`` is the max of input channels ``j*k, ..., j*k + k - 1``.
    The gradient goes to the winning piece (the first one on ties, like
    PyTorch's max pooling); the other pieces get 0.

    Parameters
    ----------
    pool_size : int
        ``k``, the number of linear pieces per unit.

    Shapes
    ------
    input (N, k*m, *) -> output (N, m, *). A 1-D input (k*m,) is one sample
    of features -> (m,). (A 3-D input is read as (N, C, L), never as an
    unbatched image.)
    """

    _backward = staticmethod(F.maxout_backward)

    def __init__(self, pool_size: int):
        super().__init__()
        self.pool_size = check_positive_int(pool_size, "Maxout", "pool_size")

    def _apply(self, x):
        return F.maxout(x, self.pool_size)

    def extra_repr(self) -> str:
        return f"pool_size={self.pool_size}"


class Step(_Elementwise):
    """Heaviside step, 1 where ``x > 0`` else 0: the perceptron's activation.

    Its derivative is 0 wherever it exists (and undefined at 0), so
    ``backward`` returns zeros: no gradient reaches the layers below, and
    gradient descent cannot train them. That is why trained networks replace
    it by a sigmoid or a ReLU. Provided for teaching (compare a perceptron's
    update rule with backpropagation).

    Shapes
    ------
    input (*) -> output (*), same shape.
    """

    _backward = staticmethod(F.step_backward)

    def _apply(self, x):
        return F.step(x)
