"""Train LeNet-5 with numconv and with PyTorch side by side, and compare accuracy and speed.

Both sides start from the same weights (numconv's, copied into PyTorch),
see the same batches in the same order (one permutation per epoch, drawn
from one seeded generator, applied to one pre-transformed array), and use
the same optimiser and hyper-parameters. Each epoch is timed separately for
each side; the sides alternate (numconv first in odd epochs, PyTorch first
in even ones) with a short pause before each timed block, so neither
always runs right after the other's BLAS threads were busy.

Usage::

    python benchmarks/train_lenet5.py                           # bundled sample, 3 epochs
    python benchmarks/train_lenet5.py --dataset fashion-mnist --epochs 10
    python benchmarks/train_lenet5.py --epochs 1 --limit 2000   # a quick check

Printed per epoch and side: training loss, test accuracy, seconds; then the
median seconds per epoch and the numconv / PyTorch ratio.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numconv  # noqa: E402
from numconv import nn, optim  # noqa: E402
from numconv.bench import conditions  # noqa: E402
from numconv.data import get_dataset, transforms as T  # noqa: E402
from numconv.interop import to_torch  # noqa: E402
from numconv.models import LeNet5  # noqa: E402

STATS = {"sample": (0.2860, 0.3530), "fashion-mnist": (0.2860, 0.3530), "mnist": (0.1307, 0.3081)}


def load(name, train, data_dir, limit):
    """All images of a split as one float32 (N, 1, 32, 32) array, and int64 labels."""
    mean, std = STATS[name]
    transform = T.Compose([T.ToFloat(), T.Pad(2), T.Normalize((mean,), (std,))])
    dataset = get_dataset(name, train=train, root=data_dir)
    n = len(dataset) if limit is None else min(limit, len(dataset))
    x = transform(dataset.data[:n, None])  # the transforms work on whole batches
    return np.ascontiguousarray(x, dtype=np.float32), dataset.targets[:n].astype(np.int64)


def numconv_epoch(model, optimizer, x, y, order, batch_size):
    criterion = nn.CrossEntropyLoss()
    model.train()
    total = 0.0
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        optimizer.zero_grad()
        loss = criterion(model(x[idx]), y[idx])
        model.backward(criterion.backward())
        optimizer.step()
        total += loss * len(idx)
    return total / len(order)


def torch_epoch(torch, model, optimizer, x, y, order, batch_size):
    model.train()
    total = 0.0
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x[idx])), torch.from_numpy(y[idx]))
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / len(order)


def numconv_accuracy(model, x, y, batch_size=1000):
    model.eval()
    correct = 0
    with numconv.no_grad():
        for start in range(0, len(x), batch_size):
            correct += int((model(x[start:start + batch_size]).argmax(1) == y[start:start + batch_size]).sum())
    return correct / len(x)


def torch_accuracy(torch, model, x, y, batch_size=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            logits = model(torch.from_numpy(x[start:start + batch_size]))
            correct += int((logits.argmax(1).numpy() == y[start:start + batch_size]).sum())
    return correct / len(x)


def timed(fn):
    time.sleep(0.2)  # let the other side's BLAS threads go idle first
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="sample", choices=sorted(STATS))
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--schedule", default="cosine", choices=["cosine", "constant"],
                   help="learning rate per epoch: cosine annealing to 0 over the run (as `numconv train`), or constant")
    p.add_argument("--activation", default="tanh", choices=["tanh", "relu"])
    p.add_argument("--pooling", default="avg", choices=["avg", "max"])
    p.add_argument("--limit", type=int, default=None, help="use only the first N training (and N test) images")
    p.add_argument("--seed", type=int, default=0)
    conditions.add_arguments(p)
    args = p.parse_args(argv)
    conditions.rerun_in(args.allocator, args.native_blas)  # fair conditions (docs/performance.md)

    import torch

    x_train, y_train = load(args.dataset, True, args.data_dir, args.limit)
    x_test, y_test = load(args.dataset, False, args.data_dir, args.limit)
    numconv.manual_seed(args.seed)
    ours = LeNet5(activation=args.activation, pooling=args.pooling)
    theirs = to_torch(ours)  # identical initial weights
    ours_opt = optim.SGD(ours.parameters(), lr=args.lr, momentum=args.momentum)
    theirs_opt = torch.optim.SGD(theirs.parameters(), lr=args.lr, momentum=args.momentum)
    order_rng = np.random.default_rng(args.seed)
    schedulers = []
    if args.schedule == "cosine":  # stepped once per epoch on both sides
        schedulers = [optim.lr_scheduler.CosineAnnealingLR(ours_opt, T_max=args.epochs),
                      torch.optim.lr_scheduler.CosineAnnealingLR(theirs_opt, T_max=args.epochs)]

    # Warm up on throwaway copies: numba compiles (or loads) its kernels and both
    # libraries allocate their workspaces before anything is timed.
    warm = np.arange(min(len(x_train), 3 * args.batch_size))
    warm_ours, warm_theirs = copy.deepcopy(ours), copy.deepcopy(theirs)
    numconv_epoch(warm_ours, optim.SGD(warm_ours.parameters(), lr=0.0), x_train, y_train, warm, args.batch_size)
    torch_epoch(torch, warm_theirs, torch.optim.SGD(warm_theirs.parameters(), lr=0.0), x_train, y_train, warm,
                args.batch_size)

    print(f"LeNet-5 ({args.activation}, {args.pooling} pooling) on {args.dataset}: {len(x_train):,} training / "
          f"{len(x_test):,} test images, batch {args.batch_size}, SGD lr {args.lr} momentum {args.momentum}, "
          f"{args.schedule} schedule; "
          f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"{'epoch':>5} | {'numconv loss':>12} {'acc':>7} {'s':>7} | {'torch loss':>10} {'acc':>7} {'s':>7} | ratio")
    times = {"numconv": [], "torch": []}
    for epoch in range(1, args.epochs + 1):
        order = order_rng.permutation(len(x_train))
        runs = {
            "numconv": lambda: numconv_epoch(ours, ours_opt, x_train, y_train, order, args.batch_size),
            "torch": lambda: torch_epoch(torch, theirs, theirs_opt, x_train, y_train, order, args.batch_size),
        }
        sides = ["numconv", "torch"] if epoch % 2 else ["torch", "numconv"]
        results = {}
        for side in sides:
            results[side] = timed(runs[side])
            times[side].append(results[side][1])
        for scheduler in schedulers:
            scheduler.step()
        acc_ours = numconv_accuracy(ours, x_test, y_test)
        acc_theirs = torch_accuracy(torch, theirs, x_test, y_test)
        (loss_o, t_o), (loss_t, t_t) = results["numconv"], results["torch"]
        print(f"{epoch:>5} | {loss_o:>12.4f} {100 * acc_ours:>6.2f}% {t_o:>7.2f} | {loss_t:>10.4f} "
              f"{100 * acc_theirs:>6.2f}% {t_t:>7.2f} | {t_o / t_t:5.2f}")
    med_o, med_t = np.median(times["numconv"]), np.median(times["torch"])
    print(f"median seconds per epoch: numconv {med_o:.2f} (min {min(times['numconv']):.2f}, max "
          f"{max(times['numconv']):.2f}), torch {med_t:.2f} (min {min(times['torch']):.2f}, max "
          f"{max(times['torch']):.2f}); numconv / torch = {med_o / med_t:.2f}")
    print(f"images per second: numconv {len(x_train) / med_o:,.0f}, torch {len(x_train) / med_t:,.0f}")


if __name__ == "__main__":
    main()
