"""A fuzz campaign for the command line and the files it reads, beside ``test_fuzz.py`` for the layers.

Hypothesis draws ``numconv train`` flags (at least one of them bad), tampered
checkpoints (flipped bytes, cuts, config values of every JSON type) and
tampered IDX files. Whatever comes, the outcome is a clean one: status 0, or
status 2 with exactly one line on stderr that is not a traceback and not an
"unexpected error"; a refused training run leaves no output folder behind.
"""

import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from numconv import checkpoint, cli
from numconv.data import read_idx, write_idx
from numconv.data.idx import IDXFormatError
from numconv.models import get_model

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

INTS = st.sampled_from(["0", "-1", "-7", "2", "99999999999999999999", "1.5", "x", ""])
FLOATS = st.sampled_from(["0", "-1", "inf", "-inf", "nan", "1e308", "1e-9", "0.5", "x"])
FLAG_VALUES = {
    "--epochs": INTS, "--batch-size": INTS, "--seed": INTS, "--limit-train": INTS, "--limit-test": INTS,
    "--lr": FLOATS, "--momentum": FLOATS, "--weight-decay": FLOATS,
    "--optimizer": st.sampled_from(["sgd", "adam", "adamw", "rmsprop", "adagrad", "lbfgs"]),
    "--model": st.sampled_from(["lenet5", "simplecnn", "vgg", "resnet", ""]),
    "--scheduler": st.sampled_from(["none", "cosine", "step"]),
}
# One value that is certainly refused, so no drawn run trains (the campaign stays within seconds).
CERTAINLY_BAD = st.sampled_from([("--epochs", "0"), ("--lr", "inf"), ("--seed", "-1"), ("--limit-train", "0"),
                                 ("--batch-size", "-3"), ("--momentum", "nan"), ("--model", "resnet"),
                                 ("--optimizer", "lbfgs"), ("--epochs", "x")])


def _assert_clean(status, err, allowed=(2,)):
    assert status in allowed, err
    if status != 0:
        assert "Traceback" not in err and "unexpected error" not in err, err
        lines = err.strip().splitlines()
        # numconv's own errors are one line; argparse prints its usage, then one error line
        assert lines and "error:" in lines[-1], err
        assert len(lines) == 1 or lines[0].startswith("usage:"), err


def _run(argv, capsys):
    try:
        status = cli.main(argv)
    except SystemExit as exit_:  # argparse refusing a value: usage, then one error line
        status = exit_.code
    return status, capsys.readouterr().err


@FUZZ
@given(flags=st.dictionaries(st.sampled_from(sorted(FLAG_VALUES)), st.just(None), max_size=4).flatmap(
    lambda keys: st.fixed_dictionaries({k: FLAG_VALUES[k] for k in keys})), bad=CERTAINLY_BAD)
def test_train_flags(tmp_path, capsys, flags, bad):
    flags = dict(flags)
    flags[bad[0]] = bad[1]
    out = tmp_path / "fuzz-run"
    argv = ["train", "--out", str(out), "--no-progress"]
    for flag, value in flags.items():
        argv += [flag, value] if not value.startswith("-") else [f"{flag}={value}"]
    status, err = _run(argv, capsys)
    _assert_clean(status, err)
    assert not out.exists()  # refused before anything was written


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "good.npz"
    config = {"model": {"name": "lenet5", "kwargs": {"num_classes": 10}},
              "data": {"dataset": "sample", "classes": [str(i) for i in range(10)],
                       "transform": {"image_size": 28, "pad": 2, "mean": [0.286], "std": [0.353]}}}
    checkpoint.save_checkpoint(path, get_model("lenet5", num_classes=10), epoch=1, config=config)
    return path


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6)
CONFIG_KEYS = [("model", "name"), ("model", "kwargs"), ("data", "dataset"), ("data", "classes"),
               ("data", "transform"), ("model", "kwargs", "num_classes"), ("data", "transform", "std"),
               ("data", "transform", "mean"), ("data", "transform", "pad"), ("data", "transform", "image_size")]


@FUZZ
@given(kind=st.sampled_from(["flip", "cut", "config", "epoch"]), where=st.floats(0, 1), byte=st.integers(0, 255),
       key=st.sampled_from(CONFIG_KEYS), value=JSON_VALUES)
# Found by this test: no padding makes 28 x 28 images, which LeNet-5 (32 x 32) cannot take.
@example(kind="config", where=0.0, byte=0, key=("data", "transform", "pad"), value=0)
def test_tampered_checkpoints(tmp_path, capsys, good_checkpoint, kind, where, byte, key, value):
    data = good_checkpoint.read_bytes()
    path = tmp_path / "tampered.npz"
    if kind == "flip":
        i = int(where * (len(data) - 1))
        path.write_bytes(data[:i] + bytes([byte]) + data[i + 1:])
    elif kind == "cut":
        path.write_bytes(data[:int(where * len(data))])
    else:
        tree, _ = checkpoint.load(good_checkpoint)
        if kind == "epoch":
            tree["epoch"] = value
        else:
            node = tree["config"]
            for part in key[:-1]:
                node = node.setdefault(part, {}) if isinstance(node, dict) else {}
            if isinstance(node, dict):
                node[key[-1]] = value
        try:
            checkpoint.save(path, tree)
        except (TypeError, ValueError):  # a value a checkpoint cannot hold: nothing to test
            return
    before = sorted(os.listdir(tmp_path))
    status, err = _run(["eval", str(path), "--limit-test", "8"], capsys)
    _assert_clean(status, err, allowed=(0, 2))
    assert sorted(os.listdir(tmp_path)) == before


@FUZZ
@given(cut=st.integers(0, 40), flips=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 255)), max_size=3))
def test_tampered_idx_files(tmp_path, cut, flips):
    path = write_idx(tmp_path / "x-idx3-ubyte", np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    data = bytearray(path.read_bytes())
    for i, b in flips:
        if i < len(data):
            data[i] = b
    path.write_bytes(bytes(data[:len(data) - cut]))
    try:
        out = read_idx(path, max_bytes=1 << 20)
    except IDXFormatError as error:
        assert str(path) in str(error) and "\n" not in str(error)
    else:
        assert isinstance(out, np.ndarray)
