"""conv1d/conv2d/conv3d and their backward: PyTorch parity, the naive reference, edge cases, errors.

Run with ``-s`` to see the largest relative errors measured against PyTorch.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numconv import functional as F
from numconv.reference.conv import conv_nd_naive, conv_nd_naive_backward

torch = pytest.importorskip("torch")
from parity import LargestErrors, check_op, rel_error, upstream_rng  # noqa: E402

TF = torch.nn.functional
CONV = {1: (F.conv1d, F.conv1d_backward, TF.conv1d), 2: (F.conv2d, F.conv2d_backward, TF.conv2d),
        3: (F.conv3d, F.conv3d_backward, TF.conv3d)}
TORCH_LAYER = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}
LARGEST = LargestErrors()
report_largest_errors = LARGEST.fixture()
record = LARGEST.record_dtype  # record(errors, dtype)


@st.composite
def conv_cases(draw, nd=None, modes=("zeros",), small=False, styles=("int", "tuple", "valid", "same")):
    """A random convolution: shapes and every hyper-parameter, with the kernel fitting the padded input."""
    nd = draw(st.integers(1, 3)) if nd is None else nd
    mode = draw(st.sampled_from(modes))
    big = 2 if (nd == 3 or small) else 3
    groups = draw(st.integers(1, 3 if not small else 2))
    c_in, c_out = groups * draw(st.integers(1, big)), groups * draw(st.integers(1, big))
    kernel = tuple(draw(st.integers(1, 4 if nd < 3 and not small else 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 3 if nd < 3 else 2)) for _ in range(nd))
    style = draw(st.sampled_from(styles))
    stride = (1,) * nd if style == "same" else tuple(draw(st.integers(1, 3)) for _ in range(nd))
    if style == "int":
        padding = draw(st.integers(0, 3))
        pads = (padding,) * nd
    elif style == "tuple":
        pads = padding = tuple(draw(st.integers(0, 3)) for _ in range(nd))
    else:
        padding = style
        pads = (0,) * nd if style == "valid" else tuple(d * (k - 1) for k, d in zip(kernel, dilation))  # total
    extra = 3 if nd < 3 and not small else 2
    spatial = []
    for k, d, p in zip(kernel, dilation, pads):
        needed = max(1, d * (k - 1) + 1 - (p if style == "same" else 2 * p))  # the kernel must fit
        if mode == "reflect":
            needed = max(needed, (p + 1) // 2 + 1 if style == "same" else p + 1)  # reflect needs pad < size
        if mode == "circular":
            needed = max(needed, (p + 1) // 2 if style == "same" else p)
        spatial.append(needed + draw(st.integers(0, extra)))
    batch = draw(st.sampled_from([None, 1, 2, 3]))  # None: an unbatched input
    return dict(nd=nd, x_shape=((c_in,) if batch is None else (batch, c_in)) + tuple(spatial),
                w_shape=(c_out, c_in // groups, *kernel), bias=draw(st.booleans()),
                kwargs=dict(stride=stride, padding=padding, dilation=dilation, groups=groups), mode=mode)


def arrays_for(case, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(case["x_shape"])
    w = rng.standard_normal(case["w_shape"])
    b = rng.standard_normal(case["w_shape"][0]) if case["bias"] else None
    return x, w, b


def torch_layer_fn(case):
    """The torch nn layer for ``case`` (with its padding_mode), called with our weight and bias."""
    c_out, c_per_group, *kernel = case["w_shape"]
    layer = TORCH_LAYER[case["nd"]](c_per_group * case["kwargs"]["groups"], c_out, kernel, bias=case["bias"],
                                    padding_mode=case["mode"], **case["kwargs"])

    def run(x, w, b=None):
        params = {"weight": w} if b is None else {"weight": w, "bias": b}
        return torch.func.functional_call(layer.to(x.dtype), params, (x,))

    return run


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=conv_cases(), seed=st.integers(0, 2**16))
def test_conv_matches_torch_functional(dtype, case, seed):
    op, op_backward, torch_op = CONV[case["nd"]]
    x, w, b = arrays_for(case, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch warns about 'same' with even kernels
        errors = check_op(op, op_backward, torch_op, [x, w, b], kwargs=case["kwargs"], dtype=dtype, seed=seed)
    record(errors, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=conv_cases(modes=("zeros", "reflect", "replicate", "circular")), seed=st.integers(0, 2**16))
def test_conv_padding_modes_match_torch_layer(dtype, case, seed):
    op, op_backward, _ = CONV[case["nd"]]
    x, w, b = arrays_for(case, seed)
    kwargs = dict(case["kwargs"], padding_mode=case["mode"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        errors = check_op(op, op_backward, torch_layer_fn(case), [x, w, b], kwargs=kwargs, torch_kwargs={},
                          dtype=dtype, seed=seed)
    record(errors, dtype)


@given(case=conv_cases(small=True, styles=("int", "tuple")), seed=st.integers(0, 2**16))
def test_fast_path_equals_naive_reference(case, seed):
    op, op_backward, _ = CONV[case["nd"]]
    x, w, b = arrays_for(case, seed)
    if x.ndim == case["nd"] + 1:
        x = x[np.newaxis]  # the reference takes batched input only
    kwargs = case["kwargs"]
    out, cache = op(x, w, b, **kwargs, algorithm="im2col")
    expected = conv_nd_naive(x, w, b, **kwargs)
    assert rel_error(out, expected) <= 1e-12
    dout = upstream_rng(seed).standard_normal(out.shape)
    dx, dw, db = op_backward(dout, cache)
    dx_ref, dw_ref, db_ref = conv_nd_naive_backward(dout, x, w, **kwargs)
    assert rel_error(dx, dx_ref) <= 1e-12
    assert rel_error(dw, dw_ref) <= 1e-12
    if b is None:
        assert db is None
    else:
        assert rel_error(db, db_ref) <= 1e-12


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_naive_reference_matches_torch(nd):
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((2, 4) + (5,) * nd)
    w = rng.standard_normal((6, 2) + (2,) * nd)
    b = rng.standard_normal(6)
    kwargs = dict(stride=2, padding=1, dilation=2, groups=2)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    t_out = CONV[nd][2](tx, tw, tb, **kwargs)
    out = conv_nd_naive(x, w, b, **kwargs)
    assert rel_error(out, t_out.detach().numpy()) <= 1e-12
    dout = upstream_rng(nd).standard_normal(out.shape)
    t_out.backward(torch.from_numpy(dout))
    for ours, theirs in zip(conv_nd_naive_backward(dout, x, w, **kwargs), (tx, tw, tb)):
        assert rel_error(ours, theirs.grad.numpy()) <= 1e-12


# ---------------------------------------------------------------------------------------------- edge cases
EDGE_CASES = {
    "unbatched 1-d": (1, (3, 9), (4, 3, 3), dict(padding=1)),
    "unbatched 2-d": (2, (3, 7, 6), (4, 3, 3, 2), dict(stride=2)),
    "unbatched 3-d": (3, (2, 5, 4, 6), (3, 2, 2, 3, 2), dict(padding=(1, 0, 1))),
    "batch of one, one channel": (2, (1, 1, 8, 8), (1, 1, 3, 3), {}),
    "stride larger than kernel": (2, (2, 3, 11, 10), (4, 3, 2, 2), dict(stride=3)),
    "stride larger than kernel 1-d": (1, (2, 2, 13), (3, 2, 1), dict(stride=4, padding=2)),
    "depthwise": (2, (2, 4, 7, 7), (8, 1, 3, 3), dict(groups=4, padding=1)),
    "depthwise 3-d": (3, (1, 3, 5, 5, 5), (3, 1, 3, 3, 3), dict(groups=3, padding="same")),
    "same, odd kernel": (2, (2, 3, 6, 5), (2, 3, 5, 3), dict(padding="same")),
    "same, even kernel": (2, (2, 3, 6, 5), (2, 3, 4, 2), dict(padding="same")),
    "same, even kernel, dilation 2": (2, (2, 3, 9, 8), (2, 3, 4, 2), dict(padding="same", dilation=2)),
    "same, even kernel, dilation 3, 1-d": (1, (2, 2, 10), (3, 2, 2), dict(padding="same", dilation=3)),
    "valid": (2, (2, 3, 6, 5), (2, 3, 3, 3), dict(padding="valid")),
    "kernel as large as the padded input": (2, (2, 2, 3, 4), (3, 2, 5, 4), dict(padding=(1, 0))),
    "1x1 kernel": (2, (2, 5, 4, 4), (3, 5, 1, 1), {}),
    "padding half the kernel": (2, (2, 2, 5, 5), (2, 2, 5, 5), dict(padding=2)),
    "padding larger than the kernel": (1, (2, 2, 3), (2, 2, 2), dict(padding=3)),
    "dilation and stride": (2, (2, 2, 12, 11), (3, 2, 3, 3), dict(stride=(2, 3), dilation=(3, 2))),
    "groups=3": (1, (2, 6, 9), (9, 2, 3), dict(groups=3, stride=2)),
    "lenet conv1": (2, (4, 1, 32, 32), (6, 1, 5, 5), {}),
    "lenet conv2": (2, (4, 6, 14, 14), (16, 6, 5, 5), {}),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_conv_edge_cases_match_torch(name, bias, dtype):
    nd, x_shape, w_shape, kwargs = EDGE_CASES[name]
    op, op_backward, torch_op = CONV[nd]
    rng = np.random.default_rng(len(name))
    b = rng.standard_normal(w_shape[0]) if bias else None
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape), b]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        record(check_op(op, op_backward, torch_op, arrays, kwargs=kwargs, dtype=dtype), dtype)


def test_non_contiguous_input():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 12, 10)).transpose(1, 0, 2, 3)[:, :, ::2, 1:]  # (3, 5, 6, 9), strided
    w = rng.standard_normal((4, 5, 3, 3))
    record(check_op(F.conv2d, F.conv2d_backward, TF.conv2d, [x, w, None], kwargs=dict(padding=1)), np.float64)


def test_empty_batch():
    w, b = np.ones((2, 3, 3, 3)), np.ones(2)
    out, cache = F.conv2d(np.zeros((0, 3, 5, 5)), w, b, padding=1, padding_mode="reflect")
    assert out.shape == tuple(TF.conv2d(torch.zeros(0, 3, 5, 5), torch.ones(2, 3, 3, 3), padding=1).shape)
    dx, dw, db = F.conv2d_backward(np.zeros(out.shape), cache)
    assert dx.shape == (0, 3, 5, 5) and not dw.any() and not db.any()


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_functional_gradcheck(nd):
    import numconv

    rng = np.random.default_rng(nd)
    x = rng.standard_normal((2, 4) + (6, 5, 4)[:nd])
    w = rng.standard_normal((6, 2) + (3, 2, 2)[:nd])
    kwargs = dict(stride=2, padding=1, dilation=(1, 2, 1)[:nd], groups=2, padding_mode="circular")
    assert numconv.gradcheck(CONV[nd][0], x, w, rng.standard_normal(6), kwargs=kwargs, raise_exception=True)


def test_dtypes():
    rng = np.random.default_rng(0)
    x32, w64 = rng.standard_normal((2, 3, 6, 6)).astype(np.float32), rng.standard_normal((4, 3, 3, 3))
    out, cache = F.conv2d(x32, w64, np.zeros(4))
    assert out.dtype == np.float32  # the weight is cast to the input's dtype
    dx, dw, db = F.conv2d_backward(np.ones(out.shape), cache)
    assert dx.dtype == dw.dtype == db.dtype == np.float32
    out, _ = F.conv2d(x32.astype(np.float64), w64.astype(np.float32))
    assert out.dtype == np.float64
    out, _ = F.conv1d([[1.0, 2.0, 3.0]], [[[1.0, -1.0]]])  # lists become float64 arrays
    np.testing.assert_array_equal(out, [[-1.0, -1.0]])


def test_backward_does_not_touch_dout_and_can_run_twice():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out, cache = F.conv2d(x, w, b, stride=2, padding=2, padding_mode="reflect")
    dout = upstream_rng(0).standard_normal(out.shape)
    kept = dout.copy()
    first = F.conv2d_backward(dout, cache)
    np.testing.assert_array_equal(dout, kept)
    second = F.conv2d_backward(dout, cache)  # a functional op has no state: same answer again
    for a, b_ in zip(first, second):
        np.testing.assert_array_equal(a, b_)


def test_algorithm_keyword():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 5, 5))
    auto, auto_cache = F.conv1d(x[:, :, 0], w[:, :, 0], algorithm="auto")  # 1-D: im2col is the only algorithm
    explicit, cache = F.conv1d(x[:, :, 0], w[:, :, 0], algorithm="im2col")
    np.testing.assert_array_equal(auto, explicit)
    assert cache.algorithm == auto_cache.algorithm == "im2col"
    with pytest.raises(ValueError, match=r"conv2d: unknown algorithm 'fft'; expected one of 'auto', 'im2col', "
                                         r"'winograd', 'winograd4', 'winograd_cl', 'rowslab'"):
        F.conv2d(x, w, algorithm="fft")
    with pytest.raises(TypeError, match="algorithm to be a string"):
        F.conv2d(x, w, algorithm=None)


# ---------------------------------------------------------------------------------------------- errors
_X, _W = np.zeros((8, 3, 28, 28)), np.zeros((16, 3, 5, 5))
# name: (the call, the error it raises, a pattern its message matches)
ERROR_CASES = {
    "input of 2 axes": (lambda: F.conv2d(np.zeros((28, 28)), _W),
        ValueError, r"conv2d: expected a 3-D or 4-D input \(C, H, W\) or \(N, C, H, W\), got shape \(28, 28\) "
                    r"\(2-D\)"),
    "conv1d input of 4 axes": (lambda: F.conv1d(np.zeros((1, 2, 3, 4)), np.zeros((1, 2, 1))),
        ValueError, r"conv1d: expected a 2-D or 3-D input \(C, L\) or \(N, C, L\)"),
    "conv3d weight of 4 axes": (lambda: F.conv3d(np.zeros((1, 3, 5, 5, 5)), _W),
        ValueError, r"conv3d: expected a 5-D weight \(out_channels, in_channels/groups, kD, kH, kW\), got shape "
                    r"\(16, 3, 5, 5\)"),
    "wrong channel count": (lambda: F.conv2d(np.zeros((8, 1, 28, 28)), _W),
        ValueError, r"conv2d: expected input with 3 channels \(weight has shape \(16, 3, 5, 5\)\), got input of "
                    r"shape \(8, 1, 28, 28\)"),
    "wrong channel count, unbatched": (lambda: F.conv2d(np.zeros((1, 28, 28)), _W),
        ValueError, r"expected input with 3 channels .* got input of shape \(1, 28, 28\)"),
    "wrong channel count with groups": (lambda: F.conv2d(np.zeros((1, 4, 5, 5)), np.zeros((4, 3, 3, 3)), groups=2),
        ValueError, r"expected input with 6 channels \(weight has shape \(4, 3, 3, 3\), groups=2\), got input of "
                    r"shape \(1, 4, 5, 5\)"),
    "input channels not divisible by groups": (
        lambda: F.conv2d(np.zeros((1, 3, 5, 5)), np.zeros((4, 1, 3, 3)), groups=2),
        ValueError, r"input channels \(3\) must be divisible by groups \(2\)"),
    "out_channels not divisible by groups": (lambda: F.conv2d(np.zeros((1, 4, 5, 5)), np.zeros((3, 2, 3, 3)), groups=2),
        ValueError, r"out_channels \(3, from weight of shape \(3, 2, 3, 3\)\) must be divisible by groups \(2\)"),
    "groups 0": (lambda: F.conv2d(_X, _W, groups=0),
        ValueError, r"groups >= 1, got 0"),
    "kernel larger than the input": (lambda: F.conv2d(np.zeros((1, 3, 4, 4)), _W),
        ValueError, r"conv2d: kernel size \(5, 5\) with dilation \(1, 1\) spans 5 pixels, but the padded input is "
                    r"only 4 x 4"),
    "dilated kernel larger than the input": (lambda: F.conv2d(np.zeros((1, 3, 8, 2)), _W, padding=1, dilation=(2, 1)),
        ValueError, r"kernel size \(5, 5\) with dilation \(2, 1\) spans 9 x 5 pixels, but the padded input is only "
                    r"10 x 4"),
    "stride 0": (lambda: F.conv2d(_X, _W, stride=0),
        ValueError, "stride to be >= 1"),
    "negative dilation": (lambda: F.conv2d(_X, _W, dilation=(1, -1)),
        ValueError, "dilation to be >= 1"),
    "negative padding": (lambda: F.conv2d(_X, _W, padding=-1),
        ValueError, "padding to be >= 0"),
    "padding of 3 entries": (lambda: F.conv2d(_X, _W, padding=(1, 2, 3)),
        ValueError, "expected padding to be an int or a tuple of 2 ints"),
    "padding a float": (lambda: F.conv2d(_X, _W, padding=1.5),
        TypeError, "expected padding to be 'valid', 'same', an int or a tuple of 2 ints"),
    "unknown padding string": (lambda: F.conv2d(_X, _W, padding="full"),
        ValueError, r"conv2d: invalid padding string 'full', should be 'valid' or 'same'"),
    "same padding with stride": (lambda: F.conv2d(_X, _W, padding="same", stride=(2, 1)),
        ValueError, r"padding='same' is not supported for strided convolutions \(stride=\(2, 1\)\)"),
    "unknown padding_mode": (lambda: F.conv2d(_X, _W, padding=1, padding_mode="mirror"),
        ValueError, r"padding_mode must be one of .*, got 'mirror'"),
    "reflect padding too large": (
        lambda: F.conv2d(np.zeros((1, 3, 3, 3)), np.zeros((2, 3, 3, 3)), padding=3, padding_mode="reflect"),
        ValueError, r"conv2d: padding_mode='reflect' needs each padding smaller than the input size, but padding "
                    r"\(\(3, 3\), \(3, 3\)\) was asked for spatial size 3 x 3"),
    "circular padding too large": (
        lambda: F.conv1d(np.zeros((1, 1, 3)), np.zeros((1, 1, 3)), padding=4, padding_mode="circular"),
        ValueError, r"padding_mode='circular' needs each padding at most the input size"),
    "integer input": (lambda: F.conv2d(_X.astype(np.int64), _W),
        TypeError, "conv2d: expected input of dtype float32 or float64, got int64"),
    "complex input": (lambda: F.conv2d(_X.astype(np.complex128), _W),
        TypeError, "complex128"),
    "float16 input": (lambda: F.conv2d(_X.astype(np.float16), _W),
        TypeError, "float16"),
    "integer weight": (lambda: F.conv2d(_X, _W.astype(np.int32)),
        TypeError, "expected weight of dtype float32 or float64, got int32"),
    "bias of the wrong length": (lambda: F.conv2d(_X, _W, np.zeros(3)),
        ValueError, r"expected bias of shape \(16,\) \(one per output channel\), got \(3,\)"),
    "dout of the wrong shape": (
        lambda: F.conv2d_backward(np.zeros((2, 16, 3, 3)), F.conv2d(np.zeros((2, 3, 6, 6)), _W)[1]),
        ValueError, r"conv2d_backward: expected dout of shape \(2, 16, 2, 2\) \(the output's\), got \(2, 16, 3, 3\)"),
}


@pytest.mark.parametrize("name", list(ERROR_CASES))
def test_conv_errors_name_shapes(name):
    call, error, pattern = ERROR_CASES[name]
    with pytest.raises(error, match=pattern):
        call()
