"""The ``numconv`` command: train, evaluate and use convolutional networks from the shell.

::

    numconv train                         # LeNet-5 on the bundled Fashion-MNIST sample, under a minute, ~84 %
    numconv train --dataset mnist --download --epochs 10
    numconv eval runs/lenet5-sample/best.npz
    numconv predict runs/lenet5-sample/best.npz shoe.png

Each subcommand is a pair of functions in ``COMMANDS``: one adds its
arguments to an ``argparse`` sub-parser, the other runs it and returns the
exit status. ``register(name, add_arguments, run)`` adds a new one.

This module only parses arguments and prints; the work is done by
``numconv.models``, ``numconv.data``, ``numconv.train`` and
``numconv.checkpoint``. Expected failures (missing data, a corrupt
checkpoint, a missing image) print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

__all__ = ["main", "register", "COMMANDS", "CLIError", "DATASETS"]


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


# ---------------------------------------------------------------------------- data sets
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
DIGIT_CLASSES = [str(i) for i in range(10)]

# name -> (mean, std, class names). The statistics are those of the full
# training sets, as commonly used with LeNet-5.
DATASETS = {
    "sample": (0.2860, 0.3530, FASHION_CLASSES),
    "fashion-mnist": (0.2860, 0.3530, FASHION_CLASSES),
    "mnist": (0.1307, 0.3081, DIGIT_CLASSES),
}

# The default training recipe (LeNet-5, 10 epochs, batch 64, SGD lr 0.05 with
# momentum 0.9, cosine schedule) reaches about 84 % on the sample's test set
# in well under a minute on two cores; 3 constant-rate epochs reach 81 %.
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 1e-2}


# Models that take the 28 x 28 images as they are (the others were designed for 32 x 32: padded by 2).
NATIVE_28 = ("resnet8", "resnet20", "googlenetmini")
# ImageNet-sized networks: `numconv summary` describes them, but they do not fit 28 x 28 images.
IMAGENET_MODELS = ("alexnet", "zfnet", "vgg11", "vgg16", "resnet18", "resnet34")


def transform_settings(dataset: str, model: str = "lenet5") -> dict:
    """The preprocessing recorded in a checkpoint: 28 x 28 grayscale, padded to 32 unless the model takes 28, normalised."""
    mean, std, _ = DATASETS[dataset]
    return {"image_size": 28, "pad": 0 if model in NATIVE_28 else 2, "mean": [mean], "std": [std]}


def build_transform(settings: dict):
    """``Compose([ToFloat(), Pad(pad), Normalize(mean, std)])`` from recorded settings."""
    from .data import Compose, Normalize, Pad, ToFloat

    steps = [ToFloat()]
    if settings.get("pad"):
        steps.append(Pad(int(settings["pad"])))
    steps.append(Normalize(settings["mean"], settings["std"]))
    return Compose(steps)


def load_dataset(name: str, train: bool, transform, data_dir=None, download=False, limit=None):
    """Build a data set by its command-line name, turning a failure into one clear ``CLIError``."""
    from . import data

    split = "training" if train else "test"
    try:
        dataset = data.get_dataset(name, train=train, root=data_dir, download=download, transform=transform)
    except (OSError, ValueError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        hint = "" if (download or "download" in message.lower()) else \
            " (pass --download to fetch it, or --data-dir DIR where the .gz files are)"
        raise CLIError(f"cannot load the {name} {split} set: {message}{hint}") from None
    if limit is not None:
        dataset = data.Subset(dataset, np.arange(min(int(limit), len(dataset))))
    return dataset


def class_names(dataset_name: str, dataset=None) -> list:
    dataset = getattr(dataset, "dataset", dataset)  # look through a Subset
    names = getattr(dataset, "classes", None)
    return list(names) if names else list(DATASETS[dataset_name][2])


# ---------------------------------------------------------------------------- helpers
def _model_kwargs(model: str, dataset: str) -> dict:
    """Constructor arguments that fit a 1 x 32 x 32, 10-class data set."""
    from .models import _canonical

    key = _canonical(model)
    if key is None:
        from .models import available

        raise CLIError(f"unknown model {model!r}; available: {', '.join(available())}")
    if key in IMAGENET_MODELS:
        raise CLIError(f"{key} is an ImageNet network (224 x 224 colour input); the data sets here are 28 x 28 "
                       f"grayscale: train {', '.join(NATIVE_28)}, lenet5, simplecnn or vgg instead "
                       f"(`numconv summary {key}` shows its layers)")
    kwargs = {"num_classes": len(DATASETS[dataset][2])}
    if key in ("simplecnn", "vgg"):
        kwargs.update(in_channels=1, input_size=32)
    elif key in NATIVE_28:
        kwargs.update(in_channels=1, input_size=28)
    return kwargs


def _build_optimizer(name: str, params, lr: float, momentum: float, weight_decay):
    from . import optim

    cls = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop,
           "adagrad": optim.Adagrad}[name]
    kwargs = {"lr": lr}
    if momentum is not None:
        kwargs["momentum"] = momentum
    if weight_decay is not None:
        kwargs["weight_decay"] = weight_decay
    try:
        return cls(params, **kwargs)
    except (TypeError, ValueError) as error:  # e.g. a negative learning rate
        raise CLIError(str(error)) from None


def _load_model(path):
    """(model, checkpoint) rebuilt from a checkpoint's recorded config.

    The config is read and checked first, without reading any array; the
    model it describes is built; then the checkpoint is loaded into it, so
    every array is checked against the model before it is inflated.
    """
    from .checkpoint import CheckpointError, load_checkpoint, read_config
    from .commands._run_config import check_run_config
    from .models import get_model

    if not os.path.lexists(path):
        raise CLIError(f"checkpoint '{path}' does not exist")
    config = read_config(path)
    check_run_config(config, path)
    spec = config["model"]
    try:
        model = get_model(spec["name"], **dict(spec.get("kwargs", {})))
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"checkpoint '{path}': cannot rebuild model {spec['name']!r}: {error}") from None
    ckpt = load_checkpoint(path, model)
    model.eval()
    return model, ckpt


def _percent(x) -> str:
    return "  n/a " if not np.isfinite(x) else f"{100 * x:5.1f}%"


# ---------------------------------------------------------------------------- train
def add_train_arguments(p):
    # Flags whose default is None take, on --resume, the value the run was saved with (see commands/_train_plan).
    p.add_argument("--model", default=None,
                   help="lenet5 (default), simplecnn, vgg, resnet8, resnet20 or googlenet_mini")
    p.add_argument("--dataset", default=None, choices=sorted(DATASETS),
                   help="sample: the bundled Fashion-MNIST sample (default, offline)")
    p.add_argument("--data-dir", default=None, help="where MNIST / Fashion-MNIST files are (or go with --download)")
    p.add_argument("--download", action="store_true", help="download the data set if it is missing")
    p.add_argument("--epochs", type=int, default=None,
                   help="default 10; with --resume, a larger number extends the run (the schedule is re-planned)")
    p.add_argument("--batch-size", type=int, default=None, help="default 64")
    p.add_argument("--optimizer", default=None, choices=sorted(DEFAULT_LR), help="default sgd")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: " + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    p.add_argument("--momentum", type=float, default=None, help="SGD (default 0.9) and RMSprop (default 0) only")
    p.add_argument("--weight-decay", type=float, default=None,
                   help="L2 penalty (default: the optimizer's own, 0 except AdamW's 0.01)")
    p.add_argument("--scheduler", default=None, choices=["none", "cosine"],
                   help="learning rate over the epochs: cosine annealing to 0 (default) or constant")
    p.add_argument("--seed", type=int, default=None, help="seeds the weights, dropout and shuffling (default 0)")
    p.add_argument("--out", default=None, help="output directory (default runs/<model>-<dataset>)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in OUT (settings not given are taken from OUT/last.npz; others must match)")
    p.add_argument("--overwrite", action="store_true",
                   help="delete the run already in OUT and start again (without it, such a folder is refused)")
    p.add_argument("--no-progress", action="store_true", help="plain lines instead of a progress bar")
    # For tests and quick experiments: use only the first N images.
    p.add_argument("--limit-train", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--limit-test", type=int, default=None, help=argparse.SUPPRESS)


def run_train(args) -> int:
    """Train a model and report its test accuracy."""
    import numconv

    from .commands import _train_plan as plan
    from .data import DataLoader
    from .models import _canonical, get_model
    from .train import evaluate, fit

    plan.check_flag_values(args)
    out = args.out or os.path.join("runs", f"{_canonical(args.model or 'lenet5') or args.model}-"
                                           f"{args.dataset or 'sample'}")
    plan.check_output_folder(out, args.resume, args.overwrite)
    if args.resume:
        saved, saved_path = plan.saved_settings(out)
        plan.merge_resume(args, saved.config, saved.epoch, saved_path)
    else:
        plan.fill_fresh_defaults(args)
    model_kwargs = _model_kwargs(args.model, args.dataset)
    model_name = _canonical(args.model)
    settings = transform_settings(args.dataset, model_name)
    transform = build_transform(settings)
    train_set = load_dataset(args.dataset, True, transform, args.data_dir, args.download, args.limit_train)
    test_set = load_dataset(args.dataset, False, transform, args.data_dir, args.download, args.limit_test)
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr

    numconv.manual_seed(args.seed)
    model = get_model(model_name, **model_kwargs)
    optimizer = _build_optimizer(args.optimizer, model.parameters(), lr, args.momentum, args.weight_decay)
    plan.prepare_output_folder(out, args.overwrite, plan.checkpoint_bytes(model, args.optimizer))
    scheduler = None
    if args.scheduler == "cosine":
        from .optim.lr_scheduler import CosineAnnealingLR

        scheduler = CosineAnnealingLR(optimizer, T_max=args.epochs)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    test_loader = DataLoader(test_set, batch_size=256, shuffle=False)
    config = {
        "model": {"name": model_name, "kwargs": model_kwargs},
        "data": {"dataset": args.dataset, "classes": class_names(args.dataset, train_set), "transform": settings},
        "train": {"optimizer": args.optimizer, "lr": lr, "momentum": args.momentum, "batch_size": args.batch_size,
                  "epochs": args.epochs, "seed": args.seed, "weight_decay": args.weight_decay,
                  "scheduler": args.scheduler, "limit_train": args.limit_train, "limit_test": args.limit_test},
        "numconv_version": numconv.__version__,
    }
    n_params = sum(p.size for p in model.parameters())
    momentum = f" momentum {args.momentum:g}" if args.momentum is not None else ""
    print(f"{model_name}: {n_params:,} parameters | {args.dataset}: {len(train_set):,} training / "
          f"{len(test_set):,} test images | {args.optimizer} lr {lr:g}{momentum}, batch {args.batch_size}, "
          f"{args.epochs} epoch{'s' if args.epochs != 1 else ''}, {args.scheduler} schedule | output in {out}")

    def replan(ckpt):
        note = plan.replan_schedule(scheduler, args.epochs, ckpt.epoch)
        print(note or f"continuing with epoch {ckpt.epoch + 1} of {args.epochs} at lr "
                      f"{optimizer.param_groups[0]['lr']:g}")

    try:
        fit(model, train_loader, _criterion(), optimizer, args.epochs, val_loader=test_loader, scheduler=scheduler,
            out_dir=out, resume=args.resume, progress=not args.no_progress, config=config, on_resume=replan)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the last finished epoch is saved in {os.path.join(out, 'last.npz')}; "
              "run the same command with --resume to continue", file=sys.stderr)
        return 130
    metrics = evaluate(model, test_loader, _criterion())
    from .tools.viz import save_run_figures  # curves.png and feature_maps.png (a note if matplotlib is missing)

    save_run_figures(out, model, test_set[0][0], class_names=config["data"]["classes"])
    from .tools.report.predictions import save_predictions  # for `numconv report`: one more pass, no training

    save_predictions(out, model, test_loader, test_set)
    print(f"test accuracy {100 * metrics['accuracy']:.2f}% (loss {metrics['loss']:.4f}) on {metrics['n']:,} images"
          f" | checkpoints: {os.path.join(out, 'last.npz')}, {os.path.join(out, 'best.npz')}")
    return 0


def _criterion():
    from .nn import CrossEntropyLoss

    return CrossEntropyLoss()


# ---------------------------------------------------------------------------- eval
def add_eval_arguments(p):
    p.add_argument("checkpoint", help="a .npz written by numconv train")
    p.add_argument("--dataset", default=None, choices=sorted(DATASETS),
                   help="default: the data set the checkpoint was trained on")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--download", action="store_true")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--limit-test", type=int, default=None, help=argparse.SUPPRESS)


def run_eval(args) -> int:
    """Evaluate a checkpoint on a test set: accuracy, per-class accuracy, confusion matrix."""
    from .data import DataLoader
    from .train import evaluate

    for name in ("batch_size", "limit_test"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise CLIError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    model, ckpt = _load_model(args.checkpoint)
    data_cfg = ckpt.config.get("data", {})
    dataset = args.dataset or data_cfg.get("dataset")
    if dataset not in DATASETS:
        raise CLIError(f"checkpoint '{args.checkpoint}' does not say which data set it was trained on; "
                       f"pass --dataset ({', '.join(sorted(DATASETS))})")
    settings = data_cfg.get("transform") or transform_settings(dataset)
    test_set = load_dataset(dataset, False, build_transform(settings), args.data_dir, args.download, args.limit_test)
    metrics = evaluate(model, DataLoader(test_set, batch_size=args.batch_size, shuffle=False), _criterion())
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


# ---------------------------------------------------------------------------- predict
def add_predict_arguments(p):
    p.add_argument("checkpoint", help="a .npz written by numconv train")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files")
    p.add_argument("--top", type=int, default=1, help="show the K most likely classes (default 1)")
    add_max_pixels_argument(p)


def add_max_pixels_argument(p):
    from .tools.images import DEFAULT_MAX_PIXELS

    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse pictures larger than this (default {DEFAULT_MAX_PIXELS:,}: a guard against "
                        "decompression bombs)")


def load_image(path, size: int = 28, max_pixels: int | None = None):
    """A PNG/JPEG as the training data looked: (size, size) uint8, white on black.

    Returns
    -------
    pixels : ndarray, uint8, shape (size, size)
    inverted : bool
        True when the image had a light background and was inverted.
    """
    if not os.path.isfile(path):
        raise CLIError(f"image '{path}' does not exist")
    try:
        from PIL import Image
    except ImportError:
        raise CLIError("predict needs Pillow to read images (pip install Pillow)") from None
    from .tools.images import DEFAULT_MAX_PIXELS, on_white_paper, open_image

    try:
        with open_image(path, max_pixels or DEFAULT_MAX_PIXELS) as img:
            img.load()
            gray = on_white_paper(img).convert("L")
            # Shrinking averages each output pixel's area (no aliasing, no blur beyond it);
            # enlarging interpolates.
            shrink = gray.width >= size and gray.height >= size
            gray = gray.resize((size, size), Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR)
    except (OSError, ValueError, SyntaxError) as error:
        raise CLIError(f"cannot read image '{path}': {error}") from None
    pixels = np.asarray(gray, dtype=np.uint8)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    # MNIST-style data is a light object on a dark background; a photo of ink
    # on paper is the opposite, so invert it to match what the model saw.
    inverted = bool(border.mean() > 127)
    return (255 - pixels if inverted else pixels), inverted


def run_predict(args) -> int:
    """Classify image files with a trained checkpoint."""
    from ._state import no_grad

    if args.max_pixels < 1:
        raise CLIError(f"--max-pixels must be at least 1, got {args.max_pixels}")

    model, ckpt = _load_model(args.checkpoint)
    data_cfg = ckpt.config.get("data", {})
    dataset = data_cfg.get("dataset", "sample")
    settings = data_cfg.get("transform") or transform_settings(dataset if dataset in DATASETS else "sample")
    names = data_cfg.get("classes") or class_names(dataset if dataset in DATASETS else "sample")
    transform = build_transform(settings)
    from .tools.images import unusual_image

    batch, notes = [], []
    for path in args.images:
        pixels, inverted = load_image(path, int(settings.get("image_size", 28)), args.max_pixels)
        batch.append(transform(pixels))
        notes.append("  (light background: inverted to light-on-dark, like the training images)" if inverted else "")
        reason = unusual_image(pixels)
        if reason:
            print(f"numconv predict: warning: '{path}' is unlike the training images: {reason}; the answer below "
                  "may mean little", file=sys.stderr)
    with no_grad():
        logits = np.asarray(model(np.stack(batch)), dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    top = max(1, min(args.top, probs.shape[1]))
    for path, p, note in zip(args.images, probs, notes):
        order = np.argsort(-p, kind="stable")[:top]
        best = ", ".join(f"{names[i] if i < len(names) else i} ({100 * p[i]:.1f}%)" for i in order)
        print(f"{path}: {best}{note}")
    return 0


# ---------------------------------------------------------------------------- the table
COMMANDS = {
    "train": (add_train_arguments, run_train),
    "eval": (add_eval_arguments, run_eval),
    "predict": (add_predict_arguments, run_predict),
}


def _discover_commands() -> None:
    """Add the subcommands that live in ``numconv/commands/<name>.py``.

    Each such module defines ``add_arguments(parser)`` and ``run(args)``; the
    module ``check_exercise`` becomes the command ``check-exercise``. Command
    modules import their heavy dependencies inside ``run``, so building the
    parser stays fast.
    """
    import importlib
    import pkgutil

    from . import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        COMMANDS.setdefault(info.name.replace("_", "-"), (module.add_arguments, module.run))


def register(name: str, add_arguments, run) -> None:
    """Add a subcommand: ``add_arguments(parser)`` and ``run(args) -> exit status``.

    The first line of ``run``'s docstring is the help text.
    """
    COMMANDS[name] = (add_arguments, run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="numconv", description="Train, evaluate and use convolutional networks written in NumPy.")
    from . import __version__

    _discover_commands()
    parser.add_argument("--version", action="version", version=f"numconv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (add_arguments, run) in COMMANDS.items():
        summary = (run.__doc__ or "").strip().splitlines()[0] if run.__doc__ else None
        p = sub.add_parser(name, help=summary, description=summary)
        add_arguments(p)
        p.set_defaults(_run=run)
    return parser


def main(argv=None) -> int:
    """Run the ``numconv`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    Every failure ends in one line on stderr: status 2 for an expected one
    (bad flags, missing or corrupt files, a full disk, too little memory),
    status 1 for an unexpected error, which is a bug in numconv
    (``NUMCONV_TRACEBACK=1`` shows its traceback).
    """
    from .checkpoint import CheckpointError

    args = build_parser().parse_args(argv)
    where = f"numconv {args.command}"
    try:
        return int(args._run(args) or 0)
    except (CLIError, CheckpointError, FloatingPointError) as error:
        print(f"{where}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`numconv summary lenet5 | head`): stop quietly,
        # and point stdout at /dev/null so the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:  # a full disk, a read-only or vanished folder, a permission
        name = f" '{error.filename}'" if error.filename else ""
        print(f"{where}: error: cannot use{name}: {error.strerror or _one_line(error)}", file=sys.stderr)
        return 2
    except MemoryError as error:
        print(f"{where}: error: out of memory ({_one_line(error)}); try a smaller batch, input or image",
              file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - a bug: still one line, unless asked for the traceback
        if os.environ.get("NUMCONV_TRACEBACK", "") not in ("", "0"):
            raise
        print(f"{where}: unexpected error (a bug in numconv; NUMCONV_TRACEBACK=1 shows where): "
              f"{type(error).__name__}: {_one_line(error)}", file=sys.stderr)
        return 1


def _one_line(error) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
