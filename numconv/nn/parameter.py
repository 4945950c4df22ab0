"""``Parameter``: a learnable array and the gradient that accumulates into it."""

from __future__ import annotations

import threading

import numpy as np

from .._checks import as_float_array


_GRAD_LOCK = threading.Lock()
_accumulations = 0  # gradients added by accumulate_grad, in every thread (see accumulations)


def accumulations() -> int:
    """How many gradients ``Parameter.accumulate_grad`` has added so far, all threads together.

    The tape compares it before and after a refused backward: an unchanged
    count means no parameter received anything, so the forward can be kept
    for a corrected retry.
    """
    return _accumulations


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
    grad : ndarray, same shape and dtype as ``data``, or None
        The gradient of the loss with respect to ``data``. ``None`` until a
        backward pass reaches this parameter (and again after ``zero_grad()``,
        as in PyTorch), so an optimiser can tell "no gradient" from "zero
        gradient". Backward passes *add* into it, so call ``zero_grad()``
        before each step.
    """

    __slots__ = ("data", "grad", "requires_grad")

    def __init__(self, data, requires_grad: bool = True):
        data = as_float_array(data, "Parameter", "data")
        self.data = data
        self.grad = None
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

    def numel(self) -> int:
        """The number of values, as ``torch.Tensor.numel``."""
        return int(self.data.size)

    def numpy(self) -> np.ndarray:
        """The values (not a copy)."""
        return self.data

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradient: ``None`` (the default, as PyTorch), or zeros in place with ``set_to_none=False``."""
        if set_to_none:
            self.grad = None
        elif self.grad is None or self.grad.shape != self.data.shape or self.grad.dtype != self.data.dtype:
            self.grad = np.zeros_like(self.data)
        else:
            self.grad.fill(0)

    def accumulate_grad(self, grad) -> None:
        """Add one backward pass's gradient into ``grad`` (nothing when ``requires_grad`` is False).

        Gradients add up rather than overwrite, as in PyTorch, so a parameter
        used twice in one forward pass receives both contributions. The first
        contribution after ``zero_grad()`` becomes the gradient. A lock makes
        the addition safe when two threads differentiate one model at once.
        """
        global _accumulations
        if not self.requires_grad:
            return
        with _GRAD_LOCK:
            _accumulations += 1
            if self.grad is None:
                self.grad = np.array(grad, dtype=self.data.dtype, copy=True).reshape(self.data.shape)
            else:
                self.grad += grad

    def to(self, dtype) -> "Parameter":
        """Convert values and gradient to ``dtype`` in place; returns self."""
        dtype = np.dtype(dtype)
        self.data = self.data.astype(dtype, copy=False)
        if self.grad is not None:
            self.grad = self.grad.astype(dtype, copy=False)
        return self

    def __repr__(self) -> str:
        return f"Parameter(shape={tuple(self.data.shape)}, dtype={self.data.dtype})"
