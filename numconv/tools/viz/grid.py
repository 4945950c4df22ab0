"""``make_grid`` / ``save_image``: a batch of images tiled into one picture, as in torchvision.utils.

Same arguments, same algorithm, same pixels: images are laid out ``nrow``
to a row, each framed by ``padding`` pixels of ``pad_value``; one-channel
images are repeated to three channels; ``normalize=True`` clamps to
``value_range`` (default: the batch's own min and max, or each image's with
``scale_each=True``) and shifts that range to [0, 1]. ``save_image`` turns
the grid into 8-bit pixels by ``uint8(clamp(x * 255 + 0.5, 0, 255))`` and
writes it with Pillow. No matplotlib is involved.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..._checks import check_positive_int, shape_str

__all__ = ["make_grid", "save_image"]


def _as_batch(tensor) -> np.ndarray:
    """(B, C, H, W) from an array of 2, 3 or 4 axes or a list of same-shaped images; one channel -> three."""
    if isinstance(tensor, (list, tuple)):
        if not tensor or not all(isinstance(t, np.ndarray) for t in tensor):
            raise TypeError("make_grid: expected an array or a non-empty list of arrays")
        shapes = {t.shape for t in tensor}
        if len(shapes) > 1:
            raise ValueError(f"make_grid: the images of the list have different shapes {sorted(shapes)}")
        tensor = np.stack(tensor)
    if not isinstance(tensor, np.ndarray):
        raise TypeError(f"make_grid: expected an array or a list of arrays, got {type(tensor).__name__}")
    if tensor.dtype == object or not (np.issubdtype(tensor.dtype, np.number) or tensor.dtype == bool):
        raise TypeError(f"make_grid: expected numeric pixels, got dtype {tensor.dtype}")
    if tensor.ndim == 2:  # one (H, W) image
        tensor = tensor[None]
    if tensor.ndim == 3:  # one (C, H, W) image
        tensor = (np.concatenate([tensor] * 3) if tensor.shape[0] == 1 else tensor)[None]
    if tensor.ndim != 4:
        raise ValueError(f"make_grid: expected images (B, C, H, W), (C, H, W) or (H, W), got shape "
                         f"{shape_str(tensor.shape)}")
    if tensor.shape[1] == 1:
        tensor = np.concatenate([tensor] * 3, axis=1)
    return tensor


def _normalize_(images: np.ndarray, low: float, high: float) -> None:
    """Clamp to [low, high] and map it onto [0, 1], in place, in the images' dtype (as torchvision's norm_ip)."""
    kind = images.dtype.type
    np.clip(images, kind(low), kind(high), out=images)
    images -= kind(low)
    images /= kind(max(high - low, 1e-5))  # the span is worked out in Python floats, then cast


def _normalized(batch: np.ndarray, value_range, scale_each: bool) -> np.ndarray:
    if value_range is not None:
        if not (isinstance(value_range, tuple) and len(value_range) == 2):
            raise TypeError(f"make_grid: value_range has to be a tuple (min, max), got {value_range!r}")
    if not np.issubdtype(batch.dtype, np.floating):
        raise TypeError(f"make_grid: normalize=True needs float images, got {batch.dtype}")
    batch = batch.copy()
    for images in (batch if scale_each else [batch]):
        low, high = value_range if value_range is not None else (float(images.min()), float(images.max()))
        _normalize_(images, float(low), float(high))
    return batch


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """Tile a batch of images into one image (``torchvision.utils.make_grid``).

    Parameters
    ----------
    tensor : ndarray, shape (B, C, H, W), (C, H, W) or (H, W); or a list of (C, H, W) arrays
    nrow : int
        Images per row of the grid; there are ``ceil(B / nrow)`` rows.
    padding : int
        Pixels between images and around the border.
    normalize : bool
        Shift the pixels to [0, 1] by the range below (float images only).
    value_range : tuple (min, max), optional
        The range mapped to [0, 1] (values outside are clamped); default the
        images' own min and max.
    scale_each : bool
        With ``normalize``, use each image's own range instead of the batch's.
    pad_value : float
        The value of the padding pixels.

    Returns
    -------
    ndarray, shape (C', padding + rows * (H + padding), padding + cols * (W + padding))
        ``C' = 3`` for one-channel input, else ``C``; a single image comes
        back as it is, ``(C', H, W)``, without padding. Same dtype as the input.
    """
    nrow = check_positive_int(nrow, "make_grid", "nrow")
    padding = check_positive_int(padding, "make_grid", "padding", minimum=0)
    batch = _as_batch(tensor)
    if normalize:
        batch = _normalized(batch, value_range, bool(scale_each))
    if batch.shape[0] == 1:
        return batch[0]
    count, channels, height, width = batch.shape
    cols = min(nrow, count)
    rows = math.ceil(count / cols)
    cell_h, cell_w = height + padding, width + padding
    grid = np.full((channels, rows * cell_h + padding, cols * cell_w + padding), pad_value, dtype=batch.dtype)
    for k in range(count):
        top, left = (k // cols) * cell_h + padding, (k % cols) * cell_w + padding
        grid[:, top:top + height, left:left + width] = batch[k]
    return grid


def grid_to_uint8(grid: np.ndarray) -> np.ndarray:
    """(C, H, W) pixels in [0, 1] -> (H, W, C) uint8 by ``uint8(clamp(x * 255 + 0.5, 0, 255))``, as torchvision."""
    if not np.issubdtype(grid.dtype, np.floating):
        raise TypeError(f"save_image: expected float pixels in [0, 1], got {grid.dtype}")
    scaled = grid * grid.dtype.type(255)
    scaled += grid.dtype.type(0.5)
    np.clip(scaled, 0, 255, out=scaled)
    return scaled.transpose(1, 2, 0).astype(np.uint8)  # truncation after the + 0.5: rounding to nearest


def save_image(tensor, fp, format=None, **kwargs):
    """Write ``make_grid(tensor, **kwargs)`` as an 8-bit picture (``torchvision.utils.save_image``).

    Parameters
    ----------
    tensor : ndarray or list of ndarray
        As for :func:`make_grid`; float pixels in [0, 1] (or use ``normalize=True``).
    fp : str, os.PathLike or binary file object
        Where to write; the format follows the file name's extension.
    format : str, optional
        The format (``"PNG"``, ...) when ``fp`` is a file object.
    **kwargs
        ``nrow``, ``padding``, ``normalize``, ``value_range``, ``scale_each``, ``pad_value``.
    """
    pixels = grid_to_uint8(make_grid(tensor, **kwargs))
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError(f"save_image needs Pillow (pip install Pillow): {error}") from None
    if pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    target = os.fspath(fp) if isinstance(fp, (str, os.PathLike)) else fp
    Image.fromarray(pixels).save(target, format=format)
