"""Does memory stay flat over a long training run? LeNet-5, 20 epochs, memory after each.

A leak in a training loop (a cache kept alive by a layer, a history that
holds arrays, gradients that pile up) shows as memory that grows epoch after
epoch. This trains LeNet-5 on a subset of the bundled Fashion-MNIST sample
through the same path as ``numconv train`` (``DataLoader``,
``train_one_epoch``, ``evaluate``) and records after every epoch, after a
garbage collection:

* ``traced``: NumPy arrays and Python objects alive (``tracemalloc``), and
  the peak during the epoch;
* ``rss``: the process's resident memory, and its peak during the epoch
  (Linux: ``VmRSS`` and ``VmHWM``, the peak reset every epoch).

The verdict compares the last epoch with the second (the first includes
one-off costs: numba loading its kernels, the loader's first buffers)::

    python benchmarks/memory_flat.py                 # 20 epochs on 1,000 images, about 30 s on 2 idle cores
    python benchmarks/memory_flat.py --epochs 5 --limit 256
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc

__all__ = ["run", "main"]

#: Largest growth from epoch 2 to the last epoch still called flat (allocator noise is well below these).
FLAT_TRACED_BYTES = 1 << 20
FLAT_RSS_BYTES = 16 << 20


def _rss() -> tuple:
    """(current, peak) resident bytes, the peak reset afterwards; (None, None) where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            fields = dict(line.split(":", 1) for line in f if line.startswith(("VmRSS", "VmHWM")))
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return None, None
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def run(epochs: int = 20, limit: int = 1000, batch_size: int = 64, seed: int = 0, out=None) -> dict:
    """Train LeNet-5 for ``epochs`` epochs and record memory after each.

    Parameters
    ----------
    epochs : int
    limit : int
        Training images used (the first ``limit`` of the sample); the test
        subset has ``limit // 2``.
    batch_size, seed : int
    out : file, optional
        Where the table is printed (default stdout).

    Returns
    -------
    dict
        ``rows`` (one dict per epoch: ``epoch``, ``loss``, ``val_acc``,
        ``traced_bytes``, ``traced_peak_bytes``, ``rss_bytes``,
        ``rss_peak_bytes``, ``seconds``), ``traced_growth_bytes``,
        ``rss_growth_bytes`` (last epoch minus the second) and ``flat``.
    """
    import numpy as np

    import numconv
    from numconv.data import Compose, DataLoader, Normalize, Pad, Subset, ToFloat, get_dataset
    from numconv.models import LeNet5
    from numconv.nn import CrossEntropyLoss
    from numconv.optim import SGD
    from numconv.train import evaluate, train_one_epoch

    out = sys.stdout if out is None else out
    if epochs < 2:
        raise ValueError(f"memory_flat: need at least 2 epochs to see a trend, got {epochs}")
    transform = Compose([ToFloat(), Pad(2), Normalize((0.2860,), (0.3530,))])
    train_set = get_dataset("sample", train=True, transform=transform)
    test_set = get_dataset("sample", train=False, transform=transform)
    train_set = Subset(train_set, np.arange(min(limit, len(train_set))))
    test_set = Subset(test_set, np.arange(min(max(limit // 2, 1), len(test_set))))
    numconv.manual_seed(seed)
    model = LeNet5()
    criterion = CrossEntropyLoss()
    optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, seed=seed)
    test_loader = DataLoader(test_set, batch_size=256)

    print(f"LeNet-5 on {len(train_set):,} training / {len(test_set):,} test images of the bundled sample, "
          f"batch {batch_size}, {epochs} epochs; memory after each epoch (after gc.collect())", file=out)
    print(f"{'epoch':>5}  {'loss':>7}  {'val acc':>7}  {'traced MiB':>10}  {'traced peak':>11}  {'RSS MiB':>8}  "
          f"{'RSS peak':>8}  {'seconds':>7}", file=out, flush=True)
    rows = []
    tracemalloc.start()
    try:
        _rss()  # reset the peak
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            stats = train_one_epoch(model, train_loader, criterion, optimizer, progress=False, log=lambda *a: None)
            val = evaluate(model, test_loader, criterion)
            seconds = time.perf_counter() - start
            gc.collect()
            traced, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            rss, rss_peak = _rss()
            rows.append({"epoch": epoch, "loss": stats["loss"], "val_acc": val["accuracy"], "traced_bytes": traced,
                         "traced_peak_bytes": traced_peak, "rss_bytes": rss, "rss_peak_bytes": rss_peak,
                         "seconds": seconds})
            mib = (lambda n: "-" if n is None else f"{n / 2**20:.1f}")
            print(f"{epoch:>5}  {stats['loss']:>7.4f}  {100 * val['accuracy']:>6.1f}%  {mib(traced):>10}  "
                  f"{mib(traced_peak):>11}  {mib(rss):>8}  {mib(rss_peak):>8}  {seconds:>7.2f}", file=out, flush=True)
    finally:
        tracemalloc.stop()

    traced_growth = rows[-1]["traced_bytes"] - rows[1]["traced_bytes"]
    rss_growth = None if rows[1]["rss_bytes"] is None else rows[-1]["rss_bytes"] - rows[1]["rss_bytes"]
    flat = traced_growth < FLAT_TRACED_BYTES and (rss_growth is None or rss_growth < FLAT_RSS_BYTES)
    rss_text = "not measured" if rss_growth is None else f"{rss_growth / 2**20:+.2f} MiB"
    print(f"from epoch 2 to epoch {epochs}: traced memory {traced_growth / 2**20:+.2f} MiB, RSS {rss_text}: "
          + ("flat (below 1 MiB traced and 16 MiB RSS)" if flat else "GROWS"), file=out)
    return {"rows": rows, "traced_growth_bytes": traced_growth, "rss_growth_bytes": rss_growth, "flat": flat}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/memory_flat.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--limit", type=int, default=1000, help="training images (default 1000)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.epochs < 2 or args.limit < 1 or args.batch_size < 1:
        parser.error("--epochs must be at least 2, --limit and --batch-size at least 1")
    result = run(args.epochs, args.limit, args.batch_size, args.seed)
    return 0 if result["flat"] else 1
