"""Debug mode: every layer's forward and backward outputs are checked for NaN/Inf.

The error must name the first layer at fault by its dotted path in the model,
and say whether the bad value came in with its input or was made by it.
"""

import os
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

import numconv
from numconv import nn


class Log(nn.Module):
    """``log(x)``: NaN for negative input, -inf at 0 (the layer at fault in these tests)."""

    def forward(self, x):
        self._keep(x)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log(x)

    def backward(self, grad_output):
        x = self._take()
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return grad_output / x


class Square(nn.Module):
    """``x**2``, finite for finite input; its backward is finite too."""

    def forward(self, x):
        self._keep(x)
        return x * x

    def backward(self, grad_output):
        return 2 * self._take() * grad_output


class Encoder(nn.Module):
    """A custom module with named children and its own backward."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 4, dtype=np.float64)
        self.act = Log()

    def forward(self, x):
        return self.act(self.proj(x))

    def backward(self, grad_output):
        return self.proj.backward(self.act.backward(grad_output))


@pytest.fixture
def debug_on():
    with numconv.debug():
        yield


def _conv_net_with_log():
    numconv.manual_seed(0)
    return nn.Sequential(OrderedDict(
        features=nn.Sequential(nn.Conv2d(1, 4, 3, dtype=np.float64), Log(), nn.ReLU()),
        flatten=nn.Flatten(),
        head=nn.Linear(4 * 4 * 4, 3, dtype=np.float64),
    ))


def test_forward_names_the_layer_that_made_nan(debug_on):
    model = _conv_net_with_log()
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6))
    with pytest.raises(FloatingPointError) as info:
        model(x)
    message = str(info.value)
    assert message.startswith("model.features.1 (Log) produced NaN")
    assert "in its forward output" in message
    assert "of 128 values; first at index (0, " in message
    assert "its input was finite, so this layer made it" in message


def test_input_with_nan_is_blamed_on_the_data(debug_on):
    model = nn.Sequential(nn.Linear(3, 2, dtype=np.float64), nn.Tanh())
    x = np.ones((4, 3))
    x[2, 1] = np.nan
    with pytest.raises(FloatingPointError, match=r"^model\.0 \(Linear\) produced NaN .*"
                                                  r"its input already had NaN \(1 of 12 values; first at index "
                                                  r"\(2, 1\)\), so the data passed to the model has it"):
        model(x)


def test_huge_weights_overflow_is_named(debug_on):
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))  # float32
    model[1].weight.data[...] = 3e38
    with pytest.raises(FloatingPointError, match=r"^model\.1 \(Linear\) produced Inf in its forward output.*"
                                                  r"its input was finite"), np.errstate(over="ignore"):
        model(np.ones((2, 3), dtype=np.float32) * 10)


def test_backward_names_the_layer_that_made_inf(debug_on):
    # Every forward output is finite, but 1e-160 squared is the subnormal 1e-320, and Log's
    # backward divides by it: 1 / 1e-320 overflows to inf.
    model = nn.Sequential(OrderedDict(scale=Square(), log=Log(), out=nn.Linear(3, 1, dtype=np.float64)))
    x = np.array([[1.0, 2.0, 1e-160]])  # squared: 1e-320, log finite, 1/x**2 overflows to inf
    y = model(x)
    assert np.all(np.isfinite(y))
    with pytest.raises(FloatingPointError) as info:
        model.backward(np.ones_like(y))
    message = str(info.value)
    assert message.startswith("model.log (Log) produced Inf in its backward output, the gradient w.r.t. its input")
    assert "first at index (0, 2)" in message
    assert "the gradient it received was finite, so this layer made it" in message


def test_custom_module_children_are_named_in_both_directions(debug_on):
    model = nn.Sequential(OrderedDict(encoder=Encoder(), head=nn.Linear(4, 2, dtype=np.float64)))
    model.encoder.proj.weight.data[...] = np.eye(4)
    model.encoder.proj.bias.data[...] = 0
    with pytest.raises(FloatingPointError, match=r"^model\.encoder\.act \(Log\) produced NaN"):
        model(np.array([[1.0, -1.0, 2.0, 3.0]]))
    y = model(np.array([[1.0, 2.0, 3.0, 4.0]]))
    act_call = nn.tape.last_call(model).children[0].children[1]  # the tape: model -> encoder -> act
    assert act_call.module is model.encoder.act
    act_call.cache = np.array([[1.0, 0.0, 3.0, 4.0]])  # a zero in the saved input: 1 / 0 in backward
    with pytest.raises(FloatingPointError, match=r"^model\.encoder\.act \(Log\) produced Inf in its backward"):
        model.backward(np.ones_like(y))


def test_parameter_gradient_is_checked(debug_on):
    class BadGrad(nn.Linear):
        def backward(self, grad_output):
            dx = super().backward(grad_output)  # the checked parent backward, re-entered
            self.weight.grad[0, 0] = np.nan
            return dx

    model = nn.Sequential(nn.Tanh(), BadGrad(2, 2, dtype=np.float64))
    y = model(np.ones((1, 2)))
    with pytest.raises(FloatingPointError, match=r"^model\.1 \(BadGrad\) produced NaN in the gradient of its "
                                                  r"parameter 'weight' \(weight\.grad\)"):
        model.backward(np.ones_like(y))


def test_loss_output_is_checked(debug_on):
    criterion = nn.BCELoss()
    with pytest.raises(FloatingPointError, match=r"^MSELoss produced Inf"), np.errstate(over="ignore"):
        nn.MSELoss()(np.array([1e200, 0.0]), np.array([-1e200, 0.0]))
    assert np.isfinite(criterion(np.array([0.5, 0.2]), np.array([1.0, 0.0])))


def test_debug_mode_changes_no_result():
    numconv.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, dtype=np.float64), nn.ReLU(), nn.Flatten(),
                          nn.Linear(3 * 9, 4, dtype=np.float64))
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 5))
    g = np.random.default_rng(2).standard_normal((2, 4))
    y_off = model(x)
    dx_off = model.backward(g)
    with numconv.debug():
        y_on = model(x)
        dx_on = model.backward(g)
    np.testing.assert_array_equal(y_off, y_on)
    np.testing.assert_array_equal(dx_off, dx_on)


def test_off_means_no_check():
    assert not numconv.is_debug()
    out = nn.Sequential(Log())(np.array([-1.0]))
    assert np.isnan(out).all()


def test_context_manager_and_set_debug_restore_state():
    assert not numconv.is_debug()
    with pytest.raises(FloatingPointError):
        with numconv.debug():
            assert numconv.is_debug()
            nn.Sequential(Log())(np.array([-1.0]))
    assert not numconv.is_debug()
    numconv.set_debug(True)
    try:
        with numconv.debug(False):
            assert not numconv.is_debug()
        assert numconv.is_debug()
    finally:
        numconv.set_debug(False)


def test_error_inside_a_layer_leaves_debug_state_clean(debug_on):
    model = nn.Sequential(nn.Linear(3, 2, dtype=np.float64), Log())
    with pytest.raises(ValueError):
        model(np.ones((2, 4)))  # wrong width: a ValueError from Linear, not a debug error
    model[0].weight.data[...] = -1
    model[0].bias.data[...] = 0
    with pytest.raises(FloatingPointError, match=r"^model\.1 \(Log\)"):  # paths still right after the error
        model(np.ones((2, 3)))


def test_environment_variable_turns_debug_on():
    code = "import numconv, sys; sys.exit(0 if numconv.is_debug() else 1)"
    env = dict(os.environ, NUMCONV_DEBUG="1")
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def test_module_outside_the_tree_and_lone_layer_are_named(debug_on):
    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = [Log()]  # a plain list: not a registered sub-module

        def forward(self, x):
            return self.hidden[0](x)

    with pytest.raises(FloatingPointError, match=r"^a Log that is not a registered sub-module of the model "
                                                  r"produced NaN"):
        Holder()(np.array([-1.0]))
    with pytest.raises(FloatingPointError, match=r"^Log produced NaN in its forward output \(a scalar\)"):
        Log()(np.array(-1.0))
