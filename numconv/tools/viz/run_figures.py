"""The pictures ``numconv train`` leaves in its output folder."""

from __future__ import annotations

import os

from .curves import plot_history
from .feature_maps import plot_feature_maps


def save_run_figures(out_dir, model, image, class_names=None, log=print) -> list:
    """Write ``curves.png`` (from ``out_dir/history.json``) and ``feature_maps.png`` (for ``image``).

    When matplotlib is not installed, print one note with ``log`` and write
    nothing; a picture that cannot be drawn or written (e.g. a full disk)
    gets a note too. The pictures are a bonus, never a reason for a run to fail.

    Parameters
    ----------
    out_dir : str or PathLike
        The run's folder, holding the ``history.json`` that ``fit`` wrote.
    model : Module
        The trained model.
    image : ndarray, shape (C, H, W)
        One preprocessed input (e.g. the first test image).
    class_names : sequence of str, optional
    log : callable

    Returns
    -------
    list of str
        The paths written.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log("note: matplotlib is not installed, so curves.png and feature_maps.png were not written "
            "(pip install matplotlib)")
        return []
    out_dir = os.fspath(out_dir)
    written = []
    for name, draw in (("curves.png", lambda path: plot_history(out_dir, path)),
                       ("feature_maps.png", lambda path: plot_feature_maps(model, image, path,
                                                                           class_names=class_names))):
        path = os.path.join(out_dir, name)
        try:
            _close(draw(path))
        except (OSError, ValueError) as error:  # a full disk or an odd model costs the picture, not the run
            log(f"note: could not draw {name}: {error}")
            continue
        written.append(path)
    return written


def _close(fig) -> None:
    """Forget a figure pyplot may be holding (a long session would otherwise collect them)."""
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
