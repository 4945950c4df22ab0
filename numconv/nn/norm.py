"""Normalisation layers: batch, instance, layer, group and local response norm.

The layers own the learned affine map (``weight`` starts at ones, ``bias`` at
zeros) and the running statistics, and call ``numconv.functional``. Their
arguments, defaults, buffers, ``state_dict`` keys and reprs are PyTorch's;
note that instance norm's defaults differ from batch norm's
(``affine=False, track_running_stats=False``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import functional as F
from .._checks import (channel_last_hint, check_float_dtype, check_ndim, check_number, check_parameters,
                       check_positive_int, shape_str)
from ..functional.norm import _check_nc
from ..functional.norm_layer import _normalized_shape
from .module import Module
from .parameter import Parameter

__all__ = [
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
    "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
    "LayerNorm", "GroupNorm", "LocalResponseNorm",
]


def _register_affine(module: Module, shape, affine: bool, bias: bool, dtype) -> None:
    """Give ``module`` its affine ``weight`` (ones) and ``bias`` (zeros) of ``shape``, as PyTorch does.

    Without ``affine`` both are registered as None (so ``state_dict`` has no
    entry for them); with ``affine`` but not ``bias`` only the bias is None.
    """
    if affine:
        module.weight = Parameter(np.ones(shape, dtype=dtype))
        if bias:
            module.bias = Parameter(np.zeros(shape, dtype=dtype))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _reset_affine(module: Module) -> None:
    """Weight back to ones and bias back to zeros (those the module has)."""
    if module.weight is not None:
        module.weight.data.fill(1)
    if module.bias is not None:
        module.bias.data.fill(0)


def _affine_data(module: Module):
    """``(weight, bias)`` as arrays for the functional op, None for those the module has not."""
    weight = None if module.weight is None else module.weight.data
    bias = None if module.bias is None else module.bias.data
    return weight, bias


def _accumulate_affine_grads(module: Module, dweight, dbias) -> None:
    """Add the affine parameters' gradients (those the module has) into their ``grad``."""
    if module.weight is not None:
        module.weight.accumulate_grad(dweight)
    if module.bias is not None:
        module.bias.accumulate_grad(dbias)


class _AffineNorm(Module):
    """A norm layer's optional affine map: its reset, and the backward that accumulates its gradients.

    ``forward`` keeps ``(backward_fn, cache, input shape, input dtype)``.
    """

    def reset_parameters(self) -> None:
        """Weight back to ones and bias back to zeros (those the layer has)."""
        _reset_affine(self)

    def _init_affine(self, shape, eps, affine: bool, bias: bool, dtype) -> np.dtype:
        """Store the checked ``eps``; register ``weight`` and ``bias`` of ``shape`` when ``affine``; the dtype."""
        name = type(self).__name__
        self.eps = check_number(eps, name, "eps", minimum=0, keep=True)
        dtype = check_float_dtype(dtype, name)
        _register_affine(self, shape, affine, bias, dtype)
        return dtype

    def _input(self, x):
        """``(x as this layer's input, x's own dtype)``, once the parameters are checked to be set."""
        check_parameters(self)
        return self._as_input(x, type(self).__name__), x.dtype

    def _normalise(self, forward_fn, backward_fn, x, in_dtype, groups):
        """``forward_fn(x, groups, weight, bias, eps)`` (layer norm, group norm), kept for ``backward``."""
        weight, bias = _affine_data(self)
        out, cache = forward_fn(x, groups, weight, bias, self.eps)
        self._keep((backward_fn, cache, x.shape, in_dtype))
        return out

    def _upstream(self, grad_output, in_shape, cache):
        """``grad_output`` as ``backward_fn`` takes it (its own checks suffice here)."""
        return grad_output

    def backward(self, grad_output):
        backward_fn, cache, in_shape, in_dtype = self._take()
        dx, dweight, dbias = backward_fn(self._upstream(grad_output, in_shape, cache), cache)
        _accumulate_affine_grads(self, dweight, dbias)
        return dx.reshape(in_shape).astype(in_dtype, copy=False)


class _NormBase(_AffineNorm):
    """What batch norm and instance norm share: the affine parameters and the running statistics.

    Subclasses set ``_ranks`` (the accepted input ranks), ``_layout`` (for
    messages) and ``_unbatched_rank`` (the rank of an unbatched input, or
    None if there is none).
    """

    _ranks: tuple = ()
    _layout: str = ""
    _unbatched_rank: int | None = None

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype=np.float32, *, bias=True):
        super().__init__()
        name = type(self).__name__
        self.num_features = check_positive_int(num_features, name, "num_features", minimum=0)
        self.momentum = None if momentum is None else check_number(momentum, name, "momentum", keep=True)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dtype = self._init_affine(self.num_features, eps, self.affine, bias, dtype)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean to 0, running variance to 1, batch count to 0."""
        if self.track_running_stats:
            self.running_mean.fill(0)
            self.running_var.fill(1)
            self.num_batches_tracked.fill(0)

    def reset_parameters(self) -> None:
        """Reset the running statistics, and the weight to ones and the bias to zeros."""
        self.reset_running_stats()
        super().reset_parameters()

    def _input(self, x):
        x, in_dtype = super()._input(x)
        check_ndim(x, self._ranks, type(self).__name__, self._layout)
        return x, in_dtype

    def _channel_error(self, x: np.ndarray, axis: int) -> ValueError:
        return ValueError(
            f"{type(self).__name__}: expected input with {self.num_features} channels on axis {axis} "
            f"(num_features={self.num_features}), got input of shape {shape_str(x.shape)}"
            + channel_last_hint(x.shape, axis, self.num_features)
        )

    def _upstream(self, grad_output, in_shape, cache):
        grad_output = np.asarray(grad_output)
        if grad_output.shape != in_shape:
            raise ValueError(f"{type(self).__name__}.backward: expected grad_output of shape {shape_str(in_shape)} "
                             f"(the output's shape), got {shape_str(grad_output.shape)}")
        # An unbatched input was normalised as a batch of one: give the gradient that batch axis.
        return grad_output.reshape(cache.shape)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    """Batch norm: each channel standardised over the batch (and spatial axes)."""

    def forward(self, x):
        name = type(self).__name__
        x, in_dtype = self._input(x)
        # Without weight or running statistics, nothing ties the layer to a channel
        # count (PyTorch then accepts any); otherwise the count must match.
        if (self.affine or self.track_running_stats) and x.shape[1] != self.num_features:
            raise self._channel_error(x, 1)
        use_batch_stats = self.training or self.running_mean is None
        if use_batch_stats and x.shape[0] * math.prod(x.shape[2:]) == 1:
            raise ValueError(f"{name}: Expected more than 1 value per channel when training, got input size "
                             f"{shape_str(x.shape)}")

        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
            if self.momentum is None:  # cumulative moving average: every batch weighs the same
                factor = 1.0 / float(self.num_batches_tracked)
        # Running statistics are updated only when tracked and training, and read only in eval.
        update_or_read = not self.training or self.track_running_stats
        weight, bias = _affine_data(self)
        out, cache = F.batch_norm(
            x,
            self.running_mean if update_or_read else None,
            self.running_var if update_or_read else None,
            weight, bias, use_batch_stats, factor, self.eps,
        )
        self._keep((F.batch_norm_backward, cache, x.shape, in_dtype))
        return out


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L), as ``torch.nn.BatchNorm1d``.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, per channel. In
    training the mean and the biased variance are the batch's (over N and L),
    and the running statistics move toward them:
    ``running = (1 - momentum) * running + momentum * batch_stat``, with the
    *unbiased* variance (``momentum=None``: a plain cumulative average). In
    eval mode the running statistics are used, unless
    ``track_running_stats=False``, in which case batch statistics are used
    in both modes.

    Parameters
    ----------
    num_features : int
        C, the number of channels.
    eps : float
        Added to the variance for stability (default 1e-5).
    momentum : float or None
        Weight of the newest batch in the running statistics (default 0.1).
    affine : bool
        Learn ``weight`` (init ones) and ``bias`` (init zeros), shape (C,).
    track_running_stats : bool
        Keep buffers ``running_mean`` (zeros), ``running_var`` (ones) and
        ``num_batches_tracked`` (int64 scalar).
    dtype : float32 (default) or float64
    bias : bool, keyword-only
        With ``affine=True``, whether to learn the bias (default True).

    Shapes
    ------
    input (N, C) or (N, C, L) -> output of the same shape.
    """

    _ranks = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W), as ``torch.nn.BatchNorm2d``.

    Statistics per channel over N, H and W; see ``BatchNorm1d`` for the
    parameters and the training/eval behaviour. Like PyTorch's, it needs a
    batched 4-D input.
    """

    _ranks = (4,)
    _layout = "(N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation over (N, C, D, H, W), as ``torch.nn.BatchNorm3d``.

    Statistics per channel over N, D, H and W; see ``BatchNorm1d``.
    """

    _ranks = (5,)
    _layout = "(N, C, D, H, W)"


class _InstanceNorm(_NormBase):
    """Instance norm: each channel of each sample standardised over its own spatial axes."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False,
                 dtype=np.float32, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype, bias=bias)

    def forward(self, x):
        name = type(self).__name__
        x, in_dtype = self._input(x)
        channel_axis = x.ndim - self._unbatched_rank
        if x.shape[channel_axis] != self.num_features:
            if self.affine or self.track_running_stats:
                raise self._channel_error(x, channel_axis)
            warnings.warn(
                f"{name}: input's size at dim={channel_axis} ({x.shape[channel_axis]}) does not match "
                f"num_features ({self.num_features}); num_features is not used because affine=False",
                UserWarning,
                stacklevel=2,
            )
        batched = x if channel_axis == 1 else x[None]
        use_input_stats = self.training or not self.track_running_stats
        if use_input_stats and math.prod(batched.shape[2:]) == 1:
            raise ValueError(f"{name}: Expected more than 1 spatial element when training, got input size "
                             f"{shape_str(x.shape)}")
        weight, bias = _affine_data(self)
        # As PyTorch: momentum=None here means the running statistics never move,
        # and num_batches_tracked is kept (for state_dict compatibility) but not counted.
        out, cache = F.instance_norm(
            batched, self.running_mean, self.running_var, weight, bias, use_input_stats,
            0.0 if self.momentum is None else self.momentum, self.eps,
        )
        self._keep((F.instance_norm_backward, cache, x.shape, in_dtype))
        return out.reshape(x.shape)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation over (N, C, L) or unbatched (C, L), as ``torch.nn.InstanceNorm1d``.

    Each (sample, channel) row is standardised over L with its own mean and
    biased variance. Defaults differ from batch norm: ``affine=False`` and
    ``track_running_stats=False``. With ``track_running_stats=True`` the
    running statistics move toward the batch average of the per-instance
    mean and unbiased variance in training, and eval mode uses them.

    Parameters
    ----------
    num_features : int
        C.
    eps : float
    momentum : float
        (``None`` freezes the running statistics, as in PyTorch.)
    affine : bool
        Learn per-channel ``weight`` and ``bias`` (default False).
    track_running_stats : bool
        Default False.
    dtype : float32 (default) or float64
    bias : bool, keyword-only

    Shapes
    ------
    input (N, C, L) or (C, L) -> output of the same shape.
    """

    _ranks = (2, 3)
    _layout = "(C, L) or (N, C, L)"
    _unbatched_rank = 2


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation over (N, C, H, W) or (C, H, W), as ``torch.nn.InstanceNorm2d``.

    See ``InstanceNorm1d``.
    """

    _ranks = (3, 4)
    _layout = "(C, H, W) or (N, C, H, W)"
    _unbatched_rank = 3


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation over (N, C, D, H, W) or (C, D, H, W), as ``torch.nn.InstanceNorm3d``.

    See ``InstanceNorm1d``.
    """

    _ranks = (4, 5)
    _layout = "(C, D, H, W) or (N, C, D, H, W)"
    _unbatched_rank = 4


class LayerNorm(_AffineNorm):
    """Layer normalisation, as ``torch.nn.LayerNorm``.

    Each sample is standardised over its last ``len(normalized_shape)`` axes,
    then multiplied by ``weight`` and shifted by ``bias`` element-wise.

    Parameters
    ----------
    normalized_shape : int or tuple of ints
        The trailing shape, e.g. ``(C, H, W)``; stored as a tuple.
    eps : float
    elementwise_affine : bool
        Learn ``weight`` (ones) and ``bias`` (zeros) of shape ``normalized_shape``.
    bias : bool
        With ``elementwise_affine``, whether to learn the bias.
    dtype : float32 (default) or float64

    Shapes
    ------
    input (*, *normalized_shape) -> output of the same shape.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=np.float32):
        super().__init__()
        self.normalized_shape = _normalized_shape(normalized_shape, "LayerNorm")
        self.elementwise_affine = bool(elementwise_affine)
        self._init_affine(self.normalized_shape, eps, self.elementwise_affine, bias, dtype)

    def forward(self, x):
        x, in_dtype = self._input(x)
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            pattern = "(*, " + ", ".join(str(s) for s in self.normalized_shape) + ")"
            raise ValueError(
                f"LayerNorm: expected an input of shape {pattern} (normalized_shape={self.normalized_shape}), "
                f"got input of shape {shape_str(x.shape)}"
            )
        return self._normalise(F.layer_norm, F.layer_norm_backward, x, in_dtype, self.normalized_shape)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(_AffineNorm):
    """Group normalisation, as ``torch.nn.GroupNorm``.

    The channels are split into ``num_groups`` groups of consecutive
    channels; each group of each sample is standardised over its channels
    and spatial axes together, then a per-channel ``weight`` and ``bias``
    are applied. Independent of the batch size (same in train and eval).

    Parameters
    ----------
    num_groups : int
        Must divide ``num_channels``.
    num_channels : int
        C.
    eps : float
    affine : bool
        Learn ``weight`` (ones) and ``bias`` (zeros), shape (C,).
    dtype : float32 (default) or float64
    bias : bool, keyword-only

    Shapes
    ------
    input (N, C, *) -> output of the same shape.
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=np.float32, *, bias=True):
        super().__init__()
        self.num_groups = check_positive_int(num_groups, "GroupNorm", "num_groups")
        self.num_channels = check_positive_int(num_channels, "GroupNorm", "num_channels", minimum=0)
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels ({self.num_channels}) must be divisible by num_groups "
                             f"({self.num_groups})")
        self.affine = bool(affine)
        self._init_affine(self.num_channels, eps, self.affine, bias, dtype)

    def forward(self, x):
        x, in_dtype = self._input(x)
        _check_nc(x, "GroupNorm")
        # Without a weight PyTorch accepts any channel count divisible by num_groups.
        if self.affine and x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input with {self.num_channels} channels on axis 1 "
                             f"(num_channels={self.num_channels}), got input of shape {shape_str(x.shape)}")
        return self._normalise(F.group_norm, F.group_norm_backward, x, in_dtype, self.num_groups)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LocalResponseNorm(Module):
    """Local response normalisation across channels, as ``torch.nn.LocalResponseNorm``.

    ``b_c = a_c / (k + alpha / size * sum(a_j ** 2 for j in window(c))) ** beta``,
    the window being channels ``c - size // 2`` to ``c + (size - 1) // 2``
    with zeros beyond the edges (AlexNet's normalisation).

    Parameters
    ----------
    size : int
        Number of neighbouring channels in the window.
    alpha, beta, k : float
        Defaults 1e-4, 0.75, 1.0.

    Shapes
    ------
    input (N, C, *) with at least 3 axes -> output of the same shape.
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = check_positive_int(size, "LocalResponseNorm", "size")
        self.alpha = check_number(alpha, "LocalResponseNorm", "alpha", keep=True)
        self.beta = check_number(beta, "LocalResponseNorm", "beta", keep=True)
        self.k = check_number(k, "LocalResponseNorm", "k", keep=True)

    def forward(self, x):
        x = self._as_input(x, "LocalResponseNorm")
        _check_nc(x, "LocalResponseNorm", 3)
        return self._output(F.local_response_norm(x, self.size, self.alpha, self.beta, self.k))

    def backward(self, grad_output):
        return F.local_response_norm_backward(grad_output, self._take())

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
