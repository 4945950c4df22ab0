"""The installed skeletons: where they are and how a learner gets a copy of their own."""

from __future__ import annotations

import os
import shutil

__all__ = ["SKELETONS", "skeleton_path", "copy_skeletons"]

SKELETONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "skeletons")


def skeleton_path(name: str) -> str:
    """The installed skeleton of exercise ``name`` (read-only: copy it with ``copy_skeletons`` first)."""
    from .cases import get_exercise

    return os.path.join(SKELETONS, get_exercise(name).skeleton)


def copy_skeletons(folder, names=None, *, overwrite: bool = False) -> list:
    """Copy the skeletons into ``folder`` (created if needed) and return the new files' paths.

    Parameters
    ----------
    folder : str or path
    names : list of str, optional
        Exercise names (default: every exercise).
    overwrite : bool
        Replace files that exist already. By default an existing file is an
        error (it may hold the learner's work), and nothing is copied.
    """
    from .cases import EXERCISES, get_exercise

    exercises = [get_exercise(name) for name in (names or list(EXERCISES))]
    targets = [(os.path.join(SKELETONS, ex.skeleton), os.path.join(os.fspath(folder), ex.skeleton))
               for ex in exercises]
    existing = [target for _, target in targets if os.path.exists(target)]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''} (your "
                              "work?); choose another folder, or overwrite them with --force")
    os.makedirs(folder, exist_ok=True)
    for source, target in targets:
        shutil.copyfile(source, target)
    return [target for _, target in targets]
