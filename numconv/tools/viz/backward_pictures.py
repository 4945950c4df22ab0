"""Pictures of the backward pass: where max pooling sends each gradient, how many windows cover each pixel
(what col2im adds up), and dx of a strided convolution as a correlation of the zero-inserted dy.

Every number drawn is computed by numconv's own ops; the helpers that compute
them (``maxpool_routing``, ``window_counts``, ``dx_by_correlation``) are
public so that tests hold them to ``max_pool2d_backward``, ``col2im`` and
``conv2d_backward``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._figure import finish, new_figure
from .sliding import _draw_cells

__all__ = ["MaxPoolRouting", "maxpool_routing", "plot_maxpool_routing", "window_counts", "plot_col2im_counts",
           "zero_insert", "dx_by_correlation", "plot_strided_dx"]


def _cell_colours(values, cmap: str, low=None, high=None) -> np.ndarray:
    """RGB colours of a 2-D array under ``cmap``, light enough for black numbers on top."""
    from matplotlib import colormaps

    values = np.asarray(values, dtype=np.float64)
    low = float(values.min()) if low is None else low
    high = float(values.max()) if high is None else high
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return 0.35 + 0.65 * colormaps[cmap](scaled)[..., :3]


# ---------------------------------------------------------------------------------------------- max pooling
@dataclass
class MaxPoolRouting:
    """Where each output's gradient goes.

    Attributes
    ----------
    out : ndarray (H_out, W_out)
    winners : list of ((i, j), (r, c), tied)
        Output position, the input position that gets its gradient, and
        whether other inputs of that window tied with it.
    dx : ndarray (H, W)
        ``max_pool2d_backward(dout)``.
    """

    out: np.ndarray
    winners: list
    dx: np.ndarray


def maxpool_routing(x, dout, kernel_size: int, stride: int) -> MaxPoolRouting:
    """Run max pooling on a 2-D ``x`` and say which input gets each output's gradient (ties: the first)."""
    from ...functional import max_pool2d, max_pool2d_backward

    x = np.asarray(x, dtype=np.float64)
    out, cache = max_pool2d(x[None, None], kernel_size, stride)
    dx = max_pool2d_backward(np.asarray(dout, dtype=np.float64)[None, None], cache)[0, 0]
    winners = []
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = x[i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            p, q = np.unravel_index(int(np.argmax(window)), window.shape)  # the first maximum, as PyTorch
            winners.append(((i, j), (i * stride + p, j * stride + q), int((window == window.max()).sum()) > 1))
    return MaxPoolRouting(out[0, 0], winners, dx)


def plot_maxpool_routing(x, dout, kernel_size: int = 2, stride: int = 2, path=None, *, title: str | None = None):
    """Three grids: the input with each window's winner ringed (ties marked), dout, and the dx it makes.

    Parameters
    ----------
    x : ndarray (H, W)
    dout : ndarray (H_out, W_out)
    kernel_size, stride : int
    """
    routing = maxpool_routing(x, dout, kernel_size, stride)
    x = np.asarray(x, dtype=np.float64)
    fig = new_figure("plot_maxpool_routing", (3.2 * 3, 3.6))
    axes = fig.subplots(1, 3)
    corner = [["" for _ in range(x.shape[1])] for _ in range(x.shape[0])]
    for (i, j), (r, c), tied in routing.winners:
        corner[r][c] += ("" if not corner[r][c] else ",") + f"{i}{j}" + ("=" if tied else "")
    _draw_cells(axes[0], x, _cell_colours(x, "Greys", x.min() - 1, x.max() + 4), corner=corner)
    for (i, j), (r, c), tied in routing.winners:
        axes[0].add_patch(_ring(r, c, "tab:red" if tied else "tab:orange"))
    for k in range(0, x.shape[0] - kernel_size + 1, stride):
        for m in range(0, x.shape[1] - kernel_size + 1, stride):
            axes[0].add_patch(_box(k, m, kernel_size))
    axes[0].set_title("x: each window's maximum ringed\n(red: a tie, the first one wins)", fontsize=9)
    dout = np.asarray(dout, dtype=np.float64)
    _draw_cells(axes[1], dout, _cell_colours(dout, "Blues"))
    axes[1].set_title("dout", fontsize=9)
    _draw_cells(axes[2], routing.dx, _cell_colours(routing.dx, "Blues", 0, max(float(routing.dx.max()), 1e-12)))
    axes[2].set_title("dx: each dout at its window's maximum,\nthe rest 0 (overlaps add up)", fontsize=9)
    fig.suptitle(title or f"Max pooling backward: kernel {kernel_size}, stride {stride}", fontsize=10)
    return finish(fig, path)


def _ring(r, c, colour):
    from matplotlib.patches import Circle

    return Circle((c, r), 0.42, fill=False, edgecolor=colour, linewidth=2.2)


def _box(r, c, size):
    from matplotlib.patches import Rectangle

    return Rectangle((c - 0.5, r - 0.5), size, size, fill=False, edgecolor="tab:blue", linewidth=1.2,
                     linestyle="--")


# ---------------------------------------------------------------------------------------------- col2im
def window_counts(height: int, width: int, kernel_size: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """How many windows cover each pixel: ``col2im(im2col(ones))``, cropped to (height, width)."""
    from ...functional import col2im, im2col

    p = padding
    ones = np.ones((1, 1, height + 2 * p, width + 2 * p))
    counts = col2im(im2col(ones, kernel_size, stride), ones.shape, kernel_size, stride)
    return counts[0, 0, p:p + height, p:p + width]


def plot_col2im_counts(height: int = 8, width: int = 8, kernel_size: int = 3, strides=(1, 2, 3), padding: int = 0,
                       path=None, *, title: str | None = None):
    """Heat maps of the number of windows covering each pixel, one per stride.

    That count is what ``col2im`` sums per pixel, and why ``col2im(im2col(x))``
    is ``x`` times the count, not ``x``: col2im is the adjoint of im2col, not
    its inverse. A pixel with count 0 is never read (stride larger than the
    kernel, or rows the last window does not reach) and gets no gradient.
    """
    fig = new_figure("plot_col2im_counts", (3.1 * len(strides), 3.5))
    axes = np.atleast_1d(fig.subplots(1, len(strides)))
    high = max(float(window_counts(height, width, kernel_size, s, padding).max()) for s in strides)
    for ax, stride in zip(axes, strides):
        counts = window_counts(height, width, kernel_size, stride, padding)
        _draw_cells(ax, counts, _cell_colours(counts, "magma_r", 0, high), fontsize=8)
        ax.set_title(f"stride {stride}: {int((counts == 0).sum())} pixels never read", fontsize=9)
    fig.suptitle(title or f"col2im adds up every copy: windows covering each pixel ({kernel_size}×{kernel_size} "
                          f"kernel, {height}×{width} input)", fontsize=10)
    return finish(fig, path)


# ---------------------------------------------------------------------------------------------- strided dx
def zero_insert(dy, stride: int) -> np.ndarray:
    """``dy`` (N, K, H_out, W_out) with ``stride - 1`` zeros between neighbouring entries."""
    dy = np.asarray(dy, dtype=np.float64)
    n, k, h, w = dy.shape
    spread = np.zeros((n, k, (h - 1) * stride + 1, (w - 1) * stride + 1))
    spread[:, :, ::stride, ::stride] = dy
    return spread


def dx_by_correlation(dy, w, stride: int, input_size, padding: int = 0) -> np.ndarray:
    """dx of ``conv2d(x, w, stride, padding)`` as a full correlation of the zero-inserted dy with the rotated kernel.

    Parameters
    ----------
    dy : ndarray (N, K, H_out, W_out)
    w : ndarray (K, C, kh, kw)
    stride, padding : int
    input_size : (H, W) of x

    Returns
    -------
    dx : ndarray (N, C, H, W), equal to ``conv2d_backward``'s dx
    """
    from ...functional import conv2d

    kh, kw = w.shape[2:]
    rotated = np.asarray(w, dtype=np.float64)[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # in/out channels swap
    full, _ = conv2d(zero_insert(dy, stride), rotated, padding=(kh - 1, kw - 1))
    h, wd = input_size
    # Rows and columns the last window did not reach got no gradient: zeros at the bottom and right.
    full = np.pad(full, ((0, 0), (0, 0), (0, h + 2 * padding - full.shape[2]), (0, wd + 2 * padding - full.shape[3])))
    return full[:, :, padding:padding + h, padding:padding + wd]


def plot_strided_dx(dy, kernel, stride: int = 2, input_size=(5, 5), path=None, *, title: str | None = None):
    """dy, dy with zeros inserted and a full border, the rotated kernel, and the dx their correlation gives.

    Parameters
    ----------
    dy : ndarray (H_out, W_out)
    kernel : ndarray (kh, kw)
    stride : int
    input_size : (H, W) of the forward input
    """
    dy = np.asarray(dy, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    kh, kw = kernel.shape
    spread = np.pad(zero_insert(dy[None, None], stride)[0, 0], ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    dx = dx_by_correlation(dy[None, None], kernel[None, None], stride, input_size)[0, 0]
    panels = [(dy, "dy", "Blues"),
              (spread, f"dy with {stride - 1} zero(s) between entries\nand a border of {kh - 1} zeros", "Blues"),
              (kernel[::-1, ::-1], "kernel rotated 180°", "Oranges"),
              (dx, f"dx = correlation of the two\n({dx.shape[0]}×{dx.shape[1]}, the shape of x)", "Greens")]
    widths = [max(p[0].shape[1], 2) for p in panels]
    fig = new_figure("plot_strided_dx", (1.0 + 0.62 * sum(widths) + 1.2, 4.1))
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": widths})
    for ax, (values, label, cmap) in zip(axes, panels):
        _draw_cells(ax, values, _cell_colours(values, cmap), fontsize=8)
        ax.set_title(label, fontsize=8)
    fig.suptitle(title or f"dx of a stride-{stride} convolution: insert zeros into dy, then correlate with the "
                          "rotated kernel", fontsize=10)
    return finish(fig, path)
