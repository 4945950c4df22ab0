"""SmallVGG: a VGG-style network with batch norm, for 32 x 32 images (CIFAR-10 sized)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import nn

__all__ = ["SmallVGG"]


class SmallVGG(nn.Sequential):
    """VGG in miniature: stages of two 3 x 3 convs (each with BatchNorm2d and ReLU) and a 2 x 2 max pool.

    A ``Sequential`` of two named ``Sequential`` children, ``features`` and
    ``classifier`` (as in torchvision's VGG), so ``state_dict`` keys read
    ``features.0.weight``, ``features.1.running_mean``, ``classifier.1.weight``.

    Parameters
    ----------
    in_channels : int
    num_classes : int
    channels : tuple of int
        Width of each stage; each stage halves the image.
    hidden : int
        Width of the hidden fully connected layer.
    dropout : float
        Dropout probability before the last layer.
    input_size : int
        Height = width of the input (32 by default).
    dtype : float32 (default) or float64

    Shapes
    ------
    With the defaults (32 x 32 input, channels 32, 64, 128)::

        input                                         (N, 3, 32, 32)
        features.0-6    [Conv(3,32) BN ReLU] x2, Max   (N, 32, 16, 16)
        features.7-13   [Conv(32,64) BN ReLU] x2, Max  (N, 64, 8, 8)
        features.14-20  [Conv(64,128) BN ReLU] x2, Max (N, 128, 4, 4)
        classifier.0    Flatten                        (N, 2048)
        classifier.1-2  Linear(2048, 256) ReLU         (N, 256)
        classifier.3    Dropout(0.5)                   (N, 256)
        classifier.4    Linear(256, num_classes)       (N, num_classes)
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, channels=(32, 64, 128), hidden: int = 256,
                 dropout: float = 0.5, input_size: int = 32, dtype=np.float32):
        channels = tuple(channels)
        for name, value in (("in_channels", in_channels), ("num_classes", num_classes), ("hidden", hidden),
                            ("input_size", input_size), *((f"channels[{i}]", c) for i, c in enumerate(channels))):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"SmallVGG: {name} must be a positive int, got {value!r}")
        if not channels:
            raise ValueError("SmallVGG: channels must name at least one stage")
        final = int(input_size) // 2 ** len(channels)
        if final < 1:
            raise ValueError(f"SmallVGG: input_size {input_size} is too small for {len(channels)} stages "
                             f"(need at least {2 ** len(channels)})")
        features = []
        previous = int(in_channels)
        for c in channels:
            for _ in range(2):
                features += [nn.Conv2d(previous, int(c), 3, padding=1, dtype=dtype),
                             nn.BatchNorm2d(int(c), dtype=dtype), nn.ReLU()]
                previous = int(c)
            features.append(nn.MaxPool2d(2))
        classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(previous * final * final, int(hidden), dtype=dtype), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(int(hidden), int(num_classes), dtype=dtype),
        )
        super().__init__(OrderedDict(features=nn.Sequential(*features), classifier=classifier))
        self.input_shape = (int(in_channels), int(input_size), int(input_size))
        self.hparams = {"in_channels": int(in_channels), "num_classes": int(num_classes),
                        "channels": [int(c) for c in channels], "hidden": int(hidden), "dropout": float(dropout),
                        "input_size": int(input_size), "dtype": np.dtype(dtype).name}
