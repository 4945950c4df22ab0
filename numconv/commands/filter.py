"""``numconv filter``: run a classic image kernel (blur, sharpen, emboss, Sobel...) over a picture.

::

    numconv filter --list                          # the kernels, one line each
    numconv filter --kernel emboss -o emboss.png   # the built-in sample picture
    numconv filter photo.jpg --kernel sobel-x --gray -o edges.png
    numconv filter photo.jpg --kernel gaussian-blur --sigma 3 -o soft.png
    numconv filter photo.jpg --kernel "1,0,-1;2,0,-2;1,0,-1" -o mine.png   # your own kernel: rows split by ;

The work is ``numconv.tools.filters.apply_filter``: numconv's own ``conv2d``,
one depthwise convolution over the colour channels.
"""

from __future__ import annotations

import os

from ._shared import CLIError, require_file

# (R, G, B) weights of ITU-R BT.601 luma, the conversion Pillow's "L" mode uses.
_LUMA = (0.299, 0.587, 0.114)


def add_arguments(p) -> None:
    p.add_argument("image", nargs="?", default=None,
                   help="a PNG or JPEG file (default: numconv's built-in sample picture)")
    p.add_argument("--kernel", "-k", default="sharpen",
                   help="which kernel (default sharpen; see --list), or your own written out, rows separated by ';' "
                        "and values by ',': \"1,0,-1;2,0,-2;1,0,-1\" (one that starts with a minus: "
                        "--kernel=\"-1,0,1;...\")")
    p.add_argument("--output", "-o", default=None,
                   help="where to write the result (default: <image name>-<kernel>.png in the current folder)")
    p.add_argument("--list", action="store_true", help="list the kernels and exit")
    p.add_argument("--gray", action="store_true", help="convert the picture to grayscale first")
    p.add_argument("--padding-mode", default="reflect", choices=["reflect", "replicate", "zeros", "circular"],
                   help="what fills the border so the size is kept (default reflect: the picture mirrored)")
    p.add_argument("--display", default="auto", choices=["auto", "clip", "shift", "abs", "stretch"],
                   help="how the response becomes pixels (default auto: clip, or 0 = mid-grey for edge kernels)")
    p.add_argument("--size", type=int, default=None, help="kernel size for box-blur and gaussian-blur (odd)")
    p.add_argument("--sigma", type=float, default=None, help="standard deviation in pixels for gaussian-blur")
    from .predict import add_max_pixels_argument

    add_max_pixels_argument(p)


def run(args) -> int:
    """Filter an image with a classic kernel (blur, sharpen, emboss, edges) using numconv's conv2d."""
    import numpy as np

    from ..tools import filters

    if args.list:
        width = max(len(name) for name in filters.KERNELS)
        for name in filters.KERNELS:
            print(f"{name.replace('_', '-'):<{width}}  {filters.describe_kernel(name)}")
        return 0
    if args.max_pixels < 1:
        raise CLIError(f"--max-pixels must be at least 1, got {args.max_pixels}")
    kernel, name = _kernel(filters, args)
    if args.image is None:
        image, stem = filters.sample_image(), "sample"
    else:
        image, stem = _read_image(args.image, args.max_pixels), os.path.splitext(os.path.basename(args.image))[0]
    if args.gray and image.ndim == 3:
        image = np.clip(np.rint(image[:, :, :3].astype(np.float64) @ np.array(_LUMA)), 0, 255).astype(np.uint8)
    try:
        result = filters.apply_filter(image, kernel, padding_mode=args.padding_mode, display=args.display)
    except ValueError as error:
        raise CLIError(str(error)) from None
    output = args.output or f"{stem}-{name.replace('_', '-')}.png"
    _write_image(result, output)
    display = filters.default_display(kernel) if args.display == "auto" else args.display
    print(f"wrote {output}: {result.shape[1]} x {result.shape[0]} {'gray' if result.ndim == 2 else 'colour'}, "
          f"kernel {name.replace('_', '-')} ({kernel.shape[0]} x {kernel.shape[1]}), "
          f"padding {args.padding_mode}, display {display}")
    return 0


def _kernel(filters, args):
    """``(kernel, canonical name)`` from ``--kernel``, ``--size`` and ``--sigma``."""
    if any(mark in args.kernel for mark in ",;") or _is_number(args.kernel):
        if args.size is not None or args.sigma is not None:
            raise CLIError("--size and --sigma apply to the named kernels, not to a kernel written out")
        try:
            return filters.parse_kernel(args.kernel), "custom"
        except ValueError as error:
            raise CLIError(str(error)) from None
    name = args.kernel.strip().lower().replace("-", "_")
    if name not in filters.KERNELS:
        raise CLIError(f"unknown kernel {args.kernel!r}; available: "
                       f"{', '.join(k.replace('_', '-') for k in filters.KERNELS)} (see --list)")
    kwargs = {}
    if args.size is not None:
        if name not in ("box_blur", "gaussian_blur"):
            raise CLIError(f"--size applies to box-blur and gaussian-blur, not {name.replace('_', '-')}")
        kwargs["size"] = args.size
    if args.sigma is not None:
        if name != "gaussian_blur":
            raise CLIError(f"--sigma applies to gaussian-blur, not {name.replace('_', '-')}")
        kwargs["sigma"] = args.sigma
        kwargs.setdefault("size", None)  # wide enough for this sigma
    try:
        return filters.get_kernel(name, **kwargs), name
    except (TypeError, ValueError) as error:
        raise CLIError(str(error)) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        raise CLIError("filter needs Pillow to read and write images (pip install Pillow)") from None
    return Image


def _read_image(path, max_pixels=None):
    """The picture as uint8 (H, W) or (H, W, 3); transparency is flattened onto white."""
    import numpy as np

    from ..tools.images import DEFAULT_MAX_PIXELS, as_8_bit, on_white_paper, open_image

    _pillow()
    require_file(path, "image")
    try:
        with open_image(path, max_pixels or DEFAULT_MAX_PIXELS) as img:
            img.load()
            img = as_8_bit(on_white_paper(img))
            img = img.convert("L" if img.mode in ("L", "1", "I", "I;16", "F") else "RGB")
            return np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as error:
        raise CLIError(f"cannot read image '{path}': {error}") from None


def _write_image(pixels, path) -> None:
    """Save ``pixels`` to ``path``, whole or not at all (a full disk leaves the old file as it was)."""
    from ..data._files import atomic_write

    Image = _pillow()
    try:
        extension = os.path.splitext(os.fspath(path))[1].lower()
        image_format = Image.registered_extensions().get(extension)
        if image_format is None:
            raise ValueError(f"unknown file extension: {extension or '(none)'}")
        atomic_write(path, lambda f: Image.fromarray(pixels).save(f, format=image_format))
    except (OSError, ValueError, KeyError) as error:
        message = str(error) or type(error).__name__
        if isinstance(error, (ValueError, KeyError)) and "extension" in message.lower():
            message += " (use .png, .jpg, .bmp, ...)"
        raise CLIError(f"cannot write '{path}': {message}") from None
