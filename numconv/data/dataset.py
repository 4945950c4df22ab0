"""Generic datasets: the protocol, ``TensorDataset``, ``Subset``, ``random_split``.

A dataset is anything with ``len(ds)`` and ``ds[i]`` returning one sample
(usually an ``(image, label)`` pair), as in PyTorch. A dataset whose samples
live in memory as arrays may also offer ``ds.get_batch(indices)``, returning
the already-stacked batch (one array per field) in a few vectorised NumPy
calls; :class:`~numconv.data.DataLoader` uses it when present, which is what
makes an epoch over 60,000 images cost milliseconds of Python rather than
seconds.
"""

from __future__ import annotations

import numpy as np

from .._random import get_generator

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split"]


class Dataset:
    """Base class for map-style datasets (``__len__`` and ``__getitem__``)."""

    def __len__(self):
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError


def _check_index(index, length: int, where: str) -> int:
    """A Python/NumPy int in ``[-length, length)`` -> the non-negative index."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"{where}: expected an integer index, got {type(index).__name__}")
    if not -length <= index < length:
        raise IndexError(f"{where}: index {index} is out of range for a dataset of {length} samples")
    return int(index) % length


def _as_indices(indices, length: int, where: str) -> np.ndarray:
    indices = np.asarray(indices)
    if indices.ndim != 1 or (indices.size and not np.issubdtype(indices.dtype, np.integer)):
        raise TypeError(f"{where}: expected a 1-D sequence of integer indices, got {indices.dtype} {indices.shape}")
    indices = indices.astype(np.intp, copy=False)
    if indices.size and (indices.min() < -length or indices.max() >= length):
        raise IndexError(f"{where}: indices out of range for a dataset of {length} samples")
    return indices


class TensorDataset(Dataset):
    """Samples are the rows of one or more arrays of equal length.

    Parameters
    ----------
    *arrays : array_like, each shape (N, ...)
        E.g. images (N, C, H, W) and labels (N,).

    ``ds[i]`` is the tuple ``(arrays[0][i], arrays[1][i], ...)``.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array")
        converted = []
        for a in arrays:
            a = np.asarray(a)
            if a.dtype == object or a.ndim == 0:
                raise TypeError(f"TensorDataset: expected numeric arrays with a first axis, got {a.dtype} {a.shape}")
            converted.append(a)
        lengths = [len(a) for a in converted]
        if len(set(lengths)) != 1:
            shapes = ", ".join(str(tuple(a.shape)) for a in converted)
            raise ValueError(f"TensorDataset: every array needs the same first size, got shapes {shapes}")
        self.arrays = tuple(converted)

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        index = _check_index(index, len(self), "TensorDataset")
        return tuple(a[index] for a in self.arrays)

    def get_batch(self, indices):
        """The rows ``indices`` of every array: a tuple of arrays of shape (len(indices), ...)."""
        indices = _as_indices(indices, len(self), "TensorDataset")
        return tuple(a[indices] for a in self.arrays)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (in that order).

    Parameters
    ----------
    dataset : Dataset
    indices : sequence of int
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = _as_indices(indices, len(dataset), "Subset")

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[_check_index(index, len(self), "Subset")])]

    def __getattr__(self, name):
        # get_batch exists exactly when the wrapped dataset has it
        if name == "get_batch" and hasattr(self.__dict__.get("dataset"), "get_batch"):
            return self._get_batch
        raise AttributeError(f"'Subset' object has no attribute '{name}'")

    def _get_batch(self, indices):
        return self.dataset.get_batch(self.indices[_as_indices(indices, len(self), "Subset")])


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random :class:`Subset` s.

    Parameters
    ----------
    dataset : Dataset
    lengths : sequence of int or of float
        Sizes summing to ``len(dataset)``, or fractions summing to 1 (the
        sizes are floored and the remainder handed out one by one from the
        first subset on, as in PyTorch).
    generator : numpy.random.Generator, optional
        Default: numconv's global generator.

    Returns
    -------
    list of Subset
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(v, float) for v in lengths) and abs(sum(lengths) - 1) < 1e-9:
        if any(not 0 <= v <= 1 for v in lengths):
            raise ValueError(f"random_split: fractions must be between 0 and 1, got {lengths}")
        sizes = [int(np.floor(n * v)) for v in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    elif all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in lengths):
        sizes = [int(v) for v in lengths]
        if sum(sizes) != n:
            raise ValueError(f"random_split: lengths {sizes} sum to {sum(sizes)}, but the dataset has {n} samples")
    else:
        raise ValueError(f"random_split: expected non-negative ints summing to {n} or fractions summing to 1, "
                         f"got {lengths}")
    gen = generator if generator is not None else get_generator()
    order = gen.permutation(n)
    bounds = np.cumsum([0] + sizes)
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
