"""What every picture function shares: making a figure, saving it, checking inputs.

Figures are made without touching matplotlib's global state unless the
caller already uses it: if ``matplotlib.pyplot`` has been imported (a
notebook, a script that calls ``plt.show()``), the figure is made with
``pyplot.figure`` so it displays as usual; otherwise it is a bare
``matplotlib.figure.Figure``, which needs no display and no GUI toolkit and
is rendered by the Agg (PNG) backend when saved. Nothing here imports
matplotlib at module level, so ``import numconv.tools.viz`` stays cheap.
"""

from __future__ import annotations

import os
import sys

import numpy as np


def require_matplotlib(where: str):
    """Import matplotlib, or raise an ImportError that says how to install it."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"{where} needs matplotlib (pip install matplotlib, or pip install 'numconv[viz]'): {error}"
        ) from None


def new_figure(where: str, figsize, bare: bool = False):
    """An empty figure of ``figsize`` inches: through pyplot if the caller uses pyplot, else a bare Figure.

    ``bare=True`` always makes a bare Figure (animation frames, which are
    rendered to pixels and thrown away).
    """
    require_matplotlib(where)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None and not bare:
        return pyplot.figure(figsize=figsize)
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def finish(fig, path=None, dpi: int = 100):
    """Save ``fig`` to ``path`` (if given; the format follows the extension) and return it.

    Written whole or not at all (``numconv.data._files.atomic_write``): a full disk leaves the previous
    picture in place, never half of a new one.
    """
    if path is not None:
        from ...data._files import atomic_write

        path = os.fspath(path)
        extension = os.path.splitext(path)[1][1:].lower() or None  # (None: matplotlib's default, png)
        atomic_write(path, lambda f: fig.savefig(f, dpi=dpi, format=extension))
    return fig


def figure_to_rgb(fig, dpi: int = 100) -> np.ndarray:
    """Render ``fig`` with Agg and return its pixels, uint8 of shape (H, W, 3)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()


def no_ticks(ax) -> None:
    """Hide an image axes' ticks (the pixel indices say nothing here)."""
    ax.set_xticks([])
    ax.set_yticks([])


def symmetric_limits(values) -> tuple:
    """``(-m, m)`` with ``m = max |values|`` (1 if all zero): a colour scale centred on zero."""
    m = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return (-m, m) if m > 0 else (-1.0, 1.0)


def as_2d_array(x, where: str, name: str) -> np.ndarray:
    """``x`` as a float64 2-D array, or a clear error."""
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(f"{where}: expected {name} to hold numbers, got dtype {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{where}: expected {name} to be a 2-D array, got shape {tuple(x.shape)}")
    if x.size == 0:
        raise ValueError(f"{where}: {name} is empty (shape {tuple(x.shape)})")
    return x.astype(np.float64)


def format_number(v: float) -> str:
    """A compact label for a cell: ``3``, ``-0.5``, ``0.125``, ``1.2e+03``."""
    v = float(v)
    if v == int(v) and abs(v) < 1e6:
        return str(int(v))
    return f"{v:.3g}"
