"""Winograd F(4x4, 3x3): a 3 x 3, stride-1 convolution with 4x fewer multiplications.

Read ``numconv.functional.fast.winograd`` (F(2x2, 3x3)) first: this is the
same algorithm with larger tiles. A 6 x 6 input tile gives a 4 x 4 block of
output, ``Y = A^T [(G w G^T) * (B^T d B)] A``, so each of the 36 tile
positions is one matrix product over the channels, and a block of 16 output
pixels costs 36 multiply-adds per (input, output) channel pair instead of
144: 4x fewer (F(2x2): 2.25x). The transformed tiles hold 2.25 numbers per
output pixel instead of 4, which matters as much: the transforms are
bound by how fast their tiles are written and read back.

The price is in the rounding. The matrices use the points 0, +-1, +-2 (and
infinity), so the transforms scale by up to 8 and ``G`` has entries 1/6 and
1/24: in float32 the result is about ten times further from the exact one
than a direct convolution's (measured 4e-6 of the output's largest value
against 3e-7, on 16 and 64 channels), still 25x inside the tests' 1e-4.

The driver (chunks, workers, the backward pass) is F(2x2)'s, run with ``F4``.
"""

from __future__ import annotations

import numpy as np

from ...kernels.winograd4 import winograd4_grad_tiles, winograd4_input_tiles, winograd4_output_tiles
from .winograd import Variant, winograd_backward, winograd_forward, winograd_sample_bytes

__all__ = ["F4", "G4", "BT4", "AT4", "winograd4_forward", "winograd4_backward", "winograd4_sample_bytes"]

# The F(4x4, 3x3) matrices (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015).
G4 = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6],
               [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]])  # filter, 6 x 3
BT4 = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0],
                [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=float)  # input, 6 x 6
AT4 = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
               dtype=float)  # output, 4 x 6

F4 = Variant(4, np.kron(G4, G4), winograd4_input_tiles, winograd4_output_tiles, winograd4_grad_tiles)


def winograd4_forward(x, weight, bias, pad_width):
    """``winograd_forward`` with F(4x4, 3x3): same arguments, same results (to float rounding)."""
    return winograd_forward(x, weight, bias, pad_width, F4)


winograd4_backward = winograd_backward  # the variant travels in the forward's state


def winograd4_sample_bytes(x_shape, weight_shape, stride, dilation, pad_width, itemsize) -> int:
    """``winograd_sample_bytes`` for F(4x4, 3x3)'s 36-position tiles."""
    return winograd_sample_bytes(x_shape, weight_shape, stride, dilation, pad_width, itemsize, F4)
