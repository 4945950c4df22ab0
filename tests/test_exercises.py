"""The gradient-check exercises: solutions pass, skeletons say "not implemented", mistakes are diagnosed."""

import importlib.util
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

import numconv
from numconv.cli import main
from numconv.exercises import EXERCISES, SETTINGS, check, copy_skeletons, skeleton_path, skeleton_text
from numconv.exercises.solutions import (
    adam_step,
    avgpool_backward,
    batchnorm_backward as bn,
    col2im,
    conv_backward as cb,
    conv_forward_loops as cf,
    dropout_backward,
    im2col as ic,
    linear_backward,
    maxpool_backward as mp,
    relu_backward,
    sgd_momentum_step,
    softmax_cross_entropy_backward as ce,
    train_forward_only,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKELETONS = os.path.join(ROOT, "numconv", "exercises", "skeletons")
SOLUTIONS = {
    "conv2d_forward": cf.conv2d_forward,
    "conv2d_backward": cb.conv2d_backward,
    "maxpool2d_backward": mp.maxpool2d_backward,
    "batchnorm_backward": bn.batchnorm_backward,
    "softmax_cross_entropy_backward": ce.softmax_cross_entropy_backward,
    "im2col": ic.im2col,
    "linear_backward": linear_backward.linear_backward,
    "relu_backward": relu_backward.relu_backward,
    "dropout_backward": dropout_backward.dropout_backward,
    "avgpool2d_backward": avgpool_backward.avgpool2d_backward,
    "col2im": col2im.col2im,
    "sgd_momentum_step": sgd_momentum_step.sgd_momentum_step,
    "adam_step": adam_step.adam_step,
    "train_forward_only": train_forward_only.train_forward_only,
}


def _load(path):
    spec = importlib.util.spec_from_file_location("skeleton_" + os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _skeleton(name, folder):
    """The learner's file of exercise ``name``, written into ``folder`` and loaded."""
    (path,) = copy_skeletons(folder, [name])
    return _load(path)


# ---------------------------------------------------------------------------------------------- solutions and skeletons
@pytest.mark.parametrize("name", list(EXERCISES))
def test_solution_passes(name, capsys):
    result = check(SOLUTIONS[name], name)
    assert result.passed and result.problem == "" and result.cases_passed == result.cases_total >= 4
    assert "all" in capsys.readouterr().out


@pytest.mark.parametrize("name", [name for name in EXERCISES if name != "train_forward_only"])  # that one uses nn
def test_solutions_are_plain_numpy(name):
    source = inspect.getsource(inspect.getmodule(SOLUTIONS[name]))
    assert "numconv" not in source.replace('"""', "").split("import numpy as np", 1)[1]


@pytest.mark.parametrize("name", list(EXERCISES))
def test_untouched_skeleton_says_not_implemented(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the learner works in the folder of the copies
    module = _skeleton(name, tmp_path)
    fn = getattr(module, name)
    assert list(inspect.signature(fn).parameters) == list(inspect.signature(SOLUTIONS[name]).parameters)
    assert list(inspect.signature(fn).parameters) == list(EXERCISES[name].arguments)
    result = check(fn, name, verbose=False)
    assert not result.passed and result.problem == "not implemented"
    assert result.message.startswith(f"{name}: NOT IMPLEMENTED YET")
    assert EXERCISES[name].signature in result.message and "Traceback" not in result.message
    # The hint names the learner's own file, wherever it is.
    assert f"fill in the TODOs in {os.path.relpath(module.__file__)}" in result.message
    assert 'if __name__ == "__main__":' in inspect.getsource(module) and f'check({name}, "{name}")' in \
        inspect.getsource(module)


def test_every_skeleton_file_is_an_exercise():
    files = sorted(f for f in os.listdir(SKELETONS) if f.endswith(".py"))
    assert files == sorted(ex.skeleton for ex in EXERCISES.values())
    assert all(skeleton_path(name) == os.path.join(SKELETONS, ex.skeleton) for name, ex in EXERCISES.items())


@pytest.mark.parametrize("name", list(EXERCISES))
def test_skeleton_source_loads_and_says_not_implemented(name):
    """The installed source, without the lines that run the check, is a module the checker can take as it is."""
    module = _load(skeleton_path(name))
    assert check(getattr(module, name), name, verbose=False).problem == "not implemented"


@pytest.mark.parametrize("name", list(EXERCISES))
def test_learners_file_says_how_to_check_it(name):
    """The source's docstring is its own (title, Task, Shapes); the learner's file ends it with "Check it"."""
    text, file = skeleton_text(name), EXERCISES[name].skeleton
    docstring = text.split('"""')[1]
    assert docstring.startswith("Exercise: ") and "\nTask\n----\n" in docstring and "\nShapes\n------\n" in docstring
    assert docstring.endswith(f"\n\nCheck it\n--------\n    python {file}\n    numconv check-exercise {file}\n")
    assert text.endswith(f'\n\n\nif __name__ == "__main__":\n    from numconv.exercises import check\n\n'
                         f'    raise SystemExit(0 if check({name}, "{name}") else 1)\n')
    source = open(skeleton_path(name), encoding="utf-8").read()
    assert "Check it" not in source and "__main__" not in source  # written once, in _copy.py


# ---------------------------------------------------------------------------------------------- broken solutions
def _diagnosed(fn, name):
    result = check(fn, name, verbose=False)
    assert not result.passed and "Traceback" not in result.message
    return result, " ".join(result.hints)


def test_conv_forward_forgot_padding():
    result, hints = _diagnosed(lambda x, w, b, stride, padding: cf.conv2d_forward(x, w, b, stride, 0),
                               "conv2d_forward")
    assert result.problem == "wrong shape"
    assert "expected (" in result.message and "forget to pad" in hints
    assert "the smallest failing case has padding = 1, and the same case with padding = 0 passes" in hints
    assert result.failing_case["padding"] == 1 and result.failing_case["H"] == 1  # shrunk to the smallest


def test_conv_forward_missing_bias_and_flipped_kernel():
    _, hints = _diagnosed(lambda x, w, b, s, p: cf.conv2d_forward(x, w, 0 * b, s, p), "conv2d_forward")
    assert "bias is missing" in hints
    _, hints = _diagnosed(lambda x, w, b, s, p: cf.conv2d_forward(x, w[..., ::-1, ::-1], b, s, p), "conv2d_forward")
    assert "flipped" in hints


def test_conv_forward_ignores_stride():
    result, hints = _diagnosed(lambda x, w, b, s, p: cf.conv2d_forward(x, w, b, 1, p), "conv2d_forward")
    assert result.problem == "wrong shape" and "stride" in hints


def _conv_backward_with(change):
    def solution(dout, x, w, b, stride, padding):
        return change(*cb.conv2d_backward(dout, x, w, b, stride, padding))
    return solution


def test_conv_backward_dw_doubled_names_dw_and_prints_the_tiny_case():
    result, hints = _diagnosed(_conv_backward_with(lambda dx, dw, db: (dx, 2 * dw, db)), "conv2d_backward")
    assert result.problem == "wrong values" and result.wrong == ["dw"]
    assert "dw is wrong: max abs error" in result.message and "(dx, db are right.)" in result.message
    assert "exactly 2 times" in hints
    assert result.failing_case == dict(N=1, C=1, H=1, W=1, F=1, HH=1, WW=1, stride=1, padding=0)
    assert "expected dw = " in result.message and "your dw     = " in result.message


def test_conv_backward_dx_zero_and_transposed_dw():
    result, hints = _diagnosed(_conv_backward_with(lambda dx, dw, db: (0 * dx, dw, db)), "conv2d_backward")
    assert result.wrong == ["dx"] and "all zeros" in hints
    result, hints = _diagnosed(_conv_backward_with(lambda dx, dw, db: (dx, dw.swapaxes(-1, -2), db)),
                               "conv2d_backward")
    assert result.wrong == ["dw"] and "transposed" in hints


def test_conv_backward_forgot_to_crop_the_padding():
    def uncropped(dout, x, w, b, stride, padding):
        dx, dw, db = cb.conv2d_backward(dout, x, w, b, stride, padding)
        return np.pad(dx, ((0, 0), (0, 0), (padding, padding), (padding, padding))), dw, db

    result, hints = _diagnosed(uncropped, "conv2d_backward")
    assert result.problem == "wrong shape" and "crop the padding" in hints


def test_conv_backward_db_divided_by_batch():
    result, hints = _diagnosed(_conv_backward_with(lambda dx, dw, db: (dx, dw, db / 2)), "conv2d_backward")
    assert result.wrong == ["db"]


def test_maxpool_assign_instead_of_add_and_spread():
    def assigning(dout, x, kernel_size, stride):
        dx = np.zeros_like(x)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                for n in range(x.shape[0]):
                    for c in range(x.shape[1]):
                        window = x[n, c, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
                        p, q = np.unravel_index(np.argmax(window), window.shape)
                        dx[n, c, i * stride + p, j * stride + q] = dout[n, c, i, j]
        return dx

    result, hints = _diagnosed(assigning, "maxpool2d_backward")
    assert "(+=)" in hints and "overlap" in hints and result.failing_case["stride"] < result.failing_case["k"]

    def spreading(dout, x, kernel_size, stride):
        dx = np.zeros_like(x)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dx[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size] += \
                    dout[:, :, i:i + 1, j:j + 1] / kernel_size**2
        return dx

    _, hints = _diagnosed(spreading, "maxpool2d_backward")
    assert "average pooling" in hints


def test_batchnorm_treating_the_statistics_as_constants():
    def naive(dout, x, gamma, beta, eps):
        _, dgamma, dbeta = bn.batchnorm_backward(dout, x, gamma, beta, eps)
        inv_std = 1 / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + eps)
        return dout * gamma.reshape(1, -1, 1, 1) * inv_std, dgamma, dbeta

    result, hints = _diagnosed(naive, "batchnorm_backward")
    assert result.wrong == ["dx"] and "mean and the variance as constants" in hints


def test_batchnorm_changing_x_in_place_is_reported():
    def in_place(dout, x, gamma, beta, eps):
        grads = bn.batchnorm_backward(dout, x, gamma, beta, eps)
        x -= x.mean(axis=(0, 2, 3), keepdims=True)
        return grads

    result, hints = _diagnosed(in_place, "batchnorm_backward")
    assert result.problem == "modified input" and "changed its input x in place" in result.message


@pytest.mark.parametrize("change, words", [
    (lambda d, n: d / n, "divide by the batch size twice"),
    (lambda d, n: d * n, "forget to divide by the batch size"),
    (lambda d, n: -d, "wrong sign"),
])
def test_softmax_cross_entropy_factor_mistakes(change, words):
    def wrong(logits, labels):
        return change(ce.softmax_cross_entropy_backward(logits, labels), logits.shape[0])

    result, hints = _diagnosed(wrong, "softmax_cross_entropy_backward")
    assert words in hints


def test_softmax_cross_entropy_overflow_and_missing_one_hot():
    def unstable(logits, labels):
        e = np.exp(logits)
        p = e / e.sum(axis=1, keepdims=True)
        p[np.arange(len(labels)), labels] -= 1
        return p / len(labels)

    with np.errstate(over="ignore", invalid="ignore"):
        result, hints = _diagnosed(unstable, "softmax_cross_entropy_backward")
    assert result.problem == "not finite" and "maximum" in hints and "logits around +-1000" in hints

    def no_one_hot(logits, labels):
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True) / len(labels)

    _, hints = _diagnosed(no_one_hot, "softmax_cross_entropy_backward")
    assert "one-hot" in hints


def test_im2col_transposed_wrong_row_order_and_no_padding():
    result, hints = _diagnosed(lambda x, kh, kw, s, p: ic.im2col(x, kh, kw, s, p).T, "im2col")
    assert result.problem == "wrong shape" and "transpose" in hints

    def kernel_first(x, kh, kw, s, p):
        cols = ic.im2col(x, kh, kw, s, p)
        return cols.reshape(x.shape[1], kh, kw, -1).transpose(1, 2, 0, 3).reshape(cols.shape)

    _, hints = _diagnosed(kernel_first, "im2col")
    assert "(kernel row, kernel column, channel)" in hints
    result, hints = _diagnosed(lambda x, kh, kw, s, p: ic.im2col(x, kh, kw, s, 0), "im2col")
    assert "without padding" in hints


def test_exception_is_reported_with_the_line_and_case():
    def crashing(x, w, b, stride, padding):
        return x[0, 0, 5, 5]

    result, _ = _diagnosed(crashing, "conv2d_forward")
    assert result.problem == "exception" and "raised IndexError" in result.message
    assert "in crashing: return x[0, 0, 5, 5]" in result.message and "x = (shape" in result.message


def test_none_outputs():
    result = check(lambda *args: None, "conv2d_forward", verbose=False)
    assert result.problem == "returned None" and "NOT IMPLEMENTED YET" in result.message
    result = check(_conv_backward_with(lambda dx, dw, db: (dx, None, db)), "conv2d_backward", verbose=False)
    assert result.problem == "returned None" and "dw is None" in result.message
    result = check(_conv_backward_with(lambda dx, dw, db: (dx, dw)), "conv2d_backward", verbose=False)
    assert result.problem == "wrong outputs" and "returned 2 values" in result.message
    result = check(lambda logits, labels: (1.0, ce.softmax_cross_entropy_backward(logits, labels)),
                   "softmax_cross_entropy_backward", verbose=False)
    assert result.problem == "wrong outputs" and "expected dlogits alone" in result.message


def test_float32_result_is_nearly_right():
    result, hints = _diagnosed(lambda *args: cf.conv2d_forward(*args).astype(np.float32), "conv2d_forward")
    assert result.problem == "wrong values" and "float32" in hints


def test_check_argument_errors():
    with pytest.raises(ValueError, match="no exercise named 'conv'"):
        check(cf.conv2d_forward, "conv")
    with pytest.raises(TypeError, match="expected the function"):
        check("not a function", "im2col")


def test_available_from_numconv_lazily():
    assert numconv.exercises.check is check


# ---------------------------------------------------------------------------------------------- the command
def test_check_exercise_command(tmp_path, capsys):
    solution = inspect.getsourcefile(cb)
    assert main(["check-exercise", solution]) == 0
    assert "conv2d_backward: all" in capsys.readouterr().out
    assert main(["check-exercise", os.path.join(SKELETONS, "conv_backward.py")]) == 1
    assert "NOT IMPLEMENTED YET" in capsys.readouterr().out

    two = tmp_path / "mine.py"
    two.write_text(
        "import numpy as np\n"
        "from numconv.exercises.solutions.im2col import im2col\n\n"
        "def softmax_cross_entropy_backward(logits, labels):\n"
        "    e = np.exp(logits - logits.max(axis=1, keepdims=True))\n"
        "    p = e / e.sum(axis=1, keepdims=True)\n"
        "    p[np.arange(len(labels)), labels] -= 1\n"
        "    return p / len(labels) / len(labels)\n"
    )
    assert main(["check-exercise", str(two)]) == 1
    out = capsys.readouterr().out
    assert "im2col: all" in out and "divide by the batch size twice" in out and "1 of 2 exercises passed" in out
    assert main(["check-exercise", str(two), "--exercise", "im2col"]) == 0
    capsys.readouterr()

    # A helper module next to the file is importable, as with `python FILE`.
    (tmp_path / "my_helpers.py").write_text("from numconv.exercises.solutions.im2col import im2col\n")
    uses_helper = tmp_path / "uses_helper.py"
    uses_helper.write_text("from my_helpers import im2col\n")
    assert main(["check-exercise", str(uses_helper)]) == 0
    assert "im2col: all" in capsys.readouterr().out


def test_check_exercise_command_errors(tmp_path, capsys):
    assert main(["check-exercise", str(tmp_path / "missing.py")]) == 2
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert main(["check-exercise", str(empty)]) == 2
    assert "defines none of the exercise functions" in capsys.readouterr().err
    assert main(["check-exercise", str(empty), "--exercise", "conv3d"]) == 2
    assert "unknown exercise 'conv3d'" in capsys.readouterr().err
    broken = tmp_path / "broken.py"
    broken.write_text("def im2col(x:\n")
    assert main(["check-exercise", str(broken)]) == 2
    assert "SyntaxError" in capsys.readouterr().err
    failing = tmp_path / "failing.py"
    failing.write_text("import numpy_that_does_not_exist\n")
    assert main(["check-exercise", str(failing)]) == 2
    assert "ModuleNotFoundError" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- hints and settings
def test_batchnorm_cases_have_a_gradient_that_is_not_zero():
    from numconv.exercises.check import _prepare

    ex = EXERCISES["batchnorm_backward"]
    for case in ex.cases:
        inputs, (dx, _, _) = _prepare(ex, case, 0)
        assert np.max(np.abs(dx)) > 0.05 * np.max(np.abs(inputs["dout"])), case
        assert ex.valid(case)
    assert not ex.valid(dict(N=2, C=1, H=1, W=1))  # x_hat = +-1 whatever x is: dx would be 0


def test_hints_name_only_settings_the_smallest_case_needs():
    # Forgetting the batch in db first fails on a case that also has padding; the hint must name the batch.
    def first_sample_db(dout, x, w, b, stride, padding):
        dx, dw, _ = cb.conv2d_backward(dout, x, w, b, stride, padding)
        return dx, dw, dout[0].sum(axis=(1, 2))

    result, hints = _diagnosed(first_sample_db, "conv2d_backward")
    assert result.failing_case["N"] == 2 and result.failing_case["padding"] == 0
    assert "padding" not in hints and "N = 2, and the same case with N = 1 passes" in hints


def test_every_setting_can_be_named():
    from numconv.exercises._diagnose import setting_hints
    from numconv.exercises._base import Exercise

    case = dict(N=2, C=2, F=2, H=2, W=3, k=3, stride=2, padding=1, dilation=2, groups=2, scale=1000.0, steps=3, wd=0.1, gscale=1e-6)
    ex = Exercise("fake", "", (), (), [case], None, None, (), settings=tuple(SETTINGS))
    for key in SETTINGS:
        # A mistake that needs only `key`: the case passes once that setting is plain.
        hints = setting_hints(ex, case, lambda c, key=key: SETTINGS[key].describe(c) is None)
        assert len(hints) == 1 and SETTINGS[key].plain_text in hints[0], key
    assert setting_hints(ex, case, lambda c: False) == []


def test_settings_named_in_the_module():
    assert {"N", "HW", "stride", "padding", "dilation", "groups"} <= set(SETTINGS)


# ---------------------------------------------------------------------------------------------- installed skeletons
def test_exercises_list_and_copy(tmp_path, capsys):
    assert main(["exercises", "list"]) == 0
    out = capsys.readouterr().out
    assert all(ex.skeleton in out and ex.signature in out for ex in EXERCISES.values())
    assert main(["exercises", "copy", str(tmp_path / "mine"), "im2col"]) == 0
    copied = tmp_path / "mine" / "im2col.py"
    assert copied.read_text() == skeleton_text("im2col")
    capsys.readouterr()
    assert main(["check-exercise", str(copied)]) == 1
    assert f"fill in the TODOs in {copied} and run" in capsys.readouterr().out  # outside the cwd: in full
    copied.write_text("# my work\n")
    assert main(["exercises", "copy", str(tmp_path / "mine")]) == 2  # never overwrites a learner's work
    assert "already exists" in capsys.readouterr().err and copied.read_text() == "# my work\n"
    assert main(["exercises", "copy", str(tmp_path / "mine"), "--force"]) == 0
    assert len(list((tmp_path / "mine").glob("*.py"))) == len(EXERCISES)
    assert main(["exercises", "copy", str(tmp_path), "conv3d"]) == 2
    assert "unknown exercise 'conv3d'" in capsys.readouterr().err


def test_copied_skeleton_runs_the_check(tmp_path):
    """``python relu_backward.py`` in the learner's folder runs the checker on the untouched function."""
    (path,) = copy_skeletons(tmp_path, ["relu_backward"])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    run = subprocess.run([sys.executable, path], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert run.stdout.startswith("relu_backward: NOT IMPLEMENTED YET")
    assert "fill in the TODOs in relu_backward.py and run the check again" in run.stdout


@pytest.mark.torch
@pytest.mark.parametrize("name", ["sgd_momentum_step", "adam_step"])
def test_optimiser_exercises_expect_what_torch_optim_does(name):
    torch = pytest.importorskip("torch")
    from numconv.exercises.check import _prepare

    ex = EXERCISES[name]
    for case in ex.cases:
        inputs, expected = _prepare(ex, case, 0)
        param = torch.nn.Parameter(torch.tensor(inputs["param"], dtype=torch.float64))
        if name == "sgd_momentum_step":
            optimizer = torch.optim.SGD([param], lr=inputs["lr"], momentum=inputs["momentum"],
                                        weight_decay=inputs["weight_decay"])
            names = ["momentum_buffer"]
        else:
            optimizer = torch.optim.Adam([param], lr=inputs["lr"], betas=(inputs["beta1"], inputs["beta2"]),
                                         eps=inputs["eps"])
            names = ["exp_avg", "exp_avg_sq"]
        params = []
        for grad in inputs["grads"]:
            param.grad = torch.tensor(grad, dtype=torch.float64)
            optimizer.step()
            params.append(param.detach().numpy().copy())
        got = [np.stack(params)] + [optimizer.state[param][k].numpy() for k in names]
        for mine, theirs in zip(expected, got):
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("code", [0, 3])
def test_a_file_that_exits_at_import_is_not_a_pass(tmp_path, capsys, code):
    # sys.exit(0) at import used to end check-exercise with status 0 and no output: "every check passed".
    mine = tmp_path / "mine.py"
    mine.write_text(f"import sys\nfrom numconv.exercises.solutions.im2col import im2col\nsys.exit({code})\n")
    assert main(["check-exercise", str(mine)]) == 2
    assert f"called sys.exit({code}) (line 3" in capsys.readouterr().err
