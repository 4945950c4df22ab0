"""CrossEntropyLoss and NLLLoss: PyTorch parity, edge cases, gradcheck.

Every comparison draws a random upstream gradient (a scalar for "mean" /
"sum", an array for "none") and checks the loss and the input gradient
against PyTorch: float64 to 1e-10 and float32 to 1e-4 relative error.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import numconv
from numconv import functional as F
from numconv import nn

torch = pytest.importorskip("torch")
from parity import assert_close, check_module, check_op, rel_error  # noqa: E402
from test_loss_common import record, torch_kwargs_for  # noqa: E402

TF = torch.nn.functional
DTYPES = [np.float64, np.float32]
REDUCTIONS = ["mean", "sum", "none"]


@st.composite
def classification_case(draw, max_classes=6):
    """Logits of shape (C,), (N, C) or (N, C, d1[, d2]), with matching targets and options."""
    layout = draw(st.sampled_from(["unbatched", "batched", "kdim"]))
    n = draw(st.integers(1, 5))
    c = draw(st.integers(1, max_classes))
    if layout == "unbatched":
        shape = (c,)
    elif layout == "batched":
        shape = (n, c)
    else:
        shape = (n, c) + tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    return dict(
        shape=shape,
        weighted=draw(st.booleans()),
        ignore_index=draw(st.sampled_from([-100, -1, 0, 2])),
        ignore_fraction=draw(st.sampled_from([0.0, 0.3, 1.0])),
        label_smoothing=draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0))),
        reduction=draw(st.sampled_from(REDUCTIONS)),
        scale=draw(st.sampled_from([1.0, 10.0])),
        seed=draw(st.integers(0, 2**16)),
    )


def class_targets(rng, shape, n_classes, ignore_index, ignore_fraction):
    """Integer targets for logits of ``shape``; a fraction set to ``ignore_index``."""
    target_shape = () if len(shape) == 1 else shape[:1] + shape[2:]
    target = rng.integers(0, n_classes, size=target_shape)
    ignored = rng.random(target_shape) < ignore_fraction
    return np.where(ignored, ignore_index, target).astype(np.int64)


def class_count(shape):
    return shape[0] if len(shape) == 1 else shape[1]


def as_rows(a):
    """(C,) -> (1, C); (N, C, d1, ...) -> (N * d1 * ..., C): one row of class scores per sample/position."""
    return a[None] if a.ndim == 1 else np.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def assume_well_conditioned(x, target, weight, case, upstream):
    """Skip draws whose cross-entropy gradient is mostly cancellation.

    Row i of the gradient is ``g_i * (softmax_i * s_i - T_i)``: T_i are the row's target weights
    (one-hot or probabilities, smoothed, times the class weights) and s_i their sum, so both terms are
    up to ``|g_i| s_i`` in size. Where the softmax nearly equals ``T_i / s_i`` (logits that already
    match a smoothed target), the difference is last-bit noise of the two terms in either library
    (their ``exp`` differ in the last bit), not a property of the code. Keep draws whose largest
    gradient entry is at least 1% of the largest term, judged with PyTorch in float64.
    """
    c = class_count(x.shape)
    w = np.ones(c) if weight is None else weight
    smoothing, reduction = case["label_smoothing"], case["reduction"]
    if target.dtype.kind == "f":
        t = w * ((1 - smoothing) * as_rows(target) + smoothing / c)
        denominator = t.shape[0]
    else:
        y = target.reshape(-1)
        keep = y != case["ignore_index"]
        t = np.zeros((y.size, c))
        t[keep, y[keep]] = (1 - smoothing) * w[y[keep]]
        t[keep] += smoothing / c * w
        denominator = w[y[keep]].sum()
    g = np.abs(upstream).reshape(-1) if reduction == "none" else np.full(t.shape[0], abs(float(upstream)))
    if reduction == "mean":
        g = g / denominator if denominator else np.zeros_like(g)
    tx = torch.tensor(x, requires_grad=True)
    t_kwargs = dict(weight=None if weight is None else torch.tensor(weight), reduction=reduction,
                    label_smoothing=smoothing)
    if target.dtype.kind != "f":
        t_kwargs["ignore_index"] = case["ignore_index"]
    TF.cross_entropy(tx, torch.tensor(target), **t_kwargs).backward(torch.tensor(upstream))
    assume(tx.grad.abs().max().item() >= 1e-2 * (g * t.sum(axis=1)).max(initial=0.0))


def same_upstream_as_check_op(case):
    """The upstream gradient ``check_op`` will draw (float64) for this case's loss shape."""
    shape = case["shape"]
    loss_shape = () if case["reduction"] != "none" or len(shape) == 1 else shape[:1] + shape[2:]
    return np.asarray(np.random.default_rng(case["seed"]).standard_normal(loss_shape))


def ce_logits(rng, case):
    """Logits within 4 of each other.

    A row whose target class leads by a gap G has loss ~ exp(-G) and gradient softmax - 1 ~ -exp(-G):
    both are cancellation (log of 1 + tiny, 1 - nearly 1) amplifying last-bit differences by exp(G).
    Huge logits have their own test (test_extreme_logits_do_not_overflow).
    """
    return np.clip(rng.standard_normal(case["shape"]) * case["scale"], -2, 2)


# ---------------------------------------------------------------------- parity: cross_entropy

@pytest.mark.parametrize("dtype", DTYPES)
@given(case=classification_case())
def test_cross_entropy_class_indices_match_torch(dtype, case):
    rng = np.random.default_rng(case["seed"])
    shape, c = case["shape"], class_count(case["shape"])
    x = ce_logits(rng, case)
    target = class_targets(rng, shape, c, case["ignore_index"], case["ignore_fraction"])
    weight = rng.uniform(0.1, 2.0, c) if case["weighted"] else None
    kwargs, t_kwargs = torch_kwargs_for(dict(weight=weight, ignore_index=case["ignore_index"],
                                             reduction=case["reduction"],
                                             label_smoothing=case["label_smoothing"]), dtype)
    assume_well_conditioned(x, target, weight, case, same_upstream_as_check_op(case))
    errors = check_op(F.cross_entropy, F.cross_entropy_backward, TF.cross_entropy, [x, target],
                      kwargs=kwargs, torch_kwargs=t_kwargs, dtype=dtype, seed=case["seed"], grad_mask=[True, False])
    record("cross_entropy", dtype, errors)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=classification_case(), normalised=st.booleans())
def test_cross_entropy_probability_targets_match_torch(dtype, case, normalised):
    rng = np.random.default_rng(case["seed"])
    shape, c = case["shape"], class_count(case["shape"])
    x = ce_logits(rng, case)
    probs = rng.random(shape)
    if normalised:  # a distribution over the class axis (PyTorch does not require it)
        axis = 0 if len(shape) == 1 else 1
        probs = probs / probs.sum(axis=axis, keepdims=True)
    weight = rng.uniform(0.1, 2.0, c) if case["weighted"] else None
    kwargs, t_kwargs = torch_kwargs_for(dict(weight=weight, reduction=case["reduction"],
                                             label_smoothing=case["label_smoothing"]), dtype)
    assume_well_conditioned(x, probs, weight, case, same_upstream_as_check_op(case))
    errors = check_op(F.cross_entropy, F.cross_entropy_backward, TF.cross_entropy, [x, probs],
                      kwargs=kwargs, torch_kwargs=t_kwargs, dtype=dtype, seed=case["seed"], grad_mask=[True, False])
    record("cross_entropy (probabilities)", dtype, errors)


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=classification_case())
def test_nll_loss_matches_torch(dtype, case):
    rng = np.random.default_rng(case["seed"])
    shape, c = case["shape"], class_count(case["shape"])
    x = rng.standard_normal(shape) * case["scale"]  # any scores work as "log-probabilities"
    target = class_targets(rng, shape, c, case["ignore_index"], case["ignore_fraction"])
    weight = rng.uniform(0.1, 2.0, c) if case["weighted"] else None
    kwargs, t_kwargs = torch_kwargs_for(dict(weight=weight, ignore_index=case["ignore_index"],
                                             reduction=case["reduction"]), dtype)
    errors = check_op(F.nll_loss, F.nll_loss_backward, TF.nll_loss, [x, target],
                      kwargs=kwargs, torch_kwargs=t_kwargs, dtype=dtype, seed=case["seed"], grad_mask=[True, False])
    record("nll_loss", dtype, errors)


# ---------------------------------------------------------------------- parity: the layers

LAYER_CASES = [
    ("CrossEntropyLoss", dict(), (6, 4), "index"),
    ("CrossEntropyLoss", dict(weight=True, ignore_index=1, label_smoothing=0.15), (6, 4), "index"),
    ("CrossEntropyLoss", dict(weight=True, reduction="none", label_smoothing=0.3), (3, 4, 2, 3), "index"),
    ("CrossEntropyLoss", dict(weight=True, reduction="sum", label_smoothing=0.2), (5, 4), "probs"),
    ("CrossEntropyLoss", dict(label_smoothing=0.1), (4,), "index"),
    ("CrossEntropyLoss", dict(reduction="none"), (4,), "probs"),
    ("NLLLoss", dict(weight=True, ignore_index=0), (3, 4, 5), "index"),
    ("NLLLoss", dict(reduction="none"), (7, 4), "index"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, kwargs, shape, kind", LAYER_CASES)
def test_layers_match_torch(name, kwargs, shape, kind, dtype):
    rng = np.random.default_rng(len(shape) * 7 + len(kwargs))
    c = class_count(shape)
    kwargs = dict(kwargs)
    t_kwargs = dict(kwargs)
    if kwargs.pop("weight", None):
        weight = rng.uniform(0.2, 2.0, c)
        kwargs["weight"], t_kwargs["weight"] = weight, torch.tensor(weight)
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**t_kwargs)
    x = rng.standard_normal(shape) * 3
    if kind == "probs":
        target = rng.random(shape)
    else:
        target = class_targets(rng, shape, c, kwargs.get("ignore_index", -100), 0.25)
    errors = check_module(ours, theirs, [x, target], dtype=dtype)
    record(name + " layer", dtype, errors)


# ---------------------------------------------------------------------- edge cases

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kind", ["index", "probs"])
def test_extreme_logits_do_not_overflow(dtype, reduction, kind):
    rng = np.random.default_rng(0)
    x = rng.choice([-1e4, 1e4], size=(6, 5)) + rng.standard_normal((6, 5))
    x[0] = 1e4  # a row of equal huge logits
    x[1] = -1e4
    x = x.astype(dtype)
    target = rng.integers(0, 5, 6) if kind == "index" else rng.random((6, 5)).astype(dtype)
    ours = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=0.1)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = ours(x, target)
        upstream = rng.standard_normal(np.shape(loss)).astype(dtype)
        dx = ours.backward(grad_output=upstream if reduction == "none" else float(upstream))
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(dx))
    assert dx.dtype == dtype
    tx = torch.tensor(x, requires_grad=True)
    t_loss = TF.cross_entropy(tx, torch.tensor(target), reduction=reduction, label_smoothing=0.1)
    t_loss.backward(torch.tensor(upstream))
    record("cross_entropy logits +-1e4", dtype, {"out": assert_close(loss, t_loss, dtype, "loss"),
                                                "grad0": assert_close(dx, tx.grad, dtype, "dlogits")})


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("op, smoothing", [("cross_entropy", 0.0), ("cross_entropy", 0.25), ("nll_loss", 0.0)])
def test_all_targets_ignored(op, smoothing, weighted):
    """PyTorch: the mean is 0/0 = nan, the sum 0, "none" all zeros, and the gradient all zeros."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 2))
    target = np.full((4, 2), -100)
    weight = rng.uniform(0.5, 2, 3) if weighted else None
    kwargs = {"label_smoothing": smoothing} if smoothing else {}
    for reduction in REDUCTIONS:
        loss, cache = getattr(F, op)(x, target, weight, reduction=reduction, **kwargs)
        dx = getattr(F, op + "_backward")(np.ones(np.shape(loss)), cache)
        tx = torch.tensor(x, requires_grad=True)
        t_loss = getattr(TF, op)(tx, torch.tensor(target), None if weight is None else torch.tensor(weight),
                                 reduction=reduction, **kwargs)
        t_loss.backward(torch.ones_like(t_loss))
        if reduction == "mean":
            assert np.isnan(loss) and torch.isnan(t_loss)
        else:
            assert rel_error(loss, t_loss.detach().numpy()) == 0 and not np.any(loss)
        assert not np.any(dx) and not torch.any(tx.grad)


def test_ignore_index_drops_samples_from_the_mean():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4))
    target = np.array([0, 3, 1, 3, 2])
    weight = np.array([0.5, 1.0, 2.0, 3.0])
    crit = nn.CrossEntropyLoss(weight=weight, ignore_index=3, reduction="mean", label_smoothing=0.2)
    kept = nn.CrossEntropyLoss(weight=weight, reduction="mean", label_smoothing=0.2)
    assert crit(x, target) == pytest.approx(kept(x[[0, 2, 4]], target[[0, 2, 4]]), rel=1e-14)
    dx = crit.backward()
    assert not np.any(dx[[1, 3]])


@pytest.mark.parametrize("op", ["cross_entropy", "nll_loss"])
def test_negative_weights_are_allowed(op):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 3))
    target = np.array([0, 1, 2, 1, 0, 0])
    weight = np.array([1.5, -0.7, 0.4])
    kwargs = {"label_smoothing": 0.3} if op == "cross_entropy" else {}
    for reduction in REDUCTIONS:
        ours, theirs = torch_kwargs_for(dict(weight=weight, reduction=reduction, **kwargs), np.float64)
        check_op(getattr(F, op), getattr(F, op + "_backward"), getattr(TF, op), [x, target],
                 kwargs=ours, torch_kwargs=theirs, grad_mask=[True, False])


def test_empty_batch_mean_is_nan_like_torch():
    x = np.zeros((0, 3))
    for target in (np.zeros(0, dtype=np.int64), np.zeros((0, 3))):
        loss, cache = F.cross_entropy(x, target)
        assert np.isnan(loss) and torch.isnan(TF.cross_entropy(torch.tensor(x), torch.tensor(target)))
        assert F.cross_entropy_backward(1.0, cache).shape == (0, 3)


def test_unbatched_accepts_python_int_target():
    x = np.array([0.5, -1.0, 2.0])
    loss = nn.CrossEntropyLoss()(x, 2)
    assert loss == pytest.approx(TF.cross_entropy(torch.tensor(x), torch.tensor(2)).item(), rel=1e-14)
    crit = nn.NLLLoss(reduction="none")
    out = crit(x, np.int64(1))
    assert out.shape == () and out == 1.0
    assert np.array_equal(crit.backward(), [0.0, -1.0, 0.0])


def test_uint8_targets_like_torch():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 3))
    target = np.array([0, 2, 1, 1, 0], dtype=np.uint8)
    ours = nn.CrossEntropyLoss()(x, target)
    assert ours == pytest.approx(TF.cross_entropy(torch.tensor(x), torch.tensor(target)).item(), rel=1e-14)


def test_smoothing_one_and_probability_targets_equal_dense_one_hot():
    """Class indices and their one-hot probabilities give the same loss without weights."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 5, 3))
    target = rng.integers(0, 5, (4, 3))
    one_hot = np.moveaxis(np.eye(5)[target], -1, 1)
    for smoothing in (0.0, 0.4, 1.0):
        a, cache_a = F.cross_entropy(x, target, label_smoothing=smoothing)
        b, cache_b = F.cross_entropy(x, one_hot, label_smoothing=smoothing)
        assert a == pytest.approx(float(b), rel=1e-13)
        np.testing.assert_allclose(F.cross_entropy_backward(0.7, cache_a), F.cross_entropy_backward(0.7, cache_b),
                                   rtol=1e-12, atol=1e-15)


def test_backward_does_not_modify_upstream():
    x = np.random.default_rng(6).standard_normal((4, 3))
    crit = nn.CrossEntropyLoss(reduction="none", label_smoothing=0.1)
    crit(x, np.array([0, 1, 2, -100]))
    upstream = np.array([1.0, -2.0, 0.5, 3.0])
    copy = upstream.copy()
    crit.backward(upstream)
    assert np.array_equal(upstream, copy)


# ---------------------------------------------------------------------- gradcheck

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(3, 5), (5,), (2, 4, 3)])
def test_cross_entropy_gradcheck(shape, reduction):
    rng = np.random.default_rng(7)
    c = class_count(shape)
    x = rng.standard_normal(shape)
    target = class_targets(rng, shape, c, 1, 0.3)
    target.reshape(-1)[0] = 2  # at least one target is not ignored: else the mean is nan
    crit = nn.CrossEntropyLoss(weight=rng.uniform(0.5, 2, c), ignore_index=1, reduction=reduction,
                               label_smoothing=0.1)
    assert numconv.gradcheck(crit, x, target, raise_exception=True)
    probs = rng.random(shape)
    crit = nn.CrossEntropyLoss(weight=rng.uniform(0.5, 2, c), reduction=reduction, label_smoothing=0.2)
    assert numconv.gradcheck(crit, x, probs, raise_exception=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_gradcheck(reduction):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 4, 3))
    target = class_targets(rng, x.shape, 4, -100, 0.3)
    crit = nn.NLLLoss(weight=rng.uniform(0.5, 2, 4), reduction=reduction)
    assert numconv.gradcheck(crit, x, target, raise_exception=True)
    assert numconv.gradcheck(F.nll_loss, x, target, kwargs={"reduction": reduction}, raise_exception=True)


def test_functional_gradcheck_finds_backward():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 4))
    assert numconv.gradcheck(F.cross_entropy, x, np.array([0, 3, 1]), kwargs={"label_smoothing": 0.1},
                             raise_exception=True)


def test_gradcheck_catches_a_wrong_backward():
    """The checks above can fail: a backward that forgets the softmax term is caught."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 4))

    def wrong_backward(dloss, cache):
        return F.cross_entropy_backward(dloss, cache) + cache.probs * 0.1

    report = numconv.gradcheck(F.cross_entropy, x, np.array([0, 3, 1]), backward=wrong_backward)
    assert not report.passed


# ---------------------------------------------------------------------- errors

def test_target_out_of_range_names_value_and_position():
    x = np.zeros((5, 10))
    target = np.array([1, 2, 3, 12, 0])
    target_bad = target.copy()
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: target\[3\] = 12 is out of range for 10 classes"):
        nn.CrossEntropyLoss()(x, target_bad)
    with pytest.raises(ValueError, match=r"NLLLoss: target\[1\] = -1 is out of range for 10 classes"):
        nn.NLLLoss()(x, np.array([0, -1, 2, 3, 4]))
    with pytest.raises(ValueError, match=r"cross_entropy: target\[1, 2, 0\] = -3 is out of range for 4 classes"):
        kdim_target = np.zeros((2, 3, 2), dtype=np.int64)
        kdim_target[1, 2, 0] = -3
        F.cross_entropy(np.zeros((2, 4, 3, 2)), kdim_target)
    with pytest.raises(ValueError, match=r"target = 4 is out of range for 4 classes"):
        F.cross_entropy(np.zeros(4), 4)


def test_ignore_index_is_exempt_from_the_range_check():
    x = np.random.default_rng(11).standard_normal((3, 4))
    for ignore_index in (-100, 9, -5):
        target = np.array([0, ignore_index, 3])
        loss = nn.CrossEntropyLoss(ignore_index=ignore_index)(x, target)
        t_loss = TF.cross_entropy(torch.tensor(x), torch.tensor(target), ignore_index=ignore_index)
        assert loss == pytest.approx(t_loss.item(), rel=1e-14)


def test_target_dtype_and_shape_errors():
    x = np.zeros((4, 3))
    crit = nn.CrossEntropyLoss()
    with pytest.raises(TypeError, match=r"float target is read as class probabilities.*\(4, 3\), got \(4,\)"):
        crit(x, np.zeros(4))
    with pytest.raises(TypeError, match="must be float, got int64"):
        crit(x, np.zeros((4, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"expected target of shape \(4,\) for input of shape \(4, 3\), "
                                         r"got target of shape \(5,\)"):
        crit(x, np.zeros(5, dtype=np.int64))
    with pytest.raises(ValueError, match=r"expected target of shape \(2, 5\) for input of shape \(2, 3, 5\)"):
        nn.NLLLoss()(np.zeros((2, 3, 5)), np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(TypeError, match="NLLLoss: expected class-index targets of an integer dtype, got float64"):
        nn.NLLLoss()(x, np.zeros(4))
    with pytest.raises(TypeError, match="got bool"):
        crit(x, np.zeros(4, dtype=bool))
    with pytest.raises(TypeError, match="int64"):
        crit(np.zeros((4, 3), dtype=np.int64), np.zeros(4, dtype=np.int64))
    with pytest.raises(TypeError, match="float16"):
        crit(np.zeros((4, 3), dtype=np.float16), np.zeros(4, dtype=np.int64))
    with pytest.raises(ValueError, match="0-D input"):
        crit(np.float64(1.0), 0)
    with pytest.raises(ValueError, match=r"ignore_index=2 is not supported for class-probability"):
        nn.CrossEntropyLoss(ignore_index=2)(x, np.full((4, 3), 1 / 3))


def test_weight_and_option_errors():
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"expected weight of shape \(3,\), one per class, got weight of shape \(5,\)"):
        nn.CrossEntropyLoss(weight=np.ones(5))(x, np.zeros(4, dtype=np.int64))
    with pytest.raises(TypeError, match="weight of dtype float32 or float64, got int64"):
        nn.NLLLoss(weight=np.ones(3, dtype=np.int64))
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0, got 1.5"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0, got -0.1"):
        F.cross_entropy(x, np.zeros(4, dtype=np.int64), label_smoothing=-0.1)
    with pytest.raises(TypeError, match="ignore_index to be an int"):
        nn.CrossEntropyLoss(ignore_index=1.0)
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: reduction must be one of 'none', 'mean', 'sum', "
                                         r"got 'avg'"):
        nn.CrossEntropyLoss(reduction="avg")
    with pytest.raises(ValueError, match="got 'batchmean'"):
        F.nll_loss(x, np.zeros(4, dtype=np.int64), reduction="batchmean")
    with pytest.raises(TypeError, match="reduction to be a string"):
        nn.NLLLoss(reduction=None)
