"""Hyper-parameters at the limits, weights assigned directly to ``param.data``, and ``criterion.backward(loss)``."""

import numpy as np
import pytest

from numconv import functional as F
from numconv import nn


# ---------------------------------------------------------------------------- hyper-parameters at the limits
@pytest.mark.parametrize("make, message", [
    (lambda: nn.Conv2d(1, 2, 3, stride=2**58)(np.ones((1, 1, 8, 40), np.float32)), "stride to be at most 2147483647"),
    (lambda: F.conv2d(np.ones((1, 1, 8, 40)), np.ones((2, 1, 3, 3)), stride=(1, 2**40)), "stride"),
    (lambda: nn.MaxPool2d(2, padding=2**40), "padding to be at most"),
    (lambda: F.conv2d(np.ones((1, 1, 8, 8)), np.ones((2, 1, 3, 3)), dilation=2**33), "dilation"),
])
def test_sizes_beyond_any_array_are_refused_with_the_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("value", [2**63, -(2**60), 2**53 + 1])
def test_divisor_override_too_large_is_refused_at_once(value):
    with pytest.raises(ValueError, match="divisor_override must be at most 2\\*\\*53"):
        F.avg_pool2d(np.ones((1, 1, 4, 4)), 2, divisor_override=value)


def test_divisor_override_at_the_limit_still_works():
    out, _ = F.avg_pool2d(np.ones((1, 1, 4, 4)), 2, divisor_override=2**53)
    np.testing.assert_allclose(out, 4.0 / 2**53)


# ---------------------------------------------------------------------------- param.data assigned directly
def _conv():
    return nn.Conv2d(1, 2, 3)


X = np.ones((1, 1, 5, 5), np.float32)


@pytest.mark.parametrize("make, assign, error, message", [
    (_conv, lambda m: setattr(m.weight, "data", np.ones((2, 1, 3, 3), np.int64)), TypeError,
     "Conv2d: parameter 'weight' has dtype int64"),
    (_conv, lambda m: setattr(m.weight, "data", np.ones((2, 1, 3, 3), np.float16)), TypeError,
     "parameter 'weight' has dtype float16"),
    (_conv, lambda m: setattr(m.bias, "data", [0.0, 0.0]), TypeError, "parameter 'bias' holds a list"),
    (_conv, lambda m: setattr(m.weight, "data", np.ones((2, 1, 3, 3))), TypeError,
     "parameter 'weight' is float64 but parameter 'bias' is float32; a layer computes in one dtype"),
    (_conv, lambda m: m.weight.data.setflags(write=False), ValueError, "parameter 'weight' is a read-only array"),
    (lambda: nn.Linear(3, 2), lambda m: setattr(m.bias, "data", np.zeros(2)), TypeError,
     "Linear: parameter 'weight' is float32 but parameter 'bias' is float64"),
    (lambda: nn.BatchNorm2d(2), lambda m: setattr(m.weight, "data", np.ones(2)), TypeError,
     "BatchNorm2d: parameter 'weight' is float64 but parameter 'bias' is float32"),
    (lambda: nn.BatchNorm2d(2, affine=False), lambda m: setattr(m, "running_mean", np.zeros(2, np.int32)),
     TypeError, "buffer 'running_mean' has dtype int32"),
    (lambda: nn.PReLU(), lambda m: setattr(m.weight, "data", np.ones(1, np.int32)), TypeError,
     "PReLU: parameter 'weight' has dtype int32"),
])
def test_a_bad_array_assigned_to_a_parameter_blames_the_parameter(make, assign, error, message):
    layer = make()
    assign(layer)
    x = X if isinstance(layer, nn.Conv2d) else np.ones((2, 2, 3, 3) if "Norm" in type(layer).__name__ else (2, 3),
                                                        np.float32)
    with pytest.raises(error, match=message):
        layer(x)


def test_float64_weight_in_a_float32_layer_never_changes_the_output_dtype_silently():
    layer = nn.Conv2d(1, 2, 3)
    layer.weight.data = layer.weight.data.astype(np.float64)
    with pytest.raises(TypeError, match=r"convert the whole layer with \.to\(np\.float32\) or \.to\(np\.float64\)"):
        layer(X)
    layer.to(np.float64)  # the way to change a layer's precision
    assert layer(X).dtype == np.float64


# ---------------------------------------------------------------------------- criterion.backward(loss)
def test_criterion_backward_of_the_loss_is_refused_with_the_way_to_call_it():
    criterion = nn.CrossEntropyLoss()
    logits = np.random.default_rng(0).standard_normal((4, 3))
    loss = criterion(logits, np.array([0, 1, 2, 1]))
    with pytest.raises(TypeError, match=r"backward takes the upstream gradient, not the loss; call "
                                        r"CrossEntropyLoss.backward\(\)"):
        criterion.backward(loss)
    criterion(logits, np.array([0, 1, 2, 1]))
    dx = criterion.backward()
    criterion(logits, np.array([0, 1, 2, 1]))
    np.testing.assert_allclose(criterion.backward(grad_output=2.0), 2 * dx)
    criterion(logits, np.array([0, 1, 2, 1]))
    np.testing.assert_allclose(criterion.backward(np.asarray(2.0)), 2 * dx)
