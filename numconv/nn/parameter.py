"""``Parameter``: a learnable array and the gradient that accumulates into it."""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array


class Parameter:
    """A learnable array.

    Parameters
    ----------
    data : ndarray
        The values, float32 or float64. Kept as given (not copied) so that
        ``Parameter(w).data is w`` and an initialiser can fill it in place.
    requires_grad : bool
        Optimisers skip parameters with ``requires_grad=False``.

    Attributes
    ----------
    data : ndarray
        The current values.
    grad : ndarray, same shape and dtype as ``data``
        The gradient of the loss with respect to ``data``. Backward passes
        *add* into it, so call ``zero_grad()`` before each step.
    """

    __slots__ = ("data", "grad", "requires_grad")

    def __init__(self, data, requires_grad: bool = True):
        data = as_float_array(data, "Parameter", "data")
        self.data = data
        self.grad = np.zeros_like(data)
        self.requires_grad = bool(requires_grad)

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    def numpy(self) -> np.ndarray:
        """The values (not a copy)."""
        return self.data

    def zero_grad(self) -> None:
        """Set the gradient to zeros (in place, keeping its shape and dtype)."""
        if self.grad is None or self.grad.shape != self.data.shape or self.grad.dtype != self.data.dtype:
            self.grad = np.zeros_like(self.data)
        else:
            self.grad.fill(0)

    def accumulate_grad(self, grad) -> None:
        """Add one backward pass's gradient into ``grad`` (nothing when ``requires_grad`` is False).

        Gradients add up rather than overwrite, as in PyTorch, so a parameter
        used twice in one forward pass receives both contributions.
        """
        if self.requires_grad:
            self.grad += grad

    def to(self, dtype) -> "Parameter":
        """Convert values and gradient to ``dtype`` in place; returns self."""
        dtype = np.dtype(dtype)
        self.data = self.data.astype(dtype, copy=False)
        self.grad = self.grad.astype(dtype, copy=False)
        return self

    def __repr__(self) -> str:
        return f"Parameter(shape={tuple(self.data.shape)}, dtype={self.data.dtype})"
