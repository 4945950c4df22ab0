"""Pooling layers: max, average, adaptive and max-unpooling, 1-D to 3-D.

Thin wrappers around ``numconv.functional.pool`` with PyTorch's names,
constructor arguments, attributes and ``repr``. None has parameters, so each
keeps its input's dtype. The window arguments are checked when the layer is
built (PyTorch checks them at the first forward), so a bad layer fails where
it is written.
"""

from __future__ import annotations

from .._checks import ntuple
from ..functional import pool as P
from ..functional import pool_adaptive as PA
from ._family import ranked
from .module import Module

__all__ = [
    "MaxPool1d", "MaxPool2d", "MaxPool3d",
    "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
    "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
]


def _as_tuple(value, n):
    """PyTorch's ``_single``/``_pair``/``_triple``: an int becomes an n-tuple, a sequence a tuple."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


class _Pool(Module):
    """Shared forward/backward: call the functional op, keep its cache, hand it to the backward.

    A family defines ``_pool(x, where)`` (its functional op with the layer's
    arguments) and ``_backward_op`` (that op's backward).
    """

    _nd = 2
    _backward_op = None

    def _pool(self, x, where: str):
        raise NotImplementedError

    def _window(self, kernel_size, stride, padding, dilation=1) -> None:
        """Check and store the window arguments (as given, as PyTorch keeps them); ``stride`` None is the kernel."""
        stride = kernel_size if stride is None else stride
        P._window_params(self._nd, kernel_size, stride, padding, dilation, type(self).__name__)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        out, cache = self._pool(x, type(self).__name__)
        self._keep((type(self)._backward_op, cache))
        return out

    def backward(self, grad_output):
        backward, cache = self._take()
        return backward(grad_output, cache)


# ---------------------------------------------------------------------------- max pooling
class _MaxPoolNd(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self._window(kernel_size, stride, padding, dilation)
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    _backward_op = P.max_pool_backward

    def _pool(self, x, where):
        return P._max_pool(x, self._nd, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                           self.return_indices, where)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


# The window arguments max and average pooling share, in their docstrings.
_WINDOW_DOC = """
    kernel_size : int or {ints}
    stride : int or {ints}, optional
        Default: ``kernel_size``.
    padding : int or {ints}
        Implicit {fill} padding, at most ``kernel_size // 2``."""
_MAX_POOL_DOC = """{nd}-D max pooling of (N, C, {axes}) or (C, {axes}), as ``torch.nn.{name}``.

    Parameters
    ----------""" + _WINDOW_DOC + """
    dilation : int or {ints}
    return_indices : bool
        ``forward`` returns ``(out, indices)``; ``indices`` feed :class:`MaxUnpool{nd}d`.
    ceil_mode : bool
        Round the output size up (see ``numconv.functional.pool``).

    Shapes
    ------
    input (N, C, {axes}) or (C, {axes}) -> output (N, C, {out_axes}) or (C, {out_axes}),
    ``{axis}_out = floor(({axis} + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1``{each_axis}.
    ``backward`` sends each output gradient to its window's (first) maximum.
    """
MaxPool1d, MaxPool2d, MaxPool3d = (
    ranked(_MaxPoolNd, f"MaxPool{nd}d", nd, _MAX_POOL_DOC, __name__, fill="``-inf``") for nd in (1, 2, 3))


# ---------------------------------------------------------------------------- average pooling
class _AvgPoolNd(_Pool):
    _backward_op = P.avg_pool_backward

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self._window(kernel_size, stride, padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def _pool(self, x, where):
        return P._avg_pool(x, self._nd, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                           self.count_include_pad, getattr(self, "divisor_override", None), where)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling of (N, C, L) or (C, L), as ``torch.nn.AvgPool1d`` (which has no ``divisor_override``).

    ``kernel_size``, ``stride`` and ``padding`` are stored as 1-tuples, as in
    PyTorch. Other arguments as in :class:`AvgPool2d`.
    """

    _nd = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        _Pool.__init__(self)  # not the family's: the arguments are stored as tuples, and no divisor_override
        self._window(_as_tuple(kernel_size, 1), _as_tuple(kernel_size if stride is None else stride, 1),
                     _as_tuple(padding, 1))
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad


_AVG_POOL_DOC = """{nd}-D average pooling of (N, C, {axes}) or (C, {axes}), as ``torch.nn.{name}``.

    Parameters
    ----------""" + _WINDOW_DOC + """
    ceil_mode : bool
    count_include_pad : bool
        Count the zero padding in each window's divisor (default True).
    divisor_override : int, optional
        Divide every window sum by this instead.

    Shapes
    ------
    input (N, C, {axes}) or (C, {axes}) -> output (N, C, {out_axes}) or (C, {out_axes}),
    ``{axis}_out = floor(({axis} + 2*padding - kernel_size) / stride) + 1``{each_axis}.
    """
AvgPool2d, AvgPool3d = (ranked(_AvgPoolNd, f"AvgPool{nd}d", nd, _AVG_POOL_DOC, __name__, fill="zero") for nd in (2, 3))


# ---------------------------------------------------------------------------- adaptive pooling
class _AdaptivePoolNd(_Pool):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveAvgPoolNd(_AdaptivePoolNd):
    _backward_op = PA.adaptive_avg_pool_backward

    def _pool(self, x, where):
        return PA._adaptive_avg_pool(x, self._nd, self.output_size, where)


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    _backward_op = P.max_pool_backward

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def _pool(self, x, where):
        return PA._adaptive_max_pool(x, self._nd, self.output_size, self.return_indices, where)


_ADAPTIVE_DOC = ("{nd}-D adaptive {kind} pooling of (N, C, {axes}) or (C, {axes}) to ``output_size``, as "
                 "``torch.nn.{name}``." + """

    Parameters
    ----------
    output_size : {output_size}
        ``({out_axes})``, whatever the input's size. ``1`` is global {kind} pooling.{more}

    Shapes
    ------
    input (N, C, {axes}) or (C, {axes}) -> output (N, C, {out_axes}) or (C, {out_axes}):
    output ``i`` along {axis} covers inputs ``floor(i * {axis} / {axis}_out)`` to
    ``ceil((i + 1) * {axis} / {axis}_out) - 1``{each_axis}.
    """)
_OUTPUT_SIZE = {1: "int", 2: "int or (int or None, int or None)",
                3: "int or (int or None, int or None, int or None)"}
_NONE_KEEPS = {1: "", 2: " None keeps that input size.", 3: " None keeps that input size."}
_RETURN_INDICES = """
    return_indices : bool
        ``forward`` returns ``(out, indices)``; ``backward`` sends each output's gradient to its
        window's (first) maximum."""
AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d = (
    ranked(_AdaptiveAvgPoolNd, f"AdaptiveAvgPool{nd}d", nd, _ADAPTIVE_DOC, __name__, kind="average",
           output_size=_OUTPUT_SIZE, more=_NONE_KEEPS)
    for nd in (1, 2, 3))
AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d = (
    ranked(_AdaptiveMaxPoolNd, f"AdaptiveMaxPool{nd}d", nd, _ADAPTIVE_DOC, __name__, kind="max",
           output_size=_OUTPUT_SIZE, more={k: v + _RETURN_INDICES for k, v in _NONE_KEEPS.items()})
    for nd in (1, 2, 3))


# ---------------------------------------------------------------------------- max-unpooling
class _MaxUnpoolNd(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _as_tuple(kernel_size, self._nd)
        self.stride = _as_tuple(stride if stride is not None else kernel_size, self._nd)
        self.padding = _as_tuple(padding, self._nd)
        where = type(self).__name__
        ntuple(self.kernel_size, self._nd, where, "kernel_size", minimum=1)
        ntuple(self.stride, self._nd, where, "stride", minimum=1)
        ntuple(self.padding, self._nd, where, "padding", minimum=0)

    def forward(self, x, indices, output_size=None):
        out, cache = PA._max_unpool(x, indices, self._nd, self.kernel_size, self.stride, self.padding, output_size,
                                   type(self).__name__)
        self._keep((PA.max_unpool_backward, cache))
        return out

    def backward(self, grad_output):
        dx, _ = super().backward(grad_output)  # indices have no gradient
        return dx

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """1-D max-unpooling, as ``torch.nn.MaxUnpool1d``; see :class:`MaxUnpool2d`."""

    _nd = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Partial inverse of :class:`MaxPool2d`, as ``torch.nn.MaxUnpool2d``.

    ``forward(x, indices, output_size=None)`` puts each value of ``x`` back at
    the position ``indices`` names (from ``MaxPool2d(..., return_indices=True)``)
    and zeros everywhere else. ``backward`` returns the gradient w.r.t. ``x``:
    the upstream gradient read back at ``indices``.

    Parameters
    ----------
    kernel_size, stride, padding : int or (int, int)
        Those of the pooling being inverted; stored as 2-tuples, as in PyTorch.

    Shapes
    ------
    input (N, C, H, W) or (C, H, W) -> output (N, C, H_out, W_out) or (C, H_out, W_out),
    ``H_out = (H - 1) * stride - 2 * padding + kernel_size`` unless ``output_size`` is given.
    """


class MaxUnpool3d(_MaxUnpoolNd):
    """3-D max-unpooling, as ``torch.nn.MaxUnpool3d``; see :class:`MaxUnpool2d`."""

    _nd = 3
