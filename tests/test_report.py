"""numconv report: the page's content (parsed here) and the page in a real browser (headless Chromium).

The browser test needs Debian's ``chromium`` and the ``playwright`` package (never a browser downloaded by
playwright); it is skipped with the reason where either is missing. With ``NUMCONV_REQUIRE_BROWSER=1``
(set by ``.ci/run``) a skipped browser test fails the session, so CI always runs it.
"""

import io
import json
import os
import re
import shutil
import tempfile
from html.parser import HTMLParser

import numpy as np
import pytest

from numconv import cli
from numconv.checkpoint import load_checkpoint
from numconv.tools.report import build_report, load_predictions
from numconv.tools.report.predictions import worst_misclassified

TINY = ["--epochs", "2", "--limit-train", "256", "--limit-test", "120", "--batch-size", "32", "--no-progress"]
CHROMIUM = os.environ.get("NUMCONV_CHROMIUM", "/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny training run and its report page."""
    out = tmp_path_factory.mktemp("run")
    assert cli.main(["train", "--out", str(out), *TINY]) == 0
    assert cli.main(["report", str(out)]) == 0
    return out


class Tables(HTMLParser):
    """Every <table id=...> as a list of rows of cell texts, and every <img src>."""

    def __init__(self):
        super().__init__()
        self.tables, self.images, self.links, self._table, self._cell = {}, [], [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id"), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = ""
        elif tag == "img":
            self.images.append(attrs.get("src", ""))
        for name in ("href", "src"):
            if name in attrs and tag != "img":
                self.links.append(attrs[name])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._table[-1].append(self._cell.strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def expected_numbers(run_dir):
    """What the tables must show, worked out here from the run's own files."""
    history = json.loads((run_dir / "history.json").read_text())
    pred = load_predictions(run_dir)
    labels, predicted = pred["labels"], pred["probs"].argmax(axis=1)
    confusion = np.zeros((10, 10), np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    return history, confusion


def check_tables(tables, run_dir):
    history, confusion = expected_numbers(run_dir)
    rows = tables["history-table"]
    assert rows[0][:6] == ["epoch", "learning rate", "train loss", "train accuracy", "test loss", "test accuracy"]
    assert len(rows) == 1 + len(history)
    for row, epoch in zip(rows[1:], history):
        assert row[0] == str(epoch["epoch"])
        assert row[2] == f"{epoch['train_loss']:.4f}" and row[5] == f"{100 * epoch['val_acc']:.2f}%"
    matrix = tables["confusion-table"]
    assert [[int(v) for v in r[1:]] for r in matrix[1:]] == confusion.tolist()
    per_class = tables["per-class-table"]
    for i, row in enumerate(per_class[1:]):
        assert int(row[1]) == confusion[i].sum() and int(row[2]) == confusion[i, i]
    config = dict(tuple(r) for r in tables["config-table"][1:])
    assert config["model.name"] == "lenet5" and config["train.epochs"] == "2"
    summary = tables["summary-table"]
    assert summary[1][0] == "LeNet5" and "61,706" not in summary[1]  # children own the parameters
    assert sum(int(r[2].replace(",", "")) for r in summary[1:] if r[2] != "--") == 61706


def test_train_saves_predictions(run):
    pred = load_predictions(run)
    assert pred["labels"].shape == (120,) and pred["probs"].shape == (120, 10)
    np.testing.assert_allclose(pred["probs"].sum(axis=1), 1, rtol=1e-5)
    ckpt = load_checkpoint(run / "last.npz")
    assert abs((pred["probs"].argmax(1) == pred["labels"]).mean() - ckpt.history[-1]["val_acc"]) < 1e-12
    np.testing.assert_array_equal(pred["worst_index"], worst_misclassified(pred["labels"], pred["probs"]))
    assert pred["worst_images"].shape == (len(pred["worst_index"]), 1, 32, 32)


def test_worst_misclassified_order():
    labels = np.array([0, 1, 1, 0])
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
    assert worst_misclassified(labels, probs).tolist() == [1, 3, 2]  # wrong ones, surest first
    assert worst_misclassified(labels, probs, count=1).tolist() == [1]


def test_page_is_self_contained_and_holds_the_numbers(run):
    text = (run / "report.html").read_text(encoding="utf-8")
    parser = Tables()
    parser.feed(text)
    assert len(parser.images) >= 5 and all(src.startswith("data:image/png;base64,") for src in parser.images)
    assert not parser.links  # no stylesheet, script, font or link to load
    assert not re.search(r"https?://|<script|@import|url\(", text)
    check_tables(parser.tables, run)
    for section in ("config", "history", "test-set", "per-class", "worst", "filters", "feature-maps", "model"):
        assert f'<section id="{section}">' in text


def test_report_errors(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "holds no last.npz" in capsys.readouterr().err


def test_report_without_predictions(run, tmp_path):
    shutil.copy(run / "last.npz", tmp_path / "last.npz")
    text = build_report(tmp_path)
    assert "no predictions.npz" in text and 'id="history-table"' in text


@pytest.mark.parametrize("damage", ["empty", "truncated", "inflates", "worst_index"])
def test_a_damaged_predictions_file_gives_one_clear_error(run, tmp_path, damage):
    # An interrupted copy of a run folder, or a hostile file: a clear ValueError, never a crash or gigabytes.
    import zipfile

    from numconv.tools.report.predictions import load_predictions

    shutil.copy(run / "last.npz", tmp_path / "last.npz")
    good = (run / "predictions.npz").read_bytes()
    target = tmp_path / "predictions.npz"
    if damage == "empty":
        target.write_bytes(b"")
    elif damage == "truncated":
        target.write_bytes(good[: len(good) // 2])
    elif damage == "inflates":  # 64 MiB of zeros, deflated to a small file
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
            for key in ("labels", "probs", "worst_index", "worst_images", "example_image"):
                buffer = io.BytesIO()
                np.save(buffer, np.zeros(16 * 2**20 if key == "probs" else 1, np.float32))
                z.writestr(f"{key}.npy", buffer.getvalue())
    else:
        with np.load(run / "predictions.npz") as data:
            arrays = {key: data[key] for key in data.files}
        arrays["worst_index"] = np.array([len(arrays["labels"]) + 5])
        np.savez(target, **arrays)
    expected = "more than the file holds" if damage == "inflates" else \
        "worst_index must list" if damage == "worst_index" else "truncated or corrupt"
    with pytest.raises(ValueError, match=expected):
        load_predictions(tmp_path)


@pytest.mark.parametrize("edit", [("data", [1, 2]), ("model", {"name": 5})])
def test_a_damaged_config_gives_the_error_eval_gives(run, tmp_path, edit):
    from numconv._ckpt_file import load
    from numconv.checkpoint import CheckpointError, save

    tree, meta = load(run / "last.npz")
    tree["config"][edit[0]] = edit[1]
    save(tmp_path / "last.npz", tree, meta)
    with pytest.raises(CheckpointError, match=r"config 'data' is \[1, 2\]; expected a dict|does not record which model"):
        build_report(tmp_path)


# ------------------------------------------------------------------------------------------- the browser
def _launch_browser():
    """A headless Chromium page from Debian's package, or pytest.skip with the reason."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"browser test: no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser test: the playwright package is not installed (pip install playwright)")
    return sync_playwright


@pytest.mark.browser
@pytest.mark.slow
def test_page_in_a_real_browser(run):
    sync_playwright = _launch_browser()
    profile = tempfile.mkdtemp(prefix="numconv-chromium-")
    messages, requests = [], []
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                           args=BROWSER_ARGS)
            try:
                page = context.new_page()
                page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
                page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
                page.on("request", lambda r: requests.append(r.url))
                page.goto((run / "report.html").as_uri(), wait_until="load")
                images = page.evaluate("Array.from(document.images, i => [i.complete, i.naturalWidth, i.alt])")
                tables = page.evaluate("""Object.fromEntries(Array.from(document.querySelectorAll('table'),
                    t => [t.id, Array.from(t.rows, r => Array.from(r.cells, c => c.textContent.trim()))]))""")
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert len(images) >= 5
    assert all(complete and width > 0 for complete, width, _ in images), images
    check_tables(tables, run)
    assert not [m for m in messages if m.startswith(("error", "pageerror"))], messages
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
