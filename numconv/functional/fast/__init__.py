"""The fast convolution algorithms, beside the readable im2col path.

``numconv.functional.conv`` runs every convolution; a learner reads it and
``numconv.functional.im2col`` first. The algorithms here compute the same
numbers faster for the layers they apply to:

- ``winograd``: Winograd F(2x2, 3x3) for 3 x 3 stride-1 layers (``winograd4``: F(4x4, 3x3);
  ``winograd_cl``: F(2x2, 3x3) computed channels-last, for small maps);
- ``rowslab``: a row-slab implicit GEMM for 2-D layers with one group;
- ``choice``: the registry of algorithms and the ``"auto"`` rule that picks one.

Their numba kernels are in ``numconv.kernels`` (``winograd``, ``winograd4``, ``winograd_cl``, ``conv_rowslab``).
"""
