"""Resizing layers: ``Upsample``, ``UpsamplingNearest2d``, ``UpsamplingBilinear2d``, ``PixelShuffle``,
``PixelUnshuffle``, as in ``torch.nn``.

Thin wrappers around ``numconv.functional.upsample``, with PyTorch's names,
arguments, attributes and ``repr``. None has parameters, so each keeps its
input's dtype. The options are checked when the layer is built.
"""

from __future__ import annotations

from ..functional import upsample as U
from .module import Module

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle"]


class Upsample(Module):
    """Resize the spatial axes, as ``torch.nn.Upsample`` (``numconv.functional.interpolate`` as a layer).

    Parameters
    ----------
    size : int or tuple of ints, optional
        The output's spatial size.
    scale_factor : float or tuple of floats, optional
        Multiplier of the spatial size (output ``floor(in * scale_factor)``).
        Exactly one of ``size`` and ``scale_factor``.
    mode : {'nearest', 'nearest-exact', 'linear', 'bilinear', 'trilinear'}
    align_corners : bool, optional
        Linear modes only; see ``numconv.functional.upsample``.
    recompute_scale_factor : bool, optional

    Shapes
    ------
    (N, C, L), (N, C, H, W) or (N, C, D, H, W) -> the same with the spatial axes resized
    (``linear`` 3-D, ``bilinear`` 4-D, ``trilinear`` 5-D input).

    Examples
    --------
    >>> up = Upsample(scale_factor=2, mode="nearest")
    >>> up(np.array([[[[1.0, 2.0]]]]))
    array([[[[1., 1., 2., 2.],
             [1., 1., 2., 2.]]]])
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        U.check_options(size, scale_factor, mode, align_corners, recompute_scale_factor, type(self).__name__)
        self.name = type(self).__name__
        self.size = size
        # As PyTorch stores it: a float, or a tuple of floats
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x):
        return self._output(U.interpolate(self._as_input(x), self.size, self.scale_factor, self.mode,
                                          self.align_corners, self.recompute_scale_factor))

    def backward(self, grad_output):
        return U.interpolate_backward(grad_output, self._take())

    def extra_repr(self) -> str:
        # The same text as torch.nn.Upsample
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of (N, C, H, W) input, as ``torch.nn.UpsamplingNearest2d``.

    ``Upsample(size, scale_factor, mode='nearest')``; its backward sums the
    gradient of each block of copies.
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling of (N, C, H, W) input, as ``torch.nn.UpsamplingBilinear2d``.

    ``Upsample(size, scale_factor, mode='bilinear', align_corners=True)``:
    note ``align_corners=True``, unlike ``Upsample``'s default (PyTorch's
    choice, kept for compatibility with older versions).
    """

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class _Shuffle(Module):
    """What PixelShuffle and PixelUnshuffle share: one factor (named ``_factor``) and a functional pair."""

    _factor = ""
    _forward = _backward = None

    def __init__(self, factor):
        super().__init__()
        U.check_positive_int(factor, type(self).__name__, self._factor)
        setattr(self, self._factor, factor)

    def forward(self, x):
        return self._output(type(self)._forward(self._as_input(x), getattr(self, self._factor)))

    def backward(self, grad_output):
        return type(self)._backward(grad_output, self._take())

    def extra_repr(self) -> str:
        return f"{self._factor}={getattr(self, self._factor)}"


class PixelShuffle(_Shuffle):
    """(*, C * r^2, H, W) -> (*, C, H * r, W * r), as ``torch.nn.PixelShuffle``; see ``pixel_shuffle``."""

    _factor = "upscale_factor"
    _forward, _backward = staticmethod(U.pixel_shuffle), staticmethod(U.pixel_shuffle_backward)

    def __init__(self, upscale_factor):
        super().__init__(upscale_factor)


class PixelUnshuffle(_Shuffle):
    """(*, C, H * r, W * r) -> (*, C * r^2, H, W), as ``torch.nn.PixelUnshuffle``; see ``pixel_unshuffle``."""

    _factor = "downscale_factor"
    _forward, _backward = staticmethod(U.pixel_unshuffle), staticmethod(U.pixel_unshuffle_backward)

    def __init__(self, downscale_factor):
        super().__init__(downscale_factor)
