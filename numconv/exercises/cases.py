"""The exercises, by name: signatures, test cases, reference answers and common mistakes.

Each family lives in its own module (``_conv``, ``_pool``, ``_norm_loss``,
...); what an exercise holds is described in ``_base.Exercise``.
``numconv.exercises.check`` runs the cases and uses the mistake candidates to
say what went wrong.

An exercise is four pieces, each written once:

- its record, in its family's module, made by ``_base.exercise`` from the
  signature (which gives the name, the arguments and the outputs) or by the
  family's maker (``_conv_exercise``, ``_pool_exercise``, ...), which adds
  what the family shares (the cases, how a case shrinks, the settings); it is
  listed in ``EXERCISES`` below;
- its skeleton source, ``skeletons/<file>.py``: the docstring (title, Task,
  Shapes) and the function with its ``TODO`` hints. The "Check it" lines and
  the ``__main__`` block are the same in every skeleton and are added by
  ``_copy.skeleton_text`` when the learner's file is written;
- its worked solution, in ``solutions/``;
- a wrong solution for each classic slip, in ``tests/exercise_mistakes/``,
  with the hint the checker must give it.
"""

from __future__ import annotations

from ._base import SETTINGS, Exercise, Setting
from ._conv import COL2IM, CONV2D_BACKWARD, CONV2D_FORWARD, IM2COL
from ._dense import DROPOUT_BACKWARD, LINEAR_BACKWARD, RELU_BACKWARD
from ._module import TRAIN_FORWARD_ONLY
from ._norm_loss import BATCHNORM_BACKWARD, SOFTMAX_CROSS_ENTROPY_BACKWARD
from ._optim import ADAM_STEP, SGD_MOMENTUM_STEP
from ._pool import AVGPOOL2D_BACKWARD, MAXPOOL2D_BACKWARD

__all__ = ["Exercise", "Setting", "SETTINGS", "EXERCISES", "get_exercise"]

# In a reasonable order to work through: the convolution first, then the other layers, then the optimisers.
EXERCISES = {ex.name: ex for ex in (
    CONV2D_FORWARD, CONV2D_BACKWARD, LINEAR_BACKWARD, RELU_BACKWARD, DROPOUT_BACKWARD, MAXPOOL2D_BACKWARD,
    AVGPOOL2D_BACKWARD, BATCHNORM_BACKWARD, SOFTMAX_CROSS_ENTROPY_BACKWARD, IM2COL, COL2IM, SGD_MOMENTUM_STEP,
    ADAM_STEP, TRAIN_FORWARD_ONLY,
)}


def get_exercise(name: str) -> Exercise:
    """The exercise called ``name``; a ``ValueError`` lists the names if there is none."""
    if name not in EXERCISES:
        raise ValueError(f"no exercise named {name!r}; the exercises are {', '.join(EXERCISES)}")
    return EXERCISES[name]
