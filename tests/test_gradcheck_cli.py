"""``numconv gradcheck``: every built-in layer passes, the registry covers every layer, the options work."""

import numpy as np

from numconv import nn
from numconv.cli import main
from numconv.tools import gradcheck_suite as suite


def test_every_registered_layer_passes(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert f"all {len(suite.CASES)} configurations passed" in out
    assert "FAIL" not in out
    for layer in {case.layer for case in suite.CASES}:
        assert f"\n{layer} " in out
    # A bias feeding a training-mode batch norm has an exactly-zero gradient: passed, and marked.
    assert "within noise" in out


def test_registry_covers_every_layer_with_a_backward():
    exported = set(suite.exported_layers())
    assert {"Conv2d", "BatchNorm2d", "MaxPool2d", "CrossEntropyLoss", "Maxout"} <= exported
    assert "Module" not in exported  # the base class's backward only raises
    registered = {case.layer for case in suite.CASES}
    assert exported - suite.NOT_CHECKED <= registered, sorted(exported - suite.NOT_CHECKED - registered)
    # The exclusions are containers, and still exported (no stale entries).
    assert suite.NOT_CHECKED <= set(dir(nn)) and suite.NOT_CHECKED <= {"Sequential", "ModuleList", "ModuleDict"}


def test_named_layers_any_case(capsys):
    assert main(["gradcheck", "conv2d", "BATCHNORM2D"]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines()[3:-1] if line and not line.startswith((" ", "-"))]
    assert set(rows) == {"Conv2d", "BatchNorm2d"}
    assert "input 0" in out and "weight" in out and "bias" in out


def test_list_and_seed(capsys):
    assert main(["gradcheck", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(suite.CASES)
    assert any(line.startswith("Conv2d") and "groups=2" in line for line in listed)
    assert main(["gradcheck", "linear", "maxout", "--seed", "7"]) == 0
    assert "seed 7" in capsys.readouterr().out


def test_unknown_layer_is_a_clear_error(capsys):
    assert main(["gradcheck", "conv2", "relu"]) == 2
    err = capsys.readouterr().err
    assert "no gradient check registered for 'conv2'" in err and "Conv2d" in err


class _WrongTanh(nn.Tanh):
    def backward(self, grad_output):
        return super().backward(grad_output) * 1.01


def test_a_wrong_backward_fails_with_exit_status_1(capsys, monkeypatch):
    broken = suite.LayerCase("Tanh", "backward 1 % too large", _WrongTanh, suite.normal(2, 3))
    raising = suite.LayerCase("Linear", "wrong input shape", lambda: nn.Linear(4, 2), suite.normal(2, 3))
    monkeypatch.setattr(suite, "CASES", [broken, raising, *suite.select(["sigmoid"])])
    assert main(["gradcheck"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  at" in out and "ERROR ValueError" in out
    assert "FAILED: 2 of 3 configurations" in out


def test_inputs_keep_away_from_kinks_and_ties():
    rng = np.random.default_rng(0)
    (x,) = suite.away_from([0, 6], 50, 50, scale=4)(rng)
    assert np.min(np.abs(x)) >= suite.MARGIN and np.min(np.abs(x - 6)) >= suite.MARGIN
    (d,) = suite.distinct(3, 4, 5)(rng)
    gaps = np.diff(np.sort(d.ravel()))
    assert np.allclose(gaps, 0.1)


def test_an_infinite_or_zero_step_or_tolerance_is_refused(capsys):
    # An infinite step made every layer "FAILED": it read as if every backward pass were broken.
    for flag, value in [("--eps", "inf"), ("--rtol", "inf"), ("--eps", "nan"), ("--rtol", "0")]:
        assert main(["gradcheck", "relu", flag, value]) == 2
        assert "--eps and --rtol must be positive and finite" in capsys.readouterr().err
