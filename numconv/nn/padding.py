"""Padding layers, as in ``torch.nn``: zero, constant, reflection, replication and circular, 1-D to 3-D.

Each is ``numconv.functional.pad`` as a layer: ``padding`` is an int (the
same on every side) or a tuple ``(left, right)``, ``(left, right, top,
bottom)`` or ``(left, right, top, bottom, front, back)``, PyTorch's order,
last axis first; negative amounts crop. None has parameters, so each keeps
its input's dtype.

The fifteen classes come from one table: a row per family (the
``functional.pad`` mode and what it puts around the input), times the ranks
1 to 3. ``ConstantPad*d(padding, value)`` takes the value; the others take
only ``padding``, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_number, ntuple
from ..functional import padding as P
from .module import Module

__all__ = [
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
    "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d",
]


class _PadNd(Module):
    """Shared body: ``_nd`` padded axes, ``_mode`` one of ``functional.pad``'s modes."""

    _nd = 0
    _mode = "constant"

    def __init__(self, padding, value=0.0):
        super().__init__()
        where = type(self).__name__
        if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
            padding = (int(padding),) * (2 * self._nd)
        # Negative amounts crop, as in PyTorch; ntuple checks the length and the types.
        self.padding = ntuple(padding, 2 * self._nd, where, "padding")
        self.value = check_number(value, where, "value", keep=True)  # kept as given: the repr prints 0 for 0

    def forward(self, x):
        return self._output(P.pad(self._as_input(x), self.padding, self._mode, self.value))

    def backward(self, grad_output):
        return P.pad_backward(grad_output, self._take())

    def extra_repr(self) -> str:
        return f"{self.padding}"  # PyTorch's text


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding, value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _FixedPadNd(_PadNd):
    """Zero, reflection, replication, circular: the constructor takes only ``padding``."""

    def __init__(self, padding):
        super().__init__(padding)


# Per rank: the padded axes, the padding's order, the accepted input shapes.
_AXES = {1: "the last axis", 2: "the last two axes", 3: "the last three axes"}
_ORDER = {1: "(left, right)", 2: "(left, right, top, bottom)", 3: "(left, right, top, bottom, front, back)"}
_COUNT = {1: "one axis", 2: "two axes", 3: "three axes"}
_SHAPES = {1: "(C, L) or (N, C, L)", 2: "(C, H, W) or (N, C, H, W)", 3: "(C, D, H, W) or (N, C, D, H, W)"}

# One row per family: name prefix, base class, functional.pad mode, the docstring's first line (``{axes}`` the
# padded axes) and what it adds on the input's size.
_FAMILIES = [
    ("Zero", _FixedPadNd, "constant", "Zeros around {axes}", "any shape with at least {axes_count}"),
    ("Constant", _ConstantPadNd, "constant", "``value`` around {axes}", "any shape with at least {axes_count}"),
    ("Reflection", _FixedPadNd, "reflect", "The input mirrored about its edges on {axes}",
     "{shapes}; each padding smaller than its axis (the edge pixel is not repeated)"),
    ("Replication", _FixedPadNd, "replicate", "The edge pixels repeated on {axes}", "{shapes}"),
    ("Circular", _FixedPadNd, "circular", "The input wrapped around on {axes}", "{shapes}; each padding at most its axis"),
]


def _pad_layer(family: str, base: type, mode: str, what: str, inputs: str, nd: int) -> type:
    """The ``{family}Pad{nd}d`` class: ``base`` with ``nd`` padded axes and ``mode``."""
    name = f"{family}Pad{nd}d"
    fill = {"axes": _AXES[nd], "axes_count": _COUNT[nd], "shapes": _SHAPES[nd]}
    doc = (f"{what.format(**fill)}, as ``torch.nn.{name}``: padding {_ORDER[nd]} or an int.\n\n"
           f"    Input: {inputs.format(**fill)}.\n    ")
    return type(name, (base,), {"__doc__": doc, "__module__": __name__, "__qualname__": name,
                                "_nd": nd, "_mode": mode})


_LAYERS = {f"{row[0]}Pad{nd}d": _pad_layer(*row, nd) for row in _FAMILIES for nd in (1, 2, 3)}
ZeroPad1d, ZeroPad2d, ZeroPad3d = (_LAYERS[f"ZeroPad{nd}d"] for nd in (1, 2, 3))
ConstantPad1d, ConstantPad2d, ConstantPad3d = (_LAYERS[f"ConstantPad{nd}d"] for nd in (1, 2, 3))
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = (_LAYERS[f"ReflectionPad{nd}d"] for nd in (1, 2, 3))
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = (_LAYERS[f"ReplicationPad{nd}d"] for nd in (1, 2, 3))
CircularPad1d, CircularPad2d, CircularPad3d = (_LAYERS[f"CircularPad{nd}d"] for nd in (1, 2, 3))
