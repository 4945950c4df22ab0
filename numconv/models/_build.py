"""One description, two products: real layers, or shape-only specs that allocate nothing.

The large ImageNet networks (AlexNet, ZFNet, VGG, the ResNets at 224 x 224)
are written once as a function of a *maker*. ``Layers(dtype)`` builds
``numconv.nn`` layers and ``Sequential`` containers; ``numconv.tools._shapes.SpecMaker()`` builds
``spec`` descriptions and plain lists / dicts, which ``summary`` walks
without weights (``numconv summary alexnet`` does that). Because both come from the same code, the
shape-only table cannot drift from the network.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import nn

# Layers whose constructor takes a dtype (the others have no parameters).
_TYPED = {"Conv2d", "Linear", "BatchNorm2d"}


class Layers:
    """Build real ``numconv.nn`` layers in ``dtype``."""

    def __init__(self, dtype=np.float32):
        self.dtype = dtype

    def __call__(self, name: str, *args, **kwargs):
        if name in _TYPED:
            kwargs["dtype"] = self.dtype
        return getattr(nn, name)(*args, **kwargs)

    def seq(self, *layers):
        """A ``Sequential`` of ``layers`` (children "0", "1", ...)."""
        return nn.Sequential(*layers)

    def named(self, pairs):
        """A ``Sequential`` with named children."""
        return nn.Sequential(OrderedDict(pairs))


def halved_size(where: str, unit: str, channels: tuple, input_size, **sizes) -> int:
    """Check a stack of halving stages' arguments; return the side left after the last one.

    ``sizes`` (``in_channels=3``, ...), ``input_size`` and every entry of
    ``channels`` (one stage per entry, each halving the side, rounding down)
    must be positive ints; ``unit`` names a stage in messages ("block").
    """
    for name, value in (*sizes.items(), ("input_size", input_size),
                        *((f"channels[{i}]", c) for i, c in enumerate(channels))):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{where}: {name} must be a positive int, got {value!r}")
    if not channels:
        raise ValueError(f"{where}: channels must name at least one {unit}")
    final = int(input_size) // 2 ** len(channels)
    if final < 1:
        raise ValueError(f"{where}: input_size {input_size} is too small for {len(channels)} {unit}s that each "
                         f"halve it (need at least {2 ** len(channels)})")
    return final
