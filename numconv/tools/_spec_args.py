"""A layer's constructor arguments in one canonical form, read back from the layer its constructor built.

The layer's own constructor checks the arguments (with its own messages) and
stores most of them normalised: ``kernel_size`` as a tuple, channel counts as
ints. ``canonical`` takes those stored values; it works out only what a
layer keeps as given, as PyTorch's do: pooling's window (``stride`` filled
in), adaptive pooling's ``output_size``, and upsampling's ``align_corners``.
"""

from __future__ import annotations

import numpy as np

from ..functional.pool import _window_params
from ..functional.upsample import check_options

__all__ = ["canonical"]


def canonical(family: str, layer, hp: dict) -> dict:
    """The hyper-parameters ``hp`` of ``layer`` (built from them) in canonical form.

    Parameters
    ----------
    family : str
        Which arithmetic the layer follows (``"conv"``, ``"maxpool"``, ...).
    layer : numconv.nn.Module
        The layer, built by its constructor from ``hp``.
    hp : dict
        The constructor arguments by name, defaults filled in.
    """
    name = type(layer).__name__
    nd = int(name[-2]) if name[-1] == "d" and name[-2].isdigit() else 0
    hp = dict(hp)
    if family in ("maxpool", "avgpool"):
        kernel, stride, padding, dilation = _window_params(nd, hp["kernel_size"], hp["stride"], hp["padding"],
                                                           hp.get("dilation", 1), name)
        hp.update(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=bool(hp["ceil_mode"]))
        if "dilation" in hp:  # max pooling only
            hp["dilation"] = dilation
    elif family == "adaptive":
        hp["output_size"] = _adaptive_sizes(hp["output_size"], nd, name)
    elif family == "upsample":  # the fixed-mode layers (UpsamplingBilinear2d) set the mode themselves
        hp.update(mode=layer.mode, recompute_scale_factor=layer.recompute_scale_factor)
        hp["align_corners"] = check_options(hp["size"], hp["scale_factor"], hp["mode"], layer.align_corners,
                                            hp["recompute_scale_factor"], name)
    else:  # the values the constructor stored (plain attributes: parameters live elsewhere)
        hp.update({key: layer.__dict__[key] for key in hp if key in layer.__dict__})
    if "bias" in hp:
        hp["bias"] = bool(hp["bias"])
    if "dtype" in hp:
        hp["dtype"] = np.dtype(hp["dtype"]).name
    return hp


def _adaptive_sizes(size, nd: int, name: str) -> tuple:
    """``output_size`` as an nd-tuple of positive ints or None (None keeps that input size)."""
    sizes = (size,) * nd if size is None or isinstance(size, (int, np.integer)) else tuple(size)
    if len(sizes) == 1:
        sizes = sizes * nd
    if len(sizes) != nd or not all(s is None or (isinstance(s, (int, np.integer)) and s >= 1) for s in sizes):
        raise ValueError(f"{name}: expected output_size to be a positive int or a tuple of {nd} positive ints "
                         f"or None, got {size!r}")
    return tuple(None if s is None else int(s) for s in sizes)
