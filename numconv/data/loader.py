"""``DataLoader``: batches of a dataset, optionally shuffled, resumable.

Iterating a loader runs one epoch. With ``shuffle=True`` each epoch draws a
fresh permutation from the loader's own generator (``seed=`` or
``generator=``; otherwise one seeded from numconv's global generator the
first time it is needed), so the same seed gives the same sequence of
epochs and successive epochs differ.

For a dataset with ``get_batch(indices)`` (``TensorDataset``, ``MNIST``,
``FashionMNIST``, ``FashionMNISTSample``, and a ``Subset`` of them) a batch
is gathered with one fancy-indexing call and transformed as a whole;
otherwise the loader calls ``dataset[i]`` for each sample and stacks the
results with :func:`default_collate`.

``state_dict()`` records where the loader is: the generator's state at the
start of the current epoch and how many batches of it were delivered.
``load_state_dict()`` on a fresh loader then repeats the same permutation
and continues after those batches, so an interrupted run resumes exactly.

``num_workers=N`` loads batches on background threads (:mod:`numconv.data.workers`);
``pin_memory`` is accepted and does nothing on a CPU.
"""

from __future__ import annotations

import json
import math

import numpy as np

from .._checks import check_positive_int
from .._random import get_generator
from .workers import WorkerPool, batch_generator

__all__ = ["DataLoader", "default_collate"]


def default_collate(samples):
    """Stack a list of samples into a batch, field by field.

    Arrays are stacked along a new first axis; Python ints become an int64
    array, Python floats a float64 array, NumPy scalars keep their dtype;
    tuples and lists are collated per position (returning a tuple), dicts
    per key.

    Parameters
    ----------
    samples : list
        What ``dataset[i]`` returned for each index of the batch.
    """
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError("default_collate: samples of one batch have different numbers of fields")
        return tuple(default_collate(list(field)) for field in zip(*samples))
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, bool):
        return np.asarray(samples, dtype=bool)
    if isinstance(first, int):
        return np.asarray(samples, dtype=np.int64)
    if isinstance(first, float):
        return np.asarray(samples, dtype=np.float64)
    if isinstance(first, (np.ndarray, np.generic)):
        shapes = {np.shape(s) for s in samples}
        if len(shapes) > 1:
            raise ValueError(f"default_collate: cannot stack samples of different shapes {sorted(shapes)}")
        return np.stack(samples)
    return list(samples)


class DataLoader:
    """Iterate over ``dataset`` in batches.

    Parameters
    ----------
    dataset : Dataset
        Anything with ``len()`` and integer indexing.
    batch_size : int
        Samples per batch (the last one may be smaller unless ``drop_last``).
    shuffle : bool
        Visit the samples in a new random order every epoch.
    drop_last : bool
        Skip the last, incomplete batch.
    seed : int, optional
        Seed of the loader's own shuffling generator.
    generator : numpy.random.Generator, optional
        Use this generator for shuffling instead (not together with ``seed``).
    collate_fn : callable, optional
        Turns a list of samples into a batch; default :func:`default_collate`.
        Giving one disables the ``get_batch`` fast path.
    num_workers : int
        ``0`` loads each batch in the loop's own thread; ``N > 0`` loads
        batches on ``N`` background threads while the loop trains (see
        :mod:`numconv.data.workers`): same batches, same order.
    pin_memory : bool
        Accepted for PyTorch code; a no-op, since pinned (page-locked) memory
        only speeds up copies to a GPU and numconv runs on the CPU.
    persistent_workers : bool
        Keep the worker threads between epochs (needs ``num_workers > 0``);
        :meth:`close` ends them.
    prefetch_factor : int, optional
        Batches in flight per worker (default 2; only with ``num_workers > 0``).

    Yields
    ------
    batch : tuple
        For an image dataset ``(images, labels)``: float32 (B, C, H, W) and
        int64 (B,) with the default transform.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, generator=None,
                 collate_fn=None, num_workers=0, pin_memory=False, persistent_workers=False, prefetch_factor=None):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader: expected a dataset with __len__ and __getitem__, got {type(dataset).__name__}")
        self.dataset = dataset
        self.batch_size = check_positive_int(batch_size, "DataLoader", "batch_size")
        for name, value in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"DataLoader: expected {name} to be True or False, got {value!r}")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: give either seed or generator, not both")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: expected generator to be a numpy.random.Generator, "
                            f"got {type(generator).__name__}")
        if seed is not None:
            seed = check_positive_int(seed, "DataLoader", "seed", minimum=0)
            generator = np.random.default_rng(seed)
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: expected collate_fn to be callable, got {type(collate_fn).__name__}")
        self.collate_fn = collate_fn
        self._generator = generator
        self._init_workers(num_workers, pin_memory, persistent_workers, prefetch_factor)
        self.epoch = 0            # epochs completed
        self._active = None       # token of the iterator currently running an epoch
        self._epoch_start = None  # generator state before this epoch's permutation was drawn
        self._position = 0        # batches of the current epoch delivered so far
        self._resume_at = 0       # batches to skip at the start of the next epoch (after load_state_dict)

    @property
    def generator(self) -> np.random.Generator:
        """The shuffling generator (made from numconv's global one on first use if none was given)."""
        if self._generator is None:
            self._generator = np.random.default_rng(int(get_generator().integers(0, 2**63)))
        return self._generator

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        return self._epoch_batches()

    def _epoch_batches(self):
        n, batches = len(self.dataset), len(self)
        token = object()
        self._active = token
        if self.shuffle:
            self._epoch_start = json.dumps(self.generator.bit_generator.state)
            order = self.generator.permutation(n)
        else:
            self._epoch_start = None
            order = np.arange(n)
        start, self._resume_at = self._resume_at, 0
        self._position = start
        jobs = ((b, order[b * self.batch_size:(b + 1) * self.batch_size]) for b in range(start, batches))
        for b, batch in enumerate(self._load(jobs), start):
            if self._active is token:
                self._position = b + 1
            yield batch
        if self._active is token:
            self._active = None
            self.epoch += 1
            self._position = 0

    # ------------------------------------------------------------------ workers
    def _init_workers(self, num_workers, pin_memory, persistent_workers, prefetch_factor):
        self.num_workers = check_positive_int(num_workers, "DataLoader", "num_workers", minimum=0)
        for name, value in (("pin_memory", pin_memory), ("persistent_workers", persistent_workers)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"DataLoader: expected {name} to be True or False, got {value!r}")
        if persistent_workers and self.num_workers == 0:
            raise ValueError("DataLoader: persistent_workers=True needs num_workers > 0")
        if prefetch_factor is not None and self.num_workers == 0:
            raise ValueError(f"DataLoader: prefetch_factor={prefetch_factor!r} only applies with num_workers > 0 "
                             f"(leave it None when num_workers=0)")
        self.pin_memory = bool(pin_memory)  # nothing to pin on a CPU: kept only so PyTorch code runs unchanged
        self.persistent_workers = bool(persistent_workers)
        self.prefetch_factor = None if self.num_workers == 0 else \
            check_positive_int(2 if prefetch_factor is None else prefetch_factor, "DataLoader", "prefetch_factor")
        self._pool = None
        self._worker_seed = None  # drawn from numconv's global generator the first time workers load

    def _load(self, jobs):
        """Yield the batch of each ``(b, indices)`` job, in order, here or on the worker threads."""
        if self.num_workers == 0:
            for _, indices in jobs:
                yield self._fetch(indices)
            return
        if self._worker_seed is None:
            self._worker_seed = int(get_generator().integers(0, 2**63))
        epoch, seed = self.epoch, self._worker_seed
        pool = self._pool or WorkerPool(self.num_workers, self.prefetch_factor)
        self._pool = pool if self.persistent_workers else None
        try:
            yield from pool.run(self._fetch, jobs, lambda b: batch_generator(seed, epoch, b))
        finally:
            if not self.persistent_workers:
                pool.close()

    def close(self) -> None:
        """End the worker threads kept by ``persistent_workers=True`` (they also end with the loader)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _fetch(self, indices):
        if self.collate_fn is None and hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(indices)
        samples = [self.dataset[int(i)] for i in indices]
        return (self.collate_fn or default_collate)(samples)

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict:
        """Where the loader is: ``{"epoch", "batches_done", "generator"}`` (and ``"worker_seed"``).

        ``generator`` is a JSON string (the shuffling generator's state at the
        start of the current epoch, or now if no epoch is running; ``None``
        when unshuffled and never used), so the dict stores in ``.npz`` and
        JSON alike. ``worker_seed`` (present once worker threads have loaded
        a batch) seeds the random transforms of batches loaded on them.
        """
        if self._active is not None and self._position < len(self):
            return self._with_worker_seed({"epoch": self.epoch, "batches_done": self._position,
                                           "generator": self._epoch_start})
        # Between epochs (or every batch of this one already delivered): the next epoch starts afresh.
        finished = 1 if self._active is not None else 0
        state = None
        if self.shuffle or self._generator is not None:
            state = json.dumps(self.generator.bit_generator.state)
        return self._with_worker_seed({"epoch": self.epoch + finished, "batches_done": 0, "generator": state})

    def _with_worker_seed(self, state: dict) -> dict:
        if self._worker_seed is not None:  # only once workers have loaded, so the dict stays None-free
            state["worker_seed"] = self._worker_seed
        return state

    def load_state_dict(self, state: dict) -> None:
        """Continue from a :meth:`state_dict`: the next iteration resumes that epoch where it stopped."""
        missing = {"epoch", "batches_done", "generator"} - set(state)
        if missing:
            raise ValueError(f"DataLoader.load_state_dict: missing keys {sorted(missing)}")
        batches_done = int(state["batches_done"])
        if not 0 <= batches_done <= len(self):
            raise ValueError(f"DataLoader.load_state_dict: batches_done={batches_done} but an epoch has "
                             f"{len(self)} batches")
        generator_state = state["generator"]
        if generator_state is not None:
            if isinstance(generator_state, np.ndarray):  # a string that went through np.savez
                generator_state = generator_state.item()
            parsed = json.loads(generator_state) if isinstance(generator_state, (str, bytes)) else generator_state
            try:
                # The name comes from a file: look it up among the bit generators only, never call
                # whatever np.random attribute it happens to name.
                cls = getattr(np.random, str(parsed["bit_generator"]), None)
                if not (isinstance(cls, type) and issubclass(cls, np.random.BitGenerator)):
                    raise ValueError(f"unknown bit generator {parsed['bit_generator']!r}")
                bit_generator = cls()
                bit_generator.state = parsed
            except (AttributeError, KeyError, TypeError, ValueError) as error:
                raise ValueError(f"DataLoader.load_state_dict: not a generator state ({error})") from None
            if self._generator is not None and type(self._generator.bit_generator) is type(bit_generator):
                self._generator.bit_generator.state = bit_generator.state  # keep a caller's generator in step
            else:
                self._generator = np.random.Generator(bit_generator)
        worker_seed = state.get("worker_seed")  # absent from states saved before workers existed
        if isinstance(worker_seed, np.ndarray):
            worker_seed = worker_seed.item()
        self._worker_seed = None if worker_seed is None else int(worker_seed)
        self.epoch = int(state["epoch"])
        self._resume_at = batches_done
        self._active = None
        self._position = 0
