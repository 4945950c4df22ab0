"""Elementwise activation functions (softmax, its relatives and maxout are in ``softmax.py``).

Every op is a pair with PyTorch's exact semantics, including the gradient it
picks at a kink (``relu'(0) = 0``, ``leaky_relu'(0) = negative_slope``,
``hardtanh`` has zero gradient *at* its edges, ``elu'(0) = alpha``, ...)::

    out, cache = op(x, ...)           # out: same shape and dtype as x (any shape)
    dx = op_backward(dout, cache)     # dout and dx: the shape of out

The cache is one of two kinds, with the op's hyper-parameters in ``args``:
:class:`OutputCache` where the derivative is cheapest in the output (``relu``,
``sigmoid``: ``y (1 - y)``, ``tanh``: ``1 - y**2``, ``step``), else
:class:`InputCache` (``elu``/``selu``/``celu`` recompute ``exp(x)`` as PyTorch
does, which stays accurate far into the negative tail).

Stability: nothing calls ``exp`` on a large positive number (``sigmoid`` uses
``exp(-|x|)``, ``softplus`` ``max(z, 0) + log1p(exp(-|z|))``, ELU only
exponentiates ``min(x, 0)``), so float32 inputs of +-1e4 give exact results.

Speed and edges: forward passes multiply by boolean masks (``max(x, 0) + slope
* min(x, 0)``): ``np.where`` on a random sign pattern runs 2-60x slower.
The backward passes whose answer at a NaN input PyTorch pins down use
``np.where`` (ReLU and threshold a numba loop equal to it); the others
multiply by masks, so an infinite upstream gradient where the local gradient
is 0 gives NaN (``inf * 0``) where PyTorch gives 0.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, check_choice, check_dout, check_number, shape_str
from ..kernels.activation import where_at_most_zero_else

__all__ = [
    "relu", "relu_backward", "relu6", "relu6_backward", "leaky_relu", "leaky_relu_backward",
    "prelu", "prelu_backward", "elu", "elu_backward", "selu", "selu_backward", "celu", "celu_backward",
    "gelu", "gelu_backward", "silu", "silu_backward", "mish", "mish_backward",
    "sigmoid", "sigmoid_backward", "tanh", "tanh_backward", "hardtanh", "hardtanh_backward",
    "hardsigmoid", "hardsigmoid_backward", "hardswish", "hardswish_backward",
    "softplus", "softplus_backward", "softsign", "softsign_backward", "threshold", "threshold_backward",
    "step", "step_backward", "InputCache", "OutputCache",
]

# SELU's constants (Klambauer et al., 2017), to PyTorch's precision.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# ---------------------------------------------------------------------------- the two caches
class InputCache(NamedTuple):
    """The input ``x`` and the op's hyper-parameters: for derivatives written in ``x``."""

    x: np.ndarray
    args: tuple = ()


class OutputCache(NamedTuple):
    """The output ``y`` and the op's hyper-parameters: for derivatives cheapest written in ``y``."""

    out: np.ndarray
    args: tuple = ()


# ---------------------------------------------------------------------------- helpers
def _saved(dout, cache, where: str):
    """``(array, args, dout)``: what the forward kept, and ``dout`` checked against it."""
    saved, args = cache
    return saved, args, check_dout(dout, saved.shape, saved.dtype, where)


def _zero(dtype):  # a 0-D zero of the input's dtype, so np.where keeps that dtype
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


def _hardtanh_range(min_val, max_val, where: str) -> tuple:
    """Checked ``(min_val, max_val)`` as given; ``nn.Hardtanh`` checks with it too."""
    min_val, max_val = (check_number(v, where, n, keep=True) for v, n in ((min_val, "min_val"), (max_val, "max_val")))
    if not max_val > min_val:
        raise ValueError(f"{where}: expected max_val > min_val, got min_val={min_val}, max_val={max_val}")
    return min_val, max_val


def _celu_alpha(alpha, where: str):
    """A checked, non-zero ``alpha`` as given; ``nn.CELU`` checks with it too."""
    if check_number(alpha, where, "alpha", keep=True) == 0:
        raise ValueError(f"{where}: alpha must be non-zero (the function divides by it), got 0")
    return alpha


# ---------------------------------------------------------------------------- ReLU family
def relu(x):
    """Rectified linear unit, ``max(x, 0)``, as ``torch.nn.functional.relu``; keeps the output."""
    x = as_float_array(x, "relu")
    out = np.maximum(x, _zero(x.dtype))
    return out, OutputCache(out)


def relu_backward(dout, cache: OutputCache):
    """``dx = dout`` where the output is positive, else 0 (so ``relu'(0) = 0``, as PyTorch)."""
    out, _, dout = _saved(dout, cache, "relu_backward")
    # Not dout * (out > 0): at a NaN input PyTorch passes dout on, and inf * 0 would make NaN.
    return where_at_most_zero_else(out, 0.0, dout)  # np.where(out <= 0, 0, dout), as a numba loop


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0):
    """Clip to ``[min_val, max_val]`` (``min_val < max_val``), as ``torch.nn.functional.hardtanh``."""
    x = as_float_array(x, "hardtanh")
    min_val, max_val = (float(v) for v in _hardtanh_range(min_val, max_val, "hardtanh"))
    return np.clip(x, min_val, max_val), InputCache(x, (min_val, max_val))


def hardtanh_backward(dout, cache: InputCache):
    """``dx = dout`` strictly inside ``(min_val, max_val)``, 0 outside *and at the edges* (PyTorch's choice)."""
    x, (lo, hi), dout = _saved(dout, cache, "hardtanh_backward")
    # At a NaN input PyTorch's own answer depends on the dtype and on where the NaN sits in a SIMD
    # vector (0 or the gradient); numconv gives 0.
    return dout * ((x > lo) & (x < hi))


def relu6(x):
    """``min(max(x, 0), 6)``: ``hardtanh(x, 0, 6)``, as ``torch.nn.functional.relu6``."""
    return hardtanh(as_float_array(x, "relu6"), 0.0, 6.0)


def relu6_backward(dout, cache: InputCache):
    """Gradient of ``relu6``: 1 strictly between 0 and 6, else 0."""
    return hardtanh_backward(dout, cache)


def leaky_relu(x, negative_slope: float = 0.01):
    """``x if x > 0 else negative_slope * x``, as ``torch.nn.functional.leaky_relu``."""
    x = as_float_array(x, "leaky_relu")
    slope = check_number(negative_slope, "leaky_relu", "negative_slope")
    return np.maximum(x, 0) + slope * np.minimum(x, 0), InputCache(x, (slope,))


def leaky_relu_backward(dout, cache: InputCache):
    """``dx = dout`` where ``x > 0``, ``negative_slope * dout`` elsewhere (so at 0 too)."""
    x, (slope,), dout = _saved(dout, cache, "leaky_relu_backward")
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
    """
    x = as_float_array(x, "prelu")
    weight = as_float_array(weight, "prelu", "weight")
    if weight.ndim != 1:
        raise ValueError(f"prelu: expected a 1-D weight of shape (1,) or (C,), got shape {shape_str(weight.shape)}")
    w = _prelu_weight_view(x, weight.astype(x.dtype, copy=False), "prelu")
    out = np.maximum(x, 0) + w * np.minimum(x, 0)
    return out, InputCache(x, (w, weight.shape))


def prelu_backward(dout, cache: InputCache):
    """Gradients of ``prelu``: ``(dx, dweight)``.

    ``dx`` is ``dout`` where ``x > 0``, ``a * dout`` elsewhere; ``dweight``
    (shape (1,) or (C,)) is ``x * dout`` where ``x <= 0``, summed over every
    axis but the channel axis (over all axes for a single shared slope).
    """
    x, (w, weight_shape), dout = _saved(dout, cache, "prelu_backward")
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
    """``scale * x`` for ``x > 0``, ``scale * alpha * (exp(input_scale * x) - 1)`` for ``x <= 0``.

    ELU, SELU and CELU are this one function with other constants.
    """
    # expm1 is accurate for small |x|; exponentiating min(x, 0) never overflows.
    # For x > 0 the second term is alpha * scale * expm1(0) = 0 exactly, and for x <= 0 the first is 0.
    out = scale * np.maximum(x, 0) + alpha * scale * np.expm1(np.minimum(x, 0) * input_scale)
    return out, InputCache(x, (alpha, scale, input_scale))


def _elu_backward(dout, cache: InputCache, where):
    x, (alpha, scale, input_scale), dout = _saved(dout, cache, where)
    # d/dx [scale * alpha * (exp(s x) - 1)] = scale * alpha * s * exp(s x); at x = 0 PyTorch takes this side.
    slope = (input_scale * alpha * scale) * np.exp(np.minimum(x, 0) * input_scale)
    return np.where(x <= 0, dout * slope, dout * scale)  # a NaN input takes the linear side, as PyTorch


def elu(x, alpha: float = 1.0):
    """Exponential linear unit, ``x if x > 0 else alpha * (exp(x) - 1)``, as ``torch.nn.functional.elu``."""
    x = as_float_array(x, "elu")
    return _elu(x, check_number(alpha, "elu", "alpha"), 1.0, 1.0)


def elu_backward(dout, cache: InputCache):
    """``dx = dout`` for ``x > 0``, ``alpha * exp(x) * dout`` for ``x <= 0`` (so ``alpha`` at 0)."""
    return _elu_backward(dout, cache, "elu_backward")


def selu(x):
    """Scaled ELU, ``scale * elu(x, alpha)`` with SELU's fixed constants, as ``torch.nn.functional.selu``.

    ``alpha ~ 1.6733`` and ``scale ~ 1.0507`` are chosen so that activations
    keep zero mean and unit variance through many layers (self-normalising nets).
    """
    x = as_float_array(x, "selu")
    return _elu(x, SELU_ALPHA, SELU_SCALE, 1.0)


def selu_backward(dout, cache: InputCache):
    """``scale * dout`` for ``x > 0``, ``scale * alpha * exp(x) * dout`` for ``x <= 0``."""
    return _elu_backward(dout, cache, "selu_backward")


def celu(x, alpha: float = 1.0):
    """Continuously differentiable ELU, ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    As ``torch.nn.functional.celu``; ``alpha`` must be non-zero. Its slope is 1
    on both sides of 0 for any ``alpha``.
    """
    x = as_float_array(x, "celu")
    alpha = float(_celu_alpha(alpha, "celu"))
    return _elu(x, alpha, 1.0, 1.0 / alpha)


def celu_backward(dout, cache: InputCache):
    """``dout`` for ``x > 0``, ``exp(x / alpha) * dout`` for ``x <= 0``."""
    # PyTorch's CELU backward uses 1 / alpha with alpha rounded to float32 (even
    # for float64 input), i.e. (alpha / alpha_f32) * exp(x / alpha_f32). We do the
    # same so float64 gradients agree to the last bit; the effect is ~1e-8 relative.
    x, (alpha, scale, _) = cache
    return _elu_backward(dout, InputCache(x, (alpha, scale, 1.0 / float(np.float32(alpha)))), "celu_backward")


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
    """
    x = as_float_array(x, "gelu")
    check_choice(approximate, "gelu", "approximate", ("none", "tanh"))
    if approximate == "none":
        out = x * 0.5 * (1 + _erf(x * _SQRT1_2))
    else:
        xc = _clip_gelu(x)
        inner = _TANH_BETA * (xc + _TANH_KAPPA * xc * xc * xc)
        out = 0.5 * x * (1 + np.tanh(inner))
    return out, InputCache(x, (approximate,))


def _clip_gelu(x: np.ndarray) -> np.ndarray:
    """``x`` clipped to [-50, 50] for the ``x**2`` and ``x**3`` terms, so ``x**3`` cannot overflow float32.

    Beyond 50 those terms are saturated (``tanh(...) = +-1``, ``exp(-x**2 / 2) = 0``): no result changes.
    """
    return np.clip(x, -50.0, 50.0)


def gelu_backward(dout, cache: InputCache):
    """``dx = dout * (Phi(x) + x * phi(x))``, ``phi`` the normal density (or the tanh form's derivative)."""
    x, (approximate,), dout = _saved(dout, cache, "gelu_backward")
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
    """Logistic sigmoid ``1 / (1 + exp(-x))``, as ``torch.sigmoid``, without overflow; keeps the output."""
    x = as_float_array(x, "sigmoid")
    out = _sigmoid(x)
    return out, OutputCache(out)


def sigmoid_backward(dout, cache: OutputCache):
    """``dx = dout * y * (1 - y)`` with ``y`` the forward output."""
    y, _, dout = _saved(dout, cache, "sigmoid_backward")
    return dout * (1 - y) * y


def tanh(x):
    """Hyperbolic tangent, as ``torch.tanh``; keeps the output."""
    x = as_float_array(x, "tanh")
    out = np.tanh(x)
    return out, OutputCache(out)


def tanh_backward(dout, cache: OutputCache):
    """``dx = dout * (1 - y**2)`` with ``y`` the forward output."""
    y, _, dout = _saved(dout, cache, "tanh_backward")
    # The same three operations as ``dout * (1 - y * y)``, in one array instead of three: on
    # LeNet-5's first layer each fresh megabyte array costs more in page faults than its arithmetic.
    dx = np.multiply(y, y, out=np.empty(dout.shape, dtype=dout.dtype))  # (an array even when 0-D)
    np.subtract(1, dx, out=dx)
    dx *= dout
    return dx


def silu(x):
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``, as ``torch.nn.functional.silu``."""
    x = as_float_array(x, "silu")
    return x * _sigmoid(x), InputCache(x)


def silu_backward(dout, cache: InputCache):
    """``dx = dout * s * (1 + x * (1 - s))`` with ``s = sigmoid(x)``."""
    x, _, dout = _saved(dout, cache, "silu_backward")
    s = _sigmoid(x)
    return dout * s * (1 + x * (1 - s))


def mish(x):
    """``x * tanh(softplus(x))``, as ``torch.nn.functional.mish`` (softplus computed without overflow)."""
    x = as_float_array(x, "mish")
    return x * np.tanh(_log1p_exp(x)), InputCache(x)


def mish_backward(dout, cache: InputCache):
    """``dx = dout * (t + x * sigmoid(x) * (1 - t**2))`` with ``t = tanh(softplus(x))``."""
    x, _, dout = _saved(dout, cache, "mish_backward")
    t = np.tanh(_log1p_exp(x))
    return dout * (t + x * _sigmoid(x) * (1 - t * t))


def softplus(x, beta: float = 1.0, threshold: float = 20.0):
    """``log(1 + exp(beta * x)) / beta``, as ``torch.nn.functional.softplus``.

    Where ``beta * x > threshold`` the result is ``x`` itself (the two differ by
    less than ``exp(-threshold)``), exactly as PyTorch reverts to the identity.
    Below the threshold it is computed as ``max(z, 0) + log1p(exp(-|z|))`` with
    ``z = beta * x``, so it stays finite even for a huge ``threshold`` (PyTorch
    would overflow to ``inf`` there).
    """
    x = as_float_array(x, "softplus")
    beta = check_number(beta, "softplus", "beta")
    threshold = check_number(threshold, "softplus", "threshold")
    z = x * beta
    out = np.where(z > threshold, x, _log1p_exp(z) / beta)
    return out, InputCache(x, (beta, threshold))


def softplus_backward(dout, cache: InputCache):
    """``dx = dout * sigmoid(beta * x)``, and ``dout`` where ``beta * x > threshold``."""
    x, (beta, threshold), dout = _saved(dout, cache, "softplus_backward")
    z = x * beta
    return np.where(z > threshold, dout, dout * _sigmoid(z))


def softsign(x):
    """``x / (1 + |x|)``, as ``torch.nn.functional.softsign``."""
    x = as_float_array(x, "softsign")
    return x / (1 + np.abs(x)), InputCache(x)


def softsign_backward(dout, cache: InputCache):
    """``dx = dout / (1 + |x|)**2``, computed as PyTorch differentiates ``x / (1 + |x|)``.

    That is ``dout / d - dout * (x / d**2) * sign(x)`` with ``d = 1 + |x|``: equal
    to the short form, but NaN at ``x = ±inf`` (inf / inf) as in PyTorch.
    """
    x, _, dout = _saved(dout, cache, "softsign_backward")
    d = 1 + np.abs(x)
    with np.errstate(invalid="ignore", over="ignore"):
        return dout / d - dout * (x / (d * d)) * np.sign(x)


# ---------------------------------------------------------------------------- piecewise linear
def hardsigmoid(x):
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, linear between, as ``torch.nn.functional.hardsigmoid``."""
    x = as_float_array(x, "hardsigmoid")
    return np.clip(x + 3, 0, 6) / 6, InputCache(x)


# PyTorch's hardsigmoid backward multiplies by 1/6 rounded to float32, even for
# float64 input. We use the same constant so float64 gradients agree to the last
# bit; the difference from the exact 1/6 (3e-8 relative) is harmless.
_ONE_SIXTH_F32 = float(np.float32(1.0 / 6.0))


def hardsigmoid_backward(dout, cache: InputCache):
    """``dx = dout / 6`` strictly inside ``(-3, 3)``, 0 elsewhere (0 at the kinks, as PyTorch)."""
    x, _, dout = _saved(dout, cache, "hardsigmoid_backward")
    return (dout * _ONE_SIXTH_F32) * ((x > -3) & (x < 3))


def hardswish(x):
    """``x * relu6(x + 3) / 6``, as ``torch.nn.functional.hardswish``."""
    x = as_float_array(x, "hardswish")
    return x * np.clip(x + 3, 0, 6) / 6, InputCache(x)


def hardswish_backward(dout, cache: InputCache):
    """``dx = 0`` for ``x <= -3``, ``dout * (x / 3 + 1/2)`` for ``-3 < x < 3``, ``dout`` for ``x >= 3``.

    At the kinks PyTorch takes the outer piece: 0 at ``x = -3``, 1 at ``x = 3``.
    """
    x, _, dout = _saved(dout, cache, "hardswish_backward")
    # PyTorch's branches in its order: below -3, up to 3, else (where NaN lands: the gradient passes).
    middle = (x > -3) & (x < 3)
    with np.errstate(invalid="ignore"):
        inner = dout * (x / 3 + 0.5)
    return np.where(x <= -3, _zero(x.dtype), np.where(middle, inner, dout))


def threshold(x, threshold: float, value: float):
    """``x if x > threshold else value``, as ``torch.nn.functional.threshold``."""
    x = as_float_array(x, "threshold")
    threshold = check_number(threshold, "threshold", "threshold")
    value = check_number(value, "threshold", "value")
    out = np.where(x <= threshold, np.asarray(value, dtype=x.dtype), x)
    return out, InputCache(x, (threshold,))


def threshold_backward(dout, cache: InputCache):
    """``dx = dout`` where ``x > threshold``, else 0 (the replaced entries are constant)."""
    x, (thresh,), dout = _saved(dout, cache, "threshold_backward")
    return where_at_most_zero_else(x, thresh, dout)  # a NaN input passes the gradient, as PyTorch


def step(x):
    """Heaviside step: 1 where ``x > 0``, else 0: the perceptron's activation.

    Its derivative is 0 wherever it exists, so no gradient passes back through
    it: that is why trained networks use a sigmoid or a ReLU instead.
    """
    x = as_float_array(x, "step")
    out = (x > 0).astype(x.dtype)
    return out, OutputCache(out)


def step_backward(dout, cache: OutputCache):
    """Zeros: the step function is flat wherever it has a derivative."""
    out, _, _ = _saved(dout, cache, "step_backward")
    return np.zeros(out.shape, dtype=out.dtype)
