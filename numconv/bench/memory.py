"""Peak memory of one call, numconv against PyTorch, measured the same way for both.

What is compared: **how far the resident memory (RSS) of a process rises
above its level before the call**, during one call of the case, after two
warm-up calls. Memory kept from call to call (reusable workspaces, caches)
is reported apart, as what the warm-up calls left behind. Each side runs in its own fresh subprocess, so neither
library's allocations, caches or thread stacks show up in the other's
figures. The inputs are allocated before the baseline is taken, so they are
not counted; what is counted is everything the call allocates and touches
(outputs, caches for the backward pass, workspaces, gradients).

How: Linux lets a process reset its own peak-RSS counter (``VmHWM``) by
writing ``5`` to ``/proc/self/clear_refs``; the peak after the call minus
the RSS before it is the call's peak footprint. The child processes fix
glibc's mmap threshold (``MALLOC_MMAP_THRESHOLD_``), so every large array
is its own mapping and is returned to the system when freed: one case's
freed memory cannot hide the next case's peak.

For numconv the suite also reports ``tracemalloc``'s peak for the same call:
NumPy reports its array allocations to ``tracemalloc``, so that figure is
exactly the NumPy arrays alive at the worst moment (numba's own allocations
and PyTorch's are invisible to it, which is why it is not the comparison).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

__all__ = ["measure_peak_memory", "measure_bounded_memory", "rss_peak_supported", "child_environment"]

_CLEAR_REFS = "/proc/self/clear_refs"
_STATUS = "/proc/self/status"


def child_environment(base=None, **extra) -> dict:
    """This process's environment (or ``base``), with the numconv being benchmarked first on ``PYTHONPATH``.

    A child process must import the same numconv as its parent, whether that
    is an installed copy or a source tree run with ``python -m benchmarks``.
    """
    import numconv

    root = os.path.dirname(os.path.dirname(os.path.abspath(numconv.__file__)))
    base = os.environ if base is None else base
    path = base.get("PYTHONPATH", "")
    return dict(base, PYTHONPATH=root + (os.pathsep + path if path else ""), **extra)


def rss_peak_supported() -> bool:
    """True where a process can reset and read its peak RSS (Linux with /proc)."""
    return os.path.exists(_CLEAR_REFS) and os.path.exists(_STATUS)


def _status_kib(field: str) -> int:
    with open(_STATUS) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{_STATUS} has no {field}")


def _peak_rss_of_call(fn) -> int:
    """Bytes by which RSS rose above its starting level during one ``fn()``."""
    gc.collect()
    before = _status_kib("VmRSS")
    with open(_CLEAR_REFS, "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    result = fn()
    peak = _status_kib("VmHWM")
    del result
    return max(0, peak - before) * 1024


def _traced_peak_of_call(fn) -> int:
    """Bytes of the largest total of traced (NumPy) allocations alive during one ``fn()``."""
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        tracemalloc.stop()
    return peak


def _child(side: str, keys: list, seed: int) -> dict:
    """Run in the subprocess: every case in ``keys`` on one side.

    Returns ``{key: {"rss": bytes, "retained": bytes, "traced": bytes}}``:
    the RSS rise during one call after two warm-up calls; the RSS the
    warm-up calls left behind (one-off library start-up such as loading
    numba's kernels or building PyTorch's primitives, plus caches and
    reusable workspaces: it shrinks to the workspaces alone for the later
    cases of a run); numconv only: tracemalloc's peak of the call.
    """
    from .workloads import build_cases

    torch = None
    if side == "torch":
        import torch

        torch.set_num_threads(2)
    workloads = sorted({key.split()[0] for key in keys})
    results = {}
    for case in build_cases(workloads):
        if case.key not in keys:
            continue
        fn = case.numconv(seed) if side == "numconv" else case.torch(torch, seed)
        gc.collect()
        before_warmup = _status_kib("VmRSS")
        fn()  # warm-up: kernels loaded, primitives built, workspaces allocated
        fn()
        gc.collect()
        entry = {"retained": max(0, _status_kib("VmRSS") - before_warmup) * 1024, "rss": _peak_rss_of_call(fn)}
        if side == "numconv":
            entry["traced"] = _traced_peak_of_call(fn)
        results[case.key] = entry
        del fn
        gc.collect()
    return results


def measure_peak_memory(cases, sides=("numconv", "torch"), seed: int = 0, timeout: float = 600.0) -> dict:
    """Peak memory of one call of each case, each side in its own subprocess.

    Parameters
    ----------
    cases : list of Case
    sides : tuple of str
        "numconv" and/or "torch".
    seed : int
    timeout : float
        Seconds to wait for each subprocess.

    Returns
    -------
    dict
        ``{side: {case_key: {"rss": bytes, "retained": bytes, "traced": bytes (numconv only)}}}``;
        a side that failed maps to ``{"error": message}``.
    """
    keys = [case.key for case in cases]
    env = child_environment(MALLOC_MMAP_THRESHOLD_="65536")
    code = "import sys; from numconv.bench.memory import _child_entry; _child_entry()"
    out = {}
    for side in sides:
        try:
            proc = subprocess.run([sys.executable, "-c", code, side, json.dumps(keys), str(seed)], env=env,
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            out[side] = {"error": f"timed out after {timeout:.0f} s"}
            continue
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            out[side] = {"error": lines[-1] if lines else f"exit status {proc.returncode}"}
            continue
        out[side] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _child_entry() -> None:
    side, keys, seed = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(_child(side, keys, seed)))


# ---------------------------------------------------------------------------- the workspace limit
def _bounded_child(labels: list, seed: int) -> dict:
    """Run in the subprocess: each bounded case under ``BOUNDED_LIMIT``; ``{label: {"rss", "buffers"}}``."""
    from ..kernels import workers
    from .workloads import BOUNDED_CASES, BOUNDED_LIMIT

    workers.set_workspace_limit(BOUNDED_LIMIT)
    results = {}
    for case in BOUNDED_CASES:
        if case.label not in labels:
            continue
        fn, buffers = case.build(seed)
        fn()  # warm-up: kernels loaded, reusable workspaces allocated
        results[case.label] = {"rss": _peak_rss_of_call(fn), "buffers": buffers}
        del fn
        gc.collect()
    return results


def measure_bounded_memory(cases, seed: int = 0, timeout: float = 600.0) -> dict:
    """Peak memory of one forward + backward pass of each ``BoundedCase`` under the workspace limit.

    One fresh numconv subprocess, glibc's mmap threshold fixed as for
    ``measure_peak_memory``. Returns ``{label: {"rss": bytes, "buffers":
    bytes of the output and gradients}}``, or ``{"error": message}``.
    """
    env = child_environment(MALLOC_MMAP_THRESHOLD_="65536")
    code = "from numconv.bench.memory import _bounded_entry; _bounded_entry()"
    try:
        proc = subprocess.run([sys.executable, "-c", code, json.dumps([c.label for c in cases]), str(seed)], env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return {"error": lines[-1] if lines else f"exit status {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _bounded_entry() -> None:
    print(json.dumps(_bounded_child(json.loads(sys.argv[1]), int(sys.argv[2]))))
