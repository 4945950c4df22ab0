"""Convolution layers: ``Conv1d``, ``Conv2d``, ``Conv3d``, as in ``torch.nn``.

All three share ``_ConvNd``: it owns the weight and bias, checks the
constructor arguments, and calls the one N-d functional convolution.
"""

from __future__ import annotations

import numpy as np

from .._checks import FLOAT_DTYPES, as_float_array, check_parameters, check_positive_int, ntuple
from ..functional.conv import _conv_nd, _conv_nd_backward, parse_padding
from ..functional.fast.choice import ALGORITHMS
from ..functional.im2col import PADDING_MODES
from ..init import default_layer_init_
from ._family import ranked
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d"]


class _ConvNd(Module):
    """Shared body of ``Conv1d``/``Conv2d``/``Conv3d``; ``_nd`` is the number of spatial axes."""

    _nd = 0
    _backward_op = staticmethod(_conv_nd_backward)  # the functional backward its ``backward`` calls

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=np.float32, algorithm="auto"):
        super().__init__()
        where = type(self).__name__
        nd = self._nd
        self._set_shape_arguments(where, in_channels, out_channels, kernel_size, stride, dilation, groups, dtype)
        # Checks the padding string, and 'same' against the stride; the pairs are worked out per call.
        parse_padding(padding, nd, self.kernel_size, self.stride, self.dilation, where)
        self.padding = padding if isinstance(padding, str) else ntuple(padding, nd, where, "padding", minimum=0)
        self.output_padding = (0,) * nd  # as torch.nn.Conv*d: what a transposed convolution adds, none here
        if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
            raise ValueError(
                f"{where}: padding_mode must be one of {PADDING_MODES}, but got padding_mode={padding_mode!r}"
            )
        if not isinstance(algorithm, str) or algorithm not in ("auto", *ALGORITHMS):
            choices = ", ".join(repr(a) for a in ("auto", *ALGORITHMS))
            raise ValueError(f"{where}: algorithm must be one of {choices}, got {algorithm!r}")
        self.algorithm = algorithm  # which implementation runs; every one gives the same numbers
        self.padding_mode = padding_mode
        self._make_parameters((self.out_channels, self.in_channels // self.groups, *self.kernel_size), bias, dtype)

    def _set_shape_arguments(self, where, in_channels, out_channels, kernel_size, stride, dilation, groups, dtype):
        """Check and store what convolutions and transposed convolutions share: channels, groups, window, dtype."""
        nd = self._nd
        self.in_channels = check_positive_int(in_channels, where, "in_channels")
        self.out_channels = check_positive_int(out_channels, where, "out_channels")
        self.groups = check_positive_int(groups, where, "groups")
        for name, channels in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if channels % self.groups:
                raise ValueError(f"{where}: {name} ({channels}) must be divisible by groups ({self.groups})")
        if np.dtype(dtype) not in FLOAT_DTYPES:
            raise TypeError(f"{where}: expected dtype float32 or float64, got {np.dtype(dtype)}")
        self.kernel_size = ntuple(kernel_size, nd, where, "kernel_size", minimum=1)
        self.stride = ntuple(stride, nd, where, "stride", minimum=1)
        self.dilation = ntuple(dilation, nd, where, "dilation", minimum=1)

    def _make_parameters(self, weight_shape, bias, dtype) -> None:
        """The weight (of ``weight_shape``) and the optional bias, initialised as PyTorch does."""
        self.weight = Parameter(np.empty(weight_shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = C_in/groups * prod(k)."""
        default_layer_init_(self.weight, self.bias)

    def forward(self, x):
        """Convolve ``x`` of shape (N, C_in, *spatial) or (C_in, *spatial)."""
        where, x, in_dtype, bias = self._inputs(x)
        out, cache = _conv_nd(self._nd, where, x, self.weight.data, bias, self.stride, self.padding,
                              self.dilation, self.groups, self.padding_mode, self.algorithm)
        self._keep((cache, in_dtype))
        return out

    def _inputs(self, x):
        """What ``forward`` starts from: ``(where, x, in_dtype, bias)``.

        ``where`` names the layer in errors; ``x`` is checked and cast to the
        layer's dtype; ``in_dtype`` is the caller's (dx goes back in it);
        ``bias`` is the bias array (C_out,) or None.
        """
        where = type(self).__name__
        check_parameters(self)
        x = as_float_array(x, where)
        return where, self._as_input(x, where), x.dtype, (None if self.bias is None else self.bias.data)

    def backward(self, grad_output):
        """Return dL/dx (in the input's dtype); add dL/dweight and dL/dbias into the parameters' ``grad``."""
        cache, in_dtype = self._take()
        dx, dweight, dbias = self._backward_op(grad_output, cache, f"{type(self).__name__}.backward")
        self.weight.accumulate_grad(dweight)
        if self.bias is not None:
            self.bias.accumulate_grad(dbias)
        return dx.astype(in_dtype, copy=False)

    def extra_repr(self) -> str:
        # The same text as torch.nn.Conv*d and ConvTranspose*d: options appear only when not the default.
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        if getattr(self, "algorithm", "auto") != "auto":
            s += f", algorithm={self.algorithm!r}"
        return s


_CONV_DOC = """{nd}-D convolution layer, as ``torch.nn.{name}``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or {ints}
    stride, dilation : int or {ints}
    padding : int, {ints}, 'valid' or 'same'
    groups : int
        ``groups == in_channels`` gives a depthwise convolution.
    bias : bool
    padding_mode : {{'zeros', 'reflect', 'replicate', 'circular'}}
    dtype : float32 (default) or float64
    algorithm : {algorithms}
        How the convolution is computed (not in PyTorch: its cuDNN-style choice). ``'im2col'`` is the
        readable path (numconv/functional/conv.py): one matrix product over the unrolled input.
        ``'auto'`` picks the fastest that applies. All give the same numbers up to float rounding.

    Shapes
    ------
    input (N, C_in, {axes}) or (C_in, {axes}) -> output (N, C_out, {out_axes}) or (C_out, {out_axes}),
    with ``{axis}_out = ({axis} + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1``{each_axis}.
    ``weight`` is (C_out, C_in / groups, {kernel_axes}); ``bias`` is (C_out,).
    """
_ALGORITHMS = {1: "{'auto', 'im2col'} (the others are 2-D only)",
               2: "{'auto', 'im2col', 'winograd', 'winograd4', 'winograd_cl', 'rowslab'}",
               3: "{'auto', 'im2col'} (the others are 2-D only)"}
Conv1d, Conv2d, Conv3d = (ranked(_ConvNd, f"Conv{nd}d", nd, _CONV_DOC, __name__, algorithms=_ALGORITHMS)
                          for nd in (1, 2, 3))
