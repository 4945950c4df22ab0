"""Memory after each of 20 LeNet-5 training epochs: does it stay flat? (see ``numconv.bench.memory_flat``).

Usage::

    python benchmarks/memory_flat.py                   # 20 epochs on 1,000 images of the bundled sample
    python benchmarks/memory_flat.py --epochs 5 --limit 256

Exit status 0 when memory stays flat, 1 when it grows.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from numconv.bench.memory_flat import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
