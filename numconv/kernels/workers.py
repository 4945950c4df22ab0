"""Batch-split workers, the BLAS thread policy, reusable workspaces and the memory bound.

The fast convolution algorithms (``numconv.functional.fast.winograd``,
``numconv.functional.fast.rowslab``) split the batch into contiguous parts and
run each part on its own Python thread; this module holds what makes that
safe and fast.

Threading policy
----------------
Made for small machines (2 cores), where oversubscription is the main danger:

- numba kernels are single-threaded (no ``prange``, so numba's own thread
  pool never starts) and compiled ``nogil=True`` (see ``_jit``);
  ``np.matmul`` releases the GIL too. So plain Python threads run kernels
  and matrix products truly in parallel.
- ``run_parts`` runs part 0 on the calling thread and the others on a small
  persistent pool. While they run, OpenBLAS (or whatever BLAS NumPy uses) is
  limited to **one** thread and restored afterwards, so the workers never
  compete with BLAS's own threads: a convolution uses exactly
  ``num_workers()`` threads. (Measured on a busy 2-core machine: the
  matrix products of a W4 Winograd backward took 0.07 s with one BLAS thread
  and 1-17 s with OpenBLAS's two, whose spinning threads were descheduled;
  a W3 forward+backward took 70 ms on two workers and 400 ms on one worker
  with two BLAS threads.)
  The switch goes through ``threadpoolctl``, which knows every BLAS NumPy may
  be built with (the OpenBLAS in NumPy's wheels exports renamed symbols such
  as ``scipy_openblas_set_num_threads64_``; conda's NumPy uses MKL; macOS
  Accelerate) and costs under a microsecond once the library is located; a
  hand-written ``ctypes`` call would have to chase those names.
- Outside ``run_parts`` nothing is changed: a plain matrix product elsewhere
  keeps BLAS's own threads.
- Deterministic: which samples a part covers depends only on the batch size,
  the number of workers and the chunk size, never on timing, and partial
  sums (weight gradients) are added in part order. The same call gives the
  same bits every run. (Changing the number of workers or the workspace
  limit changes the order of the weight-gradient sum and the sizes of the
  matrix products, whose BLAS kernels may then round differently, so the
  last bits of any result, the input gradient too, may change with them.)

The number of workers is ``$NUMCONV_NUM_THREADS`` (default: 2, at most the
number of CPUs); ``set_num_workers(1)`` or ``NUMCONV_NUM_THREADS=1`` turns the
workers off (everything on the calling thread, BLAS on one thread). Without
``threadpoolctl`` installed the workers stay off and BLAS is left alone.

Workspaces
----------
``workspace(name, shape, dtype)`` returns scratch memory owned by the calling
thread, reused from call to call (a fresh buffer every call costs page
faults: a first touch of every 4 KiB page). The buffers are allocated by
NumPy (numba's allocator misses transparent huge pages) and grow to the
largest size asked for; ``clear_workspaces()`` frees them. A workspace is
scratch for one call only: nothing that outlives the call (an output, a
backward cache) may point into it.

Memory bound
------------
``workspace_limit()`` (``set_workspace_limit``, ``$NUMCONV_CONV_WORKSPACE_MB``,
default 256 MiB) bounds a convolution's scratch, all workers together;
``chunk_ranges`` splits a worker's samples into chunks that fit, and
``chunk_budget`` sizes those chunks: each algorithm's cache-sized target,
within the worker's share of the limit.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading

import numpy as np

__all__ = [
    "num_workers", "set_num_workers", "split_range", "batch_parts", "run_parts", "workspace", "workspace_bytes",
    "clear_workspaces", "Scratch", "blas_threads_limited", "blas_threads_for", "workspace_limit", "set_workspace_limit",
    "chunk_ranges", "chunk_budget",
]

_ENV = "NUMCONV_NUM_THREADS"


def _from_environment(name: str, parse, default, expected: str):
    """``parse($name)``, or ``default`` when it is unset or blank; a ValueError names what was ``expected``."""
    text = os.environ.get(name, "").strip()
    try:
        return parse(text) if text else default
    except ValueError:
        raise ValueError(f"{name} must be {expected}, got {text!r}") from None


class _Setting:
    """A positive integer setting: from the environment on first use (``default()``), or set by hand.

    Resolved on first use, not at import, so a bad environment variable fails
    at a convolution, not at ``import numconv``.
    """

    def __init__(self, default, setter: str, expected: str):
        self._default, self._setter, self._expected = default, setter, expected
        self._value: int | None = None

    def get(self) -> int:
        if self._value is None:
            self._value = self._default()
        return self._value

    def set(self, value) -> None:
        """``value`` (a positive integer), or None to go back to the environment's value."""
        if value is None:
            self._value = self._default()
        elif isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{self._setter}: expected {self._expected} or None, got {value!r}")
        else:
            self._value = int(value)


def _default_workers() -> int:
    """Workers from ``$NUMCONV_NUM_THREADS`` (default 2), capped by the CPUs there are."""
    wanted = _from_environment(_ENV, int, 2, "a positive integer")
    return max(1, min(wanted, os.cpu_count() or 1))


_workers = _Setting(_default_workers, "set_num_workers", "a positive integer")
_pool = None  # a concurrent.futures.ThreadPoolExecutor, made on first use
_pool_lock = threading.Lock()
_blas = None  # the threadpoolctl controllers of NumPy's BLAS, or () when threadpoolctl is missing


def num_workers() -> int:
    """How many parts a batch is split into (1: workers off)."""
    return _workers.get()


def set_num_workers(n: int | None) -> None:
    """Set the number of batch-split workers; ``None`` goes back to ``$NUMCONV_NUM_THREADS`` (default 2)."""
    _workers.set(n)


def split_range(n: int, parts: int) -> list[tuple[int, int]]:
    """Split ``range(n)`` into at most ``parts`` contiguous, non-empty ``(start, stop)`` ranges.

    The first ranges get the extra element when ``n`` does not divide evenly.

    >>> split_range(5, 2)
    [(0, 3), (3, 5)]
    """
    parts = max(1, min(parts, n))
    sizes = [n // parts + (1 if i < n % parts else 0) for i in range(parts)]
    starts = np.cumsum([0, *sizes]).tolist()
    return [(starts[i], starts[i + 1]) for i in range(parts)]


# Handing half a batch to a pool thread and waiting for it costs ~40 us; below this much work
# (~0.05 ms on one core) the call runs on the calling thread alone.
_MIN_PARALLEL_FLOPS = 4e6


def batch_parts(n: int, flops: float) -> list[tuple[int, int]]:
    """How to split a batch of ``n`` for a call doing ``flops`` floating-point operations.

    One part per worker, or a single part when the call is too small for
    threads to pay (gradient checks, tiny layers).
    """
    parts = num_workers()  # (first, so that a bad $NUMCONV_NUM_THREADS is reported whatever the size)
    return split_range(n, parts if flops >= _MIN_PARALLEL_FLOPS else 1)


def _blas_controllers():
    """threadpoolctl's controllers for the BLAS libraries loaded in this process (found once)."""
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            _blas = ()
        else:
            _blas = tuple(lc for lc in ThreadpoolController().lib_controllers if lc.user_api == "blas")
    return _blas


class blas_threads_limited:
    """Context manager: BLAS runs on ``threads`` threads inside the block, as before after it.

    Safe when several threads enter at once (two user threads each running a
    convolution): the first to enter saves the BLAS setting, the last to
    leave restores it.
    """

    _lock = threading.Lock()
    _depth = 0
    _saved: list = []

    def __init__(self, threads: int = 1):
        self.threads = threads

    def __enter__(self):
        cls = type(self)
        with cls._lock:
            if cls._depth == 0:
                cls._saved = [(controller, controller.get_num_threads()) for controller in _blas_controllers()]
                for controller, _ in cls._saved:
                    controller.set_num_threads(self.threads)
            cls._depth += 1
        return self

    def __exit__(self, *exc):
        cls = type(self)
        with cls._lock:
            cls._depth -= 1
            if cls._depth == 0:
                for controller, threads in cls._saved:
                    controller.set_num_threads(threads)
                cls._saved = []
        return False


# Matrix products below this many flops (about a millisecond on one core) run with BLAS on one thread.
_SMALL_PRODUCT_FLOPS = 2**27


def blas_threads_for(flops: float):
    """Context manager for one matrix product of ``flops``: BLAS on one thread if it is small.

    A second BLAS thread saves little on a small product, and costs a core
    afterwards: OpenBLAS's idle threads spin, waiting for the next product,
    for a while after each one. In a LeNet-5 training step the two-thread
    products of its small layers (C5 and the two Linear layers) left a
    spinning thread that the convolution workers of the next layer then
    shared a core with: the step took 12.7 ms at batch 64 and 45.7 ms at
    batch 256, against 10.1 and 31.1 ms with all of them on one thread.
    Large products keep BLAS's own threads.
    """
    if flops < _SMALL_PRODUCT_FLOPS:
        return blas_threads_limited(1)
    return contextlib.nullcontext()


def _get_pool(size: int):
    """The persistent pool of ``size`` (or more) worker threads."""
    global _pool
    from concurrent.futures import ThreadPoolExecutor  # here, not at import: keeps ``import numconv`` fast

    with _pool_lock:
        if _pool is None or _pool._max_workers < size:
            if _pool is not None:
                _pool.shutdown(wait=True)
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="numconv-worker")
        return _pool


def run_parts(fn, parts: list[tuple[int, int]]) -> list:
    """Run ``fn(start, stop)`` for every part, in parallel, and return the results in part order.

    Part 0 runs on the calling thread, the others on the worker pool, with
    BLAS limited to one thread meanwhile (a single part too: the workers are
    the only parallelism inside a convolution). An exception in any part is
    raised here (after all parts have finished, so no worker is left writing
    into the caller's arrays).
    """
    if len(parts) == 1 or not _blas_controllers():
        with blas_threads_limited(1):
            return [fn(start, stop) for start, stop in parts]
    from concurrent.futures import wait

    pool = _get_pool(len(parts) - 1)
    with blas_threads_limited(1):
        futures = [pool.submit(fn, start, stop) for start, stop in parts[1:]]
        try:
            first = fn(*parts[0])
        finally:
            wait(futures)  # even on an error: no worker may still be writing when we return
        return [first, *(future.result() for future in futures)]


# ---------------------------------------------------------------------------------------------- workspaces
_local = threading.local()
_every_thread_buffers: list[dict] = []  # each thread's {name: buffer}, so clear_workspaces reaches them all
_ALIGN = 64  # bytes: a cache line, and what AVX-512 loads like


def workspace(name: str, shape: tuple, dtype) -> np.ndarray:
    """Scratch array of ``shape`` and ``dtype`` owned by the calling thread, reused across calls.

    Two different ``name``s never share memory, so one call can hold several
    workspaces at once. The contents are whatever the last user left: the
    caller must overwrite (or zero) what it reads. Valid until the same
    thread asks for the same ``name`` again.
    """
    # (Called for every chunk of every convolution, so kept to plain Python arithmetic: with np.prod
    # and ndarray.ctypes on every call it took 7.5 us, now 3.)
    dtype = np.dtype(dtype)
    nbytes = int(math.prod(shape)) * dtype.itemsize
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
        with _pool_lock:
            _every_thread_buffers.append(buffers)
    raw = buffers.get(name)
    if raw is None or raw.size < nbytes:
        buffers.pop(name, None)  # free the old buffer before allocating the larger one
        raw = np.empty(nbytes + _ALIGN, dtype=np.uint8)
        start = (-raw.ctypes.data) % _ALIGN
        raw = buffers[name] = raw[start:]  # aligned once, here
    return raw[:nbytes].view(dtype).reshape(shape)


class Scratch:
    """A worker's scratch arrays for one call: taken once, at the largest chunk's size, then cut per chunk.

    A ``workspace`` call costs about 4 us; asking for each array of each chunk cost a tenth of a
    convolution's time when the chunks are cache-sized (a few samples). ``get`` is a slice and a reshape.

    Examples
    --------
    >>> space = Scratch("conv", np.float32, tiles=16 * 100)   # elements, not bytes
    >>> space.get("tiles", (16, 10, 10)).shape
    (16, 10, 10)
    """

    def __init__(self, prefix: str, dtype, **sizes: int):
        self._flat = {name: workspace(f"{prefix}.{name}", (size,), dtype) for name, size in sizes.items()}

    def get(self, name: str, shape: tuple) -> np.ndarray:
        """Scratch ``name`` as a C-contiguous array of ``shape`` (at most the size given when made)."""
        return self._flat[name][:math.prod(shape)].reshape(shape)


def workspace_bytes() -> int:
    """Bytes held in workspaces by every thread."""
    with _pool_lock:
        return sum(raw.size for buffers in _every_thread_buffers for raw in list(buffers.values()))


def clear_workspaces() -> None:
    """Free every thread's workspaces. Call it between convolutions, never during one."""
    with _pool_lock:
        for buffers in _every_thread_buffers:
            buffers.clear()


# ---------------------------------------------------------------------------------------------- the memory bound
_LIMIT_ENV = "NUMCONV_CONV_WORKSPACE_MB"


def _default_limit() -> int:
    megabytes = _from_environment(_LIMIT_ENV, float, 256.0, "a number of megabytes")
    if megabytes <= 0:
        raise ValueError(f"{_LIMIT_ENV} must be positive, got {os.environ[_LIMIT_ENV].strip()!r}")
    return int(megabytes * 2**20)


_limit = _Setting(_default_limit, "set_workspace_limit", "a positive number of bytes")


def workspace_limit() -> int:
    """Most bytes a convolution may use for scratch (columns, tiles), all workers together."""
    return _limit.get()


def set_workspace_limit(nbytes: int | None) -> None:
    """Bound a convolution's scratch memory to ``nbytes`` (None: ``$NUMCONV_CONV_WORKSPACE_MB``, default 256 MiB).

    A convolution whose column matrix or tile buffers would be larger runs
    in pieces that fit: chunks of the batch, and for im2col also groups and
    blocks of output rows of one sample (``numconv.functional.tiling``).
    """
    _limit.set(nbytes)


def chunk_budget(target: int, buffers: int = 1) -> int:
    """Bytes of scratch per chunk (per buffer): ``target``, at most a worker's share of the workspace limit.

    ``target`` is the algorithm's cache-sized chunk; ``buffers`` how many such
    chunks of scratch a worker holds at once (the row slab: two).
    """
    return min(target, workspace_limit() // (buffers * num_workers()))


def chunk_ranges(start: int, stop: int, per_sample_bytes: int, budget: int) -> list[tuple[int, int]]:
    """Split samples ``start .. stop - 1`` into consecutive chunks of at most ``budget`` bytes of scratch each.

    A chunk holds at least one sample, so a sample needing more than
    ``budget`` gets a chunk to itself.
    """
    size = max(1, budget // max(1, per_sample_bytes))
    return [(a, min(a + size, stop)) for a in range(start, stop, size)]
