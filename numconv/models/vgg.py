"""SmallVGG: a VGG-style network with batch norm, for 32 x 32 images (CIFAR-10 sized)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import init, nn
from ._build import halved_size

__all__ = ["SmallVGG", "VGG", "VGG_CONFIGS", "describe_vgg", "vgg11", "vgg16"]


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
        final = halved_size("SmallVGG", "stage", channels, input_size, in_channels=in_channels,
                            num_classes=num_classes, hidden=hidden)
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


# ---------------------------------------------------------------------------- torchvision's VGG
# Output channels of each 3 x 3 convolution; "M" is a 2 x 2 max pool (Simonyan & Zisserman, table 1).
VGG_CONFIGS = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
}


def describe_vgg(make, config: str = "vgg16", num_classes: int = 1000, in_channels: int = 3, hidden: int = 4096,
                 dropout: float = 0.5):
    """torchvision's VGG made by ``make``: ``features``, ``avgpool`` (to 7 x 7), ``flatten``, ``classifier``."""
    features, previous = [], in_channels
    for v in VGG_CONFIGS[config]:
        if v == "M":
            features.append(make("MaxPool2d", 2, stride=2))
        else:
            features += [make("Conv2d", previous, v, 3, padding=1), make("ReLU")]
            previous = v
    classifier = make.seq(
        make("Linear", 512 * 7 * 7, hidden), make("ReLU"), make("Dropout", dropout),
        make("Linear", hidden, hidden), make("ReLU"), make("Dropout", dropout),
        make("Linear", hidden, num_classes),
    )
    return make.named([("features", make.seq(*features)), ("avgpool", make("AdaptiveAvgPool2d", (7, 7))),
                       ("flatten", make("Flatten")), ("classifier", classifier)])


class VGG(nn.Sequential):
    """torchvision's VGG (configurations A = VGG-11 and D = VGG-16, without batch norm), for 224 x 224 images.

    Stacks of 3 x 3 convolutions (padding 1) with ReLU, each stack closed by a
    2 x 2 max pool that halves the image, then an adaptive average pool to
    7 x 7 and three fully connected layers. The children and ``state_dict``
    keys are torchvision's: ``features.0.weight``, ``classifier.0.weight``,
    ``classifier.6.bias`` (torchvision flattens in ``forward``; here the
    parameter-free ``flatten`` child does it, so the model is a ``Sequential``).
    Initialised as torchvision: convolutions ~ N(0, 2 / fan_out), linear
    weights ~ N(0, 0.01), biases 0.

    Parameters
    ----------
    config : {"vgg11", "vgg16"}
    num_classes, in_channels : int
    hidden : int
        Width of the two hidden fully connected layers (4096).
    dropout : float
    dtype : float32 (default) or float64

    Shapes
    ------
    (N, in_channels, 224, 224) -> features (N, 512, 7, 7) -> avgpool (N, 512, 7, 7) -> flatten (N, 25088)
    -> classifier (N, num_classes). VGG-11: 132,863,336 parameters; VGG-16: 138,357,544 (1000 classes).
    Smaller inputs work (at least 32 x 32): the average pool stretches the map to 7 x 7.
    """

    input_shape = (3, 224, 224)

    def __init__(self, config: str = "vgg16", num_classes: int = 1000, in_channels: int = 3, hidden: int = 4096,
                 dropout: float = 0.5, dtype=np.float32):
        if config not in VGG_CONFIGS:
            raise ValueError(f"VGG: config must be one of {sorted(VGG_CONFIGS)}, got {config!r}")
        for name, value in (("num_classes", num_classes), ("in_channels", in_channels), ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"VGG: {name} must be a positive int, got {value!r}")
        from ._build import Layers

        built = describe_vgg(Layers(dtype), config, int(num_classes), int(in_channels), int(hidden), dropout)
        super().__init__(OrderedDict(built.named_children()))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                init.normal_(module.weight, 0.0, 0.01)
                init.zeros_(module.bias)
        self.input_shape = (int(in_channels), 224, 224)
        self.hparams = {"config": config, "num_classes": int(num_classes), "in_channels": int(in_channels),
                        "hidden": int(hidden), "dropout": float(dropout), "dtype": np.dtype(dtype).name}


def vgg11(num_classes: int = 1000, in_channels: int = 3, hidden: int = 4096, dropout: float = 0.5,
          dtype=np.float32) -> VGG:
    """VGG-11 (configuration A): 8 convolutions, 3 fully connected layers, 132,863,336 parameters."""
    return VGG("vgg11", num_classes, in_channels, hidden, dropout, dtype)


def vgg16(num_classes: int = 1000, in_channels: int = 3, hidden: int = 4096, dropout: float = 0.5,
          dtype=np.float32) -> VGG:
    """VGG-16 (configuration D): 13 convolutions, 3 fully connected layers, 138,357,544 parameters."""
    return VGG("vgg16", num_classes, in_channels, hidden, dropout, dtype)
