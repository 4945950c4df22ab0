"""The pages of the reading path as Jupyter notebooks, made from the same Markdown as the docs.

``markdown_to_notebook(text)`` turns a docs page into a notebook: each
```python block becomes a code cell (in order, as the docs tests run them),
the text between becomes Markdown cells, and the ```output blocks are left
out (the notebook prints its own). ``scripts/make_notebooks.py`` writes
``numconv/notebooks/*.ipynb`` from ``docs/``, and a test checks that they
are up to date, so the Markdown stays the one source. ``copy_notebooks(dir)``
(``numconv notebooks copy DIR``) puts copies where a learner can open them.
Plain JSON: no Jupyter package is needed to make or copy them, only to run them.
"""

from __future__ import annotations

import json
import os
import re
import shutil

__all__ = ["READING_PATH", "NOTEBOOKS", "markdown_to_notebook", "notebook_text", "copy_notebooks"]

# docs page (without .md) -> notebook name, in reading order
READING_PATH = {
    "convolution": "convolution",
    "backprop": "backprop",
    "writing-models": "writing-models",
    "gradcheck": "gradcheck",
    "exercises/README": "exercises",
    "training-lenet5": "training-lenet5",
    "pictures": "pictures",
    "sanity-checks": "sanity-checks",
    "summary-and-explain": "summary-and-explain",
}
NOTEBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks")

_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
_NO_RUN = re.compile(r"^\s*<!--\s*no-run\b.*-->\s*$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_LINK = re.compile(r"\]\(([\w./-]+)\.md(#[\w-]*)?\)")


def _blocks(lines: list) -> list:
    """``(kind, lines)`` pieces: ``"code"`` for a runnable python block, ``"output"``, or ``"text"``."""
    pieces, text, i = [], [], 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            text.append(lines[i])
            i += 1
            continue
        indent, fence, language = match.groups()
        j = i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence) and not lines[j].strip()[len(fence):].strip()):
            j += 1
        body = [line[len(indent):] if line.startswith(indent) else line.lstrip() for line in lines[i + 1:j]]
        previous = next((line for line in reversed(text) if line.strip()), "")
        if language.lower() in ("python", "py") and not _NO_RUN.match(previous):
            pieces += [("text", text), ("code", body)]
            text = []
        elif language.lower() == "output":
            pieces += [("text", text)]
            text = []
        else:
            text += lines[i:j + 1]
        i = j + 1
    return pieces + [("text", text)]


def _markdown(lines: list, folder: str) -> str:
    """A Markdown cell's text: links to other pages point at their notebooks, pictures at the docs."""
    text = "\n".join(lines).strip("\n")
    text = _IMAGE.sub(lambda m: f"*[Picture: {m.group(1)}; see `docs/{os.path.normpath(os.path.join(folder, m.group(2)))}` "
                                "in the numconv repository, or run the code below to draw it.]*", text)

    def link(match):
        page = os.path.normpath(os.path.join(folder, match.group(1)))
        name = READING_PATH.get(page)
        fragment = match.group(2) or ""
        return f"]({name}.ipynb{fragment})" if name else f"](docs/{page}.md{fragment})"  # a page with no notebook

    return _LINK.sub(link, text)


def _cell(kind: str, source: str, index: int) -> dict:
    lines = source.splitlines(keepends=True)
    cell = {"cell_type": kind, "id": f"cell-{index}", "metadata": {}, "source": lines}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def markdown_to_notebook(text: str, page: str) -> dict:
    """The notebook (nbformat 4 JSON, as a dict) of the docs page ``page`` (``"backprop"``) with Markdown ``text``."""
    folder = os.path.dirname(page)
    cells = [_cell("markdown", f"*This notebook is made from `docs/{page}.md` by `scripts/make_notebooks.py`: "
                               "edit the Markdown, not the notebook. Run the cells in order.*", 0)]
    for kind, lines in _blocks(text.splitlines()):
        source = "\n".join(lines).strip("\n") if kind == "code" else _markdown(lines, folder)
        if source.strip():
            cells.append(_cell("code" if kind == "code" else "markdown", source, len(cells)))
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_text(notebook: dict) -> str:
    """The file contents of a notebook: stable JSON, so regenerating it changes nothing."""
    return json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def copy_notebooks(folder, *, overwrite: bool = False) -> list:
    """Copy the installed notebooks into ``folder`` (created if needed) and return their paths.

    An existing file is an error unless ``overwrite`` (it may hold the learner's work), and then nothing is copied.
    """
    names = [f"{name}.ipynb" for name in READING_PATH.values()]
    targets = [os.path.join(os.fspath(folder), name) for name in names]
    existing = [t for t in targets if os.path.exists(t)]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; choose "
                              "another folder, or overwrite them with --force")
    os.makedirs(folder, exist_ok=True)
    for name, target in zip(names, targets):
        shutil.copyfile(os.path.join(NOTEBOOKS, name), target)
    return targets
