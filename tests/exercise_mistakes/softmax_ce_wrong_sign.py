"""softmax_cross_entropy_backward: dlogits = (one_hot - softmax) / N: the sign flipped."""

import numpy as np

HINT = 'wrong sign'


def softmax_cross_entropy_backward(logits, labels):
    n = logits.shape[0]
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = exp / exp.sum(axis=1, keepdims=True)
    probs[np.arange(n), labels] -= 1
    return -probs / n
