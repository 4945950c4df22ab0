"""A layer's constructor arguments, checked and put in one canonical form without building the layer.

``numconv.tools._shapes`` describes layers too large to build (VGG-16's
first fully connected layer holds 103 M weights), so it cannot let the
constructor check their arguments. Each family's checks here call the same
helpers the constructor calls (``_checks``, the ops' own argument parsers),
so the messages are the layer's own; what they add is the canonical form the
shape rules read (tuples for ``kernel_size``, ``stride``, ...; pooling's
``stride`` filled in).
"""

from __future__ import annotations

import numpy as np

from .._checks import check_float_dtype, check_positive_int, ntuple
from ..functional.conv import parse_padding
from ..functional.conv_transpose import check_output_padding
from ..functional.pool import _window_params
from ..functional.upsample import check_options

__all__ = ["normalise"]

# The mode and align_corners of the fixed-mode upsampling layers.
_UPSAMPLING = {"UpsamplingNearest2d": ("nearest", None), "UpsamplingBilinear2d": ("bilinear", True)}


def normalise(name: str, family: str, hp: dict) -> dict:
    """Check the hyper-parameters ``hp`` of the layer ``name`` as its constructor would; return them canonical.

    Parameters
    ----------
    name : str
        The ``numconv.nn`` class name (``"Conv2d"``), used in messages.
    family : str
        Which arithmetic the layer follows (``"conv"``, ``"maxpool"``, ...).
    hp : dict
        The constructor arguments by name, defaults filled in.
    """
    nd = int(name[-2]) if name[-1] == "d" and name[-2].isdigit() else 0
    hp = dict(hp)
    if "dtype" in hp:
        hp["dtype"] = check_float_dtype(hp["dtype"], name).name
    rule = _RULES.get(family)
    if rule is not None:
        rule(hp, name, nd)
    return hp


def _channels_and_groups(hp: dict, name: str) -> None:
    """``in_channels`` and ``out_channels`` positive and divisible by ``groups`` (both convolutions)."""
    for key in ("in_channels", "out_channels", "groups"):
        hp[key] = check_positive_int(hp[key], name, key)
    for key in ("in_channels", "out_channels"):
        if hp[key] % hp["groups"]:
            raise ValueError(f"{name}: {key} ({hp[key]}) must be divisible by groups ({hp['groups']})")
    hp["bias"] = bool(hp["bias"])


def _conv(hp: dict, name: str, nd: int) -> None:
    _channels_and_groups(hp, name)
    for key in ("kernel_size", "stride", "dilation"):
        hp[key] = ntuple(hp[key], nd, name, key, minimum=1)
    parse_padding(hp["padding"], nd, hp["kernel_size"], hp["stride"], hp["dilation"], name)
    if not isinstance(hp["padding"], str):
        hp["padding"] = ntuple(hp["padding"], nd, name, "padding", minimum=0)


def _conv_transpose(hp: dict, name: str, nd: int) -> None:
    _channels_and_groups(hp, name)
    for key, low in (("kernel_size", 1), ("stride", 1), ("dilation", 1), ("padding", 0), ("output_padding", 0)):
        hp[key] = ntuple(hp[key], nd, name, key, minimum=low)
    check_output_padding(hp["output_padding"], hp["stride"], hp["dilation"], name)


def _pool(hp: dict, name: str, nd: int) -> None:
    kernel, stride, padding, dilation = _window_params(nd, hp["kernel_size"], hp["stride"], hp["padding"],
                                                       hp.get("dilation", 1), name)
    hp.update(kernel_size=kernel, stride=stride, padding=padding)
    if "dilation" in hp:  # max pooling only
        hp["dilation"] = dilation
    hp["ceil_mode"] = bool(hp["ceil_mode"])


def _adaptive(hp: dict, name: str, nd: int) -> None:
    size = hp["output_size"]
    sizes = (size,) * nd if size is None or isinstance(size, (int, np.integer)) else tuple(size)
    if len(sizes) == 1:
        sizes = sizes * nd
    if len(sizes) != nd or not all(s is None or (isinstance(s, (int, np.integer)) and s >= 1) for s in sizes):
        raise ValueError(f"{name}: expected output_size to be a positive int or a tuple of {nd} positive ints "
                         f"or None, got {size!r}")
    hp["output_size"] = tuple(None if s is None else int(s) for s in sizes)


def _upsample(hp: dict, name: str, nd: int) -> None:
    if name in _UPSAMPLING:
        hp["mode"], hp["align_corners"] = _UPSAMPLING[name]
        hp.setdefault("recompute_scale_factor", None)
    hp["align_corners"] = check_options(hp["size"], hp["scale_factor"], hp["mode"], hp["align_corners"],
                                        hp["recompute_scale_factor"], name)


def _pad(hp: dict, name: str, nd: int) -> None:
    if isinstance(hp["padding"], (int, np.integer)) and not isinstance(hp["padding"], bool):
        hp["padding"] = (int(hp["padding"]),) * (2 * nd)
    hp["padding"] = ntuple(hp["padding"], 2 * nd, name, "padding")


def _linear(hp: dict, name: str, nd: int) -> None:
    for key in ("in_features", "out_features"):
        hp[key] = check_positive_int(hp[key], name, key, minimum=0)
    hp["bias"] = bool(hp["bias"])


def _batch_or_instance_norm(hp: dict, name: str, nd: int) -> None:
    hp["num_features"] = check_positive_int(hp["num_features"], name, "num_features", minimum=0)
    hp["affine"], hp["track_running_stats"] = bool(hp["affine"]), bool(hp["track_running_stats"])


def _group_norm(hp: dict, name: str, nd: int) -> None:
    hp["num_groups"] = check_positive_int(hp["num_groups"], name, "num_groups")
    hp["num_channels"] = check_positive_int(hp["num_channels"], name, "num_channels", minimum=0)
    if hp["num_channels"] % hp["num_groups"]:
        raise ValueError(f"{name}: num_channels ({hp['num_channels']}) must be divisible by num_groups "
                         f"({hp['num_groups']})")


def _layer_norm(hp: dict, name: str, nd: int) -> None:
    shape = hp["normalized_shape"]
    shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
    hp["normalized_shape"] = tuple(check_positive_int(s, name, "normalized_shape", minimum=0) for s in shape)


def _positive(key: str):
    """The rule of a layer whose one argument ``key`` is a positive int (``PReLU``, ``Maxout``)."""
    def rule(hp: dict, name: str, nd: int) -> None:
        hp[key] = check_positive_int(hp[key], name, key)
    return rule


_RULES = {
    "conv": _conv, "convtranspose": _conv_transpose, "maxpool": _pool, "avgpool": _pool, "adaptive": _adaptive,
    "upsample": _upsample, "pad": _pad, "linear": _linear, "batchnorm": _batch_or_instance_norm,
    "instancenorm": _batch_or_instance_norm, "groupnorm": _group_norm, "layernorm": _layer_norm,
    "prelu": _positive("num_parameters"), "maxout": _positive("pool_size"),
}
