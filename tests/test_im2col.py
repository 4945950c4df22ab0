"""im2col, col2im and pad: definitions, adjointness, the numba kernel, PyTorch parity, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numconv import functional as F
from numconv.functional.im2col import pad as pad_pairs, pad_backward as pad_pairs_backward
from numconv.functional.im2col import _col2im, _col2im_numpy, _im2col
from numconv.reference.conv import im2col_naive

torch = pytest.importorskip("torch")
from parity import check_op, rel_error  # noqa: E402

TORCH_PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


@st.composite
def geometries(draw, nd=None, max_extra=4):
    """(input shape, kernel, stride, dilation) with the kernel fitting inside the input."""
    nd = draw(st.integers(1, 3)) if nd is None else nd
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    limit = max_extra if nd < 3 else 2
    spatial = tuple(d * (k - 1) + 1 + draw(st.integers(0, limit)) for k, d in zip(kernel, dilation))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), *spatial)
    return shape, kernel, stride, dilation


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(geometry=geometries(), seed=st.integers(0, 2**16))
def test_im2col_equals_its_definition(dtype, geometry, seed):
    shape, kernel, stride, dilation = geometry
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    cols = F.im2col(x, kernel, stride, dilation)
    assert cols.dtype == dtype
    assert cols.flags.c_contiguous
    np.testing.assert_array_equal(cols, im2col_naive(x, kernel, stride, dilation))


@given(geometry=geometries(nd=2), seed=st.integers(0, 2**16))
def test_im2col_matches_torch_unfold(geometry, seed):
    (n, c, h, w), kernel, stride, dilation = geometry
    x = np.random.default_rng(seed).standard_normal((n, c, h, w))
    cols = F.im2col(x, kernel, stride, dilation)
    unfolded = torch.nn.functional.unfold(torch.from_numpy(x), kernel, dilation=dilation, stride=stride).numpy()
    # torch's layout is (N, C*kh*kw, L); ours is (C*kh*kw, N*L).
    ours = cols.reshape(cols.shape[0], n, -1).transpose(1, 0, 2)
    np.testing.assert_array_equal(ours, unfolded)


@given(geometry=geometries(), seed=st.integers(0, 2**16))
def test_col2im_is_the_adjoint_of_im2col(geometry, seed):
    shape, kernel, stride, dilation = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    c = rng.standard_normal(F.im2col(x, kernel, stride, dilation).shape)
    lhs = np.sum(F.im2col(x, kernel, stride, dilation) * c)
    rhs = np.sum(x * F.col2im(c, shape, kernel, stride, dilation))
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs), np.abs(x).sum())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(geometry=geometries(), seed=st.integers(0, 2**16))
def test_col2im_kernel_equals_numpy_expression(dtype, geometry, seed):
    shape, kernel, stride, dilation = geometry
    rng = np.random.default_rng(seed)
    rows, columns = _im2col(np.zeros(shape), kernel, stride, dilation).shape
    cols = rng.standard_normal((rows, columns)).astype(dtype)
    fast = _col2im(cols, shape, kernel, stride, dilation)
    assert fast.dtype == dtype
    # Same additions in the same order: equal bit for bit.
    np.testing.assert_array_equal(fast, _col2im_numpy(cols, shape, kernel, stride, dilation))


@given(geometry=geometries(nd=2), seed=st.integers(0, 2**16))
def test_col2im_matches_torch_fold(geometry, seed):
    (n, c, h, w), kernel, stride, dilation = geometry
    rng = np.random.default_rng(seed)
    cols = rng.standard_normal(F.im2col(np.zeros((n, c, h, w)), kernel, stride, dilation).shape)
    ours = F.col2im(cols, (n, c, h, w), kernel, stride, dilation)
    torch_cols = torch.from_numpy(np.ascontiguousarray(cols.reshape(cols.shape[0], n, -1).transpose(1, 0, 2)))
    folded = torch.nn.functional.fold(torch_cols, (h, w), kernel, dilation=dilation, stride=stride)
    assert rel_error(ours, folded.numpy()) <= 1e-12


def test_col2im_is_not_the_inverse():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 7))
    counts = F.col2im(F.im2col(np.ones_like(x), 3), x.shape, 3)  # how many windows cover each pixel
    assert counts[0, 0, 0, 0] == 1 and counts[0, 0, 2, 2] == 9
    np.testing.assert_allclose(F.col2im(F.im2col(x, 3), x.shape, 3), x * counts, rtol=1e-14)
    # With stride == kernel the windows tile the input without overlap, and then it is the inverse.
    np.testing.assert_array_equal(F.col2im(F.im2col(x[:, :, :6, :6], 2, 2), (2, 3, 6, 6), 2, 2), x[:, :, :6, :6])


def test_im2col_accepts_non_contiguous_input():
    x = np.random.default_rng(0).standard_normal((3, 2, 9, 10)).transpose(1, 0, 2, 3)[:, :, ::2, 1:]
    np.testing.assert_array_equal(F.im2col(x, (2, 3), (1, 2)), im2col_naive(np.ascontiguousarray(x), (2, 3), (1, 2)))


def test_im2col_and_col2im_errors():
    with pytest.raises(ValueError, match=r"im2col: expected a 3-D, 4-D or 5-D input .* got shape \(5, 5\)"):
        F.im2col(np.zeros((5, 5)), 3)
    with pytest.raises(ValueError, match=r"im2col: kernel size \(5, 5\) with dilation \(1, 1\) spans 5 pixels, "
                                         r"but the input is only 4 x 4"):
        F.im2col(np.zeros((1, 1, 4, 4)), 5)
    with pytest.raises(ValueError, match=r"spans 5 x 3 pixels"):
        F.im2col(np.zeros((1, 1, 4, 4)), (3, 2), dilation=2)
    with pytest.raises(ValueError, match="stride to be >= 1"):
        F.im2col(np.zeros((1, 1, 4, 4)), 2, stride=0)
    with pytest.raises(TypeError, match="int64"):
        F.im2col(np.zeros((1, 1, 4, 4), dtype=np.int64), 2)
    with pytest.raises(TypeError, match="float16"):
        F.im2col(np.zeros((1, 1, 4, 4), dtype=np.float16), 2)
    with pytest.raises(ValueError, match=r"col2im: expected cols of shape \(18, 8\) .* got \(18, 9\)"):
        F.col2im(np.zeros((18, 9)), (2, 2, 4, 4), 3, 1, 1)
    with pytest.raises(ValueError, match="input_shape"):
        F.col2im(np.zeros((9, 4)), (4, 4), 3)


# ---------------------------------------------------------------------------------------------- pad
@st.composite
def pad_cases(draw):
    nd = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    spatial = tuple(draw(st.integers(1, 5 if nd < 3 else 3)) for _ in range(nd))
    limit = {"zeros": 4, "replicate": 4, "reflect": None, "circular": None}[mode]
    pads = []
    for size in spatial:
        top = {"reflect": size - 1, "circular": size}.get(mode, limit)
        pads.append((draw(st.integers(0, top)), draw(st.integers(0, top))))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *spatial)
    return shape, tuple(pads), mode


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=pad_cases(), seed=st.integers(0, 2**16))
def test_pad_matches_torch(dtype, case, seed):
    shape, pads, mode = case
    x = np.random.default_rng(seed).standard_normal(shape)
    torch_pads = [p for pair in reversed(pads) for p in pair]  # F.pad lists the last axis first

    def torch_pad(t):
        return torch.nn.functional.pad(t, torch_pads, mode=TORCH_PAD_MODE[mode])

    check_op(pad_pairs, pad_pairs_backward, torch_pad, [x], kwargs=dict(pad_width=pads, mode=mode),
             torch_kwargs={}, dtype=dtype, seed=seed)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_pad_gradcheck(mode):
    import numconv

    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    assert numconv.gradcheck(pad_pairs, x, kwargs=dict(pad_width=((2, 3), (4, 1)), mode=mode), raise_exception=True)


def test_pad_backward_leaves_dout_alone():
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 5))
    for mode in ("zeros", "reflect", "replicate", "circular"):
        out, cache = pad_pairs(x, ((2, 1), (3, 3)), mode)
        dout = np.random.default_rng(1).standard_normal(out.shape)
        kept = dout.copy()
        pad_pairs_backward(dout, cache)
        np.testing.assert_array_equal(dout, kept)


def test_pad_errors():
    x = np.zeros((1, 1, 3, 4))
    with pytest.raises(ValueError, match=r"padding_mode='reflect' needs each padding smaller than the input size.*"
                                         r"spatial size 3 x 4"):
        pad_pairs(x, ((3, 0), (0, 0)), "reflect")
    pad_pairs(x, ((2, 2), (3, 3)), "reflect")  # the largest reflect padding allowed
    with pytest.raises(ValueError, match="padding_mode='circular' needs each padding at most the input size"):
        pad_pairs(x, ((0, 0), (0, 5)), "circular")
    pad_pairs(x, ((3, 3), (4, 4)), "circular")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        pad_pairs(x, ((1, 1),), "symmetric")
    with pytest.raises(ValueError, match=">= 0"):
        pad_pairs(x, ((1, -1),))
    with pytest.raises(ValueError, match="3 padded axes given for an input of shape"):
        pad_pairs(np.zeros((2, 2)), ((1, 1),) * 3)
