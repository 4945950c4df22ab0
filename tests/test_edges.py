"""Gradients at the edges equal PyTorch's (NaN, ±inf, values near overflow), and inplace=True as in PyTorch."""

import numpy as np
import pytest

from numconv import functional as F
from numconv import nn

torch = pytest.importorskip("torch")
T = torch.nn

EDGES = np.array([np.nan, np.inf, -np.inf, 0.0, 1.0, -1.0, 3.0, -3.0, 2.5, -0.5])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ours, theirs", [
    (lambda: nn.ReLU(), lambda: T.ReLU()),
    (lambda: nn.LeakyReLU(0.1), lambda: T.LeakyReLU(0.1)),
    (lambda: nn.Threshold(0.5, 2.0), lambda: T.Threshold(0.5, 2.0)),
    (lambda: nn.ELU(), lambda: T.ELU()),
    (lambda: nn.SELU(), lambda: T.SELU()),
    (lambda: nn.CELU(0.7), lambda: T.CELU(0.7)),
    (lambda: nn.Hardswish(), lambda: T.Hardswish()),
    (lambda: nn.Softsign(), lambda: T.Softsign()),
    (lambda: nn.PReLU(), lambda: T.PReLU()),
], ids=["ReLU", "LeakyReLU", "Threshold", "ELU", "SELU", "CELU", "Hardswish", "Softsign", "PReLU"])
def test_gradients_at_nan_and_inf_equal_torchs(ours, theirs, dtype):
    x = EDGES.astype(dtype).reshape(1, -1)
    g = np.random.default_rng(0).standard_normal(x.shape).astype(dtype)
    layer, t_layer = ours(), theirs()
    if isinstance(layer, nn.PReLU):
        layer = layer.to(dtype)
        t_layer = t_layer.to(torch.float64 if dtype == np.float64 else torch.float32)
    out = layer(x)
    dx = layer.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    t_out = t_layer(tx)
    t_out.backward(torch.tensor(g))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-6, equal_nan=True)
    if isinstance(layer, nn.PReLU):
        np.testing.assert_allclose(layer.weight.grad, t_layer.weight.grad.numpy(), rtol=1e-6, equal_nan=True)


def test_batch_norm_eval_gradient_ignores_a_nan_input_as_torch_does():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 4))
    x[0, 1, 2, 2], x[1, 0, 0, 0] = np.nan, np.inf
    g = rng.standard_normal(x.shape)
    layer, t_layer = nn.BatchNorm2d(3).double(), T.BatchNorm2d(3).double()
    layer.eval()
    t_layer.eval()
    layer(x)
    dx = layer.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    t_layer(tx).backward(torch.tensor(g))
    assert not np.isnan(dx).any()
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, t_layer.weight.grad.numpy(), rtol=1e-10, equal_nan=True)


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan, 3e38, -3e38])
def test_auto_convolution_keeps_pytorchs_answer_for_non_finite_and_huge_inputs(value):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 32, 8, 8)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    x[0, 3, 4, 4] = value
    with np.errstate(all="ignore"):
        out, _ = F.conv2d(x, w, padding=1)  # Winograd's layer shape: auto must leave Winograd here
    expected = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    assert np.array_equal(np.isnan(out), np.isnan(expected))
    assert np.array_equal(np.isinf(out), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(out[finite], expected[finite], rtol=1e-4, atol=1e-3 * np.abs(expected[finite]).max())


# ---------------------------------------------------------------------------- inplace=True
@pytest.mark.parametrize("make, t_make", [
    (lambda: nn.ReLU(inplace=True), lambda: T.ReLU(inplace=True)),
    (lambda: nn.LeakyReLU(0.2, inplace=True), lambda: T.LeakyReLU(0.2, inplace=True)),
    (lambda: nn.ELU(inplace=True), lambda: T.ELU(inplace=True)),
    (lambda: nn.Hardtanh(-0.5, 0.5, inplace=True), lambda: T.Hardtanh(-0.5, 0.5, inplace=True)),
    (lambda: nn.Threshold(0.1, 5.0, inplace=True), lambda: T.Threshold(0.1, 5.0, inplace=True)),
    (lambda: nn.SiLU(inplace=True), lambda: T.SiLU(inplace=True)),
], ids=["ReLU", "LeakyReLU", "ELU", "Hardtanh", "Threshold", "SiLU"])
def test_inplace_overwrites_the_callers_array_and_returns_it(make, t_make):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5))
    g = rng.standard_normal((3, 5))
    layer = make()
    original = x.copy()
    out = layer(x)
    assert out is x
    t_in = torch.tensor(original, requires_grad=True)
    t_x = t_in * 1.0  # a non-leaf, as PyTorch requires for in-place ops
    t_out = t_make()(t_x)
    np.testing.assert_allclose(x, t_out.detach().numpy(), rtol=1e-12)
    t_out.backward(torch.tensor(g))
    np.testing.assert_allclose(layer.backward(g), t_in.grad.numpy(), rtol=1e-12)


def test_inplace_dropout_overwrites_its_input():
    x = np.ones((4, 6))
    layer = nn.Dropout(0.5, inplace=True)
    out = layer(x)
    assert out is x and set(np.unique(x)) <= {0.0, 2.0}


def test_inplace_refuses_an_input_it_cannot_overwrite():
    with pytest.raises(TypeError, match="got list"):
        nn.ReLU(inplace=True)([1.0, 2.0])
    layer = nn.PReLU(inplace=True) if "inplace" in nn.PReLU.__init__.__code__.co_varnames else None
    from numconv.nn._inplace import forward_inplace

    prelu = nn.PReLU().double()  # computes in float64: a float32 array cannot take its result
    with pytest.raises(TypeError, match=r"dtype the layer computes in \(float64\), got ndarray of dtype float32"):
        forward_inplace(prelu, np.ones(3, dtype=np.float32), lambda a: F.prelu(a, prelu.weight.data))
    assert layer is None


def test_inplace_refuses_a_read_only_array():
    x = np.ones(3)
    x.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        nn.ReLU(inplace=True)(x)


@pytest.mark.parametrize("kwargs, message", [
    (dict(eps=0), "eps must be a finite number > 0, got 0"),
    (dict(eps=float("nan")), "eps must be a finite number > 0"),
    (dict(eps=-1e-6), "eps must be a finite number > 0"),
    (dict(max_checks=0), "max_checks must be an int >= 1"),
    (dict(rtol=0), "rtol must be a finite number > 0"),
])
def test_gradcheck_refuses_settings_that_check_nothing(kwargs, message):
    import numconv

    with pytest.raises(ValueError, match=message):
        numconv.gradcheck(nn.Tanh(), np.ones((2, 3)), **kwargs)


def test_gradcheck_of_an_inplace_layer_perturbs_its_own_copy():
    import numconv

    x = np.random.default_rng(0).standard_normal((2, 3)) + 0.05
    assert numconv.gradcheck(nn.LeakyReLU(0.2, inplace=True), x, raise_exception=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_l1_loss_gradient_at_nan_is_zero_as_torchs(dtype):
    # PyTorch's sign(nan) is 0, NumPy's NaN: the loss is NaN either way, the gradient at the NaN entry 0.
    x = np.array([[1.0, np.nan, -2.0, 0.5]], dtype=dtype)
    y = np.zeros_like(x)
    loss = nn.L1Loss()
    loss(x, y)
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.l1_loss(tx, torch.tensor(y)).backward()
    np.testing.assert_array_equal(loss.backward(), tx.grad.numpy())
