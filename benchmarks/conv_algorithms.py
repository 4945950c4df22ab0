"""Time every conv2d algorithm against PyTorch, and measure peak memory of a forward+backward.

Usage::

    python benchmarks/conv_algorithms.py                 # all workloads, every algorithm that applies
    python benchmarks/conv_algorithms.py --rounds 9 --workloads W4 W5
    python benchmarks/conv_algorithms.py --memory        # peak memory instead (one subprocess per side)

Timing runs in fair conditions (``numconv.bench.conditions``: the steady-state allocator,
``--allocator default`` for a cold process, ``--native-blas`` to unset OPENBLAS_CORETYPE).
Timing: float32, PyTorch on 2 threads (``torch.set_num_threads(2)``), numconv
with 2 workers (``--threads 1``: both on one thread). numconv and PyTorch run in the same process, in
alternating rounds; each round pauses 0.2 s (OpenBLAS's spinning threads
slow whatever runs next), warms up, then times ``repeat`` calls and keeps
the median. ``ratio`` is the median over rounds of numconv / PyTorch (each
round's medians), with the min-max of those per-round ratios; ``best`` is
numconv's fastest round over PyTorch's fastest, the figure least disturbed
by other processes on a shared machine.

Memory: a fresh process per side warms up on a one-sample, 12 x 12 version
of the workload (libraries loaded, kernels compiled), builds the inputs,
resets the kernel's peak-RSS counter (``/proc/self/clear_refs``), runs one
forward+backward and reports ``VmHWM - VmRSS before``: the most memory the
call added, outputs, gradients and scratch included, whoever allocated it.
For numconv the tracemalloc peak (NumPy's allocations) is printed too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

WORKLOADS = {
    "W1": ((64, 1, 32, 32), (6, 1, 5, 5), 1, 0),
    "W2": ((64, 6, 14, 14), (16, 6, 5, 5), 1, 0),
    "W3": ((8, 16, 112, 112), (32, 16, 3, 3), 1, 1),
    "W4": ((16, 64, 56, 56), (64, 64, 3, 3), 1, 1),
    "W5": ((32, 32, 64, 64), (64, 32, 3, 3), 2, 1),
    "R7": ((64, 64, 7, 7), (64, 64, 3, 3), 1, 1),  # ResNet's last stage (auto: Winograd channels-last)
}


def _inputs(name, dtype=np.float32):
    x_shape, w_shape, stride, padding = WORKLOADS[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    return x, w, b, stride, padding


def _out_shape(name):
    (n, _, h, w), (k, _, kh, kw), stride, padding = WORKLOADS[name]
    return n, k, (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1


def _numconv_step(name, algorithm, backward, dtype=np.float32):
    from numconv import functional as F

    x, w, b, stride, padding = _inputs(name, dtype)
    dy = np.random.default_rng(1).standard_normal(_out_shape(name)).astype(dtype)

    def step():
        out, cache = F.conv2d(x, w, b, stride, padding, algorithm=algorithm)
        if backward:
            F.conv2d_backward(dy, cache)
    return step


def _torch_step(name, backward, dtype=np.float32):
    import torch

    x, w, b, stride, padding = _inputs(name, dtype)
    xt, wt, bt = (torch.from_numpy(a).requires_grad_(backward) for a in (x, w, b))
    dy = torch.from_numpy(np.random.default_rng(1).standard_normal(_out_shape(name)).astype(dtype))

    def step():
        if backward:
            out = torch.nn.functional.conv2d(xt, wt, bt, stride, padding)
            torch.autograd.grad(out, (xt, wt, bt), dy)
        else:
            with torch.no_grad():
                torch.nn.functional.conv2d(xt, wt, bt, stride, padding)
    return step


def _time(step, repeat):
    time.sleep(0.2)
    step()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _algorithms(name):
    from numconv.functional.fast.winograd import winograd_applies

    x_shape, w_shape, stride, _ = WORKLOADS[name]
    names = ["im2col"]
    if winograd_applies(w_shape, (stride, stride), (1, 1), 1):
        names += ["winograd", "winograd4", "winograd_cl"]
    names.append("rowslab")
    return names + ["auto"]


def run_timing(workloads, rounds, repeat, dtype, threads):
    import torch

    from numconv.kernels import workers

    torch.set_num_threads(threads)
    workers.set_num_workers(threads)
    print(f"{'workload':8} {'algorithm':11} {'pass':8} {'numconv ms':>11} {'torch ms':>9} {'ratio':>6}  "
          f"{'min-max':9}  best")
    for name in workloads:
        for backward in (False, True):
            theirs = _torch_step(name, backward, dtype)
            ours = {a: _numconv_step(name, a, backward, dtype) for a in _algorithms(name)}
            t_times, o_times = [], {a: [] for a in ours}
            for _ in range(rounds):
                t_times.append(_time(theirs, repeat))
                for a, step in ours.items():
                    o_times[a].append(_time(step, repeat))
            t_med = statistics.median(t_times)
            for a, times in o_times.items():
                ratios = [o / t for o, t in zip(times, t_times)]
                print(f"{name:8} {a:11} {'fwd+bwd' if backward else 'fwd':8} {statistics.median(times) * 1e3:11.2f} "
                      f"{t_med * 1e3:9.2f} {statistics.median(ratios):6.2f}  "
                      f"{min(ratios):.2f}-{max(ratios):.2f}  {min(times) / min(t_times):.2f}", flush=True)


# ---------------------------------------------------------------------------------------------- memory
def _status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _memory_child(side, name, algorithm):
    """Run in a fresh process: peak bytes one forward+backward adds."""
    full = WORKLOADS[name]
    # Warm up on a small version of the workload (libraries loaded, kernels compiled) so that the
    # measured call allocates everything it needs afresh, as a first call of a training step does.
    WORKLOADS["warm-up"] = ((1, *full[0][1:2], 12, 12), *full[1:])
    if side == "torch":
        import torch

        torch.set_num_threads(2)
        make = lambda n: _torch_step(n, True)  # noqa: E731
    else:
        make = lambda n: _numconv_step(n, algorithm, True)  # noqa: E731
    make("warm-up")()
    step = make(name)  # builds the inputs (x, w, dy): not counted below
    result = {}
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM (peak RSS) to the current RSS
    before = _status("VmRSS")
    if side == "numconv":
        import tracemalloc

        tracemalloc.start()
        step()
        result["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        step()
    result["rss_peak"] = _status("VmHWM") - before
    print(json.dumps(result))


def run_memory(workloads):
    print(f"{'workload':8} {'side':18} {'peak RSS MiB':>13} {'tracemalloc MiB':>16}")
    for name in workloads:
        for side, algorithm in [("torch", None)] + [("numconv", a) for a in _algorithms(name)]:
            out = subprocess.run(
                [sys.executable, __file__, "--memory-child", side, name, str(algorithm)],
                capture_output=True, text=True, check=True,
            ).stdout.strip().splitlines()[-1]
            result = json.loads(out)
            label = side if algorithm is None else f"numconv {algorithm}"
            traced = result.get("tracemalloc_peak")
            traced = f"{traced / 2**20:16.1f}" if traced is not None else f"{'':16}"
            print(f"{name:8} {label:18} {result['rss_peak'] / 2**20:13.1f} {traced}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5, help="calls timed per round")
    parser.add_argument("--float64", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="torch threads = numconv workers (default 2)")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    conditions.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.memory_child:
        side, name, algorithm = args.memory_child
        _memory_child(side, name, algorithm)
    elif args.memory:
        run_memory(args.workloads)
    else:
        conditions.rerun_in(args.allocator, args.native_blas)  # fair conditions (docs/performance.md)
        print(f"threads: torch {args.threads}, numconv workers {args.threads}; rounds {args.rounds} x {args.repeat} "
              f"calls; {'float64' if args.float64 else 'float32'}; load average {os.getloadavg()[0]:.1f}")
        run_timing(args.workloads, args.rounds, args.repeat, np.float64 if args.float64 else np.float32, args.threads)


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from numconv.bench import conditions  # noqa: E402

if __name__ == "__main__":
    main()
