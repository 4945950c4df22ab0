"""softmax_cross_entropy_backward: softmax normalised over the batch (axis 0) instead of the classes."""

import numpy as np

HINT = 'the softmax is taken over the wrong axis'


def softmax_cross_entropy_backward(logits, labels):
    n = logits.shape[0]
    exp = np.exp(logits - logits.max(axis=0, keepdims=True))
    probs = exp / exp.sum(axis=0, keepdims=True)
    probs[np.arange(n), labels] -= 1
    return probs / n
