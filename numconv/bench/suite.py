"""The benchmark suite: numconv against PyTorch on workloads W1-W12, both timed in one process.

Run it as ``python -m benchmarks`` from a source tree or ``numconv bench``
anywhere numconv is installed; both take the same options::

    numconv bench                       # everything, a few minutes
    numconv bench --quick               # fewer rounds, smaller GEMM probe: under 30 s
    numconv bench --only W3,W6 --repeat 9 --json bench.json
    numconv bench --allocator default   # time in glibc's cold state instead of the steady one
    numconv bench --native-blas         # time with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset

The timing runs in a child process in fair conditions (``numconv.bench.conditions``):
glibc's allocator in the steady state a long run reaches, for both sides; the
report starts with those conditions, the BLAS library and the kernel it runs,
and a warning when ``OPENBLAS_CORETYPE`` forces an older kernel than the CPU has.

For each case it prints the median time per call, the min-max range, the
ratio numconv / PyTorch with its target, and for convolutions the GFLOP/s of
both sides next to the machine's float32 GEMM speed measured at start-up.
Then the peak memory of the convolution cases (see ``numconv.bench.memory``)
and the start-up costs (``numconv.bench.startup``). Without PyTorch it times
numconv alone and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from . import conditions
from . import memory as _memory
from . import startup as _startup
from .timing import gemm_peak_gflops, time_sides
from .workloads import BOUNDED_CASES, BOUNDED_LIMIT, BOUNDED_TARGET, WORKLOADS, build_cases

__all__ = ["add_arguments", "run_suite", "main", "IMPORT_TARGET_S", "FIRST_CALL_TARGET_S"]

IMPORT_TARGET_S = 0.5
FIRST_CALL_TARGET_S = 0.3

# Rounds, seconds per timed block, pause before each block, fewest calls per block.
# --quick: two rounds of one warm-up and one timed call per side (sides still alternating). The warm-up
# matters: the first call after a pause runs 2-4x slower (threads parked, memory handed back to the system).
_FULL = {"rounds": 5, "block_seconds": 0.25, "pause": 0.2, "min_calls": 3, "warmup": True, "gemm_n": 2048,
         "import_samples": 7, "first_call_samples": 5}
_QUICK = {"rounds": 2, "block_seconds": 0.0, "pause": 0.02, "min_calls": 1, "warmup": True, "gemm_n": 1024,
          "import_samples": 3, "first_call_samples": 2}
# --quick measures memory on these workloads only (each side's subprocess imports its library once).
_QUICK_MEMORY = {"W2"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The suite's options, shared by ``python -m benchmarks`` and ``numconv bench``."""
    parser.add_argument("--quick", action="store_true",
                        help="2 rounds of one timed call, a 1024^2 GEMM probe, memory of W2 only: under 30 s")
    parser.add_argument("--only", default=None, metavar="W3,W6",
                        help=f"comma-separated workloads to run (default: all of {', '.join(WORKLOADS)})")
    parser.add_argument("--repeat", type=int, default=None, metavar="N",
                        help="timed rounds per case, alternating the sides (default 5, 2 with --quick)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write every measurement to this file")
    parser.add_argument("--no-torch", action="store_true", help="time numconv alone, as if PyTorch were missing")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--no-startup", action="store_true",
                        help="skip the import and first-call subprocesses")
    parser.add_argument("--allocator", choices=conditions.ALLOCATORS, default="steady",
                        help="glibc's state in the timing process: 'steady' (default: mmap threshold raised, as in a "
                             "long training run) or 'default' (a cold process, every large allocation a fresh mmap)")
    parser.add_argument("--threads", type=int, default=2, choices=(1, 2),
                        help="threads per side: PyTorch's, numconv's workers and BLAS's (default 2; 1 compares the "
                             "work per core, steadier when other jobs share the machine)")
    parser.add_argument("--native-blas", action="store_true",
                        help="time with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (OpenBLAS's kernel for this CPU)")


def check_json_path(path) -> None:
    """A clear ValueError now, not after minutes of benchmarks, if ``path`` cannot be written."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"--json: cannot write {path!r}: {folder!r} is not a directory")
    if os.path.isdir(path):
        raise ValueError(f"--json: {path!r} is a directory, expected a file name")


def parse_only(text) -> list | None:
    """``"w3, W6"`` -> ``["W3", "W6"]``; None stays None. Unknown names are a ValueError."""
    if text is None:
        return None
    names = [part.strip().upper() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown or not names:
        raise ValueError(f"--only: unknown workload(s) {', '.join(unknown) or repr(text)}; "
                         f"choose from {', '.join(WORKLOADS)}")
    return names


def _import_torch(threads: int = 2):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def machine_info(torch) -> dict:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "logical_cpus": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "torch": getattr(torch, "__version__", None),
            "torch_threads": torch.get_num_threads() if torch else None}
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:
        info["numba"] = None
    try:
        info["blas"] = np.__config__.CONFIG["Build Dependencies"]["blas"]["name"]
    except (AttributeError, KeyError, TypeError):
        info["blas"] = None
    return info


def _ratio(a, b):
    return a / b if a is not None and b else None


def _time_case(case, torch, settings: dict, seed: int) -> dict:
    """Time one case on both sides (numconv alone when ``torch`` is None); its row of the results."""
    calls = {"numconv": case.numconv(seed)}
    if torch is not None:
        calls["torch"] = case.torch(torch, seed)
    timings = time_sides(calls, rounds=settings["rounds"], block_seconds=settings["block_seconds"],
                         pause=settings["pause"], min_calls=settings["min_calls"], warmup=settings["warmup"])
    ours, theirs = timings["numconv"], timings.get("torch")
    row = {"workload": case.workload, "label": case.label, "phase": case.phase, "target": case.target,
           "numconv": ours.as_dict(), "torch": theirs.as_dict() if theirs else None,
           "ratio": _ratio(ours.median, theirs and theirs.median),
           # the ratio of the fastest calls: steadier than the medians' when other jobs share the machine
           "ratio_of_minima": _ratio(ours.min, theirs and theirs.min)}
    row["met"] = None if case.target is None or row["ratio"] is None else bool(row["ratio"] <= case.target)
    if case.flops:
        row["gflops"] = {side: case.flops / t.median / 1e9 for side, t in timings.items()}
    return row


def run_suite(quick=False, only=None, repeat=None, json_path=None, use_torch=True, measure_memory=True,
              measure_startup=True, seed=0, out=None, allocator="steady", native_blas=False, threads=2) -> dict:
    """Run the benchmarks, print the tables to ``out`` (default stdout), return every figure.

    Parameters
    ----------
    quick : bool
        Fewer rounds and a smaller GEMM probe (under 30 s on 2 cores).
    only : list of str, optional
        Workloads to run, e.g. ``["W3", "W6"]``; default all.
    repeat : int, optional
        Timed rounds per case (default 5, or 2 with ``quick``).
    json_path : str, optional
        Also write the results there as JSON.
    use_torch : bool
        False times numconv alone (as without PyTorch installed).
    measure_memory, measure_startup : bool
        Run the peak-memory and the start-up subprocesses.
    seed : int
        Seeds every input.
    allocator : {'steady', 'default'}
        The glibc state of the timing process (``numconv.bench.conditions``):
        'steady' (raised mmap threshold, as in a long run) or 'default' (cold).
    native_blas : bool
        Time with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset.
    threads : {2, 1}
        Threads of each side in the timing process: PyTorch's, numconv's
        batch-split workers and BLAS's.

    Returns
    -------
    dict
        ``machine``, ``conditions``, ``gemm_peak_gflops``, ``cases`` (one dict
        per case, in the printed order), ``memory``, ``startup``,
        ``torch_missing``.

    Notes
    -----
    The timing (GEMM probe and every case, both sides) runs in one child
    process started with ``conditions.timing_environment``: glibc and
    OpenBLAS read their settings when a process starts, so only a new process
    can be put in the chosen state. Its report is streamed to ``out``.
    """
    out = sys.stdout if out is None else out
    settings = dict(_QUICK if quick else _FULL)
    if repeat is not None:
        if repeat < 1:
            raise ValueError(f"--repeat must be at least 1, got {repeat}")
        settings["rounds"] = repeat
    env = conditions.timing_environment(allocator=allocator, native_blas=native_blas)
    started = time.perf_counter()

    def say(text=""):
        print(text, file=out, flush=True)

    if threads not in (1, 2):
        raise ValueError(f"--threads must be 1 or 2, got {threads}")
    results = _timing_in_child({"settings": settings, "only": only, "use_torch": use_torch, "seed": seed,
                                "threads": threads}, env, out)
    results["quick"] = bool(quick)
    results["native_blas"] = bool(native_blas)
    cases = build_cases(only)
    torch_missing = results["torch_missing"]

    results["memory"] = None
    if measure_memory and _memory.rss_peak_supported():
        wanted = [c for c in cases if c.memory and (not quick or c.workload in _QUICK_MEMORY)]
        if wanted:
            sides = ("numconv",) if torch_missing else ("numconv", "torch")
            results["memory"] = _memory_results(wanted, _memory.measure_peak_memory(wanted, sides, seed))
            say()
            say(_memory_table(results["memory"]))
    results["bounded_memory"] = None
    if measure_memory and _memory.rss_peak_supported():
        bounded = BOUNDED_CASES[:1] if quick else BOUNDED_CASES
        results["bounded_memory"] = _bounded_results(bounded, _memory.measure_bounded_memory(bounded, seed))
        say()
        say(_bounded_table(results["bounded_memory"]))
    elif measure_memory:
        say("\npeak memory: not measured (needs Linux's /proc/self/clear_refs)")

    results["startup"] = None
    if measure_startup:
        imp = _startup.import_time(settings["import_samples"])
        first = _startup.first_call_time(settings["first_call_samples"])
        results["startup"] = {"import": dict(imp, target_s=IMPORT_TARGET_S, met=imp["median_s"] <= IMPORT_TARGET_S),
                              "first_call": dict(first, target_s=FIRST_CALL_TARGET_S,
                                                 met=first["median_s"] <= FIRST_CALL_TARGET_S)}
        say()
        say(_startup_lines(results["startup"]))

    met = [r["met"] for r in results["cases"] if r["met"] is not None]
    for table in ("memory", "bounded_memory"):
        met += [r["met"] for r in results[table] or () if r.get("met") is not None]
    if results["startup"]:
        met += [results["startup"]["import"]["met"], results["startup"]["first_call"]["met"]]
    results["targets_met"], results["targets_total"] = sum(met), len(met)
    results["seconds"] = time.perf_counter() - started
    say()
    if results["conditions"]["warning"]:
        say("WARNING (repeated): " + results["conditions"]["warning"])
    if torch_missing:
        say("PyTorch is not installed (or --no-torch): no ratios; install torch==2.13.0 to compare.")
    say(f"targets met: {sum(met)} of {len(met)}; the suite took {results['seconds']:.0f} s")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(results, f, indent=1)
        say(f"results written to {json_path}")
    return results


def _timing_in_child(request: dict, env: dict, out) -> dict:
    """Run ``_timing`` in a child process with environment ``env``; stream its report to ``out``."""
    with tempfile.TemporaryDirectory(prefix="numconv-bench-") as folder:
        path = os.path.join(folder, "timing.json")
        code = "from numconv.bench.suite import _timing_child; _timing_child()"
        env = _memory.child_environment(base=env)
        proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(request), path], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in proc.stdout:
            print(line, end="", file=out, flush=True)
        error = proc.stderr.read()
        if proc.wait() != 0:
            lines = error.strip().splitlines()
            reason = lines[-1] if lines else f"exit status {proc.returncode}"
            raise RuntimeError("the timing process failed: " + reason)
        with open(path) as f:
            return json.load(f)


def _timing_child() -> None:
    """Entry point of the timing process: ``python -c ... REQUEST_JSON RESULT_PATH``."""
    request, path = json.loads(sys.argv[1]), sys.argv[2]
    results = _timing(request["settings"], request["only"], request["use_torch"], request["seed"], sys.stdout,
                      request["threads"])
    with open(path, "w") as f:
        json.dump(results, f)


def _timing(settings: dict, only, use_torch: bool, seed: int, out, threads: int = 2) -> dict:
    """The timed part of the suite, in this process: conditions, GEMM probe, every case."""
    torch = _import_torch(threads) if use_torch else None
    if threads != 2:
        from threadpoolctl import threadpool_limits

        from ..kernels import workers

        workers.set_num_workers(threads)
        threadpool_limits(threads, user_api="blas")  # for the rest of this (timing) process
    results = {"machine": machine_info(torch), "conditions": conditions.describe(torch), "settings": settings,
               "torch_missing": torch is None}

    def say(text=""):
        print(text, file=out, flush=True)

    m = results["machine"]
    say(f"numconv benchmarks on {m['cpu']} ({m['logical_cpus']} logical CPUs); numpy {m['numpy']} "
        f"(BLAS {m['blas']}), numba {m['numba']}, " + (f"torch {m['torch']} ({m['torch_threads']} threads)"
                                                      if torch else "torch not installed: numconv timed alone"))
    results["threads"] = threads
    for line in conditions.summary_lines(results["conditions"]):
        say(line)
    if threads != 2:
        say(f"--threads {threads}: PyTorch, numconv's workers and BLAS each on {threads} thread(s)")
    peak = gemm_peak_gflops(settings["gemm_n"])
    results["gemm_peak_gflops"] = peak
    say(f"float32 GEMM peak (NumPy {settings['gemm_n']}^2 matmul, best of 5): {peak:.0f} GFLOP/s")
    say(f"{settings['rounds']} rounds per case, sides alternating, {settings['pause']} s pause"
        + (" and a warm-up call" if settings["warmup"] else "") + " before each timed block"
        + ("" if settings["warmup"] else " (--quick: one warm-up call per side before the first)")
        + "; times are per call, median (min-max); ratio = numconv / torch of the medians (the target applies to "
          "it), min ratio = of the fastest calls")
    say()
    results["cases"] = []
    say(_header())
    for case in build_cases(only):
        row = _time_case(case, torch, settings, seed)
        results["cases"].append(row)
        say(_row(row, peak))
    return results


# ---------------------------------------------------------------------------- printing
_COLUMNS = (("workload", 8), ("case", 46), ("phase", 7), ("numconv ms", 22), ("torch ms", 22), ("ratio", 5),
            ("target", 6), ("met", 4), ("min ratio", 9), ("GFLOP/s numconv / torch (% of GEMM peak)", 0))


def _header() -> str:
    return "  ".join(f"{name:<{width}}" if width else name for name, width in _COLUMNS)


def _ms(t) -> str:
    if t is None:
        return "-"
    return f"{1e3 * t['median_s']:.3g} ({1e3 * t['min_s']:.3g}-{1e3 * t['max_s']:.3g})"


def _met(met) -> str:
    return "-" if met is None else ("yes" if met else "NO")


def _row(row: dict, peak: float) -> str:
    gflops = ""
    if row.get("gflops"):
        parts = [f"{g:.0f} ({100 * g / peak:.0f}%)" for g in row["gflops"].values()]
        gflops = " / ".join(parts)
    cells = (row["workload"], row["label"], row["phase"], _ms(row["numconv"]), _ms(row["torch"]),
             "-" if row["ratio"] is None else f"{row['ratio']:.2f}",
             "-" if row["target"] is None else f"<={row['target']:g}", _met(row["met"]),
             "-" if row["ratio_of_minima"] is None else f"{row['ratio_of_minima']:.2f}", gflops)
    return "  ".join(f"{c:<{w}}" if w else c for c, (_, w) in zip(cells, _COLUMNS))


def _memory_results(cases, measured) -> list:
    rows = []
    for case in cases:
        ours = measured.get("numconv", {}).get(case.key)
        theirs = measured.get("torch", {}).get(case.key)
        row = {"workload": case.workload, "label": case.label, "phase": case.phase, "target": case.memory_target,
               "numconv_rss_bytes": ours and ours["rss"], "numconv_traced_bytes": ours and ours.get("traced"),
               "torch_rss_bytes": theirs and theirs["rss"], "numconv_retained_bytes": ours and ours["retained"],
               "torch_retained_bytes": theirs and theirs["retained"]}
        row["ratio"] = _ratio(row["numconv_rss_bytes"], row["torch_rss_bytes"])
        row["met"] = None if row["target"] is None or row["ratio"] is None else bool(row["ratio"] <= row["target"])
        rows.append(row)
    errors = {side: v["error"] for side, v in measured.items() if "error" in v}
    if errors:
        rows.append({"errors": errors})
    return rows


def _bounded_results(cases, measured) -> list:
    if "error" in measured:
        return [{"errors": {"numconv": measured["error"]}}]
    rows = []
    for case in cases:
        m = measured[case.label]
        scratch = max(0, m["rss"] - m["buffers"])
        rows.append({"label": case.label, "limit_bytes": BOUNDED_LIMIT, "rss_bytes": m["rss"],
                     "buffers_bytes": m["buffers"], "scratch_bytes": scratch, "ratio": scratch / BOUNDED_LIMIT,
                     "target": BOUNDED_TARGET, "met": scratch <= BOUNDED_TARGET * BOUNDED_LIMIT})
    return rows


def _bounded_table(rows) -> str:
    head = [f"bounded memory: one forward + backward pass under a workspace limit of {BOUNDED_LIMIT / 2**20:g} MiB "
            "(numconv only, own subprocess, float32); scratch = RSS rise - output and gradients; "
            "ratio = scratch / limit",
            f"{'case':<52}  {'peak MiB':>8}  {'buffers MiB':>11}  {'scratch MiB':>11}  {'ratio':>5}  "
            f"{'target':<6}  met"]
    return _table(head, rows, lambda r: (
        f"{r['label']:<52}  {_mib(r['rss_bytes']):>8}  {_mib(r['buffers_bytes']):>11}  "
        f"{_mib(r['scratch_bytes']):>11}  {r['ratio']:5.2f}  {'<=' + format(r['target'], 'g'):<6}  "
        f"{_met(r['met'])}"))


def _table(head: list, rows, row_line) -> str:
    """The ``head`` lines, then ``row_line(row)`` for each row, or a line per side for a row that failed."""
    lines = list(head)
    for r in rows:
        if "errors" in r:
            lines += [f"  {side}: failed: {msg}" for side, msg in r["errors"].items()]
        else:
            lines.append(row_line(r))
    return "\n".join(lines)


def _mib(n) -> str:
    return "-" if n is None else f"{n / 2**20:.1f}"


def _memory_table(rows) -> str:
    head = ["peak memory of one call after two warm-up calls: RSS rise above the level before the call, each side "
            "in its own subprocess, inputs not counted; 'NumPy': tracemalloc's peak of numconv's arrays in the same "
            "call; 'kept': RSS the warm-up calls left behind (library start-up, caches, reusable workspaces)",
            f"{'workload':<8}  {'case':<46}  {'phase':<7}  {'numconv MiB':>11}  {'torch MiB':>9}  {'ratio':>5}  "
            f"{'target':<6}  {'met':<4}  {'NumPy MiB':>9}  {'kept: numconv / torch MiB':>25}"]
    return _table(head, rows, lambda r: (
        f"{r['workload']:<8}  {r['label']:<46}  {r['phase']:<7}  {_mib(r['numconv_rss_bytes']):>11}  "
        f"{_mib(r['torch_rss_bytes']):>9}  {'-' if r['ratio'] is None else format(r['ratio'], '.2f'):>5}  "
        f"{'-' if r['target'] is None else '<=' + format(r['target'], 'g'):<6}  {_met(r['met']):<4}  "
        f"{_mib(r['numconv_traced_bytes']):>9}  "
        f"{_mib(r['numconv_retained_bytes']) + ' / ' + _mib(r['torch_retained_bytes']):>25}"))


def _startup_lines(s) -> str:
    imp, first = s["import"], s["first_call"]
    return "\n".join([
        f"import numconv (fresh process, bytecode cached): {imp['median_s']:.3f} s median "
        f"({imp['min_s']:.3f}-{imp['max_s']:.3f}, {imp['samples']} runs); target <= {imp['target_s']} s: "
        f"{_met(imp['met'])}",
        f"first numba kernel call in a new process (max_pool2d, cache warm, includes importing numba): "
        f"{first['median_s']:.3f} s median ({first['min_s']:.3f}-{first['max_s']:.3f}, {first['samples']} runs); "
        f"target <= {first['target_s']} s: {_met(first['met'])}; one more kernel after that: "
        f"{first['another_kernel_median_s']:.3f} s",
    ])


def main(argv=None) -> int:
    """``python -m benchmarks [options]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        only = parse_only(args.only)
    except ValueError as error:
        parser.error(str(error))
    if args.repeat is not None and args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    try:
        check_json_path(args.json)
    except ValueError as error:
        parser.error(str(error))
    run_suite(quick=args.quick, only=only, repeat=args.repeat, json_path=args.json, use_torch=not args.no_torch,
              measure_memory=not args.no_memory, measure_startup=not args.no_startup, allocator=args.allocator,
              native_blas=args.native_blas, threads=args.threads)
    return 0
