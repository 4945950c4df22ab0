"""Start-up costs, each measured in fresh Python processes.

* ``import numconv``: seconds spent in the import statement itself
  (interpreter start-up excluded), bytecode caching enabled. One run is
  discarded first, so ``__pycache__`` is written and the figure is the
  steady state a user sees from the second run on.
* The first call of a numba kernel in a new process: ``max_pool2d`` on a
  tiny input, which imports numba and loads the compiled kernel from numba's
  on-disk cache (``cache=True``). One run is discarded first so the cache is
  warm. The second figure is the first call of a *different* kernel in the
  same process (numba already imported): the cost of loading one more cached
  kernel.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from .memory import child_environment

__all__ = ["import_time", "first_call_time"]

_IMPORT_CODE = """
import time
start = time.perf_counter()
import numconv
print(time.perf_counter() - start)
"""

_FIRST_CALL_CODE = """
import json, time
import numpy as np
import numconv.functional as F
x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
start = time.perf_counter()
F.max_pool2d(x, 2)
first = time.perf_counter() - start
start = time.perf_counter()
F.batch_norm(x, None, None, training=True)
another = time.perf_counter() - start
print(json.dumps({"first_call_s": first, "another_kernel_s": another}))
"""


def _run(code: str, timeout: float = 120.0) -> str:
    env = child_environment()
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure with bytecode caching, as users run
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exit status {proc.returncode}")
    return proc.stdout.strip().splitlines()[-1]


def import_time(samples: int = 5) -> dict:
    """Seconds of ``import numconv`` in fresh processes: median, min, max over ``samples`` runs."""
    _run(_IMPORT_CODE)  # writes the bytecode caches
    times = [float(_run(_IMPORT_CODE)) for _ in range(samples)]
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "samples": samples}


def first_call_time(samples: int = 3) -> dict:
    """Seconds of the first numba kernel call in fresh processes (cache warm), median over ``samples`` runs."""
    _run(_FIRST_CALL_CODE)  # compiles and caches the kernels if that has not happened yet
    runs = [json.loads(_run(_FIRST_CALL_CODE)) for _ in range(samples)]
    first = [r["first_call_s"] for r in runs]
    another = [r["another_kernel_s"] for r in runs]
    return {"median_s": statistics.median(first), "min_s": min(first), "max_s": max(first),
            "another_kernel_median_s": statistics.median(another), "samples": samples}
