"""A kernel sliding over a small input, one output cell at a time, with the arithmetic written out."""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from ..._checks import ntuple
from ._figure import as_2d_array, figure_to_rgb, finish, format_number, new_figure

#: Largest padded input and kernel the figures draw (beyond that the numbers no longer fit in their cells).
MAX_DRAWN_SIZE = 16

_PAD_COLOUR = (0.86, 0.86, 0.86)
_INPUT_COLOUR = (0.90, 0.95, 1.00)
_WINDOW_COLOUR = (1.00, 0.80, 0.55)
_KERNEL_COLOUR = (1.00, 0.93, 0.70)
_DONE_COLOUR = (0.85, 0.95, 0.85)
_CURRENT_COLOUR = (1.00, 0.65, 0.30)
_EMPTY_COLOUR = (1.00, 1.00, 1.00)


class SlidingStep(NamedTuple):
    """One step of the slide: which output cell is computed, from which window, and how.

    Attributes
    ----------
    step : int
        Index of the output cell in row-major order (0 .. H_out * W_out - 1).
    row, col : int
        The output cell.
    top, left : int
        Where the window starts in the *padded* input: ``row * stride_h``, ``col * stride_w``.
    window : ndarray, shape (kH, kW)
        The padded input under the kernel.
    products : ndarray, shape (kH, kW)
        ``kernel * window``, element by element.
    total : float
        Their sum: the output value (``conv2d``'s, a cross-correlation).
    text : str
        The multiply-add written out, kernel weight first: ``"1·0 + 0·2 + ... = 7"``
        (negative numbers in parentheses).
    """

    step: int
    row: int
    col: int
    top: int
    left: int
    window: np.ndarray
    products: np.ndarray
    total: float
    text: str


class _Slide(NamedTuple):
    padded: np.ndarray
    kernel: np.ndarray
    stride: tuple
    padding: tuple
    out_shape: tuple


def _prepare(x, kernel, stride, padding, where) -> _Slide:
    """Check the inputs and pad ``x`` with zeros."""
    x = as_2d_array(x, where, "x")
    kernel = as_2d_array(kernel, where, "kernel")
    stride = ntuple(stride, 2, where, "stride", minimum=1)
    padding = ntuple(padding, 2, where, "padding", minimum=0)
    padded = np.pad(x, ((padding[0],) * 2, (padding[1],) * 2))
    if kernel.shape[0] > padded.shape[0] or kernel.shape[1] > padded.shape[1]:
        raise ValueError(
            f"{where}: the {kernel.shape[0]} x {kernel.shape[1]} kernel does not fit in the padded input "
            f"({padded.shape[0]} x {padded.shape[1]}: x of shape {x.shape} with padding {padding})"
        )
    out_shape = tuple((p - k) // s + 1 for p, k, s in zip(padded.shape, kernel.shape, stride))
    return _Slide(padded, kernel, stride, padding, out_shape)


def _bracket(v: float) -> str:
    text = format_number(v)
    return f"({text})" if v < 0 else text


def _step(slide: _Slide, step) -> SlidingStep:
    n_steps = slide.out_shape[0] * slide.out_shape[1]
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or not 0 <= step < n_steps:
        raise ValueError(f"sliding_kernel: step must be an int in 0 .. {n_steps - 1} "
                         f"(the output is {slide.out_shape[0]} x {slide.out_shape[1]}), got {step!r}")
    row, col = divmod(int(step), slide.out_shape[1])
    top, left = row * slide.stride[0], col * slide.stride[1]
    kh, kw = slide.kernel.shape
    window = slide.padded[top:top + kh, left:left + kw]
    products = slide.kernel * window
    total = float(products.sum())
    terms = [f"{_bracket(w)}·{_bracket(v)}" for w, v in zip(slide.kernel.ravel(), window.ravel())]
    return SlidingStep(int(step), row, col, top, left, window.copy(), products, total,
                       " + ".join(terms) + f" = {format_number(total)}")


def sliding_step(x, kernel, step: int, stride=1, padding=0) -> SlidingStep:
    """The arithmetic of one step: the window under the kernel, the products, their sum, as text.

    Parameters
    ----------
    x : array_like, shape (H, W)
    kernel : array_like, shape (kH, kW)
    step : int
        Which output cell, in row-major order.
    stride, padding : int or (int, int)
        As in ``conv2d`` (the padding is zeros).

    Returns
    -------
    SlidingStep
        ``total`` equals ``conv2d(x[None, None], kernel[None, None], stride=stride,
        padding=padding)[0, 0, row, col]``.
    """
    return _step(_prepare(x, kernel, stride, padding, "sliding_step"), step)


def sliding_steps(x, kernel, stride=1, padding=0) -> list:
    """Every step of the slide, in row-major order of the output (see ``sliding_step``)."""
    slide = _prepare(x, kernel, stride, padding, "sliding_steps")
    return [_step(slide, k) for k in range(slide.out_shape[0] * slide.out_shape[1])]


# ---------------------------------------------------------------------------------------------- drawing
def _draw_cells(ax, values, colours, labels=None, corner=None, fontsize=10):
    """A grid of cells, each filled with its colour and labelled with its number."""
    ax.imshow(colours, interpolation="nearest")
    h, w = values.shape
    ax.set_xticks(np.arange(-0.5, w, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, h, 1), minor=True)
    ax.grid(which="minor", color="0.45", linewidth=0.8)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    ax.set_xticks([])
    ax.set_yticks([])
    for i in range(h):
        for j in range(w):
            text = format_number(values[i, j]) if labels is None else labels[i][j]
            if text:
                ax.text(j, i + 0.08, text, ha="center", va="center", fontsize=fontsize)
            if corner is not None and corner[i][j]:
                ax.text(j - 0.42, i - 0.40, corner[i][j], ha="left", va="top", fontsize=fontsize * 0.55,
                        color="firebrick")


def _draw_step(fig, slide: _Slide, info: SlidingStep, all_steps: list) -> None:
    """Fill ``fig`` (a figure or subfigure) with the three panels and the equation of one step."""
    padded, kernel = slide.padded, slide.kernel
    kh, kw = kernel.shape
    ph, pw = slide.padding
    h_out, w_out = slide.out_shape
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [padded.shape[1], kw, w_out]})
    fontsize = 10 if padded.shape[1] <= 8 else 8

    colours = np.empty(padded.shape + (3,))
    colours[:] = _PAD_COLOUR
    colours[ph:padded.shape[0] - ph, pw:padded.shape[1] - pw] = _INPUT_COLOUR
    colours[info.top:info.top + kh, info.left:info.left + kw] = _WINDOW_COLOUR
    corner = [[""] * padded.shape[1] for _ in range(padded.shape[0])]
    for p in range(kh):
        for q in range(kw):
            corner[info.top + p][info.left + q] = "×" + format_number(kernel[p, q])
    _draw_cells(axes[0], padded, colours, corner=corner, fontsize=fontsize)
    pad_text = f", padding {ph}" if ph == pw else f", padding ({ph}, {pw})"
    axes[0].set_title(f"input {padded.shape[0] - 2 * ph}×{padded.shape[1] - 2 * pw}"
                      + (pad_text if ph or pw else ""), fontsize=9)

    _draw_cells(axes[1], kernel, np.broadcast_to(np.array(_KERNEL_COLOUR), kernel.shape + (3,)), fontsize=fontsize)
    axes[1].set_title(f"kernel {kh}×{kw}", fontsize=9)

    out_values = np.zeros(slide.out_shape)
    out_colours = np.empty(slide.out_shape + (3,))
    out_colours[:] = _EMPTY_COLOUR
    labels = [[""] * w_out for _ in range(h_out)]
    for done in all_steps[:info.step + 1]:
        out_values[done.row, done.col] = done.total
        out_colours[done.row, done.col] = _DONE_COLOUR
        labels[done.row][done.col] = format_number(done.total)
    out_colours[info.row, info.col] = _CURRENT_COLOUR
    _draw_cells(axes[2], out_values, out_colours, labels=labels, fontsize=fontsize)
    stride = slide.stride
    stride_text = f", stride {stride[0]}" if stride[0] == stride[1] else f", stride {stride}"
    axes[2].set_title(f"output {h_out}×{w_out}" + (stride_text if stride != (1, 1) else ""), fontsize=9)

    equation = info.text
    if len(equation) > 80:  # one line per kernel row
        terms = equation.split(" = ")[0].split(" + ")
        lines = [" + ".join(terms[p * kw:(p + 1) * kw]) for p in range(kh)]
        equation = "\n+ ".join(lines) + f"\n= {format_number(info.total)}"
    fig.suptitle(f"step {info.step + 1} of {h_out * w_out}: output[{info.row}, {info.col}]", fontsize=10)
    fig.supxlabel(equation, fontsize=9 if len(info.text) <= 80 else 8, family="DejaVu Sans")


def _check_drawable(slide: _Slide, where: str) -> None:
    if max(slide.padded.shape) > MAX_DRAWN_SIZE or max(slide.kernel.shape) > MAX_DRAWN_SIZE // 2:
        raise ValueError(
            f"{where}: draws small examples only (padded input up to {MAX_DRAWN_SIZE} x {MAX_DRAWN_SIZE}, kernel "
            f"up to {MAX_DRAWN_SIZE // 2} x {MAX_DRAWN_SIZE // 2}), got a padded input of "
            f"{slide.padded.shape[0]} x {slide.padded.shape[1]} and a kernel of {slide.kernel.shape[0]} x "
            f"{slide.kernel.shape[1]}"
        )


def _figsize(slide: _Slide, rows: int) -> tuple:
    cells = slide.padded.shape[1] + slide.kernel.shape[1] + slide.out_shape[1]
    height = max(slide.padded.shape[0], 3)
    extra = 1.0 if len(" + " * slide.kernel.size) > 40 else 0.6
    return (max(6.0, 0.5 * cells + 1.2), rows * (0.5 * height + 1.1 + extra))


def sliding_kernel(x, kernel, stride=1, padding=0, step=0, path=None):
    """Draw a kernel sliding over a small input: the window, the kernel, the output so far, and the sum.

    For each requested step the figure shows three grids side by side: the
    (zero-)padded input with the window under the kernel highlighted and the
    kernel weight written small in the corner of each of its cells; the
    kernel; and the output, cells already computed in green and the current
    one in orange. Below, the multiply-add of that cell written out
    (``sliding_step``'s ``text``), which equals numconv's ``conv2d``.

    Parameters
    ----------
    x : array_like, shape (H, W)
        Small (padded size at most 16 x 16); integers read best.
    kernel : array_like, shape (kH, kW)
    stride, padding : int or (int, int)
    step : int or sequence of int
        Which output cell(s) to show (row-major); several give one row each.
    path : str or PathLike, optional
        Save the figure there.

    Returns
    -------
    matplotlib.figure.Figure
        Three image axes per step.
    """
    slide = _prepare(x, kernel, stride, padding, "sliding_kernel")
    _check_drawable(slide, "sliding_kernel")
    steps = [step] if isinstance(step, (int, np.integer)) and not isinstance(step, bool) else list(step)
    if not steps:
        raise ValueError("sliding_kernel: no step to draw")
    all_steps = [_step(slide, k) for k in range(slide.out_shape[0] * slide.out_shape[1])]
    infos = [_step(slide, k) for k in steps]
    fig = new_figure("sliding_kernel", _figsize(slide, len(infos)))
    _render(fig, slide, infos, all_steps)
    return finish(fig, path)


def _render(fig, slide, infos, all_steps) -> None:
    fig.set_layout_engine("constrained")
    subfigures = fig.subfigures(len(infos), 1, squeeze=False)[:, 0] if len(infos) > 1 else [fig]
    for sub, info in zip(subfigures, infos):
        _draw_step(sub, slide, info, all_steps)


def sliding_kernel_gif(path, x, kernel, stride=1, padding=0, *, frame_ms: int = 900, dpi: int = 72) -> str:
    """Write the whole slide as an animated GIF: one frame per output cell, looping.

    Each frame is ``sliding_kernel``'s figure for that step, rendered by
    matplotlib (Agg) and assembled by Pillow with one shared 64-colour
    palette (the pictures are flat colours, so nothing is lost and the file
    stays small).

    Parameters
    ----------
    path : str or PathLike
        Where the GIF goes.
    x, kernel, stride, padding
        As for ``sliding_kernel``.
    frame_ms : int
        How long each frame shows, in milliseconds.
    dpi : int
        Resolution of the frames.

    Returns
    -------
    str
        ``path``. The GIF has ``H_out * W_out`` frames.
    """
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError(f"sliding_kernel_gif needs Pillow (pip install Pillow): {error}") from None
    slide = _prepare(x, kernel, stride, padding, "sliding_kernel_gif")
    _check_drawable(slide, "sliding_kernel_gif")
    all_steps = [_step(slide, k) for k in range(slide.out_shape[0] * slide.out_shape[1])]
    frames = []
    for info in all_steps:
        fig = new_figure("sliding_kernel_gif", _figsize(slide, 1), bare=True)
        _render(fig, slide, [info], all_steps)
        frames.append(Image.fromarray(figure_to_rgb(fig, dpi=dpi)))
    # One palette for every frame, from all of them stacked (the first frame lacks the "done" green).
    strip = Image.fromarray(np.concatenate([np.asarray(frame) for frame in frames], axis=0))
    palette = strip.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    indexed = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames]
    path = os.fspath(path)
    indexed[0].save(path, save_all=True, append_images=indexed[1:], duration=int(frame_ms), loop=0)
    return path
