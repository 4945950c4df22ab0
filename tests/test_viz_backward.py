"""The backward-pass and training pictures: the numbers they draw are numconv's (and PyTorch's) gradients."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from numconv import functional as F  # noqa: E402
from numconv import nn  # noqa: E402
from numconv.models import LeNet5  # noqa: E402
from numconv.tools import viz  # noqa: E402


@pytest.mark.parametrize("size, kernel, stride, padding", [
    ((5, 5), 3, 2, 0), ((6, 7), 3, 2, 1), ((7, 6), 2, 3, 0), ((8, 8), 3, 2, 2), ((6, 6), 1, 2, 0), ((9, 7), 4, 3, 1),
])
def test_dx_is_a_correlation_of_the_zero_inserted_dy_with_the_rotated_kernel(size, kernel, stride, padding):
    rng = np.random.default_rng(sum(size) + kernel + stride)
    x = rng.standard_normal((2, 3, *size))
    w = rng.standard_normal((4, 3, kernel, kernel))
    out, cache = F.conv2d(x, w, None, stride=stride, padding=padding)
    dy = rng.standard_normal(out.shape)
    dx = F.conv2d_backward(dy, cache)[0]
    got = viz.dx_by_correlation(dy, w, stride, size, padding)
    assert got.shape == dx.shape and np.max(np.abs(got - dx)) <= 1e-12 * np.max(np.abs(dx))


def test_zero_insert():
    spread = viz.zero_insert(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), 3)
    assert spread.shape == (1, 1, 4, 4) and spread[0, 0, 3, 3] == 4 and spread.sum() == 10


def test_window_counts_are_what_col2im_adds_up():
    counts = viz.window_counts(5, 5, 3, 1)
    assert counts[2, 2] == 9 and counts[0, 0] == 1 and counts.sum() == 9 * 9
    assert (viz.window_counts(8, 8, 3, 4)[:, 3] == 0).all()  # stride 4 > kernel 3: column 3 is never read
    padded = viz.window_counts(4, 4, 3, 1, padding=1)
    assert padded[1, 1] == 9 and padded[0, 0] == 4  # a corner pixel sits in the 4 windows around it


def test_maxpool_routing_sends_each_gradient_to_the_first_maximum():
    x = np.array([[1, 3, 5, 5], [2, 0, 5, 5], [7, 7, 0, 1], [7, 7, 2, 1.0]])
    routing = viz.maxpool_routing(x, np.array([[10, 20], [30, 40.0]]), 2, 2)
    assert [(w[1], w[2]) for w in routing.winners] == [((0, 1), False), ((0, 2), True), ((2, 0), True),
                                                       ((3, 2), False)]
    for (i, j), (r, c), _ in routing.winners:
        assert routing.dx[r, c] == [[10, 20], [30, 40]][i][j]
    assert routing.dx.sum() == 100


def test_backward_pictures_draw(tmp_path):
    x = np.array([[1, 3, 5, 5, 0], [2, 0, 5, 5, 1], [7, 7, 0, 1, 4], [7, 7, 2, 1, 6], [0, 2, 3, 8, 1]])
    assert viz.plot_maxpool_routing(x, np.ones((2, 2)), 3, 2, tmp_path / "a.png") is not None
    assert len(viz.plot_col2im_counts(6, 6, 3, strides=(1, 2), path=tmp_path / "b.png").axes) == 2
    assert len(viz.plot_strided_dx(np.ones((2, 2)), np.ones((3, 3)), 2, (5, 5), tmp_path / "c.png").axes) == 4
    assert all((tmp_path / name).stat().st_size > 1000 for name in ("a.png", "b.png", "c.png"))


@pytest.mark.torch
def test_saliency_is_the_input_gradient_of_the_predicted_logit():
    torch = pytest.importorskip("torch")
    from numconv.interop import to_torch

    model = LeNet5().double()
    image = np.random.default_rng(0).standard_normal((1, 32, 32))
    gradient, predicted, logits = viz.saliency(model, image)
    theirs = to_torch(model).double()
    x = torch.tensor(image[None], requires_grad=True)
    out = theirs(x)
    out[0, predicted].backward()
    assert predicted == int(out.argmax())
    np.testing.assert_allclose(gradient, x.grad[0].numpy(), rtol=1e-10, atol=1e-12)
    assert all(p.grad is None or not np.any(p.grad) for p in model.parameters())  # left clean


def test_worst_mistakes_are_the_surest_wrong_answers():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([1, 1, 1, 0])
    assert viz.worst_mistakes(probabilities, labels, 5) == [(0, 1, 0, 0.9), (3, 0, 1, 0.7), (2, 1, 0, 0.6)]


def test_gradient_norms_and_training_pictures(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(8, 3))
    out = model(np.ones((2, 1, 4, 4), np.float32))
    model.backward(np.ones_like(out))
    norms = viz.gradient_norms(model)
    assert set(norms) == {"0", "3"}
    assert norms["0"] == pytest.approx(float(np.linalg.norm(model[0].weight.grad)))
    viz.plot_gradient_norms({"run": [norms, norms]}, tmp_path / "g.png",
                            saturation={"run": [{"1": 0.5}, {"1": 0.25}]})
    viz.plot_loss_curves({"a": [2.3, 1.0, float("nan")], "b": [2.3, 0.01, 0.001]}, tmp_path / "l.png",
                         reference=np.log(10))
    rng = np.random.default_rng(0)
    viz.plot_activation_histograms(rng.standard_normal((8, 3, 4, 4)) * 5 + 2, rng.standard_normal((8, 3, 4, 4)),
                                   tmp_path / "h.png")
    viz.plot_filters_before_after(rng.standard_normal((6, 1, 5, 5)), rng.standard_normal((6, 1, 5, 5)),
                                  tmp_path / "f.png")
    viz.plot_saliency(LeNet5(), [rng.standard_normal((1, 32, 32)).astype(np.float32)], None, tmp_path / "s.png")
    viz.plot_worst_mistakes(rng.random((4, 28, 28)), [(0, 1, 0, 0.9), (3, 0, 1, 0.7)], ["a", "b"], tmp_path / "w.png")
    assert all((tmp_path / f"{n}.png").stat().st_size > 1000 for n in "glhfsw")
