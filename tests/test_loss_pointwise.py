"""Pointwise losses (MSE, L1, SmoothL1, Huber, BCE, BCEWithLogits, KLDiv): PyTorch parity, edges, gradcheck."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import numconv
from numconv import functional as F
from numconv import nn

torch = pytest.importorskip("torch")
from parity import assert_close, check_module, check_op  # noqa: E402
from test_loss_common import record, torch_kwargs_for  # noqa: E402

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]
REDUCTIONS = ["mean", "sum", "none"]
MASK2 = [True, False]  # only the first input's gradient is ours to compare

shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)
seeds = st.integers(0, 2**16)


def with_ties(rng, x, y, fraction=0.25):
    """Set a fraction of ``y`` equal to ``x`` (x - y == 0 exactly: the sub-gradient case)."""
    tie = rng.random(x.shape) < fraction
    return np.asarray(np.where(tie, x, y))


# ---------------------------------------------------------------------- regression losses

@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, reduction=st.sampled_from(REDUCTIONS), seed=seeds)
def test_mse_and_l1_match_torch(dtype, shape, reduction, seed):
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.standard_normal(shape))
    y = with_ties(rng, x, rng.standard_normal(shape))
    for op, t_op in ((F.mse_loss, TF.mse_loss), (F.l1_loss, TF.l1_loss)):
        backward = getattr(F, op.__name__ + "_backward")
        errors = check_op(op, backward, t_op, [x, y], kwargs={"reduction": reduction}, dtype=dtype, seed=seed,
                          grad_mask=MASK2)
        record(op.__name__, dtype, errors)


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, reduction=st.sampled_from(REDUCTIONS), seed=seeds,
       beta=st.one_of(st.just(0.0), st.just(1.0), st.floats(0.01, 3.0)))
def test_smooth_l1_matches_torch(dtype, shape, reduction, seed, beta):
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.standard_normal(shape) * 2)
    y = with_ties(rng, x, rng.standard_normal(shape))
    errors = check_op(F.smooth_l1_loss, F.smooth_l1_loss_backward, TF.smooth_l1_loss, [x, y],
                      kwargs={"reduction": reduction, "beta": beta}, dtype=dtype, seed=seed, grad_mask=MASK2)
    record("smooth_l1_loss", dtype, errors)


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, reduction=st.sampled_from(REDUCTIONS), seed=seeds,
       delta=st.one_of(st.just(1.0), st.floats(0.01, 3.0)))
def test_huber_matches_torch(dtype, shape, reduction, seed, delta):
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.standard_normal(shape) * 2)
    y = with_ties(rng, x, rng.standard_normal(shape))
    errors = check_op(F.huber_loss, F.huber_loss_backward, TF.huber_loss, [x, y],
                      kwargs={"reduction": reduction, "delta": delta}, dtype=dtype, seed=seed, grad_mask=MASK2)
    record("huber_loss", dtype, errors)


def test_subgradient_at_zero_is_zero_like_torch():
    x = np.array([-1.0, 0.0, 0.5, 2.0])
    y = np.array([-1.0, 0.0, 1.0, 1.0])  # ties at 0 and 1
    for op, kwargs in ((F.l1_loss, {}), (F.smooth_l1_loss, {"beta": 0.0}), (F.smooth_l1_loss, {"beta": 1.0}),
                       (F.huber_loss, {"delta": 0.5})):
        _, cache = op(x, y, reduction="sum", **kwargs)
        dx = getattr(F, op.__name__ + "_backward")(1.0, cache)
        assert dx[0] == 0 and dx[1] == 0
        tx = torch.tensor(x, requires_grad=True)
        getattr(TF, op.__name__)(tx, torch.tensor(y), reduction="sum", **kwargs).backward()
        np.testing.assert_array_equal(dx, tx.grad.numpy())


def test_smooth_l1_and_huber_at_the_joint():
    """At |x - y| == beta (delta) exactly, value and gradient equal PyTorch's (both pieces meet there)."""
    x = np.array([0.75, -0.25, 1.5])
    y = np.array([0.5, 0.0, 1.0])  # differences 0.25, -0.25, 0.5: exact in binary
    for op, kwargs in ((F.smooth_l1_loss, {"beta": 0.25}), (F.huber_loss, {"delta": 0.25}),
                       (F.smooth_l1_loss, {"beta": 0.5}), (F.huber_loss, {"delta": 0.5})):
        loss, cache = op(x, y, reduction="none", **kwargs)
        dx = getattr(F, op.__name__ + "_backward")(np.ones(3), cache)
        tx = torch.tensor(x, requires_grad=True)
        t_loss = getattr(TF, op.__name__)(tx, torch.tensor(y), reduction="none", **kwargs)
        t_loss.sum().backward()
        np.testing.assert_array_equal(loss, t_loss.detach().numpy())
        np.testing.assert_array_equal(dx, tx.grad.numpy())


def test_smooth_l1_beta_zero_is_l1():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    a, cache_a = F.smooth_l1_loss(x, y, beta=0.0)
    b, cache_b = F.l1_loss(x, y)
    assert a == b
    np.testing.assert_array_equal(F.smooth_l1_loss_backward(1.0, cache_a), F.l1_loss_backward(1.0, cache_b))


# ---------------------------------------------------------------------- binary cross-entropy

weight_kinds = st.sampled_from(["none", "full", "last", "scalar"])


def draw_weight(rng, shape, kind, low=0.1, high=2.0):
    if kind == "none":
        return None
    if kind == "full":
        return np.asarray(rng.uniform(low, high, shape))
    if kind == "last":
        return np.asarray(rng.uniform(low, high, shape[-1:]))
    return np.array(rng.uniform(low, high))


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, reduction=st.sampled_from(REDUCTIONS), seed=seeds, weight=weight_kinds,
       edges=st.booleans())
def test_bce_matches_torch(dtype, shape, reduction, seed, weight, edges):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.01, 0.99, shape)
    y = rng.random(shape)
    if edges:  # exact 0 and 1 inputs and targets: the log clamp and the 1e-12 in the gradient
        x = np.where(rng.random(shape) < 0.2, rng.integers(0, 2, shape), x).astype(np.float64)
        y = np.where(rng.random(shape) < 0.3, rng.integers(0, 2, shape), y).astype(np.float64)
    x, y, w = np.asarray(x), np.asarray(y), draw_weight(rng, shape, weight)
    kwargs, t_kwargs = torch_kwargs_for({"weight": w, "reduction": reduction}, dtype)
    errors = check_op(F.binary_cross_entropy, F.binary_cross_entropy_backward, TF.binary_cross_entropy, [x, y],
                      kwargs=kwargs, torch_kwargs=t_kwargs, dtype=dtype, seed=seed, grad_mask=MASK2)
    record("binary_cross_entropy", dtype, errors)


def test_bce_clamps_log_at_minus_100():
    x = np.array([0.0, 1.0, 0.0, 1.0, 1e-300])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    loss, cache = F.binary_cross_entropy(x, y, reduction="none")
    np.testing.assert_array_equal(loss, [100.0, 100.0, 0.0, 0.0, 100.0])
    dx = F.binary_cross_entropy_backward(np.ones(5), cache)
    assert np.all(np.isfinite(dx))
    tx = torch.tensor(x, requires_grad=True)
    t_loss = TF.binary_cross_entropy(tx, torch.tensor(y), reduction="none")
    t_loss.sum().backward()
    np.testing.assert_array_equal(loss, t_loss.detach().numpy())
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, reduction=st.sampled_from(REDUCTIONS), seed=seeds, weight=weight_kinds,
       pos_weight=st.booleans(), scale=st.sampled_from([1.0, 5.0, 100.0]))
def test_bce_with_logits_matches_torch(dtype, shape, reduction, seed, weight, pos_weight, scale):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * scale
    y = np.where(rng.random(shape) < 0.5, rng.integers(0, 2, shape), rng.random(shape))
    x, y, w = np.asarray(x), np.asarray(y), draw_weight(rng, shape, weight)
    pw = np.asarray(rng.uniform(0.2, 4.0, shape[-1:])) if pos_weight else None

    kwargs, t_kwargs = torch_kwargs_for({"weight": w, "pos_weight": pw, "reduction": reduction}, dtype)
    errors = check_op(F.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits_backward,
                      TF.binary_cross_entropy_with_logits, [x, y], kwargs=kwargs, torch_kwargs=t_kwargs, dtype=dtype,
                      seed=seed, grad_mask=MASK2)
    record("binary_cross_entropy_with_logits", dtype, errors)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bce_with_logits_subnormal_float32_loss(reduction):
    # log(1 + e^-97) * 3.84 = 2.6e-42: below float32's normal range, where a number's last bit is 0.06 % of
    # it. numconv gives 2.61e-42, PyTorch 2.6064e-42; parity.assert_close measures such results against
    # the smallest normal number (1.2e-38), and the gradient as usual.
    x, y, pos_weight = np.array([97.09468]), np.array([1.0]), np.array([3.8419719])
    check_op(F.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits_backward,
             TF.binary_cross_entropy_with_logits, [x, y], kwargs={"reduction": reduction, "pos_weight": pos_weight},
             torch_kwargs={"reduction": reduction, "pos_weight": torch.tensor(pos_weight, dtype=torch.float32)},
             dtype=np.float32, grad_mask=[True, False])


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_extreme_logits(dtype):
    x = np.array([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4], dtype=dtype)
    y = np.array([1.0, 0.0, 1.0, 0.5, 0.0, 1.0, 0.0], dtype=dtype)
    pw = np.array([2.0], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, cache = F.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=pw)
        dx = F.binary_cross_entropy_with_logits_backward(np.ones(7, dtype=dtype), cache)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(dx))
    tx = torch.tensor(x, requires_grad=True)
    t_loss = TF.binary_cross_entropy_with_logits(tx, torch.tensor(y), reduction="none", pos_weight=torch.tensor(pw))
    t_loss.sum().backward()
    errors = {"out": assert_close(loss, t_loss, dtype, "loss"), "grad0": assert_close(dx, tx.grad, dtype, "dx")}
    record("binary_cross_entropy_with_logits +-1e4", dtype, errors)


def test_bce_with_logits_equals_sigmoid_then_bce():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))
    y = rng.random((3, 4))
    a, _ = F.binary_cross_entropy_with_logits(x, y)
    b, _ = F.binary_cross_entropy(1 / (1 + np.exp(-x)), y)
    assert float(a) == pytest.approx(float(b), rel=1e-12)


# ---------------------------------------------------------------------- KL divergence

@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")  # PyTorch's notice about "mean"
@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       reduction=st.sampled_from(REDUCTIONS + ["batchmean"]), seed=seeds, log_target=st.booleans(),
       zeros=st.booleans())
def test_kl_div_matches_torch(dtype, shape, reduction, seed, log_target, zeros):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal(shape)
    log_q = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    p = rng.random(shape)
    if zeros:  # a target of exactly 0 contributes nothing (0 log 0 = 0)
        p = np.where(rng.random(shape) < 0.3, 0.0, p)
    p = p / np.maximum(p.sum(axis=-1, keepdims=True), 1e-3)
    target = np.log(p + 0.01) if log_target else p
    # Terms of either sign: skip draws where the sum is mostly cancellation (nearly equal
    # distributions), whose float32 value is rounding noise in both libraries.
    terms = np.exp(target) * (target - log_q) if log_target else np.where(p > 0, p * np.log(np.where(p > 0, p, 1)),
                                                                          0) - p * log_q
    assume(reduction == "none" or np.abs(terms).sum() <= 100 * abs(terms.sum()))
    kwargs = {"reduction": reduction, "log_target": log_target}
    errors = check_op(F.kl_div, F.kl_div_backward, TF.kl_div, [log_q, target], kwargs=kwargs, dtype=dtype,
                      seed=seed, grad_mask=MASK2)
    record("kl_div", dtype, errors)


def test_kl_div_zero_target_contributes_nothing():
    x = np.array([[-1.0, -2.0, -0.5]])
    loss, cache = F.kl_div(x, np.array([[0.0, 1.0, 0.0]]), reduction="none")
    np.testing.assert_array_equal(loss, [[0.0, 2.0, 0.0]])
    np.testing.assert_array_equal(F.kl_div_backward(np.ones((1, 3)), cache), [[0.0, -1.0, 0.0]])


def test_kl_div_batchmean_divides_by_batch_size():
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((4, 5)), rng.random((4, 5))
    total, _ = F.kl_div(x, t, reduction="sum")
    batchmean, cache = F.kl_div(x, t, reduction="batchmean")
    assert float(batchmean) == pytest.approx(float(total) / 4, rel=1e-14)
    np.testing.assert_allclose(F.kl_div_backward(1.0, cache), -t / 4, rtol=1e-15)
    # a 0-D input has no batch axis: "batchmean" is then the sum
    scalar, _ = F.kl_div(np.array(-1.0), np.array(0.5), reduction="batchmean")
    t_scalar = TF.kl_div(torch.tensor(-1.0, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64),
                         reduction="batchmean")
    assert float(scalar) == pytest.approx(t_scalar.item(), rel=1e-14)


# ---------------------------------------------------------------------- layers vs torch

LAYER_CASES = [
    ("MSELoss", dict(), "normal"),
    ("L1Loss", dict(reduction="sum"), "normal"),
    ("SmoothL1Loss", dict(beta=0.5, reduction="none"), "normal"),
    ("HuberLoss", dict(delta=0.7), "normal"),
    ("BCELoss", dict(weight="full"), "prob"),
    ("BCEWithLogitsLoss", dict(weight="last", pos_weight="last", reduction="none"), "binary"),
    ("KLDivLoss", dict(reduction="batchmean"), "kl"),
    ("KLDivLoss", dict(log_target=True, reduction="sum"), "kl_log"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, kwargs, kind", LAYER_CASES)
def test_layers_match_torch(name, kwargs, kind, dtype):
    rng = np.random.default_rng(len(name))
    shape = (4, 3, 5)
    ours_kwargs, torch_kwargs = {}, {}
    for key, value in kwargs.items():
        if value in ("full", "last"):
            array = draw_weight(rng, shape, value)
            ours_kwargs[key], torch_kwargs[key] = array, torch.tensor(array)
        else:
            ours_kwargs[key] = torch_kwargs[key] = value
    x = rng.standard_normal(shape)
    y = rng.standard_normal(shape)
    if kind == "prob":
        x, y = rng.uniform(0.02, 0.98, shape), rng.random(shape)
    elif kind == "binary":
        y = rng.integers(0, 2, shape).astype(np.float64)
    elif kind.startswith("kl"):
        y = np.log(rng.random(shape)) if kind == "kl_log" else rng.random(shape)
    errors = check_module(getattr(nn, name)(**ours_kwargs), getattr(torch.nn, name)(**torch_kwargs), [x, y],
                          dtype=dtype)
    record(name + " layer", dtype, errors)


# ---------------------------------------------------------------------- gradcheck (away from kinks)

def away_from(rng, x, points, margin=1e-3):
    """A target with every x - y at least ``margin`` from each kink in ``points``."""
    y = rng.standard_normal(x.shape)
    for _ in range(100):
        d = x - y
        close = np.zeros(x.shape, dtype=bool)
        for p in points:
            close |= np.abs(np.abs(d) - p) < margin
        if not close.any():
            return y
        y = np.where(close, rng.standard_normal(x.shape), y)
    raise AssertionError("could not draw a target away from the kinks")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_gradcheck(reduction):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4))
    cases = [(nn.MSELoss(reduction=reduction), []), (nn.L1Loss(reduction=reduction), [0.0]),
             (nn.SmoothL1Loss(reduction=reduction, beta=0.6), [0.0, 0.6]),
             (nn.SmoothL1Loss(reduction=reduction, beta=0.0), [0.0]),
             (nn.HuberLoss(reduction=reduction, delta=0.8), [0.8])]
    for crit, kinks in cases:
        y = away_from(rng, x, kinks)
        assert numconv.gradcheck(crit, x, y, raise_exception=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_losses_gradcheck(reduction):
    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 0.95, (3, 4))
    y = rng.random((3, 4))
    assert numconv.gradcheck(nn.BCELoss(weight=rng.uniform(0.5, 2, 4), reduction=reduction), p, y,
                             raise_exception=True)
    x = rng.standard_normal((3, 4)) * 3
    crit = nn.BCEWithLogitsLoss(weight=rng.uniform(0.5, 2, (3, 4)), pos_weight=rng.uniform(0.5, 3, 4),
                                reduction=reduction)
    assert numconv.gradcheck(crit, x, y, raise_exception=True)
    assert numconv.gradcheck(F.binary_cross_entropy_with_logits, x, y, kwargs={"reduction": reduction},
                             raise_exception=True)


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_gradcheck(reduction, log_target):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4))
    t = rng.standard_normal((3, 4)) if log_target else np.where(rng.random((3, 4)) < 0.3, 0, rng.random((3, 4)))
    assert numconv.gradcheck(nn.KLDivLoss(reduction=reduction, log_target=log_target), x, t, raise_exception=True)


# ---------------------------------------------------------------------- errors

def test_shape_mismatch_names_both_shapes():
    x = np.zeros((3, 4))
    for crit in (nn.MSELoss(), nn.L1Loss(), nn.SmoothL1Loss(), nn.HuberLoss(), nn.BCEWithLogitsLoss(),
                 nn.KLDivLoss()):
        name = type(crit).__name__
        with pytest.raises(ValueError, match=rf"{name}: expected target of the input's shape \(3, 4\), "
                                             r"got target of shape \(3, 1\)"):
            crit(x, np.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"BCELoss: .*\(3, 4\).*\(4,\)"):
        nn.BCELoss()(np.full((3, 4), 0.5), np.zeros(4))


def test_bce_range_errors_name_value_and_position():
    x = np.full((2, 3), 0.5)
    x[1, 2] = 1.25
    with pytest.raises(ValueError, match=r"BCELoss: input\[1, 2\] = 1.25 is outside \[0, 1\]"):
        nn.BCELoss()(x, np.zeros((2, 3)))
    y = np.zeros((2, 3))
    y[0, 1] = -0.5
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target\[0, 1\] = -0.5 is outside \[0, 1\]"):
        F.binary_cross_entropy(np.full((2, 3), 0.5), y)
    with pytest.raises(ValueError, match=r"input\[0\] = nan is outside"):
        F.binary_cross_entropy(np.array([np.nan]), np.array([1.0]))


def test_weight_broadcast_errors():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"pos_weight of shape \(3,\) cannot be broadcast to the input's "
                                         r"shape \(3, 4\)"):
        nn.BCEWithLogitsLoss(pos_weight=np.ones(3))(x, x)
    with pytest.raises(ValueError, match=r"BCELoss: weight of shape \(2,\) cannot be broadcast"):
        nn.BCELoss(weight=np.ones(2))(np.full((3, 4), 0.5), x)


def test_parameter_and_dtype_errors():
    with pytest.raises(ValueError, match="SmoothL1Loss: beta must be >= 0, got -1.0"):
        nn.SmoothL1Loss(beta=-1)
    with pytest.raises(ValueError, match="huber_loss: delta must be > 0, got 0.0"):
        F.huber_loss(np.zeros(2), np.zeros(2), delta=0)
    with pytest.raises(TypeError, match="beta to be a number"):
        nn.SmoothL1Loss(beta="1")
    with pytest.raises(TypeError, match="log_target to be a bool"):
        nn.KLDivLoss(log_target=1)
    with pytest.raises(TypeError, match="MSELoss: expected target of dtype float32 or float64, got int64"):
        nn.MSELoss()(np.zeros(3), np.zeros(3, dtype=np.int64))
    with pytest.raises(TypeError, match="L1Loss: expected input of dtype float32 or float64, got int32"):
        nn.L1Loss()(np.zeros(3, dtype=np.int32), np.zeros(3))


def test_float32_input_with_float64_target_keeps_float32():
    x = np.linspace(-1, 1, 6, dtype=np.float32)
    crit = nn.MSELoss(reduction="none")
    loss = crit(x, np.zeros(6))
    assert loss.dtype == np.float32 and crit.backward().dtype == np.float32
