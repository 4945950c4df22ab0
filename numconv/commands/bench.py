"""``numconv bench``: time numconv against PyTorch on the benchmark workloads W1-W12."""

from __future__ import annotations


def add_arguments(parser) -> None:
    from ..bench.suite import add_arguments as suite_arguments

    suite_arguments(parser)


def run(args) -> int:
    """Time numconv against PyTorch (W1-W12: convolutions, pooling, batch norm, training steps, float64
    convolutions, transposed convolution and upsampling)."""
    from ..bench.suite import check_json_path, parse_only, run_suite
    from ._shared import CLIError

    try:
        only = parse_only(args.only)
        check_json_path(args.json)
    except ValueError as error:
        raise CLIError(str(error)) from None
    if args.repeat is not None and args.repeat < 1:
        raise CLIError(f"--repeat must be at least 1, got {args.repeat}")
    run_suite(quick=args.quick, only=only, repeat=args.repeat, json_path=args.json, use_torch=not args.no_torch,
              measure_memory=not args.no_memory, measure_startup=not args.no_startup, allocator=args.allocator,
              native_blas=args.native_blas, threads=args.threads)
    return 0
