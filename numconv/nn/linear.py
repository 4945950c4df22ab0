"""``Linear``: a fully connected layer."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._checks import check_parameters
from ..init import default_layer_init_
from .module import Module
from .parameter import Parameter

__all__ = ["Linear"]


class Linear(Module):
    """``y = x @ weight.T + bias``, as ``torch.nn.Linear``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        Learn an additive bias (default True).
    dtype : float32 (default) or float64

    Shapes
    ------
    input (*, in_features) -> output (*, out_features).
    ``weight`` is (out_features, in_features), initialised like PyTorch's:
    U(-1/sqrt(in_features), 1/sqrt(in_features)), and so is ``bias``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=np.float32):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"Linear: expected {name} to be a non-negative int, got {value!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        self.bias = Parameter(np.empty(out_features, dtype=dtype)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        default_layer_init_(self.weight, self.bias)

    def forward(self, x):
        check_parameters(self)
        x_in = x
        x = self._as_input(x, "Linear")
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear: expected input with last axis {self.in_features} (weight has shape "
                f"{self.weight.shape}), got input of shape {np.shape(x_in)}"
            )
        out, cache = F.linear(x, self.weight.data, None if self.bias is None else self.bias.data)
        self._keep((cache, x_in.dtype))
        return out

    def backward(self, grad_output):
        cache, in_dtype = self._take()
        dx, dweight, dbias = F.linear_backward(grad_output, cache)
        self.weight.accumulate_grad(dweight)
        if self.bias is not None:
            self.bias.accumulate_grad(dbias)
        return dx.astype(in_dtype, copy=False)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
