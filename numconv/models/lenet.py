"""LeNet-5 (LeCun et al., 1998), as a plain ``Sequential``."""

from __future__ import annotations

import numpy as np

from .. import nn

__all__ = ["LeNet5"]

_ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU"}
_POOLINGS = {"avg": "AvgPool2d", "max": "MaxPool2d"}


class LeNet5(nn.Sequential):
    """LeNet-5 for 1 x 32 x 32 images (MNIST and Fashion-MNIST padded by 2 pixels).

    A ``Sequential`` with children ``"0"`` ... ``"11"``, so its ``state_dict``
    keys (``"0.weight"``, ``"3.weight"``, ``"6.weight"``, ``"9.weight"``,
    ``"11.weight"`` and the biases) are those of the same
    ``torch.nn.Sequential``. 61,706 parameters with 10 classes.

    Parameters
    ----------
    num_classes : int
        Size of the output layer (10 for MNIST).
    activation : {"tanh", "relu"}
        The nonlinearity after C1, C3, C5 and F6 (the 1998 paper used a
        scaled tanh).
    pooling : {"avg", "max"}
        Sub-sampling S2 and S4: 2 x 2 average (as in the paper, without its
        trainable scale) or max pooling.
    dtype : float32 (default) or float64
    algorithm : {"auto", "im2col", "rowslab", ...}
        How the convolutions compute (``nn.Conv2d``'s ``algorithm``): ``"im2col"``
        runs the readable path of numconv/functional/conv.py, with the same numbers.

    Shapes
    ------
    ====  ===========================  ==================
    idx   layer                        output shape
    ====  ===========================  ==================
          input                        (N, 1, 32, 32)
    0     C1  Conv2d(1, 6, 5)          (N, 6, 28, 28)
    1     activation                   (N, 6, 28, 28)
    2     S2  pool 2 x 2               (N, 6, 14, 14)
    3     C3  Conv2d(6, 16, 5)         (N, 16, 10, 10)
    4     activation                   (N, 16, 10, 10)
    5     S4  pool 2 x 2               (N, 16, 5, 5)
    6     C5  Conv2d(16, 120, 5)       (N, 120, 1, 1)
    7     activation                   (N, 120, 1, 1)
    8     Flatten                      (N, 120)
    9     F6  Linear(120, 84)          (N, 84)
    10    activation                   (N, 84)
    11    output  Linear(84, classes)  (N, num_classes)
    ====  ===========================  ==================

    Examples
    --------
    >>> from numconv.models import LeNet5
    >>> model = LeNet5(activation="relu", pooling="max")
    >>> sum(p.size for p in model.parameters())
    61706
    >>> readable = LeNet5(algorithm="im2col")   # every convolution on the readable im2col path
    """

    input_shape = (1, 32, 32)

    def __init__(self, num_classes: int = 10, activation: str = "tanh", pooling: str = "avg", dtype=np.float32,
                 algorithm: str = "auto"):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"LeNet5: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if pooling not in _POOLINGS:
            raise ValueError(f"LeNet5: pooling must be one of {sorted(_POOLINGS)}, got {pooling!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"LeNet5: num_classes must be a positive int, got {num_classes!r}")

        def act():
            return getattr(nn, _ACTIVATIONS[activation])()

        def pool():
            return getattr(nn, _POOLINGS[pooling])(2)

        super().__init__(
            nn.Conv2d(1, 6, 5, dtype=dtype, algorithm=algorithm), act(), pool(),      # C1, S2
            nn.Conv2d(6, 16, 5, dtype=dtype, algorithm=algorithm), act(), pool(),     # C3, S4
            nn.Conv2d(16, 120, 5, dtype=dtype, algorithm=algorithm), act(),           # C5
            nn.Flatten(),
            nn.Linear(120, 84, dtype=dtype), act(),                # F6
            nn.Linear(84, int(num_classes), dtype=dtype),          # output
        )
        self.hparams = {"num_classes": int(num_classes), "activation": activation, "pooling": pooling,
                        "dtype": np.dtype(dtype).name}
