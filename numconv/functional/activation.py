"""Activation functions: elementwise non-linearities, softmax and friends, maxout.

Every op is a pair ``out, cache = op(x, ...)`` and ``dx = op_backward(dout, cache)``
with PyTorch's exact semantics, including the gradient it picks at a kink
(``relu'(0) = 0``, ``leaky_relu'(0) = negative_slope``, ``hardtanh`` has zero
gradient *at* its edges, ``elu'(0) = alpha``, ...).

What each backward needs, and so what its cache keeps:

* the **output** (cheaper, or what PyTorch itself uses): ``relu``, ``sigmoid``
  (``y (1 - y)``), ``tanh`` (``1 - y**2``), ``softmax``, ``softmin``,
  ``log_softmax``;
* the **input**: everything else (``elu``/``selu``/``celu`` recompute
  ``exp(x)`` as PyTorch does, which stays accurate far into the negative tail).

Numerical stability: nothing here calls ``exp`` on a large positive number.
``sigmoid`` uses ``exp(-|x|)``, ``softplus`` uses ``max(z, 0) + log1p(exp(-|z|))``,
softmax subtracts the maximum first, and ELU only exponentiates ``min(x, 0)``.
So float32 inputs of +-1e4 give finite, exact results (and no overflow warnings).

Speed: choosing between two pieces with ``np.where`` on a random sign pattern
runs 2-10x slower than arithmetic (the CPU mispredicts every other branch),
so the piecewise functions multiply by boolean masks, e.g. ReLU's backward is
``dout * (out > 0)`` and leaky ReLU is ``max(x, 0) + slope * min(x, 0)``. For
finite values this is exactly the same result; the one difference from
PyTorch is that a NaN or infinite *upstream gradient* at a unit whose local
gradient is 0 gives NaN here (``nan * 0``) where PyTorch gives 0.

All ops keep the input's dtype (float32 or float64).
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, check_positive_int, shape_str

__all__ = [
    "relu", "relu_backward", "relu6", "relu6_backward", "leaky_relu", "leaky_relu_backward",
    "prelu", "prelu_backward", "elu", "elu_backward", "selu", "selu_backward", "celu", "celu_backward",
    "gelu", "gelu_backward", "silu", "silu_backward", "mish", "mish_backward",
    "sigmoid", "sigmoid_backward", "tanh", "tanh_backward", "hardtanh", "hardtanh_backward",
    "hardsigmoid", "hardsigmoid_backward", "hardswish", "hardswish_backward",
    "softplus", "softplus_backward", "softsign", "softsign_backward", "threshold", "threshold_backward",
    "softmax", "softmax_backward", "log_softmax", "log_softmax_backward", "softmin", "softmin_backward",
    "maxout", "maxout_backward", "step", "step_backward",
    "InputCache", "OutputCache", "LeakyReLUCache", "PReLUCache", "ELUCache", "GELUCache", "HardtanhCache",
    "SoftplusCache", "ThresholdCache", "SoftmaxCache", "MaxoutCache", "StepCache",
]

# SELU's constants (Klambauer et al., 2017), to PyTorch's precision.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# ---------------------------------------------------------------------------- caches
class InputCache(NamedTuple):
    """The input ``x``: for activations whose derivative is a function of ``x`` alone."""

    x: np.ndarray


class OutputCache(NamedTuple):
    """The output ``y``: for activations whose derivative is cheapest written in ``y``."""

    out: np.ndarray


class LeakyReLUCache(NamedTuple):
    x: np.ndarray
    negative_slope: float


class PReLUCache(NamedTuple):
    """The input and the weight, already shaped to broadcast against it."""

    x: np.ndarray
    weight: np.ndarray
    weight_shape: tuple


class ELUCache(NamedTuple):
    """ELU, SELU and CELU are one function: ``scale * (x if x > 0 else alpha * (exp(input_scale * x) - 1))``."""

    x: np.ndarray
    alpha: float
    scale: float
    input_scale: float


class GELUCache(NamedTuple):
    x: np.ndarray
    approximate: str


class HardtanhCache(NamedTuple):
    x: np.ndarray
    min_val: float
    max_val: float


class SoftplusCache(NamedTuple):
    x: np.ndarray
    beta: float
    threshold: float


class ThresholdCache(NamedTuple):
    x: np.ndarray
    threshold: float


class SoftmaxCache(NamedTuple):
    """The output (softmax probabilities, or log-probabilities for log_softmax) and the axis."""

    out: np.ndarray
    dim: int


class MaxoutCache(NamedTuple):
    """Which of the ``pool_size`` pieces won in each group, and the input's shape."""

    argmax: np.ndarray
    x_shape: tuple
    axis: int
    dtype: np.dtype


class StepCache(NamedTuple):
    shape: tuple
    dtype: np.dtype


# ---------------------------------------------------------------------------- helpers
def _number(value, where: str, name: str) -> float:
    """A real hyper-parameter as a Python float (keeps float32 math in float32)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{where}: expected {name} to be a number, got {value!r}")
    return float(value)


def _as_dout(dout, shape: tuple, dtype, where: str) -> np.ndarray:
    """``dout`` as an array of the forward's dtype, checked against the output's shape."""
    dout = np.asarray(dout, dtype=dtype)
    if dout.shape != tuple(shape):
        raise ValueError(
            f"{where}: expected dout of shape {shape_str(shape)} (the forward output's shape), "
            f"got shape {shape_str(dout.shape)}"
        )
    return dout


def _zero(dtype):
    return np.asarray(0, dtype=dtype)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` without overflow: only ever exponentiate ``-|x|``."""
    e = np.exp(-np.abs(x))
    r = 1 / (1 + e)
    positive = x >= 0
    return r * positive + (e * r) * ~positive  # r where x >= 0, e / (1 + e) elsewhere


def _log1p_exp(z: np.ndarray) -> np.ndarray:
    """``log(1 + exp(z))`` without overflow: ``max(z, 0) + log1p(exp(-|z|))``."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def _erf(x: np.ndarray) -> np.ndarray:
    """The error function elementwise. NumPy has none, so a small numba loop computes it."""
    from ..kernels.activation import erf_kernel

    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    erf_kernel(flat, out)
    return out.reshape(x.shape)


# ---------------------------------------------------------------------------- ReLU family
def relu(x):
    """Rectified linear unit, ``max(x, 0)``, as ``torch.nn.functional.relu``.

    Parameters
    ----------
    x : ndarray, any shape

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : OutputCache
        The output: ``relu'(x) = 1`` exactly where ``out > 0`` (and 0 at ``x = 0``).
    """
    x = as_float_array(x, "relu")
    out = np.maximum(x, _zero(x.dtype))
    return out, OutputCache(out)


def relu_backward(dout, cache: OutputCache):
    """``dx = dout`` where the output is positive, else 0 (so ``relu'(0) = 0``, as PyTorch).

    Parameters
    ----------
    dout : ndarray, shape of the output
    cache : OutputCache

    Returns
    -------
    dx : ndarray, same shape as ``dout``
    """
    out = cache.out
    dout = _as_dout(dout, out.shape, out.dtype, "relu_backward")
    # np.where, not dout * (out > 0): at a NaN input PyTorch passes the gradient on (the test is
    # "out <= 0 gives 0"), and an inf upstream gradient times a 0 mask would make NaN.
    return np.where(out <= 0, _zero(out.dtype), dout)


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0):
    """Clip to ``[min_val, max_val]``, as ``torch.nn.functional.hardtanh``.

    Parameters
    ----------
    x : ndarray, any shape
    min_val, max_val : float
        ``min_val < max_val``.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : HardtanhCache
    """
    x = as_float_array(x, "hardtanh")
    min_val, max_val = _number(min_val, "hardtanh", "min_val"), _number(max_val, "hardtanh", "max_val")
    if not max_val > min_val:
        raise ValueError(f"hardtanh: expected max_val > min_val, got min_val={min_val}, max_val={max_val}")
    out = np.clip(x, min_val, max_val)
    return out, HardtanhCache(x, min_val, max_val)


def hardtanh_backward(dout, cache: HardtanhCache):
    """``dx = dout`` strictly inside ``(min_val, max_val)``, 0 outside *and at the edges* (PyTorch's choice).

    Returns
    -------
    dx : ndarray, same shape as ``dout``
    """
    x, lo, hi = cache
    dout = _as_dout(dout, x.shape, x.dtype, "hardtanh_backward")
    # At a NaN input PyTorch's own answer depends on the dtype and on where the NaN sits in a SIMD
    # vector (0 or the gradient); numconv gives 0.
    return dout * ((x > lo) & (x < hi))


def relu6(x):
    """``min(max(x, 0), 6)``: ``hardtanh(x, 0, 6)``, as ``torch.nn.functional.relu6``.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : HardtanhCache
    """
    return hardtanh(as_float_array(x, "relu6"), 0.0, 6.0)


def relu6_backward(dout, cache: HardtanhCache):
    """Gradient of ``relu6``: 1 strictly between 0 and 6, else 0."""
    return hardtanh_backward(dout, cache)


def leaky_relu(x, negative_slope: float = 0.01):
    """``x if x > 0 else negative_slope * x``, as ``torch.nn.functional.leaky_relu``.

    Parameters
    ----------
    x : ndarray, any shape
    negative_slope : float

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : LeakyReLUCache
    """
    x = as_float_array(x, "leaky_relu")
    slope = _number(negative_slope, "leaky_relu", "negative_slope")
    out = np.maximum(x, 0) + slope * np.minimum(x, 0)
    return out, LeakyReLUCache(x, slope)


def leaky_relu_backward(dout, cache: LeakyReLUCache):
    """``dx = dout`` where ``x > 0``, ``negative_slope * dout`` elsewhere (so at 0 too).

    Returns
    -------
    dx : ndarray, same shape as ``dout``
    """
    x, slope = cache
    dout = _as_dout(dout, x.shape, x.dtype, "leaky_relu_backward")
    return np.where(x > 0, dout, slope * dout)  # at NaN: the slope side, as PyTorch


def _prelu_weight_view(x: np.ndarray, weight: np.ndarray, where: str) -> np.ndarray:
    """Shape ``weight`` to broadcast against ``x``: one slope, or one per channel on axis 1."""
    channels = x.shape[1] if x.ndim >= 2 else 1
    if weight.size == 1:
        return weight.reshape(())
    if weight.size != channels:
        raise ValueError(
            f"{where}: weight has {weight.size} slopes but the input has {channels} channel(s) "
            f"(axis 1 of an input of shape {shape_str(x.shape)}; inputs with fewer than 2 axes have 1 channel)"
        )
    return weight.reshape((1, channels) + (1,) * (x.ndim - 2))


def prelu(x, weight):
    """Parametric ReLU, ``x if x > 0 else a * x`` with a learned slope ``a``, as ``torch.nn.functional.prelu``.

    Parameters
    ----------
    x : ndarray, shape (N, C, *) or any shape if ``weight`` has one entry
        Axis 1 is the channel axis; an input with fewer than two axes has one channel.
    weight : ndarray, shape (1,) or (C,)
        One slope shared by every channel, or one per channel.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : PReLUCache
    """
    x = as_float_array(x, "prelu")
    weight = as_float_array(weight, "prelu", "weight")
    if weight.ndim != 1:
        raise ValueError(f"prelu: expected a 1-D weight of shape (1,) or (C,), got shape {shape_str(weight.shape)}")
    w = _prelu_weight_view(x, weight.astype(x.dtype, copy=False), "prelu")
    out = np.maximum(x, 0) + w * np.minimum(x, 0)
    return out, PReLUCache(x, w, weight.shape)


def prelu_backward(dout, cache: PReLUCache):
    """Gradients of ``prelu``.

    Returns
    -------
    dx : ndarray, same shape as ``x``
        ``dout`` where ``x > 0``, ``a * dout`` elsewhere.
    dweight : ndarray, shape (1,) or (C,)
        ``x * dout`` where ``x <= 0``, summed over every axis but the channel axis
        (over all axes for a single shared slope).
    """
    x, w, weight_shape = cache
    dout = _as_dout(dout, x.shape, x.dtype, "prelu_backward")
    positive = x > 0  # PyTorch's test: a NaN input takes the slope side for dx and feeds dweight
    dx = np.where(positive, dout, w * dout)
    dw_each = np.where(positive, _zero(x.dtype), x * dout)
    if w.ndim == 0:
        dweight = np.asarray(dw_each.sum(), dtype=x.dtype).reshape(weight_shape)
    else:
        # Sum the contiguous trailing axes first, then the batch: faster than sum(axis=(0, 2, 3)).
        rest = int(np.prod(x.shape[2:]))
        dweight = dw_each.reshape(x.shape[0], x.shape[1], rest).sum(axis=2).sum(axis=0)
    return dx, dweight


# ---------------------------------------------------------------------------- exponential units
def _elu(x, alpha, scale, input_scale):
    """``scale * x`` for ``x > 0``, ``scale * alpha * (exp(input_scale * x) - 1)`` for ``x <= 0``."""
    # expm1 is accurate for small |x|; exponentiating min(x, 0) never overflows.
    # For x > 0 the second term is alpha * scale * expm1(0) = 0 exactly, and for x <= 0 the first is 0.
    out = scale * np.maximum(x, 0) + alpha * scale * np.expm1(np.minimum(x, 0) * input_scale)
    return out, ELUCache(x, alpha, scale, input_scale)


def _elu_backward(dout, cache: ELUCache, where):
    x, alpha, scale, input_scale = cache
    dout = _as_dout(dout, x.shape, x.dtype, where)
    # d/dx [scale * alpha * (exp(s x) - 1)] = scale * alpha * s * exp(s x); at x = 0 PyTorch takes this side.
    slope = (input_scale * alpha * scale) * np.exp(np.minimum(x, 0) * input_scale)
    return np.where(x <= 0, dout * slope, dout * scale)  # a NaN input takes the linear side, as PyTorch


def elu(x, alpha: float = 1.0):
    """Exponential linear unit, ``x if x > 0 else alpha * (exp(x) - 1)``, as ``torch.nn.functional.elu``.

    Parameters
    ----------
    x : ndarray, any shape
    alpha : float

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : ELUCache
        The input (the derivative ``alpha * exp(x)`` is recomputed from it, as PyTorch does).
    """
    x = as_float_array(x, "elu")
    return _elu(x, _number(alpha, "elu", "alpha"), 1.0, 1.0)


def elu_backward(dout, cache: ELUCache):
    """``dx = dout`` for ``x > 0``, ``alpha * exp(x) * dout`` for ``x <= 0`` (so ``alpha`` at 0)."""
    return _elu_backward(dout, cache, "elu_backward")


def selu(x):
    """Scaled ELU, ``scale * elu(x, alpha)`` with SELU's fixed constants, as ``torch.nn.functional.selu``.

    ``alpha ~ 1.6733`` and ``scale ~ 1.0507`` are chosen so that activations
    keep zero mean and unit variance through many layers (self-normalising nets).

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : ELUCache
    """
    x = as_float_array(x, "selu")
    return _elu(x, SELU_ALPHA, SELU_SCALE, 1.0)


def selu_backward(dout, cache: ELUCache):
    """``scale * dout`` for ``x > 0``, ``scale * alpha * exp(x) * dout`` for ``x <= 0``."""
    return _elu_backward(dout, cache, "selu_backward")


def celu(x, alpha: float = 1.0):
    """Continuously differentiable ELU, ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    As ``torch.nn.functional.celu``; its slope is 1 on both sides of 0 for any ``alpha``.

    Parameters
    ----------
    x : ndarray, any shape
    alpha : float, non-zero

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : ELUCache
    """
    x = as_float_array(x, "celu")
    alpha = _number(alpha, "celu", "alpha")
    if alpha == 0:
        raise ValueError("celu: alpha must be non-zero (the function divides by it), got 0")
    return _elu(x, alpha, 1.0, 1.0 / alpha)


def celu_backward(dout, cache: ELUCache):
    """``dout`` for ``x > 0``, ``exp(x / alpha) * dout`` for ``x <= 0``."""
    # PyTorch's CELU backward uses 1 / alpha with alpha rounded to float32 (even
    # for float64 input), i.e. (alpha / alpha_f32) * exp(x / alpha_f32). We do the
    # same so float64 gradients agree to the last bit; the effect is ~1e-8 relative.
    input_scale = 1.0 / float(np.float32(cache.alpha))
    return _elu_backward(dout, cache._replace(input_scale=input_scale), "celu_backward")


# ---------------------------------------------------------------------------- smooth gates
_SQRT1_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_BETA = math.sqrt(2.0 / math.pi)
_TANH_KAPPA = 0.044715


def gelu(x, approximate: str = "none"):
    """Gaussian error linear unit ``x * Phi(x)``, as ``torch.nn.functional.gelu``.

    ``Phi`` is the standard normal CDF, ``0.5 * (1 + erf(x / sqrt(2)))``. With
    ``approximate="tanh"`` it is replaced by
    ``0.5 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x**3)))``.

    Parameters
    ----------
    x : ndarray, any shape
    approximate : {"none", "tanh"}

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : GELUCache
    """
    x = as_float_array(x, "gelu")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: expected approximate to be 'none' or 'tanh', got {approximate!r}")
    if approximate == "none":
        out = x * 0.5 * (1 + _erf(x * _SQRT1_2))
    else:
        xc = _clip_gelu(x)
        inner = _TANH_BETA * (xc + _TANH_KAPPA * xc * xc * xc)
        out = 0.5 * x * (1 + np.tanh(inner))
    return out, GELUCache(x, approximate)


def _clip_gelu(x: np.ndarray) -> np.ndarray:
    """``x`` clipped to [-50, 50] for the terms with ``x**2`` and ``x**3``.

    Beyond 50 those terms are already saturated (``tanh(...) = +-1`` and
    ``exp(-x**2 / 2) = 0`` exactly), so clipping changes no result; it only
    keeps ``x**3`` from overflowing for huge float32 inputs.
    """
    return np.clip(x, -50.0, 50.0)


def gelu_backward(dout, cache: GELUCache):
    """``dx = dout * (Phi(x) + x * phi(x))``, ``phi`` the normal density (or the tanh form's derivative)."""
    x, approximate = cache
    dout = _as_dout(dout, x.shape, x.dtype, "gelu_backward")
    xc = _clip_gelu(x)
    if approximate == "none":
        cdf = 0.5 * (1 + _erf(x * _SQRT1_2))
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * xc * xc)
        return dout * (cdf + x * pdf)
    x_sq = xc * xc
    t = np.tanh(_TANH_BETA * (xc + _TANH_KAPPA * x_sq * xc))
    d_inner = _TANH_BETA * (1 + 3 * _TANH_KAPPA * x_sq)
    return dout * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner)


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, as ``torch.sigmoid``, without overflow for large ``|x|``.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : OutputCache
        The output ``y``: ``sigmoid' = y (1 - y)``.
    """
    x = as_float_array(x, "sigmoid")
    out = _sigmoid(x)
    return out, OutputCache(out)


def sigmoid_backward(dout, cache: OutputCache):
    """``dx = dout * y * (1 - y)`` with ``y`` the forward output."""
    y = cache.out
    dout = _as_dout(dout, y.shape, y.dtype, "sigmoid_backward")
    return dout * (1 - y) * y


def tanh(x):
    """Hyperbolic tangent, as ``torch.tanh``.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : OutputCache
        The output ``y``: ``tanh' = 1 - y**2``.
    """
    x = as_float_array(x, "tanh")
    out = np.tanh(x)
    return out, OutputCache(out)


def tanh_backward(dout, cache: OutputCache):
    """``dx = dout * (1 - y**2)`` with ``y`` the forward output."""
    y = cache.out
    dout = _as_dout(dout, y.shape, y.dtype, "tanh_backward")
    # The same three operations as ``dout * (1 - y * y)``, in one array instead of three: on
    # LeNet-5's first layer each fresh megabyte array costs more in page faults than its arithmetic.
    dx = np.multiply(y, y, out=np.empty(dout.shape, dtype=dout.dtype))  # (an array even when 0-D)
    np.subtract(1, dx, out=dx)
    dx *= dout
    return dx


def silu(x):
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``, as ``torch.nn.functional.silu``.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : InputCache
    """
    x = as_float_array(x, "silu")
    return x * _sigmoid(x), InputCache(x)


def silu_backward(dout, cache: InputCache):
    """``dx = dout * s * (1 + x * (1 - s))`` with ``s = sigmoid(x)``."""
    x = cache.x
    dout = _as_dout(dout, x.shape, x.dtype, "silu_backward")
    s = _sigmoid(x)
    return dout * s * (1 + x * (1 - s))


def mish(x):
    """``x * tanh(softplus(x))``, as ``torch.nn.functional.mish`` (softplus computed without overflow).

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : InputCache
    """
    x = as_float_array(x, "mish")
    return x * np.tanh(_log1p_exp(x)), InputCache(x)


def mish_backward(dout, cache: InputCache):
    """``dx = dout * (t + x * sigmoid(x) * (1 - t**2))`` with ``t = tanh(softplus(x))``."""
    x = cache.x
    dout = _as_dout(dout, x.shape, x.dtype, "mish_backward")
    t = np.tanh(_log1p_exp(x))
    return dout * (t + x * _sigmoid(x) * (1 - t * t))


def softplus(x, beta: float = 1.0, threshold: float = 20.0):
    """``log(1 + exp(beta * x)) / beta``, as ``torch.nn.functional.softplus``.

    Where ``beta * x > threshold`` the result is ``x`` itself (the two differ by
    less than ``exp(-threshold)``), exactly as PyTorch reverts to the identity.
    Below the threshold it is computed as ``max(z, 0) + log1p(exp(-|z|))`` with
    ``z = beta * x``, so it stays finite even for a huge ``threshold`` (PyTorch
    would overflow to ``inf`` there).

    Parameters
    ----------
    x : ndarray, any shape
    beta, threshold : float

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : SoftplusCache
    """
    x = as_float_array(x, "softplus")
    beta = _number(beta, "softplus", "beta")
    threshold = _number(threshold, "softplus", "threshold")
    z = x * beta
    out = np.where(z > threshold, x, _log1p_exp(z) / beta)
    return out, SoftplusCache(x, beta, threshold)


def softplus_backward(dout, cache: SoftplusCache):
    """``dx = dout * sigmoid(beta * x)``, and ``dout`` where ``beta * x > threshold``."""
    x, beta, threshold = cache
    dout = _as_dout(dout, x.shape, x.dtype, "softplus_backward")
    z = x * beta
    return np.where(z > threshold, dout, dout * _sigmoid(z))


def softsign(x):
    """``x / (1 + |x|)``, as ``torch.nn.functional.softsign``.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : InputCache
    """
    x = as_float_array(x, "softsign")
    return x / (1 + np.abs(x)), InputCache(x)


def softsign_backward(dout, cache: InputCache):
    """``dx = dout / (1 + |x|)**2``, computed as PyTorch differentiates ``x / (1 + |x|)``.

    That is ``dout / d - dout * (x / d**2) * sign(x)`` with ``d = 1 + |x|``: equal
    to the short form, but NaN at ``x = ±inf`` (inf / inf) as in PyTorch.
    """
    x = cache.x
    dout = _as_dout(dout, x.shape, x.dtype, "softsign_backward")
    d = 1 + np.abs(x)
    with np.errstate(invalid="ignore", over="ignore"):
        return dout / d - dout * (x / (d * d)) * np.sign(x)


# ---------------------------------------------------------------------------- piecewise linear
def hardsigmoid(x):
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, linear between, as ``torch.nn.functional.hardsigmoid``.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : InputCache
    """
    x = as_float_array(x, "hardsigmoid")
    return np.clip(x + 3, 0, 6) / 6, InputCache(x)


# PyTorch's hardsigmoid backward multiplies by 1/6 rounded to float32, even for
# float64 input. We use the same constant so float64 gradients agree to the last
# bit; the difference from the exact 1/6 (3e-8 relative) is harmless.
_ONE_SIXTH_F32 = float(np.float32(1.0 / 6.0))


def hardsigmoid_backward(dout, cache: InputCache):
    """``dx = dout / 6`` strictly inside ``(-3, 3)``, 0 elsewhere (0 at the kinks, as PyTorch)."""
    x = cache.x
    dout = _as_dout(dout, x.shape, x.dtype, "hardsigmoid_backward")
    return (dout * _ONE_SIXTH_F32) * ((x > -3) & (x < 3))


def hardswish(x):
    """``x * relu6(x + 3) / 6``, as ``torch.nn.functional.hardswish``.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : InputCache
    """
    x = as_float_array(x, "hardswish")
    return x * np.clip(x + 3, 0, 6) / 6, InputCache(x)


def hardswish_backward(dout, cache: InputCache):
    """``dx = 0`` for ``x <= -3``, ``dout * (x / 3 + 1/2)`` for ``-3 < x < 3``, ``dout`` for ``x >= 3``.

    At the kinks PyTorch takes the outer piece: 0 at ``x = -3``, 1 at ``x = 3``.
    """
    x = cache.x
    dout = _as_dout(dout, x.shape, x.dtype, "hardswish_backward")
    # PyTorch's branches in its order: below -3, up to 3, else (where NaN lands: the gradient passes).
    middle = (x > -3) & (x < 3)
    with np.errstate(invalid="ignore"):
        inner = dout * (x / 3 + 0.5)
    return np.where(x <= -3, _zero(x.dtype), np.where(middle, inner, dout))


def threshold(x, threshold: float, value: float):
    """``x if x > threshold else value``, as ``torch.nn.functional.threshold``.

    Parameters
    ----------
    x : ndarray, any shape
    threshold, value : float

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : ThresholdCache
    """
    x = as_float_array(x, "threshold")
    threshold = _number(threshold, "threshold", "threshold")
    value = _number(value, "threshold", "value")
    out = np.where(x <= threshold, np.asarray(value, dtype=x.dtype), x)
    return out, ThresholdCache(x, threshold)


def threshold_backward(dout, cache: ThresholdCache):
    """``dx = dout`` where ``x > threshold``, else 0 (the replaced entries are constant)."""
    x, thresh = cache
    dout = _as_dout(dout, x.shape, x.dtype, "threshold_backward")
    return np.where(x <= thresh, _zero(x.dtype), dout)  # a NaN input passes the gradient, as PyTorch


def step(x):
    """Heaviside step: 1 where ``x > 0``, else 0.

    The perceptron's activation. Its derivative is 0 everywhere except at 0,
    where it does not exist, so a gradient passed back through it is zero:
    the layers below it never learn. That is why gradient-trained networks use
    a smooth or piecewise-linear stand-in (sigmoid, ReLU) instead.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : StepCache
    """
    x = as_float_array(x, "step")
    return (x > 0).astype(x.dtype), StepCache(x.shape, x.dtype)


def step_backward(dout, cache: StepCache):
    """Zeros: the step function is flat wherever it has a derivative."""
    _as_dout(dout, cache.shape, cache.dtype, "step_backward")
    return np.zeros(cache.shape, dtype=cache.dtype)


# ---------------------------------------------------------------------------- softmax family
def _softmax_dim(x: np.ndarray, dim, where: str) -> int:
    """Resolve ``dim`` (negative counts from the end; ``None`` is PyTorch's legacy rule)."""
    if dim is None:
        # PyTorch's deprecated implicit choice: axis 0 for 0-, 1- and 3-D input, else axis 1.
        dim = 0 if x.ndim in (0, 1, 3) else 1
        warnings.warn(
            f"{where}: no dim given; using dim={dim} for this {x.ndim}-D input (PyTorch's deprecated implicit "
            "rule). Pass dim= explicitly.",
            UserWarning,
            stacklevel=3,
        )
        return dim
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{where}: expected dim to be an int or None, got {dim!r}")
    ndim = max(x.ndim, 1)  # a 0-D input behaves as one element along dim 0 / -1
    if not -ndim <= dim < ndim:
        raise ValueError(
            f"{where}: dim {dim} is out of range for an input of shape {shape_str(x.shape)} "
            f"(expected -{ndim} <= dim < {ndim})"
        )
    return int(dim) % ndim


def _shifted(x: np.ndarray, dim: int) -> np.ndarray:
    """``x - max(x)`` along ``dim``: the largest entry becomes 0, so ``exp`` cannot overflow."""
    return x - np.max(x, axis=dim, keepdims=True, initial=-np.inf)


def softmax(x, dim=None):
    """``exp(x) / sum(exp(x))`` along ``dim``, as ``torch.nn.functional.softmax``.

    Computed as ``exp(x - max) / sum(exp(x - max))``: the same value, without
    overflow for large ``x``.

    Parameters
    ----------
    x : ndarray, any shape
    dim : int or None
        The axis that sums to 1. ``None`` follows PyTorch's deprecated implicit
        rule (axis 0 for 0-, 1- and 3-D input, else axis 1) with a warning.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : SoftmaxCache
        The output ``y``; the backward is ``y * (dout - sum(dout * y))``.
    """
    x = as_float_array(x, "softmax")
    return _softmax(x, _softmax_dim(x, dim, "softmax"))


def _softmax(x: np.ndarray, dim: int):
    xx = x.reshape(1) if x.ndim == 0 else x
    e = np.exp(_shifted(xx, dim))
    out = (e / np.sum(e, axis=dim, keepdims=True)).reshape(x.shape)
    return out, SoftmaxCache(out, dim)


def softmax_backward(dout, cache: SoftmaxCache):
    """``dx = y * (dout - sum(dout * y, dim))``: the Jacobian ``diag(y) - y y^T`` applied to ``dout``.

    Returns
    -------
    dx : ndarray, same shape as ``dout``
    """
    y, dim = cache
    dout = _as_dout(dout, y.shape, y.dtype, "softmax_backward")
    yy, dd = (y.reshape(1), dout.reshape(1)) if y.ndim == 0 else (y, dout)
    return (yy * (dd - np.sum(dd * yy, axis=dim, keepdims=True))).reshape(y.shape)


def softmin(x, dim=None):
    """``softmax(-x, dim)``, as ``torch.nn.functional.softmin``: small entries get large weights.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : SoftmaxCache
    """
    x = as_float_array(x, "softmin")
    return _softmax(np.negative(x).reshape(x.shape), _softmax_dim(x, dim, "softmin"))


def softmin_backward(dout, cache: SoftmaxCache):
    """The softmax backward with its sign flipped (chain rule through ``-x``)."""
    return -softmax_backward(dout, cache)


def log_softmax(x, dim=None):
    """``log(softmax(x))`` along ``dim``, as ``torch.nn.functional.log_softmax``.

    Computed as ``(x - max) - log(sum(exp(x - max)))``, which stays finite where
    ``log(softmax(x))`` would take the log of an underflowed 0.

    Parameters
    ----------
    x : ndarray, any shape
    dim : int or None
        As for :func:`softmax`.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
    cache : SoftmaxCache
        The output (log-probabilities); the backward is ``dout - exp(out) * sum(dout)``.
    """
    x = as_float_array(x, "log_softmax")
    dim = _softmax_dim(x, dim, "log_softmax")
    xx = x.reshape(1) if x.ndim == 0 else x
    shifted = _shifted(xx, dim)
    out = (shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))).reshape(x.shape)
    return out, SoftmaxCache(out, dim)


def log_softmax_backward(dout, cache: SoftmaxCache):
    """``dx = dout - softmax(x) * sum(dout, dim)``, with ``softmax(x) = exp(out)``."""
    out, dim = cache
    dout = _as_dout(dout, out.shape, out.dtype, "log_softmax_backward")
    oo, dd = (out.reshape(1), dout.reshape(1)) if out.ndim == 0 else (out, dout)
    return (dd - np.exp(oo) * np.sum(dd, axis=dim, keepdims=True)).reshape(out.shape)


# ---------------------------------------------------------------------------- maxout
def maxout(x, pool_size: int):
    """Maximum over groups of ``pool_size`` consecutive channels (axis 1), the maxout unit.

    A maxout unit (Goodfellow et al., 2013) is the maximum of ``k`` linear
    functions of its input. Computing all ``k * m`` linear pieces with one
    ``Linear`` (or ``Conv``) layer and taking the max over each group of ``k``
    gives ``m`` maxout units; see :class:`numconv.nn.Maxout`.

    Parameters
    ----------
    x : ndarray, shape (N, k*m, *) or (k*m,)
        Channels/features on axis 1; a 1-D input is one sample of features.
    pool_size : int
        ``k``, the number of pieces per unit.

    Returns
    -------
    out : ndarray, shape (N, m, *) or (m,)
        ``out[:, j] = max(x[:, j*k], ..., x[:, j*k + k - 1])``.
    cache : MaxoutCache
        The index of the winning piece in each group (the *first* one on ties,
        which is where the whole gradient goes, as in PyTorch's max pooling).
    """
    x = as_float_array(x, "maxout")
    k = check_positive_int(pool_size, "maxout", "pool_size")
    if x.ndim == 0:
        raise ValueError("maxout: expected an input of shape (N, C, *) or (C,), got a 0-D input")
    axis = 1 if x.ndim >= 2 else 0
    channels = x.shape[axis]
    if channels % k:
        raise ValueError(
            f"maxout: the {channels} channels on axis {axis} of the input (shape {shape_str(x.shape)}) "
            f"are not a multiple of pool_size={k}"
        )
    groups = x.reshape(x.shape[:axis] + (channels // k, k) + x.shape[axis + 1:])
    winner = np.argmax(groups, axis=axis + 1)  # argmax returns the first maximum on ties
    out = np.take_along_axis(groups, np.expand_dims(winner, axis + 1), axis=axis + 1)
    out = out.reshape(winner.shape)
    # The winner index is < k: store it small (k <= 256 for nearly every network).
    winner = winner.astype(np.min_scalar_type(k - 1), copy=False)
    return out, MaxoutCache(winner, x.shape, axis, x.dtype)


def maxout_backward(dout, cache: MaxoutCache):
    """Route each ``dout`` entry to the piece that won its group; the others get 0.

    Returns
    -------
    dx : ndarray, shape (N, k*m, *) or (k*m,)
    """
    winner, x_shape, axis, dtype = cache
    dout = _as_dout(dout, winner.shape, dtype, "maxout_backward")
    k = x_shape[axis] // winner.shape[axis]
    dgroups = np.zeros(winner.shape[:axis + 1] + (k,) + winner.shape[axis + 1:], dtype=dtype)
    np.put_along_axis(dgroups, np.expand_dims(winner.astype(np.intp), axis + 1),
                      np.expand_dims(dout, axis + 1), axis=axis + 1)
    return dgroups.reshape(x_shape)
