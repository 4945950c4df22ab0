"""Batch norm: functional pair, BatchNorm1d/2d/3d, the fused kernels.

Inputs are drawn with at least three values per channel wherever gradients
are compared in training mode: with two values xhat is +-1, the true dx is
about eps / var times smaller than the terms it is computed from, and any
implementation's rounding (ours or PyTorch's) dominates it.

Upstream gradients are random and drawn from a different stream than the
inputs (the same seed would make dy an affine function of x, whose true dx
is zero).
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import numconv
from numconv import functional as F
from numconv import nn
from numconv.kernels import norm as K
from numconv.reference import norm as R

torch = pytest.importorskip("torch")
from parity import assert_close, check_module, check_op  # noqa: E402


DTYPES = [np.float64, np.float32]
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
UPSTREAM_SEED = 1_000_003  # added to the data seed: dy never equals x's stream
RANKS = {"BatchNorm1d": (2, 3), "BatchNorm2d": (4,), "BatchNorm3d": (5,)}


def data(rng, shape, dtype=np.float64):
    """Values with an offset and a spread that differ per draw (not only N(0, 1))."""
    offset = rng.uniform(-3, 3)
    scale = rng.uniform(0.5, 3)
    return (offset + scale * rng.standard_normal(shape)).astype(dtype)


@st.composite
def bn_shapes(draw, ranks=(2, 3, 4, 5), min_per_channel=3):
    rank = draw(st.sampled_from(ranks))
    n = draw(st.integers(1, 4))
    c = draw(st.integers(1, 4))
    spatial = tuple(draw(st.integers(1, 4)) for _ in range(rank - 2))
    assume(n * math.prod(spatial) >= min_per_channel)
    return (n, c) + spatial


def pair(cls_name, **kwargs):
    """The same layer in numconv and in PyTorch."""
    return getattr(nn, cls_name)(**kwargs), getattr(torch.nn, cls_name)(**kwargs)


# ---------------------------------------------------------------------------- functional
@pytest.mark.parametrize("dtype", DTYPES)
@given(
    shape=bn_shapes(),
    training=st.booleans(),
    affine=st.sampled_from(["both", "weight", "none"]),
    with_running=st.booleans(),
    momentum=st.floats(0.0, 1.0),
    eps=st.sampled_from([1e-5, 1e-3, 0.5]),
    algorithm=st.sampled_from(["auto", "numba", "numpy"]),
    seed=st.integers(0, 2**16),
)
def test_batch_norm_functional_matches_torch(dtype, shape, training, affine, with_running, momentum, eps,
                                             algorithm, seed):
    assume(with_running or training)
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = data(rng, shape)
    w = rng.standard_normal(c) if affine != "none" else None
    b = rng.standard_normal(c) if affine == "both" else None
    rm, rv = rng.standard_normal(c).astype(dtype), rng.uniform(0.2, 3, c).astype(dtype)
    t_rm, t_rv = torch.tensor(rm), torch.tensor(rv)
    if not with_running:
        rm = rv = t_rm = t_rv = None

    def ours(x, w, b):
        return F.batch_norm(x, rm, rv, w, b, training, momentum, eps, algorithm=algorithm)

    def theirs(x, w, b):
        return torch.nn.functional.batch_norm(x, t_rm, t_rv, w, b, training, momentum, eps)

    check_op(ours, F.batch_norm_backward, theirs, [x, w, b], dtype=dtype, seed=seed + UPSTREAM_SEED)
    if with_running:  # updated in place, like PyTorch's
        assert_close(rm, t_rm, dtype, "running_mean")
        assert_close(rv, t_rv, dtype, "running_var")
        assert rm.dtype == dtype


def test_batch_norm_functional_equals_naive_reference():
    rng = np.random.default_rng(5)
    x = data(rng, (3, 4, 5))
    gamma, beta, dy = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal((3, 4, 5))
    y_ref, mean_ref, var_ref = R.batch_norm_train_naive(x, gamma, beta)
    dx_ref, dgamma_ref, dbeta_ref = R.batch_norm_train_backward_naive(dy, x, gamma)
    for algorithm in ("numba", "numpy"):
        running_mean, running_var = np.zeros(4), np.ones(4)
        y, cache = F.batch_norm(x, running_mean, running_var, gamma, beta, True, 1.0, algorithm=algorithm)
        np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(running_mean, mean_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(running_var, var_ref * 15 / 14, rtol=1e-12)  # unbiased: n / (n - 1)
        dx, dgamma, dbeta = F.batch_norm_backward(dy, cache)
        np.testing.assert_allclose(dx, dx_ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dgamma, dgamma_ref, rtol=1e-12)
        np.testing.assert_allclose(dbeta, dbeta_ref, rtol=1e-12)


def test_batch_norm_functional_gradcheck_train_and_eval():
    rng = np.random.default_rng(2)
    x, w, b = data(rng, (3, 2, 4)), rng.standard_normal(2), rng.standard_normal(2)
    rm, rv = rng.standard_normal(2), rng.uniform(0.5, 2, 2)
    for training in (True, False):
        def op(x, w, b):
            return F.batch_norm(x, rm.copy(), rv.copy(), w, b, training)

        assert numconv.gradcheck(op, x, w, b, backward=F.batch_norm_backward, raise_exception=True)


def test_batch_norm_functional_keeps_dtype_and_leaves_dout_alone():
    rng = np.random.default_rng(0)
    x = data(rng, (4, 3, 5), np.float32)
    out, cache = F.batch_norm(x, None, None, training=True)
    assert out.dtype == np.float32
    dout = rng.standard_normal(out.shape).astype(np.float32)
    before = dout.copy()
    dx, dw, db = F.batch_norm_backward(dout, cache)
    assert dx.dtype == np.float32 and dw is None and db is None
    np.testing.assert_array_equal(dout, before)


def test_batch_norm_functional_errors():
    x = np.zeros((4, 3, 2))
    with pytest.raises(ValueError, match=r"running_mean of shape \(3,\).*\(4, 3, 2\).*\(4,\)"):
        F.batch_norm(x, np.zeros(4), np.ones(4))
    with pytest.raises(ValueError, match=r"weight of shape \(3,\)"):
        F.batch_norm(x, None, None, np.ones(2), training=True)
    with pytest.raises(ValueError, match="training=False.*None"):
        F.batch_norm(x, None, None)
    with pytest.raises(ValueError, match="both running_mean and running_var"):
        F.batch_norm(x, np.zeros(3), None, training=True)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size \(1, 3\)"):
        F.batch_norm(np.zeros((1, 3)), None, None, training=True)
    with pytest.raises(ValueError, match="eps must be positive"):
        F.batch_norm(x, None, None, training=True, eps=0.0)
    with pytest.raises(ValueError, match="algorithm"):
        F.batch_norm(x, None, None, training=True, algorithm="cudnn")
    with pytest.raises(TypeError, match="int64"):
        F.batch_norm(np.zeros((4, 3), dtype=np.int64), None, None, training=True)
    with pytest.raises(ValueError, match=r"at least 2 axes, got shape \(5,\)"):
        F.batch_norm(np.zeros(5), None, None, training=True)
    _, cache = F.batch_norm(x, None, None, training=True)
    with pytest.raises(ValueError, match=r"dout of shape \(4, 3, 2\).*\(4, 3\)"):
        F.batch_norm_backward(np.zeros((4, 3)), cache)


# ---------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=bn_shapes(ranks=(3,), min_per_channel=1), offset=st.sampled_from([0.0, 5.0, -1e3]),
       seed=st.integers(0, 2**16))
def test_kernels_equal_their_numpy_expressions(dtype, shape, offset, seed):
    rng = np.random.default_rng(seed)
    x = (offset + rng.standard_normal(shape)).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    c = shape[1]
    x64 = x.astype(np.float64)

    mean, var = np.empty(c), np.empty(c)
    K.batch_norm_stats(x, mean, var)
    np.testing.assert_allclose(mean, x64.mean(axis=(0, 2)), rtol=1e-13, atol=1e-12)
    # The one-pass variance (shifted by the first value) stays accurate next to a large mean.
    np.testing.assert_allclose(var, x64.var(axis=(0, 2)), rtol=1e-9, atol=1e-12)

    mu, scale, shift = (rng.standard_normal(c).astype(dtype) for _ in range(3))
    out = np.empty_like(x)
    K.batch_norm_apply(x, mu, scale, shift, out)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    expected = (x - mu[:, None]) * scale[:, None] + shift[:, None]
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol * np.abs(expected).max())

    sum_dy, sum_dy_xmu = np.empty(c), np.empty(c)
    K.batch_norm_backward_sums(dy, x, mean, sum_dy, sum_dy_xmu)
    dy64 = dy.astype(np.float64)
    np.testing.assert_allclose(sum_dy, dy64.sum(axis=(0, 2)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sum_dy_xmu, (dy64 * (x64 - mean[:, None])).sum(axis=(0, 2)), rtol=1e-9, atol=1e-9)

    a, b, c0 = (rng.standard_normal(c).astype(dtype) for _ in range(3))
    dx = np.empty_like(x)
    K.batch_norm_backward_apply(dy, x, mu, a, b, c0, dx)
    expected = a[:, None] * dy + b[:, None] * (x - mu[:, None]) + c0[:, None]
    np.testing.assert_allclose(dx, expected, rtol=tol, atol=tol * np.abs(expected).max())


def test_stats_kernel_propagates_nan_and_handles_empty_channels():
    x = np.ones((2, 2, 3))
    x[1, 0, 2] = np.nan
    mean, var = np.empty(2), np.empty(2)
    K.batch_norm_stats(x, mean, var)
    assert np.isnan(mean[0]) and np.isnan(var[0])
    assert mean[1] == 1 and var[1] == 0
    K.batch_norm_stats(np.zeros((0, 2, 3)), mean, var)
    assert np.isnan(mean).all()


def test_numba_and_numpy_algorithms_agree():
    rng = np.random.default_rng(3)
    x = data(rng, (5, 3, 7, 6))
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    dy = rng.standard_normal(x.shape)
    results = []
    for algorithm in ("numba", "numpy"):
        out, cache = F.batch_norm(x, None, None, w, b, True, algorithm=algorithm)
        results.append((out,) + F.batch_norm_backward(dy, cache))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-13)


# ---------------------------------------------------------------------------- modules vs torch
@pytest.mark.parametrize("dtype", DTYPES)
@given(
    shape=bn_shapes(),
    affine=st.booleans(),
    bias=st.booleans(),
    track=st.booleans(),
    momentum=st.sampled_from([0.1, 0.5, None]),
    eps=st.sampled_from([1e-5, 1e-2]),
    seed=st.integers(0, 2**16),
)
def test_batch_norm_modules_train_then_eval_match_torch(dtype, shape, affine, bias, track, momentum, eps, seed):
    cls_name = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d", 5: "BatchNorm3d"}[len(shape)]
    kwargs = dict(num_features=shape[1], eps=eps, momentum=momentum, affine=affine, track_running_stats=track,
                  bias=bias)
    ours, theirs = pair(cls_name, **kwargs)
    rng = np.random.default_rng(seed)
    if affine:  # start from non-trivial parameters
        ours.weight.data[...] = rng.standard_normal(shape[1])
        if bias:
            ours.bias.data[...] = rng.standard_normal(shape[1])
    steps = [data(rng, shape) for _ in range(3)]
    # dweight = sum(dy * x_hat) and dbias = sum(dy) over a channel's values can
    # cancel to almost zero (with 3 values per channel, often); their float32
    # error is measured against the size of the summed terms.
    axes = (0,) + tuple(range(2, len(shape)))
    scales = {"weight": lambda x, dy: np.abs(dy * _x_hat(x, axes, eps)).sum(axis=axes, dtype=np.float64),
              "bias": lambda x, dy: np.abs(dy).sum(axis=axes, dtype=np.float64)}
    check_module(ours, theirs, [steps], dtype=dtype, seed=seed + UPSTREAM_SEED, steps=3, term_scales=scales)
    if track:
        assert int(ours.num_batches_tracked) == 3
        assert ours.num_batches_tracked.dtype == np.int64 and ours.num_batches_tracked.shape == ()
    ours.eval()
    theirs.eval()
    check_module(ours, theirs, [data(rng, shape)], dtype=dtype, seed=seed + 2 * UPSTREAM_SEED)


def _x_hat(x, axes, eps):
    """The normalised input of a training-mode batch norm, in float64."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)


@pytest.mark.parametrize("dtype", DTYPES)
def test_momentum_none_is_a_cumulative_average(dtype):
    rng = np.random.default_rng(11)
    ours, theirs = pair("BatchNorm2d", num_features=3, momentum=None)
    batches = [data(rng, (4, 3, 3, 3)) for _ in range(4)]
    check_module(ours, theirs, [batches], dtype=dtype, seed=UPSTREAM_SEED, steps=4)
    # With momentum=None every batch weighs 1/4 in the end.
    means = [b.astype(dtype).mean(axis=(0, 2, 3), dtype=np.float64) for b in batches]
    np.testing.assert_allclose(ours.running_mean, np.mean(means, axis=0), rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("cls_name, shape", [("BatchNorm1d", (1, 2, 5)), ("BatchNorm2d", (1, 2, 3, 3)),
                                             ("BatchNorm3d", (1, 1, 2, 2, 2)), ("BatchNorm2d", (5, 1, 2, 2)),
                                             ("BatchNorm1d", (3, 1))])
@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_of_one_with_spatial_extent_and_one_channel(cls_name, shape, dtype):
    rng = np.random.default_rng(4)
    ours, theirs = pair(cls_name, num_features=shape[1])
    check_module(ours, theirs, [[data(rng, shape) for _ in range(2)]], dtype=dtype, seed=7, steps=2)


def test_batch_of_one_value_per_channel_is_an_error_in_training_only():
    layer = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d: Expected more than 1 value per channel when training, "
                                         r"got input size \(1, 3\)"):
        layer(np.zeros((1, 3), dtype=np.float32))
    assert int(layer.num_batches_tracked) == 0  # nothing half-updated
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm2d(2)(np.zeros((1, 2, 1, 1), dtype=np.float32))
    # Without running statistics, eval mode uses batch statistics too, so the same error.
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3, track_running_stats=False).eval()(np.zeros((1, 3), dtype=np.float32))
    # With running statistics, eval mode normalises a single sample fine (as PyTorch).
    ours, theirs = pair("BatchNorm1d", num_features=3)
    ours.running_mean[...] = [0.5, -1, 2]
    ours.running_var[...] = [2, 0.5, 1]
    ours.eval()
    check_module(ours, theirs, [np.random.default_rng(0).standard_normal((1, 3))], dtype=np.float64)


def test_empty_batch_matches_torch():
    ours, theirs = pair("BatchNorm1d", num_features=3)
    ours.running_mean[...] = 1.5
    copied = ours.state_dict()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in copied.items()})
    out = ours(np.zeros((0, 3), dtype=np.float32))
    t_out = theirs(torch.zeros(0, 3))
    assert out.shape == tuple(t_out.shape)
    for name, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[name], value.numpy())
    dx = ours.backward(np.zeros((0, 3), dtype=np.float32))
    assert dx.shape == (0, 3)
    np.testing.assert_array_equal(ours.weight.grad, 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tracking_switched_off_after_construction_freezes_then_uses_the_buffers(dtype):
    # PyTorch's rule: with buffers present but track_running_stats=False, training
    # leaves them alone (batch statistics, no count) and eval still uses them.
    rng = np.random.default_rng(12)
    ours, theirs = pair("BatchNorm1d", num_features=3)
    ours.running_mean[...] = rng.standard_normal(3)
    ours.running_var[...] = rng.uniform(0.5, 2, 3)
    ours.track_running_stats = theirs.track_running_stats = False
    frozen = ours.state_dict()
    check_module(ours, theirs, [[data(rng, (4, 3, 2)) for _ in range(2)]], dtype=dtype, seed=UPSTREAM_SEED, steps=2)
    for name, value in frozen.items():
        np.testing.assert_array_equal(ours.state_dict()[name], value.astype(ours.state_dict()[name].dtype))
    ours.eval()
    check_module(ours, theirs, [data(rng, (4, 3, 2))], dtype=dtype, seed=UPSTREAM_SEED + 1)


def test_no_affine_no_running_stats_accepts_any_channel_count_as_torch():
    ours, theirs = pair("BatchNorm2d", num_features=3, affine=False, track_running_stats=False)
    x = np.random.default_rng(0).standard_normal((3, 5, 2, 2))
    check_module(ours, theirs, [x], dtype=np.float64, seed=UPSTREAM_SEED)


# ---------------------------------------------------------------------------- gradcheck
@pytest.mark.parametrize("cls_name, shape", [("BatchNorm1d", (5, 3)), ("BatchNorm1d", (2, 3, 4)),
                                             ("BatchNorm2d", (2, 3, 3, 2)), ("BatchNorm3d", (2, 2, 2, 2, 2))])
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("options", [{}, {"affine": False}, {"track_running_stats": False}, {"momentum": None},
                                     {"bias": False}])
def test_batch_norm_gradcheck(cls_name, shape, mode, options):
    rng = np.random.default_rng(8)
    layer = getattr(nn, cls_name)(shape[1], **options).double()
    if layer.affine:
        layer.weight.data[...] = rng.standard_normal(shape[1])
        if layer.bias is not None:
            layer.bias.data[...] = rng.standard_normal(shape[1])
    if layer.track_running_stats:
        layer.running_mean[...] = rng.standard_normal(shape[1])
        layer.running_var[...] = rng.uniform(0.5, 2, shape[1])
    layer.train(mode == "train")
    assert numconv.gradcheck(layer, data(rng, shape), raise_exception=True)


# ---------------------------------------------------------------------------- state, repr, errors
def test_state_dict_round_trip_with_torch():
    rng = np.random.default_rng(9)
    theirs = torch.nn.BatchNorm2d(3)
    with torch.no_grad():
        theirs.weight.copy_(torch.randn(3))
    for _ in range(2):
        theirs(torch.tensor(data(rng, (4, 3, 2, 2), np.float32)))
    ours = nn.BatchNorm2d(3)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict()) == [
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert int(ours.num_batches_tracked) == 2 and ours.num_batches_tracked.dtype == np.int64
    ours.eval()
    theirs.eval()
    x = data(rng, (2, 3, 2, 2), np.float32)
    assert_close(ours(x), theirs(torch.tensor(x)), np.float32, "eval output after loading torch's state")
    ours.train()
    ours(data(rng, (4, 3, 2, 2), np.float32))
    back = torch.nn.BatchNorm2d(3)
    back.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()}, strict=True)
    assert int(back.num_batches_tracked) == 3
    for name, value in back.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), ours.state_dict()[name])


@pytest.mark.parametrize("kwargs", [
    dict(num_features=3), dict(num_features=64, eps=1e-3, momentum=None), dict(num_features=2, affine=False),
    dict(num_features=5, track_running_stats=False, bias=False), dict(num_features=4, momentum=0.01, eps=0.1),
])
@pytest.mark.parametrize("cls_name", ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"])
def test_repr_parameters_and_buffers_match_torch(cls_name, kwargs):
    ours, theirs = pair(cls_name, **kwargs)
    assert repr(ours) == repr(theirs)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    for name, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[name], value.numpy())
    assert all(v.dtype in (np.float32, np.int64) for v in ours.state_dict().values())


def test_module_errors_name_shapes():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected a 4-D input \(N, C, H, W\), got shape \(3, 4, 4\)"):
        nn.BatchNorm2d(3)(np.zeros((3, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected a 2-D or 3-D input"):
        nn.BatchNorm1d(3)(np.zeros((2, 3, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected input with 3 channels on axis 1 "
                                         r"\(num_features=3\), got input of shape \(2, 4, 5, 5\)"):
        nn.BatchNorm2d(3)(np.zeros((2, 4, 5, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"channels.*\(2, 4, 5, 5\)"):
        nn.BatchNorm2d(3, affine=False)(np.zeros((2, 4, 5, 5), dtype=np.float32))
    with pytest.raises(TypeError, match="uint8"):
        nn.BatchNorm2d(3)(np.zeros((2, 3, 5, 5), dtype=np.uint8))
    with pytest.raises(RuntimeError, match="no forward pass"):
        nn.BatchNorm1d(3).backward(np.zeros((2, 3)))
    layer = nn.BatchNorm1d(3)
    layer(np.ones((4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"grad_output of shape \(4, 3\).*\(3, 4\)"):
        layer.backward(np.zeros((3, 4)))
    with pytest.raises(TypeError, match="num_features"):
        nn.BatchNorm1d(3.0)
    with pytest.raises(TypeError, match="momentum"):
        nn.BatchNorm1d(3, momentum="fast")


def test_module_dtype_handling_and_no_grad():
    layer = nn.BatchNorm2d(2)
    assert layer.weight.dtype == np.float32 and layer.running_var.dtype == np.float32
    x = np.random.default_rng(0).standard_normal((3, 2, 2, 2))
    y = layer(x)
    assert y.dtype == np.float32
    dy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    before = dy.copy()
    dx = layer.backward(dy)
    assert dx.dtype == np.float64
    np.testing.assert_array_equal(dy, before)
    layer.double()
    assert layer.running_mean.dtype == np.float64 and layer.num_batches_tracked.dtype == np.int64
    with numconv.no_grad():
        layer(x)
    with pytest.raises(RuntimeError, match="no forward pass"):
        layer.backward(dy)
    assert nn.BatchNorm1d(2, dtype=np.float64).weight.dtype == np.float64


def test_parameter_gradients_accumulate():
    rng = np.random.default_rng(0)
    layer = nn.BatchNorm1d(3).double()
    x, dy = data(rng, (4, 3)), rng.standard_normal((4, 3))
    layer(x)
    layer.backward(dy)
    first = layer.weight.grad.copy()
    layer(x)
    layer.backward(dy)
    np.testing.assert_allclose(layer.weight.grad, 2 * first)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_two_workers_give_the_same_bits_as_one(monkeypatch, dtype):
    """Large inputs are split between two threads (samples for the passes, channels for the sums)."""
    import importlib

    from numconv.kernels import workers

    norm_module = importlib.import_module("numconv.functional.norm")
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((3, 5, 4, 4)).astype(dtype), rng.standard_normal((3, 5, 4, 4)).astype(dtype)
    weight, bias = rng.uniform(0.5, 1.5, 5).astype(dtype), rng.standard_normal(5).astype(dtype)
    results = []
    for split_from in (10**9, 0):  # never split, always split
        monkeypatch.setattr(norm_module, "_SPLIT_MIN_ELEMENTS", split_from)
        workers.set_num_workers(2)
        try:
            running = [np.zeros(5, dtype), np.ones(5, dtype)]
            out, cache = F.batch_norm(x, *running, weight, bias, training=True)
            results.append((out, *F.batch_norm_backward(dy, cache), *running))
        finally:
            workers.set_num_workers(None)
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
