"""``predictions.npz``: what the trained model says about every test image, kept for the report page.

``numconv train`` writes it next to its checkpoints after the last epoch (one
more pass over the test set in eval mode). The report reads it instead of
loading the data set again, so a run folder can be reported on anywhere.

Keys (all plain arrays; no pickled objects):

- ``labels``: int64 (N,), the true classes;
- ``probs``: float32 (N, K), the softmax of the logits;
- ``worst_index``: int64 (k,), the misclassified test images the model was
  most sure about, most confident first;
- ``worst_images``: float32 (k, C, H, W), those images as the model saw them;
- ``example_image``: float32 (C, H, W), the first test image (for the feature maps).
"""

from __future__ import annotations

import io
import os

import numpy as np

from ..._state import no_grad
from ...data._files import atomic_write

__all__ = ["predict_dataset", "save_predictions", "load_predictions", "worst_misclassified", "FILENAME"]

FILENAME = "predictions.npz"
_KEYS = ("labels", "probs", "worst_index", "worst_images", "example_image")


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def predict_dataset(model, loader):
    """Labels and class probabilities of every sample of ``loader``, in eval mode.

    Returns
    -------
    labels : ndarray, int64, shape (N,)
    probs : ndarray, float32, shape (N, K)
    """
    was_training = model.training
    model.eval()
    labels, probs = [], []
    try:
        with no_grad():
            for x, y in loader:
                probs.append(_softmax(np.asarray(model(x))))
                labels.append(np.asarray(y, dtype=np.int64))
    finally:
        model.train(was_training)
    if not labels:
        raise ValueError("predict_dataset: the loader yielded no samples")
    return np.concatenate(labels), np.concatenate(probs)


def worst_misclassified(labels: np.ndarray, probs: np.ndarray, count: int = 16) -> np.ndarray:
    """Indices of the wrong predictions made with the highest probability, most confident first.

    Parameters
    ----------
    labels : ndarray, shape (N,)
    probs : ndarray, shape (N, K)
    count : int

    Returns
    -------
    ndarray, int64, shape (min(count, wrong),)
    """
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probs[wrong, predicted[wrong]]
    order = np.argsort(-confidence, kind="stable")[:count]
    return wrong[order].astype(np.int64)


def save_predictions(out_dir, model, loader, dataset, count: int = 16) -> str:
    """Write ``out_dir/predictions.npz`` for ``model`` on ``loader`` (the unshuffled test set ``dataset``).

    Returns
    -------
    str
        The path written.
    """
    labels, probs = predict_dataset(model, loader)
    worst = worst_misclassified(labels, probs, count)
    example = np.asarray(dataset[0][0], dtype=np.float32)
    images = np.stack([np.asarray(dataset[int(i)][0], dtype=np.float32) for i in worst]) if len(worst) \
        else np.zeros((0, *example.shape), np.float32)
    arrays = dict(labels=labels, probs=probs, worst_index=worst, worst_images=images, example_image=example)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path = os.path.join(os.fspath(out_dir), FILENAME)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))
    return path


def load_predictions(run_dir) -> dict | None:
    """The arrays of ``run_dir/predictions.npz``, or None if the run has none.

    Raises
    ------
    ValueError
        The file exists but is not what :func:`save_predictions` writes.
    """
    path = os.path.join(os.fspath(run_dir), FILENAME)
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            # save_predictions stores its entries uncompressed: entries that would inflate beyond the file's
            # own size are not its (a small file could otherwise unpack to gigabytes).
            declared = sum(info.file_size for info in data.zip.infolist())
            if declared > os.path.getsize(path):
                raise ValueError(f"its entries would inflate to {declared:,} bytes, more than the file holds")
            arrays = {key: data[key] for key in _KEYS}
    except Exception as error:  # noqa: BLE001 - truncation and bit flips surface as many exception types
        detail = (str(error).strip().splitlines() or [""])[0]
        raise ValueError(f"'{path}' is not a numconv predictions file, or is truncated or corrupt "
                         f"({type(error).__name__}: {detail})") from None
    n = len(arrays["labels"])
    if arrays["probs"].ndim != 2 or arrays["probs"].shape[0] != n:
        raise ValueError(f"'{path}': probs has shape {arrays['probs'].shape} for {n} labels")
    worst = arrays["worst_index"]
    if worst.ndim != 1 or worst.dtype.kind not in "iu" or (worst.size and not 0 <= worst.min() <= worst.max() < n):
        raise ValueError(f"'{path}': worst_index must list test images 0 to {n - 1}")
    return arrays
