"""``numconv notebooks list`` and ``numconv notebooks copy DIR``: the docs' reading path as Jupyter notebooks.

::

    numconv notebooks copy my-notebooks     # then: jupyter lab my-notebooks
"""

from __future__ import annotations

from ._shared import CLIError, add_list_and_copy


def add_arguments(parser) -> None:
    add_list_and_copy(parser, "notebooks")


def run(args) -> int:
    """List the docs' reading path as Jupyter notebooks, or copy them into a folder to open."""
    from ..tools.notebooks import READING_PATH, copy_notebooks

    if args.action == "list":
        for page, name in READING_PATH.items():
            print(f"{name + '.ipynb':<26}  from docs/{page}.md")
        print("\nCopy them with: numconv notebooks copy DIR")
        return 0
    try:
        copied = copy_notebooks(args.folder, overwrite=args.force)
    except FileExistsError as error:
        raise CLIError(str(error)) from None
    for path in copied:
        print(path)
    print(f"\n{len(copied)} notebooks copied. Open them with `jupyter lab {args.folder}` (or jupyter notebook); "
          "running them needs Jupyter (pip install jupyterlab, or nbclient and ipykernel to run them headless).")
    return 0
