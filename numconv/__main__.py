"""``python -m numconv ...``: the same as the ``numconv`` command."""

import sys

from .cli import main

sys.exit(main())
