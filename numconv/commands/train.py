"""``numconv train``: train a classifier on (Fashion-)MNIST, with checkpoints to resume from.

::

    numconv train                         # LeNet-5 on the bundled Fashion-MNIST sample, under a minute, ~84 %
    numconv train --dataset mnist --download --epochs 10
"""

from __future__ import annotations

import argparse
import os
import sys

from ._shared import (DATASETS, DEFAULT_LR, IMAGE_TO_IMAGE, IMAGENET_MODELS, NATIVE_28, SCHEDULERS, CLIError,
                      build_transform, class_names, criterion, load_dataset, transform_settings)


def add_arguments(p):
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
    p.add_argument("--scheduler", default=None, choices=SCHEDULERS,
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


def run(args) -> int:
    """Train a model and report its test accuracy."""
    import numconv

    from . import _train_plan as plan
    from ..data import DataLoader
    from ..models import _canonical, get_model
    from ..train import evaluate, fit

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
        from ..optim.lr_scheduler import CosineAnnealingLR

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
        fit(model, train_loader, criterion(), optimizer, args.epochs, val_loader=test_loader, scheduler=scheduler,
            out_dir=out, resume=args.resume, progress=not args.no_progress, config=config, on_resume=replan)
    except BaseException as error:  # Ctrl-C, also when it lands inside a numba kernel (see was_interrupted)
        from ._shared import was_interrupted

        if not was_interrupted(error):
            raise
        print(f"\ninterrupted: the last finished epoch is saved in {os.path.join(out, 'last.npz')}; "
              "run the same command with --resume to continue", file=sys.stderr)
        return 130
    metrics = evaluate(model, test_loader, criterion())
    from ..tools.viz import save_run_figures  # curves.png and feature_maps.png (a note if matplotlib is missing)

    save_run_figures(out, model, test_set[0][0], class_names=config["data"]["classes"])
    from ..tools.report.predictions import save_predictions  # for `numconv report`: one more pass, no training

    save_predictions(out, model, test_loader, test_set)
    print(f"test accuracy {100 * metrics['accuracy']:.2f}% (loss {metrics['loss']:.4f}) on {metrics['n']:,} images"
          f" | checkpoints: {os.path.join(out, 'last.npz')}, {os.path.join(out, 'best.npz')}")
    return 0


def _model_kwargs(model: str, dataset: str) -> dict:
    """Constructor arguments that fit a 1 x 32 x 32, 10-class data set."""
    from ..models import _canonical

    key = _canonical(model)
    if key is None:
        from ..models import available

        raise CLIError(f"unknown model {model!r}; available: {', '.join(available())}")
    if key in IMAGENET_MODELS:
        side = 227 if key == "alexnet" else 224  # (AlexNet as in the paper: 227, so its first layer gives 55)
        raise CLIError(f"{key} is an ImageNet network ({side} x {side} colour input); the data sets here are 28 x 28 "
                       f"grayscale: train {', '.join(NATIVE_28)}, lenet5, simplecnn or vgg instead "
                       f"(`numconv summary {key}` shows its layers)")
    if key in IMAGE_TO_IMAGE:
        raise CLIError(f"{key} maps images to images, and numconv train fits classifiers; "
                       "scripts/train_denoise.py trains the autoencoder to remove noise")
    kwargs = {"num_classes": len(DATASETS[dataset][2])}
    if key in ("simplecnn", "vgg"):
        kwargs.update(in_channels=1, input_size=32)
    elif key in NATIVE_28:
        kwargs.update(in_channels=1, input_size=28)
    return kwargs


def _build_optimizer(name: str, params, lr: float, momentum: float, weight_decay):
    from .. import optim

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
