"""The skeletons: each exercise's own text, installed, and the learner's file written from it.

A skeleton source in ``numconv/exercises/skeletons/`` holds only what is its
exercise's own: the module docstring with the task and the shapes, and the
function to write, with its ``TODO`` hints. What every skeleton says the
same way is written here, once: the docstring's "Check it" section and the
``__main__`` block that runs the checker. ``skeleton_text`` puts the two
together into the file a learner works in; ``copy_skeletons`` (and
``numconv exercises copy DIR``) writes it.
"""

from __future__ import annotations

import ast
import os

__all__ = ["SKELETONS", "skeleton_path", "skeleton_text", "copy_skeletons"]

SKELETONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "skeletons")

# The end of every skeleton's docstring: how to run the check ({file} is the skeleton's file name).
_CHECK_IT = """
Check it
--------
    python {file}
    numconv check-exercise {file}
"""

# The end of every skeleton: running the file checks the function ({name} is the exercise's name, which is also
# the function's).
_RUN_THE_CHECK = """

if __name__ == "__main__":
    from numconv.exercises import check

    raise SystemExit(0 if check({name}, "{name}") else 1)
"""


def skeleton_path(name: str) -> str:
    """The path of the installed skeleton source of exercise ``name`` (a key of ``EXERCISES``).

    The source is read-only, and holds the task, the shapes and the function
    to write, without the lines that run the check (``copy_skeletons`` writes
    the learner's file); it can still be loaded and checked as it is.
    """
    from .cases import get_exercise

    return os.path.join(SKELETONS, get_exercise(name).skeleton)


def skeleton_text(name: str) -> str:
    """The learner's file of exercise ``name``: its skeleton source, told how to check itself.

    Parameters
    ----------
    name : str
        An exercise's name (a key of ``EXERCISES``).

    Returns
    -------
    str
        The source with the "Check it" section at the end of its docstring
        and a ``__main__`` block that runs ``check`` on the function.
    """
    from .cases import get_exercise

    exercise = get_exercise(name)
    with open(skeleton_path(name), encoding="utf-8") as source:
        lines = source.read().splitlines(keepends=True)
    docstring = ast.parse("".join(lines)).body[0]
    if not (isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)):
        raise ValueError(f"the skeleton {exercise.skeleton} must start with its docstring (the task)")
    closing = docstring.end_lineno - 1  # the line with the closing quotes
    check_it = _CHECK_IT.format(file=exercise.skeleton)
    body = "".join(lines[:closing]) + check_it + "".join(lines[closing:])
    return body.rstrip("\n") + "\n" + _RUN_THE_CHECK.format(name=exercise.name)


def copy_skeletons(folder, names=None, *, overwrite: bool = False) -> list:
    """Write the learner's files of the skeletons into ``folder`` (created if needed).

    Parameters
    ----------
    folder : str or path
    names : list of str, optional
        Exercise names (default: every exercise).
    overwrite : bool
        Replace files that exist already. By default an existing file is an
        error (it may hold the learner's work), and nothing is written.

    Returns
    -------
    list of str
        The paths of the new files.
    """
    from .cases import EXERCISES, get_exercise

    exercises = [get_exercise(name) for name in (names or list(EXERCISES))]
    targets = [(ex.name, os.path.join(os.fspath(folder), ex.skeleton)) for ex in exercises]
    existing = [target for _, target in targets if os.path.exists(target)]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''} (your "
                              "work?); choose another folder, or overwrite them with --force")
    os.makedirs(folder, exist_ok=True)
    for name, target in targets:
        with open(target, "w", encoding="utf-8") as file:
            file.write(skeleton_text(name))
    return [target for _, target in targets]
