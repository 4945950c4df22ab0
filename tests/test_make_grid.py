"""make_grid / save_image: torchvision's algorithm (re-derived with torch ops below) and hand-computed cases.

torchvision itself cannot be installed next to the pinned torch, so ``torchvision_make_grid`` restates
torchvision.utils.make_grid step by step in torch (same in-place clamp/sub/div on the tensor's dtype,
same tile placement), and ``torchvision_save_pixels`` the ``mul(255).add_(0.5).clamp_(0, 255)`` of save_image.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numconv.tools.viz import make_grid, save_image

torch = pytest.importorskip("torch")


def torchvision_make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
                          pad_value=0.0):
    if tensor.dim() == 2:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 3:
        if tensor.size(0) == 1:
            tensor = torch.cat((tensor, tensor, tensor), 0)
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 4 and tensor.size(1) == 1:
        tensor = torch.cat((tensor, tensor, tensor), 1)
    if normalize:
        tensor = tensor.clone()

        def norm(img, low, high):
            img.clamp_(min=low, max=high)
            img.sub_(low).div_(max(high - low, 1e-5))

        def norm_range(t):
            if value_range is not None:
                norm(t, value_range[0], value_range[1])
            else:
                norm(t, float(t.min()), float(t.max()))

        for t in (tensor if scale_each else [tensor]):
            norm_range(t)
    if tensor.size(0) == 1:
        return tensor.squeeze(0)
    nmaps = tensor.size(0)
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = int(tensor.size(2) + padding), int(tensor.size(3) + padding)
    grid = tensor.new_full((tensor.size(1), height * ymaps + padding, width * xmaps + padding), pad_value)
    k = 0
    for y in range(ymaps):
        for x in range(xmaps):
            if k >= nmaps:
                break
            grid.narrow(1, y * height + padding, height - padding).narrow(
                2, x * width + padding, width - padding).copy_(tensor[k])
            k += 1
    return grid


def torchvision_save_pixels(grid):
    return grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()


@settings(max_examples=40)
@given(count=st.integers(1, 7), channels=st.sampled_from([1, 2, 3, 4]), h=st.integers(1, 5), w=st.integers(1, 5),
       nrow=st.integers(1, 9), padding=st.integers(0, 3), normalize=st.booleans(), scale_each=st.booleans(),
       use_range=st.booleans(), pad_value=st.sampled_from([0.0, 1.0, 0.25]), rank=st.sampled_from([2, 3, 4]),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_make_grid_equals_torchvision(count, channels, h, w, nrow, padding, normalize, scale_each, use_range,
                                      pad_value, rank, dtype, seed):
    rng = np.random.default_rng(seed)
    shape = {2: (h, w), 3: (channels, h, w), 4: (count, channels, h, w)}[rank]
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    value_range = (-1.0, 2.0) if use_range else None
    kwargs = dict(nrow=nrow, padding=padding, normalize=normalize, value_range=value_range, scale_each=scale_each,
                  pad_value=pad_value)
    before = x.copy()
    ours = make_grid(x, **kwargs)
    theirs = torchvision_make_grid(torch.from_numpy(x.copy()), **kwargs).numpy()
    assert ours.dtype == theirs.dtype == dtype
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(x, before)  # the input is never changed
    if normalize:
        from numconv.tools.viz.grid import grid_to_uint8
        np.testing.assert_array_equal(grid_to_uint8(ours), torchvision_save_pixels(torch.from_numpy(theirs)))


def test_hand_computed_grid():
    # three 1x1 grey images, two per row, padding 1, pad value 9: channels repeat to three
    images = np.array([1.0, 2.0, 3.0], dtype=np.float32).reshape(3, 1, 1, 1)
    grid = make_grid(images, nrow=2, padding=1, pad_value=9)
    expected = np.array([[9, 9, 9, 9, 9],
                         [9, 1, 9, 2, 9],
                         [9, 9, 9, 9, 9],
                         [9, 3, 9, 9, 9],
                         [9, 9, 9, 9, 9]], dtype=np.float32)
    assert grid.shape == (3, 5, 5)
    for channel in grid:
        np.testing.assert_array_equal(channel, expected)


def test_hand_computed_normalize():
    images = np.array([[[[0.0, 4.0]]], [[[2.0, 8.0]]]], dtype=np.float32)  # (2, 1, 1, 2)
    whole = make_grid(images, nrow=2, padding=0, normalize=True)
    np.testing.assert_array_equal(whole[0], [[0.0, 0.5, 0.25, 1.0]])
    each = make_grid(images, nrow=2, padding=0, normalize=True, scale_each=True)
    np.testing.assert_array_equal(each[0], [[0.0, 1.0, 0.0, 1.0]])
    clamped = make_grid(images, nrow=1, padding=0, normalize=True, value_range=(2, 4))
    np.testing.assert_array_equal(clamped[0], [[0.0, 1.0], [0.0, 1.0]])


def test_list_input_and_single_image():
    images = [np.full((3, 2, 2), i, dtype=np.float32) for i in range(3)]
    np.testing.assert_array_equal(make_grid(images), make_grid(np.stack(images)))
    single = np.arange(4, dtype=np.float32).reshape(1, 2, 2)
    assert make_grid(single).shape == (3, 2, 2)  # one image: no padding, grey repeated to RGB


def test_save_image_writes_torchvision_pixels(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    images = rng.random((5, 3, 4, 6)).astype(np.float32) * 1.2 - 0.1  # some pixels outside [0, 1] get clamped
    path = tmp_path / "grid.png"
    save_image(images, path, nrow=3, padding=1, pad_value=0.5)
    saved = np.asarray(Image.open(path))
    expected = torchvision_save_pixels(torchvision_make_grid(torch.from_numpy(images), nrow=3, padding=1,
                                                             pad_value=0.5))
    np.testing.assert_array_equal(saved, expected)
    assert saved[0, 0].tolist() == [128, 128, 128]  # 0.5 * 255 + 0.5 = 128.0 -> 128


def test_errors():
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        make_grid(np.zeros((2, 1, 2, 2), np.float32), normalize=True, value_range=[0, 1])
    with pytest.raises(ValueError, match=r"expected images \(B, C, H, W\).*got shape \(1, 1, 1, 1, 1\)"):
        make_grid(np.zeros((1, 1, 1, 1, 1), np.float32))
    with pytest.raises(ValueError, match="different shapes"):
        make_grid([np.zeros((1, 2, 2)), np.zeros((1, 3, 3))])
    with pytest.raises(ValueError, match="nrow >= 1"):
        make_grid(np.zeros((2, 1, 2, 2)), nrow=0)
    with pytest.raises(TypeError, match="expected float pixels"):
        save_image(np.zeros((2, 3, 2, 2), np.uint8), "unused.png")
