"""The exercises, by name: signatures, test cases, reference answers and common mistakes.

Each family lives in its own module (``_conv``, ``_pool``, ``_norm_loss``,
...); what an exercise holds is described in ``_base.Exercise``.
``numconv.exercises.check`` runs the cases and uses the mistake candidates to
say what went wrong.
"""

from __future__ import annotations

from ._base import SETTINGS, Exercise, Setting
from ._conv import CONV2D_BACKWARD, CONV2D_FORWARD, IM2COL
from ._norm_loss import BATCHNORM_BACKWARD, SOFTMAX_CROSS_ENTROPY_BACKWARD
from ._pool import MAXPOOL2D_BACKWARD

__all__ = ["Exercise", "Setting", "SETTINGS", "EXERCISES", "get_exercise"]

EXERCISES = {ex.name: ex for ex in (
    CONV2D_FORWARD, CONV2D_BACKWARD, MAXPOOL2D_BACKWARD, BATCHNORM_BACKWARD, SOFTMAX_CROSS_ENTROPY_BACKWARD, IM2COL,
)}


def get_exercise(name: str) -> Exercise:
    """The exercise called ``name``; a ``ValueError`` lists the names if there is none."""
    if name not in EXERCISES:
        raise ValueError(f"no exercise named {name!r}; the exercises are {', '.join(EXERCISES)}")
    return EXERCISES[name]
