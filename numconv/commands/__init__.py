"""Subcommands of the ``numconv`` command that drive the teaching and benchmark tools.

Each module here defines ``add_arguments(parser)`` and ``run(args) -> exit status``
(the first line of ``run``'s docstring is the help text); ``numconv.cli``
finds them by name, so adding a command is adding a file. A module named
``check_exercise`` is the command ``check-exercise``. Keep imports of heavy
packages (matplotlib, Pillow, torch) inside ``run``.
"""
