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
