"""Which convolution algorithm runs: the registry, the ``"auto"`` rule and the memory test.

``numconv.functional.conv`` checks the arguments and pads; this module picks
how step 3 (the *valid* convolution) is computed:

- ``"im2col"``: the readable path (``numconv.functional.conv.conv_im2col``),
  run tile by tile (``numconv.functional.tiling``) when a call is too large
  for one tile;
- ``"winograd"``: ``numconv.functional.fast.winograd``, F(2x2, 3x3);
- ``"winograd4"``: ``numconv.functional.fast.winograd4``, F(4x4, 3x3);
- ``"winograd_cl"``: ``numconv.functional.fast.winograd_cl``, F(2x2, 3x3) computed channels-last;
- ``"rowslab"``: ``numconv.functional.fast.rowslab``.

``_auto`` is the rule, in three lines; the measurements behind it are in
docs/performance.md ("How auto chooses"). A new algorithm is one more entry
in ``ALGORITHMS``.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from ..._checks import shape_str
from ..._geometry import window_output_size
from ...kernels import workers
from ...kernels.workers import workspace_limit
from .. import tiling
from ..im2col import PADDING_MODES
from .rowslab import rowslab_applies, rowslab_backward, rowslab_forward, rowslab_sample_bytes
from .winograd import winograd_applies, winograd_backward, winograd_forward, winograd_sample_bytes
from .winograd4 import winograd4_backward, winograd4_forward, winograd4_sample_bytes
from .winograd_cl import winograd_cl_backward, winograd_cl_forward, winograd_cl_sample_bytes

__all__ = ["ALGORITHMS", "WINOGRAD", "choose_algorithm", "fits", "runs_readable", "auto_winograd_backward"]

#: The Winograd algorithms: their transforms turn inf into NaN, so ``auto`` checks the data before using them.
WINOGRAD = ("winograd", "winograd4", "winograd_cl")


def _winograd_safe(x: np.ndarray) -> bool:
    """Whether Winograd gives PyTorch's answer on ``x``: every value finite and far from overflow.

    Winograd's transforms add and subtract neighbouring inputs before the
    products, so an inf becomes inf - inf = NaN (where a direct convolution
    keeps inf), and a value near the float maximum overflows (3e38 in
    float32 gave NaN where PyTorch stays finite). Two reductions (min and
    max, which also propagate NaN) cost about 2 % of the convolution.
    """
    if x.size == 0:
        return True
    lo, hi = float(x.min()), float(x.max())
    limit = float(np.finfo(x.dtype).max) / 2**16  # headroom for the transforms' sums
    return math.isfinite(lo) and math.isfinite(hi) and max(-lo, hi) < limit


def choose_algorithm(algorithm, where, x, weight, stride, dilation, groups, pad_width) -> str:
    """Resolve ``algorithm`` to a key of ``ALGORITHMS``.

    ``"auto"``: Winograd for 3 x 3 stride-1 layers with at least 32 input and
    output channels, or 16 on outputs from 10 to 64 pixels wide (F(4x4, 3x3)
    for 64 channels or more on outputs at least 28 pixels wide, F(2x2, 3x3)
    channels-last on outputs narrower than 10, F(2x2, 3x3) for the others),
    im2col for other outputs narrower than 10 pixels, unless the
    input or the weight holds NaN, inf or values near overflow: see ``_winograd_safe``; the backward pass
    checks the upstream gradient likewise, ``auto_winograd_backward``), the
    row-slab GEMM for other 2-D layers with one group and no vertical
    dilation, im2col for the rest (1-D, 3-D, groups, vertical dilation). See
    ``_auto`` for the rule.
    """
    if not isinstance(algorithm, str):
        raise TypeError(f"{where}: expected algorithm to be a string, got {algorithm!r}")
    if algorithm == "auto":
        out_width = window_output_size(x.shape[-1], weight.shape[-1], stride[-1], pad_width[-1], dilation[-1])
        name = _auto(weight.shape, stride, dilation, groups, out_width)
        if name in WINOGRAD and not (_winograd_safe(x) and _winograd_safe(weight)):
            name = _instead_of_winograd(weight.shape, stride, dilation, groups)
        return name
    if algorithm not in ALGORITHMS:
        choices = ", ".join(repr(a) for a in ("auto", *ALGORITHMS))
        raise ValueError(f"{where}: unknown algorithm {algorithm!r}; expected one of {choices}")
    if not ALGORITHMS[algorithm].applies(weight.shape, stride, dilation, groups):
        raise ValueError(
            f"{where}: algorithm {algorithm!r} {ALGORITHMS[algorithm].needs}; got weight of shape "
            f"{shape_str(weight.shape)}, stride {stride}, dilation {dilation}, groups {groups}"
        )
    return algorithm


def _instead_of_winograd(weight_shape, stride, dilation, groups) -> str:
    """What ``auto`` runs where Winograd would not give PyTorch's answer."""
    return "rowslab" if rowslab_applies(weight_shape, stride, dilation, groups) else "im2col"


def auto_winograd_backward(name, dout, state):
    """``(dx, dweight)`` of a Winograd forward ``auto`` chose: Winograd's own, or the row slab's for an unsafe ``dout``.

    The upstream gradient goes through Winograd's transforms too: an inf there becomes inf - inf = NaN
    where PyTorch (and the row slab) keep inf. The row slab's forward is rerun to make its own cache (rare:
    only for a gradient holding inf, NaN or values near overflow).
    """
    if _winograd_safe(dout):
        return ALGORITHMS[name].backward(dout, state)
    x, weight, pad_width, _ = state
    unit = (1,) * (weight.ndim - 2)
    name = _instead_of_winograd(weight.shape, unit, unit, 1)
    _, other = ALGORITHMS[name].forward(x, weight, None, unit, unit, 1, pad_width, "zeros")
    return ALGORITHMS[name].backward(dout, other)


def runs_readable(algorithm, x, weight, stride, dilation, groups, pad_width, padding_mode) -> bool:
    """Whether an im2col call runs the readable path (``conv_im2col``) rather than ``tiling.im2col_forward``.

    It does when the whole call, forward and backward, fits the workspace
    limit as one tile, and either ``algorithm="im2col"`` asked for it or the
    batch is too small to split over the workers (``tiling.worker_parts``).
    """
    geo = tiling.geometry(x.shape, weight.shape, stride, dilation, groups, pad_width, padding_mode)
    if 0 in x.shape or 0 in geo.out_spatial:
        return False
    need = tiling.tile_bytes(geo, x.shape[0], groups, geo.out_spatial, x.itemsize, backward=True)
    return need <= workspace_limit() and (algorithm == "im2col" or len(tiling.worker_parts(geo, weight.size)) == 1)


def fits(name, x, weight, stride, dilation, pad_width, padding_mode) -> bool:
    """Whether algorithm ``name`` keeps this call within the workspace limit.

    The fast algorithms walk the batch in chunks of whole samples on every
    worker, so one sample's scratch per worker must fit; a padding mode they
    cannot apply on the fly also costs a padded copy of the input and of its
    gradient. Where that does not fit, the call runs through im2col's tiles
    (``numconv.functional.tiling``), which cut a sample into groups and
    output rows as needed.
    """
    chosen = ALGORITHMS[name]
    scratch = workers.num_workers() * chosen.sample_bytes(x.shape, weight.shape, stride, dilation, pad_width,
                                                          x.itemsize)
    if padding_mode not in chosen.pads and any(b or a for b, a in pad_width):
        padded = x.shape[0] * x.shape[1] * math.prod(s + b + a for s, (b, a) in zip(x.shape[2:], pad_width))
        scratch += 2 * padded * x.itemsize
    return scratch <= workspace_limit()


def _auto(weight_shape, stride, dilation, groups, out_width) -> str:
    """The algorithm ``"auto"`` picks. The rule, from measurements (docs/performance.md, "How auto chooses"):

    1. for outputs narrower than 10 pixels: F(2x2, 3x3) channels-last for 3 x 3 stride-1 layers with
       at least 32 channels (64 channels at 7 x 7: 0.67x im2col's time, 32: 0.68x, 256: 0.86x; at
       16 channels im2col is faster), else im2col (and for 1-D, 3-D, groups, vertical dilation);
    2. Winograd for 3 x 3 stride-1 layers with at least 32 channels in and out, or 16 on outputs
       at most 64 pixels wide (wider rows make the row slab's products long enough to win):
       F(4x4, 3x3) for 64 channels or more on outputs at least 28 wide (W4's 64 x 56 x 56: 0.75x
       F(2x2)'s time; 64 or 128 channels at 28: 0.91x), F(2x2, 3x3) for the rest (16 channels at 64:
       F(4x4) 1.13x, its larger transforms not paid back by the products; 14 wide: 1.6x, its 4-pixel
       tiles overhanging 14 pixels by a third; channels-last at 14 wide: 1.03-1.19x);
    3. else the row slab.
    """
    channels = min(weight_shape[1] * groups, weight_shape[0])
    winograd = winograd_applies(weight_shape, stride, dilation, groups)
    if out_width < 10:
        return "winograd_cl" if winograd and channels >= 32 else "im2col"
    if winograd and (channels >= 32 or (channels >= 16 and out_width <= 64)):
        return "winograd4" if channels >= 64 and out_width >= 28 else "winograd"
    return "rowslab" if rowslab_applies(weight_shape, stride, dilation, groups) else "im2col"


# ---------------------------------------------------------------------------------------------- Winograd
def _winograd_forward(x, weight, bias, stride, dilation, groups, pad_width, mode):
    """``winograd_forward`` with the common signature (stride, dilation and groups are 1; zero padding)."""
    return winograd_forward(x, weight, bias, pad_width)


def _winograd4_forward(x, weight, bias, stride, dilation, groups, pad_width, mode):
    """``winograd4_forward`` with the common signature."""
    return winograd4_forward(x, weight, bias, pad_width)


def _winograd_cl_forward(x, weight, bias, stride, dilation, groups, pad_width, mode):
    """``winograd_cl_forward`` with the common signature."""
    return winograd_cl_forward(x, weight, bias, pad_width)


# ---------------------------------------------------------------------------------------------- row-slab
def _rowslab_forward(x, weight, bias, stride, dilation, groups, pad_width, mode):
    """``rowslab_forward`` with the common signature (groups is 1; zero padding)."""
    return rowslab_forward(x, weight, bias, stride, dilation, pad_width)


# ---------------------------------------------------------------------------------------------- the registry
def _always(weight_shape, stride, dilation, groups) -> bool:
    return True


def _no_scratch(x_shape, weight_shape, stride, dilation, pad_width, itemsize) -> int:
    return 0


class _Algorithm(NamedTuple):
    forward: Callable   # (x, weight, bias, stride, dilation, groups, pad_width, mode) -> (out, state)
    backward: Callable  # (dout, state) -> (dx, dweight); dx of the forward's x
    applies: Callable   # (weight_shape, stride, dilation, groups) -> bool
    needs: str          # what ``applies`` checks, for the error message
    pads: tuple         # padding modes it applies on the fly; for the others x arrives padded (explicit copy)
    sample_bytes: Callable  # (x_shape, weight_shape, stride, dilation, pad_width, itemsize) -> scratch per sample
                            # and worker, backward pass; 0: bounded by the algorithm itself (im2col's tiles)


ALGORITHMS = {
    "im2col": _Algorithm(tiling.im2col_forward, tiling.im2col_backward, _always, "", PADDING_MODES, _no_scratch),
    "winograd": _Algorithm(_winograd_forward, winograd_backward, winograd_applies,
                           "needs a 2-D 3 x 3 kernel with stride 1, dilation 1 and groups 1", ("zeros",),
                           winograd_sample_bytes),
    "winograd4": _Algorithm(_winograd4_forward, winograd4_backward, winograd_applies,
                            "needs a 2-D 3 x 3 kernel with stride 1, dilation 1 and groups 1", ("zeros",),
                            winograd4_sample_bytes),
    "winograd_cl": _Algorithm(_winograd_cl_forward, winograd_cl_backward, winograd_applies,
                              "needs a 2-D 3 x 3 kernel with stride 1, dilation 1 and groups 1", ("zeros",),
                              winograd_cl_sample_bytes),
    "rowslab": _Algorithm(_rowslab_forward, rowslab_backward, rowslab_applies,
                          "needs a 2-D convolution with groups 1 and vertical dilation 1", ("zeros",),
                          rowslab_sample_bytes),
}
