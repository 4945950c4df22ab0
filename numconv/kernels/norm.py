"""Fused batch-norm loops: one pass over memory per step.

Batch norm is memory-bound: each element is read, combined with two or three
per-channel numbers, and written. Written with NumPy, every step (subtract
the mean, square, sum, scale, shift) is a separate pass over the whole
(N, C, H, W) array, with a temporary the size of the input. These kernels do
each step in a single pass instead:

- ``batch_norm_stats``: mean and biased variance of every channel;
- ``batch_norm_apply``: ``(x - mean) * scale + shift``, the forward output;
- ``batch_norm_backward_sums``: ``sum(dy)`` and ``sum(dy * (x - mean))`` of
  every channel, the two reductions the backward pass needs;
- ``batch_norm_backward_apply``: ``dx = a * dy + b * (x - mean) + c``, the
  input gradient once those sums are known.

Every array is viewed as (N, C, M), M being the product of the spatial axes,
and must be C-contiguous. Sums are accumulated in float64 whatever the input
dtype, so float32 statistics are as accurate as the float32 data allows.
``fastmath`` allows only re-association (and fused multiply-add), which is
what lets LLVM vectorise the sums; NaN and Inf still propagate.

Output arrays are allocated by the caller with NumPy (numba's allocator
misses transparent huge pages on this kind of machine, which costs 2-3x).
"""

from __future__ import annotations

import numpy as np

from ._jit import lazy_njit

__all__ = [
    "batch_norm_stats",
    "batch_norm_apply",
    "batch_norm_backward_sums",
    "batch_norm_backward_apply",
]

# Re-association lets the per-channel sums vectorise (about 6x faster);
# no 'nnan'/'ninf', so a NaN in the data still shows up in the result.
_FAST = {"reassoc", "contract", "nsz"}


@lazy_njit(fastmath=_FAST)
def batch_norm_stats(x, mean, var, first=0, stop=-1):
    """Per-channel mean and biased variance, in one pass, into ``mean`` and ``var``.

    Equals ``mean[:] = x.mean(axis=(0, 2)); var[:] = x.var(axis=(0, 2))``
    computed in float64.

    Parameters
    ----------
    x : ndarray, shape (N, C, M), float32 or float64, C-contiguous
    mean, var : ndarray, shape (C,), float64
        Filled in place. A channel with no elements (N * M == 0) gets NaN.
    first, stop : int
        Do only channels ``first <= c < stop`` (``stop=-1``: to the last),
        so that two threads can share the channels.

    Notes
    -----
    One pass with ``sum(x)`` and ``sum(x**2)`` loses precision when the mean
    is large compared with the spread (``E[x^2] - E[x]^2`` cancels). Summing
    ``x - shift`` instead, with ``shift`` the channel's first value (a value
    of the same size as the mean), removes that cancellation for any data
    whose spread is not tiny next to its distance from that first value.
    """
    n, channels, m = x.shape
    count = n * m
    for c in range(first, channels if stop < 0 else stop):
        if count == 0:
            mean[c] = np.nan
            var[c] = np.nan
            continue
        shift = np.float64(x[0, c, 0])
        s1 = 0.0
        s2 = 0.0
        for i in range(n):
            row = x[i, c]
            for j in range(m):
                d = np.float64(row[j]) - shift
                s1 += d
                s2 += d * d
        mu = s1 / count
        mean[c] = shift + mu
        var[c] = max(s2 / count - mu * mu, 0.0)


@lazy_njit(fastmath=_FAST)
def channel_affine(x, mean, scale, shift, out, a, dy):
    """``out = (x - mean) * scale + shift``, plus ``a * dy`` when ``dy`` is given, per channel, in one pass.

    The forward output of batch norm (``dy`` None) and its input gradient
    share this loop; whether ``dy`` is None is decided when numba compiles
    (None gets its own compiled version), not per element.

    Parameters
    ----------
    x : ndarray, shape (N, C, M), C-contiguous
    mean, scale, shift : ndarray, shape (C,), same dtype as ``x``
    out : ndarray, shape (N, C, M), same dtype as ``x``
        Written in place (may not overlap ``x`` or ``dy``).
    a : ndarray, shape (C,), or None
    dy : ndarray, shape (N, C, M), C-contiguous, or None
    """
    n, channels, m = x.shape
    for i in range(n):
        for c in range(channels):
            mu = mean[c]
            s = scale[c]
            b = shift[c]
            row = x[i, c]
            dst = out[i, c]
            if dy is None:
                for j in range(m):
                    dst[j] = (row[j] - mu) * s + b
            else:
                ac = a[c]
                g = dy[i, c]
                for j in range(m):
                    dst[j] = ac * g[j] + s * (row[j] - mu) + b


def batch_norm_apply(x, mean, scale, shift, out):
    """The normalised, scaled and shifted output, in one pass (``channel_affine``).

    Equals ``out[:] = (x - mean[:, None]) * scale[:, None] + shift[:, None]``.

    Parameters
    ----------
    x : ndarray, shape (N, C, M), C-contiguous
    mean, scale, shift : ndarray, shape (C,), same dtype as ``x``
        For batch norm ``scale = weight / sqrt(var + eps)`` and ``shift = bias``.
    out : ndarray, shape (N, C, M), same dtype as ``x``
        Written in place (may not overlap ``x``).
    """
    channel_affine(x, mean, scale, shift, out, None, None)


@lazy_njit(fastmath=_FAST)
def batch_norm_backward_sums(dy, x, mean, sum_dy, sum_dy_xmu, first=0, stop=-1):
    """The two per-channel reductions of the batch-norm backward pass, in one pass.

    Equals ``sum_dy[:] = dy.sum(axis=(0, 2))`` and
    ``sum_dy_xmu[:] = (dy * (x - mean[:, None])).sum(axis=(0, 2))``,
    computed in float64.

    Parameters
    ----------
    dy, x : ndarray, shape (N, C, M), same dtype, C-contiguous
    mean : ndarray, shape (C,), float64
    sum_dy, sum_dy_xmu : ndarray, shape (C,), float64
        Filled in place.
    first, stop : int
        Do only channels ``first <= c < stop`` (``stop=-1``: to the last).
    """
    n, channels, m = x.shape
    for c in range(first, channels if stop < 0 else stop):
        mu = mean[c]
        s1 = 0.0
        s2 = 0.0
        for i in range(n):
            g = dy[i, c]
            row = x[i, c]
            for j in range(m):
                gj = np.float64(g[j])
                s1 += gj
                s2 += gj * (np.float64(row[j]) - mu)
        sum_dy[c] = s1
        sum_dy_xmu[c] = s2


def batch_norm_backward_apply(dy, x, mean, a, b, c0, dx):
    """The input gradient ``a * dy + b * (x - mean) + c0``, per channel, in one pass (``channel_affine``).

    Equals ``dx[:] = a[:, None] * dy + b[:, None] * (x - mean[:, None]) + c0[:, None]``.

    Parameters
    ----------
    dy, x : ndarray, shape (N, C, M), same dtype, C-contiguous
    mean, a, b, c0 : ndarray, shape (C,), same dtype as ``x``
    dx : ndarray, shape (N, C, M), same dtype as ``x``
        Written in place (may not overlap ``dy`` or ``x``).
    """
    channel_affine(x, mean, b, c0, dx, a, dy)
