"""A gradient check of every built-in layer: the registry behind ``numconv gradcheck``.

Each ``LayerCase`` is one small, representative configuration of a layer
class of ``numconv.nn`` with inputs drawn so that finite differences are
meaningful:

- piecewise functions (ReLU-like activations, hard tanh, L1 losses) get
  inputs at least ``MARGIN`` away from their kinks, since a centered
  difference across a kink measures neither side's slope;
- max-type layers (max pooling, maxout) get distinct values spaced ``0.1``
  apart, so that moving one input by ``eps`` never changes which one wins;
- dropout runs in training mode with one fixed mask (``gradcheck`` restores
  the random state before every forward pass);
- normalisation layers run in training mode (the harder backward, through
  the batch statistics);
- a loss is checked with respect to its first input (the prediction).

::

    from numconv.tools.gradcheck_suite import run_cases, select
    for case, report, notes in run_cases(select(["conv2d"])):
        print(case.layer, case.config, report.passed)
"""

from __future__ import annotations

import difflib
import inspect
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .gradcheck import GradcheckWarning, gradcheck

__all__ = ["LayerCase", "CASES", "MARGIN", "select", "run_case", "run_cases", "exported_layers",
           "NOT_CHECKED"]

MARGIN = 0.05  # distance kept from a kink; far above any finite-difference step


@dataclass(frozen=True)
class LayerCase:
    """One configuration of one layer.

    Attributes
    ----------
    layer : str
        The class name in ``numconv.nn`` (``"Conv2d"``).
    config : str
        What is special about this configuration, for the table.
    make : callable
        ``make() -> Module``, called after ``numconv.manual_seed(seed)``.
    inputs : callable
        ``inputs(rng) -> tuple`` of the forward's positional arguments.
    """

    layer: str
    config: str
    make: Callable
    inputs: Callable


# ------------------------------------------------------------------------------ input makers
def normal(*shape) -> Callable:
    """Standard normal values of ``shape``."""
    return lambda rng: (rng.standard_normal(shape),)


def away_from(kinks, *shape, scale: float = 1.0) -> Callable:
    """Normal values times ``scale``, each moved at least ``MARGIN`` away from every kink."""
    def make(rng):
        x = rng.standard_normal(shape) * scale
        for kink in kinks:
            near = np.abs(x - kink) < MARGIN
            x[near] = kink + np.where(x[near] >= kink, 2 * MARGIN, -2 * MARGIN)
        return (x,)
    return make


def distinct(*shape) -> Callable:
    """A random permutation of ``0.1 * (k - size / 2)``: no ties, gaps of 0.1."""
    def make(rng):
        size = int(np.prod(shape))
        return ((rng.permutation(size) - size / 2).reshape(shape) * 0.1,)
    return make


def unpool_inputs(nd: int, spatial: tuple) -> Callable:
    """``(pooled, indices)`` from a non-overlapping max pooling of distinct values (unique indices)."""
    def make(rng):
        from .. import nn

        (x,) = distinct(2, 2, *spatial)(rng)
        return tuple(getattr(nn, f"MaxPool{nd}d")(2, return_indices=True)(x))
    return make


def with_target(prediction: Callable, target: Callable) -> Callable:
    """``(prediction, target)`` with ``target(rng, prediction)``."""
    def make(rng):
        (x,) = prediction(rng)
        return x, target(rng, x)
    return make


def _classes(rng, x):
    return rng.integers(0, x.shape[1], size=(x.shape[0],) + x.shape[2:])


def _probabilities(rng, x):
    p = rng.uniform(0.1, 1.0, size=x.shape)
    return p / p.sum(axis=1, keepdims=True)


def _offset_from(kinks):
    """A regression target ``t`` with ``x - t`` at least ``MARGIN`` away from each kink (and its negative)."""
    def target(rng, x):
        (diff,) = away_from([k for kink in kinks for k in (kink, -kink)], *x.shape)(rng)
        return x - diff
    return target


def _nn():
    from .. import nn

    return nn


def layer(name: str, config: str, inputs: Callable, **kwargs) -> LayerCase:
    """A case that builds ``nn.<name>(**kwargs)``."""
    return LayerCase(name, config, lambda: getattr(_nn(), name)(**kwargs), inputs)


def _conv_bn_chain():
    nn = _nn()
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.Tanh(), nn.AvgPool2d(2))


def _residual():
    nn = _nn()
    return nn.Residual(nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.Tanh()), nn.Conv2d(2, 2, 1))


def _parallel(merge):
    def make():
        nn = _nn()
        return nn.Parallel(nn.Conv2d(2, 3, 1), nn.Sequential(nn.Tanh(), nn.Conv2d(2, 3, 3, padding=1)), merge=merge)
    return make


# ------------------------------------------------------------------------------ the registry
CASES = [
    # convolutions
    layer("Conv1d", "k=3 stride=2 padding=1", normal(2, 3, 9), in_channels=3, out_channels=4, kernel_size=3,
          stride=2, padding=1),
    layer("Conv1d", "k=2 dilation=2 groups=2 circular", normal(2, 4, 7), in_channels=4, out_channels=2,
          kernel_size=2, dilation=2, groups=2, padding=1, padding_mode="circular"),
    layer("Conv2d", "k=3 padding=1", normal(2, 2, 5, 5), in_channels=2, out_channels=3, kernel_size=3, padding=1),
    layer("Conv2d", "k=(3,2) stride=(2,1) padding=(1,0)", normal(2, 2, 6, 5), in_channels=2, out_channels=3,
          kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)),
    layer("Conv2d", "k=2 dilation=2 groups=2 no bias", normal(1, 4, 6, 6), in_channels=4, out_channels=6,
          kernel_size=2, dilation=2, groups=2, bias=False),
    layer("Conv2d", "depthwise k=3 padding='same' reflect", normal(2, 3, 5, 4), in_channels=3, out_channels=3,
          kernel_size=3, groups=3, padding="same", padding_mode="reflect"),
    layer("Conv3d", "k=2 stride=(1,2,1) padding=1", normal(1, 2, 3, 4, 3), in_channels=2, out_channels=2,
          kernel_size=2, stride=(1, 2, 1), padding=1),
    layer("ConvTranspose1d", "k=3 stride=2 padding=1 output_padding=1", normal(2, 3, 5), in_channels=3,
          out_channels=2, kernel_size=3, stride=2, padding=1, output_padding=1),
    layer("ConvTranspose2d", "k=3 stride=2 padding=1 output_padding=1", normal(2, 2, 3, 4), in_channels=2,
          out_channels=3, kernel_size=3, stride=2, padding=1, output_padding=1),
    layer("ConvTranspose2d", "k=2 dilation=2 groups=2 output_padding=1 no bias", normal(1, 4, 3, 3), in_channels=4,
          out_channels=2, kernel_size=2, dilation=2, groups=2, output_padding=1, bias=False),
    layer("ConvTranspose3d", "k=2 stride=2", normal(1, 2, 2, 3, 2), in_channels=2, out_channels=2, kernel_size=2,
          stride=2),
    # resizing and padding
    layer("Upsample", "nearest x2", normal(2, 2, 3, 3), scale_factor=2),
    layer("Upsample", "nearest-exact 5 -> 7", normal(2, 2, 5), size=7, mode="nearest-exact"),
    layer("Upsample", "linear x1.5", normal(2, 2, 4), scale_factor=1.5, mode="linear"),
    layer("Upsample", "bilinear x2", normal(1, 2, 3, 4), scale_factor=2, mode="bilinear"),
    layer("Upsample", "trilinear to 3x5x2, align_corners", normal(1, 1, 2, 3, 3), size=(3, 5, 2), mode="trilinear",
          align_corners=True),
    layer("UpsamplingNearest2d", "x3", normal(1, 2, 2, 3), scale_factor=3),
    layer("UpsamplingBilinear2d", "x2 (align_corners)", normal(1, 2, 3, 3), scale_factor=2),
    layer("PixelShuffle", "r=2", normal(2, 8, 2, 3), upscale_factor=2),
    layer("PixelUnshuffle", "r=2", normal(2, 2, 4, 6), downscale_factor=2),
    *[layer(f"{kind}Pad{n}d", f"padding={padding}", normal(2, 2, *(4, 5, 3)[:n]), padding=padding)
      for n, padding in ((1, (2, 1)), (2, (1, 2, 2, 0)), (3, 1))
      for kind in ("Zero", "Reflection", "Replication", "Circular")],
    *[layer(f"ConstantPad{n}d", f"padding={padding} value=0.5", normal(2, 2, *(4, 5, 3)[:n]), padding=padding,
            value=0.5) for n, padding in ((1, (2, -1)), (2, 1), (3, (1, 0, 0, 1, 1, 1)))],
    # pooling
    layer("MaxPool1d", "k=3 stride=2 padding=1", distinct(2, 2, 9), kernel_size=3, stride=2, padding=1),
    layer("MaxPool2d", "k=2", distinct(2, 2, 4, 4), kernel_size=2),
    layer("MaxPool2d", "k=3 stride=2 padding=1 ceil_mode", distinct(1, 2, 6, 7), kernel_size=3, stride=2,
          padding=1, ceil_mode=True),
    layer("MaxPool2d", "k=2 dilation=2 overlapping", distinct(1, 2, 6, 6), kernel_size=2, stride=1, dilation=2),
    layer("MaxPool3d", "k=2", distinct(1, 2, 4, 4, 4), kernel_size=2),
    layer("AvgPool1d", "k=3 stride=2 padding=1", normal(2, 2, 8), kernel_size=3, stride=2, padding=1),
    layer("AvgPool2d", "k=3 stride=2 padding=1 ceil_mode, count_include_pad=False", normal(1, 2, 6, 7),
          kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    layer("AvgPool2d", "k=2 divisor_override=3", normal(2, 2, 4, 4), kernel_size=2, divisor_override=3),
    layer("AvgPool3d", "k=2 stride=1", normal(1, 2, 3, 3, 3), kernel_size=2, stride=1),
    layer("AdaptiveAvgPool1d", "7 -> 3", normal(2, 2, 7), output_size=3),
    layer("AdaptiveAvgPool2d", "5x7 -> 3x4", normal(1, 2, 5, 7), output_size=(3, 4)),
    layer("AdaptiveAvgPool3d", "3x4x5 -> 2x2x3", normal(1, 2, 3, 4, 5), output_size=(2, 2, 3)),
    layer("AdaptiveMaxPool1d", "7 -> 3", distinct(2, 2, 7), output_size=3),
    layer("AdaptiveMaxPool2d", "5x7 -> 3x4", distinct(1, 2, 5, 7), output_size=(3, 4)),
    layer("AdaptiveMaxPool3d", "3x4x5 -> 2x2x3", distinct(1, 2, 3, 4, 5), output_size=(2, 2, 3)),
    layer("MaxUnpool1d", "k=2", unpool_inputs(1, (8,)), kernel_size=2),
    layer("MaxUnpool2d", "k=2", unpool_inputs(2, (4, 6)), kernel_size=2),
    layer("MaxUnpool3d", "k=2", unpool_inputs(3, (4, 4, 2)), kernel_size=2),
    # normalisation (training mode: the gradient flows through the batch statistics)
    layer("BatchNorm1d", "train, (N, C)", normal(6, 3), num_features=3),
    layer("BatchNorm1d", "train, (N, C, L)", normal(3, 2, 4), num_features=2),
    layer("BatchNorm2d", "train", normal(2, 3, 3, 3), num_features=3),
    layer("BatchNorm2d", "train, affine=False", normal(3, 2, 2, 3), num_features=2, affine=False),
    layer("BatchNorm3d", "train", normal(2, 2, 2, 3, 2), num_features=2),
    layer("InstanceNorm1d", "train, affine", normal(2, 3, 5), num_features=3, affine=True),
    layer("InstanceNorm2d", "train, affine", normal(2, 2, 3, 4), num_features=2, affine=True),
    layer("InstanceNorm3d", "train", normal(2, 2, 2, 3, 2), num_features=2),
    layer("LayerNorm", "normalized_shape=(3, 4)", normal(2, 2, 3, 4), normalized_shape=(3, 4)),
    layer("GroupNorm", "2 groups of 2 channels", normal(2, 4, 3, 2), num_groups=2, num_channels=4),
    layer("LocalResponseNorm", "size=3", normal(2, 5, 3, 2), size=3, alpha=0.5, beta=0.75, k=1.0),
    # activations
    layer("ReLU", "away from 0", away_from([0], 3, 8)),
    layer("ReLU6", "away from 0 and 6", away_from([0, 6], 3, 8, scale=4)),
    layer("LeakyReLU", "slope 0.1, away from 0", away_from([0], 3, 8), negative_slope=0.1),
    layer("PReLU", "one slope per channel", away_from([0], 2, 3, 4), num_parameters=3),
    layer("ELU", "alpha=1.5, away from 0", away_from([0], 3, 8), alpha=1.5),
    layer("SELU", "away from 0", away_from([0], 3, 8)),
    layer("CELU", "alpha=0.7, away from 0", away_from([0], 3, 8), alpha=0.7),
    layer("GELU", "exact", normal(3, 8)),
    layer("GELU", "tanh approximation", normal(3, 8), approximate="tanh"),
    layer("SiLU", "", normal(3, 8)),
    layer("Mish", "", normal(3, 8)),
    layer("Sigmoid", "", normal(3, 8)),
    layer("Tanh", "", normal(3, 8)),
    layer("Hardtanh", "[-0.5, 1], away from the edges", away_from([-0.5, 1], 3, 8), min_val=-0.5, max_val=1.0),
    layer("Hardsigmoid", "away from -3 and 3", away_from([-3, 3], 3, 8, scale=3)),
    layer("Hardswish", "away from -3 and 3", away_from([-3, 3], 3, 8, scale=3)),
    layer("Softplus", "beta=2", normal(3, 8), beta=2.0),
    layer("Softsign", "", normal(3, 8)),
    layer("Threshold", "threshold=0.1 value=20, away from 0.1", away_from([0.1], 3, 8), threshold=0.1, value=20.0),
    layer("Softmax", "dim=1", normal(3, 5, 2), dim=1),
    layer("LogSoftmax", "dim=-1", normal(3, 5), dim=-1),
    layer("Softmin", "dim=1", normal(3, 5), dim=1),
    layer("Maxout", "pool_size=3", distinct(2, 6, 2, 2), pool_size=3),
    layer("Step", "zero gradient everywhere", away_from([0], 3, 4)),
    # dropout (training mode, one fixed mask)
    layer("Dropout", "p=0.3", normal(2, 3, 4), p=0.3),
    layer("Dropout1d", "p=0.3", normal(3, 4, 5), p=0.3),
    layer("Dropout2d", "p=0.3", normal(2, 4, 3, 3), p=0.3),
    layer("Dropout3d", "p=0.3", normal(2, 3, 2, 2, 2), p=0.3),
    layer("AlphaDropout", "p=0.3", normal(2, 3, 4), p=0.3),
    layer("FeatureAlphaDropout", "p=0.3", normal(3, 4, 2), p=0.3),
    # linear and shape layers
    layer("Linear", "6 -> 4", normal(3, 6), in_features=6, out_features=4),
    layer("Linear", "6 -> 4, no bias, (2, 3, 6) input", normal(2, 3, 6), in_features=6, out_features=4, bias=False),
    layer("Flatten", "start_dim=1", normal(2, 3, 2, 2)),
    layer("Unflatten", "dim=1 -> (2, 3)", normal(2, 6), dim=1, unflattened_size=(2, 3)),
    layer("Identity", "", normal(2, 3)),
    LayerCase("Sequential", "Conv2d -> BatchNorm2d (train) -> Tanh -> AvgPool2d", _conv_bn_chain,
              normal(2, 2, 4, 4)),
    # where branches meet
    layer("Add", "three inputs, (2, 3, 4) + (3, 1) + (4,) broadcast",
          lambda rng: (rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 1)), rng.standard_normal(4))),
    layer("Cat", "dim=1, (2, 2, 3) and (2, 4, 3)",
          lambda rng: (rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 4, 3))), dim=1),
    LayerCase("Residual", "body Conv2d -> Tanh, shortcut Conv2d 1x1", _residual, normal(2, 2, 4, 4)),
    LayerCase("Parallel", "merge='cat': Conv2d 1x1 | Tanh -> Conv2d 3x3", _parallel("cat"), normal(2, 2, 4, 4)),
    LayerCase("Parallel", "merge='add'", _parallel("add"), normal(2, 2, 4, 4)),
    # losses, w.r.t. their first input
    layer("CrossEntropyLoss", "mean, class indices", with_target(normal(4, 5), _classes)),
    layer("CrossEntropyLoss", "sum, (N, C, d) logits, label_smoothing=0.1",
          with_target(normal(2, 4, 3), _classes), reduction="sum", label_smoothing=0.1),
    layer("CrossEntropyLoss", "mean, class probabilities", with_target(normal(4, 5), _probabilities)),
    layer("NLLLoss", "mean, log-probabilities", with_target(normal(4, 5), _classes)),
    layer("BCELoss", "mean", with_target(lambda rng: (rng.uniform(0.05, 0.95, (3, 4)),),
                                         lambda rng, x: rng.uniform(0, 1, x.shape))),
    layer("BCEWithLogitsLoss", "sum", with_target(normal(3, 4), lambda rng, x: rng.uniform(0, 1, x.shape)),
          reduction="sum"),
    layer("MSELoss", "mean", with_target(normal(3, 4), lambda rng, x: rng.standard_normal(x.shape))),
    layer("L1Loss", "mean, away from x == target", with_target(normal(3, 4), _offset_from([0]))),
    layer("SmoothL1Loss", "beta=0.5, away from |x - t| == beta", with_target(normal(3, 4), _offset_from([0.5])),
          beta=0.5),
    layer("HuberLoss", "delta=0.5, away from |x - t| == delta", with_target(normal(3, 4), _offset_from([0.5])),
          delta=0.5),
    layer("KLDivLoss", "batchmean, log-probability input",
          with_target(lambda rng: (np.log(_probabilities(rng, np.empty((3, 4)))),), _probabilities),
          reduction="batchmean"),
]

# Exported Module subclasses with a backward that need no case of their own:
# containers, whose backward only chains their children's (the Sequential case
# above checks the chaining anyway).
NOT_CHECKED = {"ModuleList", "ModuleDict"}


def exported_layers() -> list:
    """Names of the ``Module`` subclasses ``numconv.nn`` exports that implement ``backward``."""
    nn = _nn()
    names = getattr(nn, "__all__", None) or [n for n in dir(nn) if not n.startswith("_")]
    found = []
    for name in names:
        obj = getattr(nn, name)
        if inspect.isclass(obj) and issubclass(obj, nn.Module) and obj.backward is not nn.Module.backward:
            found.append(name)
    return sorted(found)


def select(names=None) -> list:
    """The cases of the layers named (case-insensitive class names), all cases if ``names`` is empty.

    Raises
    ------
    ValueError
        A name matches no registered layer (the message lists the known ones).
    """
    if not names:
        return list(CASES)
    known = {case.layer.lower(): case.layer for case in CASES}
    unknown = [n for n in names if n.lower() not in known]
    if unknown:
        guesses = difflib.get_close_matches(unknown[0].lower(), list(known), n=3)
        hint = f" (did you mean {', '.join(known[g] for g in guesses)}?)" if guesses else ""
        raise ValueError(f"no gradient check registered for {', '.join(map(repr, unknown))}{hint}; "
                         "'numconv gradcheck --list' shows them all")
    wanted = {n.lower() for n in names}
    return [case for case in CASES if case.layer.lower() in wanted]


def run_case(case: LayerCase, seed: int = 0, **options):
    """Gradient-check one case in float64.

    Returns
    -------
    report : GradcheckReport
    notes : list of str
        The ``GradcheckWarning`` messages (tensors whose gradient is ~0).
    """
    from .. import _random

    _random.manual_seed(seed)
    module = case.make().double()
    module.train()
    inputs = case.inputs(np.random.default_rng(seed))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GradcheckWarning)
        report = gradcheck(module, *inputs, seed=seed, label=case.layer, **options)
    notes = [str(w.message) for w in caught if issubclass(w.category, GradcheckWarning)]
    return report, notes


def run_cases(cases, seed: int = 0, **options):
    """Yield ``(case, report, notes)`` for each case (see ``run_case``)."""
    for case in cases:
        report, notes = run_case(case, seed, **options)
        yield case, report, notes
