"""numconv.gradcheck itself: the finite-difference noise floor, and that wrong backwards still fail."""

import numpy as np
import pytest

import numconv
from numconv import functional as F
from numconv import nn
from numconv.tools.gradcheck import GradcheckWarning, noise_floor


def _conv_bn(seed=0):
    numconv.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3))


def test_zero_gradient_of_a_conv_bias_feeding_train_batch_norm_passes():
    """d loss / d conv bias is exactly 0 (batch norm removes any per-channel shift); FD gives ~1e-9 noise."""
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
    with pytest.warns(GradcheckWarning, match="'0.bias'"):
        report = numconv.gradcheck(_conv_bn(), x, raise_exception=True)
    bias = report["0.bias"]
    assert bias.passed and bias.vanishing
    assert abs(bias.analytic) < 1e-12 and bias.max_abs_error <= report.noise_floor
    # Every other tensor has real gradients, judged by the relative tolerance as before.
    assert not any(c.vanishing for c in report.checks if c.name != "0.bias")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_conv_batch_norm_chain_passes_for_several_draws(seed):
    x = np.random.default_rng(seed).standard_normal((3, 2, 4, 4))
    with pytest.warns(GradcheckWarning):
        assert numconv.gradcheck(_conv_bn(seed), x, seed=seed, raise_exception=True)


class _HalfBatchNorm(nn.BatchNorm2d):
    def backward(self, grad_output):
        return 0.5 * super().backward(grad_output)


class _TransposedTanh(nn.Tanh):
    def backward(self, grad_output):
        return super().backward(grad_output).swapaxes(-1, -2)


def test_half_backward_in_the_conv_batch_norm_chain_still_fails():
    numconv.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), _HalfBatchNorm(3))
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
    with pytest.warns(GradcheckWarning):
        report = numconv.gradcheck(net, x)
    assert not report.passed
    assert not report["input 0"].passed and not report["0.weight"].passed
    assert report["input 0"].max_rel_error > 0.1


def test_transposed_gradient_fails():
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 4))
    report = numconv.gradcheck(_TransposedTanh(), x)
    assert not report.passed and report["input 0"].max_rel_error > 0.1


def _masked_op(x, mask):
    return x * mask, mask


def test_an_error_above_the_noise_floor_fails_where_the_true_gradient_is_zero():
    """The floor is absolute: a spurious gradient 10x above it, where the truth is 0, is caught."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4))
    mask = np.ones((3, 4))
    mask[0] = 0.0  # row 0 does not reach the output: its true gradient is exactly 0
    out, _ = _masked_op(x, mask)
    upstream = np.random.default_rng(0).standard_normal(out.shape)  # gradcheck's draw for seed=0
    floor = noise_floor(out, upstream, 1e-6)

    def backward_with(error):
        def backward(dout, mask):
            dx = dout * mask
            dx[0, 0] += error
            return dx, None
        return backward

    caught = numconv.gradcheck(_masked_op, x, mask, backward=backward_with(10 * floor), max_checks=12)
    assert not caught.passed and caught["input 0"].worst_index == (0, 0)
    assert numconv.gradcheck(_masked_op, x, mask, backward=backward_with(0.0), max_checks=12).passed


def test_noise_floor_follows_the_magnitude_of_the_terms():
    out = np.array([1.0, -2.0, 3.0])
    g = np.array([2.0, 1.0, -1.0])
    magnitude = 2.0 + 2.0 + 3.0  # sum |out * g|, not |sum(out * g)| = 3
    u = np.finfo(np.float64).eps
    assert noise_floor(out, g, 1e-6) == pytest.approx(8 * u * magnitude / 1e-6 + 1e-12 * magnitude)
    assert noise_floor(out * 1e-6, g, 1e-6) == pytest.approx(1e-6 * noise_floor(out, g, 1e-6))
    assert noise_floor((out, np.zeros(3)), g, 1e-4) == pytest.approx(noise_floor(out, g, 1e-4))


def test_report_table_shows_the_noise_floor_and_the_vanishing_tensor():
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
    with pytest.warns(GradcheckWarning):
        text = str(numconv.gradcheck(_conv_bn(), x))
    assert "noise floor" in text and "within noise" in text and text.endswith("PASSED")


def test_functional_batch_norm_gradcheck_without_affine():
    x = np.random.default_rng(3).standard_normal((4, 3, 2, 2))

    def op(x):
        return F.batch_norm(x, None, None, training=True)

    report = numconv.gradcheck(op, x, backward=lambda d, cache: F.batch_norm_backward(d, cache)[:1])
    assert report.passed
