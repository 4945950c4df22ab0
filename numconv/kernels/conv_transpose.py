"""numba kernels for the transposed convolution: columns to the cropped output, and the output's gradient to columns.

A transposed convolution's forward pass computes ``cols = W^T @ x`` and then
adds every column entry onto the output pixel it lands on (``col2im``), on
the *full* grid that the windows touch; the output is that grid with
``padding`` cropped from both ends. The backward pass needs the opposite
move: the upstream gradient, put back on the full grid, cut into columns
(``im2col``). Done with NumPy, both moves go through a full-grid buffer that
is zero-filled, written and then cropped or filled.

The kernels here skip that buffer and work on the cropped output directly.
Both rest on one fact: with stride ``s``, the output pixels of a *phase*
(every ``s``-th pixel along each axis, from one start) are all reached by
the same kernel taps, and each tap's column block, seen from the phase, is
just shifted by a whole number of rows and columns.

- ``stamp_columns`` *gathers* instead of scattering: it sums each phase in a
  small plane, one long contiguous run per tap (vectorised), then writes
  the phase to the output once, with stride ``s`` and the bias included.
  NumPy's way is a read-modify-write of a full-grid pixel per column entry.
- ``gather_columns`` splits each output plane into its phases once (the
  only stride-``s`` reads), then copies each tap's column block from its
  phase as one long contiguous run, with zeros where the full grid lies
  outside the output (the cropped padding).

A run that shifts columns wraps around at the row ends; the few entries
it gets wrong there (at most the shift, per row) are then set one by one.
Runs of a single image row (28 floats for 28 x 28) would be too short for
the compiler to vectorise; a whole phase is hundreds of floats long.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit_helper, lazy_njit

__all__ = ["stamp_columns", "gather_columns"]


@jit_helper
def _phase_taps(out_size, k, s, d, p):
    """The taps of each phase of one axis of a transposed convolution's output.

    Output pixels ``o0, o0 + s, o0 + 2s, ...`` (phase ``o0``, for ``o0 < s``)
    share their kernel taps: pixel ``o0 + t * s`` gets tap ``k`` from input
    pixel ``t - shift``, for the taps with ``(o0 + p - k * d)`` divisible by
    ``s``. Returns ``(lengths, counts, taps, shifts)``: phase ``o0`` has
    ``lengths[o0]`` output pixels and ``counts[o0]`` taps ``taps[o0, :count]``
    with shifts ``shifts[o0, :count]``.
    """
    phases = min(s, out_size)
    lengths = np.zeros(phases, dtype=np.int64)
    counts = np.zeros(phases, dtype=np.int64)
    taps = np.zeros((phases, k), dtype=np.int64)
    shifts = np.zeros((phases, k), dtype=np.int64)
    for o0 in range(phases):
        lengths[o0] = (out_size - o0 + s - 1) // s
        full = o0 + p  # full-grid position of the phase's first pixel
        for tap in range(k):
            if (full - tap * d) % s == 0:
                # input pixel (full + t * s - tap * d) / s = t - shift
                taps[o0, counts[o0]] = tap
                shifts[o0, counts[o0]] = -((full - tap * d) // s)
                counts[o0] += 1
    return lengths, counts, taps, shifts


@jit_helper
def _add_run(into, at, values, start, length):
    """``into[at : at + length] += values[start : start + length]``, indexed unsigned (see ``stamp_columns``)."""
    for t in range(length):
        into[at + t] += values[start + t]


@lazy_njit
def stamp_columns(cols, bias, out, geometry):  # pragma: no cover - compiled by numba
    """``out = crop(col2im(cols)) + bias`` for a transposed convolution, written in one pass.

    Parameters
    ----------
    cols : ndarray, 1-D, C-contiguous
        ``W^T @ x`` flattened, viewed as (C, kd, kh, kw, N, D, H, W): one row
        per (output channel, kernel offset), one column per (sample, input pixel).
    bias : ndarray, shape (C,)
        Added to every output pixel of its channel (zeros for no bias).
    out : ndarray, 1-D, C-contiguous
        The output (N, C, D_out, H_out, W_out) flattened; every pixel is written.
    geometry : ndarray of 20 int64
        ``N, C, D, H, W, kd, kh, kw, sd, sh, sw, dd, dh, dw, pd, ph, pw,
        D_out, H_out, W_out``: sizes, kernel, stride, dilation, padding and
        output size per axis (1-D and 2-D pass 1 and 0 for the missing axes).

    Notes
    -----
    Input pixel ``i`` with kernel tap ``k`` lands on full-grid position
    ``i * s + k * d``, which is output pixel ``i * s + k * d - p``. In one
    output plane, the pixels ``(y0 + t * sh, x0 + v * sw)`` (a *phase*)
    share their taps, and tap ``(b, e)`` brings them the column block of
    ``(b, e)`` shifted by a whole number of rows and columns (``_phase_taps``).

    So each phase is summed in a small plane with rows ``W`` long, as long as
    the column blocks' rows: a tap then adds one long contiguous run, which
    the compiler vectorises (runs of one image row, 28 floats, are too short
    for it). Along a row the run wraps around for a column shift: the sums
    in the first and last few columns of each row take a wrong entry, so
    those few sums are then worked out again one by one. Last, the phase is
    written to the output with stride ``(sh, sw)``: one store per pixel.
    Indices are unsigned where it matters, which lets numba drop its
    negative-index checks.
    """
    u = np.uint64
    (batch, channels, in_d, in_h, in_w, kd, kh, kw, sd, sh, sw, dd, dh, dw, pd, ph, pw,
     out_d, out_h, out_w) = geometry
    slab = in_h * in_w
    offsets = kd * kh * kw
    _, count_d, taps_d, shifts_d = _phase_taps(out_d, kd, sd, dd, pd)
    rows_h, count_h, taps_h, shifts_h = _phase_taps(out_h, kh, sh, dh, ph)
    cols_w, count_w, taps_w, shifts_w = _phase_taps(out_w, kw, sw, dw, pw)
    tables = (count_d, shifts_d, taps_d, count_h, shifts_h, taps_h, count_w, shifts_w, taps_w)
    sizes = (batch, in_d, in_h, in_w, kh, kw, offsets, slab)
    sums = np.empty(((out_h + sh - 1) // sh) * in_w, dtype=out.dtype)  # one phase: rows of in_w
    for n in range(batch):
        for c in range(channels):
            plane = (n * channels + c) * out_d * out_h * out_w
            for z in range(out_d):
                z0, tz = z % sd, z // sd
                for y0 in range(rows_h.size):
                    rows = rows_h[y0]
                    for x0 in range(cols_w.size):
                        width = cols_w[x0]
                        stored = min(width, in_w)  # the sums plane holds columns 0 .. stored - 1
                        for k in range(rows * in_w):
                            sums[k] = bias[c]
                        low, high = 0, stored  # columns whose sums the long runs get right
                        for ta in range(count_d[z0]):
                            iz = tz - shifts_d[z0, ta]
                            if iz < 0 or iz >= in_d:
                                continue
                            for tb in range(count_h[y0]):
                                qh = shifts_h[y0, tb]
                                t0, t1 = max(0, qh), min(rows, in_h + qh)  # rows with an input row
                                if t0 >= t1:
                                    continue
                                tap_ab = taps_d[z0, ta] * kh + taps_h[y0, tb]
                                for te in range(count_w[x0]):
                                    qw = shifts_w[x0, te]
                                    low, high = max(low, qw), min(high, in_w + qw)
                                    block = ((((c * offsets + tap_ab * kw + taps_w[x0, te]) * batch + n) * in_d + iz)
                                             * slab)
                                    # sums[t, v] += block[t - qh, v - qw] as one run over rows t0 .. t1 - 1,
                                    # clipped to the block (what the clip drops lies in the wrapped columns).
                                    shift = qh * in_w + qw
                                    first = max(t0 * in_w, shift)
                                    last = min(t1 * in_w, slab + shift)
                                    if first < last:
                                        _add_run(sums, u(first), cols, u(block + first - shift), u(last - first))
                        out_row = plane + (z * out_h + y0) * out_w + x0
                        for t in range(rows):
                            # The wrapped columns, and those beyond in_w: their sums worked out one by one.
                            for v in range(min(low, stored)):
                                sums[t * in_w + v] = _phase_sum(cols, bias[c], c, n, t, v, z0, tz, y0, x0, tables,
                                                                sizes)
                            for v in range(max(low, high), stored):
                                sums[t * in_w + v] = _phase_sum(cols, bias[c], c, n, t, v, z0, tz, y0, x0, tables,
                                                                sizes)
                            row = u(out_row + t * sh * out_w)
                            for v in range(u(stored)):
                                out[row + v * u(sw)] = sums[u(t * in_w) + v]
                            for v in range(stored, width):
                                out[row + v * sw] = _phase_sum(cols, bias[c], c, n, t, v, z0, tz, y0, x0, tables, sizes)
    return out


@jit_helper
def _phase_sum(cols, bias, c, n, t, v, z0, tz, y0, x0, tables, sizes):
    """One output pixel of ``stamp_columns``, summed directly: the bias, then every tap in the runs' order.

    ``tables`` holds the three axes' ``_phase_taps`` (counts, shifts, taps), ``sizes`` the batch and
    input sizes, the kernel's height and width, and the column block's offset count and size.
    """
    count_d, shifts_d, taps_d, count_h, shifts_h, taps_h, count_w, shifts_w, taps_w = tables
    batch, in_d, in_h, in_w, kh, kw, offsets, slab = sizes
    total = bias
    for ta in range(count_d[z0]):
        iz = tz - shifts_d[z0, ta]
        if iz < 0 or iz >= in_d:
            continue
        for tb in range(count_h[y0]):
            iy = t - shifts_h[y0, tb]
            if iy < 0 or iy >= in_h:
                continue
            tap_ab = taps_d[z0, ta] * kh + taps_h[y0, tb]
            for te in range(count_w[x0]):
                ix = v - shifts_w[x0, te]
                if 0 <= ix < in_w:
                    block = (((c * offsets + tap_ab * kw + taps_w[x0, te]) * batch + n) * in_d + iz) * slab
                    total += cols[block + iy * in_w + ix]
    return total


@jit_helper
def _copy_run(into, at, values, start, length):
    """``into[at : at + length] = values[start : start + length]``, indexed unsigned (see ``stamp_columns``)."""
    for t in range(length):
        into[at + t] = values[start + t]


@jit_helper
def _phase_entry(dout, plane, u, v, rows, width, sh, sw, rh, rw, out_w):
    """Entry ``(u, v)`` of phase ``(rh, rw)`` of an output plane: ``dout[u * sh + rh, v * sw + rw]``, 0 outside."""
    if u < 0 or u >= rows or v < 0 or v >= width:
        return 0.0
    return dout[plane + (u * sh + rh) * out_w + v * sw + rw]


@lazy_njit
def gather_columns(dout, cols, geometry):  # pragma: no cover - compiled by numba
    """The columns of a transposed convolution's upstream gradient on the full grid: ``im2col(uncrop(dout))``.

    Parameters
    ----------
    dout : ndarray, 1-D, C-contiguous
        The upstream gradient (N, C, D_out, H_out, W_out) flattened.
    cols : ndarray, 1-D, C-contiguous
        Filled here, viewed as (C, kd, kh, kw, N, D, H, W): entry
        ``[c, a, b, e, n, z, y, x]`` is the gradient at full-grid position
        ``(z * sd + a * dd, y * sh + b * dh, x * sw + e * dw)``, i.e. at
        output pixel ``(that - padding)``, or 0 where that lies outside the
        output (cropped by the padding, or beyond an ``output_padding`` edge).
    geometry : ndarray of 20 int64
        As for ``stamp_columns``.

    Notes
    -----
    Read directly, every entry is a stride-``s`` load, which the compiler
    cannot vectorise. So each output plane is first split into its ``sh * sw``
    phases, each phase a small image with rows ``in_w`` long; the block of a
    kernel tap is then that phase shifted by a whole number of rows and
    columns: one long contiguous copy. The copy wraps around at the row ends
    for a column shift, and the few entries it gets wrong there (at most the
    shift per row) are then set one by one.
    """
    (batch, channels, in_d, in_h, in_w, kd, kh, kw, sd, sh, sw, dd, dh, dw, pd, ph, pw,
     out_d, out_h, out_w) = geometry
    slab = in_h * in_w  # one (y, x) block of a column row
    offsets = kd * kh * kw
    phase_rows = (out_h + sh - 1) // sh
    phase_size = phase_rows * in_w
    phases = np.zeros(sh * sw * phase_size, dtype=cols.dtype)
    zeros = np.zeros(slab, dtype=cols.dtype)
    u = np.uint64
    for n in range(batch):
        for c in range(channels):
            source = (n * channels + c) * out_d * out_h * out_w
            for a in range(kd):  # blocks whose depth lands outside the output are all zeros
                for z in range(in_d):
                    oz = z * sd + a * dd - pd
                    if oz < 0 or oz >= out_d:
                        for tap in range(kh * kw):
                            start = (((c * offsets + a * kh * kw + tap) * batch + n) * in_d + z) * slab
                            _copy_run(cols, u(start), zeros, u(0), u(slab))
            for oz in range(out_d):
                plane = source + oz * out_h * out_w
                # Phase (rh, rw) of this plane: rows rh, rh + sh, ... and columns rw, rw + sw, ...
                for rh in range(min(sh, out_h)):
                    for rw in range(min(sw, out_w)):
                        into = (rh * sw + rw) * phase_size
                        width = min(in_w, (out_w - rw + sw - 1) // sw)
                        for r in range((out_h - rh + sh - 1) // sh):
                            row = plane + (r * sh + rh) * out_w + rw
                            for v in range(width):
                                phases[into + r * in_w + v] = dout[row + v * sw]
                for a in range(kd):
                    fz = oz + pd - a * dd
                    if fz < 0 or fz % sd != 0 or fz // sd >= in_d:
                        continue
                    for b in range(kh):
                        rh = (b * dh - ph) % sh       # this tap reads phase rows rh ...
                        qh = (b * dh - ph - rh) // sh  # ... shifted by qh: row y reads phase row y + qh
                        rows = (out_h - rh + sh - 1) // sh if rh < out_h else 0
                        y0 = min(in_h, max(0, -qh))
                        y1 = max(y0, min(in_h, rows - qh))
                        for e in range(kw):
                            rw = (e * dw - pw) % sw
                            qw = (e * dw - pw - rw) // sw
                            width = (out_w - rw + sw - 1) // sw if rw < out_w else 0
                            start = (((c * offsets + (a * kh + b) * kw + e) * batch + n) * in_d + fz // sd) * slab
                            _copy_run(cols, u(start), zeros, u(0), u(y0 * in_w))
                            _copy_run(cols, u(start + y1 * in_w), zeros, u(0), u(slab - y1 * in_w))
                            # The long copy: cols[y, x] = phase[y + qh, x + qw] over rows y0 .. y1 - 1.
                            shift = (rh * sw + rw) * phase_size + qh * in_w + qw
                            first = min(y1 * in_w, max(y0 * in_w, -shift))
                            last = max(first, min(y1 * in_w, sh * sw * phase_size - shift))
                            _copy_run(cols, u(start + first), phases, u(shift + first), u(last - first))
                            # The entries the copy skipped or got wrong (x + qw outside the stored columns
                            # 0 .. in_w - 1, where it wrapped to the next row): set one by one.
                            for k in range(y0 * in_w, first):
                                cols[start + k] = _phase_entry(dout, plane, k // in_w + qh, k % in_w + qw, rows,
                                                               width, sh, sw, rh, rw, out_w)
                            for k in range(last, y1 * in_w):
                                cols[start + k] = _phase_entry(dout, plane, k // in_w + qh, k % in_w + qw, rows,
                                                               width, sh, sw, rh, rw, out_w)
                            low = min(in_w, max(0, -qw))
                            high = max(low, min(in_w, min(in_w, width) - qw))
                            for y in range(y0, y1):
                                for x in range(low):
                                    cols[start + y * in_w + x] = 0
                                for x in range(high, in_w):
                                    cols[start + y * in_w + x] = _phase_entry(dout, plane, y + qh, x + qw, rows,
                                                                              width, sh, sw, rh, rw, out_w)
    return cols
