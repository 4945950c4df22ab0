"""Adaptive pooling and max-unpooling (functional): PyTorch parity, reference, round trips, errors."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from numconv import functional as F
from numconv.reference import pool as ref

torch = pytest.importorskip("torch")
from parity import assert_close, check_op  # noqa: E402
from test_pool_cases import window_case  # noqa: E402

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]
ADAPTIVE_AVG = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d, 3: F.adaptive_avg_pool3d}
ADAPTIVE_MAX = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d, 3: F.adaptive_max_pool3d}
UNPOOL = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}


@st.composite
def adaptive_case(draw, nd, allow_none=True):
    """An input shape and an output_size: sizes that do not divide, outputs larger than inputs, None entries."""
    spatial = tuple(draw(st.integers(1, 7 if nd < 3 else 5)) for _ in range(nd))
    out = tuple(draw(st.integers(1, n + 2)) for n in spatial)
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    shape = batch + (draw(st.integers(1, 3)),) + spatial
    if nd == 1:
        output_size = out[0] if draw(st.booleans()) else out
    elif draw(st.booleans()) and len(set(out)) == 1:
        output_size = out[0]
    else:
        output_size = tuple(None if allow_none and draw(st.integers(0, 4)) == 0 else o for o in out)
        out = tuple(n if o is None else o for o, n in zip(output_size, spatial))
    expected = out
    return shape, output_size, expected


# ---------------------------------------------------------------------------- adaptive average
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@given(case=st.data(), seed=st.integers(0, 2**16))
def test_adaptive_avg_pool_matches_torch(nd, dtype, case, seed):
    shape, output_size, expected = case.draw(adaptive_case(nd))
    x = np.random.default_rng(seed).standard_normal(shape)
    check_op(ADAPTIVE_AVG[nd], F.adaptive_avg_pool2d_backward, getattr(TF, f"adaptive_avg_pool{nd}d"), [x],
             kwargs=dict(output_size=output_size), dtype=dtype, seed=seed)
    assert ADAPTIVE_AVG[nd](x, output_size)[0].shape[-nd:] == expected


@pytest.mark.parametrize("nd", [1, 2, 3])
@given(case=st.data(), seed=st.integers(0, 2**16))
def test_adaptive_avg_pool_equals_reference(nd, case, seed):
    shape, output_size, expected = case.draw(adaptive_case(nd))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1,) * (nd + 2 - len(shape)) + shape)
    out, cache = ADAPTIVE_AVG[nd](x, output_size)
    np.testing.assert_allclose(out, ref.adaptive_avg_pool_forward(x, expected), rtol=1e-13, atol=1e-14)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(F.adaptive_avg_pool2d_backward(dout, cache),
                               ref.adaptive_avg_pool_backward(dout, x.shape), rtol=1e-13, atol=1e-14)


def test_adaptive_windows_are_pytorch_s():
    """7 -> 3: windows [0, 3) [2, 5) [4, 7), overlapping where 3 does not divide 7."""
    x = np.arange(7.0)[None, None]
    out, _ = F.adaptive_avg_pool1d(x, 3)
    np.testing.assert_allclose(out, [[[1.0, 3.0, 5.0]]])
    (out, idx), _ = F.adaptive_max_pool1d(x, 3, return_indices=True)
    np.testing.assert_array_equal(idx, [[[2, 4, 6]]])
    # output larger than the input repeats elements
    out, _ = F.adaptive_avg_pool1d(np.array([[[1.0, 2.0]]]), 5)
    np.testing.assert_allclose(out, [[[1.0, 1.0, 1.5, 2.0, 2.0]]])


def test_global_pooling_and_empty_outputs():
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 7))
    out, _ = F.adaptive_avg_pool2d(x, 1)
    np.testing.assert_allclose(out, x.mean(axis=(2, 3), keepdims=True), rtol=1e-14)
    out, _ = F.adaptive_max_pool2d(x, (1, 1))
    np.testing.assert_array_equal(out, x.max(axis=(2, 3), keepdims=True))
    out, _ = F.adaptive_avg_pool2d(x, (None, 1))
    np.testing.assert_allclose(out, x.mean(axis=3, keepdims=True), rtol=1e-14)
    # output size 0 gives an empty result, as in PyTorch
    out, cache = F.adaptive_avg_pool2d(x, (0, 2))
    assert out.shape == tuple(TF.adaptive_avg_pool2d(torch.tensor(x), (0, 2)).shape) == (2, 3, 0, 2)
    np.testing.assert_array_equal(F.adaptive_avg_pool2d_backward(out, cache), np.zeros_like(x))
    (out, idx), cache = F.adaptive_max_pool2d(x, 0, return_indices=True)
    assert out.shape == idx.shape == (2, 3, 0, 0)
    np.testing.assert_array_equal(F.adaptive_max_pool2d_backward(out, cache), np.zeros_like(x))


# ---------------------------------------------------------------------------- adaptive max
def compare_adaptive_max(nd, x, output_size, dtype, seed=0):
    x = x.astype(dtype)
    (out, idx), cache = ADAPTIVE_MAX[nd](x, output_size, return_indices=True)
    tx = torch.tensor(x, requires_grad=True)
    t_out, t_idx = getattr(TF, f"adaptive_max_pool{nd}d")(tx, output_size, return_indices=True)
    assert_close(out, t_out, dtype, "forward output")
    np.testing.assert_array_equal(idx, t_idx.numpy(), err_msg="indices differ from torch")
    upstream = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    dx = F.adaptive_max_pool2d_backward(upstream, cache)
    t_out.backward(torch.from_numpy(upstream))
    assert_close(dx, tx.grad, dtype, "input gradient")
    assert out.dtype == dx.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@given(case=st.data(), seed=st.integers(0, 2**16), values=st.sampled_from(["normal", "ties", "nan"]))
def test_adaptive_max_pool_matches_torch(nd, dtype, case, seed, values):
    """Random values, ties from {0, 1, 2} (first maximum wins), and NaN (the maximum)."""
    shape, output_size, _ = case.draw(adaptive_case(nd, allow_none=nd != 3))
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, shape).astype(np.float64) if values == "ties" else rng.standard_normal(shape)
    if values == "nan":
        x[rng.random(shape) < 0.15] = np.nan
    compare_adaptive_max(nd, x, output_size, dtype, seed)


@pytest.mark.parametrize("nd", [1, 2, 3])
@given(case=st.data(), seed=st.integers(0, 2**16), ties=st.booleans())
def test_adaptive_max_pool_equals_reference(nd, case, seed, ties):
    shape, output_size, expected = case.draw(adaptive_case(nd))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1,) * (nd + 2 - len(shape)) + shape)
    if ties:
        x = np.round(x)
    (out, idx), cache = ADAPTIVE_MAX[nd](x, output_size, return_indices=True)
    r_out, r_idx = ref.adaptive_max_pool_forward(x, expected)
    np.testing.assert_array_equal(out, r_out)
    np.testing.assert_array_equal(idx, r_idx)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(F.adaptive_max_pool2d_backward(dout, cache), ref.max_pool_backward(dout, r_idx, x.shape),
                               rtol=1e-14, atol=1e-14)


def test_adaptive_errors():
    x = np.zeros((1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"adaptive_avg_pool2d: expected output_size >= 0 on every axis, got "
                                         r"\(2, -1\) for an input of shape \(1, 2, 4, 4\)"):
        F.adaptive_avg_pool2d(x, (2, -1))
    with pytest.raises(TypeError, match=r"expected output_size to be an int or a tuple of 2 ints .*got \(2, 2, 2\)"):
        F.adaptive_max_pool2d(x, (2, 2, 2))
    with pytest.raises(TypeError, match="adaptive_avg_pool1d: expected output_size to be an int, got None"):
        F.adaptive_avg_pool1d(np.zeros((2, 5)), None)
    with pytest.raises(TypeError, match="got 2.5"):
        F.adaptive_avg_pool2d(x, 2.5)
    with pytest.raises(ValueError, match=r"AdaptiveMaxPool3d: expected a 4-D or 5-D input .* got shape \(4, 4\)"):
        F.pool_adaptive._adaptive_max_pool(np.zeros((4, 4)), 3, 2, False, "AdaptiveMaxPool3d")
    with pytest.raises(ValueError, match=r"non-empty spatial dimensions, got input of shape \(1, 2, 0, 4\)"):
        F.adaptive_avg_pool2d(np.zeros((1, 2, 0, 4)), 2)


# ---------------------------------------------------------------------------- max-unpooling
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd", [1, 2, 3])
@given(data=st.data(), seed=st.integers(0, 2**16), give_size=st.sampled_from(["none", "spatial", "full"]))
def test_max_unpool_matches_torch(nd, dtype, data, seed, give_size):
    case = data.draw(window_case(nd, dilation=False, max_extra=4 if nd == 3 else 6))
    rng = np.random.default_rng(seed)
    pool = getattr(F, f"max_pool{nd}d")
    (pooled, idx), _ = pool(rng.standard_normal(case["shape"]), case["kernel"], case["stride"], case["padding"],
                            ceil_mode=case["ceil_mode"], return_indices=True)
    kwargs = dict(kernel_size=case["kernel"], stride=case["stride"], padding=case["padding"])
    if give_size == "spatial":
        kwargs["output_size"] = case["shape"][-nd:]
    elif give_size == "full":
        assume(len(case["shape"]) == nd + 2)
        kwargs["output_size"] = case["shape"]
    else:
        default = [(o - 1) * s - 2 * p + k for o, k, s, p in zip(pooled.shape[-nd:], case["kernel"], case["stride"],
                                                                  case["padding"])]
        assume(min(default) >= 1 and idx.max() < np.prod(default))  # else both refuse the indices
    # The pooled values themselves: where windows overlap, two outputs can share an index, and
    # then they also share their value, so the result does not depend on which write wins.
    check_op(UNPOOL[nd], getattr(F, f"max_unpool{nd}d_backward"), getattr(TF, f"max_unpool{nd}d"),
             [pooled, idx], kwargs=kwargs, dtype=dtype, seed=seed)


@given(seed=st.integers(0, 2**16), kernel=st.integers(1, 3), extra=st.integers(0, 2), n=st.integers(1, 3))
def test_unpool_round_trip(seed, kernel, extra, n):
    """pool -> unpool keeps each maximum in place and zeros the rest; pooling again gives the same."""
    rng = np.random.default_rng(seed)
    x = rng.permutation(n * 2 * 36).reshape(n, 2, 6, 6) + 1.0  # no ties, no zeros
    stride = kernel + extra  # windows do not overlap
    (out, idx), _ = F.max_pool2d(x, kernel, stride, return_indices=True)
    restored, _ = F.max_unpool2d(out, idx, kernel, stride, output_size=x.shape[-2:])
    assert restored.shape == x.shape
    kept = restored != 0
    np.testing.assert_array_equal(restored[kept], x[kept])
    assert kept.sum() == out.size
    (again, idx_again), _ = F.max_pool2d(np.where(kept, restored, -1.0), kernel, stride, return_indices=True)
    np.testing.assert_array_equal(again, out)
    np.testing.assert_array_equal(idx_again, idx)


def test_unpool_backward_gathers_at_the_indices():
    x = np.array([[[[5.0, 7.0]]]])
    idx = np.array([[[[3, 0]]]])
    out, cache = F.max_unpool2d(x, idx, (2, 1), output_size=(2, 2))
    np.testing.assert_array_equal(out, [[[[7.0, 0.0], [0.0, 5.0]]]])
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    dx, none = F.max_unpool2d_backward(dout, cache)
    assert none is None
    np.testing.assert_array_equal(dx, [[[[4.0, 1.0]]]])
    # int32 indices are accepted too
    out32, _ = F.max_unpool2d(x, idx.astype(np.int32), (2, 1))
    np.testing.assert_array_equal(out32, out)


def test_unpool_errors():
    x = np.ones((1, 1, 2, 2))
    idx = np.zeros((1, 1, 2, 2), dtype=np.int64)
    with pytest.raises(ValueError, match=r"max_unpool2d: index 100 at position \(0, 0, 1, 1\) is outside the output "
                                         r"plane of 4 x 4 = 16 elements"):
        F.max_unpool2d(x, np.array([[[[0, 1], [2, 100]]]]), 2)
    with pytest.raises(ValueError, match="index -1 at position"):
        F.max_unpool2d(x, -np.ones((1, 1, 2, 2), dtype=np.int64), 2)
    with pytest.raises(ValueError, match=r"expected indices of the input's shape \(1, 1, 2, 2\), got \(1, 1, 2, 1\)"):
        F.max_unpool2d(x, idx[..., :1], 2)
    with pytest.raises(TypeError, match="expected indices to be an integer array .* got an array of dtype float64"):
        F.max_unpool2d(x, idx.astype(np.float64), 2)
    with pytest.raises(ValueError, match=r"output_size \(6, 5\) is out of range for an input of shape \(1, 1, 2, 2\): "
                                         r"axis 0 must be strictly between 2 and 6 \(default \(4, 4\)\)"):
        F.max_unpool2d(x, idx, 2, output_size=(6, 5))
    with pytest.raises(ValueError, match=r"expected output_size with 2 or 4 entries, got \(1, 5, 5\)"):
        F.max_unpool2d(x, idx, 2, output_size=(1, 5, 5))
    with pytest.raises(ValueError, match=r"output would have spatial size \(0, 0\)"):
        F.max_unpool2d(np.ones((1, 1, 1, 1)), np.zeros((1, 1, 1, 1), dtype=np.int64), 2, padding=1)
    with pytest.raises(ValueError, match=r"max_unpool2d: expected a 3-D or 4-D input .* got shape \(2, 2\)"):
        F.max_unpool2d(np.ones((2, 2)), np.zeros((2, 2), dtype=np.int64), 2)
