"""Why an answer is wrong: the checker's guesses, worked out on the smallest failing case.

``diagnose`` looks at one wrong output: all zeros, float32 rounding, one of
the exercise's known mistakes, a constant factor (named by the exercise: N,
m = N·H·W, kernel_size**2, ...), the sign, a transpose, a flip, a property the
answer lacks (rows of dlogits that do not sum to 0), or wrong values only
near the border. ``setting_hints`` names the settings the mistake needs: each
setting of the case is set back to its plain value (one sample, stride 1, no
padding, ...), and named only if the case then passes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._base import SETTINGS, near

__all__ = ["diagnose", "setting_hints", "relative_error", "RTOL", "batch_sum_factor_hint"]

RTOL = 1e-8  # error allowed, relative to the largest expected value (float64 throughout)


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """``max |got - want|`` over ``max |want|`` (or the plain difference if ``want`` is all zeros)."""
    if got.size == 0:
        return 0.0
    scale = float(np.max(np.abs(want)))
    difference = float(np.max(np.abs(got - want)))
    return difference / scale if scale > 0 else difference


def _close(a, b) -> bool:
    return a.shape == b.shape and relative_error(a, b) <= 1e-6


def diagnose(ex, name, got, want, case, inputs, candidates) -> list:
    """Plain-word guesses at what went wrong with output ``name`` of exercise ``ex``."""
    if not np.any(got):
        return [f"{name} is all zeros: was it computed at all? (e.g. still the np.zeros it started as, or the "
                "values written into a different array)"]
    if relative_error(got, want) < 1e-5:
        return [f"{name} is nearly right, off by about float32 rounding: is something computed in float32 "
                "(dtype=np.float32, or an array made from float32 data)? Everything here is float64"]
    for candidate, hint in candidates:
        if _close(got, np.asarray(candidate, dtype=np.float64)):
            return [hint]
    hints = []
    factor = _constant_factor(got, want)
    factor_hint = None if factor is None else ex.factor_hints(case, name, factor) or _factor_hint(name, factor)
    # One number is always some multiple of another: for a single value only a telling factor is worth a word.
    if factor_hint and (want.size > 1 or not factor_hint.endswith("a constant factor is wrong")):
        hints.append(factor_hint)
    elif got.ndim >= 2 and got.shape[-1] == got.shape[-2] and _close(got, np.swapaxes(want, -1, -2)):
        hints.append(f"{name} is transposed: its last two axes (rows and columns, H and W) are swapped")
    elif got.ndim >= 2 and _close(got, want[..., ::-1, ::-1]):
        hints.append(f"{name} is flipped upside down and left to right")
    else:
        hints += ex.checks(case, inputs, name, got)
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


def _factor_hint(name: str, k: float) -> str:
    """The words for a factor the exercise does not name itself."""
    if near(k, -1):
        return f"{name} has the wrong sign: every value is the negative of the right one"
    if near(k, 2) or near(k, 0.5):
        return (f"{name} is exactly {k:g} times the right answer: is a term counted twice, or a factor 2 (or 1/2) "
                "misplaced?")
    return f"{name} is {k:.6g} times the right answer everywhere: a constant factor is wrong"


def batch_sum_factor_hint(gradients: str, aside: str = "") -> Callable:
    """The ``factor_hints`` of a layer whose parameter gradients are plain sums over the batch.

    Parameters
    ----------
    gradients : str
        Whose gradients, in words (``"a convolution's"``).
    aside : str
        Words put before the reminder about the mean loss (``"no mean here: "``).

    Returns
    -------
    callable
        ``hint(case, output, k) -> str or None``: names a factor of exactly N
        or 1/N (``case["N"]`` samples), a mean taken (or undone) where a sum
        belongs.
    """
    def hint(case, output, k) -> str | None:
        n = case["N"]
        if n > 1 and (near(k, n) or near(k, 1 / n)):
            return (f"{output} is exactly N = {n} times too {'small' if k < 1 else 'large'}: {gradients} gradients "
                    f"are plain sums over the batch ({aside}any 1/N of a mean loss is already inside dout)")
        return None

    return hint


def _only_near_border(wrong: np.ndarray, padding: int) -> bool:
    if not wrong.any():
        return False
    inner = wrong[:, :, padding:wrong.shape[2] - padding, padding:wrong.shape[3] - padding]
    return not inner.any()


def setting_hints(ex, case: dict, passes) -> list:
    """The settings of ``case`` the mistake needs: those whose plain value makes the case pass.

    Parameters
    ----------
    ex : Exercise
    case : dict
        The smallest failing case.
    passes : callable
        ``passes(case) -> bool``: runs the student's function on a case.
    """
    hints = []
    for key in ex.settings:
        setting = SETTINGS[key]
        now = setting.describe(case)
        if now is None:
            continue
        plain = setting.plain(case)
        if plain != case and ex.valid(plain) and passes(plain):
            hints.append(f"the smallest failing case has {now}, and the same case with {setting.plain_text} "
                         f"passes: {setting.advice}")
    return hints
