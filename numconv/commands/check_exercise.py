"""``numconv check-exercise FILE``: check the exercise functions written in a student's file.

::

    numconv check-exercise docs/exercises/conv_backward.py
    numconv check-exercise my_layers.py --exercise conv2d_forward --exercise im2col

The file is loaded as a module (its ``if __name__ == "__main__":`` block does
not run); every function in it named like an exercise
(``numconv.exercises.EXERCISES``) is checked. Exit status 0 if all pass, 1
if one fails.
"""

from __future__ import annotations

import os

from ._shared import CLIError, require_file


def add_arguments(parser) -> None:
    parser.add_argument("file", help="a Python file defining one or more exercise functions")
    parser.add_argument("--exercise", action="append", default=None, metavar="NAME",
                        help="check only this exercise (repeatable; default: every exercise function in FILE)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the random test inputs (default 0)")


def run(args) -> int:
    """Check the exercise functions in a student's file (conv2d_backward, im2col, ...)."""
    from ..exercises import EXERCISES, check

    module = _load(args.file)
    names = args.exercise or [name for name in EXERCISES if callable(getattr(module, name, None))]
    unknown = [name for name in names if name not in EXERCISES]
    if unknown:
        raise CLIError(f"unknown exercise {', '.join(map(repr, unknown))}; the exercises are "
                       f"{', '.join(EXERCISES)}")
    if not names:
        raise CLIError(f"'{args.file}' defines none of the exercise functions ({', '.join(EXERCISES)})")
    missing = [name for name in names if not callable(getattr(module, name, None))]
    if missing:
        raise CLIError(f"'{args.file}' has no function {', '.join(missing)}")
    results = []
    for i, name in enumerate(names):
        if i:
            print()
        results.append(check(getattr(module, name), name, seed=args.seed))
    if len(results) > 1:
        passed = sum(bool(r) for r in results)
        print(f"\n{passed} of {len(results)} exercises passed")
    return 0 if all(results) else 1


def _load(path: str):
    """Import the file at ``path`` as a module, turning failures into one clear line."""
    import importlib.util
    import sys
    import traceback

    require_file(path)
    name = "_numconv_exercise_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CLIError(f"cannot load '{path}' as Python (is it a .py file?)")
    module = importlib.util.module_from_spec(spec)
    # As `python FILE` would: the file's folder is importable (for its helper modules), and
    # the module is registered while it runs (dataclasses and pickling look it up there).
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise CLIError(f"'{path}' line {error.lineno}: SyntaxError: {error.msg}") from None
    except SystemExit as error:  # sys.exit() at import: exiting 0 there would read as "every check passed"
        frame = traceback.extract_tb(error.__traceback__)[-1]
        raise CLIError(f"importing '{path}' called sys.exit({error.code!r}) (line {frame.lineno} of {frame.filename}) "
                       "before any check ran; keep top-level code under `if __name__ == \"__main__\":`") from None
    except Exception as error:  # the file itself fails at import: say where
        frame = traceback.extract_tb(error.__traceback__)[-1]
        raise CLIError(f"importing '{path}' raised {type(error).__name__}: {error} (line {frame.lineno} of "
                       f"{frame.filename})") from None
    finally:
        sys.modules.pop(name, None)
        if folder in sys.path:
            sys.path.remove(folder)
    return module
