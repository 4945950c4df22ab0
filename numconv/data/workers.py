"""Background loading for ``DataLoader(num_workers=N)``: batches fetched on worker threads, delivered in order.

Why threads and not processes: numconv's datasets are NumPy arrays in
memory and their transforms are whole-batch NumPy calls, which release the
GIL for their inner loops, so threads overlap loading with training without
copying the dataset into every worker or pickling anything (numconv never
pickles). A dataset whose ``__getitem__`` is pure Python gains less, as
with any thread pool.

The main thread decides which indices make batch ``b`` (the same
permutation as ``num_workers=0``) and keeps up to
``num_workers * prefetch_factor`` batches in flight; batches are handed out
strictly in order, so with a deterministic dataset the batches are
bit-identical to the single-threaded loader.

Random transforms that draw from numconv's global generator would, on
threads, draw in whatever order the threads happen to run. Instead, in a
worker each batch draws from its own generator, seeded by
``(worker_seed, epoch, batch index)`` (``worker_seed`` is drawn once from
numconv's global generator and kept in the loader's ``state_dict``): the
augmentation is repeatable and independent of thread timing and of ``N``,
but it is not the same draw as ``num_workers=0`` (as in PyTorch, where
every worker process is seeded afresh).

An exception in a worker is re-raised in the main thread, with the worker's
traceback and a note naming the batch. Leaving the loop early (``break``,
Ctrl-C, an error, closing the iterator) cancels the batches not yet
started and waits for the running ones, so no thread outlives the epoch
(or, with ``persistent_workers=True``, the loader).
"""

from __future__ import annotations

import collections
import contextlib
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._random import using_generator

__all__ = ["WorkerPool", "batch_generator"]


def batch_generator(worker_seed: int, epoch: int, batch: int) -> np.random.Generator:
    """The generator batch ``batch`` of epoch ``epoch`` draws its random transforms from in a worker."""
    return np.random.default_rng([worker_seed, epoch, batch])


class WorkerPool:
    """``num_workers`` threads that run ``fetch(indices)``; :meth:`run` yields the results in order.

    Parameters
    ----------
    num_workers : int
    prefetch_factor : int
        Batches in flight per worker.
    """

    def __init__(self, num_workers: int, prefetch_factor: int):
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self._executor = ThreadPoolExecutor(max_workers=num_workers, thread_name_prefix="numconv-loader")
        # Shut the threads down when the pool is dropped, even without an explicit close().
        self._finalizer = weakref.finalize(self, self._executor.shutdown, wait=False, cancel_futures=True)

    def close(self) -> None:
        """Cancel what has not started, wait for what runs, and end the threads."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._finalizer.detach()

    def run(self, fetch, jobs, seeds):
        """Yield ``fetch(indices)`` for each ``(batch, indices)`` of ``jobs``, in order.

        ``seeds(batch)`` gives the generator that batch's random transforms
        use. Pending work is cancelled if the consumer stops early.
        """
        jobs = iter(jobs)
        pending = collections.deque()
        try:
            self._submit(fetch, jobs, seeds, pending, self.num_workers * self.prefetch_factor)
            while pending:
                batch, future = pending.popleft()
                self._submit(fetch, jobs, seeds, pending, 1)
                yield _result(future, batch)
        finally:
            for _, future in pending:
                future.cancel()
            for _, future in pending:  # wait for the ones already running: no thread outlives the loop
                if not future.cancelled():
                    with contextlib.suppress(BaseException):
                        future.exception()

    def _submit(self, fetch, jobs, seeds, pending, count):
        for batch, indices in _take(jobs, count):
            pending.append((batch, self._executor.submit(_fetch_seeded, fetch, indices, seeds(batch))))


def _take(iterator, count):
    for _ in range(count):
        item = next(iterator, None)
        if item is None:
            return
        yield item


def _fetch_seeded(fetch, indices, generator):
    with using_generator(generator):
        return fetch(indices)


def _result(future, batch: int):
    try:
        return future.result()
    except Exception as error:
        if hasattr(error, "add_note"):  # Python 3.11+: the traceback above is the worker's
            error.add_note(f"(raised in a DataLoader worker thread while loading batch {batch})")
        raise
