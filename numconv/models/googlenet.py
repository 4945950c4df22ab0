"""GoogLeNet in miniature (Szegedy et al., 2014): Inception blocks as ``nn.Parallel``, for 28/32-pixel images."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import nn
from .._checks import check_positive_int

__all__ = ["BasicConv2d", "Inception", "GoogLeNetMini", "googlenet_mini"]


class BasicConv2d(nn.Sequential):
    """Convolution (no bias), batch norm, ReLU: torchvision's ``BasicConv2d`` (children ``conv``, ``bn``, ``relu``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0, dtype=np.float32):
        super().__init__(OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=False, dtype=dtype),
            bn=nn.BatchNorm2d(out_channels, eps=0.001, dtype=dtype),
            relu=nn.ReLU(),
        ))


class Inception(nn.Parallel):
    """Four branches on one input, concatenated along the channels (the paper's figure 2b).

    ``branch1``: 1 x 1 conv. ``branch2``: 1 x 1 reduction, then 3 x 3.
    ``branch3``: 1 x 1 reduction, then 5 x 5. ``branch4``: 3 x 3 max pool
    (stride 1), then 1 x 1 projection. The 1 x 1 reductions are what made the
    block cheap: the 3 x 3 and 5 x 5 convolutions see few channels.

    Parameters
    ----------
    in_channels : int
    ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj : int
        The paper's column names (table 1).
    dtype : float32 (default) or float64

    Shapes
    ------
    (N, in_channels, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W)
    """

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, dtype=np.float32):
        super().__init__(OrderedDict(
            branch1=BasicConv2d(in_channels, ch1x1, 1, dtype=dtype),
            branch2=nn.Sequential(BasicConv2d(in_channels, ch3x3red, 1, dtype=dtype),
                                  BasicConv2d(ch3x3red, ch3x3, 3, padding=1, dtype=dtype)),
            branch3=nn.Sequential(BasicConv2d(in_channels, ch5x5red, 1, dtype=dtype),
                                  BasicConv2d(ch5x5red, ch5x5, 5, padding=2, dtype=dtype)),
            branch4=nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                  BasicConv2d(in_channels, pool_proj, 1, dtype=dtype)),
        ), merge="cat", dim=1)
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj


class GoogLeNetMini(nn.Sequential):
    """A small GoogLeNet: a 3 x 3 stem, two Inception blocks, a max pool, two more, global average pool, linear.

    The widths are the paper's inception (3a), (3b), (4a), (4b) divided by
    four, so the network fits 28 x 28 and 32 x 32 images and trains on a CPU.
    Like the paper (and unlike VGG) it ends with a global average pool, not
    large fully connected layers.

    Parameters
    ----------
    num_classes : int
    in_channels : int
        1 for MNIST / Fashion-MNIST (default), 3 for CIFAR.
    input_size : int
        28 by default (recorded as ``input_shape``; any size of 8 or more works).
    dropout : float
        Before the last layer (0.4 in the paper).
    dtype : float32 (default) or float64

    Shapes
    ------
    ===========  ==========================================  ==================
    child        what                                        output (28 x 28)
    ===========  ==========================================  ==================
    stem         BasicConv2d(in, 48, 3, padding 1)           (N, 48, 28, 28)
    inception3a  16 + (24 -> 32) + (4 -> 8) + 8              (N, 64, 28, 28)
    inception3b  32 + (32 -> 48) + (8 -> 24) + 16            (N, 120, 28, 28)
    maxpool      3 x 3, stride 2, padding 1                  (N, 120, 14, 14)
    inception4a  48 + (24 -> 52) + (4 -> 12) + 16            (N, 128, 14, 14)
    inception4b  40 + (28 -> 56) + (6 -> 16) + 16            (N, 128, 14, 14)
    avgpool      adaptive average to 1 x 1                   (N, 128, 1, 1)
    flatten, dropout, fc                                     (N, num_classes)
    ===========  ==========================================  ==================
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 28, dropout: float = 0.4,
                 dtype=np.float32):
        num_classes = check_positive_int(num_classes, "GoogLeNetMini", "num_classes")
        in_channels = check_positive_int(in_channels, "GoogLeNetMini", "in_channels")
        input_size = check_positive_int(input_size, "GoogLeNetMini", "input_size")
        super().__init__(OrderedDict(
            stem=BasicConv2d(in_channels, 48, 3, padding=1, dtype=dtype),
            inception3a=Inception(48, 16, 24, 32, 4, 8, 8, dtype=dtype),
            inception3b=Inception(64, 32, 32, 48, 8, 24, 16, dtype=dtype),
            maxpool=nn.MaxPool2d(3, stride=2, padding=1),
            inception4a=Inception(120, 48, 24, 52, 4, 12, 16, dtype=dtype),
            inception4b=Inception(128, 40, 28, 56, 6, 16, 16, dtype=dtype),
            avgpool=nn.AdaptiveAvgPool2d((1, 1)),
            flatten=nn.Flatten(),
            dropout=nn.Dropout(dropout),
            fc=nn.Linear(128, num_classes, dtype=dtype),
        ))
        self.input_shape = (in_channels, input_size, input_size)
        self.hparams = {"num_classes": num_classes, "in_channels": in_channels, "input_size": input_size,
                        "dropout": float(dropout), "dtype": np.dtype(dtype).name}


def googlenet_mini(num_classes: int = 10, in_channels: int = 1, input_size: int = 28, dropout: float = 0.4,
                   dtype=np.float32) -> GoogLeNetMini:
    """The small GoogLeNet of :class:`GoogLeNetMini`."""
    return GoogLeNetMini(num_classes, in_channels, input_size, dropout, dtype)
