"""Networks described without weights: branches joined by a sum or a concatenation (a ResNet block).

``SpecMaker.branches`` (``numconv.tools._shapes``) makes a :class:`BranchSpec`;
``summary`` walks each branch and joins their shapes with :func:`merge_shapes`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import shape_str

__all__ = ["BranchSpec", "merge_shapes"]


@dataclass
class BranchSpec:
    """Branches that start from one input and are joined, described without weights (a ResNet block).

    Attributes
    ----------
    type_name : str
        What the table calls the block (``"BasicBlock"``).
    branches : list of dict
        Each branch: its layers (specs, lists, dicts, or more ``BranchSpec``),
        named at the block's own level (``{"conv1": ..., "bn1": ...}``); an
        empty dict is the identity.
    merge : {"add", "cat"}
    dim : int
        The axis of ``"cat"``.
    join : str or None
        The name of the join's own row (``"add"`` for a block that calls an
        ``nn.Add`` child), or None when the join is not a child.
    after : dict
        Layers applied to the joined output, named at the block's level.
    """

    type_name: str
    branches: list
    merge: str = "add"
    dim: int = 1
    join: str | None = None
    after: dict | None = None

    def children(self) -> list:
        """Every (name, node) of the block, branches first."""
        out = [pair for branch in self.branches for pair in branch.items()]
        return out + list((self.after or {}).items())


def merge_shapes(shapes, merge: str, dim: int, where: str) -> tuple:
    """The shape of ``Add`` (all equal after broadcasting) or ``Cat`` along ``dim`` of the branch outputs."""
    shapes = [tuple(s) for s in shapes]
    if merge == "add":
        try:
            return tuple(np.broadcast_shapes(*shapes))
        except ValueError:
            raise ValueError(f"{where}: the branches give shapes {', '.join(map(shape_str, shapes))}, which do not "
                             "add") from None
    axis = dim % len(shapes[0])
    rest = {s[:axis] + s[axis + 1:] for s in shapes}
    if len(rest) > 1 or len({len(s) for s in shapes}) > 1:
        raise ValueError(f"{where}: cannot concatenate shapes {', '.join(map(shape_str, shapes))} along dim {dim}")
    return shapes[0][:axis] + (sum(s[axis] for s in shapes),) + shapes[0][axis + 1:]
