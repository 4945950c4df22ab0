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
