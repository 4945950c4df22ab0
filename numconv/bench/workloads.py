"""The benchmark workloads W1-W13: what is timed, on which shapes, against which target.

Every case is float32 (W9: float64) and comes as a pair of *builders*: ``numconv(seed)``
and ``torch(torch_module, seed)``. A builder allocates the inputs (the same
numbers on both sides) and returns a zero-argument function that does the
timed work once. Inputs are built only when a case runs, so the suite never
holds more than one workload's arrays at a time.

Phases:

* ``fwd``: the forward pass *as it runs in training*, keeping what the
  backward pass needs (numconv returns its cache; PyTorch records the
  autograd graph, its inputs requiring gradients).
* ``fwd+bwd``: the forward pass, then the gradients with respect to every
  input and parameter for a random upstream gradient. On the PyTorch side
  ``torch.autograd.grad`` returns them without accumulating into ``.grad``.
* ``step``: a whole training step: zero the gradients, forward,
  cross-entropy, backward, SGD with momentum.

The target is the largest numconv / PyTorch time ratio the project accepts
for that case (``None``: reported, no target).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .steps import torch_training_step, training_step

__all__ = ["Case", "WORKLOADS", "build_cases", "conv_flops", "BoundedCase", "BOUNDED_CASES", "BOUNDED_LIMIT",
           "BOUNDED_TARGET"]


@dataclass(frozen=True)
class Case:
    """One timed case: a workload in one phase.

    Attributes
    ----------
    workload : str
        "W1" ... "W13".
    label : str
        What is computed, with its shapes.
    phase : str
        "fwd", "fwd+bwd" or "step".
    target : float or None
        Largest acceptable numconv / PyTorch time ratio.
    flops : float or None
        Floating-point operations per call (convolutions only), for GFLOP/s.
    numconv : callable
        ``numconv(seed) -> fn``: builds the inputs, returns the timed function.
    torch : callable
        ``torch(torch_module, seed) -> fn``: the same for PyTorch.
    memory : bool
        Whether the suite also measures this case's peak memory.
    memory_target : float or None
        Largest acceptable numconv / PyTorch ratio of peak memory.
    """

    workload: str
    label: str
    phase: str
    target: Optional[float]
    flops: Optional[float]
    numconv: Callable
    torch: Callable
    memory: bool = False
    memory_target: Optional[float] = None

    @property
    def key(self) -> str:
        return f"{self.workload} {self.label} {self.phase}"


def _random(shape, seed, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape, dtype=dtype)


def conv_flops(x_shape, w_shape, stride, padding) -> float:
    """Multiply-adds x 2 of one forward convolution (the backward pass does twice as many)."""
    n, _, h, w = x_shape
    k, c, kh, kw = w_shape
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (w + 2 * padding - kw) // stride + 1
    return 2.0 * n * k * oh * ow * c * kh * kw


# ---------------------------------------------------------------------------- convolution
def _conv_cases(workload, x_shape, w_shape, stride, padding, fwd_target, both_target, dtype=np.float32,
                phases=("fwd", "fwd+bwd"), memory_target=None):
    from ..functional import conv2d, conv2d_backward

    oh = (x_shape[2] + 2 * padding - w_shape[2]) // stride + 1
    ow = (x_shape[3] + 2 * padding - w_shape[3]) // stride + 1
    out_shape = (x_shape[0], w_shape[0], oh, ow)
    label = (("float64 " if dtype == np.float64 else "") + f"conv {w_shape[1]}->{w_shape[0]} {w_shape[2]}x{w_shape[3]} "
             f"s{stride} p{padding} on {'x'.join(map(str, x_shape))}")
    flops = conv_flops(x_shape, w_shape, stride, padding)

    def inputs(seed):
        x = _random(x_shape, seed, dtype)
        w = _random(w_shape, seed + 1, dtype) * dtype(1.0 / np.sqrt(np.prod(w_shape[1:])))
        b = _random(w_shape[:1], seed + 2, dtype)
        dy = _random(out_shape, seed + 3, dtype)
        return x, w, b, dy

    def ours(backward):
        def build(seed):
            x, w, b, dy = inputs(seed)
            if not backward:
                return lambda: conv2d(x, w, b, stride=stride, padding=padding)
            return lambda: conv2d_backward(dy, conv2d(x, w, b, stride=stride, padding=padding)[1])
        return build

    def theirs(backward):
        def build(torch, seed):
            x, w, b = (torch.from_numpy(a).requires_grad_() for a in inputs(seed)[:3])
            dy = torch.from_numpy(inputs(seed)[3])
            conv = torch.nn.functional.conv2d
            if not backward:
                return lambda: conv(x, w, b, stride=stride, padding=padding)
            return lambda: torch.autograd.grad(conv(x, w, b, stride=stride, padding=padding), (x, w, b), dy)
        return build

    cases = {
        "fwd": Case(workload, label, "fwd", fwd_target, flops, ours(False), theirs(False)),
        "fwd+bwd": Case(workload, label, "fwd+bwd", both_target, 3 * flops, ours(True), theirs(True),
                        memory=memory_target is not None, memory_target=memory_target),
    }
    return [cases[phase] for phase in phases]


# ---------------------------------------------------------------------------- pooling
def _pool_cases(workload, kind, x_shape, kernel, stride, padding, both_target):
    from ..functional import pool

    forward = {"max": pool.max_pool2d, "avg": pool.avg_pool2d}[kind]
    backward = {"max": pool.max_pool2d_backward, "avg": pool.avg_pool2d_backward}[kind]
    oh = (x_shape[2] + 2 * padding - kernel) // stride + 1
    ow = (x_shape[3] + 2 * padding - kernel) // stride + 1
    out_shape = (*x_shape[:2], oh, ow)
    label = f"{kind} pool {kernel}x{kernel} s{stride} p{padding} on {'x'.join(map(str, x_shape))}"

    def ours(with_backward):
        def build(seed):
            x, dy = _random(x_shape, seed), _random(out_shape, seed + 1)
            if not with_backward:
                return lambda: forward(x, kernel, stride, padding)
            return lambda: backward(dy, forward(x, kernel, stride, padding)[1])
        return build

    def theirs(with_backward):
        def build(torch, seed):
            x = torch.from_numpy(_random(x_shape, seed)).requires_grad_()
            dy = torch.from_numpy(_random(out_shape, seed + 1))
            fn = {"max": torch.nn.functional.max_pool2d, "avg": torch.nn.functional.avg_pool2d}[kind]
            if not with_backward:
                return lambda: fn(x, kernel, stride, padding)
            return lambda: torch.autograd.grad(fn(x, kernel, stride, padding), (x,), dy)
        return build

    return [
        Case(workload, label, "fwd", None, None, ours(False), theirs(False)),
        Case(workload, label, "fwd+bwd", both_target, None, ours(True), theirs(True)),
    ]


# ---------------------------------------------------------------------------- upsampling
def _conv_transpose_cases(workload, x_shape, w_shape, stride, padding, both_target):
    """A decoder's learned upsampling: ConvTranspose2d with weight (C_in, C_out, k, k)."""
    from ..functional import conv_transpose2d, conv_transpose2d_backward

    n, _, h, w = x_shape
    out_shape = (n, w_shape[1], (h - 1) * stride - 2 * padding + w_shape[2], (w - 1) * stride - 2 * padding + w_shape[3])
    label = (f"conv_transpose {w_shape[0]}->{w_shape[1]} {w_shape[2]}x{w_shape[3]} s{stride} p{padding} "
             f"on {'x'.join(map(str, x_shape))}")
    flops = 2.0 * n * h * w * np.prod(w_shape)  # every input pixel stamps the whole kernel once

    def inputs(seed):
        scale = np.float32(1.0 / np.sqrt(np.prod(w_shape[1:])))
        return (_random(x_shape, seed), _random(w_shape, seed + 1) * scale, _random(w_shape[1:2], seed + 2),
                _random(out_shape, seed + 3))

    def ours(backward):
        def build(seed):
            x, wt, b, dy = inputs(seed)
            if not backward:
                return lambda: conv_transpose2d(x, wt, b, stride=stride, padding=padding)
            return lambda: conv_transpose2d_backward(dy, conv_transpose2d(x, wt, b, stride=stride,
                                                                          padding=padding)[1])
        return build

    def theirs(backward):
        def build(torch, seed):
            arrays = inputs(seed)
            x, wt, b = (torch.from_numpy(a).requires_grad_() for a in arrays[:3])
            dy = torch.from_numpy(arrays[3])
            fn = torch.nn.functional.conv_transpose2d
            if not backward:
                return lambda: fn(x, wt, b, stride=stride, padding=padding)
            return lambda: torch.autograd.grad(fn(x, wt, b, stride=stride, padding=padding), (x, wt, b), dy)
        return build

    return [
        Case(workload, label, "fwd", None, flops, ours(False), theirs(False)),
        Case(workload, label, "fwd+bwd", both_target, 3 * flops, ours(True), theirs(True)),
    ]


def _interpolate_cases(workload, mode, x_shape, scale, both_target):
    """``interpolate(x, scale_factor=scale, mode=mode)``, forward and forward + backward."""
    from ..functional import interpolate, interpolate_backward

    out_shape = (*x_shape[:2], *(int(n * scale) for n in x_shape[2:]))
    label = f"{mode} upsampling x{scale:g} on {'x'.join(map(str, x_shape))}"

    def ours(with_backward):
        def build(seed):
            x, dy = _random(x_shape, seed), _random(out_shape, seed + 1)
            if not with_backward:
                return lambda: interpolate(x, scale_factor=scale, mode=mode)
            return lambda: interpolate_backward(dy, interpolate(x, scale_factor=scale, mode=mode)[1])
        return build

    def theirs(with_backward):
        def build(torch, seed):
            x = torch.from_numpy(_random(x_shape, seed)).requires_grad_()
            dy = torch.from_numpy(_random(out_shape, seed + 1))
            fn = torch.nn.functional.interpolate
            if not with_backward:
                return lambda: fn(x, scale_factor=scale, mode=mode)
            return lambda: torch.autograd.grad(fn(x, scale_factor=scale, mode=mode), (x,), dy)
        return build

    return [
        Case(workload, label, "fwd", None, None, ours(False), theirs(False)),
        Case(workload, label, "fwd+bwd", both_target, None, ours(True), theirs(True)),
    ]


# ---------------------------------------------------------------------------- batch norm
def _batch_norm_cases(workload, x_shape, both_target):
    from ..functional import batch_norm, batch_norm_backward

    channels = x_shape[1]
    label = f"batch norm (training) on {'x'.join(map(str, x_shape))}"

    def params(seed):
        rng = np.random.default_rng(seed + 2)
        weight = rng.uniform(0.5, 1.5, channels).astype(np.float32)
        bias = rng.standard_normal(channels).astype(np.float32)
        return weight, bias

    def ours(with_backward):
        def build(seed):
            x, dy = _random(x_shape, seed), _random(x_shape, seed + 1)
            weight, bias = params(seed)
            running_mean, running_var = np.zeros(channels, np.float32), np.ones(channels, np.float32)

            def forward():
                return batch_norm(x, running_mean, running_var, weight, bias, training=True)
            if not with_backward:
                return forward
            return lambda: batch_norm_backward(dy, forward()[1])
        return build

    def theirs(with_backward):
        def build(torch, seed):
            x = torch.from_numpy(_random(x_shape, seed)).requires_grad_()
            dy = torch.from_numpy(_random(x_shape, seed + 1))
            weight, bias = (torch.from_numpy(a).requires_grad_() for a in params(seed))
            running_mean, running_var = torch.zeros(channels), torch.ones(channels)

            def forward():
                return torch.nn.functional.batch_norm(x, running_mean, running_var, weight, bias, training=True)
            if not with_backward:
                return forward
            return lambda: torch.autograd.grad(forward(), (x, weight, bias), dy)
        return build

    return [
        Case(workload, label, "fwd", None, None, ours(False), theirs(False)),
        Case(workload, label, "fwd+bwd", both_target, None, ours(True), theirs(True)),
    ]


# ---------------------------------------------------------------------------- training steps
def _lenet5():
    from ..models import LeNet5

    return LeNet5()


def _resnet8():
    from ..models import resnet8

    return resnet8()


def _step_case(workload, name, make_model, image_shape, batch, target):
    """A whole training step of ``make_model()`` on random ``image_shape`` images, 10 classes."""
    label = f"{name} training step, batch {batch}"

    def data(seed):
        rng = np.random.default_rng(seed)
        return rng.standard_normal((batch, *image_shape), dtype=np.float32), rng.integers(0, 10, batch)

    def model(seed):
        from .. import manual_seed

        manual_seed(seed)
        return make_model()

    def ours(seed):
        return training_step(model(seed), *data(seed))

    def theirs(torch, seed):
        from ..interop import to_torch

        return torch_training_step(torch, to_torch(model(seed)), *data(seed))  # the same initial weights

    return Case(workload, label, "step", target, None, ours, theirs)


def _module_case(workload, label, make_module, x_shape, target):
    """Forward + backward of one module (training mode) on a random input, the same weights on both sides."""

    def module(seed):
        from .. import manual_seed

        manual_seed(seed)
        return make_module()

    def ours(seed):
        net, x = module(seed), _random(x_shape, seed + 1)
        dy = _random(net(x).shape, seed + 2)
        return lambda: (net(x), net.backward(dy))

    def theirs(torch, seed):
        from ..interop import to_torch

        net = to_torch(module(seed))
        x = torch.from_numpy(_random(x_shape, seed + 1)).requires_grad_()
        dy = torch.from_numpy(_random(tuple(net(x).shape), seed + 2))
        return lambda: torch.autograd.grad(net(x), (x, *net.parameters()), dy)

    return Case(workload, label, "fwd+bwd", target, None, ours, theirs)


def _basic_block():
    from ..models.resnet import BasicBlock

    return BasicBlock(64, 64)


# ---------------------------------------------------------------------------- the table
#: Workload id -> one-line description (the cases themselves come from ``build_cases``).
WORKLOADS = {
    "W1": "LeNet-5 conv1: x (64, 1, 32, 32), w (6, 1, 5, 5), stride 1, padding 0",
    "W2": "LeNet-5 conv2: x (64, 6, 14, 14), w (16, 6, 5, 5), stride 1, padding 0",
    "W3": "conv: x (8, 16, 112, 112), w (32, 16, 3, 3), stride 1, padding 1",
    "W4": "conv: x (16, 64, 56, 56), w (64, 64, 3, 3), stride 1, padding 1",
    "W5": "conv: x (32, 32, 64, 64), w (64, 32, 3, 3), stride 2, padding 1",
    "W6": "pooling on (16, 64, 56, 56): max and avg 2x2 stride 2; max and avg 3x3 stride 2 padding 1",
    "W7": "BatchNorm2d, training, on (16, 64, 56, 56)",
    "W8": "a whole LeNet-5 training step (forward, cross-entropy, backward, SGD), batch 64 and 256",
    "W9": "W3, W4 and W5 in float64 (the dtype of gradient checks), forward + backward",
    "W10": "a whole ResNet-8 training step (numconv.models.resnet8, BatchNorm, residual adds), batch 64 on 28x28",
    "W11": "ConvTranspose2d: x (16, 64, 28, 28), w (64, 32, 4, 4), stride 2, padding 1 (a decoder's x2)",
    "W12": "upsampling x2 of (16, 64, 28, 28): bilinear and nearest",
    "W13": "a ResNet BasicBlock (two 3x3 convs with 64 channels, batch norms, ReLUs, the residual add) on (16, 64, 56, 56)",
}


def build_cases(only=None) -> list:
    """Every case of the workloads named in ``only`` (default: all), in order W1..W13.

    Parameters
    ----------
    only : iterable of str, optional
        Workload ids such as ``["W3", "W6"]``.

    Returns
    -------
    list of Case
    """
    wanted = set(WORKLOADS) if only is None else set(only)
    unknown = wanted - set(WORKLOADS)
    if unknown:
        raise ValueError(f"unknown workload(s) {', '.join(sorted(unknown))}; expected some of {', '.join(WORKLOADS)}")
    pool_shape = (16, 64, 56, 56)
    # (x shape, weight shape, stride, padding) of W3, W4, W5: W9 runs them again in float64.
    w3 = ((8, 16, 112, 112), (32, 16, 3, 3), 1, 1)
    w4 = ((16, 64, 56, 56), (64, 64, 3, 3), 1, 1)
    w5 = ((32, 32, 64, 64), (64, 32, 3, 3), 2, 1)
    builders = {
        "W1": lambda: _conv_cases("W1", (64, 1, 32, 32), (6, 1, 5, 5), 1, 0, None, 1.0, memory_target=1.0),
        "W2": lambda: _conv_cases("W2", (64, 6, 14, 14), (16, 6, 5, 5), 1, 0, None, 1.0, memory_target=1.0),
        "W3": lambda: _conv_cases("W3", *w3, 2.0, 1.0, memory_target=1.0),
        "W4": lambda: _conv_cases("W4", *w4, 1.0, 1.0, memory_target=1.0),
        "W5": lambda: _conv_cases("W5", *w5, 2.0, 1.0, memory_target=1.0),
        "W6": lambda: (_pool_cases("W6", "max", pool_shape, 2, 2, 0, 0.5)
                       + _pool_cases("W6", "avg", pool_shape, 2, 2, 0, 0.5)
                       + _pool_cases("W6", "max", pool_shape, 3, 2, 1, 0.5)
                       + _pool_cases("W6", "avg", pool_shape, 3, 2, 1, 0.5)),
        "W7": lambda: _batch_norm_cases("W7", pool_shape, 0.5),
        "W8": lambda: [_step_case("W8", "LeNet-5", _lenet5, (1, 32, 32), batch, 0.75) for batch in (64, 256)],
        "W9": lambda: [case for shapes in (w3, w4, w5)
                       for case in _conv_cases("W9", *shapes, None, 0.5, dtype=np.float64, phases=("fwd+bwd",))],
        "W10": lambda: [_step_case("W10", "ResNet-8", _resnet8, (1, 28, 28), 64, 1.0)],
        "W11": lambda: _conv_transpose_cases("W11", (16, 64, 28, 28), (64, 32, 4, 4), 2, 1, 1.3),
        "W12": lambda: (_interpolate_cases("W12", "bilinear", (16, 64, 28, 28), 2.0, 1.0)
                        + _interpolate_cases("W12", "nearest", (16, 64, 28, 28), 2.0, None)),
        "W13": lambda: [_module_case("W13", "ResNet BasicBlock 64 ch on 16x64x56x56", _basic_block,
                                     (16, 64, 56, 56), 1.2)],
    }
    cases = []
    for workload in WORKLOADS:
        if workload in wanted:
            cases.extend(builders[workload]())
    return cases


# ---------------------------------------------------------------------------- bounded memory
@dataclass(frozen=True)
class BoundedCase:
    """A convolution whose scratch must stay within a small workspace limit (forward + backward, float32).

    Attributes
    ----------
    label : str
    x_shape, w_shape : tuple
    options : dict
        Keyword arguments of ``conv1d/2d/3d`` (stride, padding, groups, padding_mode, algorithm).
    """

    label: str
    x_shape: tuple
    w_shape: tuple
    options: dict

    def build(self, seed):
        """The measured call (one forward and backward pass), and the bytes of its output or of its gradients."""
        from .. import functional as F

        forward, backward = {3: (F.conv1d, F.conv1d_backward), 4: (F.conv2d, F.conv2d_backward),
                             5: (F.conv3d, F.conv3d_backward)}[len(self.x_shape)]
        x = _random(self.x_shape, seed)
        w = _random(self.w_shape, seed + 1) * np.float32(1.0 / np.sqrt(np.prod(self.w_shape[1:])))
        b = _random(self.w_shape[:1], seed + 2)
        out_shape = forward(x[:1], w, **self.options)[0].shape[1:]
        dy = _random((self.x_shape[0], *out_shape), seed + 3)
        # The output is freed before the backward pass makes dx, dweight and dbias: the larger of the two.
        buffers = max(dy.nbytes, x.nbytes + w.nbytes + b.nbytes)
        return (lambda: backward(dy, forward(x, w, b, **self.options)[1])), buffers


#: The workspace limit the bounded-memory cases run under.
BOUNDED_LIMIT = 16 * 2**20
#: Largest accepted (peak - outputs and gradients) / limit.
BOUNDED_TARGET = 1.1
# Each case's whole column matrix is 4-8x the limit (and the unchunked backward pass holds it twice).
BOUNDED_CASES = [
    BoundedCase("im2col: conv 64->64 3x3 p1 on 8x64x56x56", (8, 64, 56, 56), (64, 64, 3, 3),
                dict(padding=1, algorithm="im2col")),
    BoundedCase("grouped: 64->64 3x3 groups 4 p1 on 8x64x56x56", (8, 64, 56, 56), (64, 16, 3, 3),
                dict(padding=1, groups=4)),
    BoundedCase("depthwise: 64->64 3x3 groups 64 p1 on 8x64x56x56", (8, 64, 56, 56), (64, 1, 3, 3),
                dict(padding=1, groups=64)),
    BoundedCase("1-D: 64->64 k5 p2 on 8x64x4096", (8, 64, 4096), (64, 64, 5), dict(padding=2)),
    BoundedCase("3-D: 16->16 3x3x3 p1 on 2x16x16x56x56", (2, 16, 16, 56, 56), (16, 16, 3, 3, 3), dict(padding=1)),
    BoundedCase("reflect padding: 32->32 3x3 p1 on 4x32x112x112", (4, 32, 112, 112), (32, 32, 3, 3),
                dict(padding=1, padding_mode="reflect")),
    BoundedCase("one large image (auto): 32->32 3x3 p1 on 1x32x256x256", (1, 32, 256, 256), (32, 32, 3, 3),
                dict(padding=1)),
]
