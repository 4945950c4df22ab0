"""A small U-Net (Ronneberger et al., 2015) and a convolutional autoencoder, for 28 x 28 images."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import nn
from .._checks import check_positive_int

__all__ = ["UNetMini", "unet_mini", "Autoencoder", "autoencoder"]


def _double_conv(c_in: int, c_out: int, dtype) -> nn.Sequential:
    """(3 x 3 conv, batch norm, ReLU) twice, keeping the size: the U-Net's unit at every level."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False, dtype=dtype), nn.BatchNorm2d(c_out, dtype=dtype), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False, dtype=dtype), nn.BatchNorm2d(c_out, dtype=dtype), nn.ReLU(),
    )


class UNetMini(nn.Module):
    """A two-level U-Net: a contracting path, a bottleneck, and an expanding path with skip connections.

    Down: ``enc1`` at full size, max pool, ``enc2`` at 1/2, max pool,
    ``bottleneck`` at 1/4. Up: ``up2`` (a 2 x 2 transposed convolution with
    stride 2) doubles the size, its output is concatenated (``nn.Cat``, along
    the channels) with ``enc2``'s, ``dec2`` mixes them; the same again with
    ``up1``, ``enc1`` and ``dec1``; a 1 x 1 convolution ``head`` gives one map
    per class. The skips carry the fine detail the bottleneck lost; the
    transposed convolutions learn how to upsample.

    Parameters
    ----------
    in_channels : int
    out_channels : int
        Maps out (classes of a segmentation, or 1 for a denoised image).
    width : int
        Channels of ``enc1`` (doubled at each level down).
    input_size : int
        Recorded as ``input_shape``; any size divisible by 4 works.
    dtype : float32 (default) or float64

    Shapes
    ------
    (N, in_channels, H, W) -> enc1 (N, w, H, W) -> enc2 (N, 2w, H/2, W/2) -> bottleneck (N, 4w, H/4, W/4)
    -> up2 (N, 2w, H/2, W/2), cat (N, 4w, H/2, W/2) -> dec2 (N, 2w, H/2, W/2) -> up1 (N, w, H, W),
    cat (N, 2w, H, W) -> dec1 (N, w, H, W) -> head (N, out_channels, H, W)
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 2, width: int = 16, input_size: int = 28,
                 dtype=np.float32):
        super().__init__()
        c = {k: check_positive_int(v, "UNetMini", k) for k, v in (
            ("in_channels", in_channels), ("out_channels", out_channels), ("width", width),
            ("input_size", input_size))}
        w = c["width"]
        self.enc1 = _double_conv(c["in_channels"], w, dtype)
        self.enc2 = _double_conv(w, 2 * w, dtype)
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = _double_conv(2 * w, 4 * w, dtype)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2, dtype=dtype)
        self.dec2 = _double_conv(4 * w, 2 * w, dtype)
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2, dtype=dtype)
        self.dec1 = _double_conv(2 * w, w, dtype)
        self.head = nn.Conv2d(w, c["out_channels"], 1, dtype=dtype)
        self.cat = nn.Cat(1)
        self.input_shape = (c["in_channels"], c["input_size"], c["input_size"])
        self.hparams = {**c, "dtype": np.dtype(dtype).name}

    def forward(self, x):
        skip1 = self.enc1(x)  # first: its convolution checks the input's rank, channels and dtype
        if skip1.shape[-1] % 4 or skip1.shape[-2] % 4:
            raise ValueError(f"UNetMini: expected height and width divisible by 4 (two 2 x 2 poolings), got input "
                             f"of shape {tuple(np.shape(x))}")
        skip2 = self.enc2(self.pool(skip1))
        x = self.bottleneck(self.pool(skip2))
        x = self.dec2(self.cat(self.up2(x), skip2))
        x = self.dec1(self.cat(self.up1(x), skip1))
        return self.head(x)


def unet_mini(in_channels: int = 1, out_channels: int = 2, width: int = 16, input_size: int = 28,
              dtype=np.float32) -> UNetMini:
    """The two-level U-Net of :class:`UNetMini`."""
    return UNetMini(in_channels, out_channels, width, input_size, dtype)


class Autoencoder(nn.Sequential):
    """A convolutional autoencoder: two stride-2 convolutions down, two stride-2 transposed convolutions up.

    ``encoder``: Conv2d(in, c1, 3, stride 2, padding 1), ReLU, Conv2d(c1, c2, 3,
    stride 2, padding 1), ReLU: 28 -> 14 -> 7. ``decoder``: ConvTranspose2d(c2,
    c1, 3, stride 2, padding 1, output_padding 1), ReLU, ConvTranspose2d(c1, in,
    3, stride 2, padding 1, output_padding 1), Sigmoid: 7 -> 14 -> 28. A
    transposed convolution with kernel 3, stride 2 and padding 1 gives
    (H - 1) * 2 - 2 + 3 = 2H - 1; ``output_padding=1`` adds the last row and
    column, so 7 comes back to exactly 14 and 14 to 28. The sigmoid keeps the
    output in [0, 1], the range of the pixels it is trained to reproduce.

    Parameters
    ----------
    in_channels : int
    channels : (int, int)
        Widths of the two encoder layers.
    input_size : int
        Recorded as ``input_shape``; any size divisible by 4 comes back the same size.
    dtype : float32 (default) or float64

    Shapes
    ------
    (N, C, 28, 28) -> encoder (N, c2, 7, 7) -> decoder (N, C, 28, 28)
    """

    def __init__(self, in_channels: int = 1, channels=(32, 64), input_size: int = 28, dtype=np.float32):
        c_in = check_positive_int(in_channels, "Autoencoder", "in_channels")
        c1, c2 = (check_positive_int(c, "Autoencoder", "channels") for c in channels)
        size = check_positive_int(input_size, "Autoencoder", "input_size")
        super().__init__(OrderedDict(
            encoder=nn.Sequential(nn.Conv2d(c_in, c1, 3, stride=2, padding=1, dtype=dtype), nn.ReLU(),
                                  nn.Conv2d(c1, c2, 3, stride=2, padding=1, dtype=dtype), nn.ReLU()),
            decoder=nn.Sequential(
                nn.ConvTranspose2d(c2, c1, 3, stride=2, padding=1, output_padding=1, dtype=dtype), nn.ReLU(),
                nn.ConvTranspose2d(c1, c_in, 3, stride=2, padding=1, output_padding=1, dtype=dtype), nn.Sigmoid()),
        ))
        self.input_shape = (c_in, size, size)
        self.hparams = {"in_channels": c_in, "channels": [c1, c2], "input_size": size, "dtype": np.dtype(dtype).name}


def autoencoder(in_channels: int = 1, channels=(32, 64), input_size: int = 28, dtype=np.float32) -> Autoencoder:
    """The convolutional autoencoder of :class:`Autoencoder`."""
    return Autoencoder(in_channels, channels, input_size, dtype)
