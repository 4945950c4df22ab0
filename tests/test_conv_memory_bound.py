"""The workspace limit holds for every convolution: im2col's tiles, groups, 1-D and 3-D, padding modes.

Two kinds of checks:

- **Exactly the unchunked result.** On integer-valued inputs every product
  and sum is exact in float32 and float64, so cutting the work into tiles
  (which changes the order of the sums) must give the same bits as the
  whole batch in one piece. Random float inputs are held to the naive
  reference as everywhere else.
- **Peak memory.** ``tracemalloc`` sees every NumPy allocation; a forward and
  backward pass under a small limit may hold at most the limit (+10 %) plus
  the output and the gradient buffers.
"""

import tracemalloc

import numpy as np
import pytest

from numconv import functional as F
from numconv.functional import tiling
from numconv.functional.im2col import pad, pad_backward
from numconv.kernels import workers
from numconv.reference.conv import conv_nd_naive, conv_nd_naive_backward

from parity import rel_error

# (x shape, weight shape, options): one case per kind of convolution the tiles must cut.
CASES = {
    "2-D": ((3, 4, 9, 8), (6, 4, 3, 3), dict(padding=1)),
    "2-D strided, dilated": ((3, 4, 11, 12), (5, 4, 3, 2), dict(stride=2, padding=(2, 1), dilation=(2, 1))),
    "grouped": ((2, 6, 8, 9), (9, 2, 3, 3), dict(padding=1, groups=3)),
    "depthwise": ((2, 6, 8, 9), (6, 1, 3, 3), dict(padding=1, groups=6)),
    "1-D": ((3, 4, 40), (5, 4, 5), dict(stride=2, padding=3)),
    "3-D": ((2, 3, 6, 7, 5), (4, 3, 3, 3, 2), dict(padding=(1, 0, 1), dilation=(1, 2, 1))),
    "reflect": ((2, 4, 9, 8), (5, 4, 3, 3), dict(padding=2, padding_mode="reflect")),
    "replicate": ((2, 4, 9, 8), (5, 4, 3, 3), dict(padding=(1, 2), padding_mode="replicate")),
    "circular 1-D": ((2, 3, 12), (4, 3, 3), dict(padding=4, padding_mode="circular")),
    "winograd": ((2, 4, 10, 9), (5, 4, 3, 3), dict(padding=1, algorithm="winograd")),
    "winograd_cl": ((2, 4, 10, 9), (5, 4, 3, 3), dict(padding=1, algorithm="winograd_cl")),
    "rowslab": ((2, 4, 10, 9), (5, 4, 3, 3), dict(stride=2, padding=1, algorithm="rowslab")),
}
CONV = {3: (F.conv1d, F.conv1d_backward), 4: (F.conv2d, F.conv2d_backward), 5: (F.conv3d, F.conv3d_backward)}


@pytest.fixture
def restore_limit():
    yield
    workers.set_workspace_limit(None)


def _integers(shape, low, high, dtype, seed):
    return np.random.default_rng(seed).integers(low, high + 1, shape).astype(dtype)


def _run(x, w, b, dout, options):
    forward, backward = CONV[x.ndim]
    out, cache = forward(x, w, b, **options)
    return (out, *backward(dout, cache)), cache


def _out_shape(x, w, options):
    out, _ = CONV[x.ndim][0](x[:1], w, **options)
    return (x.shape[0], *out.shape[1:])


@pytest.mark.parametrize("limit", [64, 2048])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(CASES))
def test_tiles_give_exactly_the_unchunked_result(name, dtype, limit, restore_limit):
    x_shape, w_shape, options = CASES[name]
    x, w = _integers(x_shape, -3, 3, dtype, 0), _integers(w_shape, -2, 2, dtype, 1)
    b = _integers(w_shape[:1], -3, 3, dtype, 2)
    dout = _integers(_out_shape(x, w, options), -3, 3, dtype, 3)
    whole, whole_cache = _run(x, w, b, dout, options)
    workers.set_workspace_limit(limit)
    tiled, tiled_cache = _run(x, w, b, dout, options)
    if whole_cache.algorithm == "im2col":
        assert whole_cache.state[3] is not None  # the unchunked path: one tile, columns kept
    assert tiled_cache.algorithm == "im2col" and tiled_cache.state[3] is None  # tiles, columns rebuilt
    geo = tiled_cache.state[0]
    assert len(tiling.tiles(geo, tiling.plan_tiles(geo, x.itemsize, limit, backward=True))) > x_shape[0]
    for got, expected in zip(tiled, whole):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, expected)


def _reference(x, w, b, dout, options):
    """The naive loops, with any padding mode applied (and folded back) explicitly."""
    nd = x.ndim - 2
    padding = options.get("padding", 0)
    padding = (padding,) * nd if isinstance(padding, int) else padding
    xp, pad_cache = pad(x, [(p, p) for p in padding], options.get("padding_mode", "zeros"))
    geometry = {k: options.get(k, 1) for k in ("stride", "dilation", "groups")}
    out = conv_nd_naive(xp, w, b, **geometry)
    dxp, dw = conv_nd_naive_backward(dout, xp, w, **geometry)[:2]
    return out, pad_backward(dxp, pad_cache), dw, dout.sum(axis=tuple(i for i in range(dout.ndim) if i != 1))


@pytest.mark.parametrize("name", list(CASES))
def test_tiles_equal_the_reference_on_random_floats(name, restore_limit):
    x_shape, w_shape, options = CASES[name]
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    dout = rng.standard_normal(_out_shape(x, w, options))
    workers.set_workspace_limit(64)
    got, cache = _run(x, w, b, dout, options)
    assert cache.state[3] is None
    plain = {k: v for k, v in options.items() if k != "algorithm"}
    for a, e in zip(got, _reference(x, w, b, dout, plain)):
        assert rel_error(a, e) <= 1e-12


def test_tiles_cut_samples_then_groups_then_rows_then_columns():
    geo = tiling.geometry((4, 6, 10, 10), (6, 2, 3, 3), (1, 1), (1, 1), 3, ((1, 1), (1, 1)), "zeros")
    full = (10, 10)
    one_sample = tiling.tile_bytes(geo, 1, 3, full, 4, backward=False)
    one_group = tiling.tile_bytes(geo, 1, 1, full, 4, backward=False)
    assert tiling.plan_tiles(geo, 4, 2 * one_sample, backward=False) == (2, 3, full)
    assert tiling.plan_tiles(geo, 4, one_group, backward=False) == (1, 1, full)
    assert tiling.plan_tiles(geo, 4, 2 * one_group, backward=False) == (1, 2, full)
    samples, groups, (rows, cols) = tiling.plan_tiles(geo, 4, one_group // 2, backward=False)
    assert (samples, groups, cols) == (1, 1, 10) and 1 <= rows < 10
    assert tiling.tile_bytes(geo, 1, 1, (rows, 10), 4, backward=False) <= one_group // 2
    one_row = tiling.tile_bytes(geo, 1, 1, (1, 10), 4, backward=False)
    samples, groups, (rows, cols) = tiling.plan_tiles(geo, 4, one_row - 1, backward=False)
    assert (samples, groups, rows) == (1, 1, 1) and 1 <= cols < 10
    cut = tiling.tiles(geo, (1, 2, (4, 10)))
    assert [tile[4] for tile in cut[:3]] == [((0, 4), (0, 10)), ((4, 8), (0, 10)), ((8, 10), (0, 10))]
    assert cut[0][:4] == (0, 1, 0, 2) and cut[3][:4] == (0, 1, 2, 3) and len(cut) == 4 * 2 * 3
    assert len(tiling.tiles(geo, (4, 3, (3, 4)))) == 4 * 3


# ---------------------------------------------------------------------------------------------- peak memory
# Inputs big enough that the whole column matrix is many times the limit.
MEMORY_CASES = {
    "2-D": ((8, 16, 48, 48), (16, 16, 3, 3), dict(padding=1)),
    "grouped": ((8, 16, 48, 48), (16, 4, 3, 3), dict(padding=1, groups=4)),
    "depthwise": ((8, 16, 48, 48), (16, 1, 3, 3), dict(padding=1, groups=16)),
    "1-D": ((8, 16, 4096), (16, 16, 5), dict(padding=2)),
    "3-D": ((2, 8, 12, 32, 32), (8, 8, 3, 3, 3), dict(padding=1)),
    "reflect": ((8, 16, 48, 48), (16, 16, 3, 3), dict(padding=1, padding_mode="reflect")),
    "winograd, one large sample": ((1, 16, 160, 160), (16, 16, 3, 3), dict(padding=1, algorithm="winograd")),
    "winograd_cl, many small samples": ((160, 16, 8, 8), (16, 16, 3, 3), dict(padding=1, algorithm="winograd_cl")),
    "rowslab": ((8, 16, 48, 48), (16, 16, 5, 5), dict(padding=2, algorithm="rowslab")),
}
LIMIT = 512 * 1024


@pytest.mark.parametrize("name", list(MEMORY_CASES))
def test_peak_memory_stays_within_the_limit_plus_outputs(name, restore_limit):
    x_shape, w_shape, options = MEMORY_CASES[name]
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape, dtype=np.float32), rng.standard_normal(w_shape, dtype=np.float32)
    b = rng.standard_normal(w_shape[0], dtype=np.float32)
    dout = rng.standard_normal(_out_shape(x, w, options), dtype=np.float32)
    forward, backward = CONV[x.ndim]
    workers.set_workspace_limit(LIMIT)
    backward(dout, forward(x, w, b, **options)[1])  # warm-up: kernels compiled, workspaces (if any) allocated
    tracemalloc.start()
    try:
        out, cache = forward(x, w, b, **options)
        grads = backward(dout, cache)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    buffers = out.nbytes + sum(g.nbytes for g in grads)
    columns = x.shape[0] * x.shape[1] * np.prod(w_shape[2:]) * np.prod(dout.shape[2:]) * 4
    assert columns > 10 * LIMIT  # the untiled path would hold this (and its gradient)
    assert peak <= 1.1 * LIMIT + buffers, f"{name}: peak {peak} > 1.1 * {LIMIT} + {buffers}"
