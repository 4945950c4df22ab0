"""``lazy_njit``: compile a kernel with numba on its first call, not at import.

Importing numba takes about half a second, so ``import numconv`` must not do
it. A function decorated with ``@lazy_njit`` is plain Python until it is
first called; then numba is imported and the function compiled (or loaded
from numba's on-disk cache, which ``cache=True`` keeps next to the source).

All kernels are single-threaded and compiled with ``nogil=True``: on a
2-core machine, numba's own thread pool next to OpenBLAS's oversubscribes
the cores and can run 5-10x slower. Parallelism, where it pays, comes from
splitting the batch over Python threads (see ``numconv.kernels.workers``).

Set ``NUMCONV_DISABLE_JIT=1`` to run every kernel as plain Python (slow, but
steppable in a debugger).
"""

from __future__ import annotations

import functools
import os

_DISABLED = os.environ.get("NUMCONV_DISABLE_JIT", "") not in ("", "0")


def lazy_njit(fn=None, **options):
    """Decorator: ``numba.njit(cache=True, nogil=True, **options)`` applied on first call."""
    if fn is None:
        return lambda f: lazy_njit(f, **options)
    options = {"cache": True, "nogil": True, **options}
    compiled = None

    @functools.wraps(fn)
    def wrapper(*args):
        nonlocal compiled
        if compiled is None:
            if _DISABLED:
                compiled = fn
            else:
                import numba

                _compile_helpers(fn.__globals__, numba)
                compiled = numba.njit(**options)(fn)
        return compiled(*args)

    wrapper.py_func = fn
    return wrapper


def jit_helper(fn):
    """Decorator: a small function that kernels call, compiled (inlined) with the first kernel that needs it.

    Until then it is plain Python, so importing its module stays cheap.
    """
    fn._numconv_jit_helper = True
    return fn


def _compile_helpers(namespace: dict, numba) -> None:
    """Replace the ``jit_helper`` functions of a kernel's module by their numba versions."""
    for name, value in list(namespace.items()):
        if getattr(value, "_numconv_jit_helper", False) and not hasattr(value, "py_func"):
            namespace[name] = numba.njit(inline="always", cache=True, nogil=True)(value)
