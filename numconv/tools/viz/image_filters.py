"""An image under several hand-made kernels, side by side."""

from __future__ import annotations

import math

import numpy as np

from ._figure import finish, new_figure, no_ticks

#: The kernels drawn by default, with the arguments that make their effect visible on a small image.
DEFAULT_KERNELS = (
    ("identity", {}), ("box_blur", {"size": 5}), ("gaussian_blur", {"size": 9, "sigma": 2.0}),
    ("sharpen", {}), ("emboss", {}), ("outline", {}), ("laplacian", {}), ("sobel_x", {}), ("sobel_y", {}),
)


def plot_image_filters(image=None, kernels=DEFAULT_KERNELS, path=None, *, padding_mode: str = "reflect",
                       columns: int = 3):
    """The same image filtered by each kernel, one panel per kernel, titled with its name and display mode.

    Parameters
    ----------
    image : ndarray, uint8, shape (H, W) or (H, W, 3), optional
        Default: ``numconv.tools.filters.sample_image()``.
    kernels : sequence of str or (str, dict)
        Kernel names from ``numconv.tools.filters.KERNELS``, optionally with
        their arguments, e.g. ``("gaussian_blur", {"sigma": 2.0})``.
    path : str or PathLike, optional
    padding_mode : str
        Passed to ``apply_filter``.
    columns : int
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
        One image per kernel.
    """
    from .. import filters

    image = filters.sample_image() if image is None else image
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise TypeError("plot_image_filters: expected a uint8 image (H, W) or (H, W, 3), got "
                        f"{getattr(image, 'dtype', type(image).__name__)}")
    specs = [(k, {}) if isinstance(k, str) else (k[0], dict(k[1])) for k in kernels]
    if not specs:
        raise ValueError("plot_image_filters: no kernel to draw")
    columns = min(columns, len(specs))
    rows = math.ceil(len(specs) / columns)
    height, width = image.shape[:2]
    panel_w = 3.0
    fig = new_figure("plot_image_filters", (panel_w * columns, rows * (panel_w * height / width + 0.45)))
    fig.set_layout_engine("constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, (name, kwargs) in zip(axes.flat, specs):
        kernel = filters.get_kernel(name, **kwargs)
        shown = filters.apply_filter(image, kernel, padding_mode=padding_mode)
        ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
        no_ticks(ax)
        size = f"{kernel.shape[0]}×{kernel.shape[1]}"
        display = filters.default_display(kernel)
        ax.set_title(f"{name} ({size})" + (", 0 = grey" if display == "shift" else ""), fontsize=9)
    for ax in list(axes.flat)[len(specs):]:
        ax.remove()
    return finish(fig, path)
