"""``check(fn, "conv2d_backward")``: run a student's function on many cases and say what is wrong.

The checker calls the function on a list of cases, from tiny to larger, and
compares every returned array with numconv's own ops (which are tested
against PyTorch). At the first case that fails it stops and

1. says *what* failed: an exception (with the line of the student's code),
   ``None`` returned ("not implemented yet"), a wrong shape (expected vs
   got), NaN/inf, or wrong values (which output, how far off, where);
2. shrinks the case, one dimension at a time, to the smallest one that
   still fails in the same way, and prints it with its arrays, so that it
   can be worked out by hand;
3. looks for *why*, on that smallest case: the answer is all zeros, a
   constant factor off (named: N, m = N·H·W, kernel_size**2, ...), the sign
   flipped, transposed, flipped, or one of the exercise's known slips (a
   missing bias, ``=`` instead of ``+=`` over overlapping windows, ...); and
   which settings the mistake needs: each setting of the smallest case
   (batch size, H·W, stride, padding, dilation, groups, overlapping
   windows, ...) is set back to its plain value, and a setting is named
   only if the case then passes.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

import numpy as np

from ._diagnose import RTOL, diagnose, relative_error, setting_hints
from .cases import Exercise, get_exercise

__all__ = ["check", "CheckResult", "RTOL"]

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
        The exercise's name, a key of ``numconv.exercises.EXERCISES`` (``"conv2d_backward"``, ...).
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
        result = ex.call(fn, given) if ex.call else fn(*(given[name] for name in ex.arguments))
    except NotImplementedError as error:
        text = f": {error}" if str(error) else ""
        return _Failure("not implemented", [f"{ex.name} is not implemented yet (it raised NotImplementedError{text})."],
                        [f"fill in the TODOs in {_own_file(fn, ex)} and run the check again"]), None
    except Exception as error:  # the student's bug, reported with the line it happened on
        # numconv's own errors say what to change; a learner's own bug is shown at its line.
        hints = [f"numconv refused it and says what to change: {error}"] \
            if type(error).__module__.startswith("numconv") else []
        return _Failure("exception", [f"{ex.name} raised {type(error).__name__}: {error}", _where(fn, error)],
                        hints), None

    changed = [name for name, value in inputs.items()
               if isinstance(value, np.ndarray) and not np.array_equal(given[name], value)]
    if changed:
        name = changed[0]
        return _Failure("modified input", [f"{ex.name} changed its input {', '.join(changed)} in place."],
                        [f"work on a copy: make new arrays ({name} = {name} - ...), never change an input in place "
                         f"({name} -= ..., {name}[...] = ...): the caller still needs the original array, and a "
                         "backward pass must never change dout"]), None

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
        error = relative_error(got, want)
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
        hints += diagnose(ex, name, got, want, case, inputs, candidates.get(name, []))
    if right:
        lines.append(f"({', '.join(right)} {'is' if len(right) == 1 else 'are'} right.)")
    return _Failure("wrong values", lines, hints, [w[0] for w in wrong], {w[0]: w[1] for w in wrong})


def _own_file(fn, ex: Exercise) -> str:
    """The file the student's function is written in (relative to the working folder when inside it)."""
    import os

    path = getattr(getattr(fn, "__code__", None), "co_filename", "")
    if not path or path.startswith("<") or not os.path.isfile(path):
        return f"your copy of {ex.skeleton}" if ex.skeleton else "your file"
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


# ---------------------------------------------------------------------------------------------- the report
def _report_failure(fn, ex, seed, passed_cases, failing, failure) -> CheckResult:
    total = len(ex.cases)
    number = len(passed_cases) + 1
    if failure.problem == "not implemented" or (failure.problem == "returned None" and not passed_cases):
        lines = [f"{ex.name}: NOT IMPLEMENTED YET", *failure.lines,
                 f"Signature to implement: {ex.signature}", *(f"Hint: {h}" for h in failure.hints)]
        return CheckResult(ex.name, False, "\n".join(lines), 0, total, failing, failure.problem, [], failure.hints)

    # Every hint is worked out on the smallest failing case, the one printed for the learner to work through.
    tiny, tiny_failure = _shrink(fn, ex, seed, failing, failure)
    hints = list(dict.fromkeys(tiny_failure.hints + setting_hints(ex, tiny, lambda case: _passes(fn, ex, seed, case))))
    done = f"cases 1-{number - 1} passed" if number > 2 else ("case 1 passed" if number == 2 else "the first case")
    lines = [f"{ex.name}: FAILED on case {number} of {total} ({_case_text(failing)}); {done}."]
    lines += [f"  {line}" for line in failure.lines if line]
    if tiny != failing:
        lines.append(f"The smallest failing case found: {_case_text(tiny)}")
        lines += [f"  {line}" for line in tiny_failure.lines if line]
    else:
        lines.append("The failing case, in full:")
    lines += [f"  Hint: {hint}" for hint in hints]
    inputs, expected = _prepare(ex, tiny, seed)
    lines += _show_case(ex, inputs, expected, tiny_failure)
    lines.append(f"Signature: {ex.signature}")
    return CheckResult(ex.name, False, "\n".join(lines), len(passed_cases), total, tiny, tiny_failure.problem,
                       tiny_failure.wrong, hints)


def _case_text(case: dict) -> str:
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in case.items())


def _passes(fn, ex, seed, case) -> bool:
    inputs, expected = _prepare(ex, case, seed)
    failure, _ = _run(fn, ex, case, inputs, expected)
    return failure is None


def _shrink(fn, ex, seed, case, failure):
    """The smallest case (one dimension at a time) that still fails in the same way."""
    calls = 0
    improved = True
    while improved and calls < _MAX_SHRINK_CALLS:
        improved = False
        for smaller in ex.smaller(case):
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
    lines = [f"  {name} = {_array_text(value)}" for name, value in inputs.items()]
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
