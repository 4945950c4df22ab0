"""Dropout family: statistics, masks (seeded, reused by backward, whole channels), PyTorch's shape rules, gradcheck."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numconv
from numconv import functional as F
from numconv import nn

torch = pytest.importorskip("torch")
from parity import check_module  # noqa: E402

TF = torch.nn.functional
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

# SELU's saturation value and alpha dropout's affine map, written out independently.
SAT = -1.0507009873554804934193349852946 * 1.6732632423543772848170429916717


def _alpha_coefficients(p):
    a = ((1 - p) * (1 + p * SAT**2)) ** -0.5
    return a, -a * SAT * p


def _quiet(fn, *args, **kwargs):
    """Call ``fn`` with the rank warnings of dropout2d/3d silenced (tested separately)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn(*args, **kwargs)


# ---------------------------------------------------------------------------- element dropout
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_statistics(p, dtype):
    numconv.manual_seed(0)
    x = np.ones((200, 500), dtype=dtype)
    out, _ = F.dropout(x, p)
    n = x.size
    dropped = np.mean(out == 0)
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / n)
    # Kept values are exactly 1 / (1 - p) (in the dtype), so the mean is preserved.
    assert np.all((out == 0) | (out == dtype(1) / dtype(1 - p)))
    assert abs(out.mean() - 1) < 5 * np.sqrt(p / (1 - p) / n)
    assert out.dtype == dtype


def test_eval_mode_and_p_zero_are_the_identity():
    x = np.random.default_rng(0).standard_normal((3, 4))
    out, cache = F.dropout(x, 0.5, training=False)
    assert out is x
    g = np.ones((3, 4))
    np.testing.assert_array_equal(F.dropout_backward(g, cache), g)
    assert F.dropout(x, 0.0)[0] is x
    layer = nn.Dropout(0.5).eval()
    assert layer(x) is x
    np.testing.assert_array_equal(layer.backward(g), g)
    assert layer.train()(x) is not x


def test_p_one_gives_zeros_like_torch():
    x = np.array([1.0, np.nan, -2.0, 0.0])
    out, cache = F.dropout(x, 1.0)
    t = TF.dropout(torch.tensor(x), 1.0, True).numpy()
    np.testing.assert_array_equal(out, t)  # NaN * 0 stays NaN, as in PyTorch
    np.testing.assert_array_equal(F.dropout_backward(np.ones(4), cache), np.zeros(4))
    check_module(nn.Dropout(1), torch.nn.Dropout(1), [np.random.default_rng(0).standard_normal((3, 5))])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_deterministic_cases_match_torch_module(dtype):
    x = np.random.default_rng(0).standard_normal((4, 3, 5))
    check_module(nn.Dropout(0.0), torch.nn.Dropout(0.0), [x], dtype=dtype)
    check_module(nn.Dropout(0.7).eval(), torch.nn.Dropout(0.7), [x], dtype=dtype)
    check_module(nn.Dropout2d(1.0), torch.nn.Dropout2d(1.0), [x[:, :, None]], dtype=dtype)
    check_module(nn.AlphaDropout(1.0), torch.nn.AlphaDropout(1.0), [x], dtype=dtype)
    check_module(nn.FeatureAlphaDropout(0.4).eval(), torch.nn.FeatureAlphaDropout(0.4), [x], dtype=dtype)


def test_same_seed_same_mask_and_generator_argument():
    x = np.ones((50, 40))
    numconv.manual_seed(7)
    a = F.dropout(x, 0.5)[0]
    b = F.dropout(x, 0.5)[0]
    numconv.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x, 0.5)[0], a)
    assert not np.array_equal(a, b)  # a fresh mask on every call
    # The mask depends on the seed and the shape, not on the dtype.
    numconv.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x.astype(np.float32), 0.5)[0] == 0, a == 0)
    # A private generator: repeatable, and the global stream is left alone.
    state = numconv.get_rng_state()
    c = F.dropout(x, 0.5, generator=np.random.default_rng(3))[0]
    d = F.dropout(x, 0.5, generator=np.random.default_rng(3))[0]
    np.testing.assert_array_equal(c, d)
    assert numconv.get_rng_state() == state


@given(shape=st.lists(st.integers(1, 6), min_size=0, max_size=4).map(tuple), p=st.floats(0.0, 1.0),
       seed=st.integers(0, 2**16), dtype=st.sampled_from([np.float32, np.float64]))
def test_backward_reuses_the_forward_mask(shape, p, seed, dtype):
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1, 1], size=shape), dtype=dtype)
    dout = np.asarray(rng.standard_normal(shape), dtype=dtype)
    dout_copy = dout.copy()
    numconv.manual_seed(seed)
    out, cache = F.dropout(x, p)
    dx = F.dropout_backward(dout, cache)
    keep = out != 0  # x has no zeros, so a zero in out is a dropped element
    rtol = 1e-15 if dtype == np.float64 else 1e-6
    scale = 1 / (1 - p) if p < 1 else 0.0
    np.testing.assert_allclose(out, np.where(keep, x * scale, 0), rtol=rtol)
    np.testing.assert_allclose(dx, np.where(keep, dout * scale, 0), rtol=rtol)
    assert dx.dtype == out.dtype == dtype and dx.shape == x.shape
    np.testing.assert_array_equal(dout, dout_copy)
    if p == 1:
        assert not keep.any()


def test_module_backward_uses_latest_forward_mask():
    numconv.manual_seed(1)
    layer = nn.Dropout(0.5)
    x = np.ones((8, 8), dtype=np.float32)
    layer(x)
    out2 = layer(x)
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx, out2)  # dout = 1 and x = 1: dx is the mask itself
    with pytest.raises(RuntimeError, match="no forward pass"):
        layer.backward(np.ones_like(x))


# ---------------------------------------------------------------------------- channel dropout
def _constant_axes(out):
    """Which axes the output is constant along (a channel mask is constant over its spatial axes)."""
    out = np.asarray(out)
    return tuple(bool(np.all(out == out.take([0], axis=a))) for a in range(out.ndim))


CHANNEL_CASES = [
    # (numconv fn, torch fn, shape)
    (F.dropout1d, TF.dropout1d, (4, 6, 5)),
    (F.dropout1d, TF.dropout1d, (6, 5)),
    (F.dropout2d, TF.dropout2d, (4, 6, 3, 5)),
    (F.dropout2d, TF.dropout2d, (4, 6, 5)),  # 3-D: PyTorch reads (N, C, L), not (C, H, W)
    (F.dropout2d, TF.dropout2d, (5, 6)),
    (F.dropout2d, TF.dropout2d, (3, 6, 3, 3, 3)),
    (F.dropout3d, TF.dropout3d, (3, 6, 3, 4, 3)),
    (F.dropout3d, TF.dropout3d, (6, 3, 4, 3)),
    (F.dropout3d, TF.dropout3d, (6, 4, 5)),
    (F.dropout3d, TF.dropout3d, (9,)),
    (F.feature_alpha_dropout, TF.feature_alpha_dropout, (4, 6, 5)),
    (F.feature_alpha_dropout, TF.feature_alpha_dropout, (5, 6, 3, 3)),
]


@pytest.mark.parametrize("fn, torch_fn, shape", CHANNEL_CASES,
                         ids=[f"{f.__name__}-{len(s)}d" for f, _, s in CHANNEL_CASES])
def test_channel_dropout_mask_shape_is_torchs(fn, torch_fn, shape):
    """Ours and PyTorch's outputs on an all-ones input are constant along the same axes."""
    numconv.manual_seed(0)
    torch.manual_seed(0)
    x = np.ones(shape)
    out, cache = _quiet(fn, x, 0.5, True)
    theirs = _quiet(torch_fn, torch.tensor(x), 0.5, True).numpy()
    assert _constant_axes(out) == _constant_axes(theirs)
    assert set(np.unique(out)) <= set(np.unique(theirs))  # same values: 0 and 2 (or alpha's two)
    assert len(np.unique(out)) == 2
    # The backward multiplies by the same per-channel mask.
    g = np.random.default_rng(0).standard_normal(shape)
    mask = F.dropout_backward(np.ones(shape), cache)
    np.testing.assert_allclose(F.dropout_backward(g, cache), g * mask, rtol=1e-15)


@pytest.mark.parametrize("make, shape, channel_axes", [
    (lambda: nn.Dropout1d(0.4), (8, 10, 7), 2),
    (lambda: nn.Dropout1d(0.4), (10, 7), 1),
    (lambda: nn.Dropout2d(0.4), (8, 10, 3, 4), 2),
    (lambda: nn.Dropout3d(0.4), (8, 10, 2, 3, 2), 2),
    (lambda: nn.Dropout3d(0.4), (10, 2, 3, 2), 1),
])
def test_channel_dropout_drops_whole_channels(make, shape, channel_axes):
    numconv.manual_seed(2)
    layer = make()
    x = np.random.default_rng(0).uniform(0.5, 1.5, size=shape)
    out = layer(x)
    per_channel = out.reshape(int(np.prod(shape[:channel_axes])), -1)
    zero_rows = np.all(per_channel == 0, axis=1)
    alive_rows = np.all(per_channel != 0, axis=1)
    assert np.all(zero_rows | alive_rows)  # every channel entirely dropped or entirely kept
    assert 0 < zero_rows.sum() < len(zero_rows)
    np.testing.assert_allclose(out, np.where(out != 0, x / 0.6, 0), rtol=1e-15)
    np.testing.assert_array_equal(layer.backward(np.ones(shape)) != 0, out != 0)


def test_channel_dropout_fraction():
    numconv.manual_seed(4)
    out, _ = F.dropout2d(np.ones((100, 100, 2, 2)), 0.3)
    frac = np.mean(out[:, :, 0, 0] == 0)
    assert abs(frac - 0.3) < 5 * np.sqrt(0.3 * 0.7 / 10000)


def test_rank_warnings_and_errors_follow_torch():
    with pytest.warns(UserWarning, match=r"3-D input.*\(N, C, L\)"):
        F.dropout2d(np.ones((2, 3, 4)), 0.5)
    with pytest.warns(UserWarning, match="2-D input"):
        F.dropout2d(np.ones((2, 3)), 0.5)
    with pytest.warns(UserWarning, match="3-D input"):
        F.dropout3d(np.ones((2, 3, 4)), 0.5)
    with pytest.warns(UserWarning, match="3-D input"):
        nn.Dropout2d().eval()(np.ones((2, 3, 4)))  # PyTorch warns in eval mode too
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.dropout2d(np.ones((2, 3, 4, 4)), 0.5)
        F.dropout3d(np.ones((3, 4, 4, 4)), 0.5)
        F.dropout1d(np.ones((3, 4)), 0.5)
    with pytest.raises(ValueError, match=r"2-D or 3-D input.*\(2, 3, 4, 5\)"):
        F.dropout1d(np.ones((2, 3, 4, 5)), 0.5)
    with pytest.raises(ValueError, match="at least 2 axes"):
        _quiet(F.dropout2d, np.ones(5), 0.5)
    with pytest.raises(ValueError, match="at least 2 axes"):
        F.feature_alpha_dropout(np.ones(5), 0.5, True)


# ---------------------------------------------------------------------------- alpha dropout
@pytest.mark.parametrize("p", [0.05, 0.3, 0.6])
def test_alpha_dropout_values_match_torchs(p):
    """On zeros and ones, every output is one of two constants; they are PyTorch's."""
    numconv.manual_seed(0)
    a, b = _alpha_coefficients(p)
    for value in (0.0, 1.0):
        x = np.full(4000, value)
        out, cache = F.alpha_dropout(x, p, training=True)
        theirs = TF.alpha_dropout(torch.tensor(x), p, training=True).numpy()
        ours_values, their_values = np.unique(out), np.unique(theirs)
        assert len(ours_values) == len(their_values) == 2
        np.testing.assert_allclose(ours_values, their_values, rtol=1e-14)
        np.testing.assert_allclose(sorted(ours_values), sorted([a * value + b, a * SAT + b]), rtol=1e-14)
        kept = np.isclose(out, a * value + b, rtol=1e-14, atol=0)
        np.testing.assert_allclose(F.dropout_backward(np.ones_like(x), cache), np.where(kept, a, 0), rtol=1e-14)


def test_alpha_dropout_keeps_zero_mean_unit_variance():
    numconv.manual_seed(0)
    x = np.random.default_rng(0).standard_normal(400_000)
    for p in (0.1, 0.5):
        out, _ = F.alpha_dropout(x, p, training=True)
        assert abs(out.mean()) < 0.01 and abs(out.std() - 1) < 0.01
    assert F.alpha_dropout(x, 0.5)[0] is x  # training=False by default, as in PyTorch


# ---------------------------------------------------------------------------- layers
DROPOUT_LAYERS = [
    (lambda: nn.Dropout(0.3), (2, 3, 4)),
    (lambda: nn.Dropout1d(0.3), (3, 4, 5)),
    (lambda: nn.Dropout2d(0.3), (2, 4, 3, 3)),
    (lambda: nn.Dropout3d(0.3), (4, 2, 3, 2)),
    (lambda: nn.AlphaDropout(0.3), (2, 3, 4)),
    (lambda: nn.FeatureAlphaDropout(0.3), (3, 4, 2)),
]


@pytest.mark.parametrize("make, shape", DROPOUT_LAYERS, ids=[repr(m()) + str(len(s)) for m, s in DROPOUT_LAYERS])
def test_dropout_layer_gradcheck(make, shape):
    """gradcheck restores the RNG before every forward, so all evaluations share one mask."""
    numconv.manual_seed(5)
    x = np.random.default_rng(0).standard_normal(shape)
    layer = make()
    assert numconv.gradcheck(layer, x, raise_exception=True)
    assert numconv.gradcheck(layer.eval(), x, raise_exception=True)


@pytest.mark.parametrize("make, shape", DROPOUT_LAYERS, ids=[repr(m()) + str(len(s)) for m, s in DROPOUT_LAYERS])
def test_dropout_layer_dtypes_and_inputs(make, shape):
    layer = make()
    for dtype in (np.float32, np.float64):
        x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
        x_copy = x.copy()
        out = layer(x)
        g = np.ones_like(out)
        dx = layer.backward(g)
        assert out.dtype == dx.dtype == dtype
        np.testing.assert_array_equal(x, x_copy)
        np.testing.assert_array_equal(g, 1)
    with numconv.no_grad():
        layer(x)
    with pytest.raises(RuntimeError, match="no forward pass"):
        layer.backward(g)


def test_sequential_train_eval_switch():
    numconv.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 20), nn.ReLU(), nn.Dropout(0.5), nn.Linear(20, 3))
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    net.eval()
    np.testing.assert_array_equal(net(x), net(x))
    net.train()
    assert not np.array_equal(net(x), net(x))
    assert numconv.gradcheck(net, x.astype(np.float64), raise_exception=True)


def test_reprs_equal_torchs():
    for ours, theirs in [
        (nn.Dropout(), torch.nn.Dropout()), (nn.Dropout(0.2, True), torch.nn.Dropout(0.2, True)),
        (nn.Dropout(1), torch.nn.Dropout(1)), (nn.Dropout1d(), torch.nn.Dropout1d()),
        (nn.Dropout2d(0.3), torch.nn.Dropout2d(0.3)), (nn.Dropout3d(), torch.nn.Dropout3d()),
        (nn.AlphaDropout(), torch.nn.AlphaDropout()), (nn.FeatureAlphaDropout(0.1), torch.nn.FeatureAlphaDropout(0.1)),
    ]:
        assert repr(ours) == repr(theirs)
        assert ours.training and ours.state_dict() == {}


def test_errors_name_the_value():
    with pytest.raises(ValueError, match="1.5"):
        F.dropout(np.ones(3), 1.5)
    with pytest.raises(ValueError, match="-0.1"):
        nn.Dropout(-0.1)
    with pytest.raises(ValueError, match="2"):
        nn.Dropout2d(p=2)
    with pytest.raises(ValueError, match="1.01"):
        F.alpha_dropout(np.ones(3), 1.01, True)
    with pytest.raises(TypeError, match="p"):
        nn.Dropout("0.5")
    with pytest.raises(TypeError, match="training"):
        F.dropout(np.ones(3), 0.5, training="yes")
    with pytest.raises(TypeError, match="Generator"):
        F.dropout(np.ones(3), 0.5, generator=42)
    with pytest.raises(TypeError, match="int64"):
        nn.Dropout()(np.arange(4))
    with pytest.raises(ValueError, match=r"dout of shape \(3,\) \(the output's\), got \(4,\)"):
        F.dropout_backward(np.ones(4), F.dropout(np.ones(3), 0.5)[1])
