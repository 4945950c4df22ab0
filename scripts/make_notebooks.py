"""Write numconv/notebooks/*.ipynb from the reading path's pages in docs/ (the Markdown is the one source).

    python scripts/make_notebooks.py           # regenerate every notebook
    python scripts/make_notebooks.py --check   # exit 1 if a notebook is out of date (what the tests check)
"""

from __future__ import annotations

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from numconv.tools.notebooks import NOTEBOOKS, READING_PATH, markdown_to_notebook, notebook_text  # noqa: E402


def expected() -> dict:
    """``{notebook file name: its text}`` made from the docs."""
    made = {}
    for page, name in READING_PATH.items():
        with open(os.path.join(REPO, "docs", f"{page}.md"), encoding="utf-8") as f:
            made[f"{name}.ipynb"] = notebook_text(markdown_to_notebook(f.read(), page))
    return made


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the notebooks are up to date")
    args = parser.parse_args(argv)
    stale = []
    for name, text in expected().items():
        path = os.path.join(NOTEBOOKS, name)
        current = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if current != text:
            stale.append(name)
            if not args.check:
                os.makedirs(NOTEBOOKS, exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
    extra = sorted(set(f for f in os.listdir(NOTEBOOKS) if f.endswith(".ipynb")) - set(expected()))
    if args.check:
        for name in stale + extra:
            print(f"{name} is out of date: run python scripts/make_notebooks.py")
        return 1 if stale or extra else 0
    for name in extra:
        os.remove(os.path.join(NOTEBOOKS, name))
    print(f"{len(stale)} notebook(s) written, {len(extra)} removed, into {os.path.relpath(NOTEBOOKS, REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
