"""What the tape of layer calls costs: a LeNet-5 training step (batch 64) three ways.

- **direct**: every layer's ``forward`` called by hand and every ``backward`` in reverse, with no
  tape around them (what a hand-written chain costs; the baseline);
- **Sequential**: ``numconv.models.LeNet5`` (a ``Sequential``: the tape's chain replay);
- **custom forward**: the same network as a ``Module`` subclass with only ``forward`` (the full tape:
  sources, fingerprints, routing), with ``x.reshape(n, -1)`` in place of the ``Flatten`` layer.

All three share one set of weights, data and optimiser settings; rounds alternate between them, and
the medians and the overhead over *direct* are printed (target: at most 3 % for both tape variants).
For fair conditions run it as the suite does::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE MALLOC_MMAP_THRESHOLD_=33554432 \\
        MALLOC_TRIM_THRESHOLD_=1073741824 python benchmarks/tape_overhead.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numconv  # noqa: E402
from numconv import nn  # noqa: E402
from numconv.models import LeNet5  # noqa: E402


class LeNet5Forward(nn.Module):
    """LeNet-5 with the layers of ``seq`` (shared), written with only ``forward``."""

    def __init__(self, seq):
        super().__init__()
        self.layers = seq

    def forward(self, x):
        layers = list(self.layers)  # C1 S2 C3 S4 C5 (with tanh), Flatten, F6, tanh, output
        for layer in layers[:8]:
            x = layer(x)
        x = x.reshape(x.shape[0], -1)
        for layer in layers[9:]:
            x = layer(x)
        return x


def make_steps(batch: int, seed: int = 0):
    numconv.manual_seed(seed)
    seq = LeNet5()
    custom = LeNet5Forward(seq)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 1, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = numconv.optim.SGD(seq.parameters(), lr=1e-4, momentum=0.9)
    layers = list(seq)

    def direct():
        optimizer.zero_grad()
        h = x
        for layer in layers:
            h = layer.forward(h)
        loss_fn(h, y)
        g = loss_fn.backward()
        for layer in reversed(layers):
            g = layer.backward(g)
        optimizer.step()

    def through(model):
        def step():
            optimizer.zero_grad()
            loss_fn(model(x), y)
            model.backward(loss_fn.backward())
            optimizer.step()
        return step

    return {"direct": direct, "Sequential": through(seq), "custom forward": through(custom)}


def measure(batch: int, rounds: int, steps_per_round: int) -> dict:
    steps = make_steps(batch)
    for step in steps.values():  # warm up: kernels compiled, workspaces allocated
        for _ in range(5):
            step()
    times = {name: [] for name in steps}
    for r in range(rounds):
        order = list(steps) if r % 2 == 0 else list(reversed(list(steps)))
        for name in order:
            time.sleep(0.05)
            start = time.perf_counter()
            for _ in range(steps_per_round):
                steps[name]()
            times[name].append((time.perf_counter() - start) / steps_per_round)
    return {name: float(np.median(t)) for name, t in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block")
    args = parser.parse_args(argv)
    medians = measure(args.batch, args.rounds, args.steps)
    base = medians["direct"]
    print(f"LeNet-5 training step, batch {args.batch}, median of {args.rounds} alternating rounds")
    for name, seconds in medians.items():
        extra = "" if name == "direct" else f"   tape overhead {100 * (seconds / base - 1):+.1f} % (target <= 3 %)"
        print(f"  {name:15s} {1e3 * seconds:7.2f} ms{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
