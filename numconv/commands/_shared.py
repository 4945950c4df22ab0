"""What the subcommands share: ``CLIError``, the error every command raises for a mistake of its user; the
``list`` / ``copy FOLDER`` actions of ``exercises`` and ``notebooks``; and, for ``train``, ``eval`` and ``predict``,
the data sets, their preprocessing, the loss and the model rebuilt from a checkpoint.
"""

from __future__ import annotations

import os

import numpy as np


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def add_list_and_copy(parser, what: str, copied: str | None = None):
    """Give ``parser`` the actions ``list`` (the ``what``) and ``copy FOLDER [--force]`` (the ``copied``).

    Returns the ``copy`` sub-parser, for arguments of its own.
    """
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("list", help=f"list the {what}", description=f"List the {what}.")
    copied = copied or what
    copy = actions.add_parser("copy", help=f"copy the {copied} into a folder of your own",
                              description=f"Copy the {copied} into a folder of your own.")
    copy.add_argument("folder", help="where to put the copies (created if needed)")
    copy.add_argument("--force", action="store_true", help="overwrite files that exist already")
    return copy


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
SCHEDULERS = ("none", "cosine")  # --scheduler, and what a checkpoint may hold


# Models that take the 28 x 28 images as they are (the others were designed for 32 x 32: padded by 2).
NATIVE_28 = ("resnet8", "resnet20", "googlenetmini")
# ImageNet-sized networks: `numconv summary` describes them, but they do not fit 28 x 28 images.
IMAGENET_MODELS = ("alexnet", "zfnet", "vgg11", "vgg16", "resnet18", "resnet34")
# Image-to-image networks: trained on images, not labels (scripts/train_denoise.py trains the autoencoder).
IMAGE_TO_IMAGE = ("autoencoder", "unetmini")


def transform_settings(dataset: str, model: str = "lenet5") -> dict:
    """The preprocessing recorded in a checkpoint: 28 x 28 grayscale, padded to 32 unless the model takes 28,
    normalised."""
    mean, std, _ = DATASETS[dataset]
    return {"image_size": 28, "pad": 0 if model in NATIVE_28 else 2, "mean": [mean], "std": [std]}


def build_transform(settings: dict):
    """``Compose([ToFloat(), Pad(pad), Normalize(mean, std)])`` from recorded settings."""
    from ..data import Compose, Normalize, Pad, ToFloat

    steps = [ToFloat()]
    if settings.get("pad"):
        steps.append(Pad(int(settings["pad"])))
    steps.append(Normalize(settings["mean"], settings["std"]))
    return Compose(steps)


def run_model(model, images, checkpoint_path):
    """The model's output (no gradients) on ``images`` (N, C, H, W) made by the checkpoint's own data settings.

    A checkpoint whose recorded settings make images its model cannot take (an edited ``pad`` or
    ``image_size``: 28 x 28 images for LeNet-5's 32 x 32) is refused with one clear ``CLIError``.
    """
    from .. import no_grad

    try:
        with no_grad():
            return model(images)
    except ValueError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CLIError(f"checkpoint '{checkpoint_path}': its model cannot take the {images.shape[2]} x "
                       f"{images.shape[3]} images its data settings make ({first_line})") from None


def load_dataset(name: str, train: bool, transform, data_dir=None, download=False, limit=None):
    """Build a data set by its command-line name, turning a failure into one clear ``CLIError``."""
    from .. import data

    split = "training" if train else "test"
    try:
        dataset = data.get_dataset(name, train=train, root=data_dir, download=download, transform=transform)
    except (OSError, ValueError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if isinstance(error, ValueError):  # a file was found but is damaged: --download never re-fetches it
            hint = " (the file is damaged or not what it should be: delete or replace it)"
        else:
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


def criterion():
    """The loss every classifier here is trained and evaluated with."""
    from ..nn import CrossEntropyLoss

    return CrossEntropyLoss()


def load_model(path):
    """(model, checkpoint) rebuilt from a checkpoint's recorded config.

    The config is read and checked first, without reading any array; the
    model it describes is built; then the checkpoint is loaded into it, so
    every array is checked against the model before it is inflated.
    """
    from ..checkpoint import CheckpointError, load_checkpoint, read_config
    from ._run_config import check_run_config
    from ..models import get_model

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


def refuse_to_overwrite(output, command: str, inputs=(), keep_unless_suffix=None, within=None) -> None:
    """Refuse (CLIError) to write ``output`` over a file the command reads or another file worth keeping.

    ``inputs``: files the command reads (a checkpoint): never overwritten. ``keep_unless_suffix`` with
    ``within``: an existing file inside the folder ``within`` is overwritten only if its name ends with one
    of those suffixes (``report -o`` may replace an old page, never the run's checkpoints or history).
    """
    import os

    if output is None or not os.path.isfile(output):
        return
    for path in inputs:
        if path is not None and os.path.exists(path) and os.path.samefile(output, path):
            raise CLIError(f"the output '{output}' is the file {command} reads; write it under another name")
    if keep_unless_suffix and within is not None:
        inside = os.path.commonpath([os.path.abspath(output), os.path.abspath(within)]) == os.path.abspath(within)
        if inside and not output.lower().endswith(tuple(keep_unless_suffix)):
            raise CLIError(f"the output '{output}' would replace a file of the run in '{within}'; give a name "
                           f"ending in {' or '.join(keep_unless_suffix)}, or write it elsewhere")


def was_interrupted(error: BaseException) -> bool:
    """True for Ctrl-C: a ``KeyboardInterrupt``, or an error raised because of one.

    A Ctrl-C that lands inside a numba kernel comes back as a ``SystemError`` ("returned a result with an
    exception set") with the ``KeyboardInterrupt`` as its cause: still an interruption, not a bug.
    """
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def require_file(path, what: str = "") -> None:
    """Refuse (CLIError) a ``path`` that is not a file: "... does not exist", or "... is not a file" (a folder)."""
    import os

    if not os.path.isfile(path):
        state = "is not a file" if os.path.exists(path) else "does not exist"
        raise CLIError(f"{what} '{path}' {state}" if what else f"'{path}' {state}")
