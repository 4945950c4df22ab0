"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012) and ZFNet (Zeiler & Fergus, 2013), as ``Sequential``s.

Each is written once, as ``describe(make, ...)``: with ``_build.Layers`` it
builds the network, with ``tools._shapes.SpecMaker`` it gives the shape-only
description ``numconv summary alexnet`` prints without allocating 240 MB of
weights.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import nn
from .._checks import check_positive_int
from ._build import Layers

__all__ = ["AlexNet", "ZFNet", "describe_alexnet", "describe_zfnet"]


def _classifier(make, in_features: int, hidden: int, num_classes: int, dropout: float):
    """fc6, fc7 (each Linear, ReLU, Dropout) and fc8, after flattening the last feature map."""
    return make.seq(
        make("Flatten"),
        make("Linear", in_features, hidden), make("ReLU"), make("Dropout", dropout),
        make("Linear", hidden, hidden), make("ReLU"), make("Dropout", dropout),
        make("Linear", hidden, num_classes),
    )


def describe_alexnet(make, num_classes: int = 1000, in_channels: int = 3, groups: int = 2, hidden: int = 4096,
                     dropout: float = 0.5):
    """AlexNet's layers made by ``make``: ``{"features": [...], "classifier": [...]}``."""
    features = make.seq(
        make("Conv2d", in_channels, 96, 11, stride=4), make("ReLU"),                  # conv1  55 x 55
        make("LocalResponseNorm", 5, alpha=1e-4, beta=0.75, k=2.0), make("MaxPool2d", 3, stride=2),  # 27 x 27
        make("Conv2d", 96, 256, 5, padding=2, groups=groups), make("ReLU"),           # conv2  27 x 27
        make("LocalResponseNorm", 5, alpha=1e-4, beta=0.75, k=2.0), make("MaxPool2d", 3, stride=2),  # 13 x 13
        make("Conv2d", 256, 384, 3, padding=1), make("ReLU"),                         # conv3  13 x 13
        make("Conv2d", 384, 384, 3, padding=1, groups=groups), make("ReLU"),          # conv4
        make("Conv2d", 384, 256, 3, padding=1, groups=groups), make("ReLU"),          # conv5
        make("MaxPool2d", 3, stride=2),                                               # pool5   6 x 6
    )
    return make.named([("features", features),
                       ("classifier", _classifier(make, 256 * 6 * 6, hidden, num_classes, dropout))])


def describe_zfnet(make, num_classes: int = 1000, in_channels: int = 3, hidden: int = 4096, dropout: float = 0.5):
    """ZFNet's layers made by ``make``: ``{"features": [...], "classifier": [...]}``."""
    features = make.seq(
        make("Conv2d", in_channels, 96, 7, stride=2, padding=1), make("ReLU"),        # conv1 110 x 110
        make("MaxPool2d", 3, stride=2, padding=1), make("LocalResponseNorm", 5),      # 55 x 55
        make("Conv2d", 96, 256, 5, stride=2), make("ReLU"),                           # conv2  26 x 26
        make("MaxPool2d", 3, stride=2, padding=1), make("LocalResponseNorm", 5),      # 13 x 13
        make("Conv2d", 256, 384, 3, padding=1), make("ReLU"),                         # conv3  13 x 13
        make("Conv2d", 384, 384, 3, padding=1), make("ReLU"),                         # conv4
        make("Conv2d", 384, 256, 3, padding=1), make("ReLU"),                         # conv5
        make("MaxPool2d", 3, stride=2),                                               # pool5   6 x 6
    )
    return make.named([("features", features),
                       ("classifier", _classifier(make, 256 * 6 * 6, hidden, num_classes, dropout))])


def _checked(where: str, **values) -> dict:
    return {key: check_positive_int(value, where, key) for key, value in values.items()}


class AlexNet(nn.Sequential):
    """AlexNet as in the paper and the lectures, for 3 x 227 x 227 images.

    Conv 2, 4 and 5 have two groups (the paper's two GPUs: each half of a
    layer sees only the half of the previous layer on its own GPU); local
    response normalisation follows the ReLU of conv 1 and 2 (n = 5,
    alpha = 1e-4, beta = 0.75, k = 2), then overlapping 3 x 3 max pooling with
    stride 2. ``state_dict`` keys: ``features.0.weight`` ... ``classifier.7.bias``.

    Parameters
    ----------
    num_classes : int
    in_channels : int
    groups : int
        2 as in the paper; 1 for the single-GPU variant (62,378,344 parameters).
    hidden : int
        Width of fc6 and fc7.
    dropout : float
        Dropout probability after fc6 and fc7.
    dtype : float32 (default) or float64

    Shapes
    ------
    ============  ==============================  ================  ===========
    layer         what                            output            parameters
    ============  ==============================  ================  ===========
    input                                         (N, 3, 227, 227)
    features.0    conv1 96 x 11 x 11, stride 4    (N, 96, 55, 55)        34,944
    features.3    max pool 3 x 3, stride 2        (N, 96, 27, 27)
    features.4    conv2 256 x 5 x 5, groups 2     (N, 256, 27, 27)      307,456
    features.7    max pool                        (N, 256, 13, 13)
    features.8    conv3 384 x 3 x 3               (N, 384, 13, 13)      885,120
    features.10   conv4 384 x 3 x 3, groups 2     (N, 384, 13, 13)      663,936
    features.12   conv5 256 x 3 x 3, groups 2     (N, 256, 13, 13)      442,624
    features.14   max pool                        (N, 256, 6, 6)
    classifier.1  fc6 9216 -> 4096                (N, 4096)          37,752,832
    classifier.4  fc7 4096 -> 4096                (N, 4096)          16,781,312
    classifier.7  fc8 4096 -> 1000                (N, 1000)           4,097,000
    total                                                            60,965,224
    ============  ==============================  ================  ===========

    The convolutions hold 4 % of the weights and do 92 % of the 725 million
    multiply-adds; fc6 alone holds 62 % of the weights.
    """

    input_shape = (3, 227, 227)

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, groups: int = 2, hidden: int = 4096,
                 dropout: float = 0.5, dtype=np.float32):
        counts = _checked("AlexNet", num_classes=num_classes, in_channels=in_channels, groups=groups, hidden=hidden)
        super().__init__(OrderedDict(describe_alexnet(Layers(dtype), dropout=dropout, **counts).named_children()))
        self.input_shape = (counts["in_channels"], 227, 227)
        self.hparams = {**counts, "dropout": float(dropout), "dtype": np.dtype(dtype).name}


class ZFNet(nn.Sequential):
    """ZFNet: AlexNet with the first layers changed after looking at what they learnt, for 3 x 224 x 224 images.

    Zeiler & Fergus visualised AlexNet's filters (deconvnet) and found conv 1's
    11 x 11 stride-4 filters mixed extremely high and low frequencies and
    aliased in conv 2. They used 7 x 7 filters with stride 2 in conv 1 and
    stride 2 in conv 2, and trained on one GPU (no groups). Sizes follow the
    paper: 110, 55, 26, 13, 13, 13, 6. ``state_dict`` keys as ``AlexNet``.

    Parameters
    ----------
    num_classes, in_channels, hidden, dropout, dtype : as ``AlexNet``

    Shapes
    ------
    (N, 3, 224, 224) -> (N, num_classes). Where it differs from ``AlexNet`` (conv3,
    the pooling windows and the classifier are the same; pool1 and pool2 pad by 1)::

        layer           AlexNet                           ZFNet
        input           (N, 3, 227, 227)                  (N, 3, 224, 224)
        conv1, pool1    96 x 11 x 11, stride 4: 55, 27    96 x 7 x 7, stride 2: 110, 55
        conv2, pool2    256 x 5 x 5, groups 2: 27, 13     256 x 5 x 5, stride 2: 26, 13
        conv4, conv5    groups 2: 663,936 + 442,624       groups 1: 1,327,488 + 884,992
        parameters      60,965,224                        62,357,608
    """

    input_shape = (3, 224, 224)

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, hidden: int = 4096, dropout: float = 0.5,
                 dtype=np.float32):
        counts = _checked("ZFNet", num_classes=num_classes, in_channels=in_channels, hidden=hidden)
        super().__init__(OrderedDict(describe_zfnet(Layers(dtype), dropout=dropout, **counts).named_children()))
        self.input_shape = (counts["in_channels"], 224, 224)
        self.hparams = {**counts, "dropout": float(dropout), "dtype": np.dtype(dtype).name}
