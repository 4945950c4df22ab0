"""A picture of the tape of layer calls: what one forward pass recorded, and where gradients meet.

``plot_tape(model, x)`` runs ``model(x)``, reads the calls the tape recorded
(``numconv/nn/tape.py``) and draws them top to bottom, one box per call, with
an arrow from where each argument came from. An array that feeds several
calls is a *fork*: in the backward pass the gradients coming back from those
calls are summed there, and the picture marks it with "Σ".
"""

from __future__ import annotations

from ...nn import tape
from ._figure import finish, new_figure


def tape_rows(model, x):
    """Run ``model(x)`` and list the calls its forward recorded.

    Returns
    -------
    list of (label, [source_row, ...])
        Row 0 is the input; each call's sources are the rows that made its
        array arguments (-1 when the tape could not trace one).
    """
    model(x)
    root = tape.last_call(model)
    if root is None or not root.traced:
        raise ValueError(f"plot_tape: {type(model).__name__} has its own backward, so the tape does not trace it; "
                         "draw a model whose backward is the tape's (a Module with only forward)")
    names = {id(m): name for name, m in model.named_modules()}
    rows = [("input", [])]
    slot_row = {0: 0}
    for child in root.children:
        label = names.get(id(child.module), "?") or type(child.module).__name__
        if child.index > 1:
            label = f"{label} (call {child.index})"
        label = f"{label}: {type(child.module).__name__}"
        rows.append((label, [slot_row.get(s.slot, -1) if s is not None else -1 for s in child.sources]))
        for slot in child.out_slots:
            slot_row[slot] = len(rows) - 1
    return rows


def plot_tape(model, x, path=None, title=None):
    """Draw the calls one forward pass of ``model`` recorded, with forks marked where gradients add up.

    Parameters
    ----------
    model : Module
        A module whose backward is the tape's (one with only ``forward``).
    x : ndarray
        An input for one forward pass (a small batch is enough).
    path : str, optional
        Where to save the picture.

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = tape_rows(model, x)
    uses = {}
    for _, sources in rows:
        for s in sources:
            uses[s] = uses.get(s, 0) + 1
    fig = new_figure("plot_tape", (6.4, 0.62 * len(rows) + 0.9))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_xlim(0, 10)
    ax.set_ylim(-len(rows) + 0.3, 1.1)
    ax.axis("off")
    for i, (label, sources) in enumerate(rows):
        y = -i
        fork = uses.get(i, 0) > 1
        ax.text(3, y, label, ha="center", va="center", fontsize=9,
                bbox=dict(boxstyle="round,pad=0.3", fc="#fde0c5" if fork else "#e8eef7",
                          ec="#c0504d" if fork else "#4a6fa5"))
        if fork:
            ax.text(5.6, y, f"fork: used by {uses[i]} calls\nbackward adds their gradients (Σ)",
                    ha="left", va="center", fontsize=8, color="#c0504d")
        for k, s in enumerate(sources):
            if s < 0:
                continue
            if s == i - 1:
                ax.annotate("", xy=(3, y + 0.25), xytext=(3, y + 0.75),
                            arrowprops=dict(arrowstyle="->", color="#4a6fa5"))
            else:  # a skip: curve around the column on the left
                ax.annotate("", xy=(1.5, y), xytext=(1.5, -s),
                            arrowprops=dict(arrowstyle="->", color="#c0504d",
                                            connectionstyle=f"arc3,rad={0.35 + 0.1 * k}"))
    ax.set_title(title or f"The tape of one forward pass of {type(model).__name__}", fontsize=10)
    fig.tight_layout()
    return finish(fig, path)
