"""numconv's benchmark suite: numconv against PyTorch, side by side, in one process.

The suite ships inside the package so that ``numconv bench`` works from any
installation (``pip install numconv``, not only a source checkout); the
repository's ``python -m benchmarks`` is a thin entry point to the same code.

* ``workloads``: the cases W1-W13 and their targets;
* ``steps``: the training step W8 and W10 time, on each side;
* ``conditions``: the timing process's fair conditions (allocator state, BLAS kernel), set and reported;
* ``timing``: alternating, paused, warmed-up timing and the GEMM-peak probe;
* ``memory``: peak memory of one call, each side in its own subprocess;
* ``startup``: ``import numconv`` and first-kernel-call times in fresh processes;
* ``suite``: runs it all and prints the tables (``run_suite``, ``main``);
* ``memory_flat``: trains LeNet-5 for 20 epochs and checks memory stays flat.

Nothing here is imported by ``import numconv``.
"""

from .suite import add_arguments, main, run_suite

__all__ = ["add_arguments", "main", "run_suite"]
