"""Training killed with SIGKILL resumes to the very same weights, bit for bit.

Each case runs ``numconv train`` in a subprocess through a small driver
script, stops it at a known point with SIGKILL (which no handler can catch,
as after a power cut or the OOM killer), runs the same command with
``--resume``, and compares the final state with an uninterrupted run.

The kill points are reached deterministically, not by timing:

* ``pause-after-step N``: the driver wraps ``SGD.step``; after the N-th step
  it writes a flag file and blocks, and the test, which waits for the flag,
  sends SIGKILL. So the process dies in the middle of an epoch, with the
  model changed in memory since the last checkpoint.
* ``die-writing-last N``: the driver wraps ``checkpoint.atomic_write``; on
  the N-th write of ``last.npz`` it writes the first half of the file into
  the temporary file, fsyncs it and SIGKILLs itself: a crash in the middle
  of writing a checkpoint.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from numconv import checkpoint

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

# 512 images in batches of 64: 8 optimizer steps per epoch, 3 epochs.
STEPS_PER_EPOCH = 8
TRAIN_ARGS = ["--limit-train", "512", "--limit-test", "256", "--epochs", "3", "--batch-size", "64",
              "--seed", "7", "--no-progress"]
TIMEOUT = 120
REPO = str(Path(__file__).resolve().parents[1])

DRIVER = r'''
import io
import os
import signal
import sys
import time
from pathlib import Path

from numconv import checkpoint, cli, optim

mode, count, flag, *train_args = sys.argv[1:]
count, flag = int(count), Path(flag)

if mode == "pause-after-step":
    real_step = optim.SGD.step
    steps = 0

    def step(self, *args, **kwargs):
        global steps
        result = real_step(self, *args, **kwargs)
        steps += 1
        if steps == count:
            flag.write_text(str(steps))
            while True:  # wait here for the SIGKILL
                time.sleep(1)
        return result

    optim.SGD.step = step

elif mode == "die-writing-last":
    real_atomic_write = checkpoint.atomic_write
    writes = 0

    def atomic_write(path, write):
        global writes
        if os.path.basename(path) != "last.npz":
            return real_atomic_write(path, write)
        writes += 1
        if writes < count:
            return real_atomic_write(path, write)

        def write_half_then_die(f):
            whole = io.BytesIO()
            write(whole)
            data = whole.getvalue()
            f.write(data[: len(data) // 2])
            f.flush()
            os.fsync(f.fileno())
            flag.write_text(str(len(data)))
            os.kill(os.getpid(), signal.SIGKILL)

        return real_atomic_write(path, write_half_then_die)

    checkpoint.atomic_write = atomic_write

else:
    raise SystemExit(f"unknown mode {mode}")

sys.exit(cli.main(["train", *train_args]))
'''


def _env():
    """One thread everywhere: the test costs one core, and results never depend on the machine's load."""
    env = dict(os.environ, NUMCONV_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", MPLBACKEND="Agg",
               # the numconv of this checkout, whatever else is installed (the driver runs in tmp_path)
               PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("NUMCONV_DATA", None)
    return env


def _numconv_train(out, *extra, cwd):
    """``numconv train`` to completion in a subprocess; returns its stdout."""
    done = subprocess.run([sys.executable, "-m", "numconv", "train", *TRAIN_ARGS, "--out", str(out), *extra],
                          cwd=cwd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _driver(mode, count, flag, out, cwd):
    command = [sys.executable, "-c", DRIVER, mode, str(count), str(flag), *TRAIN_ARGS, "--out", str(out)]
    return subprocess.Popen(command, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _kill_when_flagged(process, flag):
    """Wait until the driver raises its flag (it then blocks), then SIGKILL it."""
    deadline = time.monotonic() + TIMEOUT
    while not flag.exists():
        if process.poll() is not None:
            pytest.fail(f"the training process ended before reaching the kill point:\n{process.communicate()[1]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the training process did not reach the kill point in time")
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=TIMEOUT)
    assert process.returncode == -signal.SIGKILL


def _training_state(path):
    """Everything a checkpoint holds, minus the wall-clock columns of the history."""
    tree, _ = checkpoint.load(path)
    tree["history"] = [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")}
                       for row in tree["history"]]
    return tree


def _assert_identical(a, b, where="checkpoint"):
    """Equal bit for bit: same types, keys, dtypes, shapes and bytes (NaN-safe)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert a.tobytes() == b.tobytes(), f"{where} differs"
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} vs {list(b)}"
        for key in a:
            _assert_identical(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_identical(x, y, f"{where}/{i}")
    else:
        assert a == b or (a != a and b != b), f"{where}: {a!r} vs {b!r}"


def _checkpoint_files(directory):
    """The visible checkpoint files (figures, history files and the test-set predictions aside)."""
    return sorted(name for name in os.listdir(directory)
                  if name.endswith(".npz") and not name.startswith(".") and name != "predictions.npz")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The final state of a run that was never killed."""
    work = tmp_path_factory.mktemp("uninterrupted")
    _numconv_train(work / "run", cwd=work)
    return _training_state(work / "run" / "last.npz")


def test_killed_mid_epoch_resumes_bit_for_bit(tmp_path, uninterrupted):
    out, flag = tmp_path / "run", tmp_path / "flag"
    step = STEPS_PER_EPOCH + 3  # epoch 2, batch 3 of 8
    _kill_when_flagged(_driver("pause-after-step", step, flag, out, tmp_path), flag)
    assert checkpoint.load_checkpoint(out / "last.npz").epoch == 1  # epoch 2 was under way

    printed = _numconv_train(out, "--resume", cwd=tmp_path)
    assert "after epoch 1" in printed
    assert "epoch 1/3" not in printed and "epoch 2/3" in printed and "epoch 3/3" in printed
    _assert_identical(uninterrupted, _training_state(out / "last.npz"))
    assert _checkpoint_files(out) == ["best.npz", "last.npz"]


def test_killed_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, uninterrupted):
    out, flag = tmp_path / "run", tmp_path / "flag"
    process = _driver("die-writing-last", 2, flag, out, tmp_path)  # the write after epoch 2
    process.communicate(timeout=TIMEOUT)
    assert process.returncode == -signal.SIGKILL and flag.exists()
    full_size = int(flag.read_text())

    # The previous checkpoint is intact: it loads (every CRC checked) and is the one of epoch 1.
    assert checkpoint.load_checkpoint(out / "last.npz").epoch == 1
    # The half-written file is a hidden temporary, never taken for a checkpoint.
    leftovers = [name for name in os.listdir(out) if name.startswith(".")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".last.npz.") and leftovers[0].endswith(".tmp")
    assert os.path.getsize(out / leftovers[0]) == full_size // 2
    with pytest.raises(checkpoint.CheckpointError, match="truncated or corrupt"):
        checkpoint.load(out / leftovers[0])

    printed = _numconv_train(out, "--resume", cwd=tmp_path)
    assert "after epoch 1" in printed and "epoch 1/3" not in printed
    _assert_identical(uninterrupted, _training_state(out / "last.npz"))
    assert _checkpoint_files(out) == ["best.npz", "last.npz"]


def test_killed_before_the_first_checkpoint_cannot_resume(tmp_path):
    out, flag = tmp_path / "run", tmp_path / "flag"
    _kill_when_flagged(_driver("pause-after-step", 3, flag, out, tmp_path), flag)  # epoch 1, batch 3
    assert not (out / "last.npz").exists()
    done = subprocess.run([sys.executable, "-m", "numconv", "train", *TRAIN_ARGS, "--out", str(out), "--resume"],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "nothing to resume" in done.stderr and "last.npz" in done.stderr
