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


@jit_helper
def window_max(x, p, z0, a0, a1, dd, y0, b0, b1, dh, x0, c0, c1, dw, H, W):
    """The maximum of one window and its flat position in the plane: ``(best, where)``.

    The window's taps are ``(z0 + a * dd, y0 + b * dh, x0 + c * dw)`` for
    ``a0 <= a < a1``, ``b0 <= b < b1``, ``c0 <= c < c1`` (all inside the
    input, at least one of each). ``where = (z * H + y) * W + x`` is the
    *first* maximum in scan order; a NaN counts as larger than everything,
    and a later NaN wins over an earlier one, as in PyTorch. A window of only
    ``-inf`` points at its first element (what PyTorch reports).
    """
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
        return np.nan, nan_at
    return best, where


@jit_helper
def window_sum(planes, p, za, zb, ya, yb, xa, xb):
    """``planes[p, za:zb, ya:yb, xa:xb].sum()``, accumulated in float64."""
    total = 0.0
    for z in range(za, zb):
        for y in range(ya, yb):
            for xx in range(xa, xb):
                total += planes[p, z, y, xx]
    return total


@jit_helper
def window_add(planes, p, za, zb, ya, yb, xa, xb, g):
    """``planes[p, za:zb, ya:yb, xa:xb] += g``."""
    for z in range(za, zb):
        for y in range(ya, yb):
            for xx in range(xa, xb):
                planes[p, z, y, xx] += g


@lazy_njit
def max_pool_forward(x, out, idx, kernel, stride, padding, dilation):
    """Max pooling with PyTorch's argmax rule, written into ``out`` and ``idx``.

    Equals ``out = win.max(-1)`` with ``-inf`` padding, and ``idx`` the flat
    position ``(z * H + y) * W + x`` in the unpadded plane of the *first*
    maximum in scan order (``win.argmax(-1)`` mapped back to the plane), NaN
    and ``-inf`` windows as in ``window_max``. A window that holds no input
    element at all (possible only with dilation) gives ``-inf`` and index
    ``-1``.

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
                    else:
                        out[p, od, oh, ow], idx[p, od, oh, ow] = window_max(x, p, z0, a0, a1, dd, y0, b0, b1, dh,
                                                                            x0, c0, c1, dw, H, W)


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


def _avg_pool_planes(adjoint):
    """Average pooling (``adjoint`` False) or its adjoint (True) on planes, window by window.

    Returns ``kernel(planes, grid, kernel, stride, padding, count_include_pad,
    divisor_override)``, compiled with ``adjoint`` as a constant (as a
    run-time flag it made the backward loops 20 % slower):

    * forward: ``grid = win.sum(-1) / divisor`` (zero padding) from ``planes = x``;
    * backward: ``planes[window inside the input] += grid / divisor`` for
      every window, from ``grid = dout`` into ``planes = dx`` (zero on entry).

    For each window

    * ``divisor = divisor_override`` if it is not 0, else
    * with ``count_include_pad``: the number of window positions inside the
      *padded* input (a ``ceil_mode`` window hanging past the padding is
      clipped to it), else
    * the number of window positions inside the real input.

    A window with no input element gives 0 (PyTorch's convention). Sums are
    accumulated in float64.

    ``planes``: (P, D, H, W), C-contiguous; ``grid``: (P, OD, OH, OW), same
    dtype; ``kernel``, ``stride``, ``padding``: 3-tuples of int (depth,
    height, width); ``divisor_override``: int, 0 for none.
    """

    @lazy_njit
    def avg_pool_planes(planes, grid, kernel, stride, padding, count_include_pad, divisor_override):
        P, D, H, W = planes.shape
        OD, OH, OW = grid.shape[1], grid.shape[2], grid.shape[3]
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
                        xa, xb, divisor = avg_window(ow, sw, pw, kw, W, outer_padded, outer_real,
                                                     count_include_pad, divisor_override)
                        if divisor == 0:
                            if not adjoint:
                                grid[p, od, oh, ow] = 0
                        elif adjoint:
                            window_add(planes, p, za, zb, ya, yb, xa, xb, grid[p, od, oh, ow] / divisor)
                        else:
                            grid[p, od, oh, ow] = window_sum(planes, p, za, zb, ya, yb, xa, xb) / divisor

    return avg_pool_planes


def _avg_pool2x2_planes(adjoint):
    """The common case ``kernel = stride = 2``, no padding, on planes: forward or (``adjoint``) backward.

    Returns ``kernel(planes, grid, divisor)``, compiled with ``adjoint`` as
    a constant. Equals ``_avg_pool_planes(adjoint)`` with kernel (1, 2, 2),
    stride (1, 2, 2) and padding 0 when every window lies inside the input
    (``OH = H // 2``, ``OW = W // 2``; then every divisor is 4 unless
    ``divisor_override``). Backward, windows do not overlap, so each
    ``grid / divisor`` is *written* to the four elements of its window; rows
    and columns no window covers (odd H or W) are left as they are, so
    ``planes`` must be zero there on entry.

    ``planes``: (P, H, W), C-contiguous; ``grid``: (P, OH, OW); ``divisor``: int.
    """

    @lazy_njit
    def avg_pool2x2_planes(planes, grid, divisor):
        P, OH, OW = grid.shape
        # Multiplying by 1 / divisor is exact when the divisor is a power of two (4,
        # always, without an override) and twice as fast as dividing.
        exact = divisor > 0 and (divisor & (divisor - 1)) == 0
        inverse = 1.0 / divisor
        for p in range(P):
            for oh in range(OH):
                y = 2 * oh
                for ow in range(OW):
                    xx = 2 * ow
                    if adjoint:
                        g = grid[p, oh, ow] * inverse if exact else grid[p, oh, ow] / divisor
                        planes[p, y, xx] = planes[p, y, xx + 1] = planes[p, y + 1, xx] = planes[p, y + 1, xx + 1] = g
                    else:
                        total = (np.float64(planes[p, y, xx]) + planes[p, y, xx + 1] + planes[p, y + 1, xx]
                                 + planes[p, y + 1, xx + 1])
                        grid[p, oh, ow] = total * inverse if exact else total / divisor

    return avg_pool2x2_planes


_avg_pool_forward, _avg_pool_backward = _avg_pool_planes(False), _avg_pool_planes(True)
_avg_pool2x2_forward, _avg_pool2x2_backward = _avg_pool2x2_planes(False), _avg_pool2x2_planes(True)


def avg_pool_forward(x, out, kernel, stride, padding, count_include_pad, divisor_override):
    """Average pooling with PyTorch's divisor rule, written into ``out`` (see ``_avg_pool_planes``).

    ``x``: (P, D, H, W), C-contiguous; ``out``: (P, OD, OH, OW).
    """
    _avg_pool_forward(x, out, kernel, stride, padding, count_include_pad, divisor_override)


def avg_pool_backward(dout, dx, kernel, stride, padding, count_include_pad, divisor_override):
    """The adjoint of ``avg_pool_forward``, added into ``dx`` (zero on entry; see ``_avg_pool_planes``).

    ``dout``: (P, OD, OH, OW); ``dx``: (P, D, H, W), C-contiguous.
    """
    _avg_pool_backward(dx, dout, kernel, stride, padding, count_include_pad, divisor_override)


def avg_pool2x2_forward(x, out, divisor):
    """2 x 2 stride-2 average pooling of ``x`` (P, H, W) into ``out`` (P, OH, OW) (see ``_avg_pool2x2_planes``)."""
    _avg_pool2x2_forward(x, out, divisor)


def avg_pool2x2_backward(dout, dx, divisor):
    """The adjoint of ``avg_pool2x2_forward``, written into ``dx`` (see ``_avg_pool2x2_planes``)."""
    _avg_pool2x2_backward(dx, dout, divisor)


# Adaptive pooling: output position i along an axis of input size n and output
# size m covers input [floor(i * n / m), ceil((i + 1) * n / m)). The windows
# cover the input exactly once when m divides n and overlap by one otherwise.


@jit_helper
def adaptive_window(o, size, out_size):
    """Output ``o``'s adaptive window along one axis: input ``[start, end)``."""
    return (o * size) // out_size, ((o + 1) * size + out_size - 1) // out_size


def _adaptive_pool_planes(adjoint):
    """Adaptive pooling on planes, window by window: max, average, or (``adjoint``) average's adjoint.

    Returns ``kernel(planes, grid, idx)``, compiled with ``adjoint`` as a
    constant. Output ``(i, j, k)``'s window is ``planes[p, z0:z1, y0:y1,
    x0:x1]`` with the bounds ``start = (i * n) // m``, ``end = -((-(i + 1) *
    n) // m)`` on each axis.

    * ``idx`` an array: ``grid = window.max()``, ``idx`` the flat position
      in the plane of the first maximum in scan order, NaN winning as in
      ``window_max`` (the backward pass is ``max_pool_backward``);
    * ``idx`` None: ``grid = window.mean()``, summed in float64, or with
      ``adjoint`` ``window += grid / window_size`` into ``planes = dx``
      (zero on entry).

    ``planes``: (P, D, H, W), C-contiguous; ``grid``: (P, OD, OH, OW), every
    size >= 1; ``idx``: int64, shape of ``grid``, or None.
    """

    @lazy_njit
    def adaptive_pool_planes(planes, grid, idx):
        P, D, H, W = planes.shape
        OD, OH, OW = grid.shape[1], grid.shape[2], grid.shape[3]
        for p in range(P):
            for od in range(OD):
                z0, z1 = adaptive_window(od, D, OD)
                for oh in range(OH):
                    y0, y1 = adaptive_window(oh, H, OH)
                    for ow in range(OW):
                        x0, x1 = adaptive_window(ow, W, OW)
                        if idx is not None:  # (decided when numba compiles: None has its own compiled version)
                            grid[p, od, oh, ow], idx[p, od, oh, ow] = window_max(
                                planes, p, z0, 0, z1 - z0, 1, y0, 0, y1 - y0, 1, x0, 0, x1 - x0, 1, H, W)
                        elif adjoint:
                            g = grid[p, od, oh, ow] / ((z1 - z0) * (y1 - y0) * (x1 - x0))
                            window_add(planes, p, z0, z1, y0, y1, x0, x1, g)
                        else:
                            total = window_sum(planes, p, z0, z1, y0, y1, x0, x1)
                            grid[p, od, oh, ow] = total / ((z1 - z0) * (y1 - y0) * (x1 - x0))

    return adaptive_pool_planes


_adaptive_pool_forward, _adaptive_pool_backward = _adaptive_pool_planes(False), _adaptive_pool_planes(True)


def adaptive_avg_pool_forward(x, out):
    """Adaptive average pooling of ``x`` (P, D, H, W) into ``out`` (P, OD, OH, OW) (see ``_adaptive_pool_planes``)."""
    _adaptive_pool_forward(x, out, None)


def adaptive_avg_pool_backward(dout, dx):
    """The adjoint of ``adaptive_avg_pool_forward``, added into ``dx`` (zero on entry)."""
    _adaptive_pool_backward(dx, dout, None)


def adaptive_max_pool_forward(x, out, idx):
    """Adaptive max pooling into ``out`` and ``idx``, PyTorch's argmax rule (see ``_adaptive_pool_planes``)."""
    _adaptive_pool_forward(x, out, idx)
