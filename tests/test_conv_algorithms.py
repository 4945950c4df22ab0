"""The fast conv2d algorithms (winograd, winograd4, rowslab), their kernels, workers, workspaces, memory bound.

Every algorithm is held to PyTorch (float64 1e-10, float32 1e-4) and to the
naive reference, forward and backward, over hypothesis-drawn shapes where it
applies. Run with ``-s`` to see the largest errors measured.
"""

import contextlib
import os
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numconv import functional as F
from numconv.functional.fast import rowslab as rowslab_module
from numconv.functional.fast import winograd as W
from numconv.functional.fast import winograd4 as W4
from numconv.kernels import workers
from numconv.kernels.conv_rowslab import rowslab_columns, rowslab_expand, rowslab_scatter
from numconv.reference.conv import conv_nd_naive, conv_nd_naive_backward

torch = pytest.importorskip("torch")
from parity import LargestErrors, _error_against_terms, check_op, rel_error, upstream_rng  # noqa: E402

LARGEST = LargestErrors()
report_largest_errors = LARGEST.fixture()
record = LARGEST.record  # record(errors, key)


@pytest.fixture
def restore_settings():
    """Tests that change the workers or the workspace limit put them back."""
    yield
    workers.set_num_workers(None)
    workers.set_workspace_limit(None)


@contextlib.contextmanager
def every_call_parallel():
    """Split even the tiny batches of these tests over the workers (normally they run on one thread),
    and the row-slab's work into chunks of one sample and blocks of one output row."""
    saved = workers._MIN_PARALLEL_FLOPS, rowslab_module._CHUNK_BYTES, rowslab_module._MIN_BLOCK_COLUMNS
    workers._MIN_PARALLEL_FLOPS, rowslab_module._CHUNK_BYTES, rowslab_module._MIN_BLOCK_COLUMNS = 0, 1, 1
    try:
        yield
    finally:
        workers._MIN_PARALLEL_FLOPS, rowslab_module._CHUNK_BYTES, rowslab_module._MIN_BLOCK_COLUMNS = saved


@pytest.fixture
def parallel():
    with every_call_parallel():
        yield


# ---------------------------------------------------------------------------------------------- drawn cases
@st.composite
def cases(draw, algorithm):
    """A 2-D convolution the algorithm applies to: shapes, stride, padding, dilation, batch."""
    c_in, c_out = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    if algorithm.startswith("winograd"):
        kernel, stride, dilation = (3, 3), (1, 1), (1, 1)
    else:
        kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
        stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        dilation = (1, draw(st.integers(1, 3)))
    style = draw(st.sampled_from(["int", "tuple", "valid", "same"] if stride == (1, 1) else ["int", "tuple"]))
    if style == "int":
        padding = draw(st.integers(0, 3))
        pads = (padding, padding)
    elif style == "tuple":
        pads = padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    else:
        padding = style
        pads = (0, 0) if style == "valid" else tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))
    spatial = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 6))
                    for k, d, p in zip(kernel, dilation, pads))
    batch = draw(st.sampled_from([None, 1, 2, 3, 5]))
    return dict(x_shape=((c_in,) if batch is None else (batch, c_in)) + spatial, w_shape=(c_out, c_in, *kernel),
                bias=draw(st.booleans()), kwargs=dict(stride=stride, padding=padding, dilation=dilation))


def arrays_for(case, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(case["x_shape"])
    w = rng.standard_normal(case["w_shape"])
    b = rng.standard_normal(case["w_shape"][0]) if case["bias"] else None
    return x, w, b


ALGORITHMS = ["winograd", "winograd4", "winograd_cl", "rowslab"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_algorithm_matches_torch(algorithm, dtype, data, seed):
    case = data.draw(cases(algorithm))
    x, w, b = arrays_for(case, seed)
    kwargs = dict(case["kwargs"], algorithm=algorithm)
    with warnings.catch_warnings(), every_call_parallel():
        warnings.simplefilter("ignore", UserWarning)  # torch warns about 'same' with even kernels
        try:
            errors = check_op(F.conv2d, F.conv2d_backward, torch.nn.functional.conv2d, [x, w, b], kwargs=kwargs,
                              torch_kwargs=case["kwargs"], dtype=dtype, seed=seed)
        except AssertionError:
            if dtype != np.float32:
                raise
            errors = _float32_against_terms(x, w, b, kwargs, case["kwargs"], seed)
    record(errors, f"{algorithm} {np.dtype(dtype).name}")


def _float32_against_terms(x, w, b, kwargs, torch_kwargs, seed):
    """The float32 check where the plain one failed: output and gradients within 1e-4 of PyTorch's,
    relative to the size of the terms each element sums (as batch and instance norm are measured).

    A sum that nearly cancels carries float32 rounding of its terms' size: one drawn case, nine products
    of about 0.6 summing to 2.2e-4, gave 2.2287e-4 with Winograd, 2.2262e-4 with im2col and PyTorch, and
    2.2258e-4 in float64, so that relative to the output even PyTorch's float32 answer is 1.8e-4 off.
    Winograd's transforms add a few more roundings of that size (see ``W``'s module docstring).
    """
    f32 = [None if a is None else a.astype(np.float32) for a in (x, w, b)]
    out, cache = F.conv2d(*f32, **kwargs)
    upstream = upstream_rng(seed).standard_normal(out.shape).astype(np.float32)
    grads = F.conv2d_backward(upstream, cache)
    tensors = [None if a is None else torch.tensor(a, requires_grad=True) for a in f32]
    their_out = torch.nn.functional.conv2d(*tensors, **torch_kwargs)
    their_out.backward(torch.from_numpy(upstream))
    # The terms' sizes, in float64: the same convolution and backward pass on absolute values.
    exact = dict(kwargs, algorithm="im2col")
    scale_out, scale_cache = F.conv2d(*[None if a is None else np.abs(a) for a in (x, w, b)], **exact)
    scales = [scale_out, *F.conv2d_backward(np.abs(upstream).astype(np.float64), scale_cache)]
    errors = {}
    for name, ours, their, scale in zip(["out", "grad0", "grad1", "grad2"], [out, *grads],
                                        [their_out] + [None if t is None else t.grad for t in tensors], scales):
        if ours is None:
            continue
        errors[name] = _error_against_terms(ours, their.detach().numpy(), scale)
        assert errors[name] <= 1e-4, f"{name}: error {errors[name]:.3e} relative to its terms (float32)"
    return errors


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_algorithm_equals_naive_reference(algorithm, data, seed):
    case = data.draw(cases(algorithm))
    if isinstance(case["kwargs"]["padding"], str):
        return  # the reference pads symmetrically only; 'same'/'valid' are covered against torch
    x, w, b = arrays_for(case, seed)
    x = x if x.ndim == 4 else x[np.newaxis]
    out, cache = F.conv2d(x, w, b, **case["kwargs"], algorithm=algorithm)
    assert cache.algorithm == algorithm
    assert rel_error(out, conv_nd_naive(x, w, b, **case["kwargs"])) <= 1e-12
    dout = np.random.default_rng(seed + 1).standard_normal(out.shape)
    dx, dw, db = F.conv2d_backward(dout, cache)
    dx_ref, dw_ref, db_ref = conv_nd_naive_backward(dout, x, w, **case["kwargs"])
    assert rel_error(dx, dx_ref) <= 1e-12
    assert rel_error(dw, dw_ref) <= 1e-12
    assert (db is None) if b is None else rel_error(db, db_ref) <= 1e-12


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_algorithm_gradcheck(algorithm):
    """Every fast algorithm's gradients against centred finite differences (float64), padding on the fly."""
    import numconv

    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((2, 3, 9, 7)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    assert F.conv2d(x, w, b, padding=1, algorithm=algorithm)[1].algorithm == algorithm  # it ran, no fallback
    assert numconv.gradcheck(F.conv2d, x, w, b, kwargs=dict(padding=1, algorithm=algorithm), raise_exception=True)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("mode", ["reflect", "circular"])
def test_other_padding_modes_pad_first(algorithm, mode):
    """Non-zero padding is applied before the algorithm runs (it pads zeros only)."""
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    layer = torch.nn.Conv2d(3, 4, 3, padding=2, padding_mode=mode).double()

    def torch_fn(x, w, b):
        return torch.func.functional_call(layer, {"weight": w, "bias": b}, (x,))

    check_op(F.conv2d, F.conv2d_backward, torch_fn, [x, w, b], torch_kwargs={},
             kwargs=dict(padding=2, padding_mode=mode, algorithm=algorithm))


# ---------------------------------------------------------------------------------------------- float32 Winograd
@pytest.mark.parametrize("shape", [(2, 64, 64, 16, 16), (4, 16, 32, 28, 28), (1, 256, 64, 8, 8)])
@pytest.mark.parametrize("offset", [0.0, 10.0])
@pytest.mark.parametrize("algorithm", ["winograd", "winograd_cl"])
def test_winograd_float32_error_at_realistic_magnitudes(shape, offset, algorithm):
    """Winograd's extra float32 rounding stays well inside 1e-4 for default-initialised layers.

    Inputs N(offset, 1) (offset 10: a large common part that the transforms'
    subtractions cancel), weights from PyTorch's default init, and a bias.
    """
    n, c, k, h, w_size = shape
    rng = np.random.default_rng(0)
    x = (offset + rng.standard_normal((n, c, h, w_size))).astype(np.float32)
    layer = torch.nn.Conv2d(c, k, 3, padding=1)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    errors = check_op(F.conv2d, F.conv2d_backward, torch.nn.functional.conv2d, [x, w, b],
                      kwargs=dict(padding=1, algorithm=algorithm), torch_kwargs=dict(padding=1), dtype=np.float32)
    record(errors, f"{algorithm} float32, realistic")
    assert max(errors.values()) < 2e-5  # a margin of 5x below the tolerance


# ---------------------------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("variant", ["F2", "F4"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 11), w=st.integers(1, 11),
       origin=st.tuples(st.integers(-3, 2), st.integers(-3, 2)), seed=st.integers(0, 2**16))
def test_winograd_tile_kernels_equal_numpy(variant, dtype, n, c, h, w, origin, seed):
    """F(2x2, 3x3)'s and F(4x4, 3x3)'s numba transforms against their NumPy (einsum) definitions."""
    f = W.F2 if variant == "F2" else W4.F4
    bt, at = (W.BT, W.AT) if variant == "F2" else (W4.BT4, W4.AT4)
    # The kernels add in another order than einsum: equal up to a few roundings of the tile sums. F(2x2):
    # 16 ulps of the largest value for all three. F(4x4): the terms are up to (the largest row sum of the
    # matrix's absolute values)^2 times that, 10^2, 15^2 and 19^2, so 4x those in ulps.
    ulps_in, ulps_grad, ulps_out = (16, 16, 16) if variant == "F2" else (400, 900, 1444)
    m, size, positions = f.m, f.m + 2, f.positions
    rng = np.random.default_rng(seed)
    src = rng.standard_normal((n + 1, c, h, w)).astype(dtype)
    th, tw = (h + m - 1) // m, (w + m - 1) // m
    tiles = np.full((positions, c, n, th, tw), np.nan, dtype=dtype)
    f.input_tiles(src, 1, origin[0], origin[1], np.full((m * th + 2, m * tw + 2), np.nan, dtype),
                  np.full((size, m * tw + 2), np.nan, dtype), tiles)
    tol = ulps_in * np.finfo(dtype).eps * max(1.0, np.abs(src).max())
    np.testing.assert_allclose(tiles, W.input_tiles_numpy(src, 1, n, origin, (th, tw), bt), rtol=0, atol=tol)

    grads = np.full((positions, c, n, th, tw), np.nan, dtype=dtype)
    f.grad_tiles(src, 1, np.full((m * th, m * tw), np.nan, dtype), np.full((size, m * tw), np.nan, dtype), grads)
    tol = ulps_grad * np.finfo(dtype).eps * max(1.0, np.abs(src).max())
    np.testing.assert_allclose(grads, W.grad_tiles_numpy(src, 1, n, (th, tw), at), rtol=0, atol=tol)

    products = rng.standard_normal((positions, c, n, th, tw)).astype(dtype)
    bias = rng.standard_normal(c).astype(dtype)
    out = np.full((n + 1, c, h, w), np.nan, dtype=dtype)
    f.output_tiles(products, bias, 1, out)
    tol = ulps_out * np.finfo(dtype).eps * np.abs(products).max()
    np.testing.assert_allclose(out[1:], W.output_tiles_numpy(products, bias, (h, w), at), rtol=0, atol=tol)
    assert np.isnan(out[0]).all()  # other samples untouched


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(n=st.integers(1, 3), c=st.integers(1, 5), h=st.integers(1, 11), w=st.integers(1, 11),
       origin=st.tuples(st.integers(-3, 2), st.integers(-3, 2)), seed=st.integers(0, 2**16))
def test_channels_last_winograd_kernels_equal_numpy(dtype, n, c, h, w, origin, seed):
    """The channels-last F(2x2, 3x3) transforms against the plane-by-plane NumPy definitions, axes moved."""
    from numconv.functional.fast.winograd_cl import _channels_last
    from numconv.kernels.winograd_cl import winograd_cl_grad_tiles, winograd_cl_input_tiles, winograd_cl_output_tiles

    rng = np.random.default_rng(seed)
    src = rng.standard_normal((n + 1, c, h, w)).astype(dtype)
    th, tw = (h + 1) // 2, (w + 1) // 2

    def channels_last_tiles(tiles):  # (16, C, n, TH, TW) -> (16, n*TH*TW, C)
        return tiles.transpose(0, 2, 3, 4, 1).reshape(16, n * th * tw, -1)

    padded = _channels_last(src, 1, n, origin, (2 * th + 2, 2 * tw + 2), np.full((n, 2 * th + 2, 2 * tw + 2, c), np.nan,
                                                                                  dtype))
    tiles = winograd_cl_input_tiles(padded, np.full((4, 4, c), np.nan, dtype), np.full((16, n * th * tw, c), np.nan,
                                                                                       dtype))
    tol = 16 * np.finfo(dtype).eps * max(1.0, np.abs(src).max())  # (as the plane-by-plane kernels' test)
    np.testing.assert_allclose(tiles, channels_last_tiles(W.input_tiles_numpy(src, 1, n, origin, (th, tw))),
                               rtol=0, atol=tol)

    grad = _channels_last(src, 1, n, (0, 0), (2 * th, 2 * tw), np.full((n, 2 * th, 2 * tw, c), np.nan, dtype))
    grads = winograd_cl_grad_tiles(grad, np.full((4, 2, c), np.nan, dtype), np.full((16, n * th * tw, c), np.nan,
                                                                                   dtype))
    np.testing.assert_allclose(grads, channels_last_tiles(W.grad_tiles_numpy(src, 1, n, (th, tw))), rtol=0, atol=tol)

    products = rng.standard_normal((16, c, n, th, tw)).astype(dtype)
    bias = rng.standard_normal(c).astype(dtype)
    out = winograd_cl_output_tiles(channels_last_tiles(products).copy(), bias, np.full((2, 4, c), np.nan, dtype),
                                   np.full((n, h, w, c), np.nan, dtype))
    tol = 16 * np.finfo(dtype).eps * np.abs(products).max()
    expected = W.output_tiles_numpy(products, bias, (h, w)).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(out, expected, rtol=0, atol=tol)


def _padded(x, top, left, rows, cols):
    """x zero-padded so that padded[..., r, q] == x[..., r - top, q - left], cut to rows x cols."""
    out = np.zeros(x.shape[:2] + (rows, cols), dtype=x.dtype)
    src = x[:, :, max(0, -top):, max(0, -left):]
    r0, q0 = max(0, top), max(0, left)
    r1, q1 = min(rows, r0 + src.shape[2]), min(cols, q0 + src.shape[3])
    out[:, :, r0:r1, q0:q1] = src[:, :, :r1 - r0, :q1 - q0]
    return out


@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 8), w=st.integers(1, 8),
       kh=st.integers(1, 4), kw=st.integers(1, 4), stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       dilation_w=st.integers(1, 3), pads=st.tuples(st.integers(0, 3), st.integers(0, 3)),
       seed=st.integers(0, 2**16))
def test_rowslab_kernels_equal_numpy(n, c, h, w, kh, kw, stride, dilation_w, pads, seed):
    top, left = pads
    span_w = dilation_w * (kw - 1) + 1
    if h + 2 * top < kh or w + 2 * left < span_w:
        return  # the kernel does not fit
    out_h, out_w = (h + 2 * top - kh) // stride[0] + 1, (w + 2 * left - span_w) // stride[1] + 1
    rows = (out_h - 1) * stride[0] + kh
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n + 1, c, h, w))
    expanded = np.full((n, rows, kw, c, out_w), np.nan)
    rowslab_expand(x, 1, top, left, stride[1], dilation_w, expanded)
    xp = _padded(x[1:], top, left, rows, w + 2 * left)
    for q in range(kw):  # the docstring's NumPy expression, exactly
        cols = xp[:, :, :, q * dilation_w: q * dilation_w + stride[1] * (out_w - 1) + 1: stride[1]]
        np.testing.assert_array_equal(expanded[:, :, q], cols.transpose(0, 2, 1, 3))

    first_row = out_h // 2  # a block of the last rows
    slabs = rng.standard_normal((n, out_h - first_row, kh, kw, c, out_w))
    dx = np.zeros((n + 1, c, h, w))
    rowslab_scatter(slabs, 1, first_row, top, left, stride[0], stride[1], dilation_w, dx)
    dxp = np.zeros((n, c, rows + top + h, w + 2 * left))  # tall enough for every row, cropped below
    for i in range(out_h - first_row):
        for p in range(kh):
            for q in range(kw):
                dxp[:, :, (first_row + i) * stride[0] + p,
                    q * dilation_w: q * dilation_w + stride[1] * (out_w - 1) + 1: stride[1]] += slabs[:, i, p, q]
    np.testing.assert_array_equal(dx[1:], dxp[:, :, top:top + h, left:left + w])
    assert not dx[0].any()


@pytest.mark.parametrize("n, c, kh, kw, out_h, out_w, stride_h, first_row, block_rows", [
    (3, 1, 5, 5, 28, 28, 1, 0, 28),   # LeNet's conv1, every row in one block
    (2, 6, 5, 5, 10, 10, 1, 4, 6),    # LeNet's conv2, a later block
    (2, 3, 3, 2, 7, 5, 2, 3, 4),      # stride 2
])
def test_rowslab_columns_equal_numpy(n, c, kh, kw, out_h, out_w, stride_h, first_row, block_rows):
    rows = (out_h - 1) * stride_h + kh
    expanded = np.random.default_rng(0).standard_normal((n, rows, kw, c, out_w))
    cols = np.full((n, kh * kw * c, block_rows, out_w), np.nan)
    rowslab_columns(expanded, first_row, stride_h, cols)
    slabs = rowslab_module._slabs(expanded, out_h, kh, stride_h)  # the docstring's NumPy expression
    np.testing.assert_array_equal(cols, slabs[:, first_row:first_row + block_rows].transpose(0, 2, 1, 3))


# ---------------------------------------------------------------------------------------------- auto
@pytest.mark.parametrize("x_shape, w_shape, kwargs, expected", [
    ((2, 64, 8, 12), (64, 64, 3, 3), dict(padding=1), "winograd"),   # 64 channels, 12 wide: F(2x2, 3x3)
    ((2, 64, 8, 56), (64, 64, 3, 3), dict(padding=1), "winograd4"),  # W4-like, 56 wide: F(4x4, 3x3)
    ((2, 64, 8, 28), (128, 64, 3, 3), dict(padding=1), "winograd4"),  # ... from 28 wide
    ((2, 64, 8, 27), (128, 64, 3, 3), dict(padding=1), "winograd"),   # ... 27 wide
    ((2, 32, 8, 56), (32, 32, 3, 3), dict(padding=1), "winograd"),    # 32 channels
    ((2, 64, 7, 7), (64, 64, 3, 3), dict(padding=1), "winograd_cl"),  # ResNet's last stage: 7 wide
    ((2, 32, 9, 9), (32, 32, 3, 3), dict(padding=1), "winograd_cl"),  # ... 32 channels, 9 wide
    ((2, 16, 7, 7), (16, 16, 3, 3), dict(padding=1), "im2col"),      # ... 16 channels
    ((2, 64, 4, 10), (64, 64, 3, 3), dict(padding=1), "winograd"),   # 10 wide: plane by plane
    ((2, 16, 4, 112), (32, 16, 3, 3), dict(padding=1), "rowslab"),   # W3-like: 16 channels, 112 wide
    ((2, 16, 4, 64), (16, 16, 3, 3), dict(padding=1), "winograd"),   # 16 channels, 64 wide (ResNet's first stage)
    ((2, 16, 4, 65), (16, 16, 3, 3), dict(padding=1), "rowslab"),    # ... 65 wide
    ((2, 8, 8, 28), (8, 8, 3, 3), dict(padding=1), "rowslab"),       # 8 channels
    ((2, 32, 8, 34), (64, 32, 3, 3), dict(stride=2), "rowslab"),     # W5-like, outputs 16 wide
    ((2, 32, 8, 21), (64, 32, 3, 3), dict(stride=2), "rowslab"),     # ... 10 wide
    ((2, 32, 8, 19), (64, 32, 3, 3), dict(stride=2), "im2col"),      # ... 9 wide
    ((2, 1, 32, 32), (6, 1, 5, 5), {}, "rowslab"),                   # LeNet's conv1, outputs 28 wide
    ((2, 6, 14, 14), (16, 6, 5, 5), {}, "rowslab"),                  # LeNet's conv2, outputs 10 wide
    ((2, 16, 5, 5), (120, 16, 5, 5), {}, "im2col"),                  # LeNet's conv3, outputs 1 wide
    ((2, 4, 8, 8), (4, 2, 3, 3), dict(groups=2), "im2col"),
    ((2, 4, 8, 8), (4, 4, 3, 3), dict(dilation=(2, 1)), "im2col"),
])
def test_auto_choice(x_shape, w_shape, kwargs, expected):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(x_shape).astype(np.float32), rng.standard_normal(w_shape).astype(np.float32)
    out, cache = F.conv2d(x, w, **kwargs)
    assert cache.algorithm == expected
    reference, _ = F.conv2d(x, w, **kwargs, algorithm="im2col")
    assert rel_error(out, reference) <= 1e-5


def test_algorithm_that_does_not_apply_is_refused():
    x, w = np.zeros((1, 2, 8, 8)), np.zeros((3, 2, 5, 5))
    with pytest.raises(ValueError, match=r"conv2d: algorithm 'winograd' needs a 2-D 3 x 3 kernel with stride 1, "
                                         r"dilation 1 and groups 1; got weight of shape \(3, 2, 5, 5\)"):
        F.conv2d(x, w, algorithm="winograd")
    with pytest.raises(ValueError, match=r"algorithm 'winograd' needs .* stride \(2, 2\)"):
        F.conv2d(x, np.zeros((3, 2, 3, 3)), stride=2, algorithm="winograd")
    with pytest.raises(ValueError, match=r"conv1d: algorithm 'rowslab' needs a 2-D convolution"):
        F.conv1d(np.zeros((1, 2, 8)), np.zeros((3, 2, 3)), algorithm="rowslab")
    with pytest.raises(ValueError, match=r"algorithm 'rowslab' needs .* groups 1 .* groups 2"):
        F.conv2d(np.zeros((1, 2, 8, 8)), np.zeros((2, 1, 3, 3)), groups=2, algorithm="rowslab")


# ---------------------------------------------------------------------------------------------- workers
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_workers_are_deterministic_and_agree_with_one_worker(algorithm, restore_settings, parallel):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((7, 8, 12, 10)).astype(np.float32)
    w, b = rng.standard_normal((6, 8, 3, 3)).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    dout = rng.standard_normal((7, 6, 12, 10)).astype(np.float32)

    def run():
        out, cache = F.conv2d(x, w, b, padding=1, algorithm=algorithm)
        return (out, *F.conv2d_backward(dout, cache))

    workers.set_num_workers(2)
    first, second = run(), run()
    for a, b_ in zip(first, second):
        np.testing.assert_array_equal(a, b_)  # the same bits every run
    workers.set_num_workers(1)
    # The weight gradient is summed in another order, so it may differ by float32 roundings of its terms;
    # F(4x4, 3x3)'s transforms scale its terms by up to ~10x more than F(2x2)'s (measured: 1.2e-6 here).
    tolerance = 1e-5 if algorithm == "winograd4" else 1e-6
    for a, b_ in zip(first, run()):
        assert rel_error(a, b_) <= tolerance


def test_split_range_and_chunks():
    assert workers.split_range(5, 2) == [(0, 3), (3, 5)]
    assert workers.split_range(1, 2) == [(0, 1)]
    assert workers.split_range(0, 2) == [(0, 0)]
    assert workers.chunk_ranges(2, 9, per_sample_bytes=10, budget=35) == [(2, 5), (5, 8), (8, 9)]
    assert workers.chunk_ranges(0, 3, per_sample_bytes=100, budget=1) == [(0, 1), (1, 2), (2, 3)]


def test_small_calls_stay_on_one_thread(restore_settings):
    workers.set_num_workers(2)
    assert workers.batch_parts(8, flops=1e3) == [(0, 8)]
    assert workers.batch_parts(8, flops=1e9) == [(0, 4), (4, 8)]
    workers.set_num_workers(1)
    assert workers.batch_parts(8, flops=1e9) == [(0, 8)]


def test_run_parts_returns_in_order_and_raises(restore_settings):
    assert workers.run_parts(lambda a, b: (a, b), [(0, 2), (2, 4), (4, 5)]) == [(0, 2), (2, 4), (4, 5)]

    def fail_in_second(start, stop):
        if start:
            raise KeyError("boom")
        return start

    with pytest.raises(KeyError, match="boom"):
        workers.run_parts(fail_in_second, [(0, 1), (1, 2)])


def test_blas_threads_are_restored():
    controllers = workers._blas_controllers()
    before = [c.get_num_threads() for c in controllers]
    with workers.blas_threads_limited(1):
        assert all(c.get_num_threads() == 1 for c in controllers)
    assert [c.get_num_threads() for c in controllers] == before


def test_small_products_run_blas_on_one_thread():
    controllers = workers._blas_controllers()
    before = [c.get_num_threads() for c in controllers]
    with workers.blas_threads_for(workers._SMALL_PRODUCT_FLOPS - 1):
        assert all(c.get_num_threads() == 1 for c in controllers)
    with workers.blas_threads_for(workers._SMALL_PRODUCT_FLOPS):  # large: BLAS's own setting
        assert [c.get_num_threads() for c in controllers] == before
    assert [c.get_num_threads() for c in controllers] == before


def test_workspace_is_aligned_and_reused():
    first = workers.workspace("test.aligned", (3, 5), np.float32)
    assert first.ctypes.data % 64 == 0 and first.shape == (3, 5) and first.dtype == np.float32
    smaller = workers.workspace("test.aligned", (2, 2), np.float64)  # fits: the same memory
    assert smaller.ctypes.data == first.ctypes.data and smaller.shape == (2, 2)
    larger = workers.workspace("test.aligned", (100, 100), np.float32)  # grows, still aligned
    assert larger.ctypes.data % 64 == 0 and larger.shape == (100, 100)


def test_settings_are_checked(restore_settings):
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="set_num_workers: expected a positive integer"):
            workers.set_num_workers(bad)
        with pytest.raises(ValueError, match="set_workspace_limit: expected a positive number of bytes"):
            workers.set_workspace_limit(bad)


def test_environment_variables():
    code = ("from numconv.kernels import workers; "
            "print(workers.num_workers(), workers.workspace_limit())")
    env = dict(os.environ, NUMCONV_NUM_THREADS="1", NUMCONV_CONV_WORKSPACE_MB="0.5")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1", str(2**19)]
    env["NUMCONV_NUM_THREADS"] = "two"
    code = ("import numpy as np; from numconv import functional as F; "
            "F.conv2d(np.zeros((2, 1, 4, 4)), np.zeros((1, 1, 3, 3)), algorithm='rowslab')")
    failed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert failed.returncode != 0 and "NUMCONV_NUM_THREADS must be a positive integer, got 'two'" in failed.stderr


# ---------------------------------------------------------------------------------------------- workspaces
@pytest.mark.parametrize("algorithm", ["im2col", *ALGORITHMS])
def test_interleaved_forwards_and_backwards(algorithm, parallel):
    """Two forwards of the same shape, then both backwards (in reverse order): nothing overwritten."""
    rng = np.random.default_rng(11)
    w, b = rng.standard_normal((5, 4, 3, 3)), rng.standard_normal(5)
    x1, x2 = rng.standard_normal((2, 3, 4, 9, 9))
    d1, d2 = rng.standard_normal((2, 3, 5, 9, 9))
    alone1 = F.conv2d(x1, w, b, padding=1, algorithm=algorithm)
    alone1 = (alone1[0].copy(), *F.conv2d_backward(d1, alone1[1]))
    alone2 = F.conv2d(x2, w, b, padding=1, algorithm=algorithm)
    alone2 = (alone2[0].copy(), *F.conv2d_backward(d2, alone2[1]))

    out1, cache1 = F.conv2d(x1, w, b, padding=1, algorithm=algorithm)
    out2, cache2 = F.conv2d(x2, w, b, padding=1, algorithm=algorithm)
    grads2 = F.conv2d_backward(d2, cache2)
    grads1 = F.conv2d_backward(d1, cache1)
    for got, expected in zip((out1, *grads1), alone1):
        np.testing.assert_array_equal(got, expected)
    for got, expected in zip((out2, *grads2), alone2):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_results_never_alias_workspaces(algorithm, parallel):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 4, 8, 8)), rng.standard_normal((4, 4, 3, 3))
    out, cache = F.conv2d(x, w, padding=1, algorithm=algorithm)
    dx, dw, _ = F.conv2d_backward(np.ones_like(out), cache)
    held = [raw for buffers in workers._every_thread_buffers for raw in buffers.values()]
    assert held, "the algorithm should have used workspaces"
    for result in (out, dx, dw):
        assert not any(np.shares_memory(result, raw) for raw in held)


def test_workspaces_are_reused_and_cleared():
    workers.clear_workspaces()
    a = workers.workspace("test.a", (10, 10), np.float32)
    b = workers.workspace("test.b", (10, 10), np.float32)
    assert not np.shares_memory(a, b)
    assert a.ctypes.data % 64 == 0 and a.flags.c_contiguous
    smaller = workers.workspace("test.a", (5, 3), np.float64)
    assert np.shares_memory(a, smaller)  # reused, not reallocated
    assert workers.workspace_bytes() >= 2 * 400
    workers.clear_workspaces()
    assert workers.workspace_bytes() == 0


# ---------------------------------------------------------------------------------------------- memory bound
@pytest.mark.parametrize("algorithm", ["im2col", *ALGORITHMS])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tiny_workspace_limit_gives_the_same_result(algorithm, dtype, restore_settings, parallel):
    """A limit below one sample's scratch forces one sample per chunk; the results agree to rounding.

    Not bit for bit in general: a chunk's matrix products have other widths,
    and OpenBLAS picks other kernels (and summation orders) for them; dW is
    also summed over chunks in another order. Agreement: float64 1e-13,
    float32 1e-6 (1e-5 for F(4x4, 3x3)) (relative, max norm).
    """
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 6, 11, 10)).astype(dtype)
    w, b = rng.standard_normal((7, 6, 3, 3)).astype(dtype), rng.standard_normal(7).astype(dtype)
    dout = rng.standard_normal((5, 7, 11, 10)).astype(dtype)

    def run():
        out, cache = F.conv2d(x, w, b, padding=1, algorithm=algorithm)
        return (out, *F.conv2d_backward(dout, cache)), cache

    whole, whole_cache = run()
    workers.set_workspace_limit(64)
    chunked, chunked_cache = run()
    if algorithm == "im2col":
        assert whole_cache.state[3] is not None and chunked_cache.state[3] is None  # columns rebuilt in backward
    # float32: F(4x4, 3x3)'s transforms scale rounding differences by up to ~10x more (measured 1.8e-6 here).
    tol = 1e-13 if dtype == np.float64 else (1e-5 if algorithm == "winograd4" else 1e-6)
    for got, expected in zip(chunked, whole):
        assert rel_error(got, expected) <= tol


def test_chunked_im2col_bounds_peak_memory(restore_settings):
    """With a limit of one sample's columns, a forward+backward never holds the whole batch's columns."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((16, 8, 24, 24)), rng.standard_normal((8, 8, 3, 3))
    columns = x.shape[0] * 8 * 9 * 22 * 22 * 8  # bytes of the whole batch's column matrix
    dout = rng.standard_normal((16, 8, 22, 22))

    def peak():
        tracemalloc.start()
        out, cache = F.conv2d(x, w, algorithm="im2col")
        F.conv2d_backward(dout, cache)
        del out, cache
        result = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return result

    unbounded = peak()
    workers.set_workspace_limit(columns // 16)
    bounded = peak()
    assert unbounded > 2 * columns  # columns and their gradient
    assert bounded < columns  # output, dx and two chunks' columns: less than the full matrix
    print(f"\nim2col fwd+bwd peak: {unbounded / 2**20:.1f} MiB unbounded, {bounded / 2**20:.1f} MiB chunked")


@pytest.mark.parametrize("k, c", [(1, 1), (3, 5), (16, 8)])
def test_winograd_filter_transforms_equal_their_einsum(k, c):
    """``transform_filters`` and ``filter_gradient`` (one product with kron(G, G)) equal the docstrings' einsums."""
    rng = np.random.default_rng(k * 10 + c)
    weight = rng.standard_normal((k, c, 3, 3))
    expected = np.einsum("ap,kcpq,bq->abkc", W.G, weight, W.G).reshape(16, k, c)
    np.testing.assert_allclose(W.transform_filters(weight), expected, rtol=1e-14, atol=1e-14)
    d_u = rng.standard_normal((16, k, c))
    expected = np.einsum("ap,abkc,bq->kcpq", W.G, d_u.reshape(4, 4, k, c), W.G)
    np.testing.assert_allclose(W.filter_gradient(d_u), expected, rtol=1e-14, atol=1e-14)


# ---------------------------------------------------------------------------------------------- auto's im2col, split
SPLIT_CASES = [  # (conv, x shape, weight shape, keyword arguments): calls "auto" sends to im2col
    (F.conv2d, (5, 3, 7, 7), (4, 3, 3, 3), dict(padding=1)),                               # 7 wide
    (F.conv2d, (4, 4, 9, 8), (6, 2, 3, 3), dict(padding=1, groups=2)),                     # groups
    (F.conv2d, (3, 2, 9, 9), (3, 2, 3, 3), dict(padding=2, padding_mode="reflect", stride=2)),
    (F.conv1d, (6, 3, 20), (5, 3, 4), dict(stride=2, padding=1, dilation=2)),
    (F.conv3d, (3, 2, 5, 6, 4), (3, 2, 2, 3, 3), dict(padding=(1, 0, 1))),
]


@pytest.mark.parametrize("conv, x_shape, w_shape, kwargs", SPLIT_CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_auto_im2col_split_over_workers_matches_torch(conv, x_shape, w_shape, kwargs, dtype, restore_settings,
                                                      parallel):
    """Under "auto", an im2col call large enough for the workers runs batch-split (``tiling``): equal to
    PyTorch, and in float64 to the readable path run on the whole batch."""
    import torch

    workers.set_num_workers(2)
    rng = np.random.default_rng(len(x_shape) * 7 + x_shape[1])
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out, cache = conv(x, w, b, **kwargs)
    assert cache.algorithm == "im2col" and isinstance(cache.state, tuple)  # tiling's state, not Im2colCache
    assert len(cache.state[3]) == 2  # one set of columns per worker
    backward = getattr(F, conv.__name__ + "_backward")
    torch_fn = getattr(torch.nn.functional, conv.__name__)
    torch_kwargs = dict(kwargs)
    mode = torch_kwargs.pop("padding_mode", "zeros")
    if mode != "zeros":  # torch's functional conv takes no padding mode: pad first, as nn.Conv does
        pads = [p for p in (torch_kwargs.pop("padding"),) * (len(x_shape) - 2) for p in (p, p)]
        torch_fn = (lambda f: lambda t, *a, **k: f(torch.nn.functional.pad(t, pads, mode=mode), *a, **k))(torch_fn)
    record(check_op(conv, backward, torch_fn, [x, w, b], kwargs=kwargs, torch_kwargs=torch_kwargs, dtype=dtype,
                    seed=3), f"auto im2col split {np.dtype(dtype).name}")
    if dtype == np.float64:
        readable, readable_cache = conv(x, w, b, **kwargs, algorithm="im2col")
        assert rel_error(out, readable) <= 1e-14
        dout = rng.standard_normal(out.shape)
        for ours, theirs in zip(backward(dout, cache), backward(dout, readable_cache)):
            assert rel_error(ours, theirs) <= 1e-14


@pytest.mark.parametrize("where", ["input", "weight", "gradient"])
@pytest.mark.parametrize("channels, side", [(16, 28), (64, 28), (64, 7)])  # auto's three Winograd algorithms
def test_auto_keeps_torchs_infinities_wherever_they_come_in(where, channels, side):
    # Winograd's transforms make inf - inf = NaN where a direct convolution keeps inf: auto checks the input and
    # the weight before choosing it, and the upstream gradient before its backward.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, channels, side, side))
    w = rng.standard_normal((channels, channels, 3, 3)) * 0.1
    g = rng.standard_normal((2, channels, side, side))
    {"input": x, "weight": w, "gradient": g}[where][0, 1, 2, 2] = np.inf
    with np.errstate(invalid="ignore"):  # (inf * 0 in the products: NumPy warns where PyTorch is silent)
        out, cache = F.conv2d(x, w, padding=1)
        dx, dw, _ = F.conv2d_backward(g, cache)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    expected = torch.nn.functional.conv2d(tx, tw, padding=1)
    expected.backward(torch.tensor(g))
    for ours, theirs in ((out, expected.detach().numpy()), (dx, tx.grad.numpy()), (dw, tw.grad.numpy())):
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
        np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
        finite = np.isfinite(theirs)
        np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-9, atol=1e-9)
