"""What an exercise is made of, the settings a hint may name, and helpers to draw readable inputs.

An ``Exercise`` says how to call the student's function, draws the inputs of
a case, computes the expected answer with numconv's own ops (tested against
PyTorch), and lists *mistake candidates*: what a typical wrong solution
returns, with a hint. A case is a small dict of numbers (``N``, ``C``,
``H``, ``W``, ``stride``, ...); the list of an exercise starts with the
tiniest case and grows.

A ``Setting`` is one thing about a case that a hint may name ("the batch has
two samples", "the windows overlap"): the checker takes the smallest failing
case, sets one setting back to its plain value (one sample, stride 1, no
padding, ...) and, if that case passes, says that the mistake shows only with
that setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["Exercise", "exercise", "Setting", "SETTINGS", "values", "distinct", "out_size", "near"]


@dataclass(frozen=True)
class Exercise:
    """One exercise.

    The family modules make their records with ``exercise`` below, which
    reads the name, the arguments and the outputs from the signature.

    Attributes
    ----------
    name : str
        ``"conv2d_backward"``: the function the student writes and the checker's key.
    signature : str
        The exact call and return, shown in messages.
    arguments : tuple of str
        The names of the positional arguments, in order.
    outputs : tuple of str
        The names of the returned arrays (one name: a single array is returned).
    cases : list of dict
        From tiny to larger.
    make_inputs : callable
        ``make_inputs(case, rng) -> dict`` of the inputs (the arguments, unless ``call`` says otherwise).
    reference : callable
        ``reference(inputs) -> tuple`` of the expected outputs.
    shrink_keys : tuple of str
        The case keys the checker may decrease (by one) to find the smallest failing case.
    minimum : dict
        The smallest value of each shrinkable key (1 unless given).
    valid : callable
        ``valid(case) -> bool``: whether a shrunk or altered case is still a case.
    settings : tuple of str
        The keys of ``SETTINGS`` a hint may name for this exercise.
    mistakes : callable
        ``mistakes(case, inputs, expected) -> {output name: [(array, hint), ...]}``.
    shape_hints : callable
        ``shape_hints(case, output name, got shape) -> str or None``.
    factor_hints : callable
        ``factor_hints(case, output name, k) -> str or None`` when an output is ``k`` times the right one.
    checks : callable
        ``checks(case, inputs, output name, got) -> list of str``: hints from a property the answer lacks.
    call : callable or None
        ``call(fn, inputs) -> result``: how to call the student's function (default: with the
        arguments in order). The optimiser exercises call it once per step.
    skeleton : str
        The skeleton's file name in ``numconv/exercises/skeletons/``.
    title : str
        What the learner writes, in a few words.
    """

    name: str
    signature: str
    arguments: tuple
    outputs: tuple
    cases: list
    make_inputs: Callable
    reference: Callable
    shrink_keys: tuple
    minimum: dict = field(default_factory=dict)
    valid: Callable = field(default=lambda case: True)
    settings: tuple = ()
    mistakes: Callable = field(default=lambda case, inputs, expected: {})
    shape_hints: Callable = field(default=lambda case, output, shape: None)
    factor_hints: Callable = field(default=lambda case, output, k: None)
    checks: Callable = field(default=lambda case, inputs, output, got: [])
    call: Callable | None = None
    skeleton: str = ""
    title: str = ""

    def smaller(self, case: dict) -> list:
        """Every valid case with one of ``shrink_keys`` decreased by one (not below its minimum)."""
        shrunk = [dict(case, **{key: case[key] - 1}) for key in self.shrink_keys
                  if case[key] > self.minimum.get(key, 1)]
        return [smaller for smaller in shrunk if self.valid(smaller)]


def exercise(signature: str, title: str, skeleton: str | None = None, **fields) -> Exercise:
    """An ``Exercise`` whose name, arguments and outputs are read from its signature.

    Parameters
    ----------
    signature : str
        ``"relu_backward(dout, x) -> dx"`` or ``"... -> (dx, dw, db)"``: the
        name, the arguments in order and the outputs, as the learner reads them.
    title : str
        What the learner writes, in a few words.
    skeleton : str, optional
        The skeleton's file name (default: the exercise's name, ``.py``).
    **fields
        The other fields of ``Exercise`` (``outputs`` replaces the names read
        from the signature where the checker compares something else).

    Returns
    -------
    Exercise
    """
    call, returns = signature.split(" -> ")
    name, arguments = call.rstrip(")").split("(")
    fields.setdefault("outputs", tuple(returns.strip("()").split(", ")))
    return Exercise(name=name, signature=signature, arguments=tuple(arguments.split(", ")), title=title,
                    skeleton=skeleton or f"{name}.py", **fields)


# ---------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Setting:
    """A property of a case that can make a mistake show.

    Attributes
    ----------
    describe : callable
        ``describe(case) -> str or None``: the setting in words ("N = 2"), None when it is plain.
    plain : callable
        ``plain(case) -> dict``: the same case with the setting made plain.
    plain_text : str
        The plain setting in words ("N = 1").
    advice : str
        What to look at when the mistake shows only with this setting.
    """

    describe: Callable
    plain: Callable
    plain_text: str
    advice: str


def _above(key: str, plain_value, label: str | None = None):
    label = label or key
    return lambda case: f"{label} = {case[key]:g}" if case.get(key, plain_value) != plain_value else None


SETTINGS = {
    "N": Setting(_above("N", 1), lambda c: dict(c, N=1), "N = 1",
                 "the mistake shows only with more than one sample in the batch: look at what your code does "
                 "over the batch axis (a sum or a mean over the samples, a gradient reset or overwritten for "
                 "each sample, values of one sample only)"),
    "C": Setting(_above("C", 1), lambda c: dict(c, C=1), "C = 1",
                 "the mistake shows only with several channels: look at how the channel axis is handled (where it "
                 "goes in the layout, what is summed over it)"),
    "F": Setting(_above("F", 1), lambda c: dict(c, F=1), "F = 1",
                 "the mistake shows only with several filters: each input pixel feeds every filter, so its "
                 "gradient is the sum over all of them (add, do not overwrite)"),
    "HW": Setting(lambda c: f"H·W = {c['H'] * c['W']}" if c["H"] * c["W"] > 1 else None,
                  lambda c: dict(c, H=1, W=1), "H = W = 1",
                  "the mistake shows only when there are several positions per channel: batch norm's "
                  "statistics are over m = N·H·W values per channel (the batch AND the positions), not over N"),
    "stride": Setting(_above("stride", 1), lambda c: dict(c, stride=1), "stride = 1",
                      "check where each window starts (i * stride) and the output size"),
    "padding": Setting(_above("padding", 0), lambda c: dict(c, padding=0), "padding = 0",
                       "check how you pad the input (and, in a backward pass, crop the padding off again)"),
    "dilation": Setting(_above("dilation", 1), lambda c: dict(c, dilation=1), "dilation = 1",
                        "the kernel's taps are `dilation` pixels apart: tap p reads row i * stride + p * dilation"),
    "groups": Setting(_above("groups", 1), lambda c: dict(c, groups=1), "groups = 1",
                      "with groups, filter f sees only the C / groups input channels of its own group"),
    "overlap": Setting(lambda c: (f"overlapping windows (stride {c['stride']} < kernel_size {c['k']})"
                                  if c["stride"] < c["k"] else None),
                       lambda c: dict(c, stride=c["k"]), "stride = kernel_size (windows side by side)",
                       "where windows overlap an input is in several windows and gets gradient from each: add "
                       "(+=) them, never assign (=)"),
    "scale": Setting(lambda c: f"logits around +-{c['scale']:g}" if c.get("scale", 1) != 1 else None,
                     lambda c: dict(c, scale=1.0), "logits around +-1",
                     "large logits overflow np.exp: subtract each row's maximum first (the softmax does not change)"),
    "wd": Setting(lambda c: f"weight_decay = {c['wd']:g}" if c.get("wd", 0) else None, lambda c: dict(c, wd=0.0),
                  "weight_decay = 0", "the mistake shows only with weight decay: torch.optim adds "
                  "weight_decay * param to the gradient before anything else"),
    "gscale": Setting(lambda c: f"gradients around +-{c['gscale']:g}" if c.get("gscale", 1) != 1 else None,
                      lambda c: dict(c, gscale=1.0), "gradients around +-1",
                      "with tiny gradients sqrt(v_hat) is as small as eps: check where eps goes"),
    "steps": Setting(_above("steps", 1, "steps"), lambda c: dict(c, steps=1), "one step",
                     "the first step is right and a later one is not: check the state carried from step to step "
                     "(the velocity, the moments m and v, the step count t)"),
}


# ---------------------------------------------------------------------------------------------- helpers
def values(rng, shape) -> np.ndarray:
    """Normal values rounded to one decimal (easy to read when a case is printed), never exactly 0."""
    drawn = np.round(rng.standard_normal(shape), 1)
    drawn[drawn == 0] = 0.5  # a zero weight or gradient would hide mistakes in a tiny case
    return drawn


def distinct(rng, shape) -> np.ndarray:
    """Distinct values (no ties for a max), one decimal each."""
    size = int(np.prod(shape))
    return (rng.permutation(size) - size // 2).reshape(shape) / 10.0


def out_size(size, kernel, stride, padding, dilation=1) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def near(a: float, b: float) -> bool:
    """``a`` equals ``b`` to one part in a million."""
    return abs(a - b) <= 1e-6 * max(abs(a), abs(b))

