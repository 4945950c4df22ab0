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
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode
        P._window_params(self._nd, kernel_size, self.stride, padding, dilation, type(self).__name__)

    _backward_op = P.max_pool_backward

    def _pool(self, x, where):
        return P._max_pool(x, self._nd, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                           self.return_indices, where)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """1-D max pooling, as ``torch.nn.MaxPool1d``: (N, C, L) or (C, L) -> (N, C, L_out) or (C, L_out).

    Arguments as in :class:`MaxPool2d`, with ints.
    """

    _nd = 1


class MaxPool2d(_MaxPoolNd):
    """2-D max pooling, as ``torch.nn.MaxPool2d``.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Default: ``kernel_size``.
    padding : int or (int, int)
        Implicit ``-inf`` padding, at most ``kernel_size // 2``.
    dilation : int or (int, int)
    return_indices : bool
        ``forward`` returns ``(out, indices)``; ``indices`` feed :class:`MaxUnpool2d`.
    ceil_mode : bool
        Round the output size up (see ``numconv.functional.pool``).

    Shapes
    ------
    input (N, C, H, W) or (C, H, W) -> output (N, C, H_out, W_out) or (C, H_out, W_out),
    ``H_out = floor((H + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1``.
    ``backward`` sends each output gradient to its window's (first) maximum.
    """


class MaxPool3d(_MaxPoolNd):
    """3-D max pooling, as ``torch.nn.MaxPool3d``: (N, C, D, H, W) or (C, D, H, W) in.

    Arguments as in :class:`MaxPool2d`, with 3-tuples.
    """

    _nd = 3


# ---------------------------------------------------------------------------- average pooling
class _AvgPoolNd(_Pool):
    _backward_op = P.avg_pool_backward

    def _pool(self, x, where):
        return P._avg_pool(x, self._nd, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                           self.count_include_pad, getattr(self, "divisor_override", None), where)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """1-D average pooling, as ``torch.nn.AvgPool1d`` (which has no ``divisor_override``).

    ``kernel_size``, ``stride`` and ``padding`` are stored as 1-tuples, as in
    PyTorch. Other arguments as in :class:`AvgPool2d`.
    """

    _nd = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size = _as_tuple(kernel_size, 1)
        self.stride = _as_tuple(stride if stride is not None else kernel_size, 1)
        self.padding = _as_tuple(padding, 1)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        P._window_params(1, self.kernel_size, self.stride, self.padding, 1, "AvgPool1d")


class AvgPool2d(_AvgPoolNd):
    """2-D average pooling, as ``torch.nn.AvgPool2d``.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Default: ``kernel_size``.
    padding : int or (int, int)
        Implicit zero padding, at most ``kernel_size // 2``.
    ceil_mode : bool
    count_include_pad : bool
        Count the zero padding in each window's divisor (default True).
    divisor_override : int, optional
        Divide every window sum by this instead.

    Shapes
    ------
    input (N, C, H, W) or (C, H, W) -> output (N, C, H_out, W_out) or (C, H_out, W_out).
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override
        P._window_params(self._nd, kernel_size, self.stride, padding, 1, type(self).__name__)


class AvgPool3d(AvgPool2d):
    """3-D average pooling, as ``torch.nn.AvgPool3d``: (N, C, D, H, W) or (C, D, H, W) in.

    Arguments as in :class:`AvgPool2d`, with 3-tuples.
    """

    _nd = 3


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


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """1-D adaptive average pooling, as ``torch.nn.AdaptiveAvgPool1d``: (N, C, L) -> (N, C, output_size)."""

    _nd = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """2-D adaptive average pooling, as ``torch.nn.AdaptiveAvgPool2d``.

    Parameters
    ----------
    output_size : int or (int or None, int or None)
        ``(H_out, W_out)``; None keeps that input size. ``1`` is global average pooling.

    Shapes
    ------
    input (N, C, H, W) or (C, H, W) -> output (N, C, H_out, W_out) or (C, H_out, W_out),
    whatever H and W are: output ``i`` averages rows ``floor(i*H/H_out)`` to ``ceil((i+1)*H/H_out) - 1``.
    """


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """3-D adaptive average pooling, as ``torch.nn.AdaptiveAvgPool3d``; ``output_size`` has 3 entries."""

    _nd = 3


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    _backward_op = P.max_pool_backward

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def _pool(self, x, where):
        return PA._adaptive_max_pool(x, self._nd, self.output_size, self.return_indices, where)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """1-D adaptive max pooling, as ``torch.nn.AdaptiveMaxPool1d``: (N, C, L) -> (N, C, output_size)."""

    _nd = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """2-D adaptive max pooling, as ``torch.nn.AdaptiveMaxPool2d``.

    Parameters
    ----------
    output_size : int or (int or None, int or None)
    return_indices : bool
        ``forward`` returns ``(out, indices)``.

    Shapes
    ------
    input (N, C, H, W) or (C, H, W) -> output (N, C, H_out, W_out) or (C, H_out, W_out);
    windows as in :class:`AdaptiveAvgPool2d`, maxima as in :class:`MaxPool2d`.
    """


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """3-D adaptive max pooling, as ``torch.nn.AdaptiveMaxPool3d``; ``output_size`` has 3 entries."""

    _nd = 3


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
