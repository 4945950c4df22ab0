"""Safe files: no pickle anywhere, one clear error for every kind of bad checkpoint, nothing half-loaded.

Each bad input must give one ``CheckpointError`` (a ValueError) whose
message is a single line naming the file, with no numpy/zipfile exception
chained on, and must never run code: the pickle tests below craft payloads
that create a file when unpickled and check that the file never appears.
"""

import io
import os
import pickle
import re
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import numconv
from numconv import checkpoint, cli, nn, optim
from numconv.checkpoint import CheckpointError

PACKAGE = Path(numconv.__file__).resolve().parent


class CreatesFile:
    """Unpickling this creates ``path``: a stand-in for any code a pickle could run."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _net():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 3))


def _good_checkpoint(path):
    numconv.manual_seed(0)
    net = _net()
    checkpoint.save_checkpoint(path, net, optim.SGD(net.parameters(), lr=0.1, momentum=0.9), epoch=1)
    return path


def _entries(path):
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def _write_npz(path, entries):
    """An .npz with ``entries``, written by numpy itself (object arrays pickled, as np.savez does)."""
    np.savez(path, **entries)
    return path


# ---------------------------------------------------------------------------- no pickle, anywhere
def test_the_package_never_loads_with_pickle_enabled():
    """Every np.load in the package passes allow_pickle=False; nothing imports pickle or calls torch.load."""
    offenders, calls = [], 0
    for source in PACKAGE.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        for call in re.finditer(r"np\.load\(([^()]*(?:\([^()]*\)[^()]*)*)\)", text):
            calls += 1
            if "allow_pickle=False" not in call.group(1):
                offenders.append(f"{source.relative_to(PACKAGE)}: {call.group(0)}")
        for pattern in (r"^\s*import pickle", r"^\s*from pickle", r"torch\.load\(", r"allow_pickle=True"):
            if re.search(pattern, text, re.MULTILINE):
                offenders.append(f"{source.relative_to(PACKAGE)}: {pattern}")
    assert not offenders, offenders
    assert calls >= 2  # the checkpoint reader and the sample reader were found (the search works)


def _crafted_payloads(tmp_path, marker):
    """Checkpoints carrying a live pickle in three places: a listed entry, __meta__, an extra entry."""
    evil = np.array([CreatesFile(marker)], dtype=object)
    good = _entries(_good_checkpoint(tmp_path / "good.npz"))
    in_entry = _write_npz(tmp_path / "in_entry.npz", {**good, "model/0.weight": evil})
    in_meta = _write_npz(tmp_path / "in_meta.npz", {**good, "__meta__": evil})
    extra = _write_npz(tmp_path / "extra.npz", {**good, "payload": evil})
    return {"a listed entry": (in_entry, "model/0.weight"), "__meta__": (in_meta, "__meta__"),
            "an extra entry": (extra, "payload")}


def test_a_pickled_object_array_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    payloads = _crafted_payloads(tmp_path, marker)
    messages = {}
    for where, (path, _) in payloads.items():
        with pytest.raises(CheckpointError) as info:
            checkpoint.load(path)
        messages[where] = str(info.value)
        with pytest.raises(CheckpointError):
            checkpoint.load_checkpoint(path, _net())
        assert cli.main(["eval", str(path)]) == 2
        assert not marker.exists(), f"loading a checkpoint with a pickle in {where} ran its code"
    assert "'model/0.weight' holds Python objects (a pickle); numconv never unpickles" in messages["a listed entry"]
    assert "'__meta__' holds Python objects" in messages["__meta__"]
    assert "unexpected entry 'payload'" in messages["an extra entry"]

    # The payloads are live: numpy with pickles allowed does run them. So the test above can fail.
    for _, (path, key) in payloads.items():
        with np.load(path, allow_pickle=True) as npz:
            npz[key]
        assert marker.exists()
        marker.unlink()


def test_a_pickle_file_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"state_dict": CreatesFile(marker)}, protocol=4))
    with pytest.raises(CheckpointError, match=r"model\.pt' is a Python pickle.*never unpickles"):
        checkpoint.load(path)
    with pytest.raises(CheckpointError):
        checkpoint.load_state_dict(path)
    assert not marker.exists()
    pickle.loads(path.read_bytes())
    assert marker.exists()  # the payload is live


def test_the_sample_and_idx_readers_do_not_unpickle(tmp_path, monkeypatch):
    from numconv.data import IDXFormatError, datasets, read_idx

    marker = tmp_path / "pwned"
    evil = np.array([CreatesFile(marker)] * 6000, dtype=object)
    with np.load(datasets.SAMPLE_PATH, allow_pickle=False) as npz:
        entries = {key: npz[key] for key in npz.files}
    monkeypatch.setattr(datasets, "SAMPLE_PATH", _write_npz(tmp_path / "sample.npz", {**entries, "train_labels": evil}))
    with pytest.raises(ValueError, match="unreadable"):
        datasets.FashionMNISTSample(train=True)
    (tmp_path / "evil.idx").write_bytes(pickle.dumps(CreatesFile(marker)))
    with pytest.raises(IDXFormatError, match="not an IDX file"):
        read_idx(tmp_path / "evil.idx")
    assert not marker.exists()


# ---------------------------------------------------------------------------- every kind of bad file
def _bad_files(tmp_path):
    """name -> (file, regex the message must match). Each is a distinct way a file can be wrong."""
    good = _good_checkpoint(tmp_path / "good.npz")
    data, entries = good.read_bytes(), _entries(good)
    files = {}

    def add(name, content, pattern):
        path = tmp_path / f"{name.replace(' ', '_')}.npz"
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, dict):
            _write_npz(path, content)
        files[name] = (path, pattern)

    add("empty", b"", r"is empty \(0 bytes\)")
    add("zeros", bytes(len(data)), r"starts with zero bytes, not a zip \(\.npz\) header")
    add("text", b"epoch 3, loss 0.25\n", r"is not a zip \(\.npz\) file.*b'epoch 3,'")
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    add("npy", buffer.getvalue(), r"is a single \.npy array, not a numconv checkpoint")
    add("pickle", pickle.dumps({"w": [1.0, 2.0]}), r"is a Python pickle")
    for fraction in (0.1, 0.5, 0.99):
        add(f"truncated {fraction}", data[: int(len(data) * fraction)], r"is truncated or corrupt")
    add("truncated by one byte", data[:-1], r"is truncated or corrupt")
    where = data.find(entries["model/3.weight"].tobytes()) + 8
    add("flipped byte", data[:where] + bytes([data[where] ^ 0x01]) + data[where + 1:],
        r"truncated or corrupt and cannot be read \(BadZipFile: Bad CRC-32 for file .model/3\.weight")
    add("plain npz", {"weight": np.zeros(3)}, r"is not a numconv checkpoint \(no '__meta__' entry\)$")
    add("no metadata", {k: v for k, v in entries.items() if k != "__meta__"}, r"no '__meta__' entry")
    add("torch-like zip", b"", "")
    with zipfile.ZipFile(files["torch-like zip"][0], "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({}))
        z.writestr("archive/version", "3\n")
    files["torch-like zip"] = (files["torch-like zip"][0], r"no '__meta__' entry\); it looks like a PyTorch file")
    add("metadata not text", {**entries, "__meta__": np.zeros(2)}, r"'__meta__' is not text")
    add("metadata not json", {**entries, "__meta__": np.array("{not json")},
        r"is corrupt: its description \('__meta__'\) is not valid JSON")
    other = str(entries["__meta__"][()]).replace('"format": "numconv-checkpoint"', '"format": "other"')
    add("other format", {**entries, "__meta__": np.array(other)}, r"not a numconv checkpoint \(format 'other'\)")
    newer = str(entries["__meta__"][()]).replace('"version": 1', '"version": 2')
    add("newer version", {**entries, "__meta__": np.array(newer)}, r"format version 2; .*upgrade numconv")
    add("object array", {**entries, "model/0.bias": np.array([None, 1], dtype=object)}, r"holds Python objects")
    add("wrong dtype", {**entries, "model/0.bias": entries["model/0.bias"].astype(np.float64)},
        r"entry 'model/0\.bias' has shape \(2,\) and dtype float64, but the file's description says \(2,\) and float32")
    add("wrong shape", {**entries, "model/3.weight": entries["model/3.weight"][:1]},
        r"entry 'model/3\.weight' has shape \(1, 8\)")
    add("missing entry", {k: v for k, v in entries.items() if k != "model/1.running_var"},
        r"'model/1\.running_var' is listed but missing")
    add("extra entry", {**entries, "notes": np.zeros(1)}, r"unexpected entry 'notes'")
    os.mkdir(tmp_path / "a_directory.npz")
    files["directory"] = (tmp_path / "a_directory.npz", r"is a directory, not a file")
    files["missing"] = (tmp_path / "missing.npz", r"does not exist")
    return files


def test_every_bad_file_gives_one_clear_line(tmp_path, capsys):
    files = _bad_files(tmp_path)
    assert len(files) == 24
    for name, (path, pattern) in files.items():
        for load in (checkpoint.load, checkpoint.load_state_dict, lambda p: checkpoint.load_checkpoint(p, _net())):
            with pytest.raises(CheckpointError) as info:
                load(path)
            message = str(info.value)
            assert re.search(pattern, message), f"{name}: {message}"
            assert "\n" not in message and str(path) in message, f"{name}: {message}"
            error = info.value  # no numpy / zipfile traceback chained on
            assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__), name
        capsys.readouterr()
        assert cli.main(["eval", str(path)]) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err and err.startswith("numconv eval: error: "), err


def test_the_good_file_behind_the_bad_ones_loads(tmp_path):
    """The damaged files above are damaged copies of a checkpoint that itself loads."""
    ckpt = checkpoint.load_checkpoint(_good_checkpoint(tmp_path / "good.npz"), _net())
    assert ckpt.epoch == 1 and ckpt.optim is not None


# ---------------------------------------------------------------------------- the file fits the model
def test_the_first_mismatch_is_named(tmp_path):
    path = tmp_path / "c.npz"
    numconv.manual_seed(0)
    checkpoint.save_state_dict(nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 4, 3)), path)
    cases = [
        (nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.Conv2d(6, 4, 5)),
         r"has '0\.weight' of shape \(6, 1, 3, 3\); the model expects \(6, 1, 5, 5\)$"),
        (nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 8, 3)),
         r"has '2\.weight' of shape \(4, 6, 3, 3\); the model expects \(8, 6, 3, 3\)$"),
        (nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 4, 3, bias=False)),
         r"has '2\.bias', which the model does not have$"),
        (nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 4, 3), nn.BatchNorm2d(4)),
         r"the model has '3\.weight' but the file does not"),
        (nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 4, 3)).double(),
         r"has '0\.weight' of dtype float32; the model expects float64"),
    ]
    for model, pattern in cases:
        before = model.state_dict()
        with pytest.raises(CheckpointError, match=pattern):
            checkpoint.load_checkpoint(path, model)
        for key, value in model.state_dict().items():
            assert value.tobytes() == before[key].tobytes(), key


def test_module_load_state_dict_loads_nothing_on_error():
    numconv.manual_seed(0)
    model = _net()
    before = model.state_dict()
    numconv.manual_seed(1)
    state = _net().state_dict()
    state["3.weight"] = state["3.weight"][:, :4]  # only the LAST entry is wrong
    with pytest.raises(ValueError, match=r"'3\.weight' has shape \(3, 4\)"):
        model.load_state_dict(state)
    for key, value in model.state_dict().items():
        assert value.tobytes() == before[key].tobytes(), f"{key} was changed by a failed load"
    del state["3.weight"]
    with pytest.raises(KeyError, match=r"missing keys \['3\.weight'\]"):
        model.load_state_dict(state)
    assert all(v.tobytes() == before[k].tobytes() for k, v in model.state_dict().items())


def _trained(seed=0, steps=2):
    numconv.manual_seed(seed)
    model = _net()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    x = np.random.default_rng(seed).standard_normal((4, 1, 4, 4)).astype(np.float32)
    for _ in range(steps):
        optimizer.zero_grad()
        model(x)
        model.backward(np.ones((4, 3), np.float32))
        optimizer.step()
        scheduler.step()
    return model, optimizer, scheduler


def test_load_checkpoint_is_all_or_nothing(tmp_path):
    model, optimizer, scheduler = _trained(seed=0)
    path = tmp_path / "c.npz"
    checkpoint.save_checkpoint(path, model, optimizer, scheduler, epoch=2)

    # A fresh model and optimizer, but an optimizer over fewer parameters: its state cannot fit.
    fresh, fresh_opt, fresh_sched = _trained(seed=1, steps=1)
    small_opt = optim.Adam(list(fresh.parameters())[:2], lr=0.5)
    model_before, sched_before = fresh.state_dict(), fresh_sched.state_dict()
    with pytest.raises(CheckpointError, match=r"the optimizer state does not fit .*has 6 parameters .* but 2"):
        checkpoint.load_checkpoint(path, fresh, small_opt, fresh_sched)
    for key, value in fresh.state_dict().items():  # the model was restored, then rolled back
        assert value.tobytes() == model_before[key].tobytes(), key
    assert small_opt.param_groups[0]["lr"] == 0.5 and not small_opt.state

    # The scheduler fails after the model and optimizer were restored: both are rolled back.
    opt_before = fresh_opt.state_dict()

    class PickyScheduler:
        def state_dict(self):
            return {}

        def load_state_dict(self, state):
            raise ValueError("not my kind of state")

    with pytest.raises(CheckpointError, match="the scheduler state does not fit"):
        checkpoint.load_checkpoint(path, fresh, fresh_opt, PickyScheduler())
    assert all(v.tobytes() == model_before[k].tobytes() for k, v in fresh.state_dict().items())
    after = fresh_opt.state_dict()
    assert after["param_groups"] == opt_before["param_groups"]
    for index, entry in opt_before["state"].items():
        for name, value in entry.items():
            assert np.array_equal(after["state"][index][name], value)

    # And a correct load restores everything.
    checkpoint.load_checkpoint(path, fresh, fresh_opt, fresh_sched)
    assert all(np.array_equal(v, model.state_dict()[k]) for k, v in fresh.state_dict().items())
    assert fresh_sched.state_dict() == scheduler.state_dict()


def test_a_malformed_generator_state_is_refused_before_anything_changes(tmp_path):
    model, optimizer, _ = _trained()
    path = tmp_path / "c.npz"
    checkpoint.save_checkpoint(path, model, optimizer, rng_state='{"bit_generator": "seed"}')
    fresh, fresh_opt, _ = _trained(seed=1, steps=1)
    before = fresh.state_dict()
    with pytest.raises(CheckpointError, match="malformed random-generator state.*unknown bit generator 'seed'"):
        checkpoint.load_checkpoint(path, fresh, fresh_opt, restore_rng=True)
    assert all(v.tobytes() == before[k].tobytes() for k, v in fresh.state_dict().items())


# ---------------------------------------------------------------------------- optimizer state on its own
def test_optimizer_state_saves_and_loads_alone(tmp_path):
    model, optimizer, _ = _trained(steps=3)
    checkpoint.save_state_dict(optimizer, tmp_path / "adam.npz")
    checkpoint.save_state_dict(model, tmp_path / "model.npz")
    with np.load(tmp_path / "adam.npz", allow_pickle=False) as npz:
        assert "state/state/0/exp_avg" in npz.files
    copy, copy_opt, _ = _trained(seed=5, steps=1)
    copy.load_state_dict(checkpoint.load_state_dict(tmp_path / "model.npz"))
    copy_opt.load_state_dict(checkpoint.load_state_dict(tmp_path / "adam.npz"))
    x = np.random.default_rng(9).standard_normal((4, 1, 4, 4)).astype(np.float32)
    for m, o in ((model, optimizer), (copy, copy_opt)):
        o.zero_grad()
        m(x)
        m.backward(np.ones((4, 3), np.float32))
        o.step()
    for (key, a), b in zip(model.state_dict().items(), copy.state_dict().values()):
        assert a.tobytes() == b.tobytes(), key


# ---------------------------------------------------------------------------- how files are written
def test_files_get_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        checkpoint.save(tmp_path / "c.npz", {"epoch": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "c.npz").stat().st_mode & 0o777 == 0o644  # not tempfile's 0600


def test_a_writer_failing_halfway_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "last.npz"
    checkpoint.save_checkpoint(path, _net(), epoch=1)
    before = path.read_bytes()
    real_savez = np.savez

    def savez_half_then_fail(f, **entries):
        buffer = io.BytesIO()
        real_savez(buffer, **entries)
        f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", savez_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        checkpoint.save_checkpoint(path, _net(), epoch=2)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["last.npz"]
    assert checkpoint.load_checkpoint(path).epoch == 1


def test_interrupting_a_write_leaves_the_previous_file(tmp_path, monkeypatch):
    """Ctrl-C (KeyboardInterrupt, a BaseException) in the middle of a write is cleaned up too."""
    path = tmp_path / "w.npz"
    checkpoint.save_state_dict(OrderedDict(w=np.ones(3)), path)
    before = path.read_bytes()

    def interrupted(f, **entries):
        f.write(b"PK\x03\x04")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_state_dict(OrderedDict(w=np.zeros(3)), path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["w.npz"]


def test_a_failed_write_names_the_file_asked_for_not_the_temporary_one(tmp_path):
    # The error used to read "cannot use '.out.png.1f2e3d4c.tmp': Is a directory".
    from numconv.data._files import atomic_write

    target = tmp_path / "taken"
    target.mkdir()  # os.replace cannot put a file over a folder
    with pytest.raises(IsADirectoryError) as caught:
        atomic_write(target, lambda f: f.write(b"data"))
    assert caught.value.filename == str(target) and sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
