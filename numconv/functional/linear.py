"""Fully connected (affine) layer: ``y = x @ W.T + b``."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._checks import as_float_array, check_dout
from ._docs import gradient_of
from ..kernels.workers import blas_threads_for

__all__ = ["linear", "linear_backward", "LinearCache"]


class LinearCache(NamedTuple):
    """What ``linear_backward`` needs: the input and the weight, and whether there was a bias."""

    x: np.ndarray
    weight: np.ndarray
    has_bias: bool


def linear(x, weight, bias=None):
    """Affine map over the last axis, as ``torch.nn.functional.linear``.

    Parameters
    ----------
    x : ndarray, shape (*, in_features)
        Any number of leading axes (a 1-D input is one sample).
    weight : ndarray, shape (out_features, in_features)
    bias : ndarray, shape (out_features,), optional

    Returns
    -------
    out : ndarray, shape (*, out_features)
        ``x @ weight.T + bias``, in ``x``'s dtype.
    cache : LinearCache
    """
    x = as_float_array(x, "linear")
    weight = as_float_array(weight, "linear", "weight")
    if weight.ndim != 2:
        raise ValueError(f"linear: expected weight of shape (out_features, in_features), got {weight.shape}")
    if x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: expected input with last axis {weight.shape[1]} (weight has shape {weight.shape}), "
            f"got input of shape {x.shape}"
        )
    weight = weight.astype(x.dtype, copy=False)
    with blas_threads_for(2 * weight.size * math.prod(x.shape[:-1])):  # small products: one BLAS thread
        out = x @ weight.T
    if bias is not None:
        bias = as_float_array(bias, "linear", "bias")
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"linear: expected bias of shape ({weight.shape[0]},), got {bias.shape}")
        out += bias.astype(x.dtype, copy=False)
    return out, LinearCache(x, weight, bias is not None)


@gradient_of("linear", "LinearCache", dout="shape (*, out_features)")
def linear_backward(dout, cache: LinearCache):
    """Gradients of ``linear``.

    Returns
    -------
    dx : ndarray, shape (*, in_features)
        ``dout @ W``
    dweight : ndarray, shape (out_features, in_features)
        ``dout.T @ x``, summed over every leading axis.
    dbias : ndarray, shape (out_features,) or None
        ``dout`` summed over every leading axis.
    """
    x, weight, has_bias = cache
    dout = check_dout(dout, x.shape[:-1] + (weight.shape[0],), x.dtype, "linear_backward")
    # Explicit row counts, not -1: the reshapes must also work when a feature axis is empty.
    rows = math.prod(x.shape[:-1])
    dout_2d = dout.reshape(rows, weight.shape[0])
    with blas_threads_for(2 * weight.size * rows):  # (each product's flops) small products: one BLAS thread
        dx = dout @ weight
        dweight = dout_2d.T @ x.reshape(rows, weight.shape[1])
    dbias = dout_2d.sum(axis=0) if has_bias else None
    return dx, dweight, dbias
