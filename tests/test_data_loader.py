"""DataLoader batching, shuffling, resuming; TensorDataset, Subset, random_split, default_collate."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numconv
from numconv.data import (
    DataLoader, FashionMNISTSample, Subset, TensorDataset, default_collate, random_split, transforms as T,
)


class ListDataset:
    """A plain map-style dataset without get_batch (the per-sample path)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((1, 2, 2), i, dtype=np.float32), i


def flatten(loader):
    return np.concatenate([labels for _, labels in loader])


@given(n=st.integers(0, 40), batch_size=st.integers(1, 12), drop_last=st.booleans(), fast=st.booleans())
def test_batches_cover_the_dataset_in_order(n, batch_size, drop_last, fast):
    dataset = TensorDataset(np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1), np.arange(n)) if fast \
        else ListDataset(n)
    loader = DataLoader(dataset, batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    assert len(batches) == len(loader) == (n // batch_size if drop_last else -(-n // batch_size))
    sizes = [len(labels) for _, labels in batches]
    assert all(s == batch_size for s in sizes[:-1])
    if drop_last and batches:
        assert sizes[-1] == batch_size
    covered = len(loader) * batch_size if drop_last else n
    seen = np.concatenate([labels for _, labels in batches]) if batches else np.array([], int)
    np.testing.assert_array_equal(seen, np.arange(covered))
    for images, labels in batches:
        assert images.dtype == np.float32 and images.shape[1:] == ((1, 1, 1) if fast else (1, 2, 2))
        assert labels.dtype == np.int64
        np.testing.assert_array_equal(images.reshape(len(labels), -1)[:, 0], labels)


def test_shuffle_is_a_permutation_seeded_and_new_each_epoch():
    ds = ListDataset(50)
    a = DataLoader(ds, batch_size=7, shuffle=True, seed=3)
    b = DataLoader(ds, batch_size=7, shuffle=True, seed=3)
    epochs_a = [flatten(a) for _ in range(3)]
    epochs_b = [flatten(b) for _ in range(3)]
    for x, y in zip(epochs_a, epochs_b):
        np.testing.assert_array_equal(x, y)                  # same seed, same order, epoch by epoch
        assert sorted(x.tolist()) == list(range(50))         # every sample exactly once
    assert not np.array_equal(epochs_a[0], epochs_a[1])     # successive epochs differ
    assert not np.array_equal(epochs_a[0], np.arange(50))
    assert not np.array_equal(flatten(DataLoader(ds, 7, shuffle=True, seed=4)), epochs_a[0])
    assert a.epoch == 3


def test_unseeded_shuffle_follows_manual_seed():
    ds = ListDataset(30)
    numconv.manual_seed(5)
    first = flatten(DataLoader(ds, 4, shuffle=True))
    numconv.manual_seed(5)
    again = flatten(DataLoader(ds, 4, shuffle=True))
    np.testing.assert_array_equal(first, again)


def test_external_generator():
    gen = np.random.default_rng(9)
    order = flatten(DataLoader(ListDataset(20), 6, shuffle=True, generator=gen))
    np.testing.assert_array_equal(order, np.random.default_rng(9).permutation(20))


@pytest.mark.parametrize("stop_after", [0, 1, 3, 7])
@pytest.mark.parametrize("fast", [True, False])
def test_resume_mid_epoch_exactly(stop_after, fast):
    n = 45
    dataset = TensorDataset(np.arange(n, dtype=np.float32)[:, None], np.arange(n)) if fast else ListDataset(n)
    reference = DataLoader(dataset, batch_size=6, shuffle=True, seed=1)
    expected = [flatten(reference) for _ in range(3)]

    loader = DataLoader(dataset, batch_size=6, shuffle=True, seed=1)
    flatten(loader)                                   # epoch 0 complete
    it = iter(loader)
    got = [next(it)[1] for _ in range(stop_after)]    # part of epoch 1
    state = json.loads(json.dumps(loader.state_dict()))  # survives JSON
    assert state["epoch"] == 1 and state["batches_done"] == stop_after

    resumed = DataLoader(dataset, batch_size=6, shuffle=True, seed=12345)  # the seed is overridden
    resumed.load_state_dict(state)
    rest = flatten(resumed)
    np.testing.assert_array_equal(np.concatenate(got + [rest]), expected[1])
    np.testing.assert_array_equal(flatten(resumed), expected[2])
    assert resumed.epoch == 3


def test_state_between_epochs_and_after_last_batch():
    ds = ListDataset(12)
    loader = DataLoader(ds, batch_size=4, shuffle=True, seed=0)
    ref = DataLoader(ds, 4, shuffle=True, seed=0)
    expected = [flatten(ref), flatten(ref)]
    it = iter(loader)
    for _ in range(3):
        next(it)  # every batch taken, but the iterator has not seen StopIteration yet
    state = loader.state_dict()
    assert state["epoch"] == 1 and state["batches_done"] == 0
    fresh = DataLoader(ds, 4, shuffle=True)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(flatten(fresh), expected[1])


def test_state_dict_through_npz(tmp_path):
    loader = DataLoader(ListDataset(10), 3, shuffle=True, seed=2)
    it = iter(loader)
    next(it)
    np.savez(tmp_path / "s.npz", **loader.state_dict())
    with np.load(tmp_path / "s.npz", allow_pickle=False) as f:
        state = {k: f[k] for k in f.files}
    other = DataLoader(ListDataset(10), 3, shuffle=True)
    other.load_state_dict(state)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in it]), flatten(other))


def test_unshuffled_resume_and_bad_states():
    loader = DataLoader(ListDataset(10), 3)
    it = iter(loader)
    next(it)
    state = loader.state_dict()
    assert state == {"epoch": 0, "batches_done": 1, "generator": None}
    other = DataLoader(ListDataset(10), 3)
    other.load_state_dict(state)
    assert flatten(other).tolist() == list(range(3, 10))
    with pytest.raises(ValueError, match=r"missing keys \['generator'\]"):
        other.load_state_dict({"epoch": 0, "batches_done": 0})
    with pytest.raises(ValueError, match="batches_done=9 but an epoch has 4 batches"):
        other.load_state_dict({"epoch": 0, "batches_done": 9, "generator": None})
    with pytest.raises(ValueError, match="not a generator state"):
        other.load_state_dict({"epoch": 0, "batches_done": 0, "generator": '{"bit_generator": "Nope"}'})
    # A state read from a file names a bit generator; any other np.random function is refused, not called.
    with pytest.raises(ValueError, match="not a generator state.*unknown bit generator 'seed'"):
        other.load_state_dict({"epoch": 0, "batches_done": 0, "generator": '{"bit_generator": "seed"}'})


def test_loader_argument_errors():
    with pytest.raises(ValueError, match="batch_size >= 1, got 0"):
        DataLoader(ListDataset(3), batch_size=0)
    with pytest.raises(TypeError, match="batch_size to be an int"):
        DataLoader(ListDataset(3), batch_size=2.0)
    with pytest.raises(ValueError, match="either seed or generator"):
        DataLoader(ListDataset(3), seed=1, generator=np.random.default_rng())
    with pytest.raises(TypeError, match="shuffle to be True or False"):
        DataLoader(ListDataset(3), shuffle="yes")
    with pytest.raises(TypeError, match="dataset with __len__ and __getitem__"):
        DataLoader(42)


def test_fast_path_equals_per_sample_path():
    sample = FashionMNISTSample(train=False, transform=T.Compose([T.ToFloat(), T.Pad(2), T.Normalize(0.3, 0.3)]))
    fast = list(DataLoader(sample, batch_size=256, shuffle=True, seed=4))
    slow = list(DataLoader(sample, batch_size=256, shuffle=True, seed=4, collate_fn=default_collate))
    assert len(fast) == len(slow) == 8
    for (xf, yf), (xs, ys) in zip(fast, slow):
        assert xf.shape == xs.shape and xf.dtype == xs.dtype == np.float32 and yf.dtype == ys.dtype == np.int64
        np.testing.assert_array_equal(xf, xs)
        np.testing.assert_array_equal(yf, ys)
    assert fast[0][0].shape == (256, 1, 32, 32)


def test_an_epoch_of_60000_images_is_vectorised(monkeypatch):
    """An epoch is gathered batch by batch (one get_batch call each), never image by image."""
    images = np.random.default_rng(0).integers(0, 256, (60000, 28, 28), dtype=np.uint8)
    sample = FashionMNISTSample(transform=T.Compose([T.ToFloat(), T.Pad(2), T.Normalize(0.3, 0.3)]))
    sample.data, sample.targets = images, np.arange(60000, dtype=np.int64)
    batch_sizes = []
    real_get_batch = type(sample).get_batch

    def counting_get_batch(self, indices):
        batch_sizes.append(len(indices))
        return real_get_batch(self, indices)

    def no_single_items(self, index):
        raise AssertionError("the loader fetched a single image")

    monkeypatch.setattr(type(sample), "get_batch", counting_get_batch)
    monkeypatch.setattr(type(sample), "__getitem__", no_single_items)
    labels = np.concatenate([y for _, y in DataLoader(sample, batch_size=64, shuffle=True, seed=0)])
    assert batch_sizes == [64] * 937 + [32]
    assert sorted(labels.tolist()) == list(range(60000))  # every image exactly once


def test_tensor_dataset_subset_random_split():
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 3
    ds = TensorDataset(x, y)
    assert len(ds) == 10 and ds[-1][0].tolist() == [18.0, 19.0] and ds[4][1] == 1
    with pytest.raises(ValueError, match=r"same first size, got shapes \(10, 2\), \(9,\)"):
        TensorDataset(x, y[:9])

    sub = Subset(ds, [7, 2, 2])
    assert len(sub) == 3 and sub[0][0].tolist() == [14.0, 15.0]
    np.testing.assert_array_equal(sub.get_batch([0, 2])[0], x[[7, 2]])
    assert not hasattr(Subset(ListDataset(5), [1]), "get_batch")
    with pytest.raises(IndexError, match="out of range"):
        Subset(ds, [10])

    parts = random_split(ds, [6, 4], generator=np.random.default_rng(0))
    indices = np.concatenate([p.indices for p in parts])
    assert [len(p) for p in parts] == [6, 4] and sorted(indices.tolist()) == list(range(10))
    assert [len(p) for p in random_split(ds, [0.5, 0.3, 0.2])] == [5, 3, 2]
    assert [len(p) for p in random_split(TensorDataset(np.zeros(7)), [0.5, 0.5])] == [4, 3]
    with pytest.raises(ValueError, match=r"lengths \[6, 3\] sum to 9, but the dataset has 10 samples"):
        random_split(ds, [6, 3])


def test_default_collate():
    batch = default_collate([(np.zeros((1, 2)), 3, 0.5), (np.ones((1, 2)), 4, 1.5)])
    assert batch[0].shape == (2, 1, 2) and batch[1].dtype == np.int64 and batch[2].dtype == np.float64
    assert default_collate([{"a": 1}, {"a": 2}])["a"].tolist() == [1, 2]
    assert default_collate([np.uint8(1), np.uint8(2)]).dtype == np.uint8
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])
