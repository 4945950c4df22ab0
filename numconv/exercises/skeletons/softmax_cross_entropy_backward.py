"""Exercise: the gradient of the softmax cross-entropy loss.

Task
----
For a batch of ``N`` rows of scores (logits) over ``K`` classes and the
correct class of each row, the loss is the mean negative log-probability of
the correct class::

    p[i] = softmax(logits[i]) = exp(logits[i]) / sum(exp(logits[i]))
    L    = mean over i of -log(p[i, labels[i]])

Write ``softmax_cross_entropy_backward(logits, labels) -> dlogits``, the
gradient ``dL / dlogits``. The result is famously simple:
``(p - one_hot(labels)) / N``.

Shapes
------
logits  : (N, K) floats
labels  : (N,) ints in [0, K)
dlogits : (N, K)
"""

import numpy as np


def softmax_cross_entropy_backward(logits, labels):
    """dL/dlogits (N, K) of the mean softmax cross-entropy."""
    # TODO 1: the softmax of each row. np.exp(1000.0) is inf: subtract each row's maximum first
    #         (logits - logits.max(axis=1, keepdims=True)); the softmax does not change.
    # TODO 2: subtract 1 at each row's correct class: p[np.arange(N), labels] -= 1 (on a copy).
    # TODO 3: divide by N, once: L is a mean over the batch.
    raise NotImplementedError("softmax_cross_entropy_backward: fill in the TODOs")
