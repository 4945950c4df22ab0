"""Normalisation: batch and instance norm here; layer, group and local response norm in ``norm_layer.py``.

The first four share one idea. Pick a set of values (a channel over the
whole batch; a channel of one sample; all features of one sample; a group
of channels of one sample), and *standardise* it::

    xhat = (x - mean) / sqrt(var + eps)       # var is the biased variance
    y    = xhat * weight + bias               # optional learned affine map

They differ only in which values share a mean. The backward pass of the
standardisation is the same for all of them: for a set of K values with
upstream gradient ``g = dL/dxhat``,

    dx = (g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps)

The two subtracted terms are the gradient flowing back through the mean and
through the variance. (With an all-ones upstream gradient both terms cancel
``g`` exactly and ``dx`` is zero, which is why tests draw a random one.)
When the statistics are fixed numbers (batch norm in eval mode, running
statistics) those terms vanish and ``dx = g / sqrt(var + eps)``.

Batch norm is the one that matters for speed, so its statistics and its
backward reductions run in fused numba loops (``numconv.kernels.norm``);
``algorithm="numpy"`` selects the plain NumPy expressions they equal.

Every backward returns ``(dx, dweight, dbias)``: the gradients with respect
to the input, the weight and the bias (``None`` for an absent weight or
bias). Running statistics are buffers updated in place, not inputs, so they
get no gradient entry.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, check_choice, check_dout, check_number, shape_str
from ..kernels import norm as _kernels
from ..kernels import workers as _workers

# Batch-norm inputs this large are split between two threads.
_SPLIT_MIN_ELEMENTS = 1 << 20

__all__ = [
    "batch_norm", "batch_norm_backward", "BatchNormCache",
    "instance_norm", "instance_norm_backward", "InstanceNormCache",
]


# ---------------------------------------------------------------------------- shared pieces
def _channel_vector(v, channels: int, x_shape, where: str, name: str):
    """Check an optional per-channel array (weight, bias, running statistics) has shape (C,)."""
    if v is None:
        return None
    v = as_float_array(v, where, name)
    if v.shape != (channels,):
        raise ValueError(
            f"{where}: expected {name} of shape ({channels},) for an input of shape {shape_str(x_shape)}, "
            f"got {name} of shape {shape_str(v.shape)}"
        )
    return v


def _check_nc(x: np.ndarray, where: str, min_ndim: int = 2) -> np.ndarray:
    """``x``, raising unless it has the (N, C, *) layout with at least ``min_ndim`` axes; the layers check with it."""
    if x.ndim < min_ndim:
        raise ValueError(f"{where}: expected an input of shape (N, C, *) with at least {min_ndim} axes, got shape "
                         f"{shape_str(x.shape)} ({x.ndim}-D)")
    return x


def _channel_args(x_shape, running_mean, running_var, weight, bias, momentum, eps, where: str):
    """Batch and instance norm's checked per-channel arrays (shape (C,) or None), momentum and eps."""
    channels = x_shape[1]
    vectors = [_channel_vector(v, channels, x_shape, where, name) for v, name in
               ((running_mean, "running_mean"), (running_var, "running_var"), (weight, "weight"), (bias, "bias"))]
    if (vectors[0] is None) != (vectors[1] is None):
        raise ValueError(f"{where}: pass both running_mean and running_var, or neither")
    return (*vectors, check_number(momentum, where, "momentum"), check_number(eps, where, "eps", minimum=0.0))


def _as_nc_m(x: np.ndarray) -> np.ndarray:
    """View (N, C, *spatial) as (N, C, M), M the product of the spatial axes (1 if none)."""
    return x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))


def _standardise(x: np.ndarray, eps: float):
    """``xhat = (x - mean) / sqrt(var + eps)`` along the last axis.

    Returns ``xhat`` (shape of ``x``), and ``mean``, ``var``, ``invstd``
    (shape of ``x`` with the last axis of length 1), all in ``x``'s dtype.
    """
    count = max(x.shape[-1], 1)  # an empty axis gives an empty output, not 0 / 0
    mean = x.sum(axis=-1, keepdims=True) / count
    centred = x - mean
    var = (centred * centred).sum(axis=-1, keepdims=True) / count
    invstd = 1.0 / np.sqrt(var + eps)
    return centred * invstd, mean, var, invstd


def _standardise_backward(dxhat: np.ndarray, xhat: np.ndarray, invstd: np.ndarray) -> np.ndarray:
    """Gradient through ``_standardise`` along the last axis (see the module docstring)."""
    count = max(xhat.shape[-1], 1)
    mean_g = dxhat.sum(axis=-1, keepdims=True) / count
    mean_g_xhat = (dxhat * xhat).sum(axis=-1, keepdims=True) / count
    return (dxhat - mean_g - xhat * mean_g_xhat) * invstd


def _check_algorithm(algorithm, where: str) -> str:
    check_choice(algorithm, where, "algorithm", ("auto", "numba", "numpy"))
    return "numba" if algorithm == "auto" else algorithm


# ---------------------------------------------------------------------------- batch norm
class BatchNormCache(NamedTuple):
    """What ``batch_norm_backward`` needs.

    ``x`` is the input viewed as (N, C, M); ``mean`` and ``invstd`` (float64,
    shape (C,)) are the statistics it was normalised with; ``batch_stats``
    says whether they came from this batch (then the gradient flows through
    them) or were the fixed running statistics.
    """

    x: np.ndarray
    mean: np.ndarray
    invstd: np.ndarray
    weight: np.ndarray | None
    has_bias: bool
    batch_stats: bool
    shape: tuple
    algorithm: str


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5,
               *, algorithm="auto"):
    """Batch normalisation, as ``torch.nn.functional.batch_norm``.

    Each channel is standardised with one mean and variance over the batch
    and the spatial axes, then scaled by ``weight`` and shifted by ``bias``.

    Parameters
    ----------
    x : ndarray, shape (N, C, *)
        (N, C), (N, C, L), (N, C, H, W), (N, C, D, H, W), ...
    running_mean, running_var : ndarray, shape (C,), or None
        Running statistics. With ``training=True`` they are updated **in
        place** (if given): ``r = (1 - momentum) * r + momentum * batch_stat``,
        the variance entering as the *unbiased* batch variance
        ``var * n / (n - 1)``, ``n = N * prod(spatial)``. With
        ``training=False`` they are what the input is normalised with.
    weight, bias : ndarray, shape (C,), optional
        The affine map (default: none, i.e. weight 1 and bias 0).
    training : bool
        True: normalise with the batch's own mean and (biased) variance.
        False: with ``running_mean`` and ``running_var``.
    momentum : float
        Weight of the new batch statistic in the running average.
    eps : float
        Added to the variance before the square root (> 0 when training).
    algorithm : {"auto", "numba", "numpy"}
        "numba" (the default under "auto") uses the fused one-pass kernels
        of ``numconv.kernels.norm``; "numpy" the NumPy expressions they equal.

    Returns ``(out, BatchNormCache)``, ``out`` of ``x``'s shape and dtype.
    """
    where = "batch_norm"
    x = _check_nc(as_float_array(x, where), where)
    n, channels = x.shape[:2]
    count = n * math.prod(x.shape[2:])  # values per channel
    running_mean, running_var, weight, bias, momentum, eps = _channel_args(
        x.shape, running_mean, running_var, weight, bias, momentum, eps, where)
    algorithm = _check_algorithm(algorithm, where)
    if training:
        if count == 1:
            raise ValueError(f"{where}: Expected more than 1 value per channel when training, got input size "
                             f"{shape_str(x.shape)}")
        if eps <= 0:
            raise ValueError(f"{where}: eps must be positive when training, got {eps}")
    elif running_mean is None:
        raise ValueError(f"{where}: training=False normalises with running_mean and running_var, but they are None")

    x3 = np.ascontiguousarray(_as_nc_m(x))
    if training:
        mean, var = _batch_stats(x3, algorithm)
        if running_mean is not None and count > 0:  # an empty batch leaves them alone, as in PyTorch
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            running_var[...] = (1 - momentum) * running_var + momentum * var * (count / (count - 1))
    else:
        mean = running_mean.astype(np.float64)
        var = running_var.astype(np.float64)
    invstd = 1.0 / np.sqrt(var + eps)
    scale = invstd if weight is None else invstd * weight
    shift = np.zeros(channels, dtype=x.dtype) if bias is None else bias.astype(x.dtype, copy=False)
    out3 = np.empty_like(x3)
    if algorithm == "numba":
        mean_, scale_ = mean.astype(x.dtype), scale.astype(x.dtype)
        _split(lambda a, b: _kernels.batch_norm_apply(x3[a:b], mean_, scale_, shift, out3[a:b]), x3, axis=0)
    else:
        out3[...] = (x3 - mean.astype(x.dtype)[:, None]) * scale.astype(x.dtype)[:, None] + shift[:, None]
    weight = None if weight is None else weight.astype(x.dtype, copy=False)
    cache = BatchNormCache(x3, mean, invstd, weight, bias is not None, bool(training), x.shape, algorithm)
    return out3.reshape(x.shape), cache


def _batch_stats(x3: np.ndarray, algorithm: str):
    """Per-channel mean and biased variance of x3 (N, C, M), as float64 arrays of shape (C,)."""
    if algorithm == "numpy":
        return x3.mean(axis=(0, 2), dtype=np.float64), x3.var(axis=(0, 2), dtype=np.float64)
    mean = np.empty(x3.shape[1], dtype=np.float64)
    var = np.empty(x3.shape[1], dtype=np.float64)
    _split(lambda a, b: _kernels.batch_norm_stats(x3, mean, var, a, b), x3, axis=1)
    return mean, var


def _split(part, x3: np.ndarray, axis: int) -> None:
    """Run ``part(start, stop)`` over ranges of ``x3``'s samples (axis 0) or channels (axis 1).

    A large batch is shared between the batch-split workers of
    ``numconv.kernels.workers`` (the kernels release the GIL); a small one
    runs in one call, since handing a part to a thread costs more than it saves.
    """
    size = x3.shape[axis]
    if x3.size < _SPLIT_MIN_ELEMENTS:
        part(0, size)
    else:
        _workers.run_parts(part, _workers.split_range(size, _workers.num_workers()))


def batch_norm_backward(dout, cache: BatchNormCache):
    """Gradients of ``batch_norm``.

    With ``g = dout`` and ``xhat = (x - mean) * invstd`` per channel, summing
    over the n = N * M values of each channel:

    - ``dbias = sum(g)``, ``dweight = sum(g * xhat)``;
    - batch statistics (training): ``dx = weight * invstd * (g - sum(g) / n
      - xhat * sum(g * xhat) / n)``, which is computed as
      ``a * g + b * (x - mean) + c`` with per-channel ``a = weight * invstd``,
      ``b = -a * invstd**2 * sum(g * (x - mean)) / n``, ``c = -a * sum(g) / n``,
      so that one pass over the data suffices;
    - fixed running statistics (eval): ``dx = weight * invstd * g``.

    ``dout`` has the output's shape; returns ``(dx, dweight, dbias)``: the
    input's shape, and (C,) or None where there was no weight or bias.
    """
    x3, mean, invstd, weight, has_bias, batch_stats, shape, algorithm = cache
    dtype = x3.dtype
    dy3 = np.ascontiguousarray(check_dout(dout, shape, dtype, "batch_norm_backward").reshape(x3.shape))
    n, channels, m = x3.shape
    count = n * m
    if count == 0:  # nothing flowed forward, nothing flows back
        zeros = np.zeros(channels, dtype=dtype)
        return np.zeros(shape, dtype=dtype), None if weight is None else zeros, zeros.copy() if has_bias else None

    sum_dy, sum_dy_xmu = _backward_sums(dy3, x3, mean, algorithm)
    a = invstd if weight is None else invstd * weight
    if batch_stats:
        b = -a * invstd**2 * sum_dy_xmu / count
        c = -a * sum_dy / count
    else:
        b = np.zeros(channels)
        c = np.zeros(channels)
    mean_, a, b, c = (v.astype(dtype) for v in (mean, a, b, c))
    dx3 = np.empty_like(x3)
    if not batch_stats:
        # Fixed statistics: dx does not depend on x at all, so a NaN or inf input must not reach it
        # (as b * (x - mean) with b = 0 would make it NaN); PyTorch gives weight * invstd * g here too.
        dx3[...] = a[:, None] * dy3
    elif algorithm == "numba":
        _split(lambda i, j: _kernels.batch_norm_backward_apply(dy3[i:j], x3[i:j], mean_, a, b, c, dx3[i:j]), x3,
               axis=0)
    else:
        dx3[...] = a[:, None] * dy3 + b[:, None] * (x3 - mean_[:, None]) + c[:, None]
    dweight = None if weight is None else (sum_dy_xmu * invstd).astype(dtype)
    dbias = sum_dy.astype(dtype) if has_bias else None
    return dx3.reshape(shape), dweight, dbias


def _backward_sums(dy3: np.ndarray, x3: np.ndarray, mean: np.ndarray, algorithm: str):
    """``sum(dy)`` and ``sum(dy * (x - mean))`` per channel, float64 arrays of shape (C,)."""
    if algorithm == "numpy":
        return (dy3.sum(axis=(0, 2), dtype=np.float64),
                (dy3 * (x3 - mean[:, None])).sum(axis=(0, 2), dtype=np.float64))
    sum_dy = np.empty(x3.shape[1], dtype=np.float64)
    sum_dy_xmu = np.empty(x3.shape[1], dtype=np.float64)
    _split(lambda a, b: _kernels.batch_norm_backward_sums(dy3, x3, mean, sum_dy, sum_dy_xmu, a, b), x3, axis=1)
    return sum_dy, sum_dy_xmu


# ---------------------------------------------------------------------------- instance norm
class InstanceNormCache(NamedTuple):
    """What ``instance_norm_backward`` needs: ``xhat`` (N, C, M), ``invstd`` (N, C, 1) or (1, C, 1)."""

    xhat: np.ndarray
    invstd: np.ndarray
    weight: np.ndarray | None
    has_bias: bool
    use_input_stats: bool
    shape: tuple


def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Instance normalisation, as ``torch.nn.functional.instance_norm``.

    Each channel of each sample is standardised over its own spatial axes.

    Parameters
    ----------
    x : ndarray, shape (N, C, *)
    running_mean, running_var : ndarray, shape (C,), or None
        With ``use_input_stats=True`` they are updated in place (if given)
        with the batch average of the per-instance statistics, the variance
        entering unbiased (``var * M / (M - 1)``, M the spatial size). With
        ``use_input_stats=False`` they are what the input is normalised with.
    weight, bias : ndarray, shape (C,), optional
    use_input_stats : bool
        True: each instance's own statistics; False: the running ones.
    momentum, eps : float

    Returns ``(out, InstanceNormCache)``, ``out`` of ``x``'s shape and dtype.
    """
    where = "instance_norm"
    x = _check_nc(as_float_array(x, where), where)
    n = x.shape[0]
    spatial = math.prod(x.shape[2:])
    running_mean, running_var, weight, bias, momentum, eps = _channel_args(
        x.shape, running_mean, running_var, weight, bias, momentum, eps, where)
    if use_input_stats and spatial == 1:
        raise ValueError(f"{where}: Expected more than 1 spatial element when training, got input size "
                         f"{shape_str(x.shape)}")
    if not use_input_stats and running_mean is None:
        raise ValueError(f"{where}: use_input_stats=False normalises with running_mean and running_var, "
                         "but they are None")

    x3 = _as_nc_m(x)
    if use_input_stats:
        xhat, mean, var, invstd = _standardise(x3, eps)
        if running_mean is not None and n > 0 and spatial > 0:
            # The average over the batch of each instance's statistics.
            batch_mean = mean[:, :, 0].mean(axis=0, dtype=np.float64)
            batch_var = var[:, :, 0].mean(axis=0, dtype=np.float64) * (spatial / (spatial - 1))
            running_mean[...] = (1 - momentum) * running_mean + momentum * batch_mean
            running_var[...] = (1 - momentum) * running_var + momentum * batch_var
    else:
        mean = running_mean.astype(x.dtype)[None, :, None]
        invstd = (1.0 / np.sqrt(running_var.astype(np.float64) + eps)).astype(x.dtype)[None, :, None]
        xhat = (x3 - mean) * invstd
    out = _affine(xhat, _per_channel(weight, x.dtype), _per_channel(bias, x.dtype))
    weight = None if weight is None else weight.astype(x.dtype, copy=False)
    return out.reshape(x.shape), InstanceNormCache(xhat, invstd, weight, bias is not None,
                                                    bool(use_input_stats), x.shape)


def _affine(xhat: np.ndarray, weight, bias) -> np.ndarray:
    """``xhat * weight + bias`` (either may be None), ``weight``/``bias`` broadcasting against ``xhat``.

    Always a new array: the caller may change the output without changing
    the ``xhat`` kept for the backward pass.
    """
    out = xhat.copy() if weight is None else xhat * weight
    if bias is not None:
        out += bias
    return out


def _per_channel(v, dtype):
    """A (C,) vector as (C, 1), to broadcast over (N, C, M); None stays None."""
    return None if v is None else v.astype(dtype, copy=False)[:, None]


def _affine_backward(dy3: np.ndarray, xhat3: np.ndarray, weight, has_bias: bool):
    """From the upstream gradient over (N, C, M): ``(dxhat, dweight, dbias)`` for per-channel weight and bias."""
    dweight = None if weight is None else (dy3 * xhat3).sum(axis=(0, 2))
    dbias = dy3.sum(axis=(0, 2)) if has_bias else None
    dxhat = dy3 if weight is None else dy3 * weight[:, None]
    return dxhat, dweight, dbias


def instance_norm_backward(dout, cache: InstanceNormCache):
    """Gradients of ``instance_norm``: ``(dx, dweight, dbias)``, the input's shape and (C,) or None."""
    xhat, invstd, weight, has_bias, use_input_stats, shape = cache
    dy3 = check_dout(dout, shape, xhat.dtype, "instance_norm_backward").reshape(xhat.shape)
    dxhat, dweight, dbias = _affine_backward(dy3, xhat, weight, has_bias)
    if use_input_stats:
        dx = _standardise_backward(dxhat, xhat, invstd)
    else:
        dx = dxhat * invstd
    return dx.reshape(shape), dweight, dbias
