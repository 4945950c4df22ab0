"""Instance, layer and group norm, local response norm: PyTorch parity, gradcheck, errors.

As in test_norm_batch.py, every set of values normalised together holds at
least three values where gradients are compared (with two, xhat = +-1 and
the true dx is lost in rounding), and upstream gradients come from another
random stream than the inputs.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import numconv
from numconv import functional as F
from numconv import nn

torch = pytest.importorskip("torch")
from parity import TOL, _error_against_terms, assert_close, check_module, check_op  # noqa: E402


DTYPES = [np.float64, np.float32]
UPSTREAM_SEED = 1_000_003


def data(rng, shape, dtype=np.float64):
    offset = rng.uniform(-3, 3)
    scale = rng.uniform(0.5, 3)
    return (offset + scale * rng.standard_normal(shape)).astype(dtype)


def pair(cls_name, *args, **kwargs):
    return getattr(nn, cls_name)(*args, **kwargs), getattr(torch.nn, cls_name)(*args, **kwargs)


def randomise_affine(layer, rng):
    if layer.weight is not None:
        layer.weight.data[...] = rng.standard_normal(layer.weight.shape)
    if layer.bias is not None:
        layer.bias.data[...] = rng.standard_normal(layer.bias.shape)


# ---------------------------------------------------------------------------- instance norm
INSTANCE = {1: "InstanceNorm1d", 2: "InstanceNorm2d", 3: "InstanceNorm3d"}


@st.composite
def instance_shapes(draw):
    spatial_rank = draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(1, 4)) for _ in range(spatial_rank))
    assume(math.prod(spatial) >= 3)
    batched = draw(st.booleans())
    lead = (draw(st.integers(1, 3)),) if batched else ()
    return lead + (draw(st.integers(1, 4)),) + spatial, spatial_rank


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape_rank=instance_shapes(), affine=st.booleans(), bias=st.booleans(), track=st.booleans(),
       momentum=st.sampled_from([0.1, 0.7, None]), seed=st.integers(0, 2**16))
def test_instance_norm_modules_match_torch(dtype, shape_rank, affine, bias, track, momentum, seed):
    shape, spatial_rank = shape_rank
    c = shape[-spatial_rank - 1]
    ours, theirs = pair(INSTANCE[spatial_rank], c, momentum=momentum, affine=affine, track_running_stats=track,
                        bias=bias)
    rng = np.random.default_rng(seed)
    randomise_affine(ours, rng)
    scales = _instance_norm_term_scales(ours, spatial_rank)
    check_module(ours, theirs, [[data(rng, shape) for _ in range(3)]], dtype=dtype, seed=seed + UPSTREAM_SEED,
                 steps=3, term_scales=scales)
    ours.eval()
    theirs.eval()  # with track_running_stats the running statistics are used now
    check_module(ours, theirs, [data(rng, shape)], dtype=dtype, seed=seed + 2 * UPSTREAM_SEED, term_scales=scales)


def _instance_norm_term_scales(layer, spatial_rank):
    """``term_scales`` for ``check_module``: the sums of |terms| of the weight and bias gradients, per channel.

    ``dweight[c]`` sums ``dy * x_hat`` over the batch and the positions. Those terms have either sign, and
    on a few values (a (3, 1, 3) input in eval mode gave -0.00326 from terms of order 1) the sum is mostly
    cancellation: both sides' float32 results then differ by 1e-4 of the tiny sum, each as far from the
    float64 answer. The error is measured against the terms' scale, as for batch norm.
    """
    def x_hat(x):
        x = np.asarray(x, dtype=np.float64)
        axes = tuple(range(x.ndim - spatial_rank, x.ndim))
        if layer.track_running_stats and not layer.training:  # eval mode: the running statistics
            per_channel = (-1,) + (1,) * spatial_rank
            mean = np.asarray(layer.running_mean, np.float64).reshape(per_channel)
            var = np.asarray(layer.running_var, np.float64).reshape(per_channel)
        else:
            mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
        return (x - mean) / np.sqrt(var + layer.eps)

    def summed(terms):  # every axis but the channel's
        channel_axis = terms.ndim - spatial_rank - 1
        return np.abs(terms).sum(axis=tuple(a for a in range(terms.ndim) if a != channel_axis))

    return {"weight": lambda x, dy: summed(dy * x_hat(x)), "bias": lambda x, dy: summed(np.asarray(dy, np.float64))}


@pytest.mark.parametrize("dtype", DTYPES)
@given(n=st.integers(1, 3), c=st.integers(1, 4), length=st.integers(3, 6), use_input_stats=st.booleans(),
       affine=st.booleans(), seed=st.integers(0, 2**16))
def test_instance_norm_functional_matches_torch(dtype, n, c, length, use_input_stats, affine, seed):
    rng = np.random.default_rng(seed)
    x = data(rng, (n, c, length))
    w, b = (rng.standard_normal(c), rng.standard_normal(c)) if affine else (None, None)
    rm, rv = rng.standard_normal(c).astype(dtype), rng.uniform(0.3, 2, c).astype(dtype)
    t_rm, t_rv = torch.tensor(rm), torch.tensor(rv)
    # running_mean becomes 0.7 * rm + 0.3 * mean(x): two terms that can cancel (-0.58996 + 0.58977 on one
    # draw, where both float32 results sat within 1e-7 of the terms from float64's -0.000189). Its error is
    # measured against the terms, as the batch-norm gradients' are.
    mean_terms = 0.7 * np.abs(rm.astype(np.float64)) + 0.3 * np.abs(x.mean(axis=(0, 2)))
    check_op(lambda x, w, b: F.instance_norm(x, rm, rv, w, b, use_input_stats, 0.3),
             F.instance_norm_backward,
             lambda x, w, b: torch.nn.functional.instance_norm(x, t_rm, t_rv, w, b, use_input_stats, 0.3),
             [x, w, b], dtype=dtype, seed=seed + UPSTREAM_SEED)
    assert _error_against_terms(rm, t_rm.numpy(), mean_terms) <= TOL[np.dtype(dtype)], "running_mean"
    assert_close(rv, t_rv, dtype, "running_var")


@pytest.mark.parametrize("cls_name, shape", [("InstanceNorm1d", (2, 3, 5)), ("InstanceNorm1d", (3, 4)),
                                             ("InstanceNorm2d", (2, 2, 3, 3)), ("InstanceNorm3d", (2, 2, 2, 2))])
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("options", [{}, {"affine": True}, {"affine": True, "track_running_stats": True}])
def test_instance_norm_gradcheck(cls_name, shape, mode, options):
    rng = np.random.default_rng(3)
    channels = shape[-int(cls_name[-2]) - 1]
    layer = getattr(nn, cls_name)(channels, **options)
    randomise_affine(layer, rng)
    if layer.track_running_stats:
        layer.running_mean[...] = rng.standard_normal(channels)
        layer.running_var[...] = rng.uniform(0.5, 2, channels)
    layer.train(mode == "train")
    assert numconv.gradcheck(layer, data(rng, shape), raise_exception=True)


def test_instance_norm_state_dict_and_repr_match_torch():
    rng = np.random.default_rng(0)
    ours, theirs = pair("InstanceNorm2d", 3, affine=True, track_running_stats=True)
    assert repr(ours) == repr(theirs)
    for _ in range(2):
        theirs(torch.tensor(data(rng, (2, 3, 4, 4), np.float32)))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert int(ours.num_batches_tracked) == 0  # PyTorch never counts batches in instance norm
    ours(data(rng, (2, 3, 4, 4), np.float32))
    assert int(ours.num_batches_tracked) == 0
    for kwargs in ({}, {"affine": True, "bias": False}, {"momentum": None, "eps": 1e-3}):
        for cls_name in INSTANCE.values():
            assert repr(getattr(nn, cls_name)(4, **kwargs)) == repr(getattr(torch.nn, cls_name)(4, **kwargs))
    assert list(nn.InstanceNorm1d(3).state_dict()) == []


def test_instance_norm_errors_and_warning():
    with pytest.raises(ValueError, match=r"InstanceNorm1d: Expected more than 1 spatial element when training, "
                                         r"got input size \(2, 3, 1\)"):
        nn.InstanceNorm1d(3)(np.zeros((2, 3, 1), dtype=np.float32))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        nn.InstanceNorm1d(3)(np.zeros((3, 1), dtype=np.float32))  # unbatched (C, L)
    # Eval with running statistics: a single spatial value is fine (as PyTorch).
    nn.InstanceNorm1d(3, track_running_stats=True).eval()(np.zeros((2, 3, 1), dtype=np.float32))
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected a 3-D or 4-D input \(C, H, W\) or \(N, C, H, W\), "
                                         r"got shape \(5, 5\) \(2-D\)"):
        nn.InstanceNorm2d(3)(np.zeros((5, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"expected input with 3 channels on axis 1 \(num_features=3\), "
                                         r"got input of shape \(2, 4, 5, 5\)"):
        nn.InstanceNorm2d(3, affine=True)(np.zeros((2, 4, 5, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"channels on axis 0.*\(4, 5, 5\)"):
        nn.InstanceNorm2d(3, track_running_stats=True)(np.zeros((4, 5, 5), dtype=np.float32))
    # Without affine or running statistics num_features is unused: PyTorch warns and goes on; so do we.
    x = np.random.default_rng(0).standard_normal((2, 4, 5))
    with pytest.warns(UserWarning, match="does not match num_features"):
        ours = nn.InstanceNorm1d(3)(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_close(ours, torch.nn.InstanceNorm1d(3)(torch.tensor(x)), np.float32, "mismatched channels")


# ---------------------------------------------------------------------------- layer norm
@st.composite
def layer_norm_cases(draw):
    normalized = tuple(draw(st.integers(1, 4)) for _ in range(draw(st.integers(1, 3))))
    assume(math.prod(normalized) >= 3)
    lead = tuple(draw(st.integers(1, 3)) for _ in range(draw(st.integers(0, 2))))
    return lead + normalized, normalized


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=layer_norm_cases(), affine=st.booleans(), bias=st.booleans(), eps=st.sampled_from([1e-5, 0.1]),
       seed=st.integers(0, 2**16))
def test_layer_norm_matches_torch(dtype, case, affine, bias, eps, seed):
    shape, normalized = case
    rng = np.random.default_rng(seed)
    ours, theirs = pair("LayerNorm", list(normalized), eps=eps, elementwise_affine=affine, bias=bias)
    randomise_affine(ours, rng)
    check_module(ours, theirs, [data(rng, shape)], dtype=dtype, seed=seed + UPSTREAM_SEED)
    w = rng.standard_normal(normalized) if affine else None
    b = rng.standard_normal(normalized) if affine and bias else None
    check_op(lambda x, w, b: F.layer_norm(x, normalized, w, b, eps), F.layer_norm_backward,
             lambda x, w, b: torch.nn.functional.layer_norm(x, normalized, w, b, eps),
             [data(rng, shape), w, b], dtype=dtype, seed=seed + 2 * UPSTREAM_SEED)


@pytest.mark.parametrize("normalized, shape", [(5, (3, 5)), ((4, 5), (2, 3, 4, 5)), ((2, 3, 4), (2, 3, 4)),
                                               ([4], (2, 2, 4))])
@pytest.mark.parametrize("kwargs", [{}, {"elementwise_affine": False}, {"bias": False}])
def test_layer_norm_gradcheck_and_repr(normalized, shape, kwargs):
    rng = np.random.default_rng(1)
    layer = nn.LayerNorm(normalized, **kwargs)
    assert repr(layer) == repr(torch.nn.LayerNorm(normalized, **kwargs))
    assert list(layer.state_dict()) == list(torch.nn.LayerNorm(normalized, **kwargs).state_dict())
    randomise_affine(layer, rng)
    for mode in (True, False):  # layer norm is the same in both modes
        layer.train(mode)
        assert numconv.gradcheck(layer, data(rng, shape), raise_exception=True)


def test_layer_norm_errors():
    with pytest.raises(ValueError, match=r"LayerNorm: expected an input of shape \(\*, 4, 5\) "
                                         r"\(normalized_shape=\(4, 5\)\), got input of shape \(3, 4, 6\)"):
        nn.LayerNorm([4, 5])(np.zeros((3, 4, 6), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(\*, 4, 5\).*got input of shape \(5,\)"):
        nn.LayerNorm((4, 5))(np.zeros(5, dtype=np.float32))
    with pytest.raises(ValueError, match=r"layer_norm: expected weight of shape \(4,\)"):
        F.layer_norm(np.zeros((2, 4)), 4, np.ones(3))
    with pytest.raises(ValueError, match="non-empty"):
        nn.LayerNorm([])
    with pytest.raises(TypeError, match="normalized_shape"):
        nn.LayerNorm(4.0)


# ---------------------------------------------------------------------------- group norm
@st.composite
def group_norm_cases(draw):
    groups = draw(st.integers(1, 4))
    channels = groups * draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(1, 4)) for _ in range(draw(st.integers(0, 2))))
    assume(channels // groups * math.prod(spatial) >= 3)
    return (draw(st.integers(1, 3)), channels) + spatial, groups


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=group_norm_cases(), affine=st.booleans(), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_group_norm_matches_torch(dtype, case, affine, bias, seed):
    shape, groups = case
    # A group of three values standardises to x_hat with sum 0 and sum of squares 3: one degree of freedom,
    # and dx is mostly cancellation. In float32 both PyTorch and numconv land ~2.5e-4 (relative) from the
    # float64 answer there, so two float32 results cannot be held to 1e-4 of each other; from four values
    # on both stay within ~5e-6. Float64 keeps the groups of three.
    assume(dtype == np.float64 or shape[1] // groups * math.prod(shape[2:]) >= 4)
    rng = np.random.default_rng(seed)
    ours, theirs = pair("GroupNorm", groups, shape[1], affine=affine, bias=bias)
    randomise_affine(ours, rng)
    check_module(ours, theirs, [data(rng, shape)], dtype=dtype, seed=seed + UPSTREAM_SEED)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("groups, shape", [(1, (2, 6, 3, 3)), (6, (2, 6, 3, 3)), (3, (1, 6, 4)), (2, (3, 6))])
def test_group_norm_extreme_groups_match_torch(dtype, groups, shape):
    # groups = 1 is layer norm over (C, *); groups = C is instance norm.
    rng = np.random.default_rng(groups)
    ours, theirs = pair("GroupNorm", groups, shape[1])
    randomise_affine(ours, rng)
    check_module(ours, theirs, [data(rng, shape)], dtype=dtype, seed=UPSTREAM_SEED)
    w, b = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    check_op(lambda x, w, b: F.group_norm(x, groups, w, b), F.group_norm_backward,
             lambda x, w, b: torch.nn.functional.group_norm(x, groups, w, b),
             [data(rng, shape), w, b], dtype=dtype, seed=UPSTREAM_SEED + 1)


@pytest.mark.parametrize("groups, shape", [(1, (2, 4, 3)), (4, (2, 4, 3)), (2, (2, 4, 2, 2))])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_gradcheck_and_repr(groups, shape, affine):
    rng = np.random.default_rng(6)
    layer = nn.GroupNorm(groups, shape[1], affine=affine)
    assert repr(layer) == repr(torch.nn.GroupNorm(groups, shape[1], affine=affine))
    randomise_affine(layer, rng)
    for mode in (True, False):
        layer.train(mode)
        assert numconv.gradcheck(layer, data(rng, shape), raise_exception=True)
    assert repr(nn.GroupNorm(2, 4, eps=1e-3, bias=False)) == repr(torch.nn.GroupNorm(2, 4, eps=1e-3, bias=False))


def test_group_norm_errors():
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"GroupNorm: expected input with 4 channels on axis 1 "
                                         r"\(num_channels=4\), got input of shape \(2, 6, 3\)"):
        nn.GroupNorm(2, 4)(np.zeros((2, 6, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"divisible by num_groups=2, got input of shape \(2, 5, 3\)"):
        nn.GroupNorm(2, 4, affine=False)(np.zeros((2, 5, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size \(1, 2\)"):
        nn.GroupNorm(2, 2)(np.zeros((1, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"at least 2 axes, got shape \(4,\)"):
        nn.GroupNorm(2, 4)(np.zeros(4, dtype=np.float32))
    with pytest.raises(ValueError, match="num_groups >= 1"):
        F.group_norm(np.zeros((2, 4, 3)), 0)


# ---------------------------------------------------------------------------- local response norm
@pytest.mark.parametrize("dtype", DTYPES)
@given(size=st.integers(1, 7), rank=st.integers(3, 5), c=st.integers(1, 6), alpha=st.sampled_from([1e-4, 0.5, 2.0]),
       beta=st.sampled_from([0.75, 0.5, 1.3]), k=st.sampled_from([1.0, 2.0, 0.5]), seed=st.integers(0, 2**16))
def test_local_response_norm_matches_torch(dtype, size, rank, c, alpha, beta, k, seed):
    rng = np.random.default_rng(seed)
    shape = (2, c) + tuple(int(s) for s in rng.integers(1, 4, rank - 2))
    x = data(rng, shape)
    ours, theirs = pair("LocalResponseNorm", size, alpha=alpha, beta=beta, k=k)
    check_module(ours, theirs, [x], dtype=dtype, seed=seed + UPSTREAM_SEED)
    check_op(lambda x: F.local_response_norm(x, size, alpha, beta, k), F.local_response_norm_backward,
             lambda x: torch.nn.functional.local_response_norm(x, size, alpha, beta, k),
             [x], dtype=dtype, seed=seed + 2 * UPSTREAM_SEED)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 8])
def test_local_response_norm_gradcheck_and_repr(size):
    rng = np.random.default_rng(size)
    layer = nn.LocalResponseNorm(size, alpha=0.5, beta=0.75, k=1.5)
    assert repr(layer) == repr(torch.nn.LocalResponseNorm(size, alpha=0.5, beta=0.75, k=1.5))
    assert repr(nn.LocalResponseNorm(size)) == repr(torch.nn.LocalResponseNorm(size))
    for mode in (True, False):
        layer.train(mode)
        assert numconv.gradcheck(layer, data(rng, (2, 5, 3, 2)), raise_exception=True)


def test_local_response_norm_formula_by_hand():
    # Channel c averages the squares of channels c - size // 2 .. c + (size - 1) // 2, zeros beyond the edge.
    x = np.arange(1.0, 5.0).reshape(1, 4, 1)
    out = nn.LocalResponseNorm(2, alpha=1.0, beta=1.0, k=0.0)(x)
    squares = x[0, :, 0] ** 2
    windows = [squares[0], squares[0] + squares[1], squares[1] + squares[2], squares[2] + squares[3]]
    np.testing.assert_allclose(out[0, :, 0], x[0, :, 0] / (np.array(windows) / 2))


def test_local_response_norm_errors_and_dtype():
    with pytest.raises(ValueError, match=r"LocalResponseNorm: expected an input of shape \(N, C, \*\) with at least "
                                         r"3 axes, got shape \(3, 4\) \(2-D\)"):
        nn.LocalResponseNorm(2)(np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="size >= 1"):
        nn.LocalResponseNorm(0)
    with pytest.raises(TypeError, match="int64"):
        nn.LocalResponseNorm(2)(np.zeros((1, 2, 3), dtype=np.int64))
    layer = nn.LocalResponseNorm(3)
    for dtype in DTYPES:
        y = layer(np.ones((1, 2, 3), dtype=dtype))
        assert y.dtype == dtype and layer.backward(np.ones_like(y)).dtype == dtype


def test_layers_without_weights_keep_the_input_dtype_and_weighted_ones_cast():
    x32 = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    assert nn.InstanceNorm1d(4)(x32).dtype == np.float32
    assert nn.InstanceNorm1d(4)(x32.astype(np.float64)).dtype == np.float64
    layer = nn.GroupNorm(2, 4)
    y = layer(x32.astype(np.float64))
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float64
