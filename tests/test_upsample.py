"""interpolate / Upsample (nearest, nearest-exact, linear, bilinear, trilinear), UpsamplingNearest2d,
UpsamplingBilinear2d, PixelShuffle / PixelUnshuffle: PyTorch parity, gradcheck, the adjoint, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numconv
from numconv import functional as F
from numconv import nn
from numconv.functional.upsample import _check_arguments, interpolation_matrix, nearest_indices, nearest_kernel

torch = pytest.importorskip("torch")
from parity import check_module, check_op, rel_error  # noqa: E402

TF = torch.nn.functional
RANK = {"linear": 1, "bilinear": 2, "trilinear": 3}


@st.composite
def resize_cases(draw):
    """A mode, an input shape fitting it, and size or scale_factor (with align_corners, recompute_scale_factor)."""
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "linear", "bilinear", "trilinear"]))
    nd = RANK.get(mode) or draw(st.integers(1, 3))
    spatial = tuple(draw(st.integers(1, 6 if nd < 3 else 4)) for _ in range(nd))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *spatial)
    kwargs = dict(mode=mode)
    if mode in RANK:
        kwargs["align_corners"] = draw(st.booleans())
    if draw(st.booleans()):
        sizes = tuple(draw(st.integers(1, 9 if nd < 3 else 6)) for _ in range(nd))
        kwargs["size"] = sizes if nd > 1 or draw(st.booleans()) else sizes[0]
    else:
        factors = st.sampled_from([0.5, 0.7, 1.0, 1.1, 4 / 3, 1.5, 1.7, 2.0, 2.5, 3.0])
        scale = tuple(draw(factors) for _ in range(nd))
        if any(int(n * f) < 1 for n, f in zip(spatial, scale)):
            scale = tuple(max(f, 1.0) for f in scale)
        kwargs["scale_factor"] = scale if nd > 1 or draw(st.booleans()) else scale[0]
        kwargs["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    return shape, kwargs


def torch_backward_is_its_forwards(shape, kwargs, dtype=np.float64) -> bool:
    """False where PyTorch's nearest backward is not the gradient of its forward (see ``nearest_indices``).

    Its backward always reads the indices by its channels-last kernel's rule; its forward, for 1-D, 3-D and
    large 2-D outputs, by the generic kernel's. numconv differentiates the forward exactly.
    """
    if kwargs["mode"] not in ("nearest", "nearest-exact"):
        return True
    exact = kwargs["mode"] == "nearest-exact"
    out, scales, _, _ = _check_arguments(shape, kwargs.get("size"), kwargs.get("scale_factor"), kwargs["mode"], None,
                                         kwargs.get("recompute_scale_factor"))
    kernel = nearest_kernel(out)
    return all(np.array_equal(nearest_indices(n, m, f, exact, dtype, kernel),
                              nearest_indices(n, m, f, exact, dtype, "channels_last"))
               for n, m, f in zip(shape[2:], out, scales))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=resize_cases(), seed=st.integers(0, 2**16))
def test_interpolate_matches_torch(dtype, case, seed):
    shape, kwargs = case
    x = np.random.default_rng(seed).standard_normal(shape)
    mask = [torch_backward_is_its_forwards(shape, kwargs, dtype)]
    check_op(F.interpolate, F.interpolate_backward, TF.interpolate, [x], kwargs=kwargs, dtype=dtype, seed=seed,
             grad_mask=mask)


@settings(max_examples=25)
@given(case=resize_cases(), seed=st.integers(0, 2**16))
def test_backward_is_the_adjoint(case, seed):
    """<interpolate(x), g> == <x, interpolate_backward(g)> for every mode, PyTorch's odd cases included."""
    shape, kwargs = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    out, cache = F.interpolate(x, **kwargs)
    g = rng.standard_normal(out.shape)
    assert abs(np.vdot(out, g) - np.vdot(x, F.interpolate_backward(g, cache))) <= 1e-12 * np.abs(out * g).sum() + 1e-12


def test_nearest_backward_sums_each_block():
    x = np.arange(4.0).reshape(1, 1, 2, 2)
    out, cache = F.interpolate(x, scale_factor=2)
    np.testing.assert_array_equal(out[0, 0], [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    g = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(F.interpolate_backward(g, cache)[0, 0],
                                  [[0 + 1 + 4 + 5, 2 + 3 + 6 + 7], [8 + 9 + 12 + 13, 10 + 11 + 14 + 15]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_picks_torchs_pixels_with_both_of_its_kernels(dtype, mode):
    # Pixel indices near an integer boundary, large 2-D outputs (PyTorch's generic kernel) and small ones (its
    # channels-last kernel), float64 (whose generic kernel rounds differently from float32), 1-D to 3-D.
    rng = np.random.default_rng(7 if mode == "nearest" else 8)
    for _ in range(60):
        nd = int(rng.integers(1, 4))
        axis = int(rng.integers(0, nd))
        spatial = [int(rng.integers(1, 4)) if rng.integers(0, 3) else int(rng.integers(60, 100)) for _ in range(nd)]
        spatial[axis] = n = int(rng.integers(2, 130))
        if rng.integers(0, 2):
            factor = float(rng.choice([1.1, 1.71, 2.0, 2.3, 3.49, 0.7, float(np.round(rng.uniform(0.4, 3.5), 2))]))
            if int(n * factor) < 1:
                continue
            kwargs = dict(scale_factor=tuple(factor if a == axis else 1.0 for a in range(nd)))
        else:
            kwargs = dict(size=tuple(int(rng.integers(1, 260)) if a == axis else s for a, s in enumerate(spatial)))
        x = rng.standard_normal((1, 1, *spatial)).astype(dtype)
        out, cache = F.interpolate(x, mode=mode, **kwargs)
        t = torch.from_numpy(x).requires_grad_()
        expected = TF.interpolate(t, mode=mode, **kwargs)
        np.testing.assert_array_equal(out, expected.detach().numpy(), err_msg=f"{x.shape} {kwargs}")
        g = rng.standard_normal(out.shape).astype(dtype)
        if torch_backward_is_its_forwards(x.shape, dict(mode=mode, **kwargs), dtype):
            expected.backward(torch.from_numpy(g))
            np.testing.assert_allclose(F.interpolate_backward(g, cache), t.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_nearest_with_a_scale_factor_follows_torchs_forward():
    # PyTorch's 1-D forward uses 1 / 1.1 even though 5 * 1.1 rounds down to 5: [0, 0, 1, 2, 3], not a copy.
    x = np.arange(5.0).reshape(1, 1, 5)
    out, _ = F.interpolate(x, scale_factor=1.1)
    np.testing.assert_array_equal(out.ravel(), TF.interpolate(torch.from_numpy(x), scale_factor=1.1).ravel())
    np.testing.assert_array_equal(out.ravel(), [0, 0, 1, 2, 3])


def test_interpolation_matrix():
    np.testing.assert_allclose(interpolation_matrix(2, 4), [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]])
    np.testing.assert_allclose(interpolation_matrix(3, 5, align_corners=True),
                               [[1, 0, 0], [0.5, 0.5, 0], [0, 1, 0], [0, 0.5, 0.5], [0, 0, 1]])
    m = interpolation_matrix(7, 3, scale_factor=0.5)
    np.testing.assert_allclose(m.sum(axis=1), 1)  # every row a convex combination
    assert interpolation_matrix(4, 9, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)),
       r=st.integers(1, 3), batched=st.booleans(), seed=st.integers(0, 2**16))
def test_pixel_shuffle_matches_torch(dtype, shape, r, batched, seed):
    n, c, h, w = shape
    x = np.random.default_rng(seed).standard_normal((n, c * r * r, h, w) if batched else (c * r * r, h, w))
    check_op(F.pixel_shuffle, F.pixel_shuffle_backward, TF.pixel_shuffle, [x], kwargs=dict(upscale_factor=r),
             dtype=dtype, seed=seed)
    y = np.random.default_rng(seed).standard_normal((n, c, h * r, w * r) if batched else (c, h * r, w * r))
    check_op(F.pixel_unshuffle, F.pixel_unshuffle_backward, TF.pixel_unshuffle, [y],
             kwargs=dict(downscale_factor=r), dtype=dtype, seed=seed)
    out, _ = F.pixel_shuffle(x, r)
    np.testing.assert_array_equal(F.pixel_unshuffle(out, r)[0], x)  # inverses


@pytest.mark.parametrize("shape, r", [((1, 4, 3, 3), 1), ((2, 4, 1, 1), 2)])
def test_pixel_shuffles_never_return_the_callers_array(shape, r):
    # With r = 1, or one pixel per channel, the permutation moves nothing; the results must still be new arrays,
    # or an in-place layer after them would write into the input (PyTorch's outputs never share its memory).
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    out, cache = F.pixel_shuffle(x, r)
    assert not np.shares_memory(out, x) and not np.shares_memory(F.pixel_shuffle_backward(out, cache), out)
    down = np.arange(np.prod(out.shape), dtype=np.float64).reshape(out.shape)
    back, cache = F.pixel_unshuffle(down, r)
    assert not np.shares_memory(back, down) and not np.shares_memory(F.pixel_unshuffle_backward(back, cache), back)
    centred = x - x.mean()  # negative entries for the ReLU to zero
    kept = centred.copy()
    nn.Sequential(nn.PixelShuffle(r), nn.ReLU(inplace=True))(centred)
    np.testing.assert_array_equal(centred, kept)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "bilinear"])
@pytest.mark.parametrize("shape", [(1, 2, 0, 3), (1, 2, 3, 0), (0, 2, 0, 3)])
def test_an_empty_input_axis_is_refused_with_size_too(mode, shape):
    # The kernels would read pixel -1 of an empty axis (it once wrote outside the gradient array); PyTorch refuses too.
    with pytest.raises(ValueError, match=r"input and output sizes should be greater than 0, but got input spatial "
                                         r"size \(\d, \d\) and output \(4, 4\) \(size=\(4, 4\)\)"):
        F.interpolate(np.zeros(shape), size=(4, 4), mode=mode)


# ---------------------------------------------------------------------------------------------- layers
LAYERS = [
    ("Upsample", dict(scale_factor=2), (2, 3, 4, 5)),
    ("Upsample", dict(scale_factor=(1.5, 2.5), mode="nearest-exact"), (2, 3, 4, 5)),
    ("Upsample", dict(size=7, mode="linear"), (2, 3, 5)),
    ("Upsample", dict(scale_factor=2, mode="bilinear"), (2, 3, 4, 5)),
    ("Upsample", dict(size=(5, 3), mode="bilinear", align_corners=True), (1, 2, 4, 6)),
    ("Upsample", dict(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True), (2, 2, 5, 4)),
    ("Upsample", dict(scale_factor=(2, 1, 0.5), mode="trilinear"), (1, 2, 3, 4, 6)),
    ("Upsample", dict(scale_factor=3, mode="nearest"), (1, 2, 2, 3, 2)),
    ("UpsamplingNearest2d", dict(scale_factor=2), (2, 3, 3, 4)),
    ("UpsamplingNearest2d", dict(size=(5, 7)), (2, 3, 3, 4)),
    ("UpsamplingBilinear2d", dict(scale_factor=2), (2, 3, 3, 4)),
    ("UpsamplingBilinear2d", dict(size=(4, 9)), (1, 2, 3, 4)),
    ("PixelShuffle", dict(upscale_factor=2), (2, 8, 3, 4)),
    ("PixelShuffle", dict(upscale_factor=3), (9, 2, 2)),
    ("PixelUnshuffle", dict(downscale_factor=2), (2, 3, 4, 6)),
]
LAYER_IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw, _ in LAYERS]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, kwargs, shape", LAYERS, ids=LAYER_IDS)
def test_layer_matches_torch(name, kwargs, shape, dtype):
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    check_module(ours, theirs, [x], dtype=dtype)


@pytest.mark.parametrize("name, kwargs, shape", LAYERS, ids=LAYER_IDS)
def test_layer_gradcheck(name, kwargs, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    assert numconv.gradcheck(getattr(nn, name)(**kwargs), x, raise_exception=True)


def test_upsampling_bilinear2d_aligns_corners():
    x = np.array([[[[0.0, 1.0]]]])
    out = nn.UpsamplingBilinear2d(size=(1, 3))(x)
    np.testing.assert_allclose(out.ravel(), [0, 0.5, 1])
    assert nn.UpsamplingBilinear2d(scale_factor=2).align_corners is True


def test_dtype_is_kept():
    x = np.ones((1, 1, 2, 2), dtype=np.float32)
    for layer in (nn.Upsample(scale_factor=2), nn.Upsample(scale_factor=2, mode="bilinear"), nn.PixelUnshuffle(2)):
        out = layer(x)
        assert out.dtype == np.float32 and layer.backward(np.ones_like(out)).dtype == np.float32


# ---------------------------------------------------------------------------------------------- errors
X4 = np.zeros((1, 2, 4, 4))
ERRORS = [
    ("scale_factor 0", lambda: F.interpolate(X4, scale_factor=0), ValueError,
     r"interpolate: scale_factor must be positive and finite, got 0"),
    ("negative scale_factor", lambda: nn.Upsample(scale_factor=(2, -1)), ValueError,
     r"Upsample: scale_factor must be positive and finite, got \(2, -1\)"),
    ("size and scale_factor", lambda: F.interpolate(X4, size=8, scale_factor=2), ValueError,
     r"give exactly one of size and scale_factor, got both"),
    ("neither", lambda: nn.Upsample(), ValueError, r"Upsample: give exactly one of size and scale_factor, got neither"),
    ("unknown mode", lambda: nn.Upsample(scale_factor=2, mode="bicubic"), ValueError,
     r"mode must be one of .* \(bicubic and area are not implemented\)"),
    ("align_corners with nearest", lambda: F.interpolate(X4, scale_factor=2, align_corners=True), ValueError,
     r"align_corners can only be set with the interpolating modes"),
    ("bilinear on 3-D", lambda: F.interpolate(np.zeros((2, 3, 4)), scale_factor=2, mode="bilinear"), ValueError,
     r"interpolate: mode 'bilinear' needs a 4-D input \(N, C, H, W\), got shape \(2, 3, 4\) \(3-D\)"),
    ("wrong rank", lambda: F.interpolate(np.zeros((4, 4)), scale_factor=2), ValueError,
     r"expected a 3-D, 4-D or 5-D input \(N, C, \*spatial\)"),
    ("size of the wrong length", lambda: F.interpolate(X4, size=(2, 3, 4)), ValueError,
     r"expected size to have 2 entries"),
    ("output of size 0", lambda: F.interpolate(X4, scale_factor=0.2), ValueError,
     r"input and output sizes should be greater than 0, but got input spatial size \(4, 4\) and output \(0, 0\)"),
    ("recompute with size", lambda: F.interpolate(X4, size=3, recompute_scale_factor=True), ValueError,
     r"recompute_scale_factor is not meaningful with an explicit size"),
    ("size 0", lambda: F.interpolate(X4, size=(0, 3)), ValueError, r"every entry of size >= 1, got 0"),
    ("pixel shuffle channels", lambda: F.pixel_shuffle(np.zeros((1, 6, 2, 2)), 2), ValueError,
     r"channel count is divisible by upscale_factor\^2 = 4, got shape \(1, 6, 2, 2\)"),
    ("pixel unshuffle size", lambda: nn.PixelUnshuffle(2)(np.zeros((1, 1, 3, 4))), ValueError,
     r"height and width are divisible by downscale_factor = 2, got shape \(1, 1, 3, 4\)"),
    ("pixel shuffle factor", lambda: nn.PixelShuffle(0), ValueError, r"PixelShuffle: expected upscale_factor >= 1"),
    ("integer input", lambda: F.interpolate(X4.astype(int), scale_factor=2), TypeError, r"float32 or float64"),
]


@pytest.mark.parametrize("make, error, message", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_backward_errors():
    out, cache = F.interpolate(X4, scale_factor=2)
    with pytest.raises(ValueError, match=r"interpolate_backward: expected dout of shape \(1, 2, 8, 8\)"):
        F.interpolate_backward(np.zeros((1, 2, 4, 4)), cache)
    with pytest.raises(TypeError, match="InterpolateCache"):
        F.interpolate_backward(out, None)
    assert rel_error(F.interpolate_backward(out, cache), 4 * X4) == 0


@pytest.mark.parametrize("sizes, align_corners", [((3, 4, 7, 9), False), ((5, 6, 2, 13), True), ((4, 4, 4, 8), False),
                                                  ((6, 5, 3, 2), False)])
def test_bilinear_kernels_equal_their_numpy_expressions(sizes, align_corners):
    """The kernels' docstrings: out[p] = A_h @ x[p] @ A_w.T and dx[p] = A_h.T @ dout[p] @ A_w."""
    from numconv.functional.upsample import linear_taps
    from numconv.kernels.upsample import bilinear_backward, bilinear_forward

    h, w, h_out, w_out = sizes
    th, tw = linear_taps(h, h_out, None, align_corners), linear_taps(w, w_out, None, align_corners)
    rng = np.random.default_rng(h * w)
    x, g = rng.standard_normal((3, h, w)), rng.standard_normal((3, h_out, w_out))
    taps = (th.first, th.second, th.w0, th.w1, tw.first, tw.second, tw.w0, tw.w1)
    out = bilinear_forward(x, np.empty((3, h_out, w_out)), *taps, 0, 3)
    dx = bilinear_backward(g, np.zeros((3, h, w)), *taps, 0, 3)
    a_h, a_w = th.matrix(), tw.matrix()
    assert rel_error(out, a_h @ x @ a_w.T) <= 1e-14
    assert rel_error(dx, a_h.T @ g @ a_w) <= 1e-14
