"""The ``numconv`` command: train, evaluate and use convolutional networks from the shell.

::

    numconv train                         # LeNet-5 on the bundled Fashion-MNIST sample, under a minute, ~84 %
    numconv train --dataset mnist --download --epochs 10
    numconv eval runs/lenet5-sample/best.npz
    numconv predict runs/lenet5-sample/best.npz shoe.png

Each subcommand is a pair of functions in ``COMMANDS``: one adds its
arguments to an ``argparse`` sub-parser, the other runs it and returns the
exit status. Each lives in its own module of ``numconv/commands/``
(``train.py``, ``eval.py``, ``predict.py``, ...), which this module finds by
name; ``register(name, add_arguments, run)`` adds one from elsewhere.

This module only parses arguments and prints; the work is done by
``numconv.models``, ``numconv.data``, ``numconv.train`` and
``numconv.checkpoint``. Expected failures (missing data, a corrupt
checkpoint, a missing image) print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from .commands import eval as _eval, predict as _predict, train as _train
# The names below were defined here before the commands got their own modules; they stay importable from here.
from .commands._shared import DATASETS, CLIError, build_transform, class_names, load_dataset, transform_settings
from .commands._shared import load_model as _load_model
from .commands._shared import was_interrupted
from .commands.eval import confusion_table
from .commands.predict import add_max_pixels_argument, load_image

__all__ = ["main", "register", "COMMANDS", "CLIError", "DATASETS"]


# ---------------------------------------------------------------------------- the table
COMMANDS = {
    "train": (_train.add_arguments, _train.run),
    "eval": (_eval.add_arguments, _eval.run),
    "predict": (_predict.add_arguments, _predict.run),
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
        if was_interrupted(error):  # a Ctrl-C that landed inside a numba kernel
            print(f"{where}: interrupted", file=sys.stderr)
            return 130
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
