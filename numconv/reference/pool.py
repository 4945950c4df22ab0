"""Pooling written as plain loops: the blackboard version.

One Python ``for`` per index, for inputs of shape ``(N, C, *spatial)`` with
one, two or three spatial axes (``itertools.product`` walks the output
positions and the window taps, whatever their number). Slow, and meant to be
read: ``numconv.functional.pool`` computes the same numbers with numba
loops, and the tests hold the two together.

Every function takes tuples for the window (one entry per spatial axis) and
trusts its arguments; checking them is the functional layer's job.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = [
    "output_size",
    "max_pool_forward", "max_pool_backward",
    "avg_pool_forward", "avg_pool_backward",
    "adaptive_avg_pool_forward", "adaptive_avg_pool_backward", "adaptive_max_pool_forward",
]


def output_size(size, kernel, stride, padding, dilation=1, ceil_mode=False):
    """How many windows fit along one axis (PyTorch's rule)."""
    span = dilation * (kernel - 1) + 1
    room = size + 2 * padding - span
    if ceil_mode:
        out = math.ceil(room / stride) + 1
        # the last window must start inside the input or its left padding
        if (out - 1) * stride >= size + padding:
            out -= 1
    else:
        out = math.floor(room / stride) + 1
    return out


def _window(position, kernel, stride, padding, dilation):
    """The input coordinates (one tuple per tap, in scan order) of the window at ``position``."""
    taps = itertools.product(*(range(k) for k in kernel))
    return [tuple(o * s - p + t * d for o, s, p, t, d in zip(position, stride, padding, tap, dilation))
            for tap in taps]


def _inside(point, spatial):
    return all(0 <= i < n for i, n in zip(point, spatial))


def max_pool_forward(x, kernel, stride, padding, dilation, ceil_mode=False):
    """Max pooling. Returns ``out`` and ``indices`` (flat positions in each unpadded plane).

    Parameters
    ----------
    x : ndarray, shape (N, C, *spatial)
    kernel, stride, padding, dilation : tuples, one entry per spatial axis
    ceil_mode : bool

    Returns
    -------
    out : ndarray, shape (N, C, *out_spatial)
    indices : ndarray of int64, same shape; -1 for a window with no input element
    """
    spatial = x.shape[2:]
    out_spatial = [output_size(*args, ceil_mode) for args in zip(spatial, kernel, stride, padding, dilation)]
    return _max_over_windows(x, out_spatial, lambda position: _window(position, kernel, stride, padding, dilation))


def _max_over_windows(x, out_spatial, window):
    """``out`` and ``indices`` of max pooling with the windows ``window(position)`` (points of the input)."""
    N, C, *spatial = x.shape
    out = np.empty((N, C, *out_spatial), dtype=x.dtype)
    indices = np.empty((N, C, *out_spatial), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for position in itertools.product(*(range(m) for m in out_spatial)):
                best, best_at = -np.inf, -1
                for point in window(position):
                    if not _inside(point, spatial):
                        continue  # padding is -inf: it never wins
                    value = x[(n, c) + point]
                    # The first real element starts the search, so an all -inf window points at it.
                    # Strict ">" keeps the first of equal maxima; a NaN beats everything, even an earlier NaN.
                    if best_at == -1 or value > best or np.isnan(value):
                        best, best_at = value, int(np.ravel_multi_index(point, spatial))
                out[(n, c) + position] = best
                indices[(n, c) + position] = best_at
    return out, indices


def max_pool_backward(dout, indices, x_shape):
    """Each output gradient goes to the element that was its window's maximum.

    Parameters
    ----------
    dout, indices : ndarray, shape (N, C, *out_spatial)
    x_shape : tuple, the input shape (N, C, *spatial)

    Returns
    -------
    dx : ndarray, shape ``x_shape``
    """
    N, C, *spatial = x_shape
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for n in range(N):
        for c in range(C):
            for position in itertools.product(*(range(m) for m in dout.shape[2:])):
                flat = indices[(n, c) + position]
                if flat >= 0:
                    point = np.unravel_index(flat, spatial)
                    dx[(n, c) + tuple(point)] += dout[(n, c) + position]
    return dx


def _avg_divisor(position, spatial, kernel, stride, padding, count_include_pad, divisor_override):
    """How many numbers a window's sum is divided by."""
    if divisor_override:
        return divisor_override
    count = 1
    for o, n, k, s, p in zip(position, spatial, kernel, stride, padding):
        start = o * s - p
        end = min(start + k, n + p)  # a ceil_mode window hanging past the padding is cut at its end
        if not count_include_pad:
            start, end = max(start, 0), min(end, n)
        count *= end - start
    return count


def avg_pool_forward(x, kernel, stride, padding, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Average pooling (zero padding; divisor as in PyTorch, see ``_avg_divisor``).

    Parameters
    ----------
    x : ndarray, shape (N, C, *spatial)
    kernel, stride, padding : tuples, one entry per spatial axis

    Returns
    -------
    out : ndarray, shape (N, C, *out_spatial)
    """
    N, C, *spatial = x.shape
    dilation = (1,) * len(spatial)
    out_spatial = [output_size(n, k, s, p, 1, ceil_mode) for n, k, s, p in zip(spatial, kernel, stride, padding)]
    out = np.zeros((N, C, *out_spatial), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for position in itertools.product(*(range(m) for m in out_spatial)):
                points = [q for q in _window(position, kernel, stride, padding, dilation) if _inside(q, spatial)]
                if not points:
                    continue  # no input element: PyTorch gives 0
                total = sum(float(x[(n, c) + q]) for q in points)
                divisor = _avg_divisor(position, spatial, kernel, stride, padding, count_include_pad,
                                       divisor_override)
                out[(n, c) + position] = total / divisor
    return out


def avg_pool_backward(dout, x_shape, kernel, stride, padding, count_include_pad=True, divisor_override=None):
    """Each output gradient, divided by its window's divisor, is added to the window's input elements.

    Returns
    -------
    dx : ndarray, shape ``x_shape``
    """
    N, C, *spatial = x_shape
    dilation = (1,) * len(spatial)
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for n in range(N):
        for c in range(C):
            for position in itertools.product(*(range(m) for m in dout.shape[2:])):
                divisor = _avg_divisor(position, spatial, kernel, stride, padding, count_include_pad,
                                       divisor_override)
                for q in _window(position, kernel, stride, padding, dilation):
                    if _inside(q, spatial):
                        dx[(n, c) + q] += dout[(n, c) + position] / divisor
    return dx


def _adaptive_ranges(position, spatial, out_spatial):
    """The input ranges of adaptive window ``position``: [floor(i*n/m), ceil((i+1)*n/m)) per axis."""
    return [range(i * n // m, math.ceil((i + 1) * n / m)) for i, n, m in zip(position, spatial, out_spatial)]


def adaptive_avg_pool_forward(x, out_spatial):
    """Adaptive average pooling to ``out_spatial`` (a tuple of output sizes)."""
    N, C, *spatial = x.shape
    out = np.zeros((N, C, *out_spatial), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for position in itertools.product(*(range(m) for m in out_spatial)):
                points = list(itertools.product(*_adaptive_ranges(position, spatial, out_spatial)))
                out[(n, c) + position] = sum(float(x[(n, c) + q]) for q in points) / len(points)
    return out


def adaptive_avg_pool_backward(dout, x_shape):
    """Each output gradient, divided by its window size, is added over its window."""
    N, C, *spatial = x_shape
    out_spatial = dout.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for n in range(N):
        for c in range(C):
            for position in itertools.product(*(range(m) for m in out_spatial)):
                points = list(itertools.product(*_adaptive_ranges(position, spatial, out_spatial)))
                for q in points:
                    dx[(n, c) + q] += dout[(n, c) + position] / len(points)
    return dx


def adaptive_max_pool_forward(x, out_spatial):
    """Adaptive max pooling: ``out`` and ``indices`` (its backward is ``max_pool_backward``)."""
    spatial = x.shape[2:]
    return _max_over_windows(
        x, out_spatial, lambda position: itertools.product(*_adaptive_ranges(position, spatial, out_spatial)))
