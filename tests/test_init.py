"""Initialisers against torch.nn.init: gains, fans, bounds, statistics, seeding, errors.

The random streams differ from PyTorch's, so values are compared through
their statistics: bounds exactly, standard deviations within sampling error
(5 standard errors) of the value PyTorch's own formula gives.
"""

import math
import warnings

import numpy as np
import pytest

import numconv
from numconv import init
from numconv.nn import Parameter

torch = pytest.importorskip("torch")
tinit = torch.nn.init

NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid", "tanh", "relu", "selu"]
FAN_SHAPES = [(3, 5), (7, 1), (1, 9), (6, 4, 5), (8, 3, 3, 3), (4, 2, 3, 1, 5), (2, 3, 0, 4), (0, 3)]


def _sampling_ok(values, std, what, mean=0.0):
    """Sample mean and std of ``values`` within 5 standard errors of ``mean`` and ``std``."""
    v = np.asarray(values, dtype=np.float64).ravel()
    n = v.size
    assert abs(v.mean() - mean) <= 5 * std / math.sqrt(n), f"{what}: mean {v.mean()} vs {mean}"
    # The sample std's standard error is about std * sqrt((kurtosis - 1) / (4 n)).
    centred = v - v.mean()
    kurtosis = np.mean(centred**4) / np.mean(centred**2) ** 2
    tolerance = 5 * std * math.sqrt((kurtosis - 1) / (4 * n))
    assert abs(v.std() - std) <= tolerance, f"{what}: std {v.std()} vs {std} (tolerance {tolerance:.2e})"


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_gain_equals_torch(nonlinearity):
    assert init.calculate_gain(nonlinearity) == tinit.calculate_gain(nonlinearity)


@pytest.mark.parametrize("slope", [None, 0, 0.01, 0.2, 1, 3, math.sqrt(5), np.float64(0.3)])
def test_leaky_relu_gain_equals_torch(slope):
    assert init.calculate_gain("leaky_relu", slope) == tinit.calculate_gain("leaky_relu", slope)


def test_gain_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'softmax'"):
        init.calculate_gain("softmax")
    with pytest.raises(ValueError, match="negative_slope True is not a valid number"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "0.1")


@pytest.mark.parametrize("shape", FAN_SHAPES)
def test_fans_equal_torch(shape):
    ours = init.calculate_fan_in_and_fan_out(np.empty(shape))
    theirs = tinit._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert ours == theirs
    assert init.calculate_fan_in_and_fan_out(Parameter(np.empty(shape, dtype=np.float32))) == theirs


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions, got shape \(5,\)"):
        init.calculate_fan_in_and_fan_out(np.zeros(5))


# ---------------------------------------------------------------------------- distributions
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniform_and_normal(dtype):
    x = np.empty((400, 500), dtype=dtype)
    assert init.uniform_(x, -0.5, 1.5) is x and x.dtype == dtype
    assert x.min() >= -0.5 and x.max() <= 1.5 and x.min() < -0.49 and x.max() > 1.49
    _sampling_ok(x, 2 / math.sqrt(12), "uniform_", mean=0.5)
    init.normal_(x, 3.0, 0.25)
    _sampling_ok(x, 0.25, "normal_", mean=3.0)


@pytest.mark.parametrize("shape, gain", [((300, 400), 1.0), ((64, 32, 5, 5), 2.0), ((500, 7, 3), 0.5)])
def test_xavier_bounds_and_std_follow_torchs_formula(shape, gain):
    fan_in, fan_out = tinit._calculate_fan_in_and_fan_out(torch.empty(shape))
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    w = init.xavier_uniform_(np.empty(shape), gain=gain)
    t = tinit.xavier_uniform_(torch.empty(shape, dtype=torch.float64), gain=gain).numpy()
    assert np.abs(w).max() <= bound and np.abs(t).max() <= bound
    assert np.abs(w).max() > 0.99 * bound  # the whole range is used, like torch's
    _sampling_ok(w, std, "xavier_uniform_")
    _sampling_ok(init.xavier_normal_(np.empty(shape), gain=gain), std, "xavier_normal_")
    _sampling_ok(tinit.xavier_normal_(torch.empty(shape, dtype=torch.float64), gain=gain).numpy(), std, "torch")


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity, a", [("relu", 0), ("leaky_relu", 0), ("leaky_relu", math.sqrt(5)),
                                             ("leaky_relu", 0.2), ("tanh", 0), ("linear", 0), ("selu", 0)])
def test_kaiming_follows_torchs_formula(mode, nonlinearity, a):
    shape = (96, 40, 3, 3)
    fan_in, fan_out = tinit._calculate_fan_in_and_fan_out(torch.empty(shape))
    fan = fan_in if mode == "fan_in" else fan_out
    std = tinit.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    w = init.kaiming_uniform_(np.empty(shape, dtype=np.float32), a=a, mode=mode, nonlinearity=nonlinearity)
    assert w.dtype == np.float32
    assert np.abs(w).max() <= np.float32(bound) and np.abs(w).max() > 0.99 * bound
    _sampling_ok(w, std, "kaiming_uniform_")
    _sampling_ok(init.kaiming_normal_(np.empty(shape), a=a, mode=mode, nonlinearity=nonlinearity), std,
                 "kaiming_normal_")


def test_default_layer_init_is_torchs_linear_default():
    w, b = np.empty((200, 300)), np.empty(200)
    init.default_layer_init_(w, b)
    bound = 1 / math.sqrt(300)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound


def _truncated_moments(mean, std, a, b):
    """Mean and std of N(mean, std²) truncated to [a, b] (closed form)."""
    def pdf(z):
        return math.exp(-z * z / 2) / math.sqrt(2 * math.pi) if math.isfinite(z) else 0.0

    def cdf(z):
        return 0.5 * (1 + math.erf(z / math.sqrt(2)))

    al, be = (a - mean) / std, (b - mean) / std
    z = cdf(be) - cdf(al)
    m = (pdf(al) - pdf(be)) / z
    fal = al * pdf(al) if math.isfinite(al) else 0.0
    fbe = be * pdf(be) if math.isfinite(be) else 0.0
    var = 1 + (fal - fbe) / z - m * m
    return mean + std * m, std * math.sqrt(var)


@pytest.mark.parametrize("mean, std, a, b", [
    (0.0, 1.0, -2.0, 2.0),        # torch's default: the normal proposal
    (0.0, 0.02, -0.04, 0.04),     # the usual transformer init
    (1.0, 2.0, -0.5, 0.5),        # a narrow slice: the uniform proposal
    (0.0, 1.0, 1.5, 4.0),         # one side of the tail
    (0.0, 1.0, -math.inf, 0.3),   # one bound infinite
    (5.0, 1.0, -1.0, 1.0),        # mean far outside [a, b] (warns, still correct)
])
def test_trunc_normal(mean, std, a, b):
    x = np.empty((300, 300), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        init.trunc_normal_(x, mean, std, a, b)
    assert x.min() >= a and x.max() <= b
    m, s = _truncated_moments(mean, std, a, b)
    _sampling_ok(x, s, "trunc_normal_", mean=m)
    mass = 0.5 * (math.erf((b - mean) / std / math.sqrt(2)) - math.erf((a - mean) / std / math.sqrt(2)))
    if mass > 0.3:  # torch agrees with the closed form too (its other path is slow: seconds, not ms)
        t = tinit.trunc_normal_(torch.empty(300, 300, dtype=torch.float64), mean, std, a, b).numpy()
        _sampling_ok(t, s, "torch trunc_normal_", mean=m)


def test_trunc_normal_warns_and_refuses_the_impossible():
    with pytest.warns(UserWarning, match="more than 2 std"):
        init.trunc_normal_(np.empty(10), mean=10.0, std=1.0, a=-2.0, b=2.0)
    with pytest.raises(ValueError, match="too little to sample"), pytest.warns(UserWarning):
        init.trunc_normal_(np.empty(10), mean=0.0, std=1.0, a=40.0, b=math.inf)
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(np.empty(10), a=1.0, b=1.0)
    with pytest.raises(ValueError, match="std > 0"):
        init.trunc_normal_(np.empty(10), std=0.0)


@pytest.mark.parametrize("shape", [(6, 6), (10, 4), (4, 10), (8, 3, 3, 3), (3, 2, 5)])
def test_orthogonal(shape):
    numconv.manual_seed(11)
    w = init.orthogonal_(np.empty(shape), gain=1.5)
    flat = w.reshape(shape[0], -1) / 1.5
    rows, cols = flat.shape
    gram = flat.T @ flat if rows >= cols else flat @ flat.T
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-12)
    w32 = init.orthogonal_(np.empty(shape, dtype=np.float32))
    flat = w32.reshape(shape[0], -1).astype(np.float64)
    gram = flat.T @ flat if rows >= cols else flat @ flat.T
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-6)


def test_orthogonal_is_uniform_not_biased_by_qr_signs():
    # Without the sign fix, numpy's QR makes R's diagonal negative and Q's first
    # column anti-correlated with the draw; with it, E[Q] = 0 entrywise.
    numconv.manual_seed(0)
    mean = np.mean([init.orthogonal_(np.empty((3, 3)))[0, 0] for _ in range(4000)])
    assert abs(mean) < 5 * math.sqrt(1 / 3 / 4000)


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2)])
def test_eye_equals_torch(shape):
    np.testing.assert_array_equal(init.eye_(np.full(shape, 7.0)), tinit.eye_(torch.empty(shape)).numpy())


@pytest.mark.parametrize("shape, groups", [((4, 4, 3), 1), ((6, 3, 3, 3), 2), ((4, 6, 2, 4), 1), ((6, 2, 3, 3), 3),
                                           ((2, 3, 3, 3, 3), 1), ((8, 1, 5, 5), 4)])
def test_dirac_equals_torch(shape, groups):
    ours = init.dirac_(np.full(shape, 7.0, dtype=np.float32), groups=groups)
    np.testing.assert_array_equal(ours, tinit.dirac_(torch.empty(shape), groups=groups).numpy())


def test_dirac_makes_an_identity_convolution():
    w = init.dirac_(np.empty((3, 3, 3, 3)))
    x = np.random.default_rng(0).standard_normal((3, 6, 6))
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    out = np.einsum("oikl,ikl->o", w, padded[:, 2:5, 3:6])  # the output pixel at (2, 3)
    np.testing.assert_array_equal(out, x[:, 2, 3])


def test_constant_zeros_ones_and_parameters():
    p = Parameter(np.empty((2, 3), dtype=np.float32))
    assert init.constant_(p, 0.25) is p and np.all(p.data == 0.25) and p.data.dtype == np.float32
    assert np.all(init.zeros_(p).data == 0) and np.all(init.ones_(p).data == 1)


# ---------------------------------------------------------------------------- seeding
@pytest.mark.parametrize("fn", [init.uniform_, init.normal_, init.trunc_normal_, init.xavier_uniform_,
                                init.xavier_normal_, init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_])
def test_seeding_repeats_and_generators_are_independent(fn):
    numconv.manual_seed(42)
    first = fn(np.empty((5, 4)))
    numconv.manual_seed(42)
    np.testing.assert_array_equal(fn(np.empty((5, 4))), first)
    numconv.manual_seed(43)
    assert not np.array_equal(fn(np.empty((5, 4))), first)
    a = fn(np.empty((5, 4)), generator=np.random.default_rng(1))
    b = fn(np.empty((5, 4)), generator=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    # float32 and float64 arrays seeded alike hold the same draws
    numconv.manual_seed(42)
    np.testing.assert_array_equal(fn(np.empty((5, 4), dtype=np.float32)), first.astype(np.float32))


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, error, message", [
    (lambda: init.normal_(np.zeros(3, dtype=np.int64)), TypeError, "float array, got dtype int64"),
    (lambda: init.uniform_([0.0, 1.0]), TypeError, "ndarray or a Parameter, got list"),
    (lambda: init.uniform_(np.zeros(3), 1.0, 0.0), ValueError, "a <= b"),
    (lambda: init.normal_(np.zeros(3), std=-1.0), ValueError, "std >= 0"),
    (lambda: init.normal_(np.zeros(3), generator=np.random.RandomState(0)), TypeError, "numpy.random.Generator"),
    (lambda: init.kaiming_uniform_(np.zeros((3, 3)), mode="fan_avg"), ValueError, "mode 'fan_avg' not supported"),
    (lambda: init.kaiming_normal_(np.zeros((3, 3)), nonlinearity="gelu"), ValueError, "unsupported nonlinearity"),
    (lambda: init.xavier_uniform_(np.zeros(4)), ValueError, "fewer than 2 dimensions"),
    (lambda: init.orthogonal_(np.zeros(4)), ValueError, "2 or more dimensions"),
    (lambda: init.eye_(np.zeros((2, 2, 2))), ValueError, r"only 2-D arrays are supported, got shape \(2, 2, 2\)"),
    (lambda: init.dirac_(np.zeros((2, 2))), ValueError, "3-, 4- or 5-D"),
    (lambda: init.dirac_(np.zeros((5, 2, 3)), groups=2), ValueError, r"dim 0 \(5\) must be divisible by groups \(2\)"),
    (lambda: init.constant_(np.zeros(2), "1"), TypeError, "val to be a number"),
])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_empty_arrays_are_left_alone():
    with pytest.warns(UserWarning, match="no-op"):
        init.kaiming_uniform_(np.empty((0, 3)))
    init.xavier_uniform_(np.empty((0, 0)))
    init.orthogonal_(np.empty((0, 4)))
    init.default_layer_init_(np.empty((4, 0)), np.empty(4))
