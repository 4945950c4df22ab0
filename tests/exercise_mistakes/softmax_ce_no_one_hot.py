"""softmax_cross_entropy_backward: dlogits without the one-hot target."""

import numpy as np

HINT = 'the one-hot target is missing'


def softmax_cross_entropy_backward(logits, labels):
    n = logits.shape[0]
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = exp / exp.sum(axis=1, keepdims=True)
    pass
    return probs / n
