"""Timing two implementations of the same work fairly, in one process.

The rules, learnt on a 2-core machine shared with other jobs:

* **Pause before each timed block.** OpenBLAS's worker threads keep spinning
  for a while after a matrix product and slow down whatever runs next
  (PyTorch measured right after NumPy code looks faster than it is). A short
  sleep lets them go idle.
* **Warm up before each timed block**: one untimed call, so caches, page
  mappings and thread pools are in the state the timed calls will see.
* **Alternate the sides.** Round 1 runs numconv then PyTorch, round 2 PyTorch
  then numconv, and so on: neither side always follows the other.
* **Report medians.** The machine has slow phases lasting seconds; the median
  of many calls over several rounds is what a user would see, and the
  min-max range shows how noisy the run was.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

__all__ = ["Timing", "time_sides", "calls_per_block", "gemm_peak_gflops"]


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one side of one benchmark case."""

    median: float
    min: float
    max: float
    calls: int

    def as_dict(self) -> dict:
        return {"median_s": self.median, "min_s": self.min, "max_s": self.max, "calls": self.calls}


def calls_per_block(seconds_per_call: float, block_seconds: float, minimum: int = 1, maximum: int = 50) -> int:
    """How many calls make a timed block of about ``block_seconds``."""
    if seconds_per_call <= 0:
        return maximum
    return max(minimum, min(maximum, round(block_seconds / seconds_per_call)))


def time_sides(calls: dict, rounds: int = 5, block_seconds: float = 0.25, pause: float = 0.2,
               min_calls: int = 3, warmup: bool = True) -> dict:
    """Time several implementations of the same work, alternating between them.

    Parameters
    ----------
    calls : dict of str -> callable
        One zero-argument function per side, e.g. ``{"numconv": f, "torch": g}``.
    rounds : int
        Rounds of timed blocks; the order of the sides is reversed every round.
    block_seconds : float
        Aim for timed blocks about this long (at least ``min_calls`` calls each).
    pause : float
        Seconds to sleep before each block (lets other threads go idle).
    min_calls : int
        Fewest timed calls per block.
    warmup : bool
        Make one untimed call before each block. (``False`` for a quick
        look: then only the first call of each side, before any timing,
        warms up.)

    Returns
    -------
    dict of str -> Timing
        Median, min and max seconds over every timed call of every round.
    """
    sides = list(calls)
    # A first call outside the timing: numba loads its kernels, PyTorch builds
    # its primitives, both allocate. Its duration sizes the blocks.
    per_block = {}
    for side in sides:
        seconds = []
        for _ in range(2 if block_seconds > 0 else 1):  # the first call may include one-off costs
            start = time.perf_counter()
            calls[side]()
            seconds.append(time.perf_counter() - start)
        per_block[side] = calls_per_block(min(seconds), block_seconds, minimum=min_calls)
    samples = {side: [] for side in sides}
    for r in range(rounds):
        for side in (sides if r % 2 == 0 else sides[::-1]):
            fn = calls[side]
            time.sleep(pause)
            if warmup:
                fn()
            for _ in range(per_block[side]):
                start = time.perf_counter()
                fn()
                samples[side].append(time.perf_counter() - start)
    return {side: Timing(statistics.median(s), min(s), max(s), len(s)) for side, s in samples.items()}


def gemm_peak_gflops(n: int = 2048, repeat: int = 5) -> float:
    """The machine's float32 matrix-product speed, GFLOP/s: best of ``repeat`` ``n x n @ n x n`` products in NumPy.

    This is the yardstick for the convolutions' GFLOP/s: a convolution is a
    matrix product in disguise, and it cannot beat a square one by much.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=out)  # warm-up: thread pool and pages
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n**3 / best / 1e9
