"""Transforms: PyTorch parity where PyTorch has the operation, batch/single agreement, seeding, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numconv
from numconv.data import transforms as T

torch = pytest.importorskip("torch")
from parity import assert_close  # noqa: E402

F = torch.nn.functional
FLOATS = [np.float64, np.float32]
ERRORS = {}  # largest relative error seen per check, printed by -s for the record


def record(key, err):
    ERRORS[key] = max(ERRORS.get(key, 0.0), err)


# ------------------------------------------------------------------------------------------------ ToFloat

def test_to_float_matches_torch_division():
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    out = T.ToFloat()(pixels)
    assert out.shape == (1, 16, 16) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], (torch.from_numpy(pixels).float() / 255).numpy())
    assert out.min() == 0.0 and out.max() == 1.0


def test_to_float_refuses_other_integer_types():
    with pytest.raises(TypeError, match="expected uint8 or float pixels, got uint16"):
        T.ToFloat()(np.zeros((2, 2), dtype=np.uint16))
    with pytest.raises(ValueError, match=r"got shape \(2, 2, 2, 2, 2\) \(5-D\)"):
        T.ToFloat()(np.zeros((2,) * 5, dtype=np.uint8))


def test_to_float_shapes_and_float_passthrough():
    batch = np.full((2, 3, 4, 5), 255, dtype=np.uint8)
    assert T.ToFloat()(batch).shape == (2, 3, 4, 5)
    x = np.random.default_rng(0).random((1, 4, 4))
    once = T.ToFloat()(x)
    assert once.dtype == np.float32
    np.testing.assert_array_equal(T.ToFloat()(once), once)  # applying it twice changes nothing


# ---------------------------------------------------------------------------------------------- Normalize

@pytest.mark.parametrize("dtype", FLOATS)
@given(channels=st.integers(1, 4), batch=st.booleans(), per_channel=st.booleans(), seed=st.integers(0, 2**16))
def test_normalize_matches_torch(dtype, channels, batch, per_channel, seed):
    rng = np.random.default_rng(seed)
    shape = ((3,) if batch else ()) + (channels, 5, 6)
    x = rng.random(shape).astype(dtype)
    n = channels if per_channel else 1
    mean, std = rng.random(n).tolist(), (rng.random(n) + 0.1).tolist()
    out = T.Normalize(mean, std)(x)
    assert out.dtype == dtype
    tx = torch.from_numpy(x)
    tm = torch.tensor(mean, dtype=tx.dtype).reshape(-1, 1, 1)
    ts = torch.tensor(std, dtype=tx.dtype).reshape(-1, 1, 1)
    record(("Normalize", np.dtype(dtype).name), assert_close(out, (tx - tm) / ts, dtype, "Normalize"))


def test_normalize_errors():
    with pytest.raises(ValueError, match="std must not be zero"):
        T.Normalize(0.5, 0.0)
    with pytest.raises(ValueError, match="mean has 2 values but std has 3"):
        T.Normalize((0.1, 0.2), (1, 1, 1))
    with pytest.raises(ValueError, match=r"2 mean/std values for an image with 3 channels \(shape \(3, 4, 4\)\)"):
        T.Normalize((0.1, 0.2), (1, 1))(np.zeros((3, 4, 4), dtype=np.float32))
    with pytest.raises(TypeError, match=r"got uint8 \(put ToFloat\(\) first\)"):
        T.Normalize(0.5, 0.5)(np.zeros((1, 4, 4), dtype=np.uint8))


# ---------------------------------------------------------------------------------------------------- Pad

@pytest.mark.parametrize("mode, torch_mode", [("constant", "constant"), ("edge", "replicate"), ("reflect", "reflect")])
@given(
    padding=st.one_of(st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)),
                      st.tuples(*[st.integers(0, 3)] * 4)),
    size=st.tuples(st.integers(4, 7), st.integers(4, 7)),
    fill=st.floats(-2, 2),
    seed=st.integers(0, 2**16),
)
def test_pad_matches_torch(mode, torch_mode, padding, size, fill, seed):
    x = np.random.default_rng(seed).standard_normal((2, 3, *size))
    out = T.Pad(padding, fill=fill, padding_mode=mode)(x)
    left, top, right, bottom = T.Pad(padding).padding
    kwargs = {"value": fill} if mode == "constant" else {}
    expected = F.pad(torch.from_numpy(x), (left, right, top, bottom), mode=torch_mode, **kwargs)
    np.testing.assert_array_equal(out, expected.numpy())  # padding moves values, it must be exact


def test_pad_lenet_shape_and_dtypes():
    image = np.full((28, 28), 7, dtype=np.uint8)
    out = T.Pad(2)(image)
    assert out.shape == (32, 32) and out.dtype == np.uint8
    assert out[0].sum() == 0 and out[2:30, 2:30].min() == 7
    assert T.Pad(2)(np.zeros((5, 1, 28, 28), np.float32)).shape == (5, 1, 32, 32)
    assert T.Pad((1, 2, 3, 4))(np.zeros((1, 10, 10))).shape == (1, 16, 14)  # (left, top, right, bottom)


def test_pad_errors():
    with pytest.raises(TypeError, match="tuple of 2 or 4 ints"):
        T.Pad((1, 2, 3))
    with pytest.raises(ValueError, match=">= 0"):
        T.Pad(-1)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        T.Pad(1, padding_mode="wrap")
    with pytest.raises(ValueError, match=r"reflect padding .* smaller than the image size \(3, 3\)"):
        T.Pad(3, padding_mode="reflect")(np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match=r"\(H, W\), \(C, H, W\) or \(N, C, H, W\), got shape \(5,\) \(1-D\)"):
        T.Pad(1)(np.zeros(5))


# ------------------------------------------------------------------------------------------------- Resize

@pytest.mark.parametrize("dtype", FLOATS)
@given(
    size_in=st.tuples(st.integers(1, 20), st.integers(1, 20)),
    size_out=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    batch=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_resize_bilinear_matches_torch(dtype, size_in, size_out, batch, seed):
    x = np.random.default_rng(seed).standard_normal((2, 3, *size_in)).astype(dtype)
    expected = F.interpolate(torch.from_numpy(x), size=size_out, mode="bilinear", align_corners=False)
    out = T.Resize(size_out)(x if batch else x[0])
    assert out.dtype == dtype
    err = assert_close(out, expected if batch else expected[0], dtype, "Resize bilinear")
    record(("Resize bilinear", np.dtype(dtype).name), err)


@pytest.mark.parametrize("dtype", FLOATS + [np.uint8])
@given(
    size_in=st.tuples(st.integers(1, 30), st.integers(1, 30)),
    size_out=st.tuples(st.integers(1, 70), st.integers(1, 70)),
    seed=st.integers(0, 2**16),
)
def test_resize_nearest_picks_torchs_pixels(dtype, size_in, size_out, seed):
    # Nearest only selects pixels, so compare which pixels: feed torch's float32 kernel the pixel numbers.
    x = (np.random.default_rng(seed).random((1, 2, *size_in)) * 200).astype(dtype)
    numbers = torch.arange(np.prod(size_in), dtype=torch.float32).reshape(1, 1, *size_in)
    picked = F.interpolate(numbers, size=size_out, mode="nearest").numpy().astype(np.int64)[0, 0]
    out = T.Resize(size_out, interpolation="nearest")(x)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, x.reshape(1, 2, -1)[:, :, picked])


def test_resize_nearest_float32_equals_torch_directly():
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    for size in [(32, 32), (14, 14), (19, 41), (56, 56), (28, 28)]:
        expected = F.interpolate(torch.from_numpy(x), size=size, mode="nearest").numpy()
        np.testing.assert_array_equal(T.Resize(size, "nearest")(x), expected)


def test_resize_int_size_keeps_aspect_ratio():
    x = np.zeros((1, 20, 40), dtype=np.float32)
    assert T.Resize(10)(x).shape == (1, 10, 20)
    assert T.Resize(10)(np.zeros((1, 40, 20), np.float32)).shape == (1, 20, 10)
    assert T.Resize(32)(np.zeros((1, 28, 28), np.float32)).shape == (1, 32, 32)


def test_resize_errors():
    with pytest.raises(TypeError, match=r"bilinear interpolation needs a float image, got uint8"):
        T.Resize(8)(np.zeros((1, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="'bilinear' or 'nearest'"):
        T.Resize(8, interpolation="bicubic")
    with pytest.raises(ValueError, match=">= 1"):
        T.Resize((0, 3))
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(N, C, H, W\), got shape \(4, 4\)"):
        T.Resize(8)(np.zeros((4, 4), np.float32))


# -------------------------------------------------------------------------------------------- RandomCrop

def test_random_crop_takes_the_drawn_window():
    x = np.arange(2 * 9 * 10, dtype=np.float32).reshape(2, 9, 10)
    out = T.RandomCrop((4, 5), generator=np.random.default_rng(7))(x)
    replay = np.random.default_rng(7)
    top, left = replay.integers(0, 6), replay.integers(0, 6)
    np.testing.assert_array_equal(out, x[:, top:top + 4, left:left + 5])


def test_random_crop_batch_gives_each_image_its_own_window():
    x = np.random.default_rng(0).random((64, 2, 8, 8))
    out = T.RandomCrop(5, padding=2, generator=np.random.default_rng(3))(x)
    assert out.shape == (64, 2, 5, 5)
    replay = np.random.default_rng(3)
    tops, lefts = replay.integers(0, 8, size=64), replay.integers(0, 8, size=64)
    padded = np.pad(x, [(0, 0), (0, 0), (2, 2), (2, 2)])
    for i in range(64):
        np.testing.assert_array_equal(out[i], padded[i, :, tops[i]:tops[i] + 5, lefts[i]:lefts[i] + 5])
    assert len({(t, l) for t, l in zip(tops, lefts)}) > 10  # not one window for the whole batch


def test_random_crop_covers_every_offset_uniformly():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    crop = T.RandomCrop(3, generator=np.random.default_rng(0))
    corners = np.array([crop(np.repeat(x, 4000, axis=0))[:, 0, 0, 0]]).ravel()
    counts = np.bincount(corners.astype(int), minlength=16)[[0, 1, 4, 5]]
    assert counts.sum() == 4000 and counts.min() > 850  # each of the 4 corners about 1000 times


def test_random_crop_errors():
    with pytest.raises(ValueError, match=r"crop size \(30, 30\) is larger than the \(padded\) image \(28, 28\)"):
        T.RandomCrop(30)(np.zeros((1, 28, 28)))


# ----------------------------------------------------------------------------------- RandomHorizontalFlip

def test_flip_p0_p1_and_flip_is_torchs():
    x = np.random.default_rng(0).random((3, 1, 4, 5))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x), torch.flip(torch.from_numpy(x), [-1]).numpy())
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x[0]), x[0][..., ::-1])


def test_flip_batch_decides_per_image():
    x = np.random.default_rng(0).random((2000, 1, 2, 3))
    out = T.RandomHorizontalFlip(p=0.3, generator=np.random.default_rng(5))(x)
    flipped = np.all(out == x[..., ::-1], axis=(1, 2, 3))
    kept = np.all(out == x, axis=(1, 2, 3))
    assert np.all(flipped ^ kept)
    assert 0.25 < flipped.mean() < 0.35


def test_flip_errors():
    with pytest.raises(ValueError, match="between 0 and 1"):
        T.RandomHorizontalFlip(1.5)


# -------------------------------------------------------------------------- seeding, batches, composition

def augment():
    return T.Compose([T.ToFloat(), T.Pad(2), T.RandomCrop(32, padding=3), T.RandomHorizontalFlip(),
                      T.Normalize(0.5, 0.25)])


def test_random_transforms_follow_manual_seed():
    images = (np.random.default_rng(1).random((8, 1, 28, 28)) * 255).astype(np.uint8)
    numconv.manual_seed(11)
    a = augment()(images)
    numconv.manual_seed(11)
    b = augment()(images)
    c = augment()(images)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_inputs_are_never_modified():
    x = np.random.default_rng(0).random((4, 1, 6, 6)).astype(np.float32)
    before = x.copy()
    for t in [T.ToFloat(), T.Normalize(0.1, 2), T.Pad(1), T.Resize(3), T.RandomCrop(4),
              T.RandomHorizontalFlip(1.0), T.Resize(9, "nearest")]:
        t(x)
        t(x[0])
    np.testing.assert_array_equal(x, before)


def test_deterministic_transforms_agree_on_batches_and_single_images():
    images = (np.random.default_rng(2).random((5, 1, 28, 28)) * 255).astype(np.uint8)
    pipeline = T.Compose([T.ToFloat(), T.Pad(2), T.Resize((20, 24)), T.Normalize(0.3, 0.2)])
    assert pipeline.supports_batch
    batch = pipeline(images)
    single = np.stack([pipeline(image) for image in images])
    np.testing.assert_array_equal(batch, single)
    assert batch.shape == (5, 1, 20, 24) and batch.dtype == np.float32


def test_compose_repr_and_checks():
    text = repr(augment())
    assert "Pad(padding=(2, 2, 2, 2)" in text and "RandomHorizontalFlip(p=0.5)" in text
    assert not T.Compose([T.ToFloat(), lambda x: x]).supports_batch
    with pytest.raises(TypeError, match="expected callables"):
        T.Compose([T.ToFloat(), 3])
    with pytest.raises(TypeError, match="expected a NumPy array, got list"):
        T.ToFloat()([[1, 2]])


def test_report_largest_errors():
    # Runs last in this file: prints the largest errors measured above (pytest -s to see them).
    print({f"{k[0]} {k[1]}": f"{v:.2e}" for k, v in sorted(ERRORS.items())})
