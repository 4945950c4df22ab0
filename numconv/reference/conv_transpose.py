"""Transposed convolution with one loop per index: every input pixel stamps the kernel onto the output.

Read this before ``numconv.functional.conv_transpose``. Where a convolution
*gathers* (each output pixel is a weighted sum of a window of inputs), a
transposed convolution *scatters*: input pixel ``i`` adds
``x[i] * weight[offset]`` to output pixel ``i * stride + offset * dilation -
padding``, for every kernel offset. Outputs that receive several stamps sum
them. Slow, and used as the second oracle of the tests on small shapes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["conv_transpose_nd_naive", "conv_transpose_nd_naive_backward"]


def _as_tuple(value, nd):
    return (value,) * nd if isinstance(value, int) else tuple(value)


def _geometry(x_shape, weight_shape, stride, padding, output_padding, dilation):
    nd = len(weight_shape) - 2
    stride, padding, output_padding, dilation = (_as_tuple(v, nd) for v in (stride, padding, output_padding,
                                                                             dilation))
    kernel = weight_shape[2:]
    out = tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1
                for i, k, s, p, op, d in zip(x_shape[2:], kernel, stride, padding, output_padding, dilation))
    return stride, padding, dilation, kernel, out


def _target(position, offset, stride, dilation, padding, out_shape):
    """The output pixel that input ``position`` reaches through kernel ``offset``, or None if it is cropped."""
    pixel = tuple(i * s + o * d - p for i, o, s, d, p in zip(position, offset, stride, dilation, padding))
    return pixel if all(0 <= q < n for q, n in zip(pixel, out_shape)) else None


def conv_transpose_nd_naive(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution by explicit loops.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, *spatial)
    weight : ndarray, shape (C_in, C_out / groups, *k)
    bias : ndarray, shape (C_out,), optional
    stride, padding, output_padding, dilation : int or tuple (one per spatial axis)
    groups : int

    Returns
    -------
    out : ndarray, shape (N, C_out, *out_spatial)
        ``out_spatial = (in - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.
    """
    stride, padding, dilation, kernel, out_shape = _geometry(x.shape, weight.shape, stride, padding,
                                                             output_padding, dilation)
    n_batch, c_in, k_per_group = x.shape[0], x.shape[1], weight.shape[1]
    c_per_group = c_in // groups
    out = np.zeros((n_batch, k_per_group * groups, *out_shape), dtype=x.dtype)
    for n in range(n_batch):
        for c in range(c_in):
            group = c // c_per_group           # input channel c stamps onto its group's output channels only
            for position in np.ndindex(*x.shape[2:]):
                value = x[(n, c) + position]
                for k in range(k_per_group):
                    channel = group * k_per_group + k
                    for offset in np.ndindex(*kernel):
                        pixel = _target(position, offset, stride, dilation, padding, out_shape)
                        if pixel is not None:
                            out[(n, channel) + pixel] += value * weight[(c, k) + offset]
    if bias is not None:
        out += bias.reshape((-1,) + (1,) * len(kernel))
    return out


def conv_transpose_nd_naive_backward(dout, x, weight, stride=1, padding=0, output_padding=0, groups=1,
                                     dilation=1):
    """Gradients of ``conv_transpose_nd_naive`` by the same loops.

    Each stamp ``out[pixel] += x[position] * weight[offset]`` sends
    ``dout[pixel] * weight[offset]`` back to the input pixel and
    ``dout[pixel] * x[position]`` to the weight.

    Returns
    -------
    dx : ndarray, shape of ``x``
    dweight : ndarray, shape of ``weight``
    dbias : ndarray, shape (C_out,)
    """
    stride, padding, dilation, kernel, out_shape = _geometry(x.shape, weight.shape, stride, padding,
                                                             output_padding, dilation)
    dx = np.zeros_like(x)
    dweight = np.zeros_like(weight)
    n_batch, c_in, k_per_group = x.shape[0], x.shape[1], weight.shape[1]
    c_per_group = c_in // groups
    for n in range(n_batch):
        for c in range(c_in):
            group = c // c_per_group
            for position in np.ndindex(*x.shape[2:]):
                for k in range(k_per_group):
                    channel = group * k_per_group + k
                    for offset in np.ndindex(*kernel):
                        pixel = _target(position, offset, stride, dilation, padding, out_shape)
                        if pixel is not None:
                            g = dout[(n, channel) + pixel]
                            dx[(n, c) + position] += g * weight[(c, k) + offset]
                            dweight[(c, k) + offset] += g * x[(n, c) + position]
    dbias = dout.reshape(dout.shape[0], dout.shape[1], -1).sum(axis=(0, 2))
    return dx, dweight, dbias
