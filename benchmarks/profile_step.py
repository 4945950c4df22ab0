"""Where a training step's time goes, by kind of work, for numconv and (as a whole) for PyTorch.

Runs a model's training step (forward, cross-entropy, backward, SGD with momentum) under
``cProfile`` with the process's CPU time as the clock, on one thread (numconv's workers and BLAS
off), so that the shares depend less on how busy the machine is. The time of each kind of call
is what ``cProfile`` counts inside it (its cumulative time), grouped:

- convolution forward and backward, per algorithm (im2col, Winograd, row slab);
- batch norm, ReLU, the rest (tape bookkeeping, pooling, linear, loss, optimiser).

Then the same step is timed without the profiler for numconv and for PyTorch (one thread each,
``torch.set_num_threads(1)``), alternating, median of the rounds. Usage::

    python benchmarks/profile_step.py                    # ResNet-8, batch 64 on 28 x 28
    python benchmarks/profile_step.py --model lenet5 --batch 256

For fair conditions run it as the suite does (see docs/performance.md, "Fair conditions")::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE MALLOC_MMAP_THRESHOLD_=33554432 \\
        MALLOC_TRIM_THRESHOLD_=1073741824 python benchmarks/profile_step.py
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numconv  # noqa: E402
from numconv import models  # noqa: E402
from numconv.bench.steps import torch_training_step, training_step  # noqa: E402

#: kind -> (file suffix, function name) pairs whose cumulative time is that kind's.
KINDS = {
    "conv forward, row slab": [("fast/rowslab.py", "rowslab_forward")],
    "conv backward, row slab": [("fast/rowslab.py", "rowslab_backward")],
    "conv forward, Winograd": [("fast/winograd.py", "winograd_forward")],
    "conv backward, Winograd": [("fast/winograd.py", "winograd_backward")],
    "conv forward, im2col": [("functional/conv.py", "conv_im2col"), ("functional/tiling.py", "im2col_forward")],
    "conv backward, im2col": [("functional/conv.py", "conv_im2col_backward"),
                              ("functional/tiling.py", "im2col_backward")],
    "batch norm forward": [("functional/norm.py", "batch_norm")],
    "batch norm backward": [("functional/norm.py", "batch_norm_backward")],
    "ReLU forward + backward": [("functional/activation.py", "relu"), ("functional/activation.py", "relu_backward")],
}
MODELS = {"resnet8": ((1, 28, 28), lambda: models.resnet8()), "lenet5": ((1, 32, 32), lambda: models.LeNet5())}


def median_cpu_ms(step, calls):
    times = []
    for _ in range(calls):
        start = time.process_time()
        step()
        times.append(time.process_time() - start)
    return 1000 * float(np.median(times))


def kinds_of(stats: pstats.Stats) -> dict:
    """Cumulative seconds per kind (a function counted once even if it calls itself)."""
    totals = dict.fromkeys(KINDS, 0.0)
    for (filename, _, name), (_, _, _, cumulative, _) in stats.stats.items():
        for kind, places in KINDS.items():
            if any(filename.endswith(suffix) and name == function for suffix, function in places):
                totals[kind] += cumulative
    return totals


def main(argv=None):
    """Parse ``argv``, then profile and time on one thread (workers and BLAS restored afterwards)."""
    from threadpoolctl import threadpool_limits

    from numconv.kernels import workers

    before = workers.num_workers()
    workers.set_num_workers(1)
    try:
        with threadpool_limits(1):
            _run(argv)
    finally:
        workers.set_num_workers(before)


def _run(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="resnet8", choices=sorted(MODELS))
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=20, help="profiled steps (default 20)")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds per side, alternating (default 5)")
    args = p.parse_args(argv)

    image, make = MODELS[args.model]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, *image), dtype=np.float32)
    y = rng.integers(0, 10, args.batch)
    numconv.manual_seed(0)
    ours = make()
    step = training_step(ours, x, y)
    for _ in range(3):
        step()

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(args.steps):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    shares = kinds_of(stats)
    print(f"{args.model}, batch {args.batch}: {args.steps} profiled steps, one thread, "
          f"{1000 * total / args.steps:.1f} ms of CPU per step under the profiler")
    for kind, seconds in shares.items():
        print(f"  {kind:<26} {100 * seconds / total:5.1f} %")
    print(f"  {'the rest':<26} {100 * (total - sum(shares.values())) / total:5.1f} %")

    try:
        import torch
    except ImportError:
        return
    from numconv.interop import to_torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _time_both(torch, step, torch_training_step(torch, to_torch(ours), x, y), args.rounds)
    finally:
        torch.set_num_threads(threads)


def _time_both(torch, step, theirs, rounds_wanted):
    """Time numconv's and PyTorch's step in alternating rounds and print the medians and their ratio."""
    for _ in range(3):
        theirs()
    rounds = {"numconv": [], "torch": []}
    for _ in range(rounds_wanted):
        rounds["numconv"].append(median_cpu_ms(step, 5))
        rounds["torch"].append(median_cpu_ms(theirs, 5))
    ms = {side: float(np.median(values)) for side, values in rounds.items()}
    print(f"step without the profiler, one thread each (CPU ms, median of {rounds_wanted} rounds): "
          f"numconv {ms['numconv']:.1f}, torch {ms['torch']:.1f}, ratio {ms['numconv'] / ms['torch']:.2f}")


if __name__ == "__main__":
    main()
