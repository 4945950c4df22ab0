"""numba kernels for bilinear resizing of (planes, H, W) arrays: the forward pass and its adjoint.

Linear interpolation is separable: along each axis, output ``i`` mixes input
``first[i]`` with weight ``w0[i]`` and input ``second[i]`` with weight
``w1[i]`` (``numconv.functional.upsample.linear_taps``). As matrices, with
``A_h`` and ``A_w`` the (out, in) interpolation matrices of the two axes
(``interpolation_matrix``), one plane is resized as ``A_h @ x @ A_w.T``
and its gradient is ``A_h.T @ dout @ A_w``. NumPy does that with two dense
matrix products per plane, most of whose terms are zeros; these loops touch
only the four pixels each output mixes, one plane at a time (the plane stays
in cache), which is what makes the layer faster than PyTorch's.

The arithmetic order is PyTorch's: ``wy0 * (wx0 * x[y0, x0] + wx1 * x[y0, x1])
+ wy1 * (wx0 * x[y1, x0] + wx1 * x[y1, x1])``.
"""

from __future__ import annotations

from ._jit import lazy_njit

__all__ = ["bilinear_forward", "bilinear_backward"]


@lazy_njit
def bilinear_forward(x, out, y0, y1, wy0, wy1, x0, x1, wx0, wx1, first, stop):  # pragma: no cover - numba
    """Resize planes ``first .. stop - 1`` of ``x`` into ``out``.

    Equals, for every plane ``p`` in the range, the NumPy expression
    ``out[p] = A_h @ x[p] @ A_w.T`` (up to float rounding), where ``A_h`` and
    ``A_w`` are the interpolation matrices given by the taps.

    Parameters
    ----------
    x : ndarray, shape (P, H, W), C-contiguous
    out : ndarray, shape (P, H_out, W_out), written
    y0, y1 : int64 arrays of H_out; wy0, wy1 : arrays of H_out in x's dtype
        The two rows each output row mixes, and their weights.
    x0, x1 : int64 arrays of W_out; wx0, wx1 : arrays of W_out
        The same along the width.
    first, stop : int
        The planes to do (two workers share the planes).
    """
    h_out, w_out = out.shape[1], out.shape[2]
    for p in range(first, stop):
        for i in range(h_out):
            top, bottom = x[p, y0[i]], x[p, y1[i]]
            a, b = wy0[i], wy1[i]
            row = out[p, i]
            for j in range(w_out):
                left, right = x0[j], x1[j]
                c, d = wx0[j], wx1[j]
                row[j] = a * (c * top[left] + d * top[right]) + b * (c * bottom[left] + d * bottom[right])
    return out


@lazy_njit
def bilinear_backward(dout, dx, y0, y1, wy0, wy1, x0, x1, wx0, wx1, first, stop):  # pragma: no cover - numba
    """Add the gradient of ``bilinear_forward`` for planes ``first .. stop - 1`` into ``dx``.

    Equals, for every plane ``p`` in the range, ``dx[p] += A_h.T @ dout[p] @ A_w``
    (up to float rounding): each output's gradient goes back to the four
    pixels it mixed, with the weights it mixed them with.

    Parameters
    ----------
    dout : ndarray, shape (P, H_out, W_out), C-contiguous
    dx : ndarray, shape (P, H, W), zero-filled by the caller (NumPy-allocated)
    y0, y1, wy0, wy1, x0, x1, wx0, wx1, first, stop : as for ``bilinear_forward``
    """
    h_out, w_out = dout.shape[1], dout.shape[2]
    for p in range(first, stop):
        for i in range(h_out):
            top, bottom = dx[p, y0[i]], dx[p, y1[i]]
            a, b = wy0[i], wy1[i]
            row = dout[p, i]
            for j in range(w_out):
                g = row[j]
                left, right = x0[j], x1[j]
                c, d = wx0[j], wx1[j]
                top[left] += a * c * g
                top[right] += a * d * g
                bottom[left] += b * c * g
                bottom[right] += b * d * g
    return dx
