"""Activations: PyTorch parity (forward, input gradient, at the kinks, at +-1e4), gradcheck, reprs, errors."""

from collections import namedtuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numconv
from numconv import functional as F
from numconv import nn
from numconv.tools.gradcheck import GradcheckWarning

torch = pytest.importorskip("torch")
from parity import TOL, check_module, check_op, rel_error, upstream_rng  # noqa: E402

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]
# An overflow in exp or an invalid operation is a bug here, not a warning to live with.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

Case = namedtuple("Case", "op backward torch_fn kwargs kinks")
_slope = st.floats(-2.0, 2.0, allow_nan=False).filter(lambda v: v != 0)
_alpha = st.floats(0.1, 3.0)


def _hardtanh_kwargs():
    return st.tuples(st.floats(-3.0, 1.0), st.floats(0.1, 3.0)).map(
        lambda t: {"min_val": t[0], "max_val": t[0] + t[1]})


# Each case: functional pair, torch function, a strategy for its keyword arguments,
# and the points where it has a kink (given the arguments), to be hit exactly.
CASES = {
    "relu": Case(F.relu, F.relu_backward, TF.relu, st.just({}), lambda kw: [0.0]),
    "relu6": Case(F.relu6, F.relu6_backward, TF.relu6, st.just({}), lambda kw: [0.0, 6.0]),
    "leaky_relu": Case(F.leaky_relu, F.leaky_relu_backward, TF.leaky_relu,
                       st.fixed_dictionaries({"negative_slope": _slope}), lambda kw: [0.0]),
    "elu": Case(F.elu, F.elu_backward, TF.elu, st.fixed_dictionaries({"alpha": _alpha}), lambda kw: [0.0]),
    "selu": Case(F.selu, F.selu_backward, TF.selu, st.just({}), lambda kw: [0.0]),
    "celu": Case(F.celu, F.celu_backward, TF.celu, st.fixed_dictionaries({"alpha": _alpha}), lambda kw: [0.0]),
    "gelu": Case(F.gelu, F.gelu_backward, TF.gelu,
                 st.fixed_dictionaries({"approximate": st.sampled_from(["none", "tanh"])}), lambda kw: [0.0]),
    "silu": Case(F.silu, F.silu_backward, TF.silu, st.just({}), lambda kw: [0.0]),
    "mish": Case(F.mish, F.mish_backward, TF.mish, st.just({}), lambda kw: [0.0]),
    "sigmoid": Case(F.sigmoid, F.sigmoid_backward, torch.sigmoid, st.just({}), lambda kw: [0.0]),
    "tanh": Case(F.tanh, F.tanh_backward, torch.tanh, st.just({}), lambda kw: [0.0]),
    "hardtanh": Case(F.hardtanh, F.hardtanh_backward, TF.hardtanh, _hardtanh_kwargs(),
                     lambda kw: [kw["min_val"], kw["max_val"]]),
    "hardsigmoid": Case(F.hardsigmoid, F.hardsigmoid_backward, TF.hardsigmoid, st.just({}), lambda kw: [-3.0, 3.0]),
    "hardswish": Case(F.hardswish, F.hardswish_backward, TF.hardswish, st.just({}), lambda kw: [-3.0, 3.0]),
    "softplus": Case(F.softplus, F.softplus_backward, TF.softplus,
                     st.fixed_dictionaries({"beta": st.floats(0.25, 4.0), "threshold": st.floats(0.5, 25.0)}),
                     lambda kw: [kw["threshold"] / kw["beta"]]),
    "softsign": Case(F.softsign, F.softsign_backward, TF.softsign, st.just({}), lambda kw: [0.0]),
    "threshold": Case(F.threshold, F.threshold_backward, TF.threshold,
                      st.fixed_dictionaries({"threshold": st.floats(-2.0, 2.0), "value": st.floats(-5.0, 5.0)}),
                      lambda kw: [kw["threshold"]]),
}
# Values that overflow a naive exp in float32 (e^89 > float32 max). Softsign is left
# out: PyTorch's own float32 gradient at |x| = 1e4 is off by ~1e-4 (it differentiates
# x / (1 + |x|) as a quotient, with cancellation), so it is no reference there.
EXTREMES = [1e4, -1e4, 1e3, -1e3, 100.0, -100.0, 89.0, -89.0, 30.0, -30.0]
NO_EXTREMES = {"softsign"}

shapes = st.lists(st.integers(0, 5), min_size=0, max_size=4).map(tuple)


def _draw_input(data, shape, kinks, extremes):
    """Normal values at a drawn scale, with some entries replaced by kinks and extreme values.

    Entry 0 is always an ordinary value in [-2, 2], so that the max-norm of the result is
    not set by saturated entries alone: there the float32 reference itself has few correct
    digits (``1 - y**2`` for tanh at y ~ 1, ``y (1 - y)`` for sigmoid, denormals of mish at
    x ~ -89), and a relative error of one such entry measures PyTorch's rounding, not ours.
    """
    seed = data.draw(st.integers(0, 2**16), label="seed")
    scale = data.draw(st.sampled_from([0.3, 1.0, 4.0, 12.0]), label="scale")
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.standard_normal(shape) * scale, dtype=np.float64)
    flat = x.reshape(-1)
    if flat.size:
        flat[0] = rng.uniform(-2.0, 2.0)
    if flat.size and data.draw(st.booleans(), label="inject"):
        positions = rng.choice(flat.size, size=rng.integers(1, flat.size + 1), replace=False)
        flat[positions] = rng.choice(np.array(kinks, dtype=np.float64), size=len(positions))
        if extremes and flat.size > 1:
            positions = 1 + rng.choice(flat.size - 1, size=rng.integers(1, flat.size), replace=False)
            flat[positions] = rng.choice(np.array(EXTREMES), size=len(positions))
    return x, seed


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data(), shape=shapes)
def test_elementwise_matches_torch(name, data, shape):
    case = CASES[name]
    kwargs = data.draw(case.kwargs, label="kwargs")
    x, seed = _draw_input(data, shape, case.kinks(kwargs), name not in NO_EXTREMES)
    for dtype in DTYPES:
        check_op(case.op, case.backward, case.torch_fn, [x], kwargs=kwargs, dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_at_the_kinks_is_torchs(name, dtype):
    """Only kink values in the input, so a wrong one-sided choice dominates the error."""
    case = CASES[name]
    kwarg_sets = {
        "leaky_relu": [{}, {"negative_slope": 0.2}, {"negative_slope": -1.5}],
        "elu": [{}, {"alpha": 2.0}, {"alpha": 0.3}],
        "celu": [{}, {"alpha": 2.0}, {"alpha": 0.5}],
        "gelu": [{"approximate": "none"}, {"approximate": "tanh"}],
        "hardtanh": [{}, {"min_val": -2.0, "max_val": 3.0}, {"min_val": 0.5, "max_val": 0.75}],
        "softplus": [{}, {"beta": 2.0, "threshold": 10.0}, {"beta": 0.5, "threshold": 3.0}],
        "threshold": [{"threshold": 0.5, "value": -2.0}, {"threshold": 0.0, "value": 3.0}],
    }.get(name, [{}])
    for kwargs in kwarg_sets:
        full = {"min_val": -1.0, "max_val": 1.0} if name == "hardtanh" and not kwargs else kwargs
        full = {"beta": 1.0, "threshold": 20.0} if name == "softplus" and not kwargs else full
        kinks = case.kinks(full)
        x = np.array(kinks * 3 + [-0.0] * (0.0 in kinks), dtype=np.float64)
        errors = check_op(case.op, case.backward, case.torch_fn, [x], kwargs=kwargs, dtype=dtype, seed=7)
        assert max(errors.values()) <= TOL[np.dtype(dtype)]


def test_kink_choices_spelled_out():
    """The one-sided choices PyTorch makes, written down (a learner's reference)."""
    one = np.ones(1)

    def grad(op, x, **kw):
        out, cache = op(np.array([x]), **kw)
        return float(getattr(F, op.__name__ + "_backward")(one, cache)[0])

    assert grad(F.relu, 0.0) == 0.0
    assert grad(F.leaky_relu, 0.0, negative_slope=0.2) == 0.2
    assert grad(F.relu6, 0.0) == 0.0 and grad(F.relu6, 6.0) == 0.0
    assert grad(F.hardtanh, -1.0) == 0.0 and grad(F.hardtanh, 1.0) == 0.0
    assert grad(F.elu, 0.0, alpha=2.0) == 2.0
    assert grad(F.celu, 0.0, alpha=2.0) == 1.0
    assert grad(F.hardswish, -3.0) == 0.0 and grad(F.hardswish, 3.0) == 1.0
    assert grad(F.hardsigmoid, -3.0) == 0.0 and grad(F.hardsigmoid, 3.0) == 0.0
    assert grad(F.threshold, 0.5, threshold=0.5, value=1.0) == 0.0
    assert grad(F.softplus, 20.0) == pytest.approx(1 / (1 + np.exp(-20.0)), rel=1e-15)  # not linear yet


@pytest.mark.parametrize("name, kwargs", [
    ("sigmoid", {}), ("softplus", {}), ("silu", {}), ("mish", {}), ("gelu", {"approximate": "none"}),
    ("gelu", {"approximate": "tanh"}), ("elu", {}), ("selu", {}), ("celu", {}), ("tanh", {}), ("softsign", {}),
])
def test_extreme_float32_inputs_stay_finite(name, kwargs):
    """+-1e4 and even +-3e38: finite results, no overflow warning (they are errors in this module)."""
    case = CASES[name]
    x = np.array([1e4, -1e4, 3e38, -3e38, 1e3, -1e3, 89.0, -89.0, 88.7, -104.0, 0.0, 0.7], dtype=np.float32)
    out, cache = case.op(x, **kwargs)
    dx = case.backward(np.ones_like(out), cache)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    assert out.dtype == dx.dtype == np.float32
    # PyTorch's tanh-GELU gives NaN gradients at 3e38 (x**3 overflows), so compare without those.
    xs = x if name != "gelu" else x[np.abs(x) < 1e38]
    if name != "softsign":  # PyTorch's own float32 softsign gradient at 1e4 is off by ~1e-4
        check_op(case.op, case.backward, case.torch_fn, [xs], kwargs=kwargs, dtype=np.float32, seed=3)


def test_sigmoid_saturates_exactly():
    out, _ = F.sigmoid(np.array([1e4, -1e4, 50.0], dtype=np.float32))
    assert out[0] == 1.0 and out[1] == 0.0 and out[2] == 1.0


def test_softplus_linear_above_threshold_exactly_as_torch():
    x = np.array([9.999, 10.0, 10.0001, 30.0, -30.0])
    out, cache = F.softplus(x, beta=2.0, threshold=20.0)
    t = TF.softplus(torch.tensor(x), beta=2.0, threshold=20.0).numpy()
    np.testing.assert_array_equal(out[2:4], x[2:4])  # identity above threshold / beta
    assert rel_error(out, t) <= 1e-15
    # A huge threshold: we stay finite where a naive log1p(exp(z)) overflows.
    out, cache = F.softplus(np.array([1e4], dtype=np.float32), threshold=1e9)
    assert out[0] == np.float32(1e4) and F.softplus_backward(np.ones(1), cache)[0] == 1.0


# ---------------------------------------------------------------------------- PReLU
@given(data=st.data())
def test_prelu_functional_matches_torch(data):
    ndim = data.draw(st.integers(0, 4), label="ndim")
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim), label="shape"))
    per_channel = ndim >= 2 and data.draw(st.booleans(), label="per_channel")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    x.reshape(-1)[: x.size // 3] = 0.0  # kinks: gradient goes to the slope side, dx = a * dout
    w = rng.uniform(-1, 1, size=shape[1] if per_channel else 1)
    for dtype in DTYPES:
        check_op(F.prelu, F.prelu_backward, TF.prelu, [x, w], dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("num_parameters, shape", [(1, (4, 3, 5, 2)), (3, (4, 3, 5, 2)), (3, (2, 3)),
                                                   (1, (7,)), (1, ()), (2, (2, 2, 6)), (5, (3, 5, 2, 2, 2))])
def test_prelu_module_matches_torch(dtype, num_parameters, shape):
    ours = nn.PReLU(num_parameters, init=0.1)
    ours.weight.data[...] = np.linspace(-0.5, 0.7, num_parameters)
    theirs = torch.nn.PReLU(num_parameters)
    x = np.random.default_rng(num_parameters).standard_normal(shape)
    errors = check_module(ours, theirs, [x], dtype=dtype, steps=2)
    assert set(errors) == {"out", "dx", "weight"}


def test_prelu_parameter_and_accumulation():
    layer = nn.PReLU(3, init=0.3)
    assert layer.weight.shape == (3,) and layer.weight.dtype == np.float32
    assert np.all(layer.weight.data == np.float32(0.3))
    assert list(layer.state_dict()) == ["weight"]
    x = np.random.default_rng(0).standard_normal((4, 3, 2)).astype(np.float32)
    g = np.random.default_rng(1).standard_normal((4, 3, 2)).astype(np.float32)
    layer(x)
    layer.backward(g)
    first = layer.weight.grad.copy()
    np.testing.assert_allclose(first, np.where(x > 0, 0, x * g).sum(axis=(0, 2)), rtol=1e-6)
    layer(x)
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * first, rtol=1e-6)
    layer.weight.requires_grad = False
    layer.zero_grad()
    layer(x)
    layer.backward(g)
    assert layer.weight.grad is None  # a frozen parameter gets no gradient, as in PyTorch


def test_prelu_dtype_handling():
    layer = nn.PReLU()
    out = layer(np.array([-1.0, 2.0]))
    assert out.dtype == np.float32
    assert layer.backward(np.ones(2, dtype=np.float32)).dtype == np.float64
    assert nn.PReLU(dtype=np.float64)(np.ones(2, dtype=np.float32)).dtype == np.float64


# ---------------------------------------------------------------------------- softmax family
SOFTMAX = {
    "softmax": (F.softmax, F.softmax_backward, TF.softmax, nn.Softmax, torch.nn.Softmax),
    "log_softmax": (F.log_softmax, F.log_softmax_backward, TF.log_softmax, nn.LogSoftmax, torch.nn.LogSoftmax),
    "softmin": (F.softmin, F.softmin_backward, TF.softmin, nn.Softmin, torch.nn.Softmin),
}


def _draw_softmax_input(data, shape, dim):
    """Values for a softmax along ``dim``: some slices shifted by +-1e4 (overflow without the
    max subtraction), some entries set to +-1e4 (saturated slices), and slice 0 always
    ordinary. In a saturated slice the true gradient is ~0 and is computed by cancellation,
    so a slice with an O(1) gradient must set the max-norm the error is measured against.
    """
    seed = data.draw(st.integers(0, 2**16), label="seed")
    scale = data.draw(st.sampled_from([0.3, 1.0, 4.0, 12.0]), label="scale")
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.standard_normal(shape) * scale, dtype=np.float64)
    if x.ndim == 0:
        x = np.asarray(rng.uniform(-2.0, 2.0))
    else:
        flat = x.reshape(-1)
        if data.draw(st.booleans(), label="saturate"):
            positions = rng.choice(flat.size, size=rng.integers(1, flat.size + 1), replace=False)
            flat[positions] = rng.choice(np.array(EXTREMES), size=len(positions))
        first_slice = tuple(slice(None) if a == dim % x.ndim else 0 for a in range(x.ndim))
        x[first_slice] = rng.uniform(-2.0, 2.0, size=x.shape[dim])
    if data.draw(st.booleans(), label="shift"):
        offset_shape = tuple(1 if a == dim % max(x.ndim, 1) else n for a, n in enumerate(x.shape))
        x = x + rng.choice(np.array([0.0, 1e4, -1e4, 1e3, -1e3, 100.0, -100.0]), size=offset_shape)
    return np.asarray(x, dtype=np.float64), seed


@pytest.mark.parametrize("name", sorted(SOFTMAX))
@given(data=st.data(), shape=st.lists(st.integers(1, 5), min_size=0, max_size=4).map(tuple))
def test_softmax_family_matches_torch_on_every_dim(name, data, shape):
    op, backward, torch_fn, _, _ = SOFTMAX[name]
    ndim = max(len(shape), 1)
    dim = data.draw(st.integers(-ndim, ndim - 1), label="dim")
    x, seed = _draw_softmax_input(data, shape, dim)
    for dtype in DTYPES:
        check_op(op, backward, torch_fn, [x], kwargs={"dim": dim}, dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(SOFTMAX))
def test_softmax_family_extremes(name, dtype):
    op, backward, torch_fn, _, _ = SOFTMAX[name]
    x = np.array([[1e4, -1e4, 0.0, 5.0], [-1e4, -1e4, -1e4, -1e4], [1e4, 1e4, 9999.0, -3.0]])
    out, cache = op(x.astype(dtype), dim=1)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(backward(np.ones_like(out), cache)))
    check_op(op, backward, torch_fn, [x], kwargs={"dim": 1}, dtype=dtype, seed=1)
    check_op(op, backward, torch_fn, [x], kwargs={"dim": -2}, dtype=dtype, seed=2)


@pytest.mark.parametrize("name", sorted(SOFTMAX))
@pytest.mark.parametrize("ndim", [0, 1, 2, 3, 4])
def test_softmax_family_implicit_dim_is_torchs_legacy_rule(name, ndim):
    _, _, _, ours_cls, torch_cls = SOFTMAX[name]
    x = np.random.default_rng(ndim).standard_normal((2, 3, 4, 5)[:ndim])
    with pytest.warns(UserWarning, match="no dim given"):
        ours = ours_cls()(x)
    with pytest.warns(UserWarning):
        theirs = torch_cls()(torch.tensor(x)).numpy()
    assert rel_error(ours, theirs) <= 1e-12


@pytest.mark.parametrize("name", sorted(SOFTMAX))
def test_softmax_family_modules_match_torch(name):
    _, _, _, ours_cls, torch_cls = SOFTMAX[name]
    x = np.random.default_rng(0).standard_normal((3, 4, 5)) * 3
    for dim in (0, 1, 2, -1):
        for dtype in DTYPES:
            check_module(ours_cls(dim), torch_cls(dim), [x], dtype=dtype)


def test_softmax_rows_sum_to_one_and_log_softmax_is_its_log():
    x = np.random.default_rng(0).standard_normal((4, 7)) * 50
    p, _ = F.softmax(x, dim=1)
    logp, _ = F.log_softmax(x, dim=1)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(np.exp(logp), p, rtol=1e-12, atol=1e-300)
    assert np.all(np.isfinite(logp))


# ---------------------------------------------------------------------------- maxout and step
@given(data=st.data())
def test_maxout_matches_torch_max_over_groups(data):
    k = data.draw(st.integers(1, 4), label="k")
    m = data.draw(st.integers(1, 4), label="m")
    rest = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2), label="rest"))
    batched = data.draw(st.booleans(), label="batched") or rest
    shape = ((2, k * m) + rest) if batched else (k * m,)
    seed = data.draw(st.integers(0, 2**16), label="seed")
    x = np.random.default_rng(seed).standard_normal(shape)
    if data.draw(st.booleans(), label="ties"):
        x = np.round(x)  # many ties: the whole gradient must go to the first maximum
    axis = 1 if batched else 0

    def torch_maxout(t, pool_size):
        return t.unflatten(axis, (m, pool_size)).max(dim=axis + 1).values

    for dtype in DTYPES:
        check_op(F.maxout, F.maxout_backward, torch_maxout, [x], kwargs={"pool_size": k}, dtype=dtype, seed=seed)


def test_maxout_ties_go_to_the_first_maximum_like_max_pool():
    x = np.array([[1.0, 3.0, 3.0, 2.0, 5.0, 5.0, 0.0, 0.0]])
    layer = nn.Maxout(2)
    np.testing.assert_array_equal(layer(x), [[3.0, 3.0, 5.0, 0.0]])
    dx = layer.backward(np.array([[1.0, 2.0, 3.0, 4.0]]))
    np.testing.assert_array_equal(dx, [[0.0, 1.0, 2.0, 0.0, 3.0, 0.0, 4.0, 0.0]])
    t = torch.tensor(x[:, None], requires_grad=True)
    TF.max_pool1d(t, 2).backward(torch.tensor([[[1.0, 2.0, 3.0, 4.0]]], dtype=torch.float64))
    np.testing.assert_array_equal(dx, t.grad.numpy()[:, 0])


def test_maxout_after_linear_and_conv():
    numconv.manual_seed(0)
    d, k, m = 6, 3, 4
    net = nn.Sequential(nn.Linear(d, k * m), nn.Maxout(k))
    x = np.random.default_rng(0).standard_normal((5, d))
    assert net(x).shape == (5, m)
    assert numconv.gradcheck(net, x, raise_exception=True)
    conv_like = np.random.default_rng(1).standard_normal((2, k * 2, 3, 3))
    assert nn.Maxout(k)(conv_like).shape == (2, 2, 3, 3)
    assert repr(nn.Maxout(k)) == "Maxout(pool_size=3)"


def test_step_forward_and_zero_gradient():
    x = np.array([-2.0, -0.0, 0.0, 1e-30, 3.0], dtype=np.float32)
    layer = nn.Step()
    out = layer(x)
    np.testing.assert_array_equal(out, torch.heaviside(torch.tensor(x), torch.tensor(0.0)).numpy())
    assert out.dtype == np.float32
    dx = layer.backward(np.ones(5, dtype=np.float32))
    assert dx.dtype == np.float32 and dx.shape == (5,) and not dx.any()
    with pytest.warns(GradcheckWarning, match="both gradients"):
        assert numconv.gradcheck(nn.Step(), np.array([[-1.5, 0.5], [2.0, -0.3]]))


# ---------------------------------------------------------------------------- layers
def _away_from(x, kinks, margin=0.05):
    """Move entries within ``margin`` of a kink to ``2 * margin`` away (finite differences break at kinks)."""
    x = x.copy()
    for k in kinks:
        near = np.abs(x - k) < margin
        x[near] = k + 2 * margin * np.where(x[near] >= k, 1, -1)
    return x


T = torch.nn
# (ours, the same layer in PyTorch or None, kinks to keep finite differences away from)
LAYERS = [
    (lambda: nn.ReLU(), lambda: T.ReLU(), [0.0]),
    (lambda: nn.ReLU(inplace=True), lambda: T.ReLU(), [0.0]),
    (lambda: nn.ReLU6(), lambda: T.ReLU6(), [0.0, 6.0]),
    (lambda: nn.LeakyReLU(), lambda: T.LeakyReLU(), [0.0]),
    (lambda: nn.LeakyReLU(0.3, inplace=True), lambda: T.LeakyReLU(0.3), [0.0]),
    (lambda: nn.PReLU(), lambda: T.PReLU(), [0.0]),
    (lambda: nn.PReLU(3, init=-0.2), lambda: T.PReLU(3), [0.0]),
    (lambda: nn.ELU(), lambda: T.ELU(), [0.0]),
    (lambda: nn.ELU(alpha=0.5), lambda: T.ELU(alpha=0.5), [0.0]),
    (lambda: nn.SELU(), lambda: T.SELU(), [0.0]),
    (lambda: nn.CELU(alpha=2.0), lambda: T.CELU(alpha=2.0), [0.0]),
    (lambda: nn.GELU(), lambda: T.GELU(), []),
    (lambda: nn.GELU(approximate="tanh"), lambda: T.GELU(approximate="tanh"), []),
    (lambda: nn.SiLU(), lambda: T.SiLU(), []),
    (lambda: nn.Mish(), lambda: T.Mish(), []),
    (lambda: nn.Sigmoid(), lambda: T.Sigmoid(), []),
    (lambda: nn.Tanh(), lambda: T.Tanh(), []),
    (lambda: nn.Hardtanh(), lambda: T.Hardtanh(), [-1.0, 1.0]),
    (lambda: nn.Hardtanh(-0.5, 2.0), lambda: T.Hardtanh(-0.5, 2.0), [-0.5, 2.0]),
    (lambda: nn.Hardsigmoid(), lambda: T.Hardsigmoid(), [-3.0, 3.0]),
    (lambda: nn.Hardswish(), lambda: T.Hardswish(), [-3.0, 3.0]),
    (lambda: nn.Softplus(), lambda: T.Softplus(), [20.0]),
    (lambda: nn.Softplus(beta=2.0, threshold=3.0), lambda: T.Softplus(beta=2.0, threshold=3.0), [1.5]),
    (lambda: nn.Softsign(), lambda: T.Softsign(), [0.0]),
    (lambda: nn.Threshold(0.1, -1.0), lambda: T.Threshold(0.1, -1.0), [0.1]),
    (lambda: nn.Softmax(dim=1), lambda: T.Softmax(dim=1), []),
    (lambda: nn.Softmax(dim=-1), lambda: T.Softmax(dim=-1), []),
    (lambda: nn.LogSoftmax(dim=1), lambda: T.LogSoftmax(dim=1), []),
    (lambda: nn.Softmin(dim=0), lambda: T.Softmin(dim=0), []),
    (lambda: nn.Maxout(3), None, []),
]
LAYER_IDS = [repr(make()) for make, _, _ in LAYERS]


@pytest.mark.parametrize("make, make_torch, kinks", LAYERS, ids=LAYER_IDS)
def test_layer_gradcheck(make, make_torch, kinks):
    rng = np.random.default_rng(0)
    # Unit scale keeps sum(y * g) small, so its rounding noise (~1e-16 |L| / eps) stays far below 1e-6.
    x = _away_from(rng.standard_normal((2, 3, 4)), kinks)
    assert numconv.gradcheck(make(), x, raise_exception=True)


# Maxout has no PyTorch layer; it is compared with torch's max over groups above.
TORCH_LAYERS = [(make, make_torch, kinks) for make, make_torch, kinks in LAYERS if make_torch is not None]


@pytest.mark.parametrize("make, make_torch, kinks", TORCH_LAYERS, ids=[repr(m()) for m, _, _ in TORCH_LAYERS])
def test_layer_matches_torch_module(make, make_torch, kinks):
    x = np.random.default_rng(1).standard_normal((2, 3, 4)) * 3
    x.reshape(-1)[::5] = kinks[0] if kinks else 0.0  # some exact kinks as well
    for dtype in DTYPES:
        ours = make()
        if isinstance(ours, nn.PReLU):
            ours.weight.data[...] = np.linspace(-0.3, 0.4, ours.num_parameters)
        check_module(ours, make_torch(), [x], dtype=dtype)


@pytest.mark.parametrize("make, make_torch, kinks", LAYERS, ids=LAYER_IDS)
def test_layer_leaves_inputs_alone_and_keeps_dtype(make, make_torch, kinks):
    layer = make()
    for dtype in ([np.float32] if isinstance(layer, nn.PReLU) else DTYPES):
        x = np.random.default_rng(2).standard_normal((2, 3, 4)).astype(dtype)
        x_copy = x.copy()
        out = layer(x)
        g = upstream_rng(2).standard_normal(out.shape).astype(dtype)
        g_copy = g.copy()
        dx = layer.backward(g)
        np.testing.assert_array_equal(g, g_copy)
        assert out.dtype == dtype and dx.dtype == dtype and dx.shape == x.shape
        assert dx is not g
        if getattr(layer, "inplace", False):  # as in PyTorch: the result is written into the input
            assert out is x
        else:
            np.testing.assert_array_equal(x, x_copy)
            assert out is not x


def test_reprs_equal_torchs():
    pairs = [
        (nn.ReLU(), torch.nn.ReLU()), (nn.ReLU(inplace=True), torch.nn.ReLU(inplace=True)),
        (nn.ReLU6(), torch.nn.ReLU6()), (nn.ReLU6(True), torch.nn.ReLU6(True)),
        (nn.LeakyReLU(), torch.nn.LeakyReLU()), (nn.LeakyReLU(0.2, True), torch.nn.LeakyReLU(0.2, True)),
        (nn.LeakyReLU(1), torch.nn.LeakyReLU(1)),
        (nn.PReLU(), torch.nn.PReLU()), (nn.PReLU(4, 0.1), torch.nn.PReLU(4, 0.1)),
        (nn.ELU(), torch.nn.ELU()), (nn.ELU(2, True), torch.nn.ELU(2, True)),
        (nn.SELU(), torch.nn.SELU()), (nn.SELU(True), torch.nn.SELU(True)),
        (nn.CELU(), torch.nn.CELU()), (nn.CELU(0.5, True), torch.nn.CELU(0.5, True)),
        (nn.GELU(), torch.nn.GELU()), (nn.GELU("tanh"), torch.nn.GELU("tanh")),
        (nn.SiLU(), torch.nn.SiLU()), (nn.SiLU(True), torch.nn.SiLU(True)),
        (nn.Mish(), torch.nn.Mish()), (nn.Mish(True), torch.nn.Mish(True)),
        (nn.Sigmoid(), torch.nn.Sigmoid()), (nn.Tanh(), torch.nn.Tanh()),
        (nn.Hardtanh(), torch.nn.Hardtanh()), (nn.Hardtanh(-2, 3, True), torch.nn.Hardtanh(-2, 3, True)),
        (nn.Hardtanh(-2.0, 3.0), torch.nn.Hardtanh(-2.0, 3.0)),
        (nn.Hardsigmoid(), torch.nn.Hardsigmoid()), (nn.Hardsigmoid(True), torch.nn.Hardsigmoid(True)),
        (nn.Hardswish(), torch.nn.Hardswish()), (nn.Hardswish(True), torch.nn.Hardswish(True)),
        (nn.Softplus(), torch.nn.Softplus()), (nn.Softplus(2, 10), torch.nn.Softplus(2, 10)),
        (nn.Softsign(), torch.nn.Softsign()),
        (nn.Threshold(0.1, 20), torch.nn.Threshold(0.1, 20)),
        (nn.Threshold(0.1, 20.0, True), torch.nn.Threshold(0.1, 20.0, True)),
        (nn.Softmax(), torch.nn.Softmax()), (nn.Softmax(1), torch.nn.Softmax(1)),
        (nn.Softmax(dim=-1), torch.nn.Softmax(dim=-1)),
        (nn.LogSoftmax(), torch.nn.LogSoftmax()), (nn.LogSoftmax(0), torch.nn.LogSoftmax(0)),
        (nn.Softmin(), torch.nn.Softmin()), (nn.Softmin(2), torch.nn.Softmin(2)),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
    assert repr(nn.Sequential(nn.ReLU(), nn.Softmax(dim=1))) == repr(
        torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Softmax(dim=1)))
    relu6 = nn.ReLU6()
    assert isinstance(relu6, nn.Hardtanh) and (relu6.min_val, relu6.max_val) == (0.0, 6.0)


def test_errors_are_clear():
    with pytest.raises(TypeError, match="int64"):
        nn.ReLU()(np.arange(3))
    with pytest.raises(TypeError, match="float16"):
        F.sigmoid(np.zeros(2, dtype=np.float16))
    with pytest.raises(TypeError, match="NumPy array"):
        F.tanh("abc")
    with pytest.raises(RuntimeError, match="no forward pass"):
        nn.Tanh().backward(np.zeros(3))
    layer = nn.Sigmoid()
    layer(np.zeros(3))
    layer.backward(np.zeros(3))
    with pytest.raises(RuntimeError, match="no forward pass"):
        layer.backward(np.zeros(3))
    with pytest.raises(ValueError, match=r"dout of shape \(3,\).*\(2,\)"):
        F.relu_backward(np.zeros(2), F.relu(np.zeros(3))[1])
    with pytest.raises(ValueError, match=r"dim 2 is out of range.*\(4, 5\)"):
        F.softmax(np.zeros((4, 5)), dim=2)
    with pytest.raises(ValueError, match=r"dim -3 is out of range"):
        nn.LogSoftmax(dim=-3)(np.zeros((4, 5)))
    with pytest.raises(TypeError, match="dim"):
        nn.Softmax(dim=1.0)
    with pytest.raises(ValueError, match=r"10 channels on axis 1.*\(2, 10\).*pool_size=3"):
        nn.Maxout(3)(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="pool_size"):
        nn.Maxout(0)
    with pytest.raises(ValueError, match=r"3 channels on axis 1.*\(2, 4, 5\)"):
        nn.PReLU(3)(np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match=r"2 slopes.*1 channel"):
        F.prelu(np.zeros(5), np.ones(2))
    with pytest.raises(ValueError, match="max_val > min_val"):
        nn.Hardtanh(1.0, -1.0)
    with pytest.raises(ValueError, match="'none' or 'tanh'"):
        nn.GELU("erf")
    with pytest.raises(ValueError, match="alpha must be non-zero"):
        F.celu(np.zeros(2), alpha=0)
    with pytest.raises(TypeError, match="negative_slope"):
        nn.LeakyReLU("0.1")


def test_no_grad_keeps_nothing():
    layer = nn.ReLU()
    with numconv.no_grad():
        layer(np.ones(3))
    with pytest.raises(RuntimeError, match="no forward pass"):
        layer.backward(np.ones(3))


def test_eval_mode_still_differentiates():
    layer = nn.Sequential(nn.Linear(3, 4), nn.Tanh()).eval()
    layer(np.ones((2, 3), dtype=np.float32))
    assert layer.backward(np.ones((2, 4), dtype=np.float32)).shape == (2, 3)


# ---------------------------------------------------------------------------- erf kernel
@pytest.mark.parametrize("dtype", DTYPES)
def test_erf_kernel_equals_math_erf(dtype):
    import math

    from numconv.kernels.activation import erf_kernel

    x = np.concatenate([np.random.default_rng(0).standard_normal(200) * 3,
                        [0.0, -0.0, 1e-30, 6.0, -6.0, 30.0, np.inf, -np.inf, np.nan]]).astype(dtype)
    out = np.empty_like(x)
    erf_kernel(x, out)
    expected = np.array([math.erf(float(v)) for v in x], dtype=dtype)
    np.testing.assert_allclose(out, expected, rtol=2 * np.finfo(dtype).eps, atol=0)
    assert np.isnan(out[-1])
