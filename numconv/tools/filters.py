"""Classic image filters, computed with numconv's own ``conv2d``.

Before networks learned their filters, people designed them by hand: a blur
averages a neighbourhood, an edge detector subtracts one side from the other.
Each named kernel below is a small float array with a docstring saying what it
does and why; ``apply_filter`` slides it over every channel of an image with
``numconv.functional.conv2d`` (a depthwise convolution, ``groups = C``), so a
learned ``Conv2d`` layer and a Photoshop filter are visibly the same operation.

>>> from numconv.tools import filters
>>> image = filters.sample_image()                # (144, 216, 3) uint8, made procedurally
>>> edges = filters.apply_filter(image, filters.sobel_x())
>>> sorted(filters.KERNELS)[:3]
['box_blur', 'emboss', 'gaussian_blur']

Cross-correlation, not flipped convolution
------------------------------------------
``conv2d`` (like PyTorch's, and every deep-learning library's) computes a
cross-correlation: ``out[i, j] = sum over p, q of kernel[p, q] * image[i + p - r, j + q - r]``
with ``r`` the kernel's radius; the kernel is laid on the image as printed.
The convolution of signal processing (``scipy.ndimage.convolve``, textbooks)
first rotates the kernel by 180 degrees. For symmetric kernels (blurs,
sharpen, Laplacian, outline) the two agree. For asymmetric ones they differ:
``sobel_x`` here is positive where the image gets brighter to the right (a
flipped convolution gives the opposite sign), and ``emboss`` lights the relief
from the upper left (flipped: from the lower right, so it looks sunken).
"""

from __future__ import annotations

import functools
import math
import os

import numpy as np

from ..functional.conv import conv2d

__all__ = [
    "parse_kernel",
    "identity", "box_blur", "gaussian_blur", "sharpen", "emboss", "outline", "laplacian", "sobel_x", "sobel_y",
    "KERNELS", "get_kernel", "describe_kernel", "apply_filter", "to_uint8", "default_display", "sample_image",
    "PADDING_MODES", "DISPLAY_MODES", "SAMPLE_IMAGE_PATH",
]

#: How the border is filled so the output keeps the input's size.
PADDING_MODES = ("reflect", "replicate", "zeros", "circular")
#: How a float response becomes uint8 pixels (see ``to_uint8``).
DISPLAY_MODES = ("clip", "shift", "abs", "stretch")
SAMPLE_IMAGE_PATH = os.path.join(os.path.dirname(__file__), "assets", "sample_image.npz")


# ---------------------------------------------------------------------------------------------- the kernels
def identity() -> np.ndarray:
    """The 3 x 3 identity: a single 1 in the centre, so the output equals the input.

    The starting point every other kernel is a variation of (``sharpen`` is
    the identity plus an edge term); a quick check that the machinery does
    not shift or scale the image.
    """
    kernel = np.zeros((3, 3))
    kernel[1, 1] = 1.0
    return kernel


def box_blur(size: int = 3) -> np.ndarray:
    """The mean of a ``size`` x ``size`` neighbourhood: ``ones((size, size)) / size**2``.

    The simplest low-pass filter: every output pixel is the plain average of
    the pixels around it, so noise and fine detail are smoothed away. The
    weights sum to 1, so flat regions keep their brightness. Its square
    window leaves faint blocky artefacts that ``gaussian_blur`` avoids.
    """
    size = _odd_size(size, "box_blur")
    return np.full((size, size), 1.0 / size**2)


def gaussian_blur(size: int | None = 5, sigma: float = 1.0) -> np.ndarray:
    """A normalised 2-D Gaussian, ``exp(-(dy**2 + dx**2) / (2 sigma**2))`` over a ``size`` x ``size`` grid.

    A smoother blur than the box: near pixels count more than far ones, and
    the weights fall off the same way in every direction, so edges blur
    evenly with no square artefacts. ``sigma`` (in pixels) sets the strength;
    ``size=None`` picks ``2 * ceil(3 sigma) + 1``, wide enough to hold
    99.7 % of the bell. The weights are divided by their sum, so they sum to 1.
    """
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.integer, np.floating)) or \
            not math.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"gaussian_blur: sigma must be a positive number of pixels, got {sigma!r}")
    if size is None:
        if sigma > MAX_KERNEL_SIZE:  # 2 * ceil(3 sigma) + 1 could not even be computed for sigma = 1e308
            raise ValueError(f"gaussian_blur: sigma {sigma} needs a kernel wider than the limit of "
                             f"{MAX_KERNEL_SIZE} pixels (keep sigma <= 166)")
        size = 2 * math.ceil(3 * sigma) + 1
    size = _odd_size(size, "gaussian_blur")
    offsets = np.arange(size) - size // 2
    bell = np.exp(-(offsets**2) / (2.0 * float(sigma) ** 2))
    kernel = np.outer(bell, bell)  # the 2-D Gaussian is separable: a product of two 1-D bells
    return kernel / kernel.sum()


def sharpen() -> np.ndarray:
    """``[[0, -1, 0], [-1, 5, -1], [0, -1, 0]]``: the identity minus the (4-neighbour) Laplacian.

    Adds to each pixel its difference from its four neighbours, so edges
    and fine texture get more contrast while flat regions (weights sum to 1)
    stay as they were. Also amplifies noise.
    """
    return np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]])


def emboss() -> np.ndarray:
    """``[[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]``: the image plus a diagonal brightness difference.

    Each pixel becomes itself plus (lower-right neighbours minus upper-left
    neighbours). Flat regions are unchanged (the weights sum to 1); an edge
    gets a highlight on one side and a shadow on the other, which reads as
    relief lit from the upper left. Asymmetric: a flipped convolution would
    light it from the lower right instead (see the module docstring).
    """
    return np.array([[-2.0, -1.0, 0.0], [-1.0, 1.0, 1.0], [0.0, 1.0, 2.0]])


def outline() -> np.ndarray:
    """``[[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]``: a pixel minus its eight neighbours.

    Zero on flat regions (the weights sum to 0), large where a pixel differs
    from its surroundings in any direction: it draws the outlines of shapes.
    It is the negative of the 8-neighbour Laplacian. Its response is signed
    (the dark side of an edge is negative).
    """
    kernel = -np.ones((3, 3))
    kernel[1, 1] = 8.0
    return kernel


def laplacian() -> np.ndarray:
    """``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``: the discrete Laplacian (sum of second derivatives).

    Each pixel's four neighbours minus four times itself: ``d2/dx2 + d2/dy2``
    by finite differences. Zero on flat regions and on linear ramps, so it
    only responds where the brightness *bends*: at edges, lines and dots.
    Negative on the bright side of an edge, positive on the dark side.
    """
    return np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def sobel_x() -> np.ndarray:
    """``[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]``: the horizontal brightness gradient (Sobel, 1968).

    Right column minus left column, the middle row weighted twice (a little
    vertical smoothing against noise). Large where the brightness changes
    from left to right, so it finds *vertical* edges. With numconv's
    cross-correlation the response is positive where the image gets brighter
    to the right, negative where it gets darker.
    """
    return np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel_y() -> np.ndarray:
    """``[[-1, -2, -1], [0, 0, 0], [1, 2, 1]]``: the vertical brightness gradient (the transpose of ``sobel_x``).

    Bottom row minus top row: finds *horizontal* edges. Positive where the
    image gets brighter downwards (array rows grow downwards).
    """
    return sobel_x().T.copy()


#: name -> function returning the kernel (each takes only optional arguments)
KERNELS = {
    "identity": identity,
    "box_blur": box_blur,
    "gaussian_blur": gaussian_blur,
    "sharpen": sharpen,
    "emboss": emboss,
    "outline": outline,
    "laplacian": laplacian,
    "sobel_x": sobel_x,
    "sobel_y": sobel_y,
}


def parse_kernel(text: str) -> np.ndarray:
    """A kernel written out as text: rows separated by ``;``, values by ``,`` (``"1,0,-1;2,0,-2;1,0,-1"``).

    Returns
    -------
    ndarray, float64, shape (rows, columns)

    Raises
    ------
    ValueError
        For an empty kernel, a value that is not a finite number, or rows of different lengths.
    """
    rows = [row.strip() for row in str(text).strip().strip(";").split(";")]
    if not rows or not all(rows):
        raise ValueError(f"kernel {text!r}: an empty row; write rows separated by ';' and values by ',', "
                         "e.g. \"1,0,-1;2,0,-2;1,0,-1\"")
    values = []
    for r, row in enumerate(rows):
        try:
            values.append([float(v) for v in row.split(",")])
        except ValueError:
            raise ValueError(f"kernel {text!r}: row {r + 1} ({row!r}) holds something that is not a number") from None
    lengths = sorted({len(row) for row in values})
    if len(lengths) > 1:
        raise ValueError(f"kernel {text!r}: every row needs the same number of values, got rows of "
                         f"{', '.join(str(n) for n in lengths)}")
    kernel = np.array(values, dtype=np.float64)
    if not np.all(np.isfinite(kernel)):
        raise ValueError(f"kernel {text!r}: every value must be finite")
    return kernel


def get_kernel(name: str, **kwargs) -> np.ndarray:
    """The kernel called ``name`` (``"sobel-x"`` and ``"sobel_x"`` both work), built with ``kwargs``.

    Returns
    -------
    kernel : ndarray, float64, shape (kH, kW)
    """
    return KERNELS[_kernel_key(name, "get_kernel")](**kwargs)


def describe_kernel(name: str) -> str:
    """The first line of the kernel's docstring, as plain text: what it is, in one sentence."""
    return KERNELS[_kernel_key(name, "describe_kernel")].__doc__.strip().splitlines()[0].replace("``", "")


def _kernel_key(name, where: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{where}: expected a kernel name (str), got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key not in KERNELS:
        raise ValueError(f"{where}: unknown kernel {name!r}; available: {', '.join(sorted(KERNELS))}")
    return key


#: the widest blur kernel: beyond it a kernel costs seconds to gigabytes and is wider than most pictures
MAX_KERNEL_SIZE = 1001


def _odd_size(size, where: str) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"{where}: expected size to be an int, got {size!r}")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"{where}: size must be a positive odd int (the kernel needs a centre pixel), got {size}")
    if size > MAX_KERNEL_SIZE:
        raise ValueError(f"{where}: size {size} is larger than the limit of {MAX_KERNEL_SIZE} pixels"
                         + (" (from sigma: keep sigma <= 166)" if where == "gaussian_blur" else ""))
    return int(size)


# ---------------------------------------------------------------------------------------------- applying one
def apply_filter(image, kernel, padding_mode: str = "reflect", display: str = "auto") -> np.ndarray:
    """Filter every channel of ``image`` with ``kernel``, keeping its size and layout.

    The image becomes a batch of one, (1, C, H, W); the kernel is repeated
    for each channel as a (C, 1, kH, kW) weight; and one depthwise
    ``numconv.functional.conv2d(..., groups=C)`` filters every channel on its
    own (colours are not mixed). The border is padded by ``(kH - 1) / 2``
    rows and ``(kW - 1) / 2`` columns so the output is H x W.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C), uint8 or float32/float64
        A grayscale or colour (RGB, or any number of channels) image.
    kernel : array_like, shape (kH, kW)
        Odd height and width (there must be a centre pixel). Applied as a
        cross-correlation, not flipped: see the module docstring.
    padding_mode : {'reflect', 'replicate', 'zeros', 'circular'}
        What fills the border. ``'reflect'`` (the default) mirrors the image
        about its edge pixel, which continues textures and gradients the way
        a photo would, so blurs keep the corners bright and edge filters see
        no false edge at the frame. ``'zeros'`` pads with black: a blur
        darkens the border and edge filters draw a frame (what a CNN layer
        with ``padding=k // 2`` sees). ``'replicate'`` repeats the edge
        pixel; ``'circular'`` wraps around. Reflection needs the image to be
        larger than the kernel's radius.
    display : {'auto', 'clip', 'shift', 'abs', 'stretch'}
        For uint8 images only: how the float response becomes uint8 pixels
        (see ``to_uint8``). ``'auto'`` is ``default_display(kernel)``:
        ``'clip'`` for kernels whose weights do not sum to zero (blurs,
        sharpen, emboss keep the brightness), ``'shift'`` for those that sum
        to zero (Sobel, Laplacian, outline answer 0 on flat regions and give
        signed values, so 0 is shown as mid-grey, positive lighter, negative
        darker).

    Returns
    -------
    out : ndarray, shape of ``image``
        uint8 for a uint8 image (computed in float64, then converted with
        ``display``); for a float image the response itself, in the image's
        dtype and not clipped (it can be negative or above 1).
    """
    image = _check_image(image, "apply_filter")
    kernel = _check_kernel(kernel, "apply_filter")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"apply_filter: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    if display != "auto" and display not in DISPLAY_MODES:
        raise ValueError(f"apply_filter: display must be 'auto' or one of {DISPLAY_MODES}, got {display!r}")
    height, width = image.shape[:2]
    pad_h, pad_w = (kernel.shape[0] - 1) // 2, (kernel.shape[1] - 1) // 2
    if padding_mode == "reflect" and (pad_h >= height or pad_w >= width):
        raise ValueError(
            f"apply_filter: padding_mode='reflect' needs the image larger than the kernel's radius, but a "
            f"{kernel.shape[0]} x {kernel.shape[1]} kernel was given for an image of shape {tuple(image.shape)}; "
            "use padding_mode='zeros' or 'replicate'"
        )

    # uint8 pixels are converted to float64: exact for these sums, so rounding is the only approximation.
    dtype = np.float64 if image.dtype == np.uint8 else image.dtype
    planes = image[:, :, np.newaxis] if image.ndim == 2 else image
    channels = planes.shape[2]
    x = np.ascontiguousarray(planes.transpose(2, 0, 1), dtype=dtype)[np.newaxis]  # (1, C, H, W)
    weight = np.ascontiguousarray(np.broadcast_to(kernel.astype(dtype), (channels, 1, *kernel.shape)))
    out, _ = conv2d(x, weight, padding=(pad_h, pad_w), groups=channels, padding_mode=padding_mode)
    response = out[0].transpose(1, 2, 0)  # (H, W, C)
    if image.ndim == 2:
        response = response[:, :, 0]
    response = np.ascontiguousarray(response)
    if image.dtype != np.uint8:
        return response
    return to_uint8(response, default_display(kernel) if display == "auto" else display)


def default_display(kernel) -> str:
    """``'shift'`` for a kernel whose weights sum to zero (an edge detector), else ``'clip'``."""
    kernel = np.asarray(kernel, dtype=np.float64)
    scale = float(np.abs(kernel).sum())
    return "shift" if scale > 0 and abs(float(kernel.sum())) <= 1e-9 * scale else "clip"


def to_uint8(values, display: str = "clip") -> np.ndarray:
    """Turn a filter response on the 0..255 scale into uint8 pixels.

    Parameters
    ----------
    values : ndarray, any shape, float
    display : {'clip', 'shift', 'abs', 'stretch'}
        - ``'clip'``: round, then clip to 0..255. Right for kernels that keep
          the brightness (weights summing to 1); negative responses become black.
        - ``'shift'``: ``128 + values / 2``, rounded and clipped: zero is
          mid-grey, +-255 are white/black. Shows the sign of a signed
          response (edge detectors).
        - ``'abs'``: ``|values|``, clipped: the edge strength, white edges on
          black, whatever their direction.
        - ``'stretch'``: the smallest value becomes 0 and the largest 255
          (a constant input becomes all 0). Shows every response at full
          contrast, but the scale changes from image to image.

    Returns
    -------
    pixels : ndarray, uint8, shape of ``values``
    """
    values = np.asarray(values, dtype=np.float64)
    if display == "clip":
        scaled = values
    elif display == "shift":
        scaled = 128.0 + values / 2.0
    elif display == "abs":
        scaled = np.abs(values)
    elif display == "stretch":
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    else:
        raise ValueError(f"to_uint8: display must be one of {DISPLAY_MODES}, got {display!r}")
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _check_image(image, where: str) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{where}: expected the image as a NumPy array (H, W) or (H, W, C), got {type(image).__name__}")
    if image.dtype not in (np.uint8, np.float32, np.float64):
        raise TypeError(f"{where}: expected a uint8, float32 or float64 image, got dtype {image.dtype}")
    if image.ndim not in (2, 3):
        raise ValueError(
            f"{where}: expected an image of shape (H, W) or (H, W, C), got shape {tuple(image.shape)} ({image.ndim}-D)"
        )
    if 0 in image.shape:
        raise ValueError(f"{where}: the image is empty (shape {tuple(image.shape)})")
    return image


def _check_kernel(kernel, where: str) -> np.ndarray:
    kernel = np.asarray(kernel)
    if kernel.dtype == object or not (np.issubdtype(kernel.dtype, np.floating)
                                      or np.issubdtype(kernel.dtype, np.integer)):
        raise TypeError(f"{where}: expected a numeric kernel, got dtype {kernel.dtype}")
    if kernel.ndim != 2:
        raise ValueError(f"{where}: expected a 2-D kernel (kH, kW), got shape {tuple(kernel.shape)}")
    if kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise ValueError(
            f"{where}: expected a kernel with odd height and width (it is centred on each pixel), "
            f"got shape {tuple(kernel.shape)}"
        )
    kernel = kernel.astype(np.float64)
    if not np.all(np.isfinite(kernel)):
        raise ValueError(f"{where}: the kernel holds NaN or infinite values")
    return kernel


# ---------------------------------------------------------------------------------------------- the sample image
@functools.lru_cache(maxsize=1)
def _load_sample() -> np.ndarray:
    with np.load(SAMPLE_IMAGE_PATH, allow_pickle=False) as data:
        image = data["image"]
    image.setflags(write=False)
    return image


def sample_image() -> np.ndarray:
    """The built-in sample picture: a small landscape drawn by a program (no photo, no copyright).

    Sky gradient, sun and clouds (smooth regions), mountains with snow, a
    house with windows and a fence (sharp straight edges), trees and a
    grassy meadow (fine texture), a lake reflecting it all: something for
    every filter to act on. Made by ``scripts/make_figures.py --sample-image``.

    Returns
    -------
    image : ndarray, uint8, shape (144, 216, 3)
        RGB; a fresh copy on every call.
    """
    return _load_sample().copy()
