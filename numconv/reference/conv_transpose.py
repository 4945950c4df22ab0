"""Transposed convolution by explicit loops: every input pixel stamps the kernel onto the output.

Read this before ``numconv.functional.conv_transpose``. Where a convolution
*gathers* (each output pixel is a weighted sum of a window of inputs), a
transposed convolution *scatters*: input pixel ``i`` adds
``x[i] * weight[offset]`` to output pixel ``i * stride + offset * dilation -
padding``, for every kernel offset. Outputs that receive several stamps sum
them. These are exactly the products of the convolution that would map the
(uncropped) output back to the input's shape, read the other way: the loops
are ``numconv.reference.conv.conv_products``. Slow, and used as the second
oracle of the tests on small shapes.
"""

from __future__ import annotations

import numpy as np

from .conv import conv_products

__all__ = ["conv_transpose_nd_naive", "conv_transpose_nd_naive_backward"]


def _as_tuple(value, nd):
    return (value,) * nd if isinstance(value, int) else tuple(value)


def _geometry(x_shape, weight_shape, stride, padding, output_padding, dilation):
    """Stride, padding, dilation, the output's spatial shape, and that of the output before cropping the padding."""
    nd = len(weight_shape) - 2
    stride, padding, output_padding, dilation = (_as_tuple(v, nd) for v in (stride, padding, output_padding,
                                                                             dilation))
    full = tuple((i - 1) * s + d * (k - 1) + op + 1
                 for i, k, s, op, d in zip(x_shape[2:], weight_shape[2:], stride, output_padding, dilation))
    return stride, padding, dilation, tuple(f - 2 * p for f, p in zip(full, padding)), full


def _crop(padding, out_shape):
    """The output inside the uncropped one: ``padding`` pixels off each side."""
    return (slice(None), slice(None)) + tuple(slice(p, p + n) for p, n in zip(padding, out_shape))


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
    stride, padding, dilation, out_shape, full_shape = _geometry(x.shape, weight.shape, stride, padding,
                                                                 output_padding, dilation)
    full = np.zeros((x.shape[0], weight.shape[1] * groups, *full_shape), dtype=x.dtype)
    # the products of the convolution that maps ``full`` back to ``x``, each stamped onto ``full``
    for out_index, w_index, x_index in conv_products(x.shape[0], weight.shape, x.shape[2:], stride, dilation, groups):
        full[out_index] += x[x_index] * weight[w_index]
    out = full[_crop(padding, out_shape)]
    if bias is not None:
        out += bias.reshape((-1,) + (1,) * len(out_shape))
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
    stride, padding, dilation, out_shape, full_shape = _geometry(x.shape, weight.shape, stride, padding,
                                                                 output_padding, dilation)
    dfull = np.zeros((*dout.shape[:2], *full_shape), dtype=dout.dtype)  # the cropped-off outputs have no gradient
    dfull[_crop(padding, out_shape)] = dout
    dx = np.zeros_like(x)
    dweight = np.zeros_like(weight)
    for out_index, w_index, x_index in conv_products(x.shape[0], weight.shape, x.shape[2:], stride, dilation, groups):
        g = dfull[out_index]
        dx[x_index] += g * weight[w_index]
        dweight[w_index] += g * x[x_index]
    dbias = dout.reshape(dout.shape[0], dout.shape[1], -1).sum(axis=(0, 2))
    return dx, dweight, dbias
