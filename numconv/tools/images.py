"""Small helpers for reading pictures with Pillow (imported by the caller, never here)."""

from __future__ import annotations

import numpy as np


def on_white_paper(img):
    """Flatten a transparent Pillow image onto white; return any other image unchanged.

    Transparent pixels usually store black, so converting an RGBA drawing
    straight to grayscale would turn its transparent background black.
    Compositing it onto an opaque white sheet first keeps what a viewer sees.
    """
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        from PIL import Image

        rgba = img.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        paper.alpha_composite(rgba)
        return paper
    return img


def as_8_bit(img):
    """A 16-bit, 32-bit or floating-point grayscale Pillow image scaled to 8 bits (mode "L"); others unchanged.

    Pillow's ``convert("L")`` clips such values at 255 instead of scaling them, so a 16-bit scan became
    black and white (2 grey levels). Integer images whose values exceed 255 are read as 16-bit
    (``/ 257``); floating-point ones in [0, 1] are scaled by 255, others clipped to [0, 255].
    """
    if img.mode not in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        return img
    import numpy as np
    from PIL import Image

    values = np.asarray(img, dtype=np.float64)
    top = values.max(initial=0.0)
    if img.mode == "F":
        values = values * 255.0 if top <= 1.0 else values
    elif img.mode.startswith("I;16") or top > 255:
        values = values / 257.0  # 65535 -> 255
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), mode="L")


#: the largest picture predict and filter open unless told otherwise (--max-pixels): 25 megapixels,
#: e.g. 5000 x 5000. A "decompression bomb" (a small PNG that declares a huge size) is refused before
#: anything is decoded.
DEFAULT_MAX_PIXELS = 25_000_000


def open_image(path, max_pixels: int = DEFAULT_MAX_PIXELS):
    """Open a picture with Pillow after checking, from its header, that it has at most ``max_pixels`` pixels.

    Returns an opened (not yet decoded) ``PIL.Image``; use it in a ``with``.
    Raises ``ValueError`` naming the size and the limit for a larger one
    (Pillow's own bomb check, a warning or an error at other limits, is
    replaced by this one).
    """
    import warnings

    from PIL import Image

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # the header is read lazily; the size is checked below
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    width, height = img.size
    if width * height > max_pixels:
        img.close()
        raise ValueError(f"image '{path}' is {width} x {height} = {width * height:,} pixels, more than the limit "
                         f"of {max_pixels:,} (pass --max-pixels {width * height} if you trust the file)")
    return img


def unusual_image(pixels) -> str | None:
    """Why a 28 x 28 grey image (uint8, light object on dark) is unlike the Fashion-MNIST/MNIST training images.

    ``None`` when it looks like them. The limits are a margin around what the
    bundled Fashion-MNIST sample's 6,000 training images span: their mean
    brightness is 0.03 to 0.75, 8 % to 91 % of their pixels are above 0.1,
    and their border (the outermost ring of pixels) is dark, mean at most
    0.30. A classifier answers something for any input, so ``numconv
    predict`` prints this reason as a warning next to the answer.
    """
    x = np.asarray(pixels, dtype=np.float64) / 255.0
    if x.max() - x.min() < 0.06:
        return f"it is nearly blank (every pixel within {255 * (x.max() - x.min()):.0f} of 255 of the others)"
    mean, ink = float(x.mean()), float((x > 0.1).mean())
    border = float(np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]]).mean())
    if ink < 0.04:
        return f"almost nothing is drawn ({100 * ink:.1f} % of the pixels; the training images have 8 % or more)"
    if mean > 0.8 or ink > 0.95:
        return (f"it is mostly bright ({100 * ink:.0f} % of the pixels, mean {mean:.2f}; the training images are a "
                "light object on a dark background)")
    if border > 0.35:
        return (f"its border is bright (mean {border:.2f}; in the training images the object sits inside a dark "
                "frame: crop the picture around the object)")
    return None
