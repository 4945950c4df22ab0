"""softmax_cross_entropy_backward: softmax without subtracting the maximum: np.exp overflows for large logits."""

import numpy as np

HINT = "subtract each row's maximum from the logits"


def softmax_cross_entropy_backward(logits, labels):
    n = logits.shape[0]
    exp = np.exp(logits)
    probs = exp / exp.sum(axis=1, keepdims=True)
    probs[np.arange(n), labels] -= 1
    return probs / n
