"""Write docs/api.md, numconv's API reference, from the code itself.

    python scripts/make_api_docs.py            # (re)write docs/api.md
    python scripts/make_api_docs.py --check    # exit 1 if docs/api.md is not what the code gives

Every public name of every public module is listed with its signature
(``inspect.signature``) and the first line of its docstring, so the page
cannot drift away from the code: ``tests/test_docs.py`` fails when the
committed page differs from what this script writes.

A module's public names are its ``__all__``; a package without one (``nn``,
``functional``, ``reference``) is the union of its submodules' ``__all__``,
listed family by family. Names that cannot be imported yet (a lazily loaded
tool that is not installed) are left out with a note on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import re
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

OUT = REPO / "docs" / "api.md"

# (module, what it is for): the sections of the page, in reading order.
SECTIONS = [
    ("numconv", "The top-level package: what ``import numconv`` gives you."),
    ("numconv.nn", "Layers, containers and losses (PyTorch's names, arguments and ``state_dict`` keys)."),
    ("numconv.functional", "The math: every op is ``op(x, ...) -> (out, cache)`` and ``op_backward(dout, cache)``."),
    ("numconv.init", "Weight initialisers, as ``torch.nn.init``."),
    ("numconv.optim", "Optimisers, step for step those of ``torch.optim``."),
    ("numconv.optim.lr_scheduler", "Learning-rate schedules, as ``torch.optim.lr_scheduler``."),
    ("numconv.data", "Data sets, the data loader and transforms."),
    ("numconv.models", "Ready-made networks."),
    ("numconv.train", "The training loop."),
    ("numconv.checkpoint", "Checkpoints: atomic ``.npz`` files, no pickles."),
    ("numconv.interop", "Conversion to and from PyTorch modules (imports torch on first use)."),
    ("numconv.tools", "Teaching and inspection tools."),
    ("numconv.tools.summary", "A table of a network's shapes, parameters, mult-adds and memory."),
    ("numconv.tools.explain", "The arithmetic of one layer with the numbers filled in; receptive fields."),
    ("numconv.tools.filters", "Hand-made image kernels (blur, sharpen, edges) applied with numconv's convolution."),
    ("numconv.tools.viz", "Pictures: sliding kernel, im2col, filters, feature maps, curves (needs matplotlib)."),
    ("numconv.tools.gradcheck_suite", "The layer configurations `numconv gradcheck` checks."),
    ("numconv.exercises", "The checker of the gradient-check exercises (`numconv check-exercise`)."),
    ("numconv.reference", "Naive loop implementations: slow, written to be read."),
]


def first_line(obj) -> str:
    """The first line of ``obj``'s own docstring (not an inherited one), without reST markup."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    if not doc or not doc.strip():
        return ""
    line = inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ").strip()
    if isinstance(obj, type) and line.startswith(f"{obj.__name__}("):
        return ""  # the docstring a NamedTuple writes for itself only repeats the signature
    return re.sub(r":(?:func|class|mod|meth|attr):`~?([^`]+)`", r"``\1``", line)


def signature(obj) -> str:
    """``(a, b=1, *, c=None)``: parameter names and defaults, no annotations (the docstrings give types).

    Memory addresses are removed and classes shown by name, so the page is reproducible.
    """
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    empty = inspect.Parameter.empty
    sig = sig.replace(parameters=[p.replace(annotation=empty) for p in sig.parameters.values()],
                      return_annotation=inspect.Signature.empty)
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", str(sig))
    text = re.sub(r"<(?:class|function|built-in function) '?([\w.]+)'?>", r"\1", text)
    return text.replace("numpy.", "np.")


def public_names(module) -> list:
    """``(family, name, object)`` for every public name of ``module``.

    ``family`` is "" for a module with ``__all__``; for a package without one
    it is the submodule the name comes from (its ``__all__``, else the names
    the package takes from it).
    """
    if hasattr(module, "__all__"):
        entries = []
        for name in module.__all__:
            try:
                entries.append(("", name, getattr(module, name)))
            except (ImportError, AttributeError) as error:
                print(f"make_api_docs: leaving out {module.__name__}.{name}: {error}", file=sys.stderr)
        return entries
    entries, seen = [], set()
    for info in pkgutil.iter_modules(module.__path__):
        if info.name.startswith("_"):
            continue
        sub = importlib.import_module(f"{module.__name__}.{info.name}")
        names = getattr(sub, "__all__", None)
        if names is None:
            names = [n for n, obj in vars(module).items() if not n.startswith("_")
                     and getattr(obj, "__module__", None) == sub.__name__ and not isinstance(obj, types.ModuleType)]
        for name in names:
            if name not in seen and hasattr(module, name):
                seen.add(name)
                entries.append((info.name, name, getattr(module, name)))
    return entries


def describe(name, obj) -> str:
    """One Markdown bullet for one public name."""
    if isinstance(obj, types.ModuleType):
        if obj.__name__.rsplit(".", 1)[-1] != name:
            return f"- module `{name}`: the same module as `{obj.__name__}`"
        documented = any(obj.__name__ == section for section, _ in SECTIONS)
        title = f"[`{obj.__name__}`](#{anchor(obj.__name__)})" if documented else f"`{obj.__name__}`"
        return f"- module {title}: {first_line(obj)}".rstrip(": ")
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return f"- exception **`{name}`**: {first_line(obj)}".rstrip(": ")
        return f"- class **`{name}`**`{signature(obj)}`: {first_line(obj)}".rstrip(": ")
    if callable(obj):
        alias = getattr(obj, "__name__", name)
        note = f"the same function as `{alias}`" if alias != name else first_line(obj)
        return f"- **`{name}`**`{signature(obj)}`: {note}".rstrip(": ")
    return f"- `{name}`: a `{type(obj).__name__}`"


def anchor(module_name: str) -> str:
    return module_name.replace(".", "")


def available_sections() -> list:
    """``(module, purpose)`` for the sections whose module imports (a tool may be missing)."""
    found = []
    for module_name, purpose in SECTIONS:
        try:
            found.append((importlib.import_module(module_name), purpose))
        except ImportError as error:  # a tool still missing, or its optional dependency
            print(f"make_api_docs: leaving out {module_name}: {error}", file=sys.stderr)
    return found


def render() -> str:
    sections = available_sections()
    lines = [
        "# API reference",
        "",
        "Every public name of numconv, with its signature and the first line of its docstring.",
        "This page is generated from the code by `python scripts/make_api_docs.py`; do not edit it by hand",
        "(`tests/test_docs.py` checks it is up to date). The full docstrings give the shape of every array:",
        "`help(numconv.functional.conv2d)`.",
        "",
        "Contents: " + ", ".join(f"[`{m.__name__}`](#{anchor(m.__name__)})" for m, _ in sections) + ".",
        "",
    ]
    for module, purpose in sections:
        module_name = module.__name__
        lines += [f"## {module_name}", "", purpose.replace("``", "`"), ""]
        family = ""
        for group, name, obj in public_names(module):
            if group != family:
                family = group
                sub = f"{module_name}.{group}"
                lines += ["", f"### {sub}", "", first_line(importlib.import_module(sub)).replace("``", "`"), ""]
            lines.append(describe(name, obj).replace("``", "`"))
        lines.append("")
    return "\n".join(lines).replace("\n\n\n", "\n\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with docs/api.md instead of writing it")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT.relative_to(REPO)} is out of date: run python scripts/make_api_docs.py", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
