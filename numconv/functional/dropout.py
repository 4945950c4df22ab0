"""Dropout: randomly zero activations during training (Srivastava et al., 2014).

numconv's dropout is *inverted* dropout, as PyTorch's: in training each kept
value is scaled by ``1 / (1 - p)`` so the expected output equals the input,
and evaluation is the identity (nothing to rescale at test time).

* ``dropout`` drops single elements;
* ``dropout1d`` / ``dropout2d`` / ``dropout3d`` drop whole channels (every
  value of one feature map of one sample together), which suits conv
  features whose neighbouring pixels are strongly correlated;
* ``alpha_dropout`` / ``feature_alpha_dropout`` are for SELU networks: dropped
  values are set to SELU's negative saturation value and an affine map keeps
  zero mean and unit variance.

The random mask comes from numconv's global generator
(``numconv.manual_seed`` makes it repeatable) unless a ``generator`` is
passed. It depends only on the seed and the mask's shape, not on the dtype.
The mask is kept in the cache, so the backward multiplies ``dout`` by the very
same mask: ``dx = dout * mask / (1 - p)``.

Every op returns ``(out, cache)``: ``out`` of the input's shape and dtype,
``cache`` a ``DropoutCache`` whose mask broadcasts against the input (one
entry per element, or per channel with size-1 spatial axes). In evaluation
mode (``training=False``) or with ``p = 0`` the output *is* the input array,
unchanged, as in PyTorch.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from .. import _random
from .._checks import as_float_array, check_dout, check_flag, check_probability, shape_str
from ._docs import gradient_of

__all__ = [
    "dropout", "dropout_backward", "dropout1d", "dropout1d_backward", "dropout2d", "dropout2d_backward",
    "dropout3d", "dropout3d_backward", "alpha_dropout", "alpha_dropout_backward",
    "feature_alpha_dropout", "feature_alpha_dropout_backward", "DropoutCache",
]

# SELU's value for x -> -infinity is -scale * alpha; alpha dropout sets dropped units to it.
_SELU_SATURATION = -1.7580993408473766


class DropoutCache(NamedTuple):
    """What the backward needs.

    mask : ndarray or None
        The multiplier of each kept value (``1 / (1 - p)`` for dropout), 0 where
        dropped; shape of the input, or (N, C, 1, ...) for channel dropout.
        ``None`` when the op was the identity (evaluation, ``p = 0``).
    shape : tuple
        The input's shape.
    dtype : np.dtype
    """

    mask: np.ndarray | None
    shape: tuple
    dtype: np.dtype


def _check_common(x, p, training, generator, where):
    x = as_float_array(x, where)
    p = check_probability(p, where)
    check_flag(training, where, "training")
    if generator is None:
        generator = _random.get_generator()  # looked up per call: manual_seed replaces it
    elif not isinstance(generator, np.random.Generator):
        raise TypeError(f"{where}: expected generator to be a numpy.random.Generator or None, "
                        f"got {type(generator).__name__}")
    return x, p, bool(training), generator


def _channel_mask_shape(shape: tuple, batched: bool) -> tuple:
    """One mask entry per (sample, channel): (N, C, 1, ..., 1), or (C, 1, ..., 1) unbatched."""
    lead = 2 if batched else 1
    return tuple(shape[:lead]) + (1,) * (len(shape) - lead)


def _apply_dropout(x, p, training, rng, mask_shape, alpha: bool):
    """The shared core: draw the keep mask of ``mask_shape``, scale, and apply it."""
    if not training or p == 0.0 or x.size == 0:
        return x, DropoutCache(None, x.shape, x.dtype)
    if p == 1.0:
        # Everything dropped. Multiplying (not np.zeros) keeps NaN as NaN, like PyTorch.
        mask = np.zeros(mask_shape, dtype=x.dtype)
        return x * mask, DropoutCache(mask, x.shape, x.dtype)
    # Drawn in float64 whatever x's dtype, so one seed gives one mask.
    keep = rng.random(mask_shape) < 1.0 - p
    if not alpha:
        mask = keep.astype(x.dtype)
        mask /= 1.0 - p
        return x * mask, DropoutCache(mask, x.shape, x.dtype)
    # Alpha dropout: a dropped unit becomes the saturation value s, then
    # out = a * value + b with a, b chosen so mean 0 / variance 1 survive:
    #   a = 1 / sqrt((1 - p) (1 + p s^2)),  b = -a s p.
    # Written as out = x * mask + shift, with mask = a * keep, so the backward is dout * mask.
    s = _SELU_SATURATION
    a = 1.0 / math.sqrt((1.0 - p) * (1.0 + p * s * s))
    mask = keep.astype(x.dtype) * a
    shift = np.where(keep, -a * s * p, a * s * (1.0 - p)).astype(x.dtype)
    return x * mask + shift, DropoutCache(mask, x.shape, x.dtype)


def dropout(x, p: float = 0.5, training: bool = True, generator=None):
    """Inverted dropout of single elements, as ``torch.nn.functional.dropout``.

    Parameters
    ----------
    x : ndarray, any shape
    p : float in [0, 1]
        Probability of zeroing each element. ``p = 1`` gives zeros, ``p = 0`` the identity.
    training : bool
        ``False`` makes this the identity.
    generator : numpy.random.Generator, optional
        Defaults to numconv's global generator.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
        ``x * keep / (1 - p)`` with ``keep ~ Bernoulli(1 - p)`` elementwise.
    cache : DropoutCache
    """
    x, p, training, rng = _check_common(x, p, training, generator, "dropout")
    return _apply_dropout(x, p, training, rng, x.shape, alpha=False)


@gradient_of("dropout", "DropoutCache", dout="shape of the input")
def dropout_backward(dout, cache: DropoutCache):
    """``dx = dout * mask``: the same elements dropped, the same ``1 / (1 - p)`` scale.

    Returns
    -------
    dx : ndarray, same shape as ``dout``
    """
    mask, shape, dtype = cache
    dout = check_dout(dout, shape, dtype, "dropout backward")
    return dout if mask is None else dout * mask


def dropout1d(x, p: float = 0.5, training: bool = True, generator=None):
    """Drop whole channels of 1-D feature maps, as ``torch.nn.functional.dropout1d``.

    Parameters
    ----------
    x : ndarray, shape (N, C, L) or unbatched (C, L)
    p, training, generator
        As for :func:`dropout`; ``p`` is the probability of zeroing a channel.

    Returns
    -------
    out : ndarray, same shape and dtype as ``x``
        ``out[n, c, :] = x[n, c, :] * keep[n, c] / (1 - p)``.
    cache : DropoutCache
        The mask has shape (N, C, 1) or (C, 1).
    """
    x, p, training, rng = _check_common(x, p, training, generator, "dropout1d")
    if x.ndim not in (2, 3):
        raise ValueError(
            f"dropout1d: expected a 2-D or 3-D input (C, L) or (N, C, L), got shape {shape_str(x.shape)} "
            f"({x.ndim}-D)"
        )
    return _apply_dropout(x, p, training, rng, _channel_mask_shape(x.shape, x.ndim == 3), alpha=False)


def _warn_rank(x: np.ndarray, where: str, what_happens: str) -> None:
    """Warn, pointing at the caller's caller, that ``where`` got an input rank it reads in a surprising way."""
    warnings.warn(f"{where}: got a {x.ndim}-D input of shape {shape_str(x.shape)}; {what_happens}", UserWarning,
                  stacklevel=3)


def dropout2d(x, p: float = 0.5, training: bool = True, generator=None):
    """Drop whole channels of 2-D feature maps, as ``torch.nn.functional.dropout2d``.

    Mirrors PyTorch's current behaviour for every input rank:

    * 4-D (N, C, H, W): one mask entry per (sample, channel);
    * 3-D: read as (N, C, L) -- *not* as an unbatched (C, H, W) image -- with a
      warning, as PyTorch does (use ``dropout1d`` for that, or add a batch axis);
    * any other rank (>= 2) works the same way on axes 0 and 1, with PyTorch's
      deprecation warning.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    p, training, generator
        As for :func:`dropout`; ``p`` is the probability of zeroing a channel.

    Returns ``(out, cache)``; the mask has shape (N, C, 1, 1).
    """
    x, p, training, rng = _check_common(x, p, training, generator, "dropout2d")
    if x.ndim not in (3, 4):
        _warn_rank(x, "dropout2d", "dropout2d is meant for 4-D (N, C, H, W) input (PyTorch deprecates other "
                   "ranks). Dropping whole entries of axes 0 and 1.")
    elif x.ndim == 3:
        _warn_rank(x, "dropout2d", "like PyTorch, it is read as (N, C, L) and whole (n, c) rows are dropped, not "
                   "as an unbatched (C, H, W) image. Use dropout1d for (N, C, L) data, or add a batch axis to an "
                   "image.")
    if training and x.ndim < 2:  # evaluation is the identity for any rank, as in PyTorch
        raise ValueError(f"dropout2d: channel dropout needs at least 2 axes (N, C), got shape {shape_str(x.shape)}")
    return _apply_dropout(x, p, training, rng, _channel_mask_shape(x.shape, True), alpha=False)


def dropout3d(x, p: float = 0.5, training: bool = True, generator=None):
    """Drop whole channels of 3-D feature maps, as ``torch.nn.functional.dropout3d``.

    Parameters
    ----------
    x : ndarray, shape (N, C, D, H, W) or unbatched (C, D, H, W)
        Other ranks work as unbatched (axis 0 is the channel axis), with
        PyTorch's deprecation warning.
    p, training, generator
        As for :func:`dropout`; ``p`` is the probability of zeroing a channel.

    Returns ``(out, cache)``; the mask has shape (N, C, 1, 1, 1) or (C, 1, 1, 1).
    """
    x, p, training, rng = _check_common(x, p, training, generator, "dropout3d")
    if x.ndim not in (4, 5):
        _warn_rank(x, "dropout3d", "dropout3d is meant for 5-D (N, C, D, H, W) or 4-D (C, D, H, W) input "
                   "(PyTorch deprecates other ranks). Treating axis 0 as the channel axis of one sample.")
    if training and x.ndim < 1:  # evaluation is the identity for any rank, as in PyTorch
        raise ValueError("dropout3d: channel dropout needs at least 1 axis, got a 0-D input")
    return _apply_dropout(x, p, training, rng, _channel_mask_shape(x.shape, x.ndim == 5), alpha=False)


def alpha_dropout(x, p: float = 0.5, training: bool = False, generator=None):
    """Alpha dropout for SELU networks, as ``torch.nn.functional.alpha_dropout``.

    Each element is dropped with probability ``p`` and set to SELU's negative
    saturation value ``s = -1.7581``; then ``a * value + b`` with
    ``a = ((1 - p)(1 + p s^2))^(-1/2)`` and ``b = -a s p`` restores zero mean
    and unit variance for a standardised input. Note PyTorch's default
    ``training=False`` for this function.

    Parameters
    ----------
    x : ndarray, any shape
    p, training, generator
        As for :func:`dropout`.

    Returns ``(out, cache)``; ``mask = a * keep``, so ``dx = dout * mask``.
    """
    x, p, training, rng = _check_common(x, p, training, generator, "alpha_dropout")
    return _apply_dropout(x, p, training, rng, x.shape, alpha=True)


def feature_alpha_dropout(x, p: float = 0.5, training: bool = False, generator=None):
    """Alpha dropout of whole channels, as ``torch.nn.functional.feature_alpha_dropout``.

    Parameters
    ----------
    x : ndarray, shape (N, C, *)
        Axes 0 and 1 are always read as (N, C), as in PyTorch.
    p, training, generator
        As for :func:`alpha_dropout`.

    Returns ``(out, cache)``; the mask has shape (N, C, 1, ..., 1).
    """
    x, p, training, rng = _check_common(x, p, training, generator, "feature_alpha_dropout")
    if training and x.ndim < 2:  # evaluation is the identity for any rank, as in PyTorch
        raise ValueError(
            f"feature_alpha_dropout: expected an input of shape (N, C, *) with at least 2 axes, "
            f"got shape {shape_str(x.shape)} ({x.ndim}-D)"
        )
    return _apply_dropout(x, p, training, rng, _channel_mask_shape(x.shape, True), alpha=True)


# Every variant's backward is the same multiplication by the kept mask.
dropout1d_backward = dropout_backward
dropout2d_backward = dropout_backward
dropout3d_backward = dropout_backward
alpha_dropout_backward = dropout_backward
feature_alpha_dropout_backward = dropout_backward
