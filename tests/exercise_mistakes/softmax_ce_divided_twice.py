"""softmax_cross_entropy_backward: dlogits divided by the batch size twice."""

import numpy as np

HINT = 'divide by the batch size twice'


def softmax_cross_entropy_backward(logits, labels):
    n = logits.shape[0]
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = exp / exp.sum(axis=1, keepdims=True)
    probs[np.arange(n), labels] -= 1
    return probs / n / n
