"""functional.pad and the padding layers (Zero/Constant/Reflection/Replication/CircularPad1d/2d/3d):
PyTorch parity (negative amounts too), gradcheck, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numconv
from numconv import functional as F
from numconv import nn

torch = pytest.importorskip("torch")
from parity import check_module, check_op  # noqa: E402

TF = torch.nn.functional
MODES = ["constant", "reflect", "replicate", "circular"]


@st.composite
def pad_cases(draw):
    """A mode, an input shape it accepts, and a padding within its limits (negative amounts crop)."""
    mode = draw(st.sampled_from(MODES))
    axes = draw(st.integers(1, 3))
    lead = draw(st.integers(1, 2)) if mode != "constant" else draw(st.integers(0, 2))
    spatial = tuple(draw(st.integers(1, 5)) for _ in range(axes))
    shape = tuple(draw(st.integers(1, 2)) for _ in range(lead)) + spatial
    pad = []
    for size in reversed(spatial):  # PyTorch's order: the last axis first
        before, after = (draw(st.integers(-((size - 1) // 2), 3 if mode != "reflect" else size - 1)) for _ in range(2))
        kept = size - max(0, -before) - max(0, -after)  # what a crop leaves (at least 1 here)
        if mode == "circular":  # wraps the cropped input at most once
            before, after = min(before, kept), min(after, kept)
        pad += [before, after]
    value = draw(st.sampled_from([0.0, -1.5, 2.0])) if mode == "constant" else 0.0
    return shape, tuple(pad), mode, value


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=pad_cases(), seed=st.integers(0, 2**16))
def test_pad_matches_torch(dtype, case, seed):
    shape, pad, mode, value = case
    x = np.random.default_rng(seed).standard_normal(shape)
    torch_kwargs = dict(mode=mode, value=value if mode == "constant" else None)
    check_op(F.pad, F.pad_backward, lambda t, pad, mode, value: TF.pad(t, pad, **torch_kwargs), [x],
             kwargs=dict(pad=pad, mode=mode, value=value), dtype=dtype, seed=seed)


def test_examples():
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    expected = {"constant": [0, 0, 1, 2, 3, 4, 0], "reflect": [3, 2, 1, 2, 3, 4, 3],
                "replicate": [1, 1, 1, 2, 3, 4, 4], "circular": [3, 4, 1, 2, 3, 4, 1]}
    for mode, values in expected.items():
        np.testing.assert_array_equal(F.pad(x, (2, 1), mode=mode)[0][0], values)
    np.testing.assert_array_equal(F.pad(x, (-1, 2), mode="reflect")[0][0], [2, 3, 4, 3, 2])  # about the edge
    np.testing.assert_array_equal(F.pad(x, (1, -2), value=9)[0][0], [9, 1, 2])


def test_value_none_and_zero_as_pytorch_takes_them():
    x = np.arange(3.0).reshape(1, 1, 3)
    np.testing.assert_array_equal(F.pad(x, (1, 1), value=None)[0], TF.pad(torch.tensor(x), (1, 1), value=None))
    for mode in ("reflect", "replicate", "circular"):  # no value, but None and 0 are accepted, as in PyTorch
        for value in (None, 0, 0.0):
            np.testing.assert_array_equal(F.pad(x, (1, 1), mode=mode, value=value)[0],
                                          TF.pad(torch.tensor(x), (1, 1), mode=mode, value=value))
    out, cache = F.pad(np.array(2.0), ())  # a 0-d input stays 0-d
    assert out.shape == tuple(TF.pad(torch.tensor(2.0), ()).shape) == () and F.pad_backward(out, cache).shape == ()
    assert repr(nn.ConstantPad2d(1, 0)) == repr(torch.nn.ConstantPad2d(1, 0))  # value=0, not value=0.0


def test_pad_gradcheck():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    for mode in MODES:
        assert numconv.gradcheck(F.pad, x, kwargs=dict(pad=(2, -1, 3, 1), mode=mode), raise_exception=True)


# ---------------------------------------------------------------------------------------------- layers
LAYERS = [
    ("ZeroPad1d", (2,), (2, 3, 5)), ("ZeroPad2d", ((1, 0, 2, -1),), (2, 3, 4, 5)), ("ZeroPad3d", (1,), (1, 2, 3, 3, 2)),
    ("ConstantPad1d", ((1, 3), 2.5), (3, 4)), ("ConstantPad2d", (2, -1.0), (2, 2, 3, 3)),
    ("ConstantPad3d", ((1, 0, 0, 1, 2, 0), 0.5), (1, 2, 2, 3, 2)),
    ("ReflectionPad1d", ((3, 1),), (2, 3, 5)), ("ReflectionPad2d", (2,), (3, 4, 5)),
    ("ReflectionPad3d", ((1, 0, 2, 1, 0, 1),), (1, 2, 3, 3, 2)),
    ("ReplicationPad1d", ((4, 1),), (2, 3, 2)), ("ReplicationPad2d", ((1, 2, 0, 3),), (2, 2, 3, 3)),
    ("ReplicationPad3d", (1,), (2, 2, 2, 2)),
    ("CircularPad1d", ((2, 3),), (2, 3, 4)), ("CircularPad2d", ((1, 0, 2, 1),), (1, 2, 3, 4)),
    ("CircularPad3d", (1,), (1, 1, 2, 3, 2)),
]
IDS = [f"{name}-{args}" for name, args, _ in LAYERS]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, args, shape", LAYERS, ids=IDS)
def test_layer_matches_torch(name, args, shape, dtype):
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs) and ours.padding == theirs.padding
    check_module(ours, theirs, [x], dtype=dtype)


@pytest.mark.parametrize("name, args, shape", LAYERS, ids=IDS)
def test_layer_gradcheck(name, args, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    assert numconv.gradcheck(getattr(nn, name)(*args), x, raise_exception=True)


# ---------------------------------------------------------------------------------------------- errors
X = np.zeros((1, 2, 3, 4))
ERRORS = [
    ("reflect as large as the input", lambda: F.pad(X, (4, 0), mode="reflect"), ValueError,
     r"pad: mode 'reflect' pads the last 1, 2 or 3 axes .* needs a 2-D or 3-D input, got shape \(1, 2, 3, 4\)"),
    ("reflect padding >= size", lambda: nn.ReflectionPad2d((1, 1, 3, 0))(X), ValueError,
     r"padding_mode='reflect' needs each padding smaller than the input size, but padding \(\(3, 0\), \(1, 1\)\) "
     r"was asked for spatial size 3 x 4"),
    ("circular more than once", lambda: nn.CircularPad1d(5)(np.zeros((1, 4))), ValueError,
     r"padding_mode='circular' needs each padding at most the input size"),
    ("odd length", lambda: F.pad(X, (1, 2, 3)), ValueError, r"must come in \(before, after\) pairs, got 3 numbers"),
    ("too many axes", lambda: F.pad(np.zeros((2, 3)), (1, 1, 1, 1, 1, 1)), ValueError,
     r"pads 3 axes, but the input of shape \(2, 3\) has only 2"),
    ("wrong rank for reflect", lambda: nn.ReflectionPad2d(1)(np.zeros((3, 4))), ValueError,
     r"needs a 3-D or 4-D input, got shape \(3, 4\) \(2-D\)"),
    ("crop too much", lambda: F.pad(X, (-3, -2)), ValueError, r"crops 5 pixels from axis 3 of size 4"),
    ("replicate to nothing", lambda: F.pad(np.zeros((1, 4)), (-2, -2), mode="replicate"), ValueError,
     r"leaves 0 pixels of axis 1 of size 4 .* needs at least one"),
    ("unknown mode", lambda: F.pad(X, (1, 1), mode="symmetric"), ValueError, r"pad: mode must be one of"),
    ("float padding", lambda: F.pad(X, (1.5, 1)), TypeError, r"expected pad to be a tuple of ints"),
    ("layer padding length", lambda: nn.ZeroPad2d((1, 2, 3)), ValueError,
     r"ZeroPad2d: expected padding to be an int or a tuple of 4 ints, got \(1, 2, 3\)"),
    ("value type", lambda: nn.ConstantPad1d(1, "zero"), TypeError, r"expected value to be a number"),
    ("a value for reflect", lambda: F.pad(np.zeros((1, 1, 3)), (1, 1), mode="reflect", value=1.0), ValueError,
     r"pad: mode 'reflect' takes no value \(got value=1.0\); only mode 'constant' fills with one"),
    ("circular after a crop", lambda: F.pad(np.zeros((1, 1, 4)), (-2, 4), mode="circular"), ValueError,
     r"pad: \(-2, 4\) crops the input of shape \(1, 1, 4\) to \(1, 1, 2\) first \(mode 'circular', as in "
     r"PyTorch\), then pads what is left: .* needs each padding at most the input size"),
]


@pytest.mark.parametrize("make, error, message", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_backward_errors():
    out, cache = F.pad(X, (1, 1))
    with pytest.raises(ValueError, match=r"pad_backward: expected dout of shape \(1, 2, 3, 6\)"):
        F.pad_backward(np.zeros((1, 2, 3, 4)), cache)
    with pytest.raises(TypeError, match="PaddingCache"):
        F.pad_backward(out, None)


def test_a_value_the_dtype_cannot_hold_is_refused_and_minus_zero_is_kept():
    # PyTorch: "value cannot be converted to type float without overflow"; numconv padded with inf.
    with pytest.raises(ValueError, match=r"pad: value=1e\+300 cannot be represented in float32"):
        F.pad(np.ones((1, 2), np.float32), (1, 1), value=1e300)
    assert np.isinf(F.pad(np.ones((1, 2), np.float32), (1, 1), value=np.inf)[0][0, 0])  # inf itself is a value
    out, _ = F.pad(np.ones((1, 2)), (1, 1), value=-0.0)
    assert np.signbit(out[0, 0]) == torch.signbit(TF.pad(torch.ones(1, 2), (1, 1), value=-0.0)[0, 0]).item()
