"""ToTensor / PILToTensor / ToPILImage: torchvision's rules, checked against torch's own arithmetic."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numconv import nn
from numconv.data import transforms as T

Image = pytest.importorskip("PIL.Image")
torch = pytest.importorskip("torch")


def torch_to_tensor(hwc_uint8):
    """torchvision's ToTensor on uint8 pixels: permute to (C, H, W), float, / 255."""
    return torch.from_numpy(hwc_uint8).permute(2, 0, 1).contiguous().to(torch.float32).div(255).numpy()


@given(h=st.integers(1, 6), w=st.integers(1, 6), mode=st.sampled_from(["L", "LA", "RGB", "RGBA"]),
       seed=st.integers(0, 2**16))
def test_to_tensor_on_pictures_and_arrays(h, w, mode, seed):
    channels = len(mode)
    hwc = np.random.default_rng(seed).integers(0, 256, (h, w, channels), dtype=np.uint8)
    picture = Image.fromarray(hwc[:, :, 0] if channels == 1 else hwc, mode=None if channels > 1 else "L")
    assert picture.mode == mode
    expected = torch_to_tensor(hwc)
    for source in (picture, hwc):
        out = T.ToTensor()(source)
        assert out.shape == (channels, h, w) and out.dtype == np.float32
        np.testing.assert_array_equal(out, expected)


def test_to_tensor_every_byte_and_grayscale_2d():
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    out = T.ToTensor()(pixels)
    assert out.shape == (1, 16, 16)
    np.testing.assert_array_equal(out, torch_to_tensor(pixels[:, :, None]))
    assert out.min() == 0.0 and out.max() == 1.0


def test_to_tensor_other_modes_and_dtypes():
    bits = Image.fromarray(np.array([[0, 255], [255, 0]], dtype=np.uint8)).convert("1")
    np.testing.assert_array_equal(T.ToTensor()(bits), [[[0.0, 1.0], [1.0, 0.0]]])  # 1-bit: 0 / 255 then / 255
    palette = Image.fromarray(np.array([[0, 1]], dtype=np.uint8)).convert("P")
    assert T.ToTensor()(palette).shape == (1, 1, 2)
    ints = Image.fromarray(np.array([[5, 70000]], dtype=np.int32))
    out = T.ToTensor()(ints)  # mode I: values kept, int32, not scaled
    assert out.dtype == np.int32 and out.tolist() == [[[5, 70000]]]
    floats = np.random.default_rng(0).random((3, 4, 2))
    out = T.ToTensor()(floats)  # a float array: transposed, dtype and values kept
    assert out.dtype == np.float64 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, floats.transpose(2, 0, 1))


def test_pil_to_tensor_keeps_pixels():
    hwc = np.random.default_rng(1).integers(0, 256, (3, 5, 3), dtype=np.uint8)
    out = T.PILToTensor()(Image.fromarray(hwc))
    assert out.dtype == np.uint8 and out.shape == (3, 3, 5)
    np.testing.assert_array_equal(out, hwc.transpose(2, 0, 1))
    with pytest.raises(TypeError, match="expected a PIL image, got ndarray"):
        T.PILToTensor()(hwc)


@pytest.mark.parametrize("channels, mode", [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_to_pil_image_round_trip(channels, mode):
    hwc = np.random.default_rng(channels).integers(0, 256, (4, 3, channels), dtype=np.uint8)
    chw_float = T.ToTensor()(hwc)
    picture = T.ToPILImage()(chw_float)
    assert picture.mode == mode and picture.size == (3, 4)
    back = np.asarray(picture).reshape(4, 3, channels)
    np.testing.assert_array_equal(back, hwc)


def test_to_pil_image_float_truncates_like_byte():
    x = np.array([[[0.0, 0.5, 1.0, 0.999]]], dtype=np.float32)
    picture = T.ToPILImage()(x)
    expected = torch.from_numpy(x).mul(255).byte().numpy()[0]  # torchvision: pic.mul(255).byte()
    np.testing.assert_array_equal(np.asarray(picture), expected)
    f = T.ToPILImage(mode="F")(x)
    assert f.mode == "F" and np.asarray(f).dtype == np.float32
    np.testing.assert_array_equal(np.asarray(f), x[0])
    assert T.ToPILImage()(np.zeros((2, 2), np.int32)).mode == "I"


def test_to_pil_image_errors():
    with pytest.raises(ValueError, match=r"looks channel-last: image.transpose\(2, 0, 1\)"):
        T.ToPILImage()(np.zeros((28, 28, 3), np.uint8))
    with pytest.raises(ValueError, match="can be mode RGB or YCbCr or HSV, not 'RGBA'"):
        T.ToPILImage(mode="RGBA")(np.zeros((3, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="is mode 'L', not 'F'"):
        T.ToPILImage(mode="F")(np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(TypeError, match="expected a PIL image or a NumPy array, got list"):
        T.ToTensor()([[1, 2]])


def test_normalize_and_conv_hint_on_channel_last_images():
    hwc = np.zeros((28, 28, 3), np.float32)
    with pytest.raises(ValueError, match=r"it looks channel-last.*x.transpose\(2, 0, 1\) puts them first"):
        T.Normalize((0.5, 0.5, 0.5), (0.2, 0.2, 0.2))(hwc)
    with pytest.raises(ValueError, match=r"x.transpose\(0, 3, 1, 2\) puts them first"):
        T.Normalize((0.5, 0.5, 0.5), (0.2, 0.2, 0.2))(hwc[None])
    with pytest.raises(ValueError, match="it looks channel-last"):
        nn.Conv2d(3, 4, 3)(hwc[None])
    chw = T.Normalize((0.5, 0.5, 0.5), (0.2, 0.2, 0.2))(T.ToTensor()(np.zeros((28, 28, 3), np.uint8)))
    assert chw.shape == (3, 28, 28)
