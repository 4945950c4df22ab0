"""Padding layers, as in ``torch.nn``: zero, constant, reflection, replication and circular, 1-D to 3-D.

Each is ``numconv.functional.pad`` as a layer: ``padding`` is an int (the
same on every side) or a tuple ``(left, right)``, ``(left, right, top,
bottom)`` or ``(left, right, top, bottom, front, back)``, PyTorch's order,
last axis first; negative amounts crop. None has parameters, so each keeps
its input's dtype.
"""

from __future__ import annotations

import numpy as np

from .._checks import ntuple
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
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{where}: expected value to be a number, got {value!r}")
        self.value = float(value)

    def forward(self, x):
        out, cache = P.pad(self._as_input(x), self.padding, self._mode, self.value)
        self._keep(cache)
        return out

    def backward(self, grad_output):
        return P.pad_backward(grad_output, self._take())

    def extra_repr(self) -> str:
        return f"{self.padding}"  # PyTorch's text


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding, value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_PadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)


class _ReflectionPadNd(_PadNd):
    _mode = "reflect"

    def __init__(self, padding):
        super().__init__(padding)


class _ReplicationPadNd(_PadNd):
    _mode = "replicate"

    def __init__(self, padding):
        super().__init__(padding)


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def __init__(self, padding):
        super().__init__(padding)


class ZeroPad1d(_ZeroPadNd):
    """Zeros around the last axis, as ``torch.nn.ZeroPad1d``: padding (left, right)."""

    _nd = 1


class ZeroPad2d(_ZeroPadNd):
    """Zeros around the last two axes, as ``torch.nn.ZeroPad2d``: padding (left, right, top, bottom).

    >>> ZeroPad2d((1, 0, 0, 1))(np.ones((1, 1, 1, 2)))
    array([[[[0., 1., 1.],
             [0., 0., 0.]]]])
    """

    _nd = 2


class ZeroPad3d(_ZeroPadNd):
    """Zeros around the last three axes, as ``torch.nn.ZeroPad3d``: padding (left, right, top, bottom, front, back)."""

    _nd = 3


class ConstantPad1d(_ConstantPadNd):
    """``value`` around the last axis, as ``torch.nn.ConstantPad1d``: padding (left, right)."""

    _nd = 1


class ConstantPad2d(_ConstantPadNd):
    """``value`` around the last two axes, as ``torch.nn.ConstantPad2d``: padding (left, right, top, bottom)."""

    _nd = 2


class ConstantPad3d(_ConstantPadNd):
    """``value`` around the last three axes, as ``torch.nn.ConstantPad3d``."""

    _nd = 3


class ReflectionPad1d(_ReflectionPadNd):
    """The input mirrored about its edge, as ``torch.nn.ReflectionPad1d``: (C, L) or (N, C, L); padding < L."""

    _nd = 1


class ReflectionPad2d(_ReflectionPadNd):
    """The input mirrored about its edges, as ``torch.nn.ReflectionPad2d``: (C, H, W) or (N, C, H, W).

    Each padding must be smaller than its axis (the edge pixel is not repeated).
    """

    _nd = 2


class ReflectionPad3d(_ReflectionPadNd):
    """The input mirrored about its edges, as ``torch.nn.ReflectionPad3d``: (C, D, H, W) or (N, C, D, H, W)."""

    _nd = 3


class ReplicationPad1d(_ReplicationPadNd):
    """The edge pixel repeated, as ``torch.nn.ReplicationPad1d``: (C, L) or (N, C, L)."""

    _nd = 1


class ReplicationPad2d(_ReplicationPadNd):
    """The edge pixels repeated, as ``torch.nn.ReplicationPad2d``: (C, H, W) or (N, C, H, W)."""

    _nd = 2


class ReplicationPad3d(_ReplicationPadNd):
    """The edge pixels repeated, as ``torch.nn.ReplicationPad3d``: (C, D, H, W) or (N, C, D, H, W)."""

    _nd = 3


class CircularPad1d(_CircularPadNd):
    """The input wrapped around, as ``torch.nn.CircularPad1d``: (C, L) or (N, C, L); padding <= L."""

    _nd = 1


class CircularPad2d(_CircularPadNd):
    """The input wrapped around (a torus), as ``torch.nn.CircularPad2d``: (C, H, W) or (N, C, H, W)."""

    _nd = 2


class CircularPad3d(_CircularPadNd):
    """The input wrapped around, as ``torch.nn.CircularPad3d``: (C, D, H, W) or (N, C, D, H, W)."""

    _nd = 3
