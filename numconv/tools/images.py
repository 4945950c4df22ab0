"""Small helpers for reading pictures with Pillow (imported by the caller, never here)."""

from __future__ import annotations


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
