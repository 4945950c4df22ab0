"""Every classic mistake in tests/exercise_mistakes/ gets the hint that names it.

Each file there is a wrong solution, written the way a learner writes it, with
``HINT``: words the checker's hints must contain. The function in the file is
named like its exercise. The hints must also be consistent with the smallest
failing case the checker prints: a setting a hint names (N, stride, padding,
...) is one that case has.
"""

import importlib.util
import os

import numpy as np
import pytest

from numconv.exercises import EXERCISES, SETTINGS, check

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "exercise_mistakes")
FILES = sorted(f for f in os.listdir(FOLDER) if f.endswith(".py"))


def _load(name):
    path = os.path.join(FOLDER, name)
    spec = importlib.util.spec_from_file_location("mistake_" + name[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_at_least_twenty_mistakes():
    assert len(FILES) >= 20


@pytest.mark.parametrize("name", FILES)
def test_mistake_gets_its_hint(name):
    module = _load(name)
    exercises = [ex for ex in EXERCISES if callable(getattr(module, ex, None))]
    assert len(exercises) == 1, f"{name} should define exactly one exercise function"
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        result = check(getattr(module, exercises[0]), exercises[0], verbose=False)
    assert not result.passed and "Traceback" not in result.message
    hints = " ".join(result.hints)
    assert module.HINT in hints, f"{name}: expected a hint containing {module.HINT!r}, got {result.hints}"
    # A setting named in a hint is one the printed smallest case really has.
    for key in EXERCISES[exercises[0]].settings:
        setting = SETTINGS[key]
        described = setting.describe(result.failing_case)
        if f"the same case with {setting.plain_text} passes" in hints:
            assert described is not None and f"has {described}" in hints
