"""Transposed convolution layers: ``ConvTranspose1d``, ``ConvTranspose2d``, ``ConvTranspose3d``, as in ``torch.nn``.

All three share ``_ConvTransposeNd``: it owns the weight (C_in, C_out / groups,
*k) and bias, checks the constructor arguments, turns ``forward``'s
``output_size`` into an ``output_padding``, and calls the one N-d functional
transposed convolution (``numconv.functional.conv_transpose``).
"""

from __future__ import annotations

import numpy as np

from .._checks import ntuple
from ..functional.conv_transpose import (
    _conv_transpose_nd,
    _conv_transpose_nd_backward,
    check_output_padding,
    output_padding_for_size,
)
from ..init import default_layer_init_
from ._family import ranked
from .conv import _ConvNd
from .module import Module

__all__ = ["ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]


class _ConvTransposeNd(_ConvNd):
    """Shared body of ``ConvTranspose1d/2d/3d``; ``_nd`` is the number of spatial axes.

    A kind of ``_ConvNd``, as in PyTorch (tools that treat every convolution
    alike, such as ``summary``'s mult-add count, see it as one), with its own
    constructor, passes and weight layout; ``_ConvNd.backward`` serves it through ``_backward_op``.
    """

    _nd = 0
    _backward_op = staticmethod(_conv_transpose_nd_backward)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", dtype=np.float32):
        Module.__init__(self)  # not _ConvNd's: the arguments and the weight layout differ
        where = type(self).__name__
        nd = self._nd
        self._set_shape_arguments(where, in_channels, out_channels, kernel_size, stride, dilation, groups, dtype)
        if padding_mode != "zeros":
            raise ValueError(f"{where}: only padding_mode='zeros' is supported for transposed convolutions (as in "
                             f"PyTorch), got padding_mode={padding_mode!r}")
        if isinstance(padding, str):
            raise ValueError(f"{where}: padding must be an int or a tuple of {nd} ints for transposed convolutions "
                             f"(no 'same' or 'valid', as in PyTorch), got {padding!r}")
        self.padding = ntuple(padding, nd, where, "padding", minimum=0)
        self.output_padding = ntuple(output_padding, nd, where, "output_padding", minimum=0)
        check_output_padding(self.output_padding, self.stride, self.dilation, where)
        self.padding_mode = padding_mode
        self._make_parameters((self.in_channels, self.out_channels // self.groups, *self.kernel_size), bias, dtype)

    def reset_parameters(self) -> None:
        """PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = weight.shape[1] * prod(k).

        (PyTorch computes the fan from the weight as if it were a convolution's,
        so for a transposed convolution it is ``C_out / groups * prod(k)``.)
        """
        default_layer_init_(self.weight, self.bias)

    def forward(self, x, output_size=None):
        """Transposed-convolve ``x`` of shape (N, C_in, *spatial) or (C_in, *spatial).

        ``output_size`` (optional) asks for a particular output size (spatial
        sizes, or the whole shape); the ``output_padding`` that reaches it is
        worked out per call, as PyTorch does.
        """
        where, x, in_dtype, bias = self._inputs(x)
        output_padding = self.output_padding
        if output_size is not None and x.ndim in (self._nd + 1, self._nd + 2):
            output_padding = output_padding_for_size(output_size, x.shape, self.kernel_size,
                                                     self.stride, self.padding, self.dilation, where)
        out, cache = _conv_transpose_nd(self._nd, where, x, self.weight.data, bias, self.stride, self.padding,
                                        output_padding, self.groups, self.dilation)
        self._keep((cache, in_dtype))
        return out

_CONV_TRANSPOSE_DOC = """{nd}-D transposed convolution layer, as ``torch.nn.{name}``.

    The adjoint of ``Conv{nd}d`` with the same arguments: it maps an output-sized
    array back to an input-sized one (the gradient a ``Conv{nd}d`` sends to its
    input is exactly this layer's forward pass), which makes it the learned
    upsampling of decoders and U-Nets.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or {ints}
    stride, padding, output_padding, dilation : int or {ints}
        ``output_padding`` must be smaller than the stride or the dilation.
    groups : int
    bias : bool
    padding_mode : 'zeros' (the only mode PyTorch supports here)
    dtype : float32 (default) or float64

    Shapes
    ------
    input (N, C_in, {axes}) or (C_in, {axes}) -> output (N, C_out, {out_axes}) or (C_out, {out_axes}), with
    ``{axis}_out = ({axis} - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1``{each_axis}.
    ``weight`` is (C_in, C_out / groups, {kernel_axes}); ``bias`` is (C_out,).

    Examples
    --------
    >>> up = {name}(8, 4, 3, stride=2, padding=1, output_padding=1)
    >>> up(np.zeros((1, 8{sample}), dtype=np.float32)).shape
    (1, 4{upsampled})
    """
ConvTranspose1d, ConvTranspose2d, ConvTranspose3d = (
    ranked(_ConvTransposeNd, f"ConvTranspose{nd}d", nd, _CONV_TRANSPOSE_DOC, __name__, sample=", 14" * nd,
           upsampled=", 28" * nd)
    for nd in (1, 2, 3))
