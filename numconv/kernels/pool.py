"""numba loops for pooling: max, average and adaptive pooling, forward and backward.

Pooling does a handful of flops per output, so in NumPy it is bound by the
overhead of building windows, ``argmax`` and masks. These loops visit each
window once instead. Every kernel works on *planes*: the input is reshaped by
``numconv.functional.pool`` to ``(P, D, H, W)`` with ``P = N * C`` (1-D and
2-D pooling use size-1 leading spatial axes and a kernel of 1 there), so one
generic 3-D loop serves all three ranks. Outputs are allocated by the caller
in NumPy and filled here.

Window geometry, per spatial axis: output position ``o`` starts at input
coordinate ``o * stride - padding`` and its taps are ``start + t * dilation``
for ``t = 0 .. kernel - 1``. Taps outside ``[0, size)`` are padding and are
skipped: for max pooling padding is ``-inf``, for average pooling it is zero
(and counted in the divisor or not, see ``avg_pool_forward``).

Three tiers, each measured to pay for itself (``tests/test_pool.py`` holds
them equal; times for (16, 64, 56, 56) float32 on this machine, one thread):

* the generic 3-D loops here, for every window (any size, stride, padding,
  dilation, rank);
* plane kernels compiled per common 2-D window shape (``pool_windows.py``):
  2-70x faster than the generic loops (3 x 3 stride 2 average: 2.5 ms
  against 85 ms);
* for 2 x 2 windows with stride 2 and no padding, by far the most common
  kind, unrolled kernels below: 2-3x faster again (max forward 1.1 ms
  against 2.1 ms, average forward 0.6 against 1.7, average backward 0.9
  against 2.1).

The NumPy expressions named in the docstrings use ``win``: a strided view of
the padded input with one window per output position, shape
``(P, OD, OH, OW, kd * kh * kw)``, taps in row-major (depth, height, width)
order.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit_helper, lazy_njit


@jit_helper
def clipped_window(o, stride, padding, kernel, size):
    """One axis of output ``o``'s average-pooling window: ``(start, end, first, stop)``.

    The window runs from ``start = o * stride - padding`` to ``end``, clipped
    to the padded input (a ``ceil_mode`` window may hang past it);
    ``first:stop`` is its part inside the real input (empty if none).
    """
    start = o * stride - padding
    end = min(start + kernel, size + padding)
    return start, end, max(start, 0), min(end, size)


@jit_helper
def avg_window(o, stride, padding, kernel, size, outer_padded, outer_real, count_include_pad, divisor_override):
    """The last axis of output ``o``'s average-pooling window, and the window's divisor: ``(first, stop, divisor)``.

    ``first:stop`` is the window's part inside the real input along this axis
    (as in ``clipped_window``). ``outer_padded`` and ``outer_real`` are the
    window's size over the other axes in the padded input and in the real
    input (0 if it holds nothing there). The divisor is PyTorch's:
    ``divisor_override`` if not 0, else the window's size in the padded input
    (``count_include_pad``) or in the real input; it is 0 for a window that
    holds no input element (whose output is 0).
    """
    start = o * stride - padding
    end = min(start + kernel, size + padding)
    first, stop = max(start, 0), min(end, size)
    if outer_real <= 0 or first >= stop:
        return first, stop, 0
    if divisor_override != 0:
        return first, stop, divisor_override
    return first, stop, outer_padded * (end - start) if count_include_pad else outer_real * (stop - first)


@lazy_njit
def max_pool_forward(x, out, idx, kernel, stride, padding, dilation):
    """Max pooling with PyTorch's argmax rule, written into ``out`` and ``idx``.

    Equals ``out = win.max(-1)`` with ``-inf`` padding, and ``idx`` the flat
    position ``(z * H + y) * W + x`` in the unpadded plane of the *first*
    maximum in scan order (``win.argmax(-1)`` mapped back to the plane). A NaN
    counts as larger than everything, and a later NaN wins over an earlier
    one, as in PyTorch. A window of only ``-inf`` points at its first real
    element. A window that holds no input element at all (possible only with
    dilation) gives ``-inf`` and index ``-1``.

    Parameters
    ----------
    x : ndarray, shape (P, D, H, W), C-contiguous
    out : ndarray, shape (P, OD, OH, OW), same dtype as ``x``
    idx : ndarray of int64, shape (P, OD, OH, OW)
    kernel, stride, padding, dilation : 3-tuples of int, (depth, height, width)
    """
    P, D, H, W = x.shape
    OD, OH, OW = out.shape[1], out.shape[2], out.shape[3]
    kd, kh, kw = kernel
    sd, sh, sw = stride
    pd, ph, pw = padding
    dd, dh, dw = dilation
    for p in range(P):
        for od in range(OD):
            z0 = od * sd - pd
            # the taps a0 <= a < a1 of this window land inside the input
            a0 = 0 if z0 >= 0 else (dd - 1 - z0) // dd
            a1 = min(kd, (D - 1 - z0) // dd + 1)
            for oh in range(OH):
                y0 = oh * sh - ph
                b0 = 0 if y0 >= 0 else (dh - 1 - y0) // dh
                b1 = min(kh, (H - 1 - y0) // dh + 1)
                for ow in range(OW):
                    x0 = ow * sw - pw
                    c0 = 0 if x0 >= 0 else (dw - 1 - x0) // dw
                    c1 = min(kw, (W - 1 - x0) // dw + 1)
                    if a0 >= a1 or b0 >= b1 or c0 >= c1:
                        out[p, od, oh, ow] = -np.inf
                        idx[p, od, oh, ow] = -1
                        continue
                    # Start from the first real element (what PyTorch reports for an all -inf window).
                    z, y, xx = z0 + a0 * dd, y0 + b0 * dh, x0 + c0 * dw
                    best = x[p, z, y, xx]
                    where = (z * H + y) * W + xx
                    nan_at = -1
                    for a in range(a0, a1):
                        z = z0 + a * dd
                        for b in range(b0, b1):
                            y = y0 + b * dh
                            for c in range(c0, c1):
                                xx = x0 + c * dw
                                v = x[p, z, y, xx]
                                here = (z * H + y) * W + xx
                                # Written as selects, not an if-block: a data-dependent
                                # branch here is mispredicted half the time and costs 3-4x.
                                bigger = v > best
                                where = here if bigger else where
                                best = v if bigger else best
                                nan_at = here if v != v else nan_at
                    if nan_at >= 0:
                        out[p, od, oh, ow] = np.nan
                        idx[p, od, oh, ow] = nan_at
                    else:
                        out[p, od, oh, ow] = best
                        idx[p, od, oh, ow] = where


@lazy_njit
def max_pool2x2_forward(x, out, idx):
    """The common case ``kernel = stride = 2``, no padding, no dilation, on planes.

    Equals ``max_pool_forward`` with kernel (1, 2, 2), stride (1, 2, 2),
    padding 0 and dilation 1 when every window lies inside the input
    (``OH = H // 2``, ``OW = W // 2``): the four taps are read without any
    clipping arithmetic.

    Parameters
    ----------
    x : ndarray, shape (P, H, W), C-contiguous
    out : ndarray, shape (P, OH, OW)
    idx : ndarray of int64, shape (P, OH, OW)
    """
    P, H, W = x.shape
    OH, OW = out.shape[1], out.shape[2]
    for p in range(P):
        for oh in range(OH):
            y = 2 * oh
            for ow in range(OW):
                xx = 2 * ow
                best = x[p, y, xx]
                where = y * W + xx
                # scan order: (y, x+1), (y+1, x), (y+1, x+1); strict > keeps the first maximum
                v = x[p, y, xx + 1]
                if v > best or np.isnan(v):
                    best = v
                    where = y * W + xx + 1
                v = x[p, y + 1, xx]
                if v > best or np.isnan(v):
                    best = v
                    where = (y + 1) * W + xx
                v = x[p, y + 1, xx + 1]
                if v > best or np.isnan(v):
                    best = v
                    where = (y + 1) * W + xx + 1
                out[p, oh, ow] = best
                idx[p, oh, ow] = where


@lazy_njit
def max_pool_backward(dout, idx, dx):
    """Send each output gradient to the input element that was the maximum.

    Equals ``np.add.at(dx, (p, idx[p, m]), dout[p, m])`` over every plane ``p``
    and output ``m`` with ``idx[p, m] >= 0`` (overlapping windows that share a
    maximum add up). ``dx`` must be zero on entry.

    Parameters
    ----------
    dout : ndarray, shape (P, M)
    idx : ndarray of int64, shape (P, M)
        Flat positions in each plane of ``dx``; ``-1`` means "no input element".
    dx : ndarray, shape (P, S), same dtype as ``dout``
    """
    P, M = dout.shape
    for p in range(P):
        for m in range(M):
            i = idx[p, m]
            if i >= 0:
                dx[p, i] += dout[p, m]


@lazy_njit
def avg_pool_forward(x, out, kernel, stride, padding, count_include_pad, divisor_override):
    """Average pooling with PyTorch's divisor rule, written into ``out``.

    Equals ``win.sum(-1) / divisor`` (zero padding), where for each window

    * ``divisor = divisor_override`` if it is not 0, else
    * with ``count_include_pad``: the number of window positions inside the
      *padded* input (a ``ceil_mode`` window hanging past the padding is
      clipped to it), else
    * the number of window positions inside the real input.

    A window with no input element gives 0 (PyTorch's convention). Sums are
    accumulated in float64.

    Parameters
    ----------
    x : ndarray, shape (P, D, H, W), C-contiguous
    out : ndarray, shape (P, OD, OH, OW)
    kernel, stride, padding : 3-tuples of int, (depth, height, width)
    count_include_pad : bool
    divisor_override : int, 0 for none
    """
    P, D, H, W = x.shape
    OD, OH, OW = out.shape[1], out.shape[2], out.shape[3]
    kd, kh, kw = kernel
    sd, sh, sw = stride
    pd, ph, pw = padding
    for p in range(P):
        for od in range(OD):
            z0, z1, za, zb = clipped_window(od, sd, pd, kd, D)
            for oh in range(OH):
                y0, y1, ya, yb = clipped_window(oh, sh, ph, kh, H)
                outer_real = (zb - za) * (yb - ya) if za < zb and ya < yb else 0
                outer_padded = (z1 - z0) * (y1 - y0)
                for ow in range(OW):
                    xa, xb, divisor = avg_window(ow, sw, pw, kw, W, outer_padded, outer_real, count_include_pad,
                                                 divisor_override)
                    if divisor == 0:
                        out[p, od, oh, ow] = 0
                        continue
                    total = 0.0
                    for z in range(za, zb):
                        for y in range(ya, yb):
                            for xx in range(xa, xb):
                                total += x[p, z, y, xx]
                    out[p, od, oh, ow] = total / divisor


@lazy_njit
def avg_pool_backward(dout, dx, kernel, stride, padding, count_include_pad, divisor_override):
    """The adjoint of ``avg_pool_forward``: spread each output gradient over its window.

    Equals, for every window, ``dx[window inside the input] += dout / divisor``
    with the divisor of ``avg_pool_forward``. ``dx`` must be zero on entry.

    Parameters
    ----------
    dout : ndarray, shape (P, OD, OH, OW)
    dx : ndarray, shape (P, D, H, W), C-contiguous, same dtype as ``dout``
    kernel, stride, padding, count_include_pad, divisor_override : as in ``avg_pool_forward``
    """
    P, D, H, W = dx.shape
    OD, OH, OW = dout.shape[1], dout.shape[2], dout.shape[3]
    kd, kh, kw = kernel
    sd, sh, sw = stride
    pd, ph, pw = padding
    for p in range(P):
        for od in range(OD):
            z0, z1, za, zb = clipped_window(od, sd, pd, kd, D)
            for oh in range(OH):
                y0, y1, ya, yb = clipped_window(oh, sh, ph, kh, H)
                outer_real = (zb - za) * (yb - ya) if za < zb and ya < yb else 0
                outer_padded = (z1 - z0) * (y1 - y0)
                for ow in range(OW):
                    xa, xb, divisor = avg_window(ow, sw, pw, kw, W, outer_padded, outer_real, count_include_pad,
                                                 divisor_override)
                    if divisor == 0:
                        continue
                    g = dout[p, od, oh, ow] / divisor
                    for z in range(za, zb):
                        for y in range(ya, yb):
                            for xx in range(xa, xb):
                                dx[p, z, y, xx] += g


@lazy_njit
def avg_pool2x2_forward(x, out, divisor):
    """The common case ``kernel = stride = 2``, no padding, on planes.

    Equals ``avg_pool_forward`` with kernel (1, 2, 2), stride (1, 2, 2) and
    padding 0 when every window lies inside the input (``OH = H // 2``,
    ``OW = W // 2``; then every divisor is 4 unless ``divisor_override``).

    Parameters
    ----------
    x : ndarray, shape (P, H, W), C-contiguous
    out : ndarray, shape (P, OH, OW)
    divisor : int
    """
    P, H, W = x.shape
    OH, OW = out.shape[1], out.shape[2]
    # Multiplying by 1 / divisor is exact when the divisor is a power of two (4,
    # always, without an override) and twice as fast as dividing.
    exact = divisor > 0 and (divisor & (divisor - 1)) == 0
    inverse = 1.0 / divisor
    for p in range(P):
        for oh in range(OH):
            y = 2 * oh
            for ow in range(OW):
                xx = 2 * ow
                total = np.float64(x[p, y, xx]) + x[p, y, xx + 1] + x[p, y + 1, xx] + x[p, y + 1, xx + 1]
                out[p, oh, ow] = total * inverse if exact else total / divisor


@lazy_njit
def avg_pool2x2_backward(dout, dx, divisor):
    """The adjoint of ``avg_pool2x2_forward``.

    Equals ``avg_pool_backward`` for the same case: each ``dout / divisor``
    is written to the four elements of its window. Windows do not overlap, so
    it writes instead of adding; rows and columns no window covers (odd H or
    W) are left as they are, so ``dx`` must be zero there on entry.

    Parameters
    ----------
    dout : ndarray, shape (P, OH, OW)
    dx : ndarray, shape (P, H, W), C-contiguous
    divisor : int
    """
    P, OH, OW = dout.shape
    exact = divisor > 0 and (divisor & (divisor - 1)) == 0  # as in avg_pool2x2_forward
    inverse = 1.0 / divisor
    for p in range(P):
        for oh in range(OH):
            y = 2 * oh
            for ow in range(OW):
                xx = 2 * ow
                g = dout[p, oh, ow] * inverse if exact else dout[p, oh, ow] / divisor
                dx[p, y, xx] = g
                dx[p, y, xx + 1] = g
                dx[p, y + 1, xx] = g
                dx[p, y + 1, xx + 1] = g


# Adaptive pooling: output position i along an axis of input size n and output
# size m covers input [floor(i * n / m), ceil((i + 1) * n / m)). The windows
# cover the input exactly once when m divides n and overlap by one otherwise.


@jit_helper
def adaptive_window(o, size, out_size):
    """Output ``o``'s adaptive window along one axis: input ``[start, end)``."""
    return (o * size) // out_size, ((o + 1) * size + out_size - 1) // out_size


@lazy_njit
def adaptive_avg_pool_forward(x, out):
    """Adaptive average pooling, written into ``out``.

    Equals ``out[p, i, j, k] = x[p, z0:z1, y0:y1, x0:x1].mean()`` with the
    window bounds ``start = (i * n) // m``, ``end = -((-(i + 1) * n) // m)``
    on each axis. Sums are accumulated in float64.

    Parameters
    ----------
    x : ndarray, shape (P, D, H, W), C-contiguous
    out : ndarray, shape (P, OD, OH, OW), every size >= 1
    """
    P, D, H, W = x.shape
    OD, OH, OW = out.shape[1], out.shape[2], out.shape[3]
    for p in range(P):
        for od in range(OD):
            z0, z1 = adaptive_window(od, D, OD)
            for oh in range(OH):
                y0, y1 = adaptive_window(oh, H, OH)
                for ow in range(OW):
                    x0, x1 = adaptive_window(ow, W, OW)
                    total = 0.0
                    for z in range(z0, z1):
                        for y in range(y0, y1):
                            for xx in range(x0, x1):
                                total += x[p, z, y, xx]
                    out[p, od, oh, ow] = total / ((z1 - z0) * (y1 - y0) * (x1 - x0))


@lazy_njit
def adaptive_avg_pool_backward(dout, dx):
    """The adjoint of ``adaptive_avg_pool_forward``.

    Equals, for every window, ``dx[p, z0:z1, y0:y1, x0:x1] += dout[p, i, j, k] / window_size``.
    ``dx`` must be zero on entry.

    Parameters
    ----------
    dout : ndarray, shape (P, OD, OH, OW)
    dx : ndarray, shape (P, D, H, W), C-contiguous
    """
    P, D, H, W = dx.shape
    OD, OH, OW = dout.shape[1], dout.shape[2], dout.shape[3]
    for p in range(P):
        for od in range(OD):
            z0, z1 = adaptive_window(od, D, OD)
            for oh in range(OH):
                y0, y1 = adaptive_window(oh, H, OH)
                for ow in range(OW):
                    x0, x1 = adaptive_window(ow, W, OW)
                    g = dout[p, od, oh, ow] / ((z1 - z0) * (y1 - y0) * (x1 - x0))
                    for z in range(z0, z1):
                        for y in range(y0, y1):
                            for xx in range(x0, x1):
                                dx[p, z, y, xx] += g


@lazy_njit
def adaptive_max_pool_forward(x, out, idx):
    """Adaptive max pooling with PyTorch's argmax rule, written into ``out`` and ``idx``.

    Equals ``out[p, i, j, k] = x[p, z0:z1, y0:y1, x0:x1].max()`` with the
    windows of ``adaptive_avg_pool_forward``; ``idx`` is the flat position in
    the plane of the first maximum in scan order, NaN winning as in
    ``max_pool_forward``. The backward pass is ``max_pool_backward``.

    Parameters
    ----------
    x : ndarray, shape (P, D, H, W), C-contiguous
    out : ndarray, shape (P, OD, OH, OW)
    idx : ndarray of int64, shape (P, OD, OH, OW)
    """
    P, D, H, W = x.shape
    OD, OH, OW = out.shape[1], out.shape[2], out.shape[3]
    for p in range(P):
        for od in range(OD):
            z0, z1 = adaptive_window(od, D, OD)
            for oh in range(OH):
                y0, y1 = adaptive_window(oh, H, OH)
                for ow in range(OW):
                    x0, x1 = adaptive_window(ow, W, OW)
                    best = x[p, z0, y0, x0]
                    where = (z0 * H + y0) * W + x0
                    nan_at = -1
                    for z in range(z0, z1):
                        for y in range(y0, y1):
                            for xx in range(x0, x1):
                                v = x[p, z, y, xx]
                                here = (z * H + y) * W + xx
                                bigger = v > best  # selects, not branches (see max_pool_forward)
                                where = here if bigger else where
                                best = v if bigger else best
                                nan_at = here if v != v else nan_at
                    if nan_at >= 0:
                        best = np.nan
                        where = nan_at
                    out[p, od, oh, ow] = best
                    idx[p, od, oh, ow] = where
