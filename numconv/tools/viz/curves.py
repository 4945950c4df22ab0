"""Training curves and the confusion matrix: how a training run went."""

from __future__ import annotations

import json
import os

import numpy as np

from ._figure import finish, new_figure


def load_history(history) -> list:
    """The per-epoch history of ``numconv.train.fit``, from the list itself or from its JSON file.

    Parameters
    ----------
    history : list of dict, or str / PathLike
        ``fit``'s return value, a ``history.json`` path, or the run's output
        directory (which holds ``history.json``).

    Returns
    -------
    list of dict
        Each with at least ``epoch`` and ``train_loss``.
    """
    if isinstance(history, (str, os.PathLike)):
        path = os.fspath(history)
        if os.path.isdir(path):
            path = os.path.join(path, "history.json")
        with open(path, encoding="utf-8") as f:
            try:
                history = json.load(f)
            except json.JSONDecodeError as error:
                raise ValueError(f"plot_history: '{path}' is not valid JSON: {error}") from None
    if not isinstance(history, (list, tuple)) or not history:
        raise ValueError("plot_history: expected a non-empty list of per-epoch dicts (fit's history)")
    for i, row in enumerate(history):
        if not isinstance(row, dict) or "epoch" not in row or "train_loss" not in row:
            raise ValueError(
                f"plot_history: entry {i} is not an epoch record with 'epoch' and 'train_loss' "
                f"(the format numconv.train.fit writes), got {row!r}"
            )
    return list(history)


def plot_history(history, path=None, *, title: str | None = None):
    """Loss and accuracy per epoch, for training and validation, side by side.

    Parameters
    ----------
    history : list of dict, or str / PathLike
        What ``numconv.train.fit`` returns, or its ``history.json`` (or the
        folder holding it). Keys used: ``epoch``, ``train_loss``,
        ``val_loss``, ``train_acc``, ``val_acc`` (the ``val_`` ones optional).
    path : str or PathLike, optional
        Save the figure there.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Two axes (loss, accuracy in %), or only the loss axes when the history
        has no accuracies.
    """
    rows = load_history(history)
    epochs = [row["epoch"] for row in rows]

    def series(key):
        return [row.get(key, np.nan) for row in rows] if any(key in row for row in rows) else None

    has_accuracy = any(k in row for row in rows for k in ("train_acc", "val_acc"))
    fig = new_figure("plot_history", (9.0 if has_accuracy else 5.0, 3.6))
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, 2 if has_accuracy else 1, squeeze=False)[0]
    panels = [(axes[0], "loss", "train_loss", "val_loss", 1.0)]
    if has_accuracy:
        panels.append((axes[1], "accuracy (%)", "train_acc", "val_acc", 100.0))
    for ax, label, train_key, val_key, scale in panels:
        for key, name, colour in ((train_key, "train", "tab:blue"), (val_key, "validation", "tab:orange")):
            values = series(key)
            if values is not None:
                ax.plot(epochs, np.asarray(values, dtype=float) * scale, marker="o", color=colour, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
        if len(epochs) <= 20:
            ax.set_xticks(epochs)
    fig.suptitle(title or f"Training over {len(rows)} epoch{'s' if len(rows) != 1 else ''}", fontsize=10)
    return finish(fig, path)


def plot_confusion_matrix(matrix, class_names=None, path=None, *, normalize: bool = False, title: str | None = None):
    """A confusion matrix as a heat map with the count written in every cell.

    Parameters
    ----------
    matrix : array_like, shape (K, K)
        ``matrix[t, p]`` = how many samples of true class ``t`` were
        predicted as ``p`` (``numconv.train.evaluate``'s ``confusion_matrix``).
    class_names : sequence of K str, optional
        Default: ``"0"`` ... ``"K-1"``.
    path : str or PathLike, optional
        Save the figure there.
    normalize : bool
        Show each row as percentages of its true class (the diagonal is then
        each class's recall) instead of counts.
    title : str, optional
        Default: the overall accuracy, ``trace / total``.

    Returns
    -------
    matplotlib.figure.Figure
        One image axes.
    """
    matrix = np.asarray(matrix)
    if matrix.dtype == object or not (np.issubdtype(matrix.dtype, np.integer)
                                      or np.issubdtype(matrix.dtype, np.floating)):
        raise TypeError(f"plot_confusion_matrix: expected a numeric matrix, got dtype {matrix.dtype}")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ValueError(f"plot_confusion_matrix: expected a square (K, K) matrix, got shape {tuple(matrix.shape)}")
    k = matrix.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(n) for n in class_names]
    if len(names) != k:
        raise ValueError(f"plot_confusion_matrix: {len(names)} class names given for a {k} x {k} matrix")
    counts = matrix.astype(np.float64)
    if np.any(counts < 0):
        raise ValueError("plot_confusion_matrix: the matrix holds negative counts")
    total = counts.sum()
    shown = counts
    if normalize:
        with np.errstate(invalid="ignore", divide="ignore"):
            shown = 100.0 * counts / counts.sum(axis=1, keepdims=True)
        shown = np.nan_to_num(shown)

    size = 1.6 + 0.55 * k
    fig = new_figure("plot_confusion_matrix", (size + 1.0, size))
    fig.set_layout_engine("constrained")
    ax = fig.subplots()
    ax.imshow(shown, cmap="Blues", vmin=0, interpolation="nearest")
    ax.set_xticks(range(k), names, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= 25:
        threshold = shown.max() / 2 if shown.max() > 0 else 1
        for t in range(k):
            for p in range(k):
                text = f"{shown[t, p]:.0f}%" if normalize else f"{shown[t, p]:g}"
                ax.text(p, t, text, ha="center", va="center", fontsize=7,
                        color="white" if shown[t, p] > threshold else "black")
    if title is None:
        accuracy = np.trace(counts) / total if total > 0 else float("nan")
        title = f"Confusion matrix: accuracy {100 * accuracy:.1f}% on {total:g} samples"
        if normalize:
            title += " (rows in %)"
    ax.set_title(title, fontsize=10)
    return finish(fig, path)
