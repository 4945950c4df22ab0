"""SimpleCNN: the tutorial network of conv - batch norm - ReLU - max-pool blocks."""

from __future__ import annotations

import numpy as np

from .. import nn
from ._build import halved_size

__all__ = ["SimpleCNN"]


class SimpleCNN(nn.Sequential):
    """Blocks of Conv2d(3 x 3, padding 1) - BatchNorm2d - ReLU - MaxPool2d(2), then Flatten - Linear.

    A flat ``Sequential``: block ``b`` occupies children ``4b .. 4b+3``,
    then ``Flatten`` and the ``Linear`` head, so the ``state_dict`` keys are
    those of the same ``torch.nn.Sequential``.

    Parameters
    ----------
    in_channels : int
        3 for RGB images, 1 for grayscale.
    num_classes : int
    input_size : int
        Height = width of the (square) input; each block halves it
        (rounding down), and the head is sized for what remains.
    channels : tuple of int
        Output channels of each block (one block per entry).
    dtype : float32 (default) or float64

    Shapes
    ------
    With the defaults (``S = input_size = 224``, channels 16, 32, 64)::

        input                                   (N, 3, 224, 224)
        0-3   Conv2d(3, 16, 3, p=1) BN ReLU Max  (N, 16, 112, 112)
        4-7   Conv2d(16, 32, 3, p=1) BN ReLU Max (N, 32, 56, 56)
        8-11  Conv2d(32, 64, 3, p=1) BN ReLU Max (N, 64, 28, 28)
        12    Flatten                            (N, 50176)
        13    Linear(50176, num_classes)         (N, num_classes)

    In general the conv part maps (N, in_channels, S, S) to
    (N, channels[-1], S // 2**B, S // 2**B) for B = len(channels) blocks.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, input_size: int = 224,
                 channels=(16, 32, 64), dtype=np.float32):
        channels = tuple(channels)
        final = halved_size("SimpleCNN", "block", channels, input_size, in_channels=in_channels,
                            num_classes=num_classes)
        layers = []
        previous = int(in_channels)
        for c in channels:
            layers += [nn.Conv2d(previous, int(c), 3, padding=1, dtype=dtype), nn.BatchNorm2d(int(c), dtype=dtype),
                       nn.ReLU(), nn.MaxPool2d(2)]
            previous = int(c)
        layers += [nn.Flatten(), nn.Linear(previous * final * final, int(num_classes), dtype=dtype)]
        super().__init__(*layers)
        self.input_shape = (int(in_channels), int(input_size), int(input_size))
        self.hparams = {"in_channels": int(in_channels), "num_classes": int(num_classes),
                        "input_size": int(input_size), "channels": [int(c) for c in channels],
                        "dtype": np.dtype(dtype).name}
