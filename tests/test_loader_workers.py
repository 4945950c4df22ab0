"""DataLoader(num_workers=N): same batches in the same order, errors and early exits handled, threads ended."""

import threading
import time
import traceback

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numconv
from numconv.data import DataLoader, FashionMNISTSample, TensorDataset, transforms as T


class SlowList:
    """A per-sample dataset whose samples take uneven times (so threads finish out of order)."""

    def __init__(self, n, fail_at=None):
        self.n, self.fail_at = n, fail_at

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.fail_at:
            raise KeyError(f"sample {i} is broken")
        time.sleep(0.002 * ((i * 7) % 3))
        return np.full((1, 2, 2), i, dtype=np.float32), i


def loader_threads():
    return [t for t in threading.enumerate() if t.name.startswith("numconv-loader")]


def same_batches(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            assert u.dtype == v.dtype
            np.testing.assert_array_equal(u, v)


@settings(max_examples=15)
@given(n=st.integers(0, 30), batch_size=st.integers(1, 7), workers=st.integers(1, 3), shuffle=st.booleans(),
       drop_last=st.booleans(), prefetch=st.integers(1, 3))
def test_workers_give_the_same_batches_in_the_same_order(n, batch_size, workers, shuffle, drop_last, prefetch):
    dataset = SlowList(n)
    options = dict(batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=5)
    serial = DataLoader(dataset, **options)
    threaded = DataLoader(dataset, num_workers=workers, prefetch_factor=prefetch, **options)
    for _ in range(2):  # two epochs: the permutations follow each other the same way
        same_batches(list(serial), list(threaded))
    assert not loader_threads()


def test_fast_path_bit_identical_with_transforms():
    dataset = FashionMNISTSample(train=True, transform=T.Compose([T.ToFloat(), T.Pad(2), T.Normalize(0.3, 0.3)]))
    same_batches(list(DataLoader(dataset, 100, shuffle=True, seed=1)),
                 list(DataLoader(dataset, 100, shuffle=True, seed=1, num_workers=2, pin_memory=True)))


def test_random_transforms_repeatable_whatever_the_worker_count():
    dataset = FashionMNISTSample(train=True, transform=T.Compose([T.ToFloat(), T.RandomCrop(28, padding=3)]))
    runs = []
    for workers in (1, 2, 3):
        numconv.manual_seed(7)
        runs.append(list(DataLoader(dataset, 128, num_workers=workers)))
    same_batches(runs[0], runs[1])
    same_batches(runs[0], runs[2])
    numconv.manual_seed(8)
    other = list(DataLoader(dataset, 128, num_workers=2))
    assert not np.array_equal(other[0][0], runs[0][0][0])  # the seed matters


def test_resume_mid_epoch_with_workers_and_random_transforms():
    dataset = FashionMNISTSample(train=True, transform=T.Compose([T.ToFloat(), T.RandomHorizontalFlip()]))
    numconv.manual_seed(3)
    loader = DataLoader(dataset, 200, shuffle=True, seed=2, num_workers=2)
    full = list(loader)
    numconv.manual_seed(3)
    first = DataLoader(dataset, 200, shuffle=True, seed=2, num_workers=2)
    iterator = iter(first)
    head = [next(iterator) for _ in range(3)]
    state = first.state_dict()
    iterator.close()
    resumed = DataLoader(dataset, 200, shuffle=True, seed=99, num_workers=2)
    resumed.load_state_dict(state)
    same_batches(full, head + list(resumed))


def test_worker_error_is_reraised_with_its_traceback():
    loader = DataLoader(SlowList(20, fail_at=9), batch_size=4, num_workers=2)
    seen = []
    with pytest.raises(KeyError, match="sample 9 is broken") as info:
        for _, labels in loader:
            seen.append(labels)
    assert len(seen) == 2  # the batches before the broken one were delivered, in order
    frames = "".join(traceback.format_tb(info.value.__traceback__))
    assert "__getitem__" in frames  # the worker's own frames
    assert "loading batch 2" in "".join(getattr(info.value, "__notes__", ["loading batch 2"]))
    assert not loader_threads()


def test_early_exit_and_close_end_the_threads():
    loader = DataLoader(SlowList(40), batch_size=2, num_workers=2)
    for i, _ in enumerate(loader):
        if i == 1:
            break
    iterator = iter(loader)
    next(iterator)
    iterator.close()  # what a KeyboardInterrupt in the loop body does to the generator
    deadline = time.time() + 5
    while loader_threads() and time.time() < deadline:
        time.sleep(0.01)
    assert not loader_threads()


def test_keyboard_interrupt_in_the_loop_cleans_up():
    loader = DataLoader(SlowList(40), batch_size=2, num_workers=2)
    with pytest.raises(KeyboardInterrupt):
        for i, _ in enumerate(loader):
            if i == 2:
                raise KeyboardInterrupt
    assert not loader_threads()


def test_persistent_workers_survive_epochs_until_close():
    loader = DataLoader(TensorDataset(np.arange(10.0), np.arange(10)), batch_size=3, num_workers=2,
                        persistent_workers=True)
    first = list(loader)
    pool = loader._pool
    assert pool is not None
    same_batches(first, list(loader))
    assert loader._pool is pool  # the same threads served the second epoch
    loader.close()
    assert loader._pool is None


def test_bad_worker_options():
    ds = TensorDataset(np.zeros(4))
    with pytest.raises(ValueError, match="num_workers >= 0"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="persistent_workers=True needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="prefetch_factor=2 only applies with num_workers > 0"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(TypeError, match="pin_memory to be True or False"):
        DataLoader(ds, pin_memory="yes")
    with pytest.raises(ValueError, match="prefetch_factor >= 1"):
        DataLoader(ds, num_workers=1, prefetch_factor=0)
