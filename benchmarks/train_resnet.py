"""Train a small ResNet (ResNet-8 or ResNet-20) with numconv and with PyTorch side by side.

Both sides start from the same weights (numconv's He initialisation, copied
into the PyTorch twin made by ``numconv.interop.to_torch``), see the same
batches in the same order (one permutation and one augmentation per epoch,
drawn from one seeded generator and applied once to a NumPy array that both
sides read), and use the same optimiser: SGD with momentum 0.9, weight decay
5e-4 and a cosine schedule stepped once per epoch. Augmentation: a random
shift of up to 2 pixels (zero-padded crop) and a random horizontal flip.
Each epoch is timed per side (training only, not the augmentation); the
sides alternate which goes first, with a short pause before each timed block.

Usage::

    python benchmarks/train_resnet.py --dataset fashion-mnist --epochs 10        # the documented run
    python benchmarks/train_resnet.py --model resnet20 --dataset fashion-mnist
    python benchmarks/train_resnet.py --epochs 1 --limit 2000                      # a quick check

Fashion-MNIST comes from ``/usr/share/datasets/fashion-mnist`` (Debian's
``dataset-fashion-mnist``), ``--data-dir`` or ``$NUMCONV_DATA``. Printed per
epoch and side: training loss, test accuracy, seconds; then the median
seconds per epoch and the numconv / PyTorch ratio.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numconv  # noqa: E402
from numconv import models, nn, optim  # noqa: E402
from numconv.data import get_dataset  # noqa: E402
from numconv.interop import to_torch  # noqa: E402

from benchmarks.train_lenet5 import STATS, numconv_accuracy, timed, torch_accuracy  # noqa: E402


def load(name, train, data_dir, limit):
    """All images of a split as one normalised float32 (N, 1, 28, 28) array, and int64 labels."""
    mean, std = STATS[name]
    dataset = get_dataset(name, train=train, root=data_dir)
    n = len(dataset) if limit is None else min(limit, len(dataset))
    x = (dataset.data[:n, None].astype(np.float32) / 255.0 - mean) / std
    return np.ascontiguousarray(x, dtype=np.float32), dataset.targets[:n].astype(np.int64)


def augment(x, rng, shift=2):
    """Shift each image by up to ``shift`` pixels (zero fill, in normalised units) and flip half of them.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    rng : np.random.Generator

    Returns
    -------
    ndarray, shape (N, C, H, W), a new array
    """
    n, _, h, w = x.shape
    background = x.min()  # the normalised value of a black pixel
    padded = np.pad(x, ((0, 0), (0, 0), (shift, shift), (shift, shift)), constant_values=background)
    dy, dx = rng.integers(0, 2 * shift + 1, size=(2, n))
    out = np.empty_like(x)
    for oy in range(2 * shift + 1):  # 25 groups: one slice copy per shift, not per image
        for ox in range(2 * shift + 1):
            idx = np.flatnonzero((dy == oy) & (dx == ox))
            out[idx] = padded[idx, :, oy:oy + h, ox:ox + w]
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, :, ::-1]
    return out


def numconv_epoch(model, optimizer, x, y, batch_size):
    criterion = nn.CrossEntropyLoss()
    model.train()
    total = 0.0
    for start in range(0, len(x), batch_size):
        optimizer.zero_grad()
        loss = criterion(model(x[start:start + batch_size]), y[start:start + batch_size])
        model.backward(criterion.backward())
        optimizer.step()
        total += loss * len(y[start:start + batch_size])
    return total / len(x)


def torch_epoch(torch, model, optimizer, x, y, batch_size):
    model.train()
    total = 0.0
    for start in range(0, len(x), batch_size):
        optimizer.zero_grad()
        xb, yb = torch.from_numpy(x[start:start + batch_size]), torch.from_numpy(y[start:start + batch_size])
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(yb)
    return total / len(x)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="resnet8", choices=["resnet8", "resnet20"])
    p.add_argument("--dataset", default="fashion-mnist", choices=sorted(STATS))
    p.add_argument("--data-dir", default=None)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--no-augment", action="store_true", help="train on the images as they are")
    p.add_argument("--limit", type=int, default=None, help="use only the first N training (and N test) images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sides", default="both", choices=["both", "numconv", "torch"],
                   help="train one side only (the two follow the same trajectory to float32 rounding: an "
                        "accuracy run needs one; the time ratio needs both)")
    p.add_argument("--torch-threads", type=int, default=None,
                   help="torch.set_num_threads (default: torch's own choice, one per core). On a machine busy with "
                        "other work, OpenMP threads that spin at each barrier can slow PyTorch several times; "
                        "1 thread is then its faster setting")
    args = p.parse_args(argv)

    import torch

    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)

    x_train, y_train = load(args.dataset, True, args.data_dir, args.limit)
    x_test, y_test = load(args.dataset, False, args.data_dir, args.limit)
    numconv.manual_seed(args.seed)
    ours = models.get_model(args.model, in_channels=1, num_classes=10)
    theirs = to_torch(ours)  # identical initial weights, same attribute names
    hyper = {"lr": args.lr, "momentum": args.momentum, "weight_decay": args.weight_decay}
    ours_opt = optim.SGD(ours.parameters(), **hyper)
    theirs_opt = torch.optim.SGD(theirs.parameters(), **hyper)
    schedulers = [optim.lr_scheduler.CosineAnnealingLR(ours_opt, T_max=args.epochs),
                  torch.optim.lr_scheduler.CosineAnnealingLR(theirs_opt, T_max=args.epochs)]
    rng = np.random.default_rng(args.seed)

    # Warm up on throwaway copies: numba compiles (or loads) its kernels and both sides allocate workspaces.
    warm = slice(0, min(len(x_train), 3 * args.batch_size))
    warm_ours, warm_theirs = copy.deepcopy(ours), copy.deepcopy(theirs)
    numconv_epoch(warm_ours, optim.SGD(warm_ours.parameters(), lr=0.0), x_train[warm], y_train[warm],
                  args.batch_size)
    torch_epoch(torch, warm_theirs, torch.optim.SGD(warm_theirs.parameters(), lr=0.0), x_train[warm],
                y_train[warm], args.batch_size)

    n_params = sum(p.size for p in ours.parameters())
    print(f"{args.model} ({n_params:,} parameters) on {args.dataset}: {len(x_train):,} training / "
          f"{len(x_test):,} test images, batch {args.batch_size}, SGD lr {args.lr} momentum {args.momentum} "
          f"weight decay {args.weight_decay}, cosine schedule, augment {not args.no_augment}; "
          f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)", flush=True)
    print(f"{'epoch':>5} | {'numconv loss':>12} {'acc':>7} {'s':>7} | {'torch loss':>10} {'acc':>7} {'s':>7} | ratio",
          flush=True)
    times = {"numconv": [], "torch": []}
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        xe = x_train[order] if args.no_augment else augment(x_train[order], rng)
        ye = y_train[order]
        runs = {"numconv": lambda: numconv_epoch(ours, ours_opt, xe, ye, args.batch_size),
                "torch": lambda: torch_epoch(torch, theirs, theirs_opt, xe, ye, args.batch_size)}
        results = {"numconv": (np.nan, np.nan), "torch": (np.nan, np.nan)}
        for side in (["numconv", "torch"] if epoch % 2 else ["torch", "numconv"]):
            if args.sides in ("both", side):
                results[side] = timed(runs[side])
                times[side].append(results[side][1])
        for scheduler in schedulers:
            scheduler.step()
        acc = {"numconv": numconv_accuracy(ours, x_test, y_test) if args.sides != "torch" else np.nan,
               "torch": torch_accuracy(torch, theirs, x_test, y_test) if args.sides != "numconv" else np.nan}
        (loss_o, t_o), (loss_t, t_t) = results["numconv"], results["torch"]
        print(f"{epoch:>5} | {loss_o:>12.4f} {100 * acc['numconv']:>6.2f}% {t_o:>7.2f} | {loss_t:>10.4f} "
              f"{100 * acc['torch']:>6.2f}% {t_t:>7.2f} | {t_o / t_t:5.2f}", flush=True)
    summary = {side: (np.median(t), min(t), max(t)) for side, t in times.items() if t}
    print("median seconds per epoch: " + ", ".join(
        f"{side} {med:.2f} (min {lo:.2f}, max {hi:.2f})" for side, (med, lo, hi) in summary.items())
        + (f"; numconv / torch = {summary['numconv'][0] / summary['torch'][0]:.2f}" if len(summary) == 2 else ""))
    print(f"final test accuracy: numconv {100 * acc['numconv']:.2f}%, torch {100 * acc['torch']:.2f}%")


if __name__ == "__main__":
    main()
