"""Pooling kernels compiled per window shape: the common 2-D windows, several times faster.

The generic loops in ``pool.py`` work for any window; these equal them for
the shapes in ``SPECIALISED_WINDOWS`` (dilation 1).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ._jit import jit_helper, lazy_njit
from .pool import avg_window, clipped_window  # noqa: F401 (compiled into the kernels below)

# ---------------------------------------------------------------------------- windows compiled in
# The generic loops in pool.py take the window's size and stride as run-time
# numbers, so the compiler cannot unroll the taps or vectorise across output
# columns: a 3 x 3 stride-2 max pooling ran ~20x slower per tap than the
# unrolled 2 x 2 kernel. The kernels below are built per window shape, with
# kernel and stride as compile-time constants (numba treats a closure's
# variables as constants, and caches each specialisation on disk). Each
# output row is split into the columns whose windows lie wholly inside the
# input (the *interior*: fixed-length tap loops, no clipping, vectorised) and
# the few border columns, which clip their windows like the generic loops.
# Average pooling works on the interior columns first: the interior windows
# of an output row all cover the same kh input rows, so those rows are summed
# (or, backward, written) with contiguous sweeps and each window then touches
# only kw numbers. Only the common shapes below are specialised, so that
# arbitrary windows (e.g. drawn by property tests) do not each pay a
# compilation.

#: (kernel_h, kernel_w, stride_h, stride_w) with their own compiled plane kernels (dilation 1).
SPECIALISED_WINDOWS = frozenset({(2, 2, 1, 1), (2, 2, 2, 2), (3, 3, 1, 1), (3, 3, 2, 2)})


class WindowKernels(NamedTuple):
    """The plane kernels compiled for one window shape (see ``window_kernels``)."""

    max_forward: Callable
    avg_forward: Callable
    avg_backward: Callable


_specialised = {}

# Interior indices are known to be >= 0, but the compiler cannot prove it (they
# depend on the run-time padding) and keeps NumPy's negative-index wraparound
# check, which stops vectorisation: 5-10x slower. Unsigned indices have no
# such check.
_u = np.uint64


def window_kernels(kh: int, kw: int, sh: int, sw: int):
    """``WindowKernels(max_forward, avg_forward, avg_backward)`` compiled for this window, or None.

    None when the window shape is not in ``SPECIALISED_WINDOWS``.

    The three kernels work on planes ``(P, H, W)`` (dilation 1) and equal
    ``max_pool_forward``, ``avg_pool_forward`` and ``avg_pool_backward`` with
    kernel ``(1, kh, kw)`` and stride ``(1, sh, sw)``:

    * ``max_forward(x, out, idx, ph, pw)``: ``out = win.max(-1)`` (``-inf``
      padding), ``idx`` the flat position ``y * W + x`` of the first maximum
      in scan order, NaN counting as the maximum and the last NaN winning;
    * ``avg_forward(x, out, ph, pw, count_include_pad, divisor_override)``:
      ``win.sum(-1) / divisor`` (zero padding), summed in float64;
    * ``avg_backward(dout, dx, ph, pw, count_include_pad, divisor_override)``:
      ``dx[window inside the input] += dout / divisor``; ``dx`` zero on entry.

    ``x``, ``dx``: (P, H, W) C-contiguous; ``out``, ``idx``, ``dout``: (P, OH, OW).
    """
    key = (kh, kw, sh, sw)
    if key not in SPECIALISED_WINDOWS:
        return None
    if key not in _specialised:
        _specialised[key] = _build_window_kernels(*key)
    return _specialised[key]


@jit_helper
def interior_columns(W, OW, kw, sw, pw):
    """``(lo, hi)``: output columns ``lo <= ow < hi`` have windows wholly inside ``[0, W)``."""
    lo = (pw + sw - 1) // sw
    return lo, max(lo, min(OW, (W - kw + pw) // sw + 1))


def _build_window_kernels(kh, kw, sh, sw):
    """Compile (lazily) the three plane kernels with this window's sizes as constants."""

    @lazy_njit
    def max_forward(x, out, idx, ph, pw):
        P, H, W = x.shape
        OH, OW = out.shape[1], out.shape[2]
        lo, hi = interior_columns(W, OW, kw, sw, pw)
        for p in range(P):
            for oh in range(OH):
                y0 = oh * sh - ph
                b0, b1 = max(0, -y0), min(kh, H - y0)  # rows of the window inside the input
                full_rows = b0 == 0 and b1 == kh
                for ow in range(OW):
                    if full_rows and lo <= ow < hi:
                        continue
                    x0 = ow * sw - pw
                    c0, c1 = max(0, -x0), min(kw, W - x0)
                    if b0 >= b1 or c0 >= c1:
                        out[p, oh, ow] = -np.inf
                        idx[p, oh, ow] = -1
                        continue
                    m, at = x[p, y0 + b0, x0 + c0], (y0 + b0) * W + x0 + c0
                    for b in range(b0, b1):
                        for c in range(c0, c1):
                            v = x[p, y0 + b, x0 + c]
                            take = (v > m) | (v != v)  # the first maximum; the last NaN
                            at = (y0 + b) * W + x0 + c if take else at
                            m = v if take else m
                    out[p, oh, ow] = m
                    idx[p, oh, ow] = at
                if not full_rows:
                    continue
                for j in range(lo, hi):  # own variable names: sharing them with the loop above slows this 3x
                    left = j * sw - pw
                    best = x[p, _u(y0), _u(left)]
                    where = y0 * W + left
                    for b in range(kh):
                        for c in range(kw):
                            value = x[p, _u(y0 + b), _u(left + c)]
                            bigger = (value > best) | (value != value)
                            where = (y0 + b) * W + left + c if bigger else where
                            best = value if bigger else best
                    out[p, oh, _u(j)] = best
                    idx[p, oh, _u(j)] = where

    def average(adjoint):
        """Average pooling (``adjoint`` False) or its adjoint, with ``adjoint`` compiled in as a constant."""

        @lazy_njit
        def avg_planes(planes, grid, ph, pw, count_include_pad, divisor_override):
            P, H, W = planes.shape
            OH, OW = grid.shape[1], grid.shape[2]
            lo, hi = interior_columns(W, OW, kw, sw, pw)
            inner_divisor = divisor_override if divisor_override != 0 else kh * kw
            # Forward: sums over one output row's kh input rows; backward: that row's
            # interior shares, spread over an input row.
            row = np.empty(W, dtype=np.float64)
            for p in range(P):
                for oh in range(OH):
                    y0, y1, ya, yb = clipped_window(oh, sh, ph, kh, H)
                    full_rows = ya == y0 and yb == y0 + kh
                    for ow in range(OW):
                        if full_rows and lo <= ow < hi:
                            continue
                        xa, xb, divisor = avg_window(ow, sw, pw, kw, W, y1 - y0, max(yb - ya, 0),
                                                     count_include_pad, divisor_override)
                        if divisor == 0:
                            if not adjoint:
                                grid[p, oh, ow] = 0
                        elif adjoint:
                            g = grid[p, oh, ow] / divisor
                            for y in range(ya, yb):
                                for xx in range(xa, xb):
                                    planes[p, y, xx] += g
                        else:
                            total = 0.0
                            for y in range(ya, yb):
                                for xx in range(xa, xb):
                                    total += planes[p, y, xx]
                            grid[p, oh, ow] = total / divisor
                    if not full_rows:
                        continue
                    # The interior windows of this output row all cover the same kh input
                    # rows. Forward: sum those rows column by column first (contiguous,
                    # vectorised), then each window adds kw of the column sums. Backward:
                    # spread the windows' shares along one row first, then add that row to
                    # the kh rows with contiguous, vectorised sweeps.
                    x_lo, x_hi = lo * sw - pw, (hi - 1) * sw - pw + kw
                    if adjoint:
                        for xx in range(x_lo, x_hi):
                            row[_u(xx)] = 0.0
                        for j in range(lo, hi):
                            share = grid[p, oh, _u(j)] / inner_divisor
                            for c in range(kw):
                                row[_u(j * sw - pw + c)] += share
                        for b in range(kh):
                            for xx in range(x_lo, x_hi):
                                planes[p, _u(y0 + b), _u(xx)] += row[_u(xx)]
                    else:
                        for xx in range(x_lo, x_hi):
                            row[_u(xx)] = planes[p, _u(y0), _u(xx)]
                        for b in range(1, kh):
                            for xx in range(x_lo, x_hi):
                                row[_u(xx)] += planes[p, _u(y0 + b), _u(xx)]
                        for j in range(lo, hi):
                            window_sum = 0.0
                            for c in range(kw):
                                window_sum += row[_u(j * sw - pw + c)]
                            grid[p, oh, _u(j)] = window_sum / inner_divisor

        return avg_planes

    avg_forward, avg_adjoint = average(False), average(True)

    def avg_backward(dout, dx, ph, pw, count_include_pad, divisor_override):
        avg_adjoint(dx, dout, ph, pw, count_include_pad, divisor_override)

    return WindowKernels(max_forward, avg_forward, avg_backward)
