"""``numconv explain``: a layer's arithmetic with the numbers filled in, or a model's receptive field.

::

    numconv explain conv2d --input 3x32x32 --out-channels 16 --kernel 5 --stride 1 --padding 2
    numconv explain maxpool2d --input 16x32x32 --kernel 2
    numconv explain upsample --input 8x14x14 --arg scale_factor=2 --arg mode=bilinear
    numconv explain --model lenet5
"""

from __future__ import annotations

import inspect

# Command-line flag -> constructor argument of the layer.
_FLAGS = {
    "out_channels": "out_channels", "out_features": "out_features", "kernel": "kernel_size", "stride": "stride",
    "padding": "padding", "dilation": "dilation", "groups": "groups", "bias": "bias", "ceil_mode": "ceil_mode",
    "output_padding": "output_padding",
}
# Arguments explain fills in from the input's shape.
_FROM_INPUT = ("in_channels", "in_features", "num_features", "num_channels")


def add_arguments(parser) -> None:
    parser.add_argument("layer", nargs="?", default=None,
                        help="conv1d, conv2d, conv3d, conv_transpose2d, maxpool1d/2d/3d, avgpool1d/2d/3d, linear, "
                        "batchnorm2d, ...")
    parser.add_argument("--model", default=None, help="explain a whole model instead: lenet5, simplecnn or vgg")
    parser.add_argument("--input", default=None, metavar="CxHxW",
                        help="shape of one sample, without the batch axis, e.g. 3x32x32")
    parser.add_argument("--out-channels", type=int, default=None, help="convolutions: C_out")
    parser.add_argument("--out-features", type=int, default=None, help="linear: output features")
    parser.add_argument("--kernel", default=None, metavar="K", help="kernel size: 5 or 5x3")
    parser.add_argument("--stride", default=None, metavar="S", help="stride: 2 or 2x1")
    parser.add_argument("--padding", default=None, metavar="P", help="padding: 2, 2x1, same or valid")
    parser.add_argument("--dilation", default=None, metavar="D", help="dilation: 1 or 2x2")
    parser.add_argument("--groups", type=int, default=None, help="convolutions: groups")
    parser.add_argument("--output-padding", default=None, metavar="OP",
                        help="transposed convolutions: pixels added to one side of the output: 1 or 1x0")
    parser.add_argument("--no-bias", dest="bias", action="store_const", const=False, default=None,
                        help="convolutions and linear: no bias")
    parser.add_argument("--ceil-mode", action="store_const", const=True, default=None,
                        help="pooling: round the output size up")
    parser.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                        help="any other argument of the layer, as its constructor names it, e.g. --arg "
                        "scale_factor=2 --arg mode=bilinear, --arg upscale_factor=2, --arg num_groups=4 (values "
                        "read as Python literals: 2, 1.5, (2, 3), True; other text as a string); repeatable")


def run(args) -> int:
    """Show a layer's shape, parameter and mult-add arithmetic, or a model's receptive field."""
    from ._shared import CLIError
    from ..tools.explain import explain, parse_shape

    if (args.layer is None) == (args.model is None):
        raise CLIError("name either a layer (e.g. numconv explain conv2d --input 3x32x32 ...) or --model NAME")
    try:
        input_shape = None if args.input is None else parse_shape(args.input, "--input")
    except ValueError as error:
        raise CLIError(str(error)) from None
    if args.model is not None:
        result = _explain_model(args, input_shape)
    else:
        if input_shape is None:
            raise CLIError(f"{args.layer} needs --input, the shape of one sample without the batch axis "
                           "(e.g. --input 3x32x32)")
        result = _explain_layer(args, input_shape)
    print(result)
    return 0


def _explain_model(args, input_shape):
    from ._shared import CLIError
    from ..models import DESCRIBE, MODELS, _canonical, available
    from ..tools._shapes import SpecMaker
    from ..tools.explain import explain
    from .summary import _fitting_kwargs

    used = [f"--{flag.replace('_', '-')}" for flag in _FLAGS if getattr(args, flag) is not None]
    used += ["--arg"] if args.arg else []
    if used:
        raise CLIError(f"{', '.join(used)} describe a single layer; with --model only --input applies")
    key = _canonical(args.model)
    if key is None:
        raise CLIError(f"unknown model {args.model!r}; available: {', '.join(available())}")
    try:
        if key in DESCRIBE:  # a large network: its shape-only description, no weights allocated
            describe, default_shape = DESCRIBE[key]
            result = explain(describe(SpecMaker(), **_fitting_kwargs(describe, input_shape)),
                             input_shape or default_shape)
            result.name = key
            return result
        return explain(MODELS[key](**_fitting_kwargs(MODELS[key], input_shape)), input_shape)
    except (ValueError, TypeError) as error:
        raise CLIError(str(error).splitlines()[0]) from None


def _explain_layer(args, input_shape):
    from ._shared import CLIError
    from ..tools._shapes import layer_class
    from ..tools.explain import explain

    try:
        cls = layer_class(args.layer)
    except ValueError as error:
        raise CLIError(str(error)) from None
    accepted = inspect.signature(cls).parameters
    kwargs = {}
    for flag, name in _FLAGS.items():
        value = getattr(args, flag)
        if value is None:
            continue
        if name not in accepted:
            raise CLIError(f"{args.layer} takes no --{flag.replace('_', '-')}")
        shaped = flag in ("kernel", "stride", "padding", "dilation", "output_padding")
        kwargs[name] = _tuple_value(value, flag) if shaped else value
    takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
    for text in args.arg:
        name, value = _named_value(text)
        if name not in accepted and not takes_any:
            choices = ", ".join(n for n, p in accepted.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
            raise CLIError(f"{args.layer} takes no argument {name!r} (--arg {text}); it takes {choices}")
        kwargs[name] = value
    missing = [name for name, p in accepted.items()
               if p.default is inspect.Parameter.empty and p.kind is not p.VAR_POSITIONAL
               and p.kind is not p.VAR_KEYWORD and name not in kwargs and name not in _FROM_INPUT]
    if missing:
        flags = {v: k for k, v in _FLAGS.items()}
        names = [f"--{flags[m].replace('_', '-')}" if m in flags else f"--arg {m}=..." for m in missing]
        raise CLIError(f"{args.layer} needs {' and '.join(names)}")
    try:
        return explain(args.layer, input_shape, **kwargs)
    except (ValueError, TypeError) as error:
        message = str(error).splitlines()[0]
        if not args.arg:
            message += " (give the layer's other arguments with --arg NAME=VALUE)"
        raise CLIError(message) from None


def _named_value(text: str):
    """``"scale_factor=2"`` -> ("scale_factor", 2); a value that is not a Python literal stays a string."""
    import ast

    from ._shared import CLIError

    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise CLIError(f"--arg: expected NAME=VALUE (e.g. --arg scale_factor=2), got {text!r}")
    try:
        return name.strip(), ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        return name.strip(), value.strip()


def _tuple_value(text: str, flag: str):
    """``"5"`` -> 5, ``"5x3"`` -> (5, 3), ``"same"``/``"valid"`` kept (padding only)."""
    from ._shared import CLIError
    from ..tools.explain import parse_shape

    if flag == "padding" and text in ("same", "valid"):
        return text
    try:
        values = parse_shape(text, f"--{flag}", "2 or 5x3")
    except ValueError as error:
        raise CLIError(str(error)) from None
    return values[0] if len(values) == 1 else values
