"""``write_report(run_dir)``: one self-contained HTML page about a training run.

The page (``run_dir/report.html`` by default) shows, from what
``numconv train`` left in the folder:

- the configuration (model, data, optimiser, ...), from the checkpoint;
- the history, as a table and as curves;
- the confusion matrix and the accuracy of every class on the test set;
- the misclassified test images the model was most sure about;
- the learned filters of the first convolution and the feature maps of one test image;
- the model's summary table (``numconv.summary``).

The last three come from the model rebuilt from the checkpoint; the test-set
results from ``predictions.npz`` (see :mod:`.predictions`). Pictures are
drawn with matplotlib and embedded, so the page needs nothing else to open.
"""

from __future__ import annotations

import html as _html
import os

import numpy as np

from . import html
from .predictions import load_predictions, save_predictions

__all__ = ["write_report", "build_report", "save_predictions", "load_predictions"]


def _rebuild_model(ckpt, path):
    from ...checkpoint import CheckpointError, check_state_dict
    from ...models import get_model

    from ...commands._run_config import check_run_config

    check_run_config(ckpt.config, path)  # the checks eval and predict make: a damaged config is one clear line
    spec = ckpt.config["model"]
    model = get_model(spec["name"], **dict(spec.get("kwargs", {})))
    check_state_dict(model, ckpt.model, f"checkpoint '{path}'")
    model.load_state_dict(ckpt.model)
    return model.eval()


def _flatten(config, prefix=""):
    """``{"train": {"lr": 0.05}}`` -> ``[("train.lr", "0.05")]``."""
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from _flatten(value, name + ".")
        else:
            yield name, ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _percent(x) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:.2f}%"


HISTORY_COLUMNS = (("epoch", "epoch", str), ("lr", "learning rate", lambda v: f"{v:.6g}"),
                   ("train_loss", "train loss", lambda v: f"{v:.4f}"), ("train_acc", "train accuracy", _percent),
                   ("val_loss", "test loss", lambda v: f"{v:.4f}"), ("val_acc", "test accuracy", _percent),
                   ("seconds", "seconds", lambda v: f"{v:.1f}"), ("images_per_s", "images/s", lambda v: f"{v:,.0f}"))


def history_rows(history) -> tuple:
    """(header, rows) of the history table: the columns the history has, formatted as on the page."""
    columns = [c for c in HISTORY_COLUMNS if any(c[0] in row for row in history)]
    rows = [[fmt(row[key]) if row.get(key) is not None else "" for key, _, fmt in columns] for row in history]
    return [title for _, title, _ in columns], rows


def _history_section(history):
    if not history:
        return html.section("History", "history", html.note("The run has no finished epoch yet."))
    from ..viz import plot_history

    header, rows = history_rows(history)
    plot = _try_figure(lambda: plot_history(history), "training curves: loss and accuracy per epoch")
    return html.section("History", "history", html.table(header, rows, "history-table"), plot)


def _try_figure(draw, alt):
    """An embedded figure, or a note saying why there is none (matplotlib missing, a model it cannot draw)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return html.note(f"No picture of {alt}: matplotlib is not installed (pip install matplotlib).")
    try:
        return html.figure_image(draw(), alt)
    except (ValueError, TypeError) as error:
        return html.note(f"No picture of {alt}: {error}")


def _results_sections(predictions, names):
    if predictions is None:
        missing = html.note("This run folder has no predictions.npz (written by numconv train after its last "
                            "epoch), so there are no test-set results to show.")
        return [html.section("Test set", "test-set", missing)]
    labels, probs = predictions["labels"], predictions["probs"]
    k = probs.shape[1]
    names = list(names or [])[:k] + [str(i) for i in range(len(names or []), k)]
    predicted = probs.argmax(axis=1)
    confusion = np.bincount(labels * k + predicted, minlength=k * k).reshape(k, k)
    totals = confusion.sum(axis=1)
    correct = np.diag(confusion)
    accuracy = correct.sum() / max(len(labels), 1)
    lead = f"<p>{len(labels):,} test images, {int(correct.sum()):,} right: accuracy {_percent(accuracy)}.</p>"
    matrix = html.table(["true \\ predicted", *names], [[names[i], *confusion[i].tolist()] for i in range(k)],
                        "confusion-table", row_headers=True, diagonal=True)
    per_class = html.table(["class", "images", "right", "accuracy"],
                           [[names[i], int(totals[i]), int(correct[i]),
                             _percent(correct[i] / totals[i]) if totals[i] else "n/a"] for i in range(k)],
                           "per-class-table", row_headers=True)
    from ..viz import plot_confusion_matrix

    picture = _try_figure(lambda: plot_confusion_matrix(confusion, names), "the confusion matrix")
    return [html.section("Test set", "test-set", lead, matrix, picture),
            html.section("Accuracy per class", "per-class", per_class),
            _worst_section(predictions, names)]


def _worst_section(predictions, names):
    index, images, probs = predictions["worst_index"], predictions["worst_images"], predictions["probs"]
    if len(index) == 0:
        return html.section("Worst mistakes", "worst", html.note("No test image was misclassified."))
    cards = []
    for i, picture in zip(index, images):
        true, guess = int(predictions["labels"][i]), int(probs[i].argmax())
        caption = f"#{int(i)}: {names[true]} taken for {names[guess]} ({100 * probs[i, guess]:.1f}%)"
        cards.append(f"<figure>{html.pixels_image(picture, caption)}<figcaption>{_html.escape(caption)}"
                     f"</figcaption></figure>")
    intro = "<p>The misclassified test images the model was most sure about, most confident first.</p>"
    return html.section("Worst mistakes", "worst", intro, *cards)


def _model_sections(model, example, names):
    from ..summary import summary
    from ..viz import plot_feature_maps, plot_filters

    input_size = tuple(example.shape) if example is not None else getattr(model, "input_shape", None)
    result = summary(model, input_size, print_table=False)
    rows = [["  " * r.depth + r.name, "--" if r.output_shape is None else str(list(r.output_shape)),
             f"{r.params:,}" if r.params else "--", f"{r.mult_adds:,}" if r.mult_adds else "--"]
            for r in result.rows]
    table = html.table(["layer", "output shape", "parameters", "mult-adds"], rows, "summary-table")
    text = f"<details><summary>The full summary table</summary><pre>{_html.escape(str(result))}</pre></details>"
    filters = _try_figure(lambda: plot_filters(model), "the learned filters of the first convolution")
    maps = (_try_figure(lambda: plot_feature_maps(model, example, class_names=names), "the feature maps")
            if example is not None else html.note("No test image saved to draw the feature maps of."))
    return [html.section("Learned filters", "filters", filters),
            html.section("Feature maps of one test image", "feature-maps", maps),
            html.section("Model", "model", table, text)]


def build_report(run_dir, checkpoint: str = "last.npz") -> str:
    """The HTML page for the run in ``run_dir`` (see the module docstring), as a string."""
    from ...checkpoint import load_checkpoint

    run_dir = os.fspath(run_dir)
    path = os.path.join(run_dir, checkpoint)
    if not os.path.exists(path):
        raise FileNotFoundError(f"'{run_dir}' holds no {checkpoint}: is it a folder written by numconv train?")
    ckpt = load_checkpoint(path)
    model = _rebuild_model(ckpt, path)
    predictions = load_predictions(run_dir)
    names = ckpt.config.get("data", {}).get("classes")
    example = None if predictions is None else predictions["example_image"]
    spec = ckpt.config.get("model", {})
    data = ckpt.config.get("data", {})
    title = f"{spec.get('name', 'model')} on {data.get('dataset', 'data')}: training report"
    lead = f"Run folder {os.path.normpath(run_dir)}, checkpoint {checkpoint} after epoch {ckpt.epoch}."
    config = html.table(["setting", "value"], list(_flatten(ckpt.config)), "config-table", row_headers=True)
    sections = [html.section("Configuration", "config", config), _history_section(ckpt.history),
                *_results_sections(predictions, names), *_model_sections(model, example, names)]
    return html.page(title, lead, sections)


def write_report(run_dir, output=None, checkpoint: str = "last.npz") -> str:
    """Write the report page of ``run_dir`` to ``output`` (default ``run_dir/report.html``); return its path."""
    from ...data._files import atomic_write

    text = build_report(run_dir, checkpoint)
    output = os.fspath(output) if output is not None else os.path.join(os.fspath(run_dir), "report.html")
    atomic_write(output, lambda f: f.write(text.encode("utf-8")))
    return output
