"""Gradient-check exercises: write a layer's forward or backward pass by hand, then check it.

The skeletons are installed with the package, in
``numconv/exercises/skeletons/`` (one file per exercise, with the task, the
shapes and hints); ``numconv exercises copy DIR`` (or ``copy_skeletons``)
writes the learner's files where they can be edited, each ending with how to
check it (``skeleton_text``). ``check`` runs a solution on many cases
against numconv's own ops and explains what is wrong::

    from numconv.exercises import check
    check(conv2d_backward, "conv2d_backward")    # prints a report, returns a CheckResult

or, from the shell, ``numconv check-exercise DIR/conv_backward.py``.

``EXERCISES`` holds them by name, in a reasonable order to work through
(``numconv exercises list`` prints each with its signature): the
convolution forward with loops and its backward, the Linear, ReLU,
dropout, max-pool, average-pool, batch-norm and softmax cross-entropy
backward passes, im2col and col2im, one step of SGD with momentum and of
Adam, and a residual network written with only ``forward`` and trained.

Worked solutions are in ``numconv.exercises.solutions`` (read them after trying).
"""

from ._copy import SKELETONS, copy_skeletons, skeleton_path, skeleton_text
from .cases import EXERCISES, SETTINGS, Exercise, Setting, get_exercise
from .check import RTOL, CheckResult, check

__all__ = ["check", "CheckResult", "EXERCISES", "Exercise", "get_exercise", "RTOL", "SETTINGS", "Setting",
           "SKELETONS", "copy_skeletons", "skeleton_path", "skeleton_text"]
