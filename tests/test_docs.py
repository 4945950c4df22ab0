"""The documentation runs: every ```python block of README.md and docs/**/*.md, and every link.

Rules for writing docs that this file enforces:

- The ```python blocks of one Markdown file run in order, in one fresh
  namespace, with the repository root as the working directory and
  matplotlib's non-interactive backend (Agg). One test case per file.
- A block directly preceded by ``<!-- no-run: why -->`` is skipped. Use it
  only for blocks that need the network or a full data set, and say why.
  Where torch is not installed, a file whose block imports it is skipped
  from that block on (CI installs torch and fails on such skips).
- A fenced block whose info string is ``output`` right after a ```python
  block is what that block prints. The test compares them: text exactly
  (trailing spaces ignored), numbers to within display precision, and
  numbers below 1e-7 (rounding noise such as a float64 relative error) only
  by both being tiny. So a doc shows real output, and the output stays real.
- Every relative link and image (Markdown or ``<img src=...>``) points at an
  existing file, and a ``#fragment`` into a Markdown file names one of its
  headings.

The exercise skeletons (``numconv/exercises/skeletons/*.py``) are not Markdown and are not run here.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import traceback
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC_FILES = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
_NO_RUN = re.compile(r"^\s*<!--\s*no-run\b.*-->\s*$")
_MD_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_SRC = re.compile(r"<(?:img|a|source)\b[^>]*?\b(?:src|href)\s*=\s*\"([^\"]+)\"", re.IGNORECASE)
_NUMBER = re.compile(r"[-+]?(?:\d+(?:,\d{3})*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


class Block(NamedTuple):
    """A fenced code block: its language, first code line (1-based), source, and skip flag."""

    language: str
    line: int
    source: str
    skip: bool


def parse_blocks(text: str) -> list:
    """Every fenced block of a Markdown text, in order.

    Parameters
    ----------
    text : str
        The Markdown source.

    Returns
    -------
    list of Block
        ``line`` is the 1-based line number of the block's first code line.
    """
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, language = match.groups()
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        body, j = [], i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence) and not lines[j].strip()[len(fence):].strip()):
            line = lines[j]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            j += 1
        blocks.append(Block(language.lower(), i + 2, "\n".join(body) + "\n", bool(_NO_RUN.match(previous))))
        i = j + 1
    return blocks


def runnable(blocks: list) -> list:
    """The python blocks to run, each paired with the ``output`` block that follows it (or None)."""
    pairs = []
    for k, block in enumerate(blocks):
        if block.language not in ("python", "py") or block.skip:
            continue
        following = blocks[k + 1] if k + 1 < len(blocks) else None
        expected = following if following is not None and following.language == "output" else None
        pairs.append((block, expected))
    return pairs


def _numbers_agree(doc: str, got: str) -> bool:
    """Two printed numbers agree: integers exactly, others to the precision the doc shows them with."""
    a, b = float(doc.replace(",", "")), float(got.replace(",", ""))
    if not re.search(r"[.eE]", doc):  # an integer (a shape, a count) must match exactly
        return a == b
    if a == b or (abs(a) < 1e-7 and abs(b) < 1e-7):
        return True
    mantissa = doc.replace(",", "").lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(doc.lower().split("e")[1]) if "e" in doc.lower() else 0
    # A unit in the last printed place; none for NumPy's "5." (a whole number printed as a float).
    last_place = 0.0 if mantissa.endswith(".") else 10.0 ** (exponent - decimals)
    return abs(a - b) <= max(1e-3 * max(abs(a), abs(b)), 1.01 * last_place)


def outputs_agree(doc: str, got: str) -> str | None:
    """None when ``got`` matches the documented output ``doc``, else a description of the first difference."""
    doc_lines = [line.rstrip() for line in doc.strip("\n").splitlines()]
    got_lines = [line.rstrip() for line in got.strip("\n").splitlines()]
    if len(doc_lines) != len(got_lines):
        return f"the doc shows {len(doc_lines)} lines of output, the code printed {len(got_lines)}"
    for number, (d, g) in enumerate(zip(doc_lines, got_lines), 1):
        d_text, g_text = _NUMBER.split(d), _NUMBER.split(g)
        d_nums, g_nums = _NUMBER.findall(d), _NUMBER.findall(g)
        same_text = [t.split() for t in d_text] == [t.split() for t in g_text]
        if not same_text or len(d_nums) != len(g_nums) or not all(map(_numbers_agree, d_nums, g_nums)):
            return f"output line {number} differs:\n  doc:     {d}\n  printed: {g}"
    return None


# ---------------------------------------------------------------------------------------------- running the blocks
def _file_id(path: Path) -> str:
    return str(path.relative_to(REPO))


@pytest.fixture
def docs_environment(monkeypatch, tmp_path):
    """Repository root as cwd, matplotlib's Agg backend, scratch files under pytest's tmp_path."""
    import tempfile

    monkeypatch.chdir(REPO)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # tempfile.mkdtemp() in a doc lands here
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if "matplotlib" in sys.modules:
        import matplotlib

        matplotlib.use("Agg")
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.mark.parametrize("path", DOC_FILES, ids=_file_id)
def test_python_blocks_run(path, docs_environment):
    """Run a file's python blocks in order in one namespace; check their documented output."""
    name = _file_id(path)
    namespace = {"__name__": "__docs__", "__file__": str(path)}
    for block, expected in runnable(parse_blocks(path.read_text(encoding="utf-8"))):
        # Leading newlines make traceback line numbers those of the Markdown file.
        code = compile("\n" * (block.line - 1) + block.source, name, "exec")
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(code, namespace)
        except Exception as error:
            if isinstance(error, ModuleNotFoundError) and error.name == "torch":
                # Only the interop examples need torch; CI installs it and fails on torch skips.
                pytest.skip(f"{name}: the python block at line {block.line} needs torch, which is not installed")
            pytest.fail(f"{name}: the python block starting at line {block.line} failed:\n"
                        f"{traceback.format_exc()}\nit had printed:\n{printed.getvalue()}", pytrace=False)
        if expected is not None:
            difference = outputs_agree(expected.source, printed.getvalue())
            if difference:
                pytest.fail(f"{name}: the output block at line {expected.line} is not what the python block at "
                            f"line {block.line} prints; {difference}", pytrace=False)


# ---------------------------------------------------------------------------------------------- links
def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*|_(?=\w*_)|\[|\]\([^)]*\)", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set:
    anchors, in_code = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            anchors.add(_slug(line.lstrip("#")))
    return anchors


def links(text: str) -> list:
    """(line number, target) of every link and image outside code blocks and inline code."""
    found, in_code = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            continue
        line = re.sub(r"`[^`]*`", "", line)
        found += [(number, target) for target in _MD_LINK.findall(line) + _HTML_SRC.findall(line)]
    return found


@pytest.mark.parametrize("path", DOC_FILES, ids=_file_id)
def test_links_point_at_existing_files(path):
    broken = []
    for number, target in links(path.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto:
            continue
        file_part, _, fragment = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            shown = resolved.relative_to(REPO) if resolved.is_relative_to(REPO) else resolved
            broken.append(f"line {number}: {target} (no file {shown})")
        elif fragment and resolved.suffix == ".md" and fragment.lower() not in _anchors(resolved):
            broken.append(f"line {number}: {target} (no heading with anchor #{fragment} in {resolved.name})")
    assert not broken, f"{_file_id(path)} has broken links:\n" + "\n".join(broken)


# ---------------------------------------------------------------------------------------------- the checker itself
def test_parser_finds_blocks_lines_and_no_run_markers():
    text = "\n".join([
        "# Title",                      # 1
        "```python",                    # 2
        "x = 1",                        # 3
        "```",                          # 4
        "```output",                    # 5
        "1",                            # 6
        "```",                          # 7
        "<!-- no-run: needs the network -->",  # 8
        "",                             # 9
        "```python",                    # 10
        "download()",                   # 11
        "```",                          # 12
        "```bash",                      # 13
        "numconv train",                # 14
        "```",                          # 15
    ])
    blocks = parse_blocks(text)
    assert [(b.language, b.line, b.skip) for b in blocks] == [
        ("python", 3, False), ("output", 6, False), ("python", 11, True), ("bash", 14, False)]
    assert blocks[0].source == "x = 1\n"
    pairs = runnable(blocks)
    assert len(pairs) == 1 and pairs[0][1].source == "1\n"


def test_output_comparison_tolerates_rounding_noise_only():
    assert outputs_agree("loss 2.3026  err 1.2e-16\n", "loss 2.3026  err 3.4e-17") is None
    assert outputs_agree("value 0.1235", "value 0.1234") is None           # last printed digit
    assert outputs_agree("value 0.1235", "value 0.1245") is not None       # ten units of it
    assert outputs_agree("[-8. -8.]", "[-8. -7.]") is not None            # NumPy's whole numbers
    assert outputs_agree("shape (8, 6, 28, 28)", "shape (8, 6, 28, 27)") is not None
    assert outputs_agree("61,706 parameters", "61,706 parameters") is None
    assert outputs_agree("passed True", "passed False") is not None
    assert outputs_agree("a\nb", "a") is not None


def test_links_found_outside_code_only():
    text = "see [conv](convolution.md#im2col) and ![k](figures/k.png)\n`[not](a.md)`\n```\n[nor](b.md)\n```\n"
    assert links(text) == [(1, "convolution.md#im2col"), (1, "figures/k.png")]


def test_slug_matches_github():
    assert _slug(" Padding: 'same' with even kernels") == "padding-same-with-even-kernels"
    assert _slug(" im2col → one matrix product") == "im2col--one-matrix-product"
    assert _slug(" The `numconv gradcheck` command") == "the-numconv-gradcheck-command"


# ---------------------------------------------------------------------------------------------- the API page
def test_api_page_is_generated_from_the_code():
    """docs/api.md is exactly what scripts/make_api_docs.py writes, so every public name is listed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_api_docs", REPO / "scripts" / "make_api_docs.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    committed = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    generated = script.render()
    if committed != generated:
        import difflib

        diff = "".join(list(difflib.unified_diff(committed.splitlines(True), generated.splitlines(True),
                                                 "docs/api.md", "generated"))[:40])
        pytest.fail("docs/api.md is out of date: run  python scripts/make_api_docs.py\n" + diff, pytrace=False)
    import numconv

    for name in numconv.nn.__dict__:
        obj = getattr(numconv.nn, name)
        if not name.startswith("_") and isinstance(obj, type) and obj.__module__.startswith("numconv.nn"):
            assert f"**`{name}`**" in committed, f"numconv.nn.{name} is missing from docs/api.md"
