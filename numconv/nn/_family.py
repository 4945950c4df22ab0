"""Layer families over 1, 2 and 3 spatial axes, made from one body and one docstring.

``Conv1d``, ``Conv2d`` and ``Conv3d`` (and the pooling and transposed
families) differ only in ``_nd``, the number of spatial axes, and in the
shapes their docstrings name. A family's body is one class with ``_nd = 0``;
``ranked`` makes the per-rank class from it and fills the docstring's
``{placeholders}`` with the names that rank uses (``RANKS``).
"""

from __future__ import annotations

from ..functional._docs import RANKS

def ranked(base: type, name: str, nd: int, doc: str, module: str, **fill) -> type:
    """The ``nd``-axis member of ``base``'s family, named ``name`` (e.g. ``"Conv2d"``).

    Parameters
    ----------
    base : type
        The family's body (a ``Module`` subclass with ``_nd = 0``).
    name : str
    nd : {1, 2, 3}
    doc : str
        The docstring, with ``{name}`` and ``RANKS``' keys as placeholders;
        ``fill`` adds more (a value may itself be a mapping from rank to text).
    module : str
        The ``__module__`` the class reports (where it is defined for users).
    """
    extra = {key: value[nd] if isinstance(value, dict) else value for key, value in fill.items()}
    text = doc.format(name=name, **RANKS[nd], **extra)
    return type(name, (base,), {"__doc__": text, "__module__": module, "__qualname__": name, "_nd": nd})
