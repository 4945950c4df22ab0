"""Max and average pooling (functional): PyTorch parity, ties, NaN, edge cases, reference, errors."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from numconv import functional as F
from numconv.kernels import pool as kernels
from numconv.kernels import pool_windows
from numconv.reference import pool as ref

torch = pytest.importorskip("torch")
from parity import assert_close, check_op, upstream_rng  # noqa: E402
from test_pool_cases import TORCH_AVG, TORCH_MAX, as_argument, has_empty_window, window_case  # noqa: E402

TF = torch.nn.functional
OURS_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
OURS_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
DTYPES = [np.float64, np.float32]


def compare_max(nd, x, kwargs, dtype, seed=0):
    """Ours vs torch: output, indices (exactly), input gradient for a random upstream gradient."""
    x = np.asarray(x).astype(dtype)
    (out, idx), cache = OURS_MAX[nd](x, **kwargs, return_indices=True)
    tx = torch.tensor(x, requires_grad=True)
    t_out, t_idx = getattr(TF, TORCH_MAX[nd])(tx, **kwargs, return_indices=True)
    errors = {"out": assert_close(out, t_out, dtype, "forward output")}
    assert out.dtype == dtype and idx.dtype == np.int64
    np.testing.assert_array_equal(idx, t_idx.numpy(), err_msg="indices differ from torch")
    upstream = upstream_rng(seed).standard_normal(out.shape).astype(dtype)
    dx = F.max_pool2d_backward(upstream, cache)
    t_out.backward(torch.from_numpy(upstream))
    errors["dx"] = assert_close(dx, tx.grad, dtype, "input gradient")
    assert dx.dtype == dtype
    # without return_indices: the same output alone
    plain, _ = OURS_MAX[nd](x, **kwargs)
    np.testing.assert_array_equal(plain, out)
    return errors


# ---------------------------------------------------------------------------- max pooling vs torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@given(data=st.data(), seed=st.integers(0, 2**16), use_int=st.booleans(), default_stride=st.booleans())
def test_max_pool_matches_torch(nd, dtype, data, seed, use_int, default_stride):
    case = data.draw(window_case(nd, max_extra=4 if nd == 3 else 6))
    assume(not has_empty_window(case["shape"][-nd:], case["kernel"], case["stride"], case["padding"],
                                case["dilation"], case["ceil_mode"]))
    kwargs = dict(kernel_size=as_argument(case["kernel"], use_int),
                  stride=None if default_stride else as_argument(case["stride"], use_int),
                  padding=as_argument(case["padding"], use_int), dilation=as_argument(case["dilation"], use_int),
                  ceil_mode=case["ceil_mode"])
    x = np.random.default_rng(seed).standard_normal(case["shape"])
    compare_max(nd, x, kwargs, dtype, seed)


@pytest.mark.parametrize("nd", [1, 2, 3])
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_max_pool_ties_go_to_the_first_maximum_like_torch(nd, data, seed):
    """Inputs drawn from {0, 1, 2}: nearly every window has tied maxima."""
    case = data.draw(window_case(nd, max_extra=4 if nd == 3 else 6))
    assume(not has_empty_window(case["shape"][-nd:], case["kernel"], case["stride"], case["padding"],
                                case["dilation"], case["ceil_mode"]))
    kwargs = {k: case[k] for k in ("stride", "padding", "dilation", "ceil_mode")}
    x = np.random.default_rng(seed).integers(0, 3, case["shape"]).astype(np.float64)
    compare_max(nd, x, dict(kernel_size=case["kernel"], **kwargs), np.float64, seed)


def test_max_pool_tie_gradient_goes_only_to_the_first():
    x = np.ones((1, 1, 2, 2))
    (out, idx), cache = F.max_pool2d(x, 2, return_indices=True)
    assert idx.item() == 0
    dx = F.max_pool2d_backward(np.full((1, 1, 1, 1), 5.0), cache)
    np.testing.assert_array_equal(dx, [[[[5.0, 0.0], [0.0, 0.0]]]])
    # the first maximum in scan order (row by row), not the first of the columns
    x = np.array([[[[0.0, 3.0], [3.0, 1.0]]]])
    (_, idx), _ = F.max_pool2d(x, 2, return_indices=True)
    assert idx.item() == 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_max_pool_nan_and_inf_like_torch(nd, dtype, data, seed):
    """NaN is the maximum (a later NaN wins); an all -inf window points at its first element."""
    case = data.draw(window_case(nd, max_extra=3))
    assume(not has_empty_window(case["shape"][-nd:], case["kernel"], case["stride"], case["padding"],
                                case["dilation"], case["ceil_mode"]))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(case["shape"])
    special = rng.random(x.shape)
    x[special < 0.1] = np.nan
    x[(special > 0.1) & (special < 0.5)] = -np.inf
    kwargs = {k: case[k] for k in ("stride", "padding", "dilation", "ceil_mode")}
    compare_max(nd, x, dict(kernel_size=case["kernel"], **kwargs), dtype, seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((2, 3, 5, 5), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),  # last window starts in padding
        ((1, 1, 6, 6), dict(kernel_size=2, stride=3, ceil_mode=True)),  # stride > kernel, ceil drops a window
        ((1, 1, 7, 4), dict(kernel_size=(4, 2), padding=(2, 1))),  # padding = kernel / 2
        ((1, 1, 4, 4), dict(kernel_size=5, stride=2, ceil_mode=True)),  # kernel larger than the input, ceil_mode
        ((1, 1, 9, 9), dict(kernel_size=3, stride=5)),  # stride > kernel: gaps between windows
        ((1, 1, 8, 8), dict(kernel_size=2, padding=1, dilation=3)),
        ((3, 7, 7), dict(kernel_size=3, stride=1, padding=1)),  # unbatched
        ((1, 1, 1, 1), dict(kernel_size=1)),
        ((2, 4, 6, 7), dict(kernel_size=2)),  # the unrolled 2x2 path, odd width
        ((2, 4, 7, 7), dict(kernel_size=2, ceil_mode=True)),  # 2x2 with a ragged last window
    ],
)
def test_max_pool2d_edge_cases(shape, kwargs, dtype):
    x = np.random.default_rng(1).standard_normal(shape)
    compare_max(2, x, kwargs, dtype)


def test_max_pool_window_with_no_input_element():
    """Dilation can make a window that only sees padding: -inf, index -1, no gradient."""
    x = np.array([[[1.0, 2.0]]])  # taps at -1 and 2 both fall outside
    (out, idx), cache = F.max_pool1d(x, 2, stride=1, padding=1, dilation=3, return_indices=True)
    assert out.shape == (1, 1, 1) and out.item() == -np.inf
    assert idx.item() == -1
    assert TF.max_pool1d(torch.tensor(x), 2, stride=1, padding=1, dilation=3).item() == -np.inf
    np.testing.assert_array_equal(F.max_pool1d_backward(np.ones((1, 1, 1)), cache), np.zeros_like(x))


def test_max_pool_empty_batch():
    (out, idx), cache = F.max_pool2d(np.zeros((0, 3, 4, 4), np.float32), 2, return_indices=True)
    assert out.shape == idx.shape == (0, 3, 2, 2) and out.dtype == np.float32
    assert F.max_pool2d_backward(out, cache).shape == (0, 3, 4, 4)
    out, cache = F.avg_pool2d(np.zeros((0, 3, 5, 5)), 3, padding=1)
    assert out.shape == (0, 3, 2, 2) and F.avg_pool2d_backward(out, cache).shape == (0, 3, 5, 5)


# ---------------------------------------------------------------------------- average pooling vs torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@given(data=st.data(), seed=st.integers(0, 2**16), use_int=st.booleans(), count_include_pad=st.booleans(),
       divisor=st.sampled_from([None, None, 1, 3, -2]))
def test_avg_pool_matches_torch(nd, dtype, data, seed, use_int, count_include_pad, divisor):
    case = data.draw(window_case(nd, dilation=False, max_kernel=4, max_extra=4 if nd == 3 else 6))
    if nd == 3:
        # torch's avg_pool3d (only it) refuses a kernel larger than the unpadded input; we pool as in 2-D
        assume(all(n >= k for n, k in zip(case["shape"][-3:], case["kernel"])))
    kwargs = dict(kernel_size=as_argument(case["kernel"], use_int), stride=as_argument(case["stride"], use_int),
                  padding=as_argument(case["padding"], use_int), ceil_mode=case["ceil_mode"],
                  count_include_pad=count_include_pad)
    if nd > 1:
        kwargs["divisor_override"] = divisor
    x = np.random.default_rng(seed).standard_normal(case["shape"])
    check_op(OURS_AVG[nd], F.avg_pool2d_backward, getattr(TF, TORCH_AVG[nd]), [x], kwargs=kwargs, dtype=dtype,
             seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((2, 3, 8, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),  # window past the padding
        ((1, 1, 5, 5), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),  # last window starts in padding
        ((1, 1, 4, 4), dict(kernel_size=5, stride=2, ceil_mode=True)),  # kernel larger than the input
        ((1, 2, 6, 5), dict(kernel_size=(4, 2), padding=(2, 1))),  # padding = kernel / 2
        ((1, 1, 9, 9), dict(kernel_size=2, stride=4, ceil_mode=True)),  # stride > kernel
        ((2, 4, 6, 6), dict(kernel_size=2)),  # the unrolled 2x2 path
        ((2, 4, 7, 5), dict(kernel_size=2)),  # 2x2 with odd sizes: rows/columns no window covers
        ((2, 4, 6, 6), dict(kernel_size=2, divisor_override=3)),  # 2x2 path with an override
        ((4, 5, 5), dict(kernel_size=3, stride=1, padding=1)),  # unbatched
    ],
)
def test_avg_pool2d_edge_cases(shape, kwargs, count_include_pad, dtype):
    x = np.random.default_rng(2).standard_normal(shape)
    check_op(F.avg_pool2d, F.avg_pool2d_backward, TF.avg_pool2d, [x],
             kwargs=dict(kwargs, count_include_pad=count_include_pad), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),  # the last window hangs past the padding, per axis
    dict(kernel_size=(3, 2, 2), stride=(2, 1, 2), padding=(1, 0, 1), ceil_mode=True),
    dict(kernel_size=2, stride=1, padding=1, divisor_override=5),
])
def test_avg_pool3d_edge_cases(kwargs, count_include_pad, dtype):
    x = np.random.default_rng(3).standard_normal((2, 2, 4, 4, 5))
    check_op(F.avg_pool3d, F.avg_pool3d_backward, TF.avg_pool3d, [x],
             kwargs=dict(kwargs, count_include_pad=count_include_pad), dtype=dtype)


def test_avg_pool_divisor_for_windows_in_the_padding():
    """1-D, size 4, kernel 3, stride 2, padding 1, ceil_mode: windows [-1, 2) [1, 4) [3, 6)."""
    x = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    # count_include_pad: the last window is cut at the end of the padded input (index 5): 2 positions, 3 and pad
    out, _ = F.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True)
    np.testing.assert_allclose(out, [[[3 / 3, 9 / 3, 4 / 2]]], rtol=1e-15)
    out, _ = F.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
    np.testing.assert_allclose(out, [[[3 / 2, 9 / 3, 4 / 1]]], rtol=1e-15)


# ---------------------------------------------------------------------------- fast path == reference
@pytest.mark.parametrize("nd", [1, 2, 3])
@given(data=st.data(), seed=st.integers(0, 2**16), ties=st.booleans())
def test_max_pool_equals_reference(nd, data, seed, ties):
    case = data.draw(window_case(nd, max_extra=3))
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, case["shape"]).astype(np.float64) if ties else rng.standard_normal(case["shape"])
    batched = x if x.ndim == nd + 2 else x[None]
    args = (case["kernel"], case["stride"], case["padding"], case["dilation"], case["ceil_mode"])
    (out, idx), cache = OURS_MAX[nd](batched, *args[:4], ceil_mode=case["ceil_mode"], return_indices=True)
    r_out, r_idx = ref.max_pool_forward(batched, *args)
    np.testing.assert_array_equal(out, r_out)
    np.testing.assert_array_equal(idx, r_idx)
    dout = upstream_rng(seed).standard_normal(out.shape)
    np.testing.assert_allclose(F.max_pool2d_backward(dout, cache), ref.max_pool_backward(dout, r_idx, batched.shape),
                               rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("nd", [1, 2, 3])
@given(data=st.data(), seed=st.integers(0, 2**16), count_include_pad=st.booleans(),
       divisor=st.sampled_from([None, 5]))
def test_avg_pool_equals_reference(nd, data, seed, count_include_pad, divisor):
    case = data.draw(window_case(nd, dilation=False, max_kernel=4, max_extra=3))
    # 3-D average pooling refuses an input smaller than the kernel, as PyTorch's does (see test_validation.py).
    assume(nd < 3 or all(n >= k for n, k in zip(case["shape"][-3:], case["kernel"])))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(case["shape"])
    batched = x if x.ndim == nd + 2 else x[None]
    kwargs = dict(ceil_mode=case["ceil_mode"], count_include_pad=count_include_pad)
    if nd > 1:
        kwargs["divisor_override"] = divisor
    out, cache = OURS_AVG[nd](batched, case["kernel"], case["stride"], case["padding"], **kwargs)
    np.testing.assert_allclose(out, ref.avg_pool_forward(batched, case["kernel"], case["stride"], case["padding"],
                                                         **kwargs), rtol=1e-13, atol=1e-13)
    dout = upstream_rng(seed).standard_normal(out.shape)
    kwargs.pop("ceil_mode")
    r_dx = ref.avg_pool_backward(dout, batched.shape, case["kernel"], case["stride"], case["padding"], **kwargs)
    np.testing.assert_allclose(F.avg_pool2d_backward(dout, cache), r_dx, rtol=1e-13, atol=1e-13)


def _windows(x, kernel, stride, padding, dilation, fill):
    """NumPy: every window of the ``fill``-padded planes (P, D, H, W) as (P, OD, OH, OW, kd*kh*kw)."""
    padded = np.pad(x, [(0, 0)] + [(p, p) for p in padding], constant_values=fill)
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    win = np.lib.stride_tricks.sliding_window_view(padded, spans, axis=(1, 2, 3))
    win = win[:, ::stride[0], ::stride[1], ::stride[2], ::dilation[0], ::dilation[1], ::dilation[2]]
    return win.reshape(win.shape[:4] + (-1,))


@pytest.mark.parametrize("dtype", DTYPES)
@given(seed=st.integers(0, 2**16), k=st.integers(1, 3), s=st.integers(1, 3), d=st.integers(1, 2),
       size=st.integers(5, 9), pad=st.booleans())
def test_kernels_equal_their_numpy_expressions(dtype, seed, k, s, d, size, pad):
    """The docstrings' ``win.max(-1)``, ``argmax`` and ``win.sum(-1) / divisor`` (floor mode)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, 2, size, size + 1)).astype(dtype)  # size >= 5 >= the widest span
    kernel, stride, dilation = (1, k, k), (1, s, s), (1, d, d)
    padding = (0, k // 2, k // 2) if pad else (0, 0, 0)
    out_shape = (3,) + tuple(ref.output_size(n, *a) for n, *a in zip(x.shape[1:], kernel, stride, padding, dilation))
    out, idx = np.empty(out_shape, dtype), np.empty(out_shape, np.int64)
    kernels.max_pool_forward(x, out, idx, kernel, stride, padding, dilation)
    win = _windows(x, kernel, stride, padding, dilation, -np.inf)
    np.testing.assert_array_equal(out, win.max(-1))
    # map each window's argmax back to a flat position in the unpadded plane
    tap = np.array(np.unravel_index(win.argmax(-1), kernel))  # (3, P, OD, OH, OW)
    grid = np.array(np.meshgrid(*(np.arange(m) for m in out_shape[1:]), indexing="ij"))[:, None]
    column = (-1, 1, 1, 1, 1)
    coords = (grid * np.reshape(stride, column) - np.reshape(padding, column) + tap * np.reshape(dilation, column))
    np.testing.assert_array_equal(idx, np.ravel_multi_index(tuple(coords), x.shape[1:]))
    win0 = _windows(x, kernel, stride, padding, (1, 1, 1), 0.0)  # average pooling has no dilation
    avg = np.empty(win0.shape[:4], dtype)
    kernels.avg_pool_forward(x, avg, kernel, stride, padding, True, 0)
    # the kernel sums in float64 whatever the input dtype
    expected = (win0.astype(np.float64).sum(-1) / (k * k)).astype(dtype)
    np.testing.assert_allclose(avg, expected, rtol=1e-6 if dtype == np.float32 else 1e-13, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@given(seed=st.integers(0, 2**16), h=st.integers(1, 6), w=st.integers(1, 6), nan=st.booleans())
def test_unrolled_2x2_kernels_equal_the_generic_ones(dtype, seed, h, w, nan):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, (4, 2 * h, 2 * w)).astype(dtype)
    if nan:
        x[rng.random(x.shape) < 0.2] = np.nan
    out, idx = np.empty((4, h, w), dtype), np.empty((4, h, w), np.int64)
    kernels.max_pool2x2_forward(x, out, idx)
    out_g, idx_g = np.empty((4, 1, h, w), dtype), np.empty((4, 1, h, w), np.int64)
    kernels.max_pool_forward(x[:, None], out_g, idx_g, (1, 2, 2), (1, 2, 2), (0, 0, 0), (1, 1, 1))
    np.testing.assert_array_equal(out, out_g[:, 0])
    np.testing.assert_array_equal(idx, idx_g[:, 0])
    x = rng.standard_normal(x.shape).astype(dtype)
    kernels.avg_pool2x2_forward(x, out, 3)
    kernels.avg_pool_forward(x[:, None], out_g, (1, 2, 2), (1, 2, 2), (0, 0, 0), True, 3)
    np.testing.assert_array_equal(out, out_g[:, 0])
    dout = rng.standard_normal((4, h, w)).astype(dtype)
    dx, dx_g = np.zeros_like(x), np.zeros((4, 1) + x.shape[1:], dtype)
    kernels.avg_pool2x2_backward(dout, dx, 4)
    kernels.avg_pool_backward(dout[:, None], dx_g, (1, 2, 2), (1, 2, 2), (0, 0, 0), True, 0)
    np.testing.assert_array_equal(dx, dx_g[:, 0])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("window", sorted(pool_windows.SPECIALISED_WINDOWS))
@given(seed=st.integers(0, 2**16), h=st.integers(1, 9), w=st.integers(1, 9), pad=st.booleans(),
       ceil_mode=st.booleans(), values=st.sampled_from(["normal", "ties", "nan"]),
       count_include_pad=st.booleans(), divisor=st.sampled_from([0, 5]))
def test_specialised_window_kernels_equal_the_generic_ones(window, dtype, seed, h, w, pad, ceil_mode, values,
                                                           count_include_pad, divisor):
    """The kernels compiled per window shape against the generic loops, border windows and ceil_mode included."""
    kh, kw, sh, sw = window
    ph, pw = (kh // 2, kw // 2) if pad else (0, 0)
    oh, ow = (ref.output_size(n, k, s, p, 1, ceil_mode) for n, k, s, p in ((h, kh, sh, ph), (w, kw, sw, pw)))
    assume(oh >= 1 and ow >= 1)
    rng = np.random.default_rng(seed)
    x = (rng.integers(0, 3, (3, h, w)) if values != "normal" else rng.standard_normal((3, h, w))).astype(dtype)
    if values == "nan":
        x[rng.random(x.shape) < 0.2] = np.nan
    max_forward, avg_forward, avg_backward = pool_windows.window_kernels(*window)
    geometry = ((1, kh, kw), (1, sh, sw), (0, ph, pw))
    out, idx = np.empty((3, oh, ow), dtype), np.empty((3, oh, ow), np.int64)
    out_g, idx_g = np.empty((3, 1, oh, ow), dtype), np.empty((3, 1, oh, ow), np.int64)
    max_forward(x, out, idx, ph, pw)
    kernels.max_pool_forward(x[:, None], out_g, idx_g, *geometry, (1, 1, 1))
    np.testing.assert_array_equal(out, out_g[:, 0])
    np.testing.assert_array_equal(idx, idx_g[:, 0])
    x[np.isnan(x)] = 0.5
    # the compiled kernels add the same numbers in another order (columns first): equal up to rounding
    tolerance = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)
    avg_forward(x, out, ph, pw, count_include_pad, divisor)
    kernels.avg_pool_forward(x[:, None], out_g, *geometry, count_include_pad, divisor)
    np.testing.assert_allclose(out, out_g[:, 0], **tolerance)
    dout = rng.standard_normal((3, oh, ow)).astype(dtype)
    dx, dx_g = np.zeros_like(x), np.zeros((3, 1, h, w), dtype)
    avg_backward(dout, dx, ph, pw, count_include_pad, divisor)
    kernels.avg_pool_backward(dout[:, None], dx_g, *geometry, count_include_pad, divisor)
    np.testing.assert_allclose(dx, dx_g[:, 0], **tolerance)

@pytest.mark.parametrize("op, kwargs", [
    (F.max_pool2d, dict(kernel_size=2)), (F.max_pool2d, dict(kernel_size=3, stride=2, padding=1)),
    (F.max_pool2d, dict(kernel_size=2, dilation=2)), (F.avg_pool2d, dict(kernel_size=2)),
    (F.avg_pool2d, dict(kernel_size=3, stride=2, padding=1)), (F.avg_pool2d, dict(kernel_size=(1, 3), stride=2)),
    (F.max_pool3d, dict(kernel_size=2)), (F.avg_pool3d, dict(kernel_size=2, padding=1)),
])
def test_two_workers_give_the_same_bits_as_one(monkeypatch, op, kwargs):
    """Large inputs are split by planes between two threads; planes are independent, so nothing changes."""
    import importlib

    from numconv.kernels import workers

    pool_module = importlib.import_module("numconv.functional.pool")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 6, 6, 7) if op in (F.max_pool3d, F.avg_pool3d) else (3, 5, 9, 8))
    x = x.astype(np.float32)
    results = []
    for split_from in (10**9, 0):  # never split, always split
        monkeypatch.setattr(pool_module, "_SPLIT_MIN_ELEMENTS", split_from)
        workers.set_num_workers(2)
        try:
            out, cache = op(x, **kwargs)
            dout = upstream_rng(1).standard_normal(out.shape).astype(np.float32)
            backward = F.max_pool2d_backward if op in (F.max_pool2d, F.max_pool3d) else F.avg_pool2d_backward
            results.append((out, backward(dout, cache)))
        finally:
            workers.set_num_workers(None)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)

def test_backward_does_not_modify_dout_and_keeps_dtype():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    for op, backward in ((F.max_pool2d, F.max_pool2d_backward), (F.avg_pool2d, F.avg_pool2d_backward)):
        out, cache = op(x, 3, 2, 1)
        dout = upstream_rng(1).standard_normal(out.shape).astype(np.float32)
        before = dout.copy()
        dx = backward(dout, cache)
        np.testing.assert_array_equal(dout, before)
        assert dx.dtype == np.float32 and dx.shape == x.shape
        assert backward(dout.astype(np.float64), cache).dtype == np.float32  # the forward's dtype


# ---------------------------------------------------------------------------- errors
def test_errors_name_the_shapes():
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"max_pool2d: expected a 3-D or 4-D input \(C, H, W\) or \(N, C, H, W\), "
                                         r"got shape \(28, 28\) \(2-D\)"):
        F.max_pool2d(np.zeros((28, 28)), 2)
    with pytest.raises(ValueError, match=r"max_pool1d: expected a 2-D or 3-D input .* got shape \(5,\)"):
        F.max_pool1d(np.zeros(5), 2)
    with pytest.raises(ValueError, match=r"avg_pool3d: expected a 4-D or 5-D input .*\(1, 4, 4\)"):
        F.avg_pool3d(np.zeros((1, 4, 4)), 2)
    with pytest.raises(ValueError, match=r"kernel_size \(5, 5\) with dilation \(1, 1\) spans 5 x 5 pixels, but the "
                                         r"padded input is only 4 x 4 \(input shape \(1, 1, 4, 4\)"):
        F.max_pool2d(x, 5)
    with pytest.raises(ValueError, match=r"spans 5 x 3 pixels, but the padded input is only 4 x 6 .*output would "
                                         r"have size \(0, 2\)"):
        F.max_pool2d(x, (3, 2), padding=(0, 1), dilation=2)
    with pytest.raises(ValueError, match=r"avg_pool1d: kernel_size \(3,\) .* padded input is only 2"):
        F.avg_pool1d(np.zeros((1, 2)), 3)
    with pytest.raises(ValueError, match=r"padding \(2, 2\) must be at most half of kernel_size \(3, 3\)"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match=r"padding \(2, 2\) must be at most half of kernel_size \(2, 2\)"):
        F.max_pool2d(x, 2, padding=2, dilation=3)  # half the kernel size, not of its dilated span
    with pytest.raises(ValueError, match="non-empty spatial dimensions, got input of shape \\(1, 1, 0, 4\\)"):
        F.avg_pool2d(np.zeros((1, 1, 0, 4)), 2)
    with pytest.raises(TypeError, match="float32 or float64, got int64"):
        F.max_pool2d(np.zeros((1, 1, 4, 4), dtype=np.int64), 2)
    with pytest.raises(TypeError, match="float16 is not supported"):
        F.avg_pool2d(np.zeros((1, 1, 4, 4), dtype=np.float16), 2)
    with pytest.raises(ValueError, match="stride to be >= 1"):
        F.max_pool2d(x, 2, stride=0)
    with pytest.raises(ValueError, match="dilation to be >= 1"):
        F.max_pool2d(x, 2, dilation=0)
    with pytest.raises(ValueError, match="padding to be >= 0"):
        F.avg_pool2d(x, 2, padding=-1)
    with pytest.raises(ValueError, match="kernel_size to be an int or a tuple of 2 ints"):
        F.max_pool2d(x, (2, 2, 2))
    with pytest.raises(TypeError, match="kernel_size to be an int or a tuple of 2 ints, got 2.0"):
        F.max_pool2d(x, 2.0)
    with pytest.raises(TypeError, match="ceil_mode to be a bool, got 1"):
        F.max_pool2d(x, 2, ceil_mode=1)
    with pytest.raises(ValueError, match="divisor_override must not be zero"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(TypeError, match="divisor_override to be an int or None, got 2.5"):
        F.avg_pool2d(x, 2, divisor_override=2.5)
    out, cache = F.max_pool2d(x, 2)
    with pytest.raises(ValueError, match=r"expected dout of shape \(1, 1, 2, 2\) \(the output's\), got \(1, 1, 2\)"):
        F.max_pool2d_backward(np.zeros((1, 1, 2)), cache)


# ---------------------------------------------------------------------------- the readable NumPy path
@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (2, 1, 0), (3, 2, 1), (3, 1, 1), (3, 3, 0)])
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_numpy_pool_equals_the_kernels(kernel, stride, padding, mode):
    x = np.random.default_rng(kernel * 10 + stride).standard_normal((2, 3, 9, 8))
    fast = {"max": F.max_pool2d, "avg": F.avg_pool2d}[mode](x, kernel, stride, padding)[0]
    np.testing.assert_allclose(F.pool2d_numpy(x, kernel, stride, padding, mode), fast, rtol=1e-12, atol=1e-15)
