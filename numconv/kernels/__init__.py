"""numba-compiled hot loops.

Each kernel's docstring names the NumPy expression it equals; the tests hold
it to that expression and to ``numconv.reference``. Kernels are compiled
lazily (see ``_jit.lazy_njit``), so importing this package is cheap.
"""
