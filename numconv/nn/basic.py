"""Shape-only layers: ``Flatten``, ``Unflatten``, ``Identity``."""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array
from .module import Module

__all__ = ["Flatten", "Unflatten", "Identity"]


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` into one, as ``torch.nn.Flatten``.

    The default (``start_dim=1``) turns (N, C, H, W) into (N, C*H*W), the
    step between the convolutional part of a network and its linear head.
    """

    _backward_reads_inputs = False  # its backward needs shapes (or a mask), not its inputs' values

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        for name, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"Flatten: expected {name} to be an int, got {value!r}")
        self.start_dim = int(start_dim)
        self.end_dim = int(end_dim)

    def forward(self, x):
        x = as_float_array(x, "Flatten")
        ndim = max(x.ndim, 1)
        start = self.start_dim + ndim if self.start_dim < 0 else self.start_dim
        end = self.end_dim + ndim if self.end_dim < 0 else self.end_dim
        if not (0 <= start < ndim and 0 <= end < ndim):
            raise ValueError(
                f"Flatten: start_dim={self.start_dim}, end_dim={self.end_dim} are out of range for an input "
                f"of shape {x.shape}"
            )
        if start > end:
            raise ValueError(f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim}")
        new_shape = x.shape[:start] + (int(np.prod(x.shape[start:end + 1])),) + x.shape[end + 1:]
        self._keep(x.shape)
        return x.reshape(new_shape)

    def backward(self, grad_output):
        shape = self._take()
        return np.asarray(grad_output).reshape(shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size``, as ``torch.nn.Unflatten``."""

    _backward_reads_inputs = False  # its backward needs shapes (or a mask), not its inputs' values

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"Unflatten: expected dim to be an int, got {dim!r}")
        if not isinstance(unflattened_size, (tuple, list)) or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in unflattened_size
        ):
            raise TypeError(f"Unflatten: expected unflattened_size to be a tuple of non-negative ints, "
                            f"got {unflattened_size!r}")
        self.dim = int(dim)
        self.unflattened_size = tuple(int(s) for s in unflattened_size)

    def forward(self, x):
        x = as_float_array(x, "Unflatten")
        dim = self.dim + x.ndim if self.dim < 0 else self.dim
        if not 0 <= dim < x.ndim or x.shape[dim] != int(np.prod(self.unflattened_size)):
            raise ValueError(
                f"Unflatten: cannot split axis {self.dim} of an input of shape {x.shape} into {self.unflattened_size}"
            )
        self._keep(x.shape)
        return x.reshape(x.shape[:dim] + self.unflattened_size + x.shape[dim + 1:])

    def backward(self, grad_output):
        return np.asarray(grad_output).reshape(self._take())

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, as ``torch.nn.Identity``).

    Accepts and ignores any constructor arguments, like PyTorch's.
    """

    _backward_reads_inputs = False  # its backward needs shapes (or a mask), not its inputs' values

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        self._keep(True)
        return x

    def backward(self, grad_output):
        self._take()
        return grad_output
