"""``numconv exercises list`` and ``numconv exercises copy DIR``: the gradient-check exercises.

::

    numconv exercises list                      # every exercise, its file and its signature
    numconv exercises copy my-exercises         # copy the skeletons to start from
    numconv exercises copy my-exercises conv2d_backward im2col
    numconv check-exercise my-exercises/conv_backward.py
"""

from __future__ import annotations

from ._shared import CLIError, add_list_and_copy


def add_arguments(parser) -> None:
    copy = add_list_and_copy(parser, "exercises", "skeletons")
    copy.add_argument("names", nargs="*", metavar="NAME", help="only these exercises (default: all)")


def run(args) -> int:
    """List the gradient-check exercises, or copy their skeletons into a folder to start from."""
    from ..exercises import EXERCISES, copy_skeletons

    if args.action == "list":
        width = max(len(ex.skeleton) for ex in EXERCISES.values())
        for ex in EXERCISES.values():
            print(f"{ex.skeleton:<{width}}  {ex.title}\n{'':<{width}}  {ex.signature}")
        print("\nStart with: numconv exercises copy DIR")
        return 0
    unknown = [name for name in args.names if name not in EXERCISES]
    if unknown:
        raise CLIError(f"unknown exercise {', '.join(map(repr, unknown))}; the exercises are {', '.join(EXERCISES)}")
    try:
        copied = copy_skeletons(args.folder, args.names or None, overwrite=args.force)
    except FileExistsError as error:
        raise CLIError(str(error)) from None
    for path in copied:
        print(path)
    print(f"\n{len(copied)} skeleton{'s' if len(copied) != 1 else ''} copied. Fill in the TODOs, then run "
          f"`python {copied[0]}` or `numconv check-exercise {copied[0]}`.")
    return 0
