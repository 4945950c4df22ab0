"""``python -m benchmarks``: the numconv-against-PyTorch suite (see ``numconv.bench.suite``)."""

import os
import sys

# Benchmark the numconv of this source tree, wherever the command is run from.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from numconv.bench.suite import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
