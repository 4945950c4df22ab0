"""im2col drawn: every patch of the input becomes one row, and the convolution becomes one matrix product."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..._checks import ntuple
from ._figure import as_2d_array, finish, format_number, new_figure

_PAD_COLOUR = np.array([0.86, 0.86, 0.86])
_CELL_COLOUR = np.array([0.90, 0.95, 1.00])
_HIGHLIGHT = np.array([1.00, 0.80, 0.55])
_KERNEL_COLOUR = np.array([1.00, 0.93, 0.70])
_OUT_COLOUR = np.array([0.85, 0.95, 0.85])


class Im2colProduct(NamedTuple):
    """The pieces of ``conv = patches @ kernel_matrix``, for one single-channel input.

    Attributes
    ----------
    padded : ndarray, shape (H + 2 p_h, W + 2 p_w)
    patches : ndarray, shape (H_out * W_out, kH * kW)
        Row ``i * W_out + j`` is the window under output cell ``(i, j)``,
        flattened row by row: the transpose of ``numconv.functional.im2col``'s
        columns.
    kernel_matrix : ndarray, shape (kH * kW, K)
        Column ``k`` is kernel ``k`` flattened the same way.
    product : ndarray, shape (H_out * W_out, K)
        ``patches @ kernel_matrix``.
    output : ndarray, shape (K, H_out, W_out)
        ``product`` reshaped: equal to ``conv2d(x[None, None], kernels[:, None])[0]``.
    positions : list of (int, int)
        The output cell of each patch row.
    """

    padded: np.ndarray
    patches: np.ndarray
    kernel_matrix: np.ndarray
    product: np.ndarray
    output: np.ndarray
    positions: list


def im2col_product(x, kernel, stride=1, padding=0) -> Im2colProduct:
    """Convolve ``x`` with one or more kernels the im2col way, keeping every intermediate matrix.

    Parameters
    ----------
    x : array_like, shape (H, W)
    kernel : array_like, shape (kH, kW) or (K, kH, kW)
    stride, padding : int or (int, int)
        As in ``conv2d`` (zero padding).

    Returns
    -------
    Im2colProduct
    """
    from ...functional.im2col import im2col, pad

    where = "im2col_product"
    x = as_2d_array(x, where, "x")
    kernels = np.asarray(kernel)
    if kernels.ndim == 2:
        kernels = kernels[np.newaxis]
    if kernels.ndim != 3:
        raise ValueError(f"{where}: expected a kernel of shape (kH, kW) or (K, kH, kW), got shape {kernels.shape}")
    kernels = np.stack([as_2d_array(k, where, "kernel") for k in kernels])
    stride = ntuple(stride, 2, where, "stride", minimum=1)
    padding = ntuple(padding, 2, where, "padding", minimum=0)
    padded, _ = pad(x[np.newaxis, np.newaxis], ((padding[0],) * 2, (padding[1],) * 2))
    kh, kw = kernels.shape[1:]
    if kh > padded.shape[2] or kw > padded.shape[3]:
        raise ValueError(f"{where}: the {kh} x {kw} kernel does not fit in the padded input "
                         f"({padded.shape[2]} x {padded.shape[3]})")
    columns = im2col(padded, (kh, kw), stride)  # (kH*kW, H_out*W_out): numconv's layout, one column per patch
    h_out = (padded.shape[2] - kh) // stride[0] + 1
    w_out = (padded.shape[3] - kw) // stride[1] + 1
    patches = columns.T
    kernel_matrix = kernels.reshape(len(kernels), -1).T
    product = patches @ kernel_matrix
    output = product.T.reshape(len(kernels), h_out, w_out)
    positions = [(i, j) for i in range(h_out) for j in range(w_out)]
    return Im2colProduct(padded[0, 0], patches, kernel_matrix, product, output, positions)


def _matrix(ax, values, colours, title, row_labels=None, col_labels=None, fontsize=8):
    ax.imshow(colours, interpolation="nearest", aspect="equal")
    h, w = values.shape
    ax.set_xticks(np.arange(-0.5, w, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, h, 1), minor=True)
    ax.grid(which="minor", color="0.5", linewidth=0.6)
    ax.tick_params(which="minor", length=0)
    ax.set_xticks(range(w), col_labels or [""] * w, fontsize=fontsize - 1, rotation=90)
    ax.set_yticks(range(h), row_labels or [""] * h, fontsize=fontsize - 1)
    ax.tick_params(which="major", length=0)
    for i in range(h):
        for j in range(w):
            ax.text(j, i, format_number(values[i, j]), ha="center", va="center", fontsize=fontsize)
    ax.set_title(title, fontsize=9)


def plot_im2col(x, kernel, stride=1, padding=0, path=None, *, highlight: int = 0):
    """Draw ``conv2d`` as one matrix product: ``patches @ kernel_matrix = output``.

    Panels, left to right: the (padded) input with one patch highlighted;
    the patch matrix, one row per output cell (labelled with its position)
    holding the window under the kernel there; the kernel matrix, one column
    per kernel; the product; and the product reshaped to the output
    grid(s). The highlighted patch, its row and its output are in orange.
    numconv's ``im2col`` stores the transpose (one *column* per patch), so
    that ``weight.reshape(K, -1) @ cols`` needs no transposed weight; the
    arithmetic is the same.

    Parameters
    ----------
    x : array_like, shape (H, W)
        Small: at most 64 patches and 36 kernel entries are drawn.
    kernel : array_like, shape (kH, kW) or (K, kH, kW)
    stride, padding : int or (int, int)
    path : str or PathLike, optional
    highlight : int
        Which patch (row) to highlight.

    Returns
    -------
    matplotlib.figure.Figure
        ``4 + K`` images: input, patches, kernel matrix, product, and the K output grids.
    """
    parts = im2col_product(x, kernel, stride, padding)
    n_patches, n_taps = parts.patches.shape
    n_kernels = parts.kernel_matrix.shape[1]
    if n_patches > 64 or n_taps > 36 or n_kernels > 4:
        raise ValueError(
            f"plot_im2col: draws small examples only (at most 64 patches, 36 kernel entries, 4 kernels), got "
            f"{n_patches} patches of {n_taps} entries and {n_kernels} kernels"
        )
    if isinstance(highlight, bool) or not isinstance(highlight, (int, np.integer)) or \
            not 0 <= highlight < n_patches:
        raise ValueError(f"plot_im2col: highlight must be a patch index in 0 .. {n_patches - 1}, got {highlight!r}")
    stride = ntuple(stride, 2, "plot_im2col", "stride")
    padding = ntuple(padding, 2, "plot_im2col", "padding")
    kernels = np.asarray(kernel, dtype=np.float64)
    kh, kw = kernels.shape[-2:]
    h_out, w_out = parts.output.shape[1:]
    i, j = parts.positions[highlight]

    widths = [parts.padded.shape[1], n_taps, 0.8, n_kernels, 0.8, n_kernels] + [w_out] * n_kernels
    fig = new_figure("plot_im2col", (0.34 * sum(widths) + 2.5, 0.3 * max(n_patches, n_taps) + 2.0))
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, len(widths), gridspec_kw={"width_ratios": widths})

    colours = np.empty(parts.padded.shape + (3,))
    colours[:] = _PAD_COLOUR
    colours[padding[0]:parts.padded.shape[0] - padding[0], padding[1]:parts.padded.shape[1] - padding[1]] = \
        _CELL_COLOUR
    top, left = i * stride[0], j * stride[1]
    colours[top:top + kh, left:left + kw] = _HIGHLIGHT
    _matrix(axes[0], parts.padded, colours, f"input {parts.padded.shape[0]}×{parts.padded.shape[1]}"
            + (" (padded)" if any(padding) else ""))

    offsets = [f"[{p},{q}]" for p in range(kh) for q in range(kw)]
    rows = [f"({a},{b})" for a, b in parts.positions]
    colours = np.broadcast_to(_CELL_COLOUR, parts.patches.shape + (3,)).copy()
    colours[highlight] = _HIGHLIGHT
    _matrix(axes[1], parts.patches, colours, f"patches {n_patches}×{n_taps}\n(one row per output cell)",
            row_labels=rows, col_labels=offsets)

    _matrix(axes[3], parts.kernel_matrix, np.broadcast_to(_KERNEL_COLOUR, parts.kernel_matrix.shape + (3,)),
            f"kernel{'s' if n_kernels > 1 else ''}\n{n_taps}×{n_kernels}", row_labels=offsets,
            col_labels=[f"k{k}" for k in range(n_kernels)])
    colours = np.broadcast_to(_OUT_COLOUR, parts.product.shape + (3,)).copy()
    colours[highlight] = _HIGHLIGHT
    _matrix(axes[5], parts.product, colours, f"product\n{n_patches}×{n_kernels}", row_labels=rows,
            col_labels=[f"k{k}" for k in range(n_kernels)])
    for ax, symbol in ((axes[2], "@"), (axes[4], "=")):
        ax.axis("off")
        ax.text(0.5, 0.5, symbol, ha="center", va="center", fontsize=18, transform=ax.transAxes)
    for k in range(n_kernels):
        colours = np.broadcast_to(_OUT_COLOUR, (h_out, w_out, 3)).copy()
        colours[i, j] = _HIGHLIGHT
        _matrix(axes[6 + k], parts.output[k], colours, f"output {k}\n{h_out}×{w_out}",
                row_labels=[str(r) for r in range(h_out)], col_labels=[str(c) for c in range(w_out)])
    fig.suptitle("Convolution as one matrix product: every patch becomes a row (im2col), "
                 "then patches @ kernels", fontsize=10)
    return finish(fig, path)
