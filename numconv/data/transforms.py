"""Image transforms: small callables applied to each image (or a whole batch).

A transform takes an image as a NumPy array, ``(C, H, W)`` (``ToFloat``
and ``Pad`` also take a plain ``(H, W)``), or a batch ``(N, C, H, W)``, and
returns a new array; it never changes its input. On a batch the random
transforms draw independently for every image, so a ``DataLoader`` can
transform a whole batch in a few vectorised NumPy calls instead of one
Python call per image. Every transform here has ``supports_batch = True``;
``Compose`` has it when all its members do.

Random transforms draw from numconv's global generator (reset by
``numconv.manual_seed``) unless given their own ``generator=``. A batch and
the same images one by one use the same distributions but not the same
draws.

The usual MNIST pipeline for LeNet-5::

    Compose([ToFloat(), Pad(2), Normalize((0.1307,), (0.3081,))])   # 28x28 uint8 -> (1, 32, 32) float32

Pictures from Pillow or an image library (channel-last ``(H, W, C)``) go
through ``ToTensor()`` first, as in torchvision; ``ToPILImage()`` turns an
array back into a picture (both in :mod:`numconv.data.pil_transforms`).
"""

from __future__ import annotations

import numpy as np

from .._checks import channel_last_hint, check_positive_int, check_probability, ntuple
from .._random import get_generator

__all__ = [
    "Compose", "ToFloat", "Normalize", "Pad", "Resize", "RandomCrop", "RandomHorizontalFlip", "Transform",
    "ToTensor", "PILToTensor", "ToPILImage",
]


class Transform:
    """Base class: a callable on ``(C, H, W)`` images and ``(N, C, H, W)`` batches."""

    supports_batch = True

    def __call__(self, image):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        return ""


def _image(x, where: str, allow_2d: bool = False) -> np.ndarray:
    """Check ``x`` is an ndarray image or batch; return it."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{where}: expected a NumPy array, got {type(x).__name__}")
    allowed = (2, 3, 4) if allow_2d else (3, 4)
    if x.ndim not in allowed:
        layouts = "(H, W), (C, H, W) or (N, C, H, W)" if allow_2d else "(C, H, W) or (N, C, H, W)"
        raise ValueError(f"{where}: expected an image {layouts}, got shape {tuple(x.shape)} ({x.ndim}-D)")
    return x


def _float_image(x, where: str) -> np.ndarray:
    x = _image(x, where)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{where}: expected a float32 or float64 image, got {x.dtype} (put ToFloat() first)")
    return x


def _generator(generator):
    return generator if generator is not None else get_generator()


class Compose(Transform):
    """Apply ``transforms`` one after the other.

    Parameters
    ----------
    transforms : sequence of callables
    """

    def __init__(self, transforms):
        transforms = list(transforms)
        for t in transforms:
            if not callable(t):
                raise TypeError(f"Compose: expected callables, got {type(t).__name__}")
        self.transforms = transforms

    @property
    def supports_batch(self):
        return all(getattr(t, "supports_batch", False) for t in self.transforms)

    def __call__(self, image):
        for t in self.transforms:
            image = t(image)
        return image

    def __repr__(self):
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class ToFloat(Transform):
    """uint8 pixels -> float32 in [0, 1], with a channel axis.

    ``(H, W)`` becomes ``(1, H, W)``; ``(C, H, W)`` and ``(N, C, H, W)`` keep
    their shape. uint8 is divided by 255; a float input is only cast to
    float32 (it is taken to be scaled already), so applying ``ToFloat`` twice
    is harmless.

    Returns
    -------
    ndarray, float32, shape (C, H, W) or (N, C, H, W)
    """

    def __call__(self, image):
        x = _image(image, "ToFloat", allow_2d=True)
        if x.dtype == np.uint8:
            out = np.divide(x, np.float32(255), dtype=np.float32)  # one pass, exactly x.float() / 255
        elif x.dtype in (np.float32, np.float64):
            out = x.astype(np.float32)
        else:
            raise TypeError(f"ToFloat: expected uint8 or float pixels, got {x.dtype}")
        return out[None] if out.ndim == 2 else out


class Normalize(Transform):
    """``(x - mean[c]) / std[c]`` for every channel ``c``.

    Parameters
    ----------
    mean, std : float or sequence of float
        One value, or one per channel.

    Input and output: float ``(C, H, W)`` or ``(N, C, H, W)``, same dtype.
    """

    def __init__(self, mean, std):
        self.mean = tuple(float(m) for m in np.atleast_1d(np.asarray(mean, dtype=np.float64)))
        self.std = tuple(float(s) for s in np.atleast_1d(np.asarray(std, dtype=np.float64)))
        if len(self.mean) != len(self.std):
            raise ValueError(f"Normalize: mean has {len(self.mean)} values but std has {len(self.std)}")
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std must not be zero, got {self.std}")

    def __call__(self, image):
        x = _float_image(image, "Normalize")
        channels = x.shape[-3]
        if len(self.mean) not in (1, channels):
            raise ValueError(
                f"Normalize: {len(self.mean)} mean/std values for an image with {channels} channels "
                f"(shape {tuple(x.shape)})" + channel_last_hint(x.shape, x.ndim - 3, len(self.mean))
            )
        mean = np.asarray(self.mean, dtype=x.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=x.dtype).reshape(-1, 1, 1)
        out = x - mean
        out /= std  # in place on the new array: one temporary fewer
        return out

    def extra_repr(self):
        return f"mean={self.mean}, std={self.std}"


def _padding4(padding, where):
    """int, (lr, tb) or (left, top, right, bottom) -> (left, top, right, bottom)."""
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        padding = (padding,)
    if not isinstance(padding, (tuple, list)) or len(padding) not in (1, 2, 4):
        raise TypeError(f"{where}: expected padding as an int or a tuple of 2 or 4 ints, got {padding!r}")
    values = ntuple(list(padding), len(padding), where, "padding", minimum=0)
    if len(values) == 1:
        return values * 4
    if len(values) == 2:
        return (values[0], values[1], values[0], values[1])
    return values


_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect"}


class Pad(Transform):
    """Pad the last two axes (width and height).

    Parameters
    ----------
    padding : int or tuple
        ``p`` pads every side by ``p``; ``(lr, tb)`` pads left/right by ``lr``
        and top/bottom by ``tb``; ``(left, top, right, bottom)`` each side.
    fill : number
        The value of the new pixels (``padding_mode="constant"``).
    padding_mode : {"constant", "edge", "reflect"}
        ``edge`` repeats the border pixel; ``reflect`` mirrors without
        repeating it (as ``torch.nn.functional.pad``'s ``replicate`` and
        ``reflect``).

    Input: ``(H, W)``, ``(C, H, W)`` or ``(N, C, H, W)`` of any dtype; output
    the same rank and dtype, ``H + top + bottom`` by ``W + left + right``.
    ``Pad(2)`` turns 28x28 MNIST images into LeNet-5's 32x32.
    """

    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding = _padding4(padding, "Pad")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"Pad: padding_mode must be one of {sorted(_PAD_MODES)}, got {padding_mode!r}")
        if isinstance(fill, bool) or not isinstance(fill, (int, float, np.integer, np.floating)):
            raise TypeError(f"Pad: expected fill to be a number, got {fill!r}")
        self.fill = fill
        self.padding_mode = padding_mode

    def __call__(self, image):
        x = _image(image, "Pad", allow_2d=True)
        left, top, right, bottom = self.padding
        if self.padding_mode == "reflect" and (max(top, bottom) >= x.shape[-2] or max(left, right) >= x.shape[-1]):
            raise ValueError(
                f"Pad: reflect padding {self.padding} must be smaller than the image size "
                f"{tuple(x.shape[-2:])} on each side"
            )
        if self.padding_mode == "constant":
            # Fill a new array and copy the image into its middle (several times faster than np.pad).
            height, width = x.shape[-2:]
            out = np.full((*x.shape[:-2], top + height + bottom, left + width + right),
                          np.asarray(self.fill).astype(x.dtype), dtype=x.dtype)
            out[..., top:top + height, left:left + width] = x
            return out
        widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
        return np.pad(x, widths, mode=_PAD_MODES[self.padding_mode])

    def extra_repr(self):
        return f"padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode!r}"


def _output_size(size, height, width):
    """torchvision's rule: an int sets the smaller edge, keeping the aspect ratio."""
    if isinstance(size, tuple):
        return size
    if height <= width:
        return size, int(size * width / height)
    return int(size * height / width), size


def _nearest_index(n_in: int, n_out: int) -> np.ndarray:
    """Source index of each output pixel, ``floor(i * n_in / n_out)`` in float32 as PyTorch computes it."""
    scale = np.float32(n_in) / np.float32(n_out)
    index = np.floor(np.arange(n_out, dtype=np.float32) * scale).astype(np.intp)
    return np.minimum(index, n_in - 1)


def _linear_weights(n_in: int, n_out: int, dtype):
    """Neighbour indices and weights of 1-D linear interpolation (``align_corners=False``).

    Output pixel ``i`` samples the input at ``src = (i + 0.5) * n_in / n_out - 0.5``
    (clamped at 0): a pixel's centre maps to the matching point of the
    input, and the value there is ``(1 - t) * x[i0] + t * x[i0 + 1]``.
    """
    scale = dtype.type(n_in) / dtype.type(n_out)
    src = (np.arange(n_out, dtype=dtype) + dtype.type(0.5)) * scale - dtype.type(0.5)
    src = np.maximum(src, dtype.type(0))
    i0 = np.minimum(src.astype(np.intp), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    t = src - i0.astype(dtype)
    return i0, i1, dtype.type(1) - t, t


class Resize(Transform):
    """Resize the last two axes.

    Parameters
    ----------
    size : int or (int, int)
        ``(h, w)``, or an int giving the smaller edge (the other edge keeps
        the aspect ratio, truncated), as in torchvision.
    interpolation : {"bilinear", "nearest"}
        ``bilinear`` equals ``torch.nn.functional.interpolate(x,
        mode="bilinear", align_corners=False)`` (no antialiasing, so a
        large reduction aliases, exactly as there); ``nearest`` equals
        ``mode="nearest"`` and works on any dtype. Bilinear needs float input.
        (Nearest picks the pixels PyTorch's float32 kernel picks, whatever
        the dtype: PyTorch's float64 kernel, for some output widths, rounds
        its row positions differently and picks the row above where
        ``i * H_in / H_out`` is a whole number.)

    Input ``(C, H, W)`` or ``(N, C, H, W)``; output the same with the new size.
    """

    def __init__(self, size, interpolation="bilinear"):
        if isinstance(size, (tuple, list)):
            size = ntuple(list(size), 2, "Resize", "size", minimum=1)
        else:
            size = check_positive_int(size, "Resize", "size")
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"Resize: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
        self.size = size
        self.interpolation = interpolation

    def __call__(self, image):
        x = _image(image, "Resize")
        if self.interpolation == "bilinear" and x.dtype not in (np.float32, np.float64):
            raise TypeError(f"Resize: bilinear interpolation needs a float image, got {x.dtype} (put ToFloat() first)")
        height, width = x.shape[-2:]
        out_h, out_w = _output_size(self.size, height, width)
        if self.interpolation == "nearest":
            rows, cols = _nearest_index(height, out_h), _nearest_index(width, out_w)
            return x[..., rows[:, None], cols[None, :]]
        r0, r1, wr0, wr1 = _linear_weights(height, out_h, x.dtype)
        c0, c1, wc0, wc1 = _linear_weights(width, out_w, x.dtype)
        # Interpolate along the width first, then along the height.
        left, right = x[..., c0], x[..., c1]
        across = left * wc0 + right * wc1
        return across[..., r0, :] * wr0[:, None] + across[..., r1, :] * wr1[:, None]

    def extra_repr(self):
        return f"size={self.size}, interpolation={self.interpolation!r}"


class RandomCrop(Transform):
    """Cut a random ``size`` window out of the (optionally padded) image.

    Parameters
    ----------
    size : int or (int, int)
        ``(h, w)`` of the crop.
    padding : int or tuple, optional
        Padding applied first, as in :class:`Pad` (``RandomCrop(28, padding=4)``
        shifts an MNIST digit by up to 4 pixels).
    fill : number
        Value of padded pixels.
    generator : numpy.random.Generator, optional
        Source of the offsets (default: numconv's global generator).

    The top-left corner is drawn uniformly from every position where the
    window fits; on a batch each image gets its own corner.
    """

    def __init__(self, size, padding=None, fill=0, generator=None):
        self.size = ntuple(size, 2, "RandomCrop", "size", minimum=1)
        self.pad = None if padding is None else Pad(padding, fill=fill)
        self.padding = None if padding is None else self.pad.padding
        self.generator = generator

    def __call__(self, image):
        x = _image(image, "RandomCrop")
        if self.pad is not None:
            x = self.pad(x)
        height, width = x.shape[-2:]
        h, w = self.size
        if h > height or w > width:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the (padded) image {(height, width)}")
        gen = _generator(self.generator)
        if x.ndim == 3:
            top = int(gen.integers(0, height - h + 1))
            left = int(gen.integers(0, width - w + 1))
            return x[:, top:top + h, left:left + w].copy()
        n = x.shape[0]
        tops = gen.integers(0, height - h + 1, size=n)
        lefts = gen.integers(0, width - w + 1, size=n)
        # All h x w windows as a view, then one gather picks each image's window.
        windows = np.lib.stride_tricks.sliding_window_view(x, (h, w), axis=(2, 3))  # (N, C, H-h+1, W-w+1, h, w)
        return windows[np.arange(n), :, tops, lefts]

    def extra_repr(self):
        return f"size={self.size}, padding={self.padding}"


class RandomHorizontalFlip(Transform):
    """Mirror the image left-right with probability ``p``.

    Parameters
    ----------
    p : float
        Probability of flipping each image (each image of a batch is decided
        on its own).
    generator : numpy.random.Generator, optional
        Default: numconv's global generator.
    """

    def __init__(self, p=0.5, generator=None):
        self.p = check_probability(p, "RandomHorizontalFlip")
        self.generator = generator

    def __call__(self, image):
        x = _image(image, "RandomHorizontalFlip")
        gen = _generator(self.generator)
        if x.ndim == 3:
            return x[..., ::-1].copy() if gen.random() < self.p else x.copy()
        flip = gen.random(x.shape[0]) < self.p
        out = x.copy()
        out[flip] = x[flip][..., ::-1]
        return out

    def extra_repr(self):
        return f"p={self.p}"


# torchvision's picture <-> array conversions (their own module: they are about PIL, not arrays).
from .pil_transforms import PILToTensor, ToPILImage, ToTensor  # noqa: E402
