"""``numconv summary MODEL``: the layer table of a ready-made network.

::

    numconv summary lenet5
    numconv summary vgg --input 3x64x64 --batch-size 32 --depth 1
    numconv summary resnet34 --depth 2      # shape-only: the weights are never allocated

The large networks (``models.DESCRIBE``: AlexNet, ZFNet, VGG-11/16, ResNet-18/34)
are summarised from their shape-only description, as ``summary(specs,
run_forward=False)``; the others are built and run once.
"""

from __future__ import annotations

import inspect
import math


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a model name, e.g. lenet5, resnet8, alexnet (see numconv.models.available())")
    parser.add_argument("--input", default=None, metavar="CxHxW",
                        help="shape of one sample, without the batch axis (default: the model's own, "
                             "1x32x32 for lenet5)")
    parser.add_argument("--batch-size", type=int, default=1, help="batch axis of the input (default 1)")
    parser.add_argument("--depth", type=int, default=None,
                        help="show nesting levels down to this depth only (default: all)")
    parser.add_argument("--max-memory", type=float, default=4.0, metavar="GIB",
                        help="refuse inputs whose forward pass would need more memory than this (default 4 GiB)")


def run(args) -> int:
    """Print a model's layers with output shapes, parameters, mult-adds and memory."""
    from ._shared import CLIError
    from ..models import DESCRIBE, MODELS, _canonical, available
    from ..tools.explain import parse_shape
    from ..tools.summary import summary

    key = _canonical(args.model)
    if key is None:
        raise CLIError(f"unknown model {args.model!r}; available: {', '.join(available())}")
    if args.batch_size < 1:
        raise CLIError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.depth is not None and args.depth < 0:
        raise CLIError(f"--depth must be 0 or more, got {args.depth}")
    input_size = None
    if args.input is not None:
        try:
            input_size = parse_shape(args.input, "--input")
        except ValueError as error:
            raise CLIError(str(error)) from None
    if args.max_memory <= 0:
        raise CLIError(f"--max-memory must be positive, got {args.max_memory}")
    if key in DESCRIBE:
        return _run_shape_only(key, input_size, args)
    try:
        model = MODELS[key](**_fitting_kwargs(MODELS[key], input_size))
        _check_memory(model, input_size, args.batch_size, args.max_memory)
        summary(model, input_size, batch_size=args.batch_size, depth=args.depth)
    except (ValueError, TypeError) as error:
        raise CLIError(str(error).splitlines()[0]) from None
    return 0


def _run_shape_only(key: str, input_size, args) -> int:
    """Summarise a large network from its description: shapes worked out, no weights allocated."""
    from ._shared import CLIError
    from ..models import DESCRIBE
    from ..tools._shapes import SpecMaker
    from ..tools.summary import summary

    describe, default_shape = DESCRIBE[key]
    try:
        specs = describe(SpecMaker(), **_fitting_kwargs(describe, input_size))
        summary(specs, input_size or default_shape, batch_size=args.batch_size, depth=args.depth)
    except (ValueError, TypeError) as error:
        raise CLIError(str(error).splitlines()[0]) from None
    return 0


def _check_memory(model, input_size, batch_size: int, max_gib: float) -> None:
    """Refuse, before running it, a forward pass whose arrays would take more than ``max_gib`` GiB.

    The estimate is summary's shape-only arithmetic (no forward pass): the
    input, every layer's output and the largest im2col buffer. A model that
    arithmetic cannot follow (one with its own ``forward``) is measured on
    one sample instead, and the arrays scaled by the batch size (they all
    have the batch axis); failing that, estimated from its input alone.
    """
    from ._shared import CLIError
    from ..tools.summary import summary

    shape = input_size if input_size is not None else getattr(model, "input_shape", None)
    if shape is None:
        return
    needed = 4 * batch_size * math.prod(shape)
    if needed <= max_gib * 2**30:  # (the input alone fits: worth a closer look)
        try:
            estimate = summary(model, shape, batch_size=batch_size, run_forward=False, print_table=False)
            needed = estimate.input_bytes + estimate.activation_bytes + estimate.max_im2col_bytes
        except (TypeError, ValueError):
            if batch_size > 1:  # one sample is a fraction of the run asked for (with one, it is the run)
                try:
                    one = summary(model, shape, batch_size=1, print_table=False)
                    needed = batch_size * (one.input_bytes + one.activation_bytes + one.max_im2col_bytes)
                except (TypeError, ValueError):
                    pass  # the forward pass will name the problem itself
    if needed > max_gib * 2**30:
        raise CLIError(f"a forward pass with input {batch_size} x {' x '.join(map(str, shape))} would need about "
                       f"{needed / 2**30:,.1f} GiB, more than the limit of {max_gib:g} GiB (--max-memory)")


def _fitting_kwargs(cls, input_size) -> dict:
    """Constructor arguments that fit a model to a ``(C, H, W)`` input, where it takes them: its channels,
    and for a square input its ``input_size`` (models sized by one side; a non-square input keeps the
    default, which models ending in an adaptive pool do not need)."""
    if input_size is None or len(input_size) != 3:
        return {}
    accepted = inspect.signature(cls).parameters
    kwargs = {}
    if "in_channels" in accepted:
        kwargs["in_channels"] = input_size[0]
    if "input_size" in accepted and input_size[1] == input_size[2]:
        kwargs["input_size"] = input_size[1]
    return kwargs
