"""Gradient-check exercises: write a layer's forward or backward pass by hand, then check it.

The skeletons are installed with the package, in
``numconv/exercises/skeletons/`` (one file per exercise, with the task, the
shapes and hints); ``numconv exercises copy DIR`` (or ``copy_skeletons``) puts
copies where a learner can edit them. ``check`` runs a solution on many cases
against numconv's own ops and explains what is wrong::

    from numconv.exercises import check
    check(conv2d_backward, "conv2d_backward")    # prints a report, returns a CheckResult

or, from the shell, ``numconv check-exercise DIR/conv_backward.py``.

=================================  ====================================================================
exercise                           signature
=================================  ====================================================================
``conv2d_forward``                 ``conv2d_forward(x, w, b, stride, padding) -> out``
``conv2d_backward``                ``conv2d_backward(dout, x, w, b, stride, padding) -> (dx, dw, db)``
``maxpool2d_backward``             ``maxpool2d_backward(dout, x, kernel_size, stride) -> dx``
``batchnorm_backward``             ``batchnorm_backward(dout, x, gamma, beta, eps) -> (dx, dgamma, dbeta)``
``softmax_cross_entropy_backward`` ``softmax_cross_entropy_backward(logits, labels) -> dlogits``
``im2col``                         ``im2col(x, kernel_h, kernel_w, stride, padding) -> cols``
=================================  ====================================================================

Worked solutions are in ``numconv.exercises.solutions`` (read them after trying).
"""

from ._copy import SKELETONS, copy_skeletons, skeleton_path
from .cases import EXERCISES, SETTINGS, Exercise, Setting, get_exercise
from .check import RTOL, CheckResult, check

__all__ = ["check", "CheckResult", "EXERCISES", "Exercise", "get_exercise", "RTOL", "SETTINGS", "Setting",
           "SKELETONS", "copy_skeletons", "skeleton_path"]
