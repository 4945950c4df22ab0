"""``numconv gradcheck [LAYER ...]``: check every built-in layer's backward with finite differences.

::

    numconv gradcheck                 # every registered configuration of every layer
    numconv gradcheck conv2d maxpool2d
    numconv gradcheck --list

The configurations live in ``numconv.tools.gradcheck_suite``; this module
only parses arguments and prints the table.
"""

from __future__ import annotations

import math

from ._shared import CLIError


def add_arguments(parser) -> None:
    parser.add_argument("layers", nargs="*", metavar="LAYER",
                        help="layer class names, any case (default: every registered layer)")
    parser.add_argument("--list", action="store_true", help="list the registered configurations and exit")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the weights, the inputs and the upstream gradient (default 0)")
    parser.add_argument("--dtype", default="float64", choices=["float64"],
                        help="finite differences need float64; the only choice")
    parser.add_argument("--eps", type=float, default=1e-6, help="finite-difference step (default 1e-6)")
    parser.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance (default 1e-6)")


def run(args) -> int:
    """Check every built-in layer's backward against finite differences (float64)."""
    from ..tools.gradcheck_suite import run_case, select

    if args.seed < 0:
        raise CLIError(f"--seed must be non-negative, got {args.seed}")
    if not (0 < args.eps < math.inf and 0 < args.rtol < math.inf):
        raise CLIError(f"--eps and --rtol must be positive and finite, got {args.eps} and {args.rtol}")
    try:
        cases = select(args.layers)
    except ValueError as error:
        raise CLIError(str(error)) from None

    if args.list:
        width = max(len(case.layer) for case in cases)
        for case in cases:
            print(f"{case.layer:<{width}}  {case.config}")
        return 0

    layer_w = max(len(case.layer) for case in cases)
    config_w = min(max(len(case.config) for case in cases), 48)
    header = f"{'layer':<{layer_w}}  {'configuration':<{config_w}}  {'tensor':<12} {'max rel err':>11}  result"
    print(f"numconv gradcheck: {len(cases)} configurations, {args.dtype}, eps={args.eps:g}, "
          f"tolerance {args.rtol:g} relative, seed {args.seed}")
    print(header)
    print("-" * len(header))
    failed, notes = [], []
    for case in cases:
        try:
            report, warned = run_case(case, args.seed, eps=args.eps, rtol=args.rtol)
        except Exception as error:  # a layer that raises is a failure to report, not a crash
            print(f"{case.layer:<{layer_w}}  {_fit(case.config, config_w):<{config_w}}  {'-':<12} {'-':>11}  "
                  f"ERROR {type(error).__name__}: {error}")
            failed.append(case)
            continue
        for i, check in enumerate(report.checks):
            layer_text = case.layer if i == 0 else ""
            config_text = _fit(case.config, config_w) if i == 0 else ""
            result = "ok" if check.passed else "FAIL"
            if check.vanishing:
                result += " (gradient ~0: within noise)"
            if not check.passed:
                result += (f"  at {check.worst_index}: analytic {check.analytic:.6g}, "
                           f"numeric {check.numeric:.6g}")
            print(f"{layer_text:<{layer_w}}  {config_text:<{config_w}}  {check.name:<12} "
                  f"{check.max_rel_error:>11.2e}  {result}")
        if not report.passed:
            failed.append(case)
        notes += warned
    print("-" * len(header))
    if failed:
        print(f"FAILED: {len(failed)} of {len(cases)} configurations: "
              + ", ".join(sorted({f'{c.layer} ({c.config})' for c in failed})))
        return 1
    print(f"all {len(cases)} configurations passed")
    if notes:
        print("note: a gradient marked ~0 is exactly zero in theory (e.g. Step, or a bias feeding a batch "
              "norm); finite differences cannot tell right from wrong there")
    return 0


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."
