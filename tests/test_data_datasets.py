"""MNIST / Fashion-MNIST file search and loading, and the bundled sample."""

import os
from pathlib import Path

import numpy as np
import pytest

from numconv.data import (
    MNIST, DatasetNotFoundError, FashionMNIST, FashionMNISTSample, IDXFormatError, ImageDataset, get_dataset,
    search_dirs, transforms as T, write_idx,
)
from numconv.data import datasets

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $NUMCONV_DATA, a private cache dir and a private 'system' dir."""
    monkeypatch.delenv("NUMCONV_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "SYSTEM_DATA_DIRS", (str(tmp_path / "system"),))
    return tmp_path


def make_split(directory, prefix="train", n=10, label=3, gz=True, image_shape=(28, 28), n_labels=None):
    """Write a tiny IDX split whose labels are all ``label`` (so a test can tell sources apart)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    rng = np.random.default_rng(label)
    images = rng.integers(0, 256, size=(n, *image_shape), dtype=np.uint8)
    write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", images)
    write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", np.full(n if n_labels is None else n_labels,
                                                                         label, dtype=np.uint8))
    return images


# ----------------------------------------------------------------------------------------------- search order

def test_search_order(isolated, monkeypatch):
    root, env = isolated / "root", isolated / "env"
    monkeypatch.setenv("NUMCONV_DATA", str(env))
    make_split(root, label=1)
    make_split(env / "mnist", label=2)
    make_split(isolated / "cache" / "numconv" / "mnist", label=3)
    make_split(isolated / "system" / "mnist", label=4)

    assert set(MNIST(root=root).targets) == {1}
    assert set(MNIST().targets) == {2}
    assert set(MNIST(root=isolated / "empty").targets) == {2}   # an empty root falls through
    for directory, expected in [(env / "mnist", 3), (isolated / "cache" / "numconv" / "mnist", 4)]:
        for f in directory.iterdir():
            f.unlink()
        ds = MNIST()
        assert set(ds.targets) == {expected}
    assert ds.path == isolated / "system" / "mnist"


def test_search_dirs_listing(isolated, monkeypatch):
    monkeypatch.setenv("NUMCONV_DATA", str(isolated / "env"))
    dirs = search_dirs("fashion-mnist", root=isolated / "r", class_name="FashionMNIST")
    assert dirs == [
        isolated / "r", isolated / "r" / "fashion-mnist", isolated / "r" / "FashionMNIST" / "raw",
        isolated / "env", isolated / "env" / "fashion-mnist",
        isolated / "cache" / "numconv" / "fashion-mnist", isolated / "system" / "fashion-mnist",
    ]


def test_default_cache_is_home_dot_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert datasets.cache_dir("mnist") == tmp_path / ".cache" / "numconv" / "mnist"


def test_env_dir_itself_and_torchvision_layout(isolated, monkeypatch):
    monkeypatch.setenv("NUMCONV_DATA", str(isolated / "env"))
    make_split(isolated / "env", prefix="t10k", label=5, gz=False)  # raw (un-gzipped) files work too
    assert set(MNIST(train=False).targets) == {5}
    make_split(isolated / "tv" / "FashionMNIST" / "raw", label=6)
    assert set(FashionMNIST(root=isolated / "tv").targets) == {6}


def test_each_split_is_found_on_its_own(isolated):
    make_split(isolated / "root", prefix="train", label=1)
    make_split(isolated / "system" / "mnist", prefix="t10k", label=2)
    assert set(MNIST(root=isolated / "root", train=True).targets) == {1}
    assert set(MNIST(root=isolated / "root", train=False).targets) == {2}


def test_not_found_message_lists_places_and_remedies(isolated):
    with pytest.raises(DatasetNotFoundError) as info:
        FashionMNIST(root=isolated / "mine", train=False)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    for place in search_dirs("fashion-mnist", isolated / "mine", "FashionMNIST"):
        assert str(place) in message
    assert info.value.searched == search_dirs("fashion-mnist", isolated / "mine", "FashionMNIST")
    for hint in ["t10k-images-idx3-ubyte[.gz]", "download=True", "apt-get install dataset-fashion-mnist",
                 "--data-dir", "$NUMCONV_DATA is not set"]:
        assert hint in message
    assert "\n" not in message  # one line, for the command line
    with pytest.raises(DatasetNotFoundError) as info:
        MNIST()
    assert "apt-get" not in str(info.value)  # Debian packages only Fashion-MNIST


# -------------------------------------------------------------------------------------------- damaged data

def test_label_count_must_match_image_count(isolated):
    make_split(isolated / "r", n=10, n_labels=9)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz' holds 10 images but .*holds 9 labels"):
        MNIST(root=isolated / "r")


def test_wrong_image_size_or_rank(isolated):
    make_split(isolated / "a", image_shape=(20, 20))
    with pytest.raises(ValueError, match=r"expected uint8 images of shape \(N, 28, 28\).*\(10, 20, 20\)"):
        MNIST(root=isolated / "a")
    make_split(isolated / "b")
    write_idx(isolated / "b" / "train-images-idx3-ubyte.gz", np.zeros((10, 784), np.uint8))
    with pytest.raises(IDXFormatError, match=r"expected a 3-D IDX file, got a 2-D one"):
        MNIST(root=isolated / "b")


def test_labels_out_of_range(isolated):
    make_split(isolated / "r", label=12)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\], got values from 12 to 12"):
        MNIST(root=isolated / "r")


def test_truncated_file_is_reported(isolated):
    make_split(isolated / "r", gz=False)
    path = isolated / "r" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(IDXFormatError, match="truncated"):
        MNIST(root=isolated / "r")


# -------------------------------------------------------------------------------------------- the dataset API

def test_items_batches_and_transforms(isolated):
    images = make_split(isolated / "r", n=6, label=7)
    ds = MNIST(root=isolated / "r")
    assert len(ds) == 6 and ds.data.dtype == np.uint8 and ds.targets.dtype == np.int64
    image, label = ds[-1]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32 and label == 7 and type(label) is int
    np.testing.assert_array_equal(image[0] * 255, images[5].astype(np.float32))
    assert ds.classes[7] == "7 - seven" and ds.class_to_idx["7 - seven"] == 7

    ds.transform = T.Compose([T.ToFloat(), T.Pad(2), T.Normalize(0.5, 0.5)])
    batch, labels = ds.get_batch([4, 0, 4])
    assert batch.shape == (3, 1, 32, 32) and labels.tolist() == [7, 7, 7] and labels.dtype == np.int64
    np.testing.assert_array_equal(batch, np.stack([ds[4][0], ds[0][0], ds[4][0]]))

    seen = []
    ds.transform = lambda x: (seen.append(x.shape), x.astype(np.float64))[1]  # a plain callable: per image
    ds.target_transform = lambda y: y + 100
    batch, labels = ds.get_batch(np.array([1, 2]))
    assert seen == [(1, 28, 28)] * 2 and batch.dtype == np.float64 and labels.tolist() == [107, 107]

    with pytest.raises(IndexError, match="index 6 is out of range for a dataset of 6 samples"):
        ds[6]
    with pytest.raises(TypeError, match="integer index"):
        ds[1.0]
    assert "Number of datapoints: 6" in repr(ds) and "Split: Train" in repr(ds)


def test_image_dataset_checks_its_arrays():
    with pytest.raises(ValueError, match=r"uint8 and shape \(N, H, W\), got float64 \(2, 3\)"):
        ImageDataset(np.zeros((2, 3)), [0, 1])
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        ImageDataset(np.zeros((3, 4, 4), np.uint8), [0, 1])


def test_get_dataset_by_name(isolated):
    make_split(isolated / "r", prefix="t10k", label=2)
    assert set(get_dataset("mnist", train=False, root=isolated / "r").targets) == {2}
    assert isinstance(get_dataset("sample", train=False), FashionMNISTSample)
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        get_dataset("cifar")


# ---------------------------------------------------------------------------------------------- the sample

@pytest.mark.parametrize("train, size", [(True, 6000), (False, 2000)])
def test_sample_sizes_balance_and_default_transform(train, size):
    ds = FashionMNISTSample(train=train)
    assert len(ds) == size and ds.data.shape == (size, 28, 28) and ds.data.dtype == np.uint8
    assert ds.targets.dtype == np.int64
    assert np.bincount(ds.targets, minlength=10).tolist() == [size // 10] * 10
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    image, label = ds[0]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32 and 0 <= image.min() <= image.max() <= 1
    assert 0.2 < ds.data.mean() / 255 < 0.4  # Fashion-MNIST's mean intensity is about 0.29
    assert np.all(np.diff(ds.source_index) > 0)  # distinct images, kept in official order
    assert len(np.unique(ds.data.reshape(size, -1), axis=0)) > 0.99 * size


def test_sample_test_split_comes_from_the_official_test_set():
    train, test = FashionMNISTSample(train=True), FashionMNISTSample(train=False)
    assert test.source_index.max() < 10000
    assert train.source_index.max() >= 10000  # the training split spans the 60,000 official images


def _copy_sample(tmp_path, **changes):
    with np.load(datasets.SAMPLE_PATH) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays.update(changes)
    path = tmp_path / "sample.npz"
    np.savez(path, **arrays)  # uncompressed: quicker, and the loader reads both kinds
    return path, arrays


def test_sample_integrity_is_checked(tmp_path, monkeypatch):
    path, arrays = _copy_sample(tmp_path)
    monkeypatch.setattr(datasets, "SAMPLE_PATH", path)
    assert len(FashionMNISTSample()) == 6000  # an exact copy passes

    images = arrays["train_images"].copy()
    images[17, 3, 4] ^= 1
    path, _ = _copy_sample(tmp_path, train_images=images)
    with pytest.raises(ValueError, match=r"do not match their checksum \(expected SHA-256 4eda5e"):
        FashionMNISTSample()
    assert len(FashionMNISTSample(train=False)) == 2000  # the other split is intact

    _copy_sample(tmp_path, test_labels=arrays["test_labels"][:-1])
    with pytest.raises(ValueError, match=r"'test_labels' should be uint8 \(2000,\), got uint8 \(1999,\)"):
        FashionMNISTSample(train=False)

    _copy_sample(tmp_path, train_labels=np.array([object()] * 6000))
    with pytest.raises(ValueError, match="unreadable.*allow_pickle"):
        FashionMNISTSample()

    monkeypatch.setattr(datasets, "SAMPLE_PATH", tmp_path / "gone.npz")
    with pytest.raises(FileNotFoundError, match="bundled sample is missing"):
        FashionMNISTSample()


@pytest.mark.parametrize("damage", ["truncated", "zeros", "empty", "flipped byte"])
def test_damaged_sample_file_is_one_clear_error(tmp_path, monkeypatch, damage):
    data = datasets.SAMPLE_PATH.read_bytes()
    where = data.find(b"train_images.npy") + 4096  # inside the compressed training images
    damaged = {"truncated": data[: len(data) // 2], "zeros": bytes(len(data)), "empty": b"",
               "flipped byte": data[:where] + bytes([data[where] ^ 0x40]) + data[where + 1:]}[damage]
    path = tmp_path / "sample.npz"
    path.write_bytes(damaged)
    monkeypatch.setattr(datasets, "SAMPLE_PATH", path)
    with pytest.raises(ValueError, match=r"bundled sample .*sample\.npz is unreadable \(\w+: .*\); reinstall numconv") \
            as info:
        FashionMNISTSample(train=True)
    assert "\n" not in str(info.value) and info.value.__cause__ is None


def test_images_of_the_wrong_dtype_are_refused(isolated):
    make_split(isolated / "r")
    write_idx(isolated / "r" / "train-images-idx3-ubyte.gz", np.zeros((10, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"expected uint8 images of shape \(N, 28, 28\).*got float32 \(10, 28, 28\)"):
        MNIST(root=isolated / "r")
    make_split(isolated / "s")
    write_idx(isolated / "s" / "train-labels-idx1-ubyte.gz", np.zeros(10, np.int32))
    with pytest.raises(ValueError, match=r"expected uint8 labels in .*got int32"):
        MNIST(root=isolated / "s")


@pytest.mark.skipif(not (DEBIAN_DIR / "t10k-labels-idx1-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist package is not installed")
def test_make_sample_script_reproduces_the_bundled_sample(tmp_path):
    """scripts/make_sample.py, run on the official files, rebuilds exactly the arrays numconv ships."""
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "scripts" / "make_sample.py"
    spec = importlib.util.spec_from_file_location("make_sample", script)
    make_sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_sample)
    arrays = make_sample.build(DEBIAN_DIR, make_sample.SEED)
    assert make_sample.split_hashes(arrays) == datasets.SAMPLE_SHA256
    for split in ("train", "test"):
        bundled = datasets.load_sample_arrays(split)
        for key, value in bundled.items():
            assert value.dtype == arrays[f"{split}_{key}"].dtype
            np.testing.assert_array_equal(value, arrays[f"{split}_{key}"])


@pytest.mark.skipif(not (DEBIAN_DIR / "t10k-labels-idx1-ubyte.gz").exists(),
                    reason="Debian's dataset-fashion-mnist package is not installed")
def test_real_fashion_mnist_from_debian_package_matches_sample(monkeypatch):
    monkeypatch.delenv("NUMCONV_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/nonexistent-numconv-test-cache")
    train, test = FashionMNIST(train=True), FashionMNIST(train=False)
    assert train.path == DEBIAN_DIR
    assert train.data.shape == (60000, 28, 28) and test.data.shape == (10000, 28, 28)
    assert np.bincount(train.targets).tolist() == [6000] * 10
    assert np.bincount(test.targets).tolist() == [1000] * 10
    for full, sample in [(train, FashionMNISTSample(train=True)), (test, FashionMNISTSample(train=False))]:
        np.testing.assert_array_equal(full.data[sample.source_index], sample.data)
        np.testing.assert_array_equal(full.targets[sample.source_index], sample.targets)


def test_package_data_is_declared():
    text = (Path(datasets.__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"data/sample/*"' in text
    for name in ["fashion_mnist_sample.npz", "LICENSE", "NOTICE"]:
        assert (datasets.SAMPLE_PATH.parent / name).is_file()
    assert "Zalando SE" in (datasets.SAMPLE_PATH.parent / "LICENSE").read_text()
    assert os.path.getsize(datasets.SAMPLE_PATH) < 5e6


def test_a_damaged_file_is_not_answered_with_download(isolated):
    # --download never re-fetches a file it finds, so for a damaged one the hint says to replace it.
    from numconv.commands._shared import CLIError, load_dataset

    make_split(isolated / "r", n=10, n_labels=9)
    with pytest.raises(CLIError, match=r"holds 10 images but .* \(the file is damaged or not what it should be: "
                                       r"delete or replace it\)$"):
        load_dataset("mnist", True, None, data_dir=str(isolated / "r"))
