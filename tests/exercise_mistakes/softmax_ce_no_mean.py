"""softmax_cross_entropy_backward: dlogits of the summed loss, not the mean."""

import numpy as np

HINT = 'forget to divide by the batch size'


def softmax_cross_entropy_backward(logits, labels):
    n = logits.shape[0]
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = exp / exp.sum(axis=1, keepdims=True)
    probs[np.arange(n), labels] -= 1
    return probs
