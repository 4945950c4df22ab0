"""``numconv report RUN_DIR``: one self-contained HTML page about a training run.

::

    numconv train --out runs/demo
    numconv report runs/demo                 # writes runs/demo/report.html
    numconv report runs/demo -o demo.html --checkpoint best.npz
"""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by numconv train")
    parser.add_argument("-o", "--output", default=None, help="where to write the page (default RUN_DIR/report.html)")
    parser.add_argument("--checkpoint", default="last.npz",
                        help="which checkpoint of the run shows the model (default last.npz)")


def run(args) -> int:
    """Write an HTML page with a training run's history, test results, filters, feature maps and summary."""
    import os

    from ._shared import CLIError
    from ..tools.report import write_report

    if not os.path.isdir(args.run_dir):
        raise CLIError(f"'{args.run_dir}' is not a folder (give the --out folder of a numconv train run)")
    from ._shared import refuse_to_overwrite

    checkpoint = args.checkpoint if os.path.isabs(args.checkpoint or "") else \
        os.path.join(args.run_dir, args.checkpoint or "last.npz")
    refuse_to_overwrite(args.output, "report", inputs=[checkpoint], keep_unless_suffix=(".html", ".htm"),
                        within=args.run_dir)
    try:
        path = write_report(args.run_dir, args.output, args.checkpoint)
    except ValueError as error:
        raise CLIError(str(error).splitlines()[0]) from None
    print(f"wrote {path} ({os.path.getsize(path) / 1e3:,.0f} kB, self-contained: open it in any browser)")
    return 0
