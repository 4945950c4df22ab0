"""``numconv summary MODEL``: the layer table of a ready-made network.

::

    numconv summary lenet5
    numconv summary vgg --input 3x64x64 --batch-size 32 --depth 1
"""

from __future__ import annotations

import inspect


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a model name: lenet5, simplecnn or vgg (see numconv.models.available())")
    parser.add_argument("--input", default=None, metavar="CxHxW",
                        help="shape of one sample, without the batch axis (default: the model's own, "
                             "1x32x32 for lenet5)")
    parser.add_argument("--batch-size", type=int, default=1, help="batch axis of the input (default 1)")
    parser.add_argument("--depth", type=int, default=None,
                        help="show nesting levels down to this depth only (default: all)")


def run(args) -> int:
    """Print a model's layers with output shapes, parameters, mult-adds and memory."""
    from ..cli import CLIError
    from ..models import MODELS, _canonical, available
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
    model = MODELS[key](**_fitting_kwargs(MODELS[key], input_size))
    try:
        summary(model, input_size, batch_size=args.batch_size, depth=args.depth)
    except (ValueError, TypeError) as error:
        raise CLIError(str(error).splitlines()[0]) from None
    return 0


def _fitting_kwargs(cls, input_size) -> dict:
    """Constructor arguments that size a model for a square ``(C, S, S)`` input, where it takes them."""
    if input_size is None or len(input_size) != 3 or input_size[1] != input_size[2]:
        return {}
    accepted = inspect.signature(cls).parameters
    kwargs = {}
    if "in_channels" in accepted:
        kwargs["in_channels"] = input_size[0]
    if "input_size" in accepted:
        kwargs["input_size"] = input_size[1]
    return kwargs
