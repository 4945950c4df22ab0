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


def _bilinear_planes(adjoint):
    """Resize planes (``adjoint`` False), or add the resize's gradient back (True); ``adjoint`` is compiled in.

    Returns ``kernel(image, resized, y0, y1, wy0, wy1, x0, x1, wx0, wx1, first, stop)``
    for planes ``first .. stop - 1`` (two workers share the planes):

    * forward: ``resized[p] = A_h @ image[p] @ A_w.T`` (up to float
      rounding), where ``A_h`` and ``A_w`` are the interpolation matrices
      given by the taps;
    * adjoint: ``image[p] += A_h.T @ resized[p] @ A_w``: each output's
      gradient goes back to the four pixels it mixed, with the weights it
      mixed them with.

    Parameters (of the kernel)
    --------------------------
    image : ndarray, shape (P, H, W), C-contiguous
        ``x`` forward; ``dx`` backward, zero-filled by the caller (NumPy-allocated).
    resized : ndarray, shape (P, H_out, W_out)
        ``out`` forward (written); ``dout`` backward.
    y0, y1 : int64 arrays of H_out; wy0, wy1 : arrays of H_out in x's dtype
        The two rows each output row mixes, and their weights.
    x0, x1 : int64 arrays of W_out; wx0, wx1 : arrays of W_out
        The same along the width.
    first, stop : int
        The planes to do.
    """

    @lazy_njit
    def bilinear_planes(image, resized, y0, y1, wy0, wy1, x0, x1, wx0, wx1, first, stop):  # pragma: no cover
        h_out, w_out = resized.shape[1], resized.shape[2]
        for p in range(first, stop):
            for i in range(h_out):
                top, bottom = image[p, y0[i]], image[p, y1[i]]
                a, b = wy0[i], wy1[i]
                row = resized[p, i]
                for j in range(w_out):
                    left, right = x0[j], x1[j]
                    c, d = wx0[j], wx1[j]
                    if adjoint:
                        g = row[j]
                        top[left] += a * c * g
                        top[right] += a * d * g
                        bottom[left] += b * c * g
                        bottom[right] += b * d * g
                    else:
                        row[j] = a * (c * top[left] + d * top[right]) + b * (c * bottom[left] + d * bottom[right])

    return bilinear_planes


_bilinear_forward, _bilinear_adjoint = _bilinear_planes(False), _bilinear_planes(True)


def bilinear_forward(x, out, y0, y1, wy0, wy1, x0, x1, wx0, wx1, first, stop):
    """Resize planes ``first .. stop - 1`` of ``x`` (P, H, W) into ``out`` (P, H_out, W_out) (``_bilinear_planes``)."""
    _bilinear_forward(x, out, y0, y1, wy0, wy1, x0, x1, wx0, wx1, first, stop)
    return out


def bilinear_backward(dout, dx, y0, y1, wy0, wy1, x0, x1, wx0, wx1, first, stop):
    """Add the gradient of ``bilinear_forward`` for planes ``first .. stop - 1`` into ``dx`` (``_bilinear_planes``)."""
    _bilinear_adjoint(dx, dout, y0, y1, wy0, wy1, x0, x1, wx0, wx1, first, stop)
    return dx
