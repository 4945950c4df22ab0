"""Tampered checkpoints and data files: refused before inflating, with one line naming the key or file.

Also: no reader blocks on a FIFO, IDX sizes cannot overflow, and writes follow
a symlinked ``last.npz`` and create a missing folder.
"""

import json
import os
import struct
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from numconv import _ckpt_file, cli, checkpoint
from numconv.checkpoint import CheckpointError
from numconv.data import read_idx
from numconv.data.idx import IDXFormatError
from numconv.models import get_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = {
    "model": {"name": "lenet5", "kwargs": {"num_classes": 10}},
    "data": {"dataset": "sample", "classes": [str(i) for i in range(10)],
             "transform": {"image_size": 28, "pad": 2, "mean": [0.286], "std": [0.353]}},
}


def _save(path, config=CONFIG, **fields):
    model = get_model("lenet5", num_classes=10)
    checkpoint.save_checkpoint(path, model, epoch=1, config=config, **fields)
    return path


def _rewrite_meta(path, change):
    """Rewrite a checkpoint's JSON description in place (keeping every other member)."""
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    meta = np.load(path, allow_pickle=False)["__meta__"][()]
    document = json.loads(str(meta))
    change(document)
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array(json.dumps(document)))
    members["__meta__.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def _one_error_line(capsys, *pieces):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for piece in pieces:
        assert piece in lines[0], lines[0]


# ---------------------------------------------------------------------------- sizes before inflating
def test_an_extra_array_that_would_inflate_to_hundreds_of_mb_is_refused_from_its_header(tmp_path, capsys):
    path = _save(tmp_path / "bomb.npz")
    count = 25_000_000  # 100 MB of float32 zeros, about 100 KB deflated

    def add_node(document):
        items = document["tree"]["items"]
        model = next(node for key, node in items if key == "model")
        model["items"].append(["extra", {"t": "array", "key": "model/extra", "shape": [count], "dtype": "<f4"}])

    _rewrite_meta(path, add_node)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("model/extra.npy", "w", force_zip64=True) as f:
            f.write(io_header(count))
            zeros = bytes(1 << 22)
            for _ in range(count * 4 // len(zeros)):
                f.write(zeros)
            f.write(bytes(count * 4 % len(zeros)))
    assert path.stat().st_size < 3_000_000
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="'model/extra' would inflate to 100,000,000 bytes"):
        checkpoint.load_checkpoint(path, get_model("lenet5", num_classes=10))
    assert cli.main(["eval", str(path)]) == 2
    _one_error_line(capsys, "would inflate to 100,000,000 bytes", "refused")
    assert time.perf_counter() - start < 5  # nothing was inflated


def io_header(count):
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False, "shape": (count,)})
    return buffer.getvalue()


def test_a_member_whose_zip_size_disagrees_with_its_header_is_refused(tmp_path):
    path = _save(tmp_path / "c.npz")
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    members["model/0.weight.npy"] += b"\0" * 64  # trailing bytes the header does not announce
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(CheckpointError, match="entry 'model/0.weight' declares .* bytes, but its header"):
        checkpoint.load(path)


# ---------------------------------------------------------------------------- config values
@pytest.mark.parametrize("key, value, message", [
    ("data.transform.mean", [], "config 'data.transform.mean' is []"),
    ("data.transform.std", [0.0], "config 'data.transform.std' is [0.0]; expected positive numbers"),
    ("data.transform.pad", 2.5, "config 'data.transform.pad' is 2.5; expected an int"),
    ("data.transform.image_size", 0, "config 'data.transform.image_size' is 0"),
    ("model.kwargs.num_classes", 300_000_000, "config 'model.kwargs.num_classes' is 300000000"),
    ("model.kwargs.num_classes", 3e8, "config 'model.kwargs.num_classes' is 300000000.0"),
    ("data.classes", [], "config 'data.classes' is []"),
    ("data.transform.std", ["x"], "config 'data.transform.std'"),
    ("model.kwargs", [1], "config 'model.kwargs' is [1]; expected a dict"),
])
def test_tampered_config_values_name_their_key(tmp_path, key, value, message, capsys):
    config = json.loads(json.dumps(CONFIG))
    *parents, last = key.split(".")
    node = config
    for part in parents:
        node = node[part]
    node[last] = value
    path = _save(tmp_path / "c.npz", config=config)
    for command in (["eval", str(path)], ["predict", str(path), "missing.png"]):
        assert cli.main(command) == 2
        _one_error_line(capsys, message)


@pytest.mark.parametrize("field, value, message", [
    ("epoch", "three", "'epoch' should be an int >= 0, got 'three'"),
    ("epoch", -2, "'epoch' should be an int >= 0, got -2"),
    ("history", {"a": 1}, "'history' should be a list of dicts"),
    ("history", [1, 2], "'history' should be a list of dicts"),
])
def test_tampered_epoch_and_history_name_their_key(tmp_path, field, value, message, capsys):
    path = _save(tmp_path / "c.npz")

    def change(document):
        items = document["tree"]["items"]
        node = _ckpt_file._encode(value, field, {})
        for item in items:
            if item[0] == field:
                item[1] = node

    _rewrite_meta(path, change)
    with pytest.raises(CheckpointError, match=message):
        checkpoint.load_checkpoint(path)
    assert cli.main(["eval", str(path)]) == 2
    _one_error_line(capsys, message)


# ---------------------------------------------------------------------------- IDX and special files
def test_idx_sizes_that_overflow_int64_name_the_file(tmp_path):
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(b"\0\0\x08\x04" + struct.pack(">4I", *[0xFFFFFFFF] * 4))
    with pytest.raises(IDXFormatError, match=r"huge-idx3-ubyte.*more than the limit"):
        read_idx(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_not_read(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(IDXFormatError, match="is a FIFO .*not a regular file"):
        read_idx(fifo)
    with pytest.raises(CheckpointError, match="is a FIFO"):
        checkpoint.load(fifo)
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-m", "numconv", "eval", str(fifo)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "is a FIFO" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------------------- writing
def test_saving_onto_a_symlinked_checkpoint_replaces_its_target(tmp_path):
    target = tmp_path / "store" / "last.npz"
    target.parent.mkdir()
    _save(target)
    link = tmp_path / "last.npz"
    link.symlink_to(target)
    model = get_model("lenet5", num_classes=10)
    checkpoint.save_checkpoint(link, model, epoch=7, config=CONFIG)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert checkpoint.load_checkpoint(target).epoch == 7
    assert sorted(os.listdir(target.parent)) == ["last.npz"]  # no temporary file left


def test_saving_into_a_missing_folder(tmp_path):
    path = tmp_path / "new" / "deeper" / "c.npz"
    _save(path)
    assert checkpoint.load_checkpoint(path).epoch == 1
    from numconv.data._files import atomic_write

    with pytest.raises(FileNotFoundError, match="the folder to write into does not exist") as info:
        atomic_write(tmp_path / "absent" / "x.bin", lambda f: f.write(b"x"))
    assert info.value.filename == str(tmp_path / "absent")
