"""Plain-text tables for ``summary`` and ``explain``: columns as wide as their widest cell."""

from __future__ import annotations

__all__ = ["align_columns", "shape_text", "number_text", "join_axes"]


def align_columns(rows, align) -> tuple:
    """Each row of cells as one line, every column padded to its widest cell and two spaces apart.

    Parameters
    ----------
    rows : list of tuple of str
        The header first, then the body; every row has one cell per column.
    align : tuple of str
        ``"<"`` (left) or ``">"`` (right) per column.

    Returns
    -------
    lines : list of str
        One per row, without trailing spaces.
    widths : list of int
        The width of each column.
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(align))]
    lines = ["  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, align, widths)).rstrip() for row in rows]
    return lines, widths


def shape_text(shape) -> str:
    """``(3, 32, 32)``; a one-axis shape keeps its comma: ``(10,)``."""
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def number_text(x) -> str:
    """``5`` for a whole number, ``2.5`` otherwise."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def join_axes(values) -> str:
    """One value when every axis has it (``"5"``), else all of them (``"5x3"``)."""
    values = [str(v) for v in values]
    return values[0] if len(set(values)) == 1 else "x".join(values)
