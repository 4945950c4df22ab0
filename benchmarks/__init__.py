"""Benchmarks for numconv, run from the repository root.

``python -m benchmarks [--quick] [--only W3,W6] [--repeat N] [--json out.json]``
runs the suite, which lives in ``numconv.bench`` so that an installed numconv
has it too (``numconv bench`` takes the same options). Also here:

* ``benchmarks/train_lenet5.py``: LeNet-5 trained by numconv and by PyTorch, epoch by epoch;
* ``benchmarks/memory_flat.py``: memory after each of 20 training epochs.
"""
