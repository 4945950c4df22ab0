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

__all__ = ["window_span", "window_output_size", "ceil_mode_drops_last"]


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
    _, room = _room(size, kernel, padding, dilation)
    if not ceil_mode:
        return room // stride + 1  # Python's // floors, also below zero
    return _rounded_up(room, stride) - int(ceil_mode_drops_last(size, kernel, stride, padding, dilation))


def ceil_mode_drops_last(size: int, kernel: int, stride: int = 1, padding=0, dilation: int = 1) -> bool:
    """True when ``ceil_mode`` drops its last window because it would start beyond the input and its leading padding.

    >>> ceil_mode_drops_last(5, 2, 2, padding=1), ceil_mode_drops_last(5, 2, 2)
    (True, False)
    """
    before, room = _room(size, kernel, padding, dilation)
    return (_rounded_up(room, stride) - 1) * stride >= size + before  # where the last window would start


def _room(size: int, kernel: int, padding, dilation: int) -> tuple:
    """(padding before, pixels the window can move over): ``size + before + after - span``."""
    before, after = (padding, padding) if isinstance(padding, int) else padding
    return before, size + before + after - window_span(kernel, dilation)


def _rounded_up(room: int, stride: int) -> int:
    """Windows when the division rounds up: the last one may hang over the end."""
    return -(-room // stride) + 1
