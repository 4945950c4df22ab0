"""``numconv eval CHECKPOINT``: a checkpoint's accuracy on a test set, per class, with the confusion matrix."""

from __future__ import annotations

import argparse

import numpy as np

from ._shared import DATASETS, CLIError, build_transform, class_names, criterion, load_dataset, load_model, \
    run_model, transform_settings


def add_arguments(p):
    p.add_argument("checkpoint", help="a .npz written by numconv train")
    p.add_argument("--dataset", default=None, choices=sorted(DATASETS),
                   help="default: the data set the checkpoint was trained on")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--download", action="store_true")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--limit-test", type=int, default=None, help=argparse.SUPPRESS)


def run(args) -> int:
    """Evaluate a checkpoint on a test set: accuracy, per-class accuracy, confusion matrix."""
    from ..data import DataLoader
    from ..train import evaluate

    for name in ("batch_size", "limit_test"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise CLIError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    model, ckpt = load_model(args.checkpoint)
    data_cfg = ckpt.config.get("data", {})
    dataset = args.dataset or data_cfg.get("dataset")
    if dataset not in DATASETS:
        raise CLIError(f"checkpoint '{args.checkpoint}' does not say which data set it was trained on; "
                       f"pass --dataset ({', '.join(sorted(DATASETS))})")
    settings = data_cfg.get("transform") or transform_settings(dataset)
    test_set = load_dataset(dataset, False, build_transform(settings), args.data_dir, args.download, args.limit_test)
    if len(test_set):
        model.eval()
        run_model(model, np.asarray(test_set[0][0])[None], args.checkpoint)  # one image: a clear error if it cannot
    metrics = evaluate(model, DataLoader(test_set, batch_size=args.batch_size, shuffle=False), criterion())
    names = data_cfg.get("classes") or class_names(dataset, test_set)
    print(f"{args.checkpoint} (epoch {ckpt.epoch}) on the {dataset} test set ({metrics['n']:,} images)")
    print(f"accuracy {100 * metrics['accuracy']:.2f}%   loss {metrics['loss']:.4f}")
    confusion = metrics["confusion_matrix"]
    for line in confusion_table(confusion, names, metrics["per_class_accuracy"]):
        print(line)
    return 0


def confusion_table(confusion, names, per_class_accuracy) -> list:
    """The confusion matrix as text lines, with a header of short column names and a key to them.

    Rows are the true classes (full names, with each class's accuracy), columns the predicted ones, headed by
    the first five letters of each name (``T-shi``, ``Trous``...) or by their digit for MNIST.
    """
    names = [str(n) for n in names[:len(confusion)]]
    names += [str(i) for i in range(len(names), len(confusion))]
    width = max(len(n) for n in names + ["true class"])
    cell = max(5, len(str(int(np.max(confusion)))) if np.size(confusion) else 5)
    short = [n[:cell] for n in names]
    lines = [f"{'':<{width}}            predicted class",
             f"{'true class':<{width}}  accuracy  " + " ".join(f"{s:>{cell}}" for s in short)]
    for i, name in enumerate(names):
        row = " ".join(f"{int(v):{cell}d}" for v in confusion[i])
        lines.append(f"{name:<{width}}   {_percent(per_class_accuracy[i])}  {row}")
    return lines


def _percent(x) -> str:
    return "  n/a " if not np.isfinite(x) else f"{100 * x:5.1f}%"
