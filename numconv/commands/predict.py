"""``numconv predict CHECKPOINT IMAGE...``: classify pictures (PNG, JPEG) with a trained checkpoint."""

from __future__ import annotations

import sys

import numpy as np

from ._shared import (DATASETS, CLIError, build_transform, class_names, load_model, require_file, run_model,
                      transform_settings)


def add_arguments(p):
    p.add_argument("checkpoint", help="a .npz written by numconv train")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files")
    p.add_argument("--top", type=int, default=1, help="show the K most likely classes (default 1)")
    add_max_pixels_argument(p)


def add_max_pixels_argument(p):
    from ..tools.images import DEFAULT_MAX_PIXELS

    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                   help=f"refuse pictures larger than this (default {DEFAULT_MAX_PIXELS:,}: a guard against "
                        "decompression bombs)")


def load_image(path, size: int = 28, max_pixels: int | None = None):
    """A PNG/JPEG as the training data looked: (size, size) uint8, white on black.

    Returns
    -------
    pixels : ndarray, uint8, shape (size, size)
    inverted : bool
        True when the image had a light background and was inverted.
    """
    require_file(path, "image")
    try:
        from PIL import Image
    except ImportError:
        raise CLIError("predict needs Pillow to read images (pip install Pillow)") from None
    from ..tools.images import DEFAULT_MAX_PIXELS, as_8_bit, on_white_paper, open_image

    try:
        with open_image(path, max_pixels or DEFAULT_MAX_PIXELS) as img:
            img.load()
            gray = as_8_bit(on_white_paper(img)).convert("L")
            # Shrinking averages each output pixel's area (no aliasing, no blur beyond it);
            # enlarging interpolates.
            shrink = gray.width >= size and gray.height >= size
            gray = gray.resize((size, size), Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR)
    except (OSError, ValueError, SyntaxError) as error:
        raise CLIError(f"cannot read image '{path}': {error}") from None
    pixels = np.asarray(gray, dtype=np.uint8)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    # MNIST-style data is a light object on a dark background; a photo of ink
    # on paper is the opposite, so invert it to match what the model saw.
    inverted = bool(border.mean() > 127)
    return (255 - pixels if inverted else pixels), inverted


def run(args) -> int:
    """Classify image files with a trained checkpoint."""
    if args.max_pixels < 1:
        raise CLIError(f"--max-pixels must be at least 1, got {args.max_pixels}")
    if args.top < 1:
        raise CLIError(f"--top must be at least 1, got {args.top}")

    model, ckpt = load_model(args.checkpoint)
    data_cfg = ckpt.config.get("data", {})
    dataset = data_cfg.get("dataset", "sample")
    settings = data_cfg.get("transform") or transform_settings(dataset if dataset in DATASETS else "sample")
    names = data_cfg.get("classes") or class_names(dataset if dataset in DATASETS else "sample")
    transform = build_transform(settings)
    from ..tools.images import unusual_image

    batch, notes = [], []
    for path in args.images:
        pixels, inverted = load_image(path, int(settings.get("image_size", 28)), args.max_pixels)
        batch.append(transform(pixels))
        notes.append("  (light background: inverted to light-on-dark, like the training images)" if inverted else "")
        reason = unusual_image(pixels)
        if reason:
            print(f"numconv predict: warning: '{path}' is unlike the training images: {reason}; the answer below "
                  "may mean little", file=sys.stderr)
    logits = np.asarray(run_model(model, np.stack(batch), args.checkpoint), dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    top = max(1, min(args.top, probs.shape[1]))
    for path, p, note in zip(args.images, probs, notes):
        order = np.argsort(-p, kind="stable")[:top]
        best = ", ".join(f"{names[i] if i < len(names) else i} ({100 * p[i]:.1f}%)" for i in order)
        print(f"{path}: {best}{note}")
    return 0
