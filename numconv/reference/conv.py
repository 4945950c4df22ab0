"""Convolution as a teacher writes it on the blackboard: one loop per index.

Read these before ``numconv.functional.conv``: the fast version computes
exactly these sums, only rearranged into matrix products (``im2col``). They
work for 1, 2 or 3 spatial axes (``np.ndindex`` walks over all output
positions and kernel offsets, whatever their number) and support stride,
zero padding, dilation and groups.

They are slow (pure Python, millions of times slower than the fast path on
big inputs) and used as the second oracle of the tests, on small shapes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["conv_nd_naive", "conv_nd_naive_backward", "conv_products", "im2col_naive"]


def _as_tuple(value, nd):
    return (value,) * nd if isinstance(value, int) else tuple(value)


def _geometry(x_shape, weight_shape, stride, padding, dilation):
    nd = len(weight_shape) - 2
    stride, padding, dilation = (_as_tuple(v, nd) for v in (stride, padding, dilation))
    kernel = weight_shape[2:]
    padded = [s + 2 * p for s, p in zip(x_shape[2:], padding)]
    out = tuple((s - d * (k - 1) - 1) // st + 1 for s, k, st, d in zip(padded, kernel, stride, dilation))
    return stride, padding, dilation, kernel, out


def _zero_pad(x, padding):
    return np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])


def _input_index(position, offset, stride, dilation):
    """The (padded) input pixel under kernel ``offset`` when the output is at ``position``."""
    return tuple(p * s + o * d for p, o, s, d in zip(position, offset, stride, dilation))


def conv_products(n_batch, weight_shape, out_shape, stride=1, dilation=1, groups=1):
    """Every product in a convolution's sums, as index triples ``(x_index, w_index, out_index)``.

    ``out[out_index] += x_padded[x_index] * weight[w_index]``, over all of
    them in order, is the convolution of the zero-padded input with
    ``weight`` (of ``weight_shape``, (C_out, C_in / groups, *k)), for a
    batch of ``n_batch`` and an output of spatial shape ``out_shape``. The
    products of one output element come one after the other.
    """
    c_out, c_per_group, kernel = weight_shape[0], weight_shape[1], weight_shape[2:]
    stride, dilation = _as_tuple(stride, len(kernel)), _as_tuple(dilation, len(kernel))
    k_per_group = c_out // groups
    for n in range(n_batch):
        for k in range(c_out):
            group = k // k_per_group          # output channel k sees only its group's input channels
            for position in np.ndindex(*out_shape):
                for c in range(c_per_group):
                    for offset in np.ndindex(*kernel):
                        pixel = _input_index(position, offset, stride, dilation)
                        yield (n, group * c_per_group + c) + pixel, (k, c) + offset, (n, k) + position


def conv_nd_naive(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Convolution (cross-correlation) by explicit loops.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, *spatial)
    weight : ndarray, shape (C_out, C_in / groups, *k)
    bias : ndarray, shape (C_out,), optional
    stride, padding, dilation : int or tuple (one per spatial axis)
        ``padding`` adds that many zeros on both sides of each axis.
    groups : int

    Returns
    -------
    out : ndarray, shape (N, C_out, *out_spatial)
    """
    stride, padding, dilation, kernel, out_shape = _geometry(x.shape, weight.shape, stride, padding, dilation)
    x = _zero_pad(x, padding)
    out = np.zeros((x.shape[0], weight.shape[0], *out_shape), dtype=x.dtype)
    if bias is not None:
        out += bias.reshape((-1,) + (1,) * len(out_shape))  # each sum starts from the bias
    for x_index, w_index, out_index in conv_products(x.shape[0], weight.shape, out_shape, stride, dilation, groups):
        out[out_index] += x[x_index] * weight[w_index]
    return out


def conv_nd_naive_backward(dout, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """Gradients of ``conv_nd_naive`` by the same loops, run backwards.

    Every product ``x[pixel] * weight[k, c, offset]`` that went into
    ``out[n, k, position]`` sends ``dout[n, k, position] * weight[...]`` to
    the pixel and ``dout[...] * x[pixel]`` to the weight.

    Parameters
    ----------
    dout : ndarray, shape (N, C_out, *out_spatial)
    x, weight, stride, padding, dilation, groups : as for ``conv_nd_naive``

    Returns
    -------
    dx : ndarray, shape of ``x``
    dweight : ndarray, shape of ``weight``
    dbias : ndarray, shape (C_out,)
    """
    stride, padding, dilation, kernel, out_shape = _geometry(x.shape, weight.shape, stride, padding, dilation)
    x_padded = _zero_pad(x, padding)
    dx_padded = np.zeros_like(x_padded)
    dweight = np.zeros_like(weight)
    for x_index, w_index, out_index in conv_products(x.shape[0], weight.shape, out_shape, stride, dilation, groups):
        g = dout[out_index]
        dx_padded[x_index] += g * weight[w_index]
        dweight[w_index] += g * x_padded[x_index]
    crop = tuple(slice(p, p + s) for p, s in zip(padding, x.shape[2:]))
    dx = dx_padded[(slice(None), slice(None)) + crop]
    dbias = dout.reshape(dout.shape[0], dout.shape[1], -1).sum(axis=(0, 2))
    return dx, dweight, dbias


def im2col_naive(x, kernel_size, stride=1, dilation=1):
    """``im2col`` one entry at a time: the definition of the column layout.

    Parameters
    ----------
    x : ndarray, shape (N, C, *spatial)
    kernel_size, stride, dilation : int or tuple

    Returns
    -------
    cols : ndarray, shape (C * prod(k), N * prod(out_spatial))
        Row ``c * prod(k) + (flat offset)``, column ``n * prod(out) + (flat position)``.
    """
    nd = x.ndim - 2
    kernel, stride, dilation = (_as_tuple(v, nd) for v in (kernel_size, stride, dilation))
    out_shape = tuple((s - d * (k - 1) - 1) // st + 1 for s, k, st, d in zip(x.shape[2:], kernel, stride, dilation))
    n_batch, channels = x.shape[:2]
    cols = np.zeros((channels * int(np.prod(kernel)), n_batch * int(np.prod(out_shape))), dtype=x.dtype)
    for c in range(channels):
        for k_flat, offset in enumerate(np.ndindex(*kernel)):
            row = c * int(np.prod(kernel)) + k_flat
            for n in range(n_batch):
                for p_flat, position in enumerate(np.ndindex(*out_shape)):
                    column = n * int(np.prod(out_shape)) + p_flat
                    cols[row, column] = x[(n, c) + _input_index(position, offset, stride, dilation)]
    return cols
