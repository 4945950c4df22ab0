"""Solution: the gradient of the softmax cross-entropy loss."""

import numpy as np


def softmax_cross_entropy_backward(logits, labels):
    """Gradient of ``L = mean over i of -log(softmax(logits[i])[labels[i]])``.

    Parameters
    ----------
    logits : ndarray, shape (N, K)
    labels : ndarray of int, shape (N,)

    Returns
    -------
    dlogits : ndarray, shape (N, K)
    """
    n_samples = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)  # exp never overflows
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    dlogits = probs.copy()
    dlogits[np.arange(n_samples), labels] -= 1.0
    return dlogits / n_samples  # the mean over the batch, divided once
