"""Sliding-window geometry: how many windows fit along one axis.

One formula serves convolution, pooling, the shape engine
(``numconv.tools._shapes``) and ``explain``, so they cannot disagree::

    span = dilation * (kernel - 1) + 1                  # pixels one window covers
    out  = floor((size + pad_before + pad_after - span) / stride) + 1

With ``ceil_mode`` (pooling only) the division rounds up, but a last window
that would start beyond the input and its leading padding is dropped, as in
PyTorch. The result may be <= 0 when the window does not fit; the caller
turns that into an error that names its own arguments.
"""

from __future__ import annotations

__all__ = ["window_span", "window_output_size"]


def window_span(kernel: int, dilation: int = 1) -> int:
    """Input pixels from a window's first tap to its last: ``dilation * (kernel - 1) + 1``."""
    return dilation * (kernel - 1) + 1


def window_output_size(size: int, kernel: int, stride: int = 1, padding=0, dilation: int = 1,
                       ceil_mode: bool = False) -> int:
    """Number of window positions along an axis of ``size`` pixels.

    Parameters
    ----------
    size, kernel, stride, dilation : int
    padding : int or (int, int)
        Pixels added on each side, or ``(before, after)``.
    ceil_mode : bool
        Round the number of windows up (pooling).

    Returns
    -------
    int
        May be <= 0 when the window is larger than the padded axis.

    >>> window_output_size(28, 5), window_output_size(5, 2, 2, ceil_mode=True)
    (24, 3)
    """
    before, after = (padding, padding) if isinstance(padding, int) else padding
    room = size + before + after - window_span(kernel, dilation)
    if not ceil_mode:
        return room // stride + 1  # Python's // floors, also below zero
    out = -(-room // stride) + 1  # rounds up: the last window may hang over the end
    if (out - 1) * stride >= size + before:
        out -= 1
    return out
