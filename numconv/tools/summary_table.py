"""``summary``'s table as text: the rows within the depth asked for, the totals, the memory.

``str(summary_result)`` calls :func:`format_table`; the numbers come from
``numconv.tools.summary``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._table import align_columns

if TYPE_CHECKING:
    from .summary import SummaryResult

__all__ = ["format_table"]


def _size(nbytes: int) -> str:
    """Bytes in decimal units: ``18816`` -> ``"18.8 kB"``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} B"


def _visible_rows(result: SummaryResult) -> list:
    """(row, params, mult_adds, output_bytes, im2col text) for the rows within ``result.depth``.

    A container at the last shown level carries the sums of everything below it.
    """
    rows, shown = result.rows, []
    for i, row in enumerate(rows):
        if result.depth is not None and row.depth > result.depth:
            continue
        params, trainable, macs, im2col = row.params, row.trainable_params, row.mult_adds, ""
        if row.im2col_shape is not None:
            im2col = f"{row.im2col_shape[0]:,} x {row.im2col_shape[1]:,} = {_size(row.im2col_bytes)}"
        if not row.is_leaf and result.depth is not None and row.depth == result.depth:
            inside = []
            for below in rows[i + 1:]:
                if below.depth <= row.depth:
                    break
                inside.append(below)
            params += sum(r.params for r in inside)
            trainable += sum(r.trainable_params for r in inside)
            macs += sum(r.mult_adds for r in inside)
        shown.append((row, params, trainable, macs, im2col))
    return shown


def format_table(result: SummaryResult) -> str:
    """The table: a line per visible row, then the totals and the memory, between rules."""
    header = ("Layer (type: path)", "Output shape", "Params", "Mult-adds", "Output", "im2col columns")
    body = []
    for row, params, trainable, macs, im2col in _visible_rows(result):
        shape = "--" if row.output_shape is None else "[" + ", ".join(str(s) for s in row.output_shape) + "]"
        output = _size(row.output_bytes) if row.is_leaf and row.output_bytes else "--"
        body.append(("  " * row.depth + row.name, shape, _params_cell(row, params, trainable),
                     f"{macs:,}" if macs else "--", output, im2col))
    lines, _ = align_columns([header, *body], ("<", "<", ">", ">", ">", "<"))
    rule_width = max(len(line) for line in lines)
    thick, thin = "=" * rule_width, "-" * rule_width
    how = ("Shapes from one forward pass." if result.ran_forward
           else "Shapes worked out from the layers' hyper-parameters (nothing was run).")
    return "\n".join([thick, lines[0], thick, *lines[1:], thick, *_totals_lines(result), thin,
                      *_memory_lines(result), thin, how, thick])


def _params_cell(row, params: int, trainable: int) -> str:
    """``"1,216"``; ``"(1,216)"`` when all are frozen, ``"(shared)"`` at a module's second call."""
    if row.shared and not params:
        return "(shared)"
    if not params:
        return "--"
    if trainable == params:
        return f"{params:,}"
    if trainable == 0:
        return f"({params:,})"
    return f"{params:,} ({params - trainable:,} frozen)"


def _totals_lines(result: SummaryResult) -> list:
    return [
        f"Total params: {result.total_params:,}",
        f"Trainable params: {result.trainable_params:,}",
        f"Non-trainable params: {result.non_trainable_params:,}",
        f"Total mult-adds: {result.total_mult_adds:,} ({_scaled(result.total_mult_adds)})",
    ]


def _memory_lines(result: SummaryResult) -> list:
    mb = 1e6
    memory = [
        f"Input size (MB): {result.input_bytes / mb:.2f}    "
        f"[{', '.join(str(s) for s in result.input_size)}] {result.dtype.name}",
        f"Forward activations (MB): {result.activation_bytes / mb:.2f}    outputs of every layer",
        f"Params size (MB): {result.param_bytes / mb:.2f}",
        f"Buffers size (MB): {result.buffer_bytes / mb:.2f}    running statistics (not parameters)",
        f"Estimated total size (MB): {result.total_bytes / mb:.2f}",
    ]
    if result.im2col_bytes:
        memory.append(f"im2col columns (MB): {result.im2col_bytes / mb:.2f}    all kept for backward in training; "
                      f"largest {result.max_im2col_bytes / mb:.2f}")
    return memory


def _scaled(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)
