"""What each layer sees: the feature maps of every layer of a model for one input."""

from __future__ import annotations

import numpy as np

from ._figure import finish, new_figure, no_ticks


def layer_outputs(model, x) -> list:
    """Run ``model`` on ``x`` and return the output of every leaf layer, in the order they ran.

    The model runs in eval mode under ``numconv.no_grad()`` (its previous
    mode is restored). Each leaf module's ``forward`` is wrapped for the
    duration of the call (an instance attribute shadows the class method, as
    a PyTorch forward hook would), so this works for any model, not only a
    ``Sequential``.

    Parameters
    ----------
    model : Module
    x : ndarray, shape (N, ...)
        A batch, as the model expects it.

    Returns
    -------
    list of (name, module, output)
        ``name`` is the module's dotted path (``"0"``, ``"features.3"``);
        ``output`` an ndarray.
    """
    from ..._state import no_grad

    records = []
    leaves = [(name, m) for name, m in model.named_modules() if not any(True for _ in m.children())]
    wrapped = []

    def recording(name, module, forward):
        def forward_and_record(*args, **kwargs):
            out = forward(*args, **kwargs)
            records.append((name or type(module).__name__, module, np.asarray(out)))
            return out
        return forward_and_record

    was_training = model.training
    try:
        for name, module in leaves:
            object.__setattr__(module, "forward", recording(name, module, module.forward))
            wrapped.append(module)
        model.eval()
        with no_grad():
            model(x)
    finally:
        for module in wrapped:
            object.__delattr__(module, "forward")
        model.train(was_training)
    return records


def plot_feature_maps(model, image, path=None, *, max_channels: int = 8, class_names=None, title: str | None = None):
    """The classic "what each layer sees" figure: one row per layer, its first channels side by side.

    The first row is the input; then every layer gets a row: an output that
    is still an image (spatial size larger than 1 x 1) shows up to
    ``max_channels`` of its channels, a vector (after a 1 x 1 convolution, a
    flatten or a linear layer) shows as one strip of all its values. The last
    row is the model's output as a bar chart. Each row has its own colour
    scale (viridis: dark low, yellow high), shared by its channels so they can
    be compared, and a colour bar that gives the values.

    Parameters
    ----------
    model : Module
        Run once in eval mode (see ``layer_outputs``).
    image : ndarray, float, shape (H, W), (C, H, W) or (1, C, H, W)
        One input, preprocessed the way the model expects (normalised, padded).
    path : str or PathLike, optional
        Save the figure there.
    max_channels : int
        Channels drawn per layer (the first ones).
    class_names : sequence of str, optional
        Labels for the output bars; the title then names the predicted class.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        ``min(C, max_channels)`` images for the input and for each layer with
        spatial output, and one bar-chart axes for the output.
    """
    if isinstance(max_channels, bool) or not isinstance(max_channels, int) or max_channels < 1:
        raise ValueError(f"plot_feature_maps: max_channels must be a positive int, got {max_channels!r}")
    x = np.asarray(image)
    if x.ndim == 2:
        x = x[np.newaxis, np.newaxis]
    elif x.ndim == 3:
        x = x[np.newaxis]
    elif x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(
            "plot_feature_maps: expected one image of shape (H, W), (C, H, W) or (1, C, H, W), "
            f"got shape {tuple(np.shape(image))}"
        )
    records = layer_outputs(model, x)
    if not records:
        raise ValueError(f"plot_feature_maps: {type(model).__name__} ran no layers")
    rows = [("input", x[0])] + [(f"{name} {type(module).__name__}", out[0]) for name, module, out in records[:-1]]
    output = records[-1][2].reshape(-1)

    columns = min(max_channels, max(r[1].shape[0] if _is_image(r[1]) else 1 for r in rows))
    fig = new_figure("plot_feature_maps", (2.2 + 1.05 * columns, 0.9 + 1.15 * (len(rows) + 1)))
    fig.set_layout_engine("constrained")
    grid = fig.add_gridspec(len(rows) + 1, columns)
    for r, (label, maps) in enumerate(rows):
        _draw_row(fig, grid, r, label, maps, columns, cmap="gray" if r == 0 else "viridis")
    ax = fig.add_subplot(grid[len(rows), :])
    positions = np.arange(output.size)
    best = int(np.argmax(output))
    ax.bar(positions, output, color=["tab:orange" if i == best else "tab:blue" for i in positions])
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_ylabel(f"output\n{output.size} values", fontsize=8)
    if class_names is not None and len(class_names) == output.size:
        ax.set_xticks(positions, [str(n) for n in class_names], fontsize=7, rotation=30, ha="right")
    else:
        ax.set_xticks(positions if output.size <= 20 else [])
        ax.tick_params(labelsize=7)
    if title is None:
        title = f"What each layer of {type(model).__name__} sees"
        if class_names is not None and len(class_names) == output.size:
            title += f" (predicted: {class_names[best]})"
    fig.suptitle(title, fontsize=10)
    return finish(fig, path)


def _is_image(maps) -> bool:
    return maps.ndim == 3 and maps.shape[1] * maps.shape[2] > 1


def _draw_row(fig, grid, r, label, maps, columns, cmap) -> None:
    """One layer's row: its first channels as images, or all its values as a strip, with a colour bar."""
    if _is_image(maps):
        shown = maps[:columns]
        panels = [shown[c] for c in range(shown.shape[0])]
        shape = "×".join(str(s) for s in maps.shape)
    else:
        shown = maps.reshape(1, -1)
        panels = [shown]
        shape = f"{shown.size} values"
    low, high = float(shown.min()), float(shown.max())
    axes = []
    for c, panel in enumerate(panels):
        ax = fig.add_subplot(grid[r, c] if len(panels) > 1 or _is_image(maps) else grid[r, :])
        no_ticks(ax)
        image = ax.imshow(panel, cmap=cmap, vmin=low, vmax=high if high > low else low + 1, interpolation="nearest",
                          aspect="equal" if _is_image(maps) else "auto")
        axes.append(ax)
    axes[0].set_ylabel(f"{label}\n{shape}", fontsize=8)
    bar = fig.colorbar(image, ax=axes, fraction=0.04, pad=0.01, aspect=8)
    bar.ax.tick_params(labelsize=6)
