"""Layer norm, group norm and local response norm (batch and instance norm are in ``norm.py``).

Layer and group norm standardise the values of one sample (all its
features; a group of its channels) exactly as ``norm.py`` describes, with
the same backward pass; local response norm divides each activation by a
power of the sum of squares of its neighbouring channels. Every backward
returns ``(dx, dweight, dbias)``, ``None`` for an absent weight or bias.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, check_dout, check_number, check_positive_int, shape_str
from .norm import (_affine, _affine_backward, _as_nc_m, _channel_vector, _check_nc, _per_channel, _standardise,
                   _standardise_backward)

__all__ = [
    "layer_norm", "layer_norm_backward", "LayerNormCache",
    "group_norm", "group_norm_backward", "GroupNormCache",
    "local_response_norm", "local_response_norm_backward", "LocalResponseNormCache",
]


# ---------------------------------------------------------------------------- layer norm
class LayerNormCache(NamedTuple):
    """What ``layer_norm_backward`` needs: ``xhat`` as (rows, K), ``invstd`` (rows, 1)."""

    xhat: np.ndarray
    invstd: np.ndarray
    weight: np.ndarray | None
    has_bias: bool
    normalized_shape: tuple
    shape: tuple


def _normalized_shape(normalized_shape, where: str) -> tuple:
    if isinstance(normalized_shape, (int, np.integer)) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    if not isinstance(normalized_shape, (tuple, list)) or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in normalized_shape
    ):
        raise TypeError(f"{where}: expected normalized_shape to be an int or a tuple of ints, got {normalized_shape!r}")
    if len(normalized_shape) == 0 or any(s < 0 for s in normalized_shape):
        raise ValueError(f"{where}: expected normalized_shape to be a non-empty tuple of non-negative ints, "
                         f"got {tuple(normalized_shape)!r}")
    return tuple(int(s) for s in normalized_shape)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation, as ``torch.nn.functional.layer_norm``.

    Each sample is standardised over its last ``len(normalized_shape)`` axes.

    Parameters
    ----------
    x : ndarray, shape (*, *normalized_shape)
    normalized_shape : int or tuple of ints
        The trailing shape to normalise over, e.g. ``(C, H, W)`` or ``(features,)``.
    weight, bias : ndarray, shape normalized_shape, optional
        Element-wise affine map.
    eps : float

    Returns ``(out, LayerNormCache)``, ``out`` of ``x``'s shape and dtype.
    """
    where = "layer_norm"
    x = as_float_array(x, where)
    normalized_shape = _normalized_shape(normalized_shape, where)
    k = len(normalized_shape)
    if x.ndim < k or x.shape[x.ndim - k:] != normalized_shape:
        pattern = "(*, " + ", ".join(str(s) for s in normalized_shape) + ")"
        raise ValueError(f"{where}: expected an input of shape {pattern} to match normalized_shape="
                         f"{normalized_shape}, got input of shape {shape_str(x.shape)}")
    for name, v in (("weight", weight), ("bias", bias)):
        if v is not None and np.shape(v) != normalized_shape:
            raise ValueError(f"{where}: expected {name} of shape {normalized_shape} (normalized_shape), "
                             f"got shape {shape_str(np.shape(v))}")
    weight = None if weight is None else as_float_array(weight, where, "weight").astype(x.dtype, copy=False)
    bias = None if bias is None else as_float_array(bias, where, "bias").astype(x.dtype, copy=False)
    eps = check_number(eps, where, "eps", minimum=0.0)

    x2 = x.reshape(math.prod(x.shape[:x.ndim - k]), math.prod(normalized_shape))  # (rows, K)
    xhat, _, _, invstd = _standardise(x2, eps)
    out = _affine(xhat, None if weight is None else weight.reshape(-1), None if bias is None else bias.reshape(-1))
    return out.reshape(x.shape), LayerNormCache(xhat, invstd, weight, bias is not None, normalized_shape, x.shape)


def layer_norm_backward(dout, cache: LayerNormCache):
    """Gradients of ``layer_norm``: ``(dx, dweight, dbias)``, the input's shape and normalized_shape or None."""
    xhat, invstd, weight, has_bias, normalized_shape, shape = cache
    dy2 = check_dout(dout, shape, xhat.dtype, "layer_norm_backward").reshape(xhat.shape)
    dweight = None if weight is None else (dy2 * xhat).sum(axis=0).reshape(normalized_shape)
    dbias = dy2.sum(axis=0).reshape(normalized_shape) if has_bias else None
    dxhat = dy2 if weight is None else dy2 * weight.reshape(-1)
    return _standardise_backward(dxhat, xhat, invstd).reshape(shape), dweight, dbias


# ---------------------------------------------------------------------------- group norm
class GroupNormCache(NamedTuple):
    """What ``group_norm_backward`` needs: ``xhat`` as (N, C, M), ``invstd`` (N, G, 1)."""

    xhat: np.ndarray
    invstd: np.ndarray
    num_groups: int
    weight: np.ndarray | None
    has_bias: bool
    shape: tuple


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation, as ``torch.nn.functional.group_norm``.

    The C channels of each sample are split into ``num_groups`` groups of
    consecutive channels; each group is standardised over its channels and
    spatial axes together. ``num_groups=1`` is layer norm over (C, *);
    ``num_groups=C`` is instance norm. ``weight``/``bias`` are per channel.

    Parameters
    ----------
    x : ndarray, shape (N, C, *)
    num_groups : int
        Must divide C.
    weight, bias : ndarray, shape (C,), optional
    eps : float

    Returns ``(out, GroupNormCache)``, ``out`` of ``x``'s shape and dtype.
    """
    where = "group_norm"
    x = _check_nc(as_float_array(x, where), where)
    num_groups = check_positive_int(num_groups, where, "num_groups")
    n, channels = x.shape[:2]
    if channels % num_groups:
        raise ValueError(f"{where}: expected the number of channels to be divisible by num_groups={num_groups}, "
                         f"got input of shape {shape_str(x.shape)} ({channels} channels)")
    if n * (channels // num_groups) * math.prod(x.shape[2:]) == 1:
        # PyTorch's check (the same test as batch norm's, on (N * C / G, G, *)).
        raise ValueError(f"{where}: Expected more than 1 value per channel when training, got input size "
                         f"{shape_str(x.shape)} with num_groups={num_groups}")
    weight = _channel_vector(weight, channels, x.shape, where, "weight")
    bias = _channel_vector(bias, channels, x.shape, where, "bias")
    eps = check_number(eps, where, "eps", minimum=0.0)

    x3 = _as_nc_m(x)
    xg = x3.reshape(n, num_groups, (channels // num_groups) * x3.shape[2])
    xhat_g, _, _, invstd = _standardise(xg, eps)
    xhat = xhat_g.reshape(x3.shape)
    out = _affine(xhat, _per_channel(weight, x.dtype), _per_channel(bias, x.dtype))
    weight = None if weight is None else weight.astype(x.dtype, copy=False)
    return out.reshape(x.shape), GroupNormCache(xhat, invstd, num_groups, weight, bias is not None, x.shape)


def group_norm_backward(dout, cache: GroupNormCache):
    """Gradients of ``group_norm``: ``(dx, dweight, dbias)``, the input's shape and (C,) or None."""
    xhat, invstd, num_groups, weight, has_bias, shape = cache
    dy3 = check_dout(dout, shape, xhat.dtype, "group_norm_backward").reshape(xhat.shape)
    dxhat, dweight, dbias = _affine_backward(dy3, xhat, weight, has_bias)
    n, channels, m = xhat.shape
    grouped = (n, num_groups, (channels // num_groups) * m)
    dx = _standardise_backward(dxhat.reshape(grouped), xhat.reshape(grouped), invstd)
    return dx.reshape(shape), dweight, dbias


# ---------------------------------------------------------------------------- local response norm
class LocalResponseNormCache(NamedTuple):
    """What ``local_response_norm_backward`` needs (arrays viewed as (N, C, M))."""

    x: np.ndarray
    denom: np.ndarray
    denom_pow: np.ndarray
    size: int
    alpha: float
    beta: float
    shape: tuple


def _window_sum(a3: np.ndarray, before: int, after: int) -> np.ndarray:
    """``out[:, c] = sum(a3[:, c - before : c + after + 1])`` over channels, zeros outside.

    Loops over the window's offsets (``before + after + 1`` slice additions),
    not over the pixels.
    """
    out = np.zeros_like(a3)
    channels = a3.shape[1]
    for offset in range(-before, after + 1):
        lo, hi = max(0, -offset), min(channels, channels - offset)
        if lo < hi:
            out[:, lo:hi] += a3[:, lo + offset:hi + offset]
    return out


def local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalisation across channels, as ``torch.nn.functional.local_response_norm``.

    ::

        b[:, c] = a[:, c] / (k + alpha / size * sum(a[:, j] ** 2 for j in window(c))) ** beta

    where ``window(c)`` is the channels ``c - size // 2`` to ``c + (size - 1) // 2``
    (channels outside ``0..C-1`` count as zeros). Note the ``alpha / size``:
    the sum is an *average* over a window of ``size``, padding included.

    Parameters
    ----------
    x : ndarray, shape (N, C, *) with at least one spatial axis
    size : int
        Number of neighbouring channels in the window.
    alpha, beta, k : float

    Returns ``(out, LocalResponseNormCache)``, ``out`` of ``x``'s shape and dtype.
    """
    where = "local_response_norm"
    x = _check_nc(as_float_array(x, where), where, 3)
    size = check_positive_int(size, where, "size")
    alpha = check_number(alpha, where, "alpha")
    beta = check_number(beta, where, "beta")
    k = check_number(k, where, "k")
    x3 = _as_nc_m(x)
    denom = k + (alpha / size) * _window_sum(x3 * x3, size // 2, (size - 1) // 2)
    denom_pow = denom**beta
    out = x3 / denom_pow
    return out.reshape(x.shape), LocalResponseNormCache(x3, denom, denom_pow, size, alpha, beta, x.shape)


def local_response_norm_backward(dout, cache: LocalResponseNormCache):
    """Gradient of ``local_response_norm``.

    ``x[:, j]`` enters its own output and, through the denominators, the
    outputs of every channel c whose window holds j, i.e. c from
    ``j - (size - 1) // 2`` to ``j + size // 2`` (the window reflected)::

        dx[:, j] = dy[:, j] / D[:, j]**beta
                   - 2 * alpha * beta / size * x[:, j] * sum_c dy[:, c] * x[:, c] / D[:, c]**(beta + 1)

    Returns
    -------
    dx : ndarray, shape of the input
    """
    x3, denom, denom_pow, size, alpha, beta, shape = cache
    dy3 = check_dout(dout, shape, x3.dtype, "local_response_norm_backward").reshape(x3.shape)
    through_denom = dy3 * x3 / (denom_pow * denom)
    reflected = _window_sum(through_denom, (size - 1) // 2, size // 2)
    dx = dy3 / denom_pow - (2 * alpha * beta / size) * x3 * reflected
    return dx.reshape(shape)
