"""``numconv export CHECKPOINT MODEL.onnx``: a trained model as an ONNX file.

::

    numconv export runs/lenet5-sample/best.npz lenet5.onnx
    numconv export runs/vgg-sample/last.npz vgg.onnx --opset 18 --input 1x32x32
"""

from __future__ import annotations

import os


def add_arguments(parser) -> None:
    parser.add_argument("checkpoint", help="a .npz written by numconv train")
    parser.add_argument("output", help="the .onnx file to write")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("--input", default=None, metavar="CxHxW",
                        help="shape of one input without the batch axis (default: the model's own, e.g. 1x32x32)")


def run(args) -> int:
    """Write a checkpoint's model as an ONNX file (onnxruntime, Netron, ...)."""
    from ..cli import CLIError, _load_model
    from ..interop import to_onnx
    from ..tools.explain import parse_shape

    from ._shared import refuse_to_overwrite

    model, _ = _load_model(args.checkpoint)
    refuse_to_overwrite(args.output, "export", inputs=[args.checkpoint])
    import zipfile

    if args.output is not None and os.path.isfile(args.output) and zipfile.is_zipfile(args.output):
        raise CLIError(f"the output '{args.output}' is a .npz archive (a checkpoint?), not an ONNX file; write the "
                       "ONNX file under another name")
    if args.input is not None:
        try:
            sample = parse_shape(args.input, "--input")
        except ValueError as error:
            raise CLIError(str(error)) from None
    else:
        sample = getattr(model, "input_shape", None)
        if sample is None:
            raise CLIError("this model does not say what input it takes; pass --input CxHxW")
    try:
        path = to_onnx(model, (1, *sample), args.output, opset=args.opset)
    except ImportError as error:
        raise CLIError(str(error)) from None
    except ValueError as error:
        raise CLIError(str(error).splitlines()[0]) from None
    from ..interop import describe_onnx

    print(f"wrote {path}: {type(model).__name__}, input (N, {', '.join(map(str, sample))}), opset {args.opset}")
    print(describe_onnx(path))
    return 0
