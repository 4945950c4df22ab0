"""The learned filters of a convolution layer, drawn as a grid of small images."""

from __future__ import annotations

import math

import numpy as np

from ._figure import finish, new_figure, no_ticks, symmetric_limits


def plot_filters(layer_or_weight, path=None, *, max_filters: int = 64, max_channels: int = 16, rgb: bool = True,
                 title: str | None = None):
    """Draw the filters of a convolution layer.

    Every weight is shown on one colour scale shared by the whole layer and
    centred on zero (red positive, blue negative, white zero), so filters can
    be compared with each other: a pale filter has small weights.

    Parameters
    ----------
    layer_or_weight : Conv2d, Module, Parameter or ndarray
        A ``Conv2d`` layer; any ``Module`` (its first ``Conv2d`` is drawn);
        a ``Parameter``; or the weight itself, shape (C_out, C_in, kH, kW),
        (C_out, kH, kW) or (kH, kW).
    path : str or PathLike, optional
        Save the figure there (PNG, SVG, PDF... by extension).
    max_filters : int
        Draw at most this many output filters (the first ones).
    max_channels : int
        With more than one input channel, draw at most this many of them.
    rgb : bool
        With exactly 3 input channels, draw each filter as one colour image
        (the weights rescaled to 0..1 over the layer), as is usual for a
        first layer that looks at RGB photos.
    title : str, optional
        Default: what was drawn, e.g. ``"Conv2d(1, 6, kernel_size=(5, 5)): 6 filters"``.

    Returns
    -------
    matplotlib.figure.Figure
        With one input channel (or ``rgb`` and 3): one image per filter, in a
        near-square grid, plus a colour bar (not for RGB). Otherwise a grid
        with one row per filter and one column per input channel, plus a
        colour bar.
    """
    weight, name = _weight_of(layer_or_weight)
    if isinstance(max_filters, bool) or not isinstance(max_filters, int) or max_filters < 1:
        raise ValueError(f"plot_filters: max_filters must be a positive int, got {max_filters!r}")
    if isinstance(max_channels, bool) or not isinstance(max_channels, int) or max_channels < 1:
        raise ValueError(f"plot_filters: max_channels must be a positive int, got {max_channels!r}")
    c_out, c_in, kh, kw = weight.shape
    shown = weight[:max_filters]
    n = shown.shape[0]
    title = title or f"{name}: {c_out} filter{'s' if c_out != 1 else ''}" + \
        (f" (first {n} shown)" if n < c_out else "") + f", {c_in} input channel{'s' if c_in != 1 else ''} each"
    vmin, vmax = symmetric_limits(shown)

    if c_in == 1 or (rgb and c_in == 3):
        cols = n if n <= 8 else math.ceil(math.sqrt(n))  # one row for a few, a square for many
        rows = math.ceil(n / cols)
        fig = new_figure("plot_filters", (1.0 + 1.1 * cols, 0.8 + 1.1 * rows))
        fig.set_layout_engine("constrained")
        axes = fig.subplots(rows, cols, squeeze=False)
        image = None
        for k, ax in enumerate(axes.flat):
            if k >= n:
                ax.remove()
                continue
            no_ticks(ax)
            ax.set_title(str(k), fontsize=8)
            if c_in == 3:
                low, high = float(shown.min()), float(shown.max())
                scaled = (shown[k].transpose(1, 2, 0) - low) / (high - low if high > low else 1.0)
                ax.imshow(scaled, interpolation="nearest")
            else:
                image = ax.imshow(shown[k, 0], cmap="RdBu_r", vmin=vmin, vmax=vmax, interpolation="nearest")
        if image is not None:
            fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
    else:
        channels = min(c_in, max_channels)
        fig = new_figure("plot_filters", (1.6 + 0.75 * channels, 0.9 + 0.75 * n))
        fig.set_layout_engine("constrained")
        axes = fig.subplots(n, channels, squeeze=False)
        for k in range(n):
            for c in range(channels):
                ax = axes[k, c]
                no_ticks(ax)
                image = ax.imshow(shown[k, c], cmap="RdBu_r", vmin=vmin, vmax=vmax, interpolation="nearest")
                if k == 0:
                    ax.set_title(f"in {c}", fontsize=8)
                if c == 0:
                    ax.set_ylabel(f"filter {k}", fontsize=8)
        fig.colorbar(image, ax=axes, shrink=0.6, label="weight")
        if channels < c_in:
            title += f" (first {channels} input channels shown)"
    fig.suptitle(title, fontsize=10)
    return finish(fig, path)


def _weight_of(obj) -> tuple:
    """``(weight (C_out, C_in, kH, kW) float64, description)`` from a layer, module, Parameter or array."""
    from ...nn import Conv2d, Module, Parameter

    name = "weight"
    if isinstance(obj, Module):
        conv = obj if isinstance(obj, Conv2d) else next((m for m in obj.modules() if isinstance(m, Conv2d)), None)
        if conv is None:
            raise ValueError(f"plot_filters: {type(obj).__name__} holds no Conv2d layer to draw")
        name = f"Conv2d({conv.in_channels}, {conv.out_channels}, kernel_size={conv.kernel_size})"
        obj = conv.weight
    if isinstance(obj, Parameter):
        obj = obj.data
    weight = np.asarray(obj)
    if weight.dtype == object or not (np.issubdtype(weight.dtype, np.floating)
                                      or np.issubdtype(weight.dtype, np.integer)):
        raise TypeError(f"plot_filters: expected a numeric weight, got dtype {weight.dtype}")
    if weight.ndim == 2:
        weight = weight[np.newaxis, np.newaxis]
    elif weight.ndim == 3:
        weight = weight[:, np.newaxis]
    elif weight.ndim != 4:
        raise ValueError(
            "plot_filters: expected a conv weight of shape (C_out, C_in, kH, kW), (C_out, kH, kW) or (kH, kW), "
            f"got shape {tuple(weight.shape)}"
        )
    if weight.size == 0:
        raise ValueError(f"plot_filters: the weight is empty (shape {tuple(weight.shape)})")
    return weight.astype(np.float64), name
