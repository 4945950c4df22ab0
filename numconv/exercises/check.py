"""``check(fn, "conv2d_backward")``: run a student's function on many cases and say what is wrong.

The checker calls the function on a list of cases, from tiny to larger, and
compares every returned array with numconv's own ops (which are tested
against PyTorch). At the first case that fails it stops and

1. says *what* failed: an exception (with the line of the student's code),
   ``None`` returned ("not implemented yet"), a wrong shape (expected vs
   got), NaN/inf, or wrong values (which output, how far off, where);
2. looks for *why*: the answer is all zeros, a constant factor off (a
   factor N is "divided by the batch size twice?"), the sign flipped,
   transposed, flipped, or one of the exercise's known slips (a missing
   bias, ``=`` instead of ``+=`` over overlapping windows, ...); and which
   setting the failing case has that the passing ones had not (padding,
   stride);
3. shrinks the case, one dimension at a time, to the smallest one that
   still fails, and prints it with its arrays, so that it can be worked
   out by hand.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

import numpy as np

from .cases import Exercise, get_exercise

__all__ = ["check", "CheckResult", "RTOL"]

RTOL = 1e-8  # error allowed, relative to the largest expected value (float64 throughout)
_MAX_SHRINK_CALLS = 60


@dataclass
class CheckResult:
    """What ``check`` found.

    Attributes
    ----------
    exercise : str
    passed : bool
    message : str
        The friendly report ``check`` prints.
    cases_passed, cases_total : int
    failing_case : dict or None
        The smallest failing case found (None when all passed).
    problem : str
        ``""`` when passed, else one of ``"not implemented"``, ``"exception"``,
        ``"returned None"``, ``"wrong outputs"``, ``"modified input"``,
        ``"wrong shape"``, ``"not finite"``, ``"wrong values"``.
    wrong : list of str
        The outputs found wrong (``["dw"]``).
    hints : list of str
    """

    exercise: str
    passed: bool
    message: str
    cases_passed: int = 0
    cases_total: int = 0
    failing_case: dict | None = None
    problem: str = ""
    wrong: list = field(default_factory=list)
    hints: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message


@dataclass
class _Failure:
    """One failed call: the kind of problem, the lines that describe it, the hints."""

    problem: str
    lines: list
    hints: list = field(default_factory=list)
    wrong: list = field(default_factory=list)
    got: dict = field(default_factory=dict)


def check(fn, exercise: str, *, seed: int = 0, verbose: bool = True) -> CheckResult:
    """Check a student's solution of ``exercise``.

    Parameters
    ----------
    fn : callable
        The student's function, with the exercise's signature (see
        ``numconv.exercises.EXERCISES[exercise].signature``).
    exercise : str
        ``"conv2d_forward"``, ``"conv2d_backward"``, ``"maxpool2d_backward"``,
        ``"batchnorm_backward"``, ``"softmax_cross_entropy_backward"`` or ``"im2col"``.
    seed : int
        Seeds the random inputs.
    verbose : bool
        Print the report (default True).

    Returns
    -------
    CheckResult
        Truthy when every case passed; ``message`` holds the report.
    """
    ex = get_exercise(exercise)
    if not callable(fn):
        raise TypeError(f"check: expected the function {ex.name} to check, got {type(fn).__name__}")
    passed_cases, failure, failing = [], None, None
    worst = 0.0
    for index, case in enumerate(ex.cases):
        inputs, expected = _prepare(ex, case, seed)
        failure, error = _run(fn, ex, case, inputs, expected)
        if failure is not None:
            failing = case
            break
        worst = max(worst, error)
        passed_cases.append(case)

    if failure is None:
        message = (f"{ex.name}: all {len(ex.cases)} cases passed (largest error {worst:.1e} relative to the "
                   "largest value). Well done!")
        result = CheckResult(ex.name, True, message, len(ex.cases), len(ex.cases))
    else:
        result = _report_failure(fn, ex, seed, passed_cases, failing, failure)
    if verbose:
        print(result.message)
    return result


# ---------------------------------------------------------------------------------------------- running one case
def _prepare(ex: Exercise, case: dict, seed: int):
    """The inputs of ``case`` (random, but the same every time) and the expected outputs."""
    key = [seed] + [int(round(v * 1000)) if isinstance(v, float) else int(v) for v in case.values()]
    inputs = ex.make_inputs(case, np.random.default_rng(key))
    return inputs, ex.reference(inputs)


def _run(fn, ex: Exercise, case: dict, inputs: dict, expected: tuple):
    """Call ``fn`` on one case: ``(None, largest relative error)`` if right, else ``(_Failure, None)``."""
    given = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
    try:
        result = fn(*(given[name] for name in ex.arguments))
    except NotImplementedError as error:
        text = f": {error}" if str(error) else ""
        return _Failure("not implemented", [f"{ex.name} is not implemented yet (it raised NotImplementedError{text})."],
                        [f"fill in the TODOs in {ex.skeleton or 'your file'} and run the check again"]), None
    except Exception as error:  # the student's bug, reported with the line it happened on
        return _Failure("exception", [f"{ex.name} raised {type(error).__name__}: {error}", _where(fn, error)]), None

    changed = [name for name, value in inputs.items()
               if isinstance(value, np.ndarray) and not np.array_equal(given[name], value)]
    if changed:
        return _Failure("modified input", [f"{ex.name} changed its input {', '.join(changed)} in place."],
                        ["work on a copy (x = x - mean, not x -= mean): the caller still needs the original "
                         "array, and a backward pass must never change dout"]), None

    outputs, failure = _unpack(ex, result)
    if failure is not None:
        return failure, None
    largest = 0.0
    wrong = []
    for name, got, want in zip(ex.outputs, outputs, expected):
        if got.shape != want.shape:
            hints = [h for h in (ex.shape_hints(case, name, got.shape), _shape_hint(got.shape, want.shape)) if h]
            return _Failure("wrong shape", [f"{name} has shape {got.shape}, expected {want.shape}."], hints,
                            [name], {name: got}), None
        if not np.all(np.isfinite(got)):
            hints = ["np.exp overflowed: subtract each row's maximum from the logits before np.exp (the softmax "
                     "does not change)"] if ex.name == "softmax_cross_entropy_backward" else []
            bad = int(np.size(got) - np.isfinite(got).sum())
            return _Failure("not finite", [f"{name} has {bad} NaN or inf values (the expected values are finite)."],
                            hints, [name], {name: got}), None
        error = _relative_error(got, want)
        if error > RTOL:
            wrong.append((name, got, want, error))
        largest = max(largest, error)
    if wrong:
        return _value_failure(ex, case, inputs, expected, wrong), None
    return None, largest


def _unpack(ex: Exercise, result):
    """The returned arrays as a tuple of float arrays, or a ``_Failure`` saying what came back."""
    n = len(ex.outputs)
    expect = ex.outputs[0] if n == 1 else f"a tuple ({', '.join(ex.outputs)})"
    if result is None:
        return None, _Failure("returned None", [f"{ex.name} returned None, expected {expect}."],
                              ["not implemented yet? Fill in the TODOs; if you did, check that the function ends "
                               f"with `return {', '.join(ex.outputs)}`"])
    if n == 1 and isinstance(result, (tuple, list)) and len(result) == 1:
        result = result[0]
    if n == 1 and isinstance(result, tuple):
        return None, _Failure("wrong outputs", [f"{ex.name} returned a tuple of {len(result)} values, expected "
                                                f"{expect} alone."], [f"end with `return {expect}`"])
    items = (result,) if n == 1 else result
    if n > 1 and (not isinstance(result, (tuple, list)) or len(result) != n):
        count = f"{len(result)} values" if isinstance(result, (tuple, list)) else f"a {type(result).__name__}"
        return None, _Failure("wrong outputs", [f"{ex.name} returned {count}, expected {expect}."],
                              [f"end with `return {', '.join(ex.outputs)}`"])
    arrays = []
    for name, item in zip(ex.outputs, items):
        if item is None:
            return None, _Failure("returned None", [f"{name} is None: it is not computed yet."],
                                  [f"fill in the TODO that computes {name}"], [name])
        try:
            arrays.append(np.asarray(item, dtype=np.float64))
        except (TypeError, ValueError):
            return None, _Failure("wrong outputs", [f"{name} is a {type(item).__name__}, not an array of numbers."],
                                  [], [name])
    return tuple(arrays), None


def _relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """``max |got - want|`` over ``max |want|`` (or the plain difference if ``want`` is all zeros)."""
    if got.size == 0:
        return 0.0
    scale = float(np.max(np.abs(want)))
    difference = float(np.max(np.abs(got - want)))
    return difference / scale if scale > 0 else difference


def _where(fn, error) -> str:
    """``at line 12 of file.py, in conv2d_forward: out[n, f, i, j] = ...``: the student's line that raised."""
    frames = traceback.extract_tb(error.__traceback__)
    own = getattr(getattr(fn, "__code__", None), "co_filename", None)
    mine = [f for f in frames if f.filename == own] or frames[-1:]
    if not mine:
        return ""
    frame = mine[-1]
    return f"at line {frame.lineno} of {frame.filename}, in {frame.name}: {(frame.line or '').strip()}"


def _shape_hint(got: tuple, want: tuple) -> str | None:
    if sorted(got) == sorted(want):
        return "the right sizes in the wrong order: check the order of the axes (transposed?)"
    if int(np.prod(got)) == int(np.prod(want)):
        return "the right number of values in the wrong shape"
    return None


# ---------------------------------------------------------------------------------------------- wrong values
def _value_failure(ex, case, inputs, expected, wrong) -> _Failure:
    lines, hints = [], []
    right = [name for name in ex.outputs if name not in {w[0] for w in wrong}]
    candidates = ex.mistakes(case, inputs, expected)
    for name, got, want, error in wrong:
        diff = np.abs(got - want)
        index = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape))
        place = f" at index {index}" if index else ""
        lines.append(f"{name} is wrong: max abs error {diff.max():.3g}{place} (expected {want[index]:.6g}, got "
                     f"{got[index]:.6g}), relative error {error:.2g}.")
        hints += _diagnose(name, got, want, case, inputs, candidates.get(name, []))
    if right:
        lines.append(f"({', '.join(right)} {'is' if len(right) == 1 else 'are'} right.)")
    return _Failure("wrong values", lines, hints, [w[0] for w in wrong], {w[0]: w[1] for w in wrong})


def _close(a, b) -> bool:
    return a.shape == b.shape and _relative_error(a, b) <= 1e-6


def _diagnose(name, got, want, case, inputs, candidates) -> list:
    """Plain-word guesses at what went wrong with output ``name``."""
    if not np.any(got):
        return [f"{name} is all zeros: was it computed at all? (e.g. still the np.zeros it started as, or the "
                "values written into a different array)"]
    if _relative_error(got, want) < 1e-5:
        return [f"{name} is nearly right, off by about float32 rounding: is something computed in float32 "
                "(dtype=np.float32, or an array made from float32 data)? Everything here is float64"]
    for candidate, hint in candidates:
        if _close(got, np.asarray(candidate, dtype=np.float64)):
            return [hint]
    hints = []
    factor = _constant_factor(got, want)
    if factor is not None:
        hints.append(_factor_hint(name, factor, case.get("N")))
    elif got.ndim >= 2 and got.shape[-1] == got.shape[-2] and _close(got, np.swapaxes(want, -1, -2)):
        hints.append(f"{name} is transposed: its last two axes (rows and columns, H and W) are swapped")
    elif got.ndim >= 2 and _close(got, want[..., ::-1, ::-1]):
        hints.append(f"{name} is flipped upside down and left to right")
    else:
        wrong = np.abs(got - want) > RTOL * max(float(np.max(np.abs(want))), 1e-300)
        padding = int(case.get("padding", 0) or 0)
        if got.ndim == 4 and padding and _only_near_border(wrong, padding):
            hints.append(f"only values within {padding} pixel(s) of the border are wrong: check the padding")
        elif wrong.sum() < wrong.size:
            hints.append(f"{int(wrong.sum())} of {wrong.size} values of {name} are wrong, the others are right")
    return hints


def _constant_factor(got, want):
    """``k`` if ``got == k * want`` (to 1e-6), else None."""
    denominator = float(np.sum(want * want))
    if denominator == 0:
        return None
    k = float(np.sum(got * want)) / denominator
    if k == 0 or not _close(got, k * want):
        return None
    return k


def _factor_hint(name: str, k: float, batch) -> str:
    def near(a, b):
        return abs(a - b) <= 1e-6 * max(abs(a), abs(b))

    if near(k, -1):
        return f"{name} has the wrong sign: every value is the negative of the right one"
    if batch and batch > 1 and near(k, 1 / batch):
        return (f"{name} is exactly N = {batch} times too small: did you divide by the batch size twice (or divide "
                "a sum that was already a mean)?")
    if batch and batch > 1 and near(k, batch):
        return (f"{name} is exactly N = {batch} times too large: did you forget to divide by the batch size "
                "(the loss is a mean over the batch)?")
    if near(k, 2) or near(k, 0.5):
        return (f"{name} is exactly {k:g} times the right answer: is a term counted twice, or a factor 2 (or 1/2) "
                "misplaced?")
    return f"{name} is {k:.6g} times the right answer everywhere: a constant factor is wrong"


def _only_near_border(wrong: np.ndarray, padding: int) -> bool:
    if not wrong.any():
        return False
    inner = wrong[:, :, padding:wrong.shape[2] - padding, padding:wrong.shape[3] - padding]
    return not inner.any()


# ---------------------------------------------------------------------------------------------- the report
def _report_failure(fn, ex, seed, passed_cases, failing, failure) -> CheckResult:
    total = len(ex.cases)
    number = len(passed_cases) + 1
    if failure.problem == "not implemented" or (failure.problem == "returned None" and not passed_cases):
        lines = [f"{ex.name}: NOT IMPLEMENTED YET", *failure.lines,
                 f"Signature to implement: {ex.signature}", *(f"Hint: {h}" for h in failure.hints)]
        return CheckResult(ex.name, False, "\n".join(lines), 0, total, failing, failure.problem, [], failure.hints)

    hints = list(failure.hints) + _setting_hints(passed_cases, failing)
    tiny, tiny_failure = _shrink(fn, ex, seed, failing, failure)
    done = f"cases 1-{number - 1} passed" if number > 2 else ("case 1 passed" if number == 2 else "the first case")
    lines = [f"{ex.name}: FAILED on case {number} of {total} ({_case_text(failing)}); {done}."]
    lines += [f"  {line}" for line in failure.lines if line]
    lines += [f"  Hint: {hint}" for hint in dict.fromkeys(hints)]
    if tiny != failing:
        lines.append(f"The smallest failing case found: {_case_text(tiny)}")
        lines += [f"  {line}" for line in tiny_failure.lines if line]
    else:
        lines.append("The failing case, in full:")
    inputs, expected = _prepare(ex, tiny, seed)
    lines += _show_case(ex, inputs, expected, tiny_failure)
    lines.append(f"Signature: {ex.signature}")
    return CheckResult(ex.name, False, "\n".join(lines), len(passed_cases), total, tiny, failure.problem,
                       failure.wrong, list(dict.fromkeys(hints)))


def _case_text(case: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in case.items())


def _setting_hints(passed_cases, failing) -> list:
    """Settings the failing case has and no passing case had (padding, stride, overlapping windows)."""
    hints = []
    if not passed_cases:
        return hints
    if failing.get("padding", 0) > 0 and all(c.get("padding", 0) == 0 for c in passed_cases):
        hints.append(f"the cases without padding passed and this one has padding={failing['padding']}: "
                     "check how you pad (and, in a backward pass, crop) the input")
    if failing.get("stride", 1) > 1 and all(c.get("stride", 1) == 1 for c in passed_cases):
        hints.append(f"the cases with stride 1 passed and this one has stride={failing['stride']}: check where each "
                     "window starts (i * stride) and the output size")
    if "k" in failing and failing["stride"] < failing["k"] and all(c["stride"] >= c["k"] for c in passed_cases):
        hints.append("the cases with side-by-side windows passed and in this one the windows overlap "
                     "(stride < kernel_size)")
    if failing.get("scale", 1) > 1 and all(c.get("scale", 1) == 1 for c in passed_cases):
        hints.append(f"the cases with small logits passed and this one has logits around +-{failing['scale']:g}")
    return hints


def _shrink(fn, ex, seed, case, failure):
    """The smallest case (one dimension at a time) that still fails in the same way."""
    calls = 0
    improved = True
    while improved and calls < _MAX_SHRINK_CALLS:
        improved = False
        for smaller in ex.shrink(case):
            calls += 1
            inputs, expected = _prepare(ex, smaller, seed)
            new, _ = _run(fn, ex, smaller, inputs, expected)
            if new is not None and new.problem == failure.problem and set(new.wrong) == set(failure.wrong):
                case, failure, improved = smaller, new, True
                break
            if calls >= _MAX_SHRINK_CALLS:
                break
    return case, failure


def _show_case(ex, inputs, expected, failure) -> list:
    lines = []
    for name in ex.arguments:
        value = inputs[name]
        lines.append(f"  {name} = {_array_text(value)}")
    for name, want in zip(ex.outputs, expected):
        if name in failure.got:
            lines.append(f"  expected {name} = {_array_text(want)}")
            lines.append(f"  your {name}     = {_array_text(failure.got[name])}")
    return lines


def _array_text(value) -> str:
    if not isinstance(value, np.ndarray):
        return repr(value)
    text = np.array2string(value, precision=4, suppress_small=True, separator=", ", max_line_width=100,
                           threshold=400)
    return f"(shape {value.shape})\n    " + text.replace("\n", "\n    ")
