"""The notebooks are made from the docs (and up to date), valid, copyable, and every one runs top to bottom."""

import json
import os
import subprocess
import sys

import pytest

from numconv.cli import main
from numconv.tools.notebooks import NOTEBOOKS, READING_PATH, copy_notebooks, markdown_to_notebook

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = list(READING_PATH.values())


def _load(name):
    with open(os.path.join(NOTEBOOKS, f"{name}.ipynb"), encoding="utf-8") as f:
        return json.load(f)


def test_notebooks_are_made_from_the_current_docs():
    result = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "make_notebooks.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_notebook_has_the_pages_code_cells_in_order_and_no_outputs():
    text = "# Title\n\nSome text, see [the other page](backprop.md#max-pooling).\n\n```python\nx = 1\n```\n\n" \
           "```output\n1\n```\n\n```bash\nnumconv train\n```\n\n<!-- no-run: needs the network -->\n```python\n" \
           "download()\n```\n\n![A picture](figures/a.png)\n\n```python\nprint(x + 1)\n```\n"
    notebook = markdown_to_notebook(text, "convolution")
    kinds = [cell["cell_type"] for cell in notebook["cells"]]
    assert kinds == ["markdown", "markdown", "code", "markdown", "code"]
    code = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    assert code == ["x = 1", "print(x + 1)"]
    prose = "".join(notebook["cells"][1]["source"]) + "".join(notebook["cells"][3]["source"])
    assert "(backprop.ipynb#max-pooling)" in prose and "numconv train" in prose and "download()" in prose
    assert "docs/figures/a.png" in prose and "\n1\n" not in prose  # the expected output is left out


def test_every_notebook_is_valid():
    nbformat = pytest.importorskip("nbformat")
    for name in NAMES:
        nbformat.validate(nbformat.reads(json.dumps(_load(name)), as_version=4))


def test_notebooks_copy(tmp_path, capsys):
    assert main(["notebooks", "copy", str(tmp_path / "nb")]) == 0
    assert sorted(os.listdir(tmp_path / "nb")) == sorted(f"{n}.ipynb" for n in NAMES)
    assert "jupyter lab" in capsys.readouterr().out
    assert main(["notebooks", "copy", str(tmp_path / "nb")]) == 2
    assert "already exist" in capsys.readouterr().err
    assert len(copy_notebooks(tmp_path / "nb", overwrite=True)) == len(NAMES)
    assert main(["notebooks", "list"]) == 0
    assert "sanity-checks.ipynb" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, tmp_path):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.reads(json.dumps(_load(name)), as_version=4)
    # Run where a learner would put it (a folder of its own), with this checkout's numconv.
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env={**os.environ, "PYTHONPATH": REPO, "MPLBACKEND": "Agg"})
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
