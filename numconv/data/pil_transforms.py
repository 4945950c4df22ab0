"""torchvision's conversions between pictures and arrays: ``ToTensor``, ``PILToTensor``, ``ToPILImage``.

numconv's arrays play the part of torch tensors, so "tensor" here means a
NumPy array in the channel-first layout ``(C, H, W)``. A PIL image or a
NumPy array from an image library is channel-last ``(H, W, C)``; these
transforms turn one into the other exactly as torchvision does:

- ``ToTensor()``: PIL image or ``(H, W, C)`` / ``(H, W)`` array -> ``(C, H, W)``;
  uint8 pixels become float32 in [0, 1] (``x / 255``), anything else keeps
  its values and dtype (torchvision's rule);
- ``PILToTensor()``: PIL image -> ``(C, H, W)`` with the image's own dtype, unscaled;
- ``ToPILImage(mode=None)``: ``(C, H, W)`` or ``(H, W)`` -> PIL image; float
  pixels are taken as [0, 1] and become ``uint8(x * 255)`` (truncated).

Pillow is imported only when a PIL image is made or recognised.
"""

from __future__ import annotations

import sys

import numpy as np

from .._checks import shape_str
from .transforms import Transform

__all__ = ["ToTensor", "PILToTensor", "ToPILImage"]

# PIL modes whose pixels are not 8-bit: NumPy dtype to read them with (as torchvision).
_WIDE_MODES = {"I": np.int32, "I;16": np.int16, "F": np.float32}


def _is_pil_image(x) -> bool:
    pil = sys.modules.get("PIL.Image")  # a PIL image exists only if Pillow was imported
    return pil is not None and isinstance(x, pil.Image)


def _require_pil(where: str):
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError(f"{where} needs Pillow (pip install Pillow, or pip install 'numconv[images]'): "
                          f"{error}") from None
    return Image


def _pil_to_hwc(image, dtype=None) -> np.ndarray:
    """The pixels of a PIL image as an (H, W, C) array (mode ``1`` as 0/255 uint8 unless ``dtype`` is given)."""
    pixels = np.array(image, dtype=dtype, copy=True)
    if image.mode == "1" and dtype is not None:
        pixels = pixels.astype(dtype) * dtype(255)  # torchvision scales 1-bit pictures to 0/255
    width, height = image.size
    return pixels.reshape(height, width, len(image.getbands()))


def _hwc_array(x, where: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{where}: expected a PIL image or a NumPy array, got {type(x).__name__}")
    if x.ndim == 2:
        return x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"{where}: expected an image (H, W) or (H, W, C), got shape {shape_str(x.shape)} "
                         f"({x.ndim}-D)")
    return x


class ToTensor(Transform):
    """PIL image or ``(H, W, C)`` array -> ``(C, H, W)`` array, as ``torchvision.transforms.ToTensor``.

    uint8 pixels (and PIL modes ``L``, ``LA``, ``P``, ``RGB``, ``RGBA``,
    ``YCbCr``, ``CMYK``, ``1``) become float32 ``x / 255`` in [0, 1]; PIL
    modes ``I``, ``I;16`` and ``F`` and non-uint8 arrays keep their values
    and dtype. A 2-D ``(H, W)`` array or a one-band picture gives ``(1, H, W)``.

    Returns
    -------
    ndarray, shape (C, H, W)
    """

    supports_batch = False  # takes one picture; a batch of arrays is already channel-first

    def __call__(self, image):
        if _is_pil_image(image):
            hwc = _pil_to_hwc(image, _WIDE_MODES.get(image.mode, np.uint8))
        else:
            hwc = _hwc_array(image, "ToTensor")
        chw = np.ascontiguousarray(hwc.transpose(2, 0, 1))
        if chw.dtype == np.uint8:
            return np.divide(chw, np.float32(255), dtype=np.float32)  # exactly x.float() / 255
        return chw


class PILToTensor(Transform):
    """PIL image -> ``(C, H, W)`` array of its own pixel type, unscaled (``torchvision.transforms.PILToTensor``).

    Returns
    -------
    ndarray, shape (C, H, W)
        uint8 for 8-bit modes, bool for mode ``1``, int32 / int16 / float32
        for ``I`` / ``I;16`` / ``F``.
    """

    supports_batch = False

    def __call__(self, image):
        if not _is_pil_image(image):
            raise TypeError(f"PILToTensor: expected a PIL image, got {type(image).__name__} "
                            f"(for an (H, W, C) array use ToTensor, or array.transpose(2, 0, 1))")
        return np.ascontiguousarray(_pil_to_hwc(image).transpose(2, 0, 1))


# Modes a picture of C channels may take, the first being the default (torchvision's table).
_MODES_BY_CHANNELS = {2: ("LA",), 3: ("RGB", "YCbCr", "HSV"), 4: ("RGBA", "CMYK", "RGBX")}
_ONE_CHANNEL_MODES = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16", np.dtype(np.int32): "I",
                      np.dtype(np.float32): "F"}


def _chw_array(x, where: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{where}: expected a NumPy array (C, H, W) or (H, W), got {type(x).__name__}")
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"{where}: expected an image (C, H, W) or (H, W), got shape {shape_str(x.shape)} "
                         f"({x.ndim}-D)")
    if x.shape[0] > 4:
        hint = (f"; it looks channel-last: image.transpose(2, 0, 1) puts the channels first"
                if x.shape[-1] <= 4 else "")
        raise ValueError(f"{where}: expected at most 4 channels on the first axis of (C, H, W), got shape "
                         f"{shape_str(x.shape)}{hint}")
    return x


def _pick_mode(hwc: np.ndarray, mode, where: str) -> str:
    channels = hwc.shape[2]
    if channels == 1:
        expected = _ONE_CHANNEL_MODES.get(hwc.dtype)
        if expected is None:
            raise TypeError(f"{where}: a one-channel {hwc.dtype} image has no PIL mode "
                            f"(uint8 -> L, int16 -> I;16, int32 -> I, float32 -> F)")
        if mode is not None and mode != expected:
            raise ValueError(f"{where}: a one-channel {hwc.dtype} image is mode {expected!r}, not {mode!r}")
        return expected
    allowed = _MODES_BY_CHANNELS[channels]
    if mode is not None and mode not in allowed:
        raise ValueError(f"{where}: a {channels}-channel image can be mode {' or '.join(allowed)}, not {mode!r}")
    if hwc.dtype != np.uint8:
        raise TypeError(f"{where}: a {channels}-channel image must hold uint8 pixels, got {hwc.dtype}")
    return mode or allowed[0]


class ToPILImage(Transform):
    """``(C, H, W)`` or ``(H, W)`` array -> PIL image, as ``torchvision.transforms.ToPILImage`` on a tensor.

    Parameters
    ----------
    mode : str, optional
        The PIL mode; by default ``L`` / ``LA`` / ``RGB`` / ``RGBA`` for 1 /
        2 / 3 / 4 uint8 channels, ``I;16`` / ``I`` / ``F`` for one int16 /
        int32 / float32 channel.

    Float pixels (unless ``mode="F"``) are read as [0, 1] and become
    ``uint8(x * 255)``, truncated as torch's ``.byte()``; values outside
    [0, 1] are clipped first (torch leaves those undefined).
    """

    supports_batch = False

    def __init__(self, mode=None):
        if mode is not None and not isinstance(mode, str):
            raise TypeError(f"ToPILImage: expected mode to be a PIL mode string, got {mode!r}")
        self.mode = mode

    def __call__(self, image):
        chw = _chw_array(image, "ToPILImage")
        if np.issubdtype(chw.dtype, np.floating) and self.mode != "F":
            scaled = np.clip(chw * chw.dtype.type(255), 0, 255)
            chw = scaled.astype(np.uint8)  # truncation, as torch's .byte()
        hwc = np.ascontiguousarray(chw.transpose(1, 2, 0))
        mode = _pick_mode(hwc, self.mode, "ToPILImage")
        Image = _require_pil("ToPILImage")
        height, width = hwc.shape[:2]
        pixels = hwc[:, :, 0] if hwc.shape[2] == 1 else hwc
        if mode == "I;16":
            pixels = pixels.astype("<u2")
        elif mode in ("I", "F"):
            pixels = pixels.astype("<i4" if mode == "I" else "<f4")
        return Image.frombytes(mode, (width, height), pixels.tobytes())

    def extra_repr(self):
        return "" if self.mode is None else f"mode={self.mode!r}"
