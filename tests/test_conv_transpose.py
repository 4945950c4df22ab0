"""ConvTranspose1d/2d/3d and conv_transpose*d: PyTorch parity, the naive reference, the adjoint identity,
gradcheck, output_size, errors.

Run with ``-s`` to see the largest relative errors measured against PyTorch.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numconv
from numconv import functional as F
from numconv import nn
from numconv.reference.conv_transpose import conv_transpose_nd_naive, conv_transpose_nd_naive_backward

torch = pytest.importorskip("torch")
from parity import LargestErrors, check_module, check_op, rel_error  # noqa: E402

TF = torch.nn.functional
OPS = {nd: (getattr(F, f"conv_transpose{nd}d"), getattr(F, f"conv_transpose{nd}d_backward"),
            getattr(TF, f"conv_transpose{nd}d")) for nd in (1, 2, 3)}
CONV = {nd: getattr(F, f"conv{nd}d") for nd in (1, 2, 3)}
LAYERS = {nd: (getattr(nn, f"ConvTranspose{nd}d"), getattr(torch.nn, f"ConvTranspose{nd}d")) for nd in (1, 2, 3)}
LARGEST = LargestErrors()
report_largest_errors = LARGEST.fixture()
record = LARGEST.record_dtype  # record(errors, dtype)


@st.composite
def cases(draw, nd=None, small=False, wide=False):
    """A random transposed convolution: shapes, stride, padding, output_padding, dilation, groups.

    ``wide``: larger images, kernels, strides and paddings, so that the
    kernels' long runs span many rows and wrap around by several columns.
    """
    nd = draw(st.integers(1, 3)) if nd is None else nd
    groups = draw(st.integers(1, 2 if (small or nd == 3) else 3))
    c_in, per_group = groups * draw(st.integers(1, 2 if nd == 3 else 3)), draw(st.integers(1, 2 if nd == 3 else 3))
    kernel = tuple(draw(st.integers(1, (3 if nd == 3 else 4) + wide)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3 + wide)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2 if nd == 3 else 3)) for _ in range(nd))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    if wide:
        spatial = tuple(draw(st.integers(2, 6 if nd == 3 else 12)) for _ in range(nd))
    else:
        spatial = tuple(draw(st.integers(1, 3 if nd == 3 else 5)) for _ in range(nd))
    # padding may crop up to everything but one output pixel
    padding = []
    for i, k, s, d, op in zip(spatial, kernel, stride, dilation, output_padding):
        largest = ((i - 1) * s + d * (k - 1) + op) // 2
        padding.append(draw(st.integers(0, min(largest, 6 if wide else 3))))
    batch = draw(st.sampled_from([None, 1, 2]))  # None: an unbatched input
    return dict(nd=nd, x_shape=((c_in,) if batch is None else (batch, c_in)) + spatial,
                w_shape=(c_in, per_group, *kernel), bias=draw(st.booleans()),
                kwargs=dict(stride=stride, padding=tuple(padding), output_padding=output_padding, groups=groups,
                            dilation=dilation))


def arrays_for(case, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(case["x_shape"])
    w = rng.standard_normal(case["w_shape"])
    b = rng.standard_normal(case["w_shape"][1] * case["kwargs"]["groups"]) if case["bias"] else None
    return x, w, b


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=cases(), seed=st.integers(0, 2**16))
def test_conv_transpose_matches_torch_functional(dtype, case, seed):
    op, op_backward, torch_op = OPS[case["nd"]]
    errors = check_op(op, op_backward, torch_op, list(arrays_for(case, seed)), kwargs=case["kwargs"], dtype=dtype,
                      seed=seed)
    record(errors, dtype)


@settings(max_examples=20)
@given(case=cases(small=True), seed=st.integers(0, 2**16))
def test_fast_path_equals_naive_reference(case, seed):
    op, op_backward, _ = OPS[case["nd"]]
    x, w, b = arrays_for(case, seed)
    if x.ndim == case["nd"] + 1:
        x = x[np.newaxis]  # the reference takes batched input only
    out, cache = op(x, w, b, **case["kwargs"])
    assert rel_error(out, conv_transpose_nd_naive(x, w, b, **case["kwargs"])) <= 1e-12
    dout = np.random.default_rng((seed, 1)).standard_normal(out.shape)
    dx, dw, db = op_backward(dout, cache)
    dx_ref, dw_ref, db_ref = conv_transpose_nd_naive_backward(dout, x, w, **case["kwargs"])
    assert rel_error(dx, dx_ref) <= 1e-12
    assert rel_error(dw, dw_ref) <= 1e-12
    assert db is None if b is None else rel_error(db, db_ref) <= 1e-12


@settings(max_examples=40)
@given(case=cases(wide=True), seed=st.integers(0, 2**16))
def test_fast_path_on_wide_images_equals_naive_reference(case, seed):
    """The column kernels' long runs (many rows, wrapping by several columns) against the plain loops."""
    test_fast_path_equals_naive_reference.hypothesis.inner_test(case, seed)


@given(case=cases(), seed=st.integers(0, 2**16))
def test_adjoint_identity(case, seed):
    """<conv(z), x> == <conv_transpose(x), z>: the transposed convolution is the convolution's adjoint.

    ``z`` has the transposed convolution's output shape; the convolution uses
    the same weight (read as (C_out, C_in / groups, *k)), stride, padding,
    dilation and groups, and maps ``z`` back to ``x``'s shape.
    """
    nd, kwargs = case["nd"], dict(case["kwargs"])
    x, w, _ = arrays_for(case, seed)
    y, _ = OPS[nd][0](x, w, **kwargs)
    z = np.random.default_rng((seed, 2)).standard_normal(y.shape)
    kwargs.pop("output_padding")
    conv_z, _ = CONV[nd](z, w, **kwargs)
    # With output_padding >= stride (allowed when the dilation is larger) the convolution reaches further.
    conv_z = conv_z[(Ellipsis,) + tuple(slice(0, s) for s in x.shape[-nd:])]
    lhs, rhs = np.vdot(conv_z, x), np.vdot(y, z)
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, np.abs(conv_z * x).sum())


def test_naive_reference_matches_torch():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 4, 4, 3)), rng.standard_normal((4, 2, 3, 2)), rng.standard_normal(4)
    kwargs = dict(stride=(2, 3), padding=(1, 2), output_padding=(1, 2), dilation=(1, 2), groups=2)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    t_out = TF.conv_transpose2d(tx, tw, tb, **kwargs)
    out = conv_transpose_nd_naive(x, w, b, **kwargs)
    assert rel_error(out, t_out.detach().numpy()) <= 1e-12
    dout = rng.standard_normal(out.shape)
    t_out.backward(torch.from_numpy(dout))
    for ours, theirs in zip(conv_transpose_nd_naive_backward(dout, x, w, **kwargs), (tx, tw, tb)):
        assert rel_error(ours, theirs.grad.numpy()) <= 1e-12


# ---------------------------------------------------------------------------------------------- layers
LAYER_CASES = [
    (1, dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1, output_padding=1), (2, 3, 7), None),
    (1, dict(in_channels=4, out_channels=2, kernel_size=2, groups=2, dilation=3, output_padding=2), (4, 5), None),
    (2, dict(in_channels=4, out_channels=3, kernel_size=3, stride=2, padding=1), (2, 4, 14, 14), (28, 28)),
    (2, dict(in_channels=4, out_channels=6, kernel_size=(4, 3), stride=(2, 3), padding=(1, 0), groups=2,
             bias=False), (2, 4, 5, 6), None),
    (2, dict(in_channels=2, out_channels=3, kernel_size=3, stride=3, dilation=2), (2, 4, 4), (3, 15, 16)),
    (2, dict(in_channels=3, out_channels=3, kernel_size=2, stride=2, groups=3), (1, 3, 5, 5), None),
    (3, dict(in_channels=2, out_channels=2, kernel_size=3, stride=2, padding=1, output_padding=(1, 0, 1)),
     (1, 2, 3, 4, 3), None),
    (3, dict(in_channels=2, out_channels=4, kernel_size=2, stride=2), (2, 3, 2, 3), (4, 6, 4, 6)),
]
LAYER_IDS = [f"ConvTranspose{nd}d-" + "-".join(f"{k}={v}" for k, v in kw.items() if "channels" not in k)
             + ("" if size is None else f"-output_size={size}") for nd, kw, _, size in LAYER_CASES]


class _WithSize:
    """Calls a torch layer with ``output_size``, so check_module can run it."""

    def __init__(self, layer, size):
        self.layer, self.size = layer, size

    def __getattr__(self, name):
        return getattr(self.layer, name)

    def __call__(self, x):
        return self.layer(x, output_size=self.size)


class _OursWithSize(nn.Module):
    def __init__(self, layer, size):
        super().__init__()
        self.layer, self.size = layer, size

    def forward(self, x):
        return self.layer(x, output_size=self.size)

    def backward(self, grad_output):
        return self.layer.backward(grad_output)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nd, kwargs, x_shape, size", LAYER_CASES, ids=LAYER_IDS)
def test_layer_matches_torch(nd, kwargs, x_shape, size, dtype):
    ours_cls, torch_cls = LAYERS[nd]
    numconv.manual_seed(sum(x_shape))
    x = np.random.default_rng(nd).standard_normal(x_shape)
    ours, theirs = ours_cls(**kwargs), torch_cls(**kwargs)
    if size is None:
        record(check_module(ours, theirs, [x], dtype=dtype), dtype)
        return
    wrapped = _OursWithSize(ours, size)
    state = {"layer." + k: v for k, v in theirs.state_dict().items()}
    holder = torch.nn.Module()
    holder.layer = theirs
    holder.forward = _WithSize(theirs, size)
    assert set(state) == set(wrapped.state_dict())
    record(check_module(wrapped, holder, [x], dtype=dtype), dtype)


@pytest.mark.parametrize("nd, kwargs, x_shape, size", LAYER_CASES, ids=LAYER_IDS)
def test_layer_gradcheck(nd, kwargs, x_shape, size):
    numconv.manual_seed(0)
    x = np.random.default_rng(1).standard_normal(x_shape)
    layer = LAYERS[nd][0](**kwargs)
    f = layer if size is None else _OursWithSize(layer, size)
    assert numconv.gradcheck(f, x, raise_exception=True)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_functional_gradcheck(nd):
    rng = np.random.default_rng(nd)
    x = rng.standard_normal((2, 4) + (3, 4, 2)[:nd])
    w = rng.standard_normal((4, 3) + (3, 2, 2)[:nd])
    kwargs = dict(stride=2, padding=1, output_padding=1, dilation=(1, 2, 1)[:nd], groups=2)
    assert numconv.gradcheck(OPS[nd][0], x, w, rng.standard_normal(6), kwargs=kwargs, raise_exception=True)


def test_default_init_matches_torch_bounds():
    # PyTorch's fan_in for a transposed convolution is weight.shape[1] * prod(k) = C_out / groups * prod(k).
    numconv.manual_seed(0)
    layer = nn.ConvTranspose2d(64, 8, 4, groups=2)
    bound = 1 / np.sqrt(4 * 16)
    assert layer.weight.shape == (64, 4, 4, 4)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.weight.data).max() > 0.9 * bound
    assert np.abs(layer.bias.data).max() <= bound
    assert layer.weight.dtype == np.float32


def test_repr_state_dict_and_shapes_match_torch():
    kwargs = dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1, groups=2,
                  bias=False, dilation=2)
    ours, theirs = nn.ConvTranspose2d(**kwargs), torch.nn.ConvTranspose2d(**kwargs)
    assert repr(ours) == repr(theirs)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert repr(nn.ConvTranspose1d(2, 3, 2)) == repr(torch.nn.ConvTranspose1d(2, 3, 2))


def test_fourteen_to_twenty_eight():
    up = nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1)
    x = np.zeros((1, 1, 14, 14), dtype=np.float32)
    assert up(x).shape == (1, 1, 27, 27)
    assert up(x, output_size=(28, 28)).shape == (1, 1, 28, 28)
    assert nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1)(x).shape == (1, 1, 28, 28)


def test_empty_batch():
    out, cache = F.conv_transpose2d(np.zeros((0, 3, 4, 4)), np.ones((3, 2, 3, 3)), np.ones(2), stride=2)
    assert out.shape == tuple(TF.conv_transpose2d(torch.zeros(0, 3, 4, 4), torch.ones(3, 2, 3, 3), stride=2).shape)
    dx, dw, db = F.conv_transpose2d_backward(np.zeros(out.shape), cache)
    assert dx.shape == (0, 3, 4, 4) and not dw.any() and not db.any()


@pytest.mark.parametrize("x_shape, w_shape, padding", [((0, 1, 0, 4), (1, 1, 1, 1), 0), ((0, 1, 0, 4), (1, 1, 3, 3), 1),
                                                       ((0, 2, 1, 4), (2, 3, 2, 2), 1)])
def test_empty_batch_may_have_an_empty_output(x_shape, w_shape, padding):
    # PyTorch gives an output axis of 0 for an empty batch; with samples it refuses (see ERRORS, "output too small").
    out, cache = F.conv_transpose2d(np.zeros(x_shape), np.ones(w_shape), padding=padding)
    expected = TF.conv_transpose2d(torch.zeros(x_shape, dtype=torch.float64), torch.ones(w_shape, dtype=torch.float64),
                                   padding=padding)
    assert out.shape == tuple(expected.shape) and 0 in out.shape[2:]
    dx, dw, _ = F.conv_transpose2d_backward(np.zeros(out.shape), cache)
    assert dx.shape == x_shape and dw.shape == w_shape and not dw.any()


def test_backward_does_not_touch_dout():
    rng = np.random.default_rng(0)
    out, cache = F.conv_transpose2d(rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((3, 2, 3, 3)), stride=2)
    dout = rng.standard_normal(out.shape)
    kept = dout.copy()
    first = F.conv_transpose2d_backward(dout, cache)
    np.testing.assert_array_equal(dout, kept)
    for a, b in zip(first, F.conv_transpose2d_backward(dout, cache)):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------- errors
ERRORS = [
    ("output_padding >= stride and dilation",
     lambda: nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2), ValueError,
     r"ConvTranspose2d: output_padding must be smaller than either stride or dilation, but got "
     r"output_padding=\(2, 2\) with stride=\(2, 2\), dilation=\(1, 1\)"),
    ("output_padding >= stride, functional",
     lambda: F.conv_transpose1d(np.zeros((1, 2, 3)), np.zeros((2, 2, 3)), stride=1, output_padding=1), ValueError,
     r"conv_transpose1d: output_padding must be smaller than either stride or dilation.* \(axis 0: 1 >= 1 and "
     r"1 >= 1\)"),
    ("output_padding >= dilation too",
     lambda: F.conv_transpose2d(np.zeros((1, 2, 3, 3)), np.zeros((2, 2, 3, 3)), stride=(1, 3), dilation=(2, 1),
                                output_padding=(2, 0)), ValueError, r"axis 0: 2 >= 1 and 2 >= 2"),
    ("output_size out of range",
     lambda: nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1)(np.zeros((1, 1, 14, 14)), output_size=(29, 28)),
     ValueError, r"requested an output size of \(29, 28\), but valid sizes along axis 0 range from 27 to 28"),
    ("output_size of the wrong length",
     lambda: nn.ConvTranspose2d(1, 1, 3)(np.zeros((1, 1, 4, 4)), output_size=(6,)), ValueError,
     r"for a 4-D input, output_size must have 2 or 4 elements \(got 1\)"),
    ("wrong rank", lambda: F.conv_transpose2d(np.zeros((4, 4)), np.zeros((1, 1, 3, 3))), ValueError,
     r"conv_transpose2d: expected a 3-D or 4-D input \(C, H, W\) or \(N, C, H, W\), got shape \(4, 4\)"),
    ("wrong weight rank", lambda: F.conv_transpose3d(np.zeros((1, 2, 3, 3, 3)), np.zeros((2, 2, 3, 3))), ValueError,
     r"expected a 5-D weight \(in_channels, out_channels/groups, kD, kH, kW\), got shape \(2, 2, 3, 3\)"),
    ("wrong channels", lambda: F.conv_transpose2d(np.zeros((1, 3, 5, 5)), np.zeros((4, 2, 3, 3))), ValueError,
     r"expected input with 4 channels \(weight has shape \(4, 2, 3, 3\), in_channels first\), "
     r"got input of shape \(1, 3, 5, 5\)"),
    ("groups do not divide", lambda: F.conv_transpose2d(np.zeros((1, 3, 5, 5)), np.zeros((3, 2, 3, 3)), groups=2),
     ValueError, r"input channels \(3\) must be divisible by groups \(2\)"),
    ("bias of the wrong size", lambda: F.conv_transpose2d(np.zeros((1, 4, 5, 5)), np.zeros((4, 2, 3, 3)),
                                                          np.zeros(2), groups=2), ValueError,
     r"expected bias of shape \(4,\)"),
    ("output too small", lambda: F.conv_transpose1d(np.zeros((1, 1, 2)), np.zeros((1, 1, 2)), padding=2), ValueError,
     r"conv_transpose1d: the output would be -1 for an input of spatial size 2 .* use less padding"),
    ("output of 0 for a batch of samples", lambda: F.conv_transpose2d(np.zeros((1, 1, 1, 4)), np.zeros((1, 1, 2, 2)),
                                                                      padding=1), ValueError,
     r"conv_transpose2d: the output would be 0 x 3 for an input of spatial size 1 x 4"),
    ("padding string", lambda: nn.ConvTranspose2d(1, 1, 3, padding="same"), ValueError,
     r"padding must be an int or a tuple of 2 ints for transposed convolutions"),
    ("padding_mode", lambda: nn.ConvTranspose2d(1, 1, 3, padding_mode="reflect"), ValueError,
     r"only padding_mode='zeros' is supported"),
    ("out_channels and groups", lambda: nn.ConvTranspose2d(2, 3, 3, groups=2), ValueError,
     r"out_channels \(3\) must be divisible by groups \(2\)"),
    ("integer input", lambda: F.conv_transpose2d(np.zeros((1, 1, 3, 3), dtype=int), np.zeros((1, 1, 2, 2))),
     TypeError, r"conv_transpose2d: expected input of dtype float32 or float64, got int64"),
    ("negative stride", lambda: F.conv_transpose2d(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2)), stride=0),
     ValueError, r"stride to be >= 1"),
]


@pytest.mark.parametrize("make, error, message", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_backward_errors():
    out, cache = F.conv_transpose2d(np.zeros((2, 2, 3, 3)), np.zeros((2, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"conv_transpose2d_backward: expected dout of shape \(2, 1, 4, 4\)"):
        F.conv_transpose2d_backward(np.zeros((2, 1, 3, 3)), cache)
    with pytest.raises(TypeError, match="expected the ConvTransposeCache"):
        F.conv_transpose2d_backward(out, None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_decoder_sized_layer_matches_torch(dtype):
    # Large enough for the batch to be split over the workers.
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((4, 32, 14, 14)), rng.standard_normal((32, 16, 4, 4)) * 0.1, rng.standard_normal(16)
    record(check_op(F.conv_transpose2d, F.conv_transpose2d_backward, TF.conv_transpose2d, [x, w, b],
                    kwargs=dict(stride=2, padding=1), dtype=dtype), dtype)


def test_chunks_within_the_workspace_limit_give_the_same_result():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((5, 4, 6, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(6)
    kwargs = dict(stride=2, padding=1, output_padding=1, groups=2)
    expected, cache = F.conv_transpose2d(x, w, b, **kwargs)
    dout = rng.standard_normal(expected.shape)
    grads = F.conv_transpose2d_backward(dout, cache)
    F.set_workspace_limit(1)  # one sample per chunk
    try:
        out, cache = F.conv_transpose2d(x, w, b, **kwargs)
        chunked = F.conv_transpose2d_backward(dout, cache)
    finally:
        F.set_workspace_limit(None)
    assert rel_error(out, expected) <= 1e-14
    for ours, theirs in zip(chunked, grads):
        assert rel_error(ours, theirs) <= 1e-13
