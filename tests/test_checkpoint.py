"""Checkpoint files: round trips, layout, atomic writes, and every kind of damage."""

import os
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import numconv
from numconv import checkpoint, nn
from numconv.checkpoint import CheckpointError


def _tree():
    return {
        "model": OrderedDict([("0.weight", np.arange(6, dtype=np.float32).reshape(2, 3)),
                              ("0.bias", np.array([0.5, -1.5], dtype=np.float32)),
                              ("1.num_batches_tracked", np.array(7, dtype=np.int64))]),
        "optim": {"state": {3: {"momentum_buffer": np.linspace(0, 1, 5), "step": np.float32(2.5)}},
                  "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1, 3], "nesterov": False,
                                    "foreach": None, "tiny": 1e-300, "nan": float("nan"), "big": 2**80}]},
        "rng": numconv.get_rng_state(),
        "epoch": 3,
        "history": [{"epoch": 1, "train_loss": 0.1 + 0.2}],
    }


def _assert_same(a, b, path="tree"):
    assert type(a) is type(b), f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, np.ndarray) or isinstance(a, np.generic):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b), path
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)} vs {list(b)}"
        for k in a:
            _assert_same(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{path}/{i}")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), path
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


def test_round_trip_keeps_values_types_and_keys(tmp_path):
    tree = _tree()
    checkpoint.save(tmp_path / "c.npz", tree, meta={"note": "hello"})
    loaded, meta = checkpoint.load(tmp_path / "c.npz")
    _assert_same(tree, loaded)
    assert meta == {"note": "hello"}
    assert loaded["history"][0]["train_loss"] == 0.1 + 0.2  # floats exact, not rounded to text


def test_layout_is_flat_keys_and_a_unicode_document(tmp_path):
    checkpoint.save(tmp_path / "c.npz", _tree())
    with np.load(tmp_path / "c.npz", allow_pickle=False) as npz:
        files = set(npz.files)
        meta = npz["__meta__"]
    assert {"model/0.weight", "model/0.bias", "model/1.num_batches_tracked",
            "optim/state/3/momentum_buffer", "optim/state/3/step"} | {"__meta__"} == files
    assert meta.shape == () and meta.dtype.kind == "U"


def test_object_arrays_and_unknown_types_are_refused(tmp_path):
    with pytest.raises(TypeError, match="object"):
        checkpoint.save(tmp_path / "c.npz", {"x": np.array([{}, 1], dtype=object)})
    with pytest.raises(TypeError, match="set"):
        checkpoint.save(tmp_path / "c.npz", {"x": {1, 2}})
    with pytest.raises(TypeError, match="keys"):
        checkpoint.save(tmp_path / "c.npz", {"x": {(1, 2): 3}})
    assert not os.listdir(tmp_path)


def test_colliding_paths_are_refused(tmp_path):
    with pytest.raises(ValueError, match="a/b"):
        checkpoint.save(tmp_path / "c.npz", {"a": {"b": np.zeros(1)}, "a/b": np.zeros(1)})


@pytest.mark.parametrize("cut", [0, 1, 30, 0.25, 0.5, 0.9, -22, -1])
def test_truncated_file_is_one_clear_error(tmp_path, cut):
    path = tmp_path / "c.npz"
    checkpoint.save(path, _tree())
    data = path.read_bytes()
    n = int(len(data) * cut) if isinstance(cut, float) else (cut if cut >= 0 else len(data) + cut)
    path.write_bytes(data[:n])
    with pytest.raises(CheckpointError, match=r"c\.npz"):
        checkpoint.load(path)


def test_flipped_byte_in_array_data_is_detected(tmp_path):
    path = tmp_path / "c.npz"
    weights = np.random.default_rng(0).standard_normal(1000)
    checkpoint.save(path, {"model": {"w": weights}})
    data = bytearray(path.read_bytes())
    start = bytes(data).find(weights.tobytes()[:16])
    assert start > 0
    data[start + 4000] ^= 0x10
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        checkpoint.load(path)


def test_every_single_byte_flip_is_caught_or_harmless(tmp_path):
    path = tmp_path / "c.npz"
    tree = {"model": {"w": np.arange(12, dtype=np.float32)}, "epoch": 2}
    checkpoint.save(path, tree)
    original = path.read_bytes()
    caught = 0
    for i in range(len(original)):
        damaged = bytearray(original)
        damaged[i] ^= 0xFF
        path.write_bytes(bytes(damaged))
        try:
            loaded, _ = checkpoint.load(path)
        except CheckpointError:
            caught += 1
            continue
        _assert_same(tree, loaded)  # only bytes that do not matter (timestamps, attributes) may go unnoticed
    assert caught > len(original) // 2


def test_not_a_checkpoint(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a numconv checkpoint"):
        checkpoint.load(tmp_path / "plain.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(CheckpointError, match=r"not a zip \(\.npz\) file.*b'hello'"):
        checkpoint.load(tmp_path / "text.npz")
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint.load(tmp_path / "missing.npz")


def _rewrite(path, change):
    """Rewrite the zip with ``change(name, array) -> array or None (drop)``."""
    with np.load(path, allow_pickle=False) as npz:
        entries = {k: npz[k] for k in npz.files}
    out = {}
    for k, v in entries.items():
        v = change(k, v)
        if v is not None:
            out[k] = v
    np.savez(path, **out)


def test_newer_format_version_is_refused(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, _tree())
    _rewrite(path, lambda k, v: np.array(str(v).replace('"version": 1', '"version": 99')) if k == "__meta__" else v)
    with pytest.raises(CheckpointError, match="version 99"):
        checkpoint.load(path)


def test_entries_must_match_their_description(tmp_path):
    path = tmp_path / "c.npz"
    checkpoint.save(path, _tree())
    _rewrite(path, lambda k, v: v.astype(np.float64) if k == "model/0.weight" else v)
    with pytest.raises(CheckpointError, match=r"'model/0\.weight'.*float32"):
        checkpoint.load(path)
    checkpoint.save(path, _tree())
    _rewrite(path, lambda k, v: v[:1] if k == "model/0.bias" else v)
    with pytest.raises(CheckpointError, match=r"'model/0\.bias' has shape \(1,\)"):
        checkpoint.load(path)
    checkpoint.save(path, _tree())
    _rewrite(path, lambda k, v: None if k == "optim/state/3/step" else v)
    with pytest.raises(CheckpointError, match="'optim/state/3/step' is listed but missing"):
        checkpoint.load(path)
    checkpoint.save(path, _tree())
    _rewrite(path, lambda k, v: v)
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("extra.npy", b"")
    with pytest.raises(CheckpointError, match="unexpected entry 'extra'"):
        checkpoint.load(path)


# ---------------------------------------------------------------------------- atomic writes
def test_failure_mid_write_leaves_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.npz"
    checkpoint.save(path, {"epoch": 1, "w": np.ones(3)})
    before = path.read_bytes()

    def broken_savez(f, **entries):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, {"epoch": 2, "w": np.zeros(3)})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["last.npz"]  # the temp file is gone too
    monkeypatch.undo()
    assert checkpoint.load(path)[0]["epoch"] == 1


def test_failure_at_rename_leaves_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.npz"
    checkpoint.save(path, {"epoch": 1})
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="power cut"):
        checkpoint.save(path, {"epoch": 2})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["last.npz"]


def test_write_is_fsynced_before_rename_and_directory_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.path.isdir(f"/proc/self/fd/{fd}")
                                                                  if os.path.exists("/proc/self/fd") else None)),
                                                 real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", None)), real_replace(a, b)))
    checkpoint.save(tmp_path / "c.npz", {"epoch": 1})
    kinds = [e[0] for e in events]
    assert kinds == ["fsync", "replace", "fsync"]
    if events[0][1] is not None:
        assert events[0][1] is False and events[2][1] is True  # the file, then its directory


# ---------------------------------------------------------------------------- models
def _net():
    return nn.Sequential(nn.Linear(4, 3), nn.Identity(), nn.Linear(3, 2))


def test_state_dict_helpers_round_trip(tmp_path):
    numconv.manual_seed(0)
    net = _net()
    checkpoint.save_state_dict(net, tmp_path / "w.npz")
    state = checkpoint.load_state_dict(tmp_path / "w.npz")
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    numconv.manual_seed(1)
    other = _net()
    other.load_state_dict(state)
    for (k, a), b in zip(net.state_dict().items(), other.state_dict().values()):
        assert a.dtype == b.dtype and np.array_equal(a, b), k


def test_load_checkpoint_names_first_mismatch_and_loads_nothing(tmp_path):
    net = _net()
    checkpoint.save_checkpoint(tmp_path / "c.npz", net, epoch=4, history=[{"epoch": 1}], config={"a": [1, 2]})
    wrong_shape = nn.Sequential(nn.Linear(4, 3), nn.Identity(), nn.Linear(3, 5))
    before = wrong_shape.state_dict()
    with pytest.raises(CheckpointError, match=r"has '2\.weight' of shape \(2, 3\); the model expects \(5, 3\)"):
        checkpoint.load_checkpoint(tmp_path / "c.npz", wrong_shape)
    for k, v in wrong_shape.state_dict().items():
        assert np.array_equal(v, before[k])
    with pytest.raises(CheckpointError, match=r"the model has '1\.weight' but the file does not \(the file has 0\.weight, 0\.bias, 2\.weight"):
        checkpoint.load_checkpoint(tmp_path / "c.npz", nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)))
    with pytest.raises(CheckpointError, match="'0.weight' of dtype float32; the model expects float64"):
        checkpoint.load_checkpoint(tmp_path / "c.npz", _net().double())
    ckpt = checkpoint.load_checkpoint(tmp_path / "c.npz", _net())
    assert ckpt.epoch == 4 and ckpt.history == [{"epoch": 1}] and ckpt.config == {"a": [1, 2]}
    with pytest.raises(CheckpointError, match="no optimizer state"):
        checkpoint.load_checkpoint(tmp_path / "c.npz", _net(), optimizer=object())


def test_load_checkpoint_restores_rng(tmp_path):
    numconv.manual_seed(5)
    checkpoint.save_checkpoint(tmp_path / "c.npz", _net())
    expected = numconv._random.get_generator().standard_normal(4)
    numconv.manual_seed(99)
    checkpoint.load_checkpoint(tmp_path / "c.npz", restore_rng=True)
    assert np.array_equal(numconv._random.get_generator().standard_normal(4), expected)
