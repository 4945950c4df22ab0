"""Dropout layers: thin wrappers around ``numconv.functional.dropout``.

In training mode a layer draws a fresh mask on every forward (from numconv's
global generator, so ``numconv.manual_seed`` makes runs repeatable) and its
backward reuses that mask; in evaluation mode (``layer.eval()``) it is the
identity.

Every layer takes the same two arguments:

- ``p``: a float in [0, 1], default 0.5, the probability of zeroing an
  element (or a whole channel); kept values are scaled by ``1 / (1 - p)``
  (``p = 1`` outputs zeros, ``p = 0`` is the identity);
- ``inplace``: write the result into the input array and return that array,
  as PyTorch does.
"""

from __future__ import annotations

from .. import functional as F
from .._checks import check_probability
from ._inplace import forward_inplace
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class _DropoutNd(Module):
    """Shared constructor, forward, backward and repr; a subclass names its functional op."""

    _backward_reads_inputs = False  # its backward needs shapes (or a mask), not its inputs' values

    _op = None

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        check_probability(p, type(self).__name__)
        self.p = p  # kept as given, so the repr matches PyTorch's (``p=1`` for an int)
        self.inplace = inplace

    def forward(self, x):
        if self.inplace:
            return forward_inplace(self, x, lambda a: type(self)._op(a, self.p, self.training))
        x = self._as_input(x, type(self).__name__)
        return self._output(type(self)._op(x, self.p, self.training))

    def backward(self, grad_output):
        return F.dropout_backward(grad_output, self._take())

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Inverted dropout of single elements, as ``torch.nn.Dropout``.

    In training, each element is zeroed with probability ``p`` and the others
    are scaled by ``1 / (1 - p)``, so the expected output equals the input;
    in evaluation the layer is the identity.

    Shapes
    ------
    input (*) -> output (*), same shape.
    """

    _op = staticmethod(F.dropout)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) input, as ``torch.nn.Dropout1d``.

    Takes ``p`` and ``inplace`` (see the module docstring).
    """

    _op = staticmethod(F.dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) input, as ``torch.nn.Dropout2d``.

    Like PyTorch's, a 3-D input is read as (N, C, L) (with a warning), not as
    an unbatched image; see :func:`numconv.functional.dropout2d`.
    """

    _op = staticmethod(F.dropout2d)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input, as ``torch.nn.Dropout3d``.

    Takes ``p`` and ``inplace`` (see the module docstring).
    """

    _op = staticmethod(F.dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks that keeps zero mean and unit variance, as ``torch.nn.AlphaDropout``.

    Dropped values are set to SELU's negative saturation value and an affine
    map restores the statistics; see :func:`numconv.functional.alpha_dropout`.
    """

    _op = staticmethod(F.alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels of (N, C, *) input, as ``torch.nn.FeatureAlphaDropout``.

    Takes ``p`` and ``inplace`` (see the module docstring).
    """

    _op = staticmethod(F.feature_alpha_dropout)
