"""numconv.tools.viz: every picture function on small inputs, the numbers they write, ``numconv train``'s pictures."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("matplotlib")

import numconv  # noqa: E402
from numconv import cli, nn  # noqa: E402
from numconv.functional import conv2d  # noqa: E402
from numconv.models import LeNet5  # noqa: E402
from numconv.tools import viz  # noqa: E402
from parity import rel_error  # noqa: E402


@pytest.fixture(autouse=True)
def close_pyplot_figures():
    """Figures made through pyplot (once some test imported it) are closed after each test."""
    yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


def n_images(fig):
    return sum(len(ax.images) for ax in fig.axes)


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_importing_viz_and_filters_loads_no_matplotlib_or_pillow():
    code = ("import sys, numconv.tools.viz, numconv.tools.filters, numconv.commands.filter; "
            "print(sorted(m for m in ('matplotlib', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------------------------------------- filters
def test_plot_filters_of_a_one_channel_layer(tmp_path):
    numconv.manual_seed(0)
    layer = nn.Conv2d(1, 6, 5)
    fig = viz.plot_filters(layer, tmp_path / "f.png")
    assert n_images(fig) == 6 and len(fig.axes) == 7  # six filters and a colour bar
    assert np.array_equal(fig.axes[2].images[0].get_array(), layer.weight.data[2, 0])
    assert "Conv2d(1, 6, kernel_size=(5, 5))" in fig._suptitle.get_text()
    assert is_png(tmp_path / "f.png")


def test_plot_filters_of_weights_models_and_rgb():
    weight = np.random.default_rng(0).standard_normal((5, 4, 3, 3))
    assert n_images(viz.plot_filters(weight)) == 20  # one row per filter, one column per input channel
    assert n_images(viz.plot_filters(weight, max_filters=2, max_channels=3)) == 6
    assert n_images(viz.plot_filters(LeNet5())) == 6  # the model's first Conv2d
    rgb = viz.plot_filters(np.random.default_rng(1).standard_normal((10, 3, 3, 3)))
    assert n_images(rgb) == 10 and len(rgb.axes) == 10  # colour images, no colour bar
    assert rgb.axes[0].images[0].get_array().shape == (3, 3, 3)
    assert n_images(viz.plot_filters(np.ones((3, 3)))) == 1


@pytest.mark.parametrize("arg, error, match", [
    (nn.ReLU(), ValueError, "holds no Conv2d"),
    (np.zeros((2, 2, 2, 2, 2)), ValueError, r"\(C_out, C_in, kH, kW\)"),
    (np.array([["a"]]), TypeError, "numeric"),
])
def test_plot_filters_errors(arg, error, match):
    with pytest.raises(error, match=match):
        viz.plot_filters(arg)


# ---------------------------------------------------------------------------------------------- feature maps
def test_layer_outputs_records_every_leaf_and_leaves_the_model_as_it_was():
    numconv.manual_seed(0)
    model = LeNet5()
    x = np.random.default_rng(0).standard_normal((1, 1, 32, 32)).astype(np.float32)
    records = viz.layer_outputs(model, x)
    assert [name for name, _, _ in records] == [str(i) for i in range(12)]
    assert [out.shape for _, _, out in records][:3] == [(1, 6, 28, 28)] * 2 + [(1, 6, 14, 14)]
    assert np.array_equal(records[-1][2], model.eval()(x))
    model.train()
    viz.layer_outputs(model, x)
    assert model.training and all(m.training for m in model.modules())
    assert not any("forward" in vars(m) for m in model.modules())


def test_plot_feature_maps_lenet5(tmp_path):
    numconv.manual_seed(0)
    image = np.random.default_rng(0).standard_normal((1, 32, 32)).astype(np.float32)
    names = [f"class {i}" for i in range(10)]
    fig = viz.plot_feature_maps(LeNet5(), image, tmp_path / "maps.png", class_names=names)
    # input 1 + C1, tanh, S2: 6 each + C3, tanh, S4: 16 each capped at 8 + one strip each for C5, tanh, flatten,
    # F6, tanh (vectors); a colour bar per row (12 rows); then one bar chart for the output
    assert n_images(fig) == 1 + 3 * 6 + 3 * 8 + 5
    assert len(fig.axes) == n_images(fig) + 12 + 1 and len(fig.axes[-1].patches) == 10
    assert "predicted: class" in fig._suptitle.get_text()
    assert is_png(tmp_path / "maps.png")
    assert n_images(viz.plot_feature_maps(LeNet5(), image[0], max_channels=2)) == 1 + 6 * 2 + 5


def test_plot_feature_maps_rejects_a_batch():
    with pytest.raises(ValueError, match="one image"):
        viz.plot_feature_maps(LeNet5(), np.zeros((2, 1, 32, 32), dtype=np.float32))


# ---------------------------------------------------------------------------------------------- curves
HISTORY = [
    {"epoch": 1, "lr": 0.05, "train_loss": 1.1, "train_acc": 0.6, "val_loss": 0.7, "val_acc": 0.74},
    {"epoch": 2, "lr": 0.02, "train_loss": 0.6, "train_acc": 0.78, "val_loss": 0.6, "val_acc": 0.77},
]


def test_plot_history_from_a_list_a_file_and_a_folder(tmp_path):
    fig = viz.plot_history(HISTORY)
    loss, accuracy = fig.axes
    assert [line.get_label() for line in loss.lines] == ["train", "validation"]
    assert list(loss.lines[1].get_ydata()) == [0.7, 0.6]
    assert np.allclose(accuracy.lines[0].get_ydata(), [60, 78])
    (tmp_path / "history.json").write_text(json.dumps(HISTORY))
    assert len(viz.plot_history(tmp_path / "history.json").axes) == 2
    assert len(viz.plot_history(str(tmp_path), tmp_path / "c.png").axes) == 2 and is_png(tmp_path / "c.png")
    only_loss = viz.plot_history([{"epoch": 1, "train_loss": 2.0}])
    assert len(only_loss.axes) == 1 and len(only_loss.axes[0].lines) == 1


def test_plot_history_errors(tmp_path):
    with pytest.raises(ValueError, match="non-empty list"):
        viz.plot_history([])
    with pytest.raises(ValueError, match="'epoch' and 'train_loss'"):
        viz.plot_history([{"loss": 1.0}])
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        viz.plot_history(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError):
        viz.plot_history(tmp_path / "missing.json")


def test_plot_confusion_matrix():
    matrix = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 4]])
    fig = viz.plot_confusion_matrix(matrix, ["cat", "dog", "owl"])
    (ax,) = fig.axes
    assert n_images(fig) == 1 and [t.get_text() for t in ax.texts][:3] == ["5", "1", "0"]
    assert "accuracy 80.0% on 20 samples" in ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog", "owl"]
    normalized = viz.plot_confusion_matrix(matrix, normalize=True).axes[0]
    assert [t.get_text() for t in normalized.texts][3:6] == ["20%", "70%", "10%"]
    with pytest.raises(ValueError, match="square"):
        viz.plot_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2 class names given for a 3 x 3"):
        viz.plot_confusion_matrix(matrix, ["a", "b"])


# ---------------------------------------------------------------------------------------------- sliding kernel
@given(st.integers(3, 7), st.integers(3, 7), st.integers(1, 3), st.integers(1, 3), st.integers(1, 2),
       st.integers(0, 2), st.integers(0, 2**16))
def test_sliding_step_numbers_equal_conv2d(h, w, kh, kw, stride, padding, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, size=(h, w)).astype(np.float64)
    kernel = rng.integers(-2, 3, size=(kh, kw)).astype(np.float64)  # kh, kw <= 3 <= h, w: always fits
    expected, _ = conv2d(x[None, None], kernel[None, None], stride=stride, padding=padding)
    steps = viz.sliding_steps(x, kernel, stride, padding)
    assert len(steps) == expected.shape[2] * expected.shape[3]
    for s in steps:
        assert s.total == expected[0, 0, s.row, s.col]
        terms, total = s.text.split(" = ")
        assert float(total) == s.total
        # every written term is kernel weight · window pixel, in kernel order
        pairs = [tuple(float(v.strip("()")) for v in term.split("·")) for term in terms.split(" + ")]
        assert pairs == list(zip(kernel.ravel(), s.window.ravel()))
        assert sum(a * b for a, b in pairs) == s.total


def test_sliding_step_text():
    step = viz.sliding_step([[1, 2], [3, 4]], [[1, 0], [-1, 2]], 0)
    assert step.text == "1·1 + 0·2 + (-1)·3 + 2·4 = 6"
    assert (step.row, step.col, step.top, step.left) == (0, 0, 0, 0)
    halves = viz.sliding_step(np.full((3, 3), 0.5), np.ones((3, 3)), 0, padding=1)  # the window's corner is padding
    assert halves.text.endswith(" = 2") and halves.text.startswith("1·0 + 1·0 + 1·0 + 1·0 + 1·0.5")


def test_sliding_kernel_figure(tmp_path):
    x = np.arange(25).reshape(5, 5) % 4
    fig = viz.sliding_kernel(x, np.ones((3, 3)), stride=2, padding=1, step=[0, 4], path=tmp_path / "s.png")
    assert n_images(fig) == 6 and is_png(tmp_path / "s.png")
    texts = [t.get_text() for sub in fig.subfigs for t in sub.texts]
    assert viz.sliding_step(x, np.ones((3, 3)), 4, stride=2, padding=1).text in texts
    assert n_images(viz.sliding_kernel(x, np.ones((2, 2)))) == 3


def test_sliding_kernel_errors():
    with pytest.raises(ValueError, match="step must be an int in 0 .. 8"):
        viz.sliding_kernel(np.zeros((5, 5)), np.ones((3, 3)), step=9)
    with pytest.raises(ValueError, match="does not fit"):
        viz.sliding_step(np.zeros((2, 2)), np.ones((3, 3)), 0)
    with pytest.raises(ValueError, match="small examples only"):
        viz.sliding_kernel(np.zeros((20, 20)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="2-D array"):
        viz.sliding_step(np.zeros((1, 4, 4)), np.ones((3, 3)), 0)


def test_sliding_kernel_gif_has_one_frame_per_output_cell(tmp_path):
    from PIL import Image

    path = viz.sliding_kernel_gif(tmp_path / "slide.gif", np.arange(16).reshape(4, 4) % 3, np.eye(3), dpi=40,
                                  frame_ms=500)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 4 and gif.info["duration"] == 500


# ---------------------------------------------------------------------------------------------- im2col
@pytest.mark.parametrize("shape, kernels, stride, padding", [
    ((4, 4), 1, 1, 0), ((5, 4), 2, 1, 1), ((6, 5), 3, 2, 0), ((3, 3), 1, (1, 2), (1, 0)),
])
def test_im2col_product_equals_conv2d(shape, kernels, stride, padding, rng):
    x = rng.standard_normal(shape)
    k = rng.standard_normal((kernels, 3, 2))
    parts = viz.im2col_product(x, k, stride, padding)
    expected, _ = conv2d(x[None, None], k[:, None], stride=stride, padding=padding)
    assert rel_error(parts.output, expected[0]) <= 1e-10
    assert parts.patches.shape == (expected.shape[2] * expected.shape[3], 6)
    i, j = parts.positions[-1]
    top, left = i * np.broadcast_to(stride, 2)[0], j * np.broadcast_to(stride, 2)[1]
    assert np.array_equal(parts.patches[-1], parts.padded[top:top + 3, left:left + 2].ravel())


def test_plot_im2col(tmp_path):
    x = np.arange(16).reshape(4, 4) % 5
    one = viz.plot_im2col(x, np.ones((3, 3)), path=tmp_path / "i.png")
    assert n_images(one) == 5 and is_png(tmp_path / "i.png")
    two = viz.plot_im2col(x, np.ones((2, 3, 3)), padding=1, highlight=3)
    assert n_images(two) == 6
    with pytest.raises(ValueError, match="highlight"):
        viz.plot_im2col(x, np.ones((3, 3)), highlight=4)
    with pytest.raises(ValueError, match="small examples only"):
        viz.plot_im2col(np.zeros((12, 12)), np.ones((3, 3)))


def test_plot_image_filters():
    fig = viz.plot_image_filters(kernels=["identity", ("gaussian_blur", {"sigma": 1.5}), "sobel_x"])
    assert n_images(fig) == 3 and "0 = grey" in fig.axes[2].get_title()
    assert np.array_equal(fig.axes[0].images[0].get_array(), numconv.tools.filters.sample_image())


# ---------------------------------------------------------------------------------------------- pyplot, train
def test_figures_go_through_pyplot_when_it_is_in_use():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = viz.plot_history(HISTORY)
    assert fig.number in plt.get_fignums()


def test_train_writes_curves_and_feature_maps(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "--limit-train", "256", "--limit-test", "128", "--epochs", "1", "--no-progress",
                     "--out", str(out)]) == 0
    assert is_png(out / "curves.png") and is_png(out / "feature_maps.png")
    assert "matplotlib is not installed" not in capsys.readouterr().out


def test_run_figures_skip_with_a_note_without_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    notes = []
    assert viz.save_run_figures(tmp_path, LeNet5(), np.zeros((1, 32, 32), np.float32), log=notes.append) == []
    assert len(notes) == 1 and "matplotlib is not installed" in notes[0] and not os.listdir(tmp_path)


def test_run_figures_note_a_picture_that_cannot_be_drawn(tmp_path):
    (tmp_path / "history.json").write_text(json.dumps(HISTORY))
    notes = []
    written = viz.save_run_figures(tmp_path, LeNet5(), np.zeros((2, 1, 32, 32), np.float32), log=notes.append)
    assert written == [str(tmp_path / "curves.png")] and is_png(tmp_path / "curves.png")
    assert len(notes) == 1 and notes[0].startswith("note: could not draw feature_maps.png: plot_feature_maps")
