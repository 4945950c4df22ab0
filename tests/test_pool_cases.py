"""Shared helpers of the pooling tests (strategies, tie-free inputs); holds no tests itself."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from numconv.reference import pool as ref

TORCH_MAX = {1: "max_pool1d", 2: "max_pool2d", 3: "max_pool3d"}
TORCH_AVG = {1: "avg_pool1d", 2: "avg_pool2d", 3: "avg_pool3d"}


def span(k, d):
    return d * (k - 1) + 1


@st.composite
def window_case(draw, nd, dilation=True, max_kernel=3, max_extra=5):
    """Kernel, stride, padding, dilation, ceil_mode and an input shape that fits them.

    Padding is drawn up to kernel // 2 (the largest allowed); the spatial size
    from the smallest that fits the window up to ``max_extra`` more. The batch
    axis is sometimes absent (an unbatched sample) and sometimes 1; stride is
    sometimes larger than the kernel.
    """
    kernel = tuple(draw(st.integers(1, max_kernel)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dil = tuple(draw(st.integers(1, 3)) for _ in range(nd)) if dilation else (1,) * nd
    ceil_mode = draw(st.booleans())
    spatial = []
    for k, p, d in zip(kernel, padding, dil):
        low = max(1, span(k, d) - 2 * p)
        spatial.append(draw(st.integers(low, low + max_extra)))
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    channels = draw(st.integers(1, 3))
    return dict(kernel=kernel, stride=stride, padding=padding, dilation=dil, ceil_mode=ceil_mode,
                shape=batch + (channels,) + tuple(spatial))


def as_argument(values, draw_int):
    """Pass a tuple, or a plain int when every entry is equal and ``draw_int`` says so (both forms are API)."""
    return values[0] if draw_int and len(set(values)) == 1 else values


def has_empty_window(spatial, kernel, stride, padding, dilation, ceil_mode) -> bool:
    """True if some window holds no input element at all (only possible with dilation).

    PyTorch reports a meaningless index there (its backward would write out
    of bounds), so the parity tests leave such cases to a dedicated test.
    """
    for n, k, s, p, d in zip(spatial, kernel, stride, padding, dilation):
        for o in range(ref.output_size(n, k, s, p, d, ceil_mode)):
            if not any(0 <= o * s - p + t * d < n for t in range(k)):
                return True
    return False


def distinct_values(rng, shape, dtype=np.float64):
    """Values with no ties and gaps of at least 1e-3 (safe for finite differences through a max)."""
    size = int(np.prod(shape))
    return ((rng.permutation(size) - size / 2) * (2.0 / max(size, 1))).reshape(shape).astype(dtype)
