"""The numconv command: train / eval / predict in-process, one real subprocess, and the error paths."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from numconv import cli
from numconv.checkpoint import load_checkpoint

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--epochs", "1", "--limit-train", "256", "--limit-test", "96", "--batch-size", "16", "--no-progress"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny training run shared by the eval / predict tests."""
    out = tmp_path_factory.mktemp("run")
    assert cli.main(["train", "--out", str(out), *TINY]) == 0
    return out


def _one_error_line(capsys, *pieces):
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    for piece in pieces:
        assert piece in lines[0], lines[0]
    return lines[0]


def test_train_writes_checkpoints_and_reports_accuracy(trained, capsys):
    assert sorted(os.listdir(trained)) == ["best.npz", "curves.png", "feature_maps.png", "history.csv", "history.json",
                                           "last.npz", "predictions.npz"]
    ckpt = load_checkpoint(trained / "last.npz")
    assert ckpt.epoch == 1
    assert ckpt.config["model"] == {"name": "lenet5", "kwargs": {"num_classes": 10}}
    assert ckpt.config["data"]["dataset"] == "sample"
    assert ckpt.config["data"]["transform"] == {"image_size": 28, "pad": 2, "mean": [0.286], "std": [0.353]}
    assert ckpt.config["data"]["classes"][7] == "Sneaker"
    assert ckpt.config["train"]["optimizer"] == "sgd" and ckpt.config["train"]["lr"] == 0.05
    assert ckpt.optim is not None and ckpt.loader is not None and ckpt.rng_state
    history = json.loads((trained / "history.json").read_text())
    assert len(history) == 1 and history[0]["val_acc"] > 0.25  # 16 steps on 256 images beat chance (0.1)


def test_train_output(tmp_path, capsys):
    assert cli.main(["train", "--out", str(tmp_path), "--optimizer", "adam", "--model", "LeNet-5", *TINY]) == 0
    out = capsys.readouterr().out
    assert "lenet5: 61,706 parameters" in out and "adam lr 0.001" in out
    assert "epoch 1/1  train loss" in out
    assert out.strip().splitlines()[-1].startswith("test accuracy ")
    assert "on 96 images" in out


def test_resume_continues_the_run(tmp_path, capsys):
    base = ["train", "--out", str(tmp_path), "--limit-train", "128", "--limit-test", "64", "--no-progress"]
    assert cli.main(base + ["--epochs", "1"]) == 0
    assert cli.main(base + ["--epochs", "2", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "epoch 2/2" in out and "epoch 1/2" not in out
    assert load_checkpoint(tmp_path / "last.npz").epoch == 2


def test_default_output_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--model", "simplecnn", "--limit-train", "64", "--limit-test", "64", "--epochs", "1",
                     "--no-progress"]) == 0
    ckpt = load_checkpoint(tmp_path / "runs" / "simplecnn-sample" / "last.npz")
    assert ckpt.config["model"]["kwargs"] == {"num_classes": 10, "in_channels": 1, "input_size": 32}


def test_eval_prints_accuracy_per_class_and_confusion(trained, capsys):
    assert cli.main(["eval", str(trained / "last.npz"), "--limit-test", "200"]) == 0
    out = capsys.readouterr().out
    assert "on the sample test set (200 images)" in out and "accuracy" in out
    rows = [line for line in out.splitlines() if line.startswith(("T-shirt/top", "Ankle boot"))]
    assert len(rows) == 2
    lines = out.splitlines()
    assert "predicted class" in lines[2] and lines[3].split()[:4] == ["true", "class", "accuracy", "T-shi"]
    assert lines[3].split()[-1] == "Ankle"  # a header for every column
    table = lines[4:]
    assert len(table) == 10
    counts = np.array([[int(v) for v in line.split()[-10:]] for line in table])
    assert counts.sum() == 200  # the confusion matrix holds every image once


def _save_png(path, pixels, mode="L"):
    from PIL import Image

    Image.fromarray(pixels, mode=mode).save(path)


def test_predict_matches_the_model_and_inverts_light_backgrounds(trained, tmp_path, capsys):
    pytest.importorskip("PIL")
    from numconv.data import FashionMNISTSample
    from numconv.models import get_model

    test = FashionMNISTSample(train=False)
    pixels = test.data[:3]
    paths = []
    for i, p in enumerate(pixels):
        paths.append(tmp_path / f"dark{i}.png")
        _save_png(paths[-1], p)
    light = tmp_path / "light.jpg"
    from PIL import Image

    # dark ink on light paper, twice the size, as an RGB JPEG
    Image.fromarray(255 - pixels[0]).convert("RGB").resize((56, 56), Image.Resampling.NEAREST).save(light, quality=95)
    assert cli.main(["predict", str(trained / "last.npz"), *map(str, paths), str(light), "--top", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4

    # The same images through the training pipeline give the same top class.
    ckpt = load_checkpoint(trained / "last.npz")
    model = get_model("lenet5", **ckpt.config["model"]["kwargs"])
    model.load_state_dict(ckpt.model)
    model.eval()
    transform = cli.build_transform(ckpt.config["data"]["transform"])
    logits = model(np.stack([transform(p[None]) for p in pixels]))
    names = ckpt.config["data"]["classes"]
    for line, k in zip(lines, logits.argmax(1)):
        assert line.split(": ", 1)[1].startswith(names[k] + " ("), line
        assert "inverted" not in line
    assert "light background" in lines[3]
    # what the model saw of the light JPEG: close to the original dark image
    seen, inverted = cli.load_image(str(light))
    assert inverted and np.abs(seen.astype(int) - pixels[0]).mean() < 4
    assert lines[0].count("%") == 2  # --top 2


def test_predict_warns_about_a_blank_or_unusual_image(trained, tmp_path, capsys):
    pytest.importorskip("PIL")
    from numconv.data import FashionMNISTSample

    blank, frame, usual = tmp_path / "blank.png", tmp_path / "frame.png", tmp_path / "usual.png"
    _save_png(blank, np.full((28, 28), 255, np.uint8))
    bright = np.zeros((28, 28), np.uint8)
    bright[:, :3] = 255  # bright along the left edge and half the top and bottom: no dark frame around the object
    bright[0, :12] = bright[-1, :12] = 255  # (but less than half the border, so it is not taken for paper)
    _save_png(frame, bright)
    _save_png(usual, FashionMNISTSample(train=False).data[0])
    assert cli.main(["predict", str(trained / "last.npz"), str(blank), str(frame), str(usual)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.strip().splitlines()) == 3  # it still answers, for every image
    warnings = captured.err.strip().splitlines()
    assert len(warnings) == 2 and "blank.png' is unlike the training images: it is nearly blank" in warnings[0]
    assert "frame.png" in warnings[1] and "border is bright" in warnings[1] and "usual" not in captured.err


def test_unusual_image_is_quiet_on_the_training_images():
    from numconv.data import FashionMNISTSample
    from numconv.tools.images import unusual_image

    data = FashionMNISTSample(train=True).data
    assert sum(unusual_image(image) is not None for image in data) == 0
    assert "nearly blank" in unusual_image(np.zeros((28, 28), np.uint8))
    dot = np.zeros((28, 28), np.uint8)
    dot[14, 14] = 255
    assert "almost nothing is drawn" in unusual_image(dot)
    assert "mostly bright" in unusual_image(np.r_[np.full((27, 28), 200, np.uint8), np.zeros((1, 28), np.uint8)])


def test_predict_handles_transparency(trained, tmp_path, capsys):
    pytest.importorskip("PIL")
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[8:20, 10:18] = (0, 0, 0, 255)  # black ink on a transparent background: white paper underneath
    _save_png(tmp_path / "ink.png", rgba, mode="RGBA")
    assert cli.main(["predict", str(trained / "last.npz"), str(tmp_path / "ink.png")]) == 0
    assert "light background" in capsys.readouterr().out


def test_load_image_conversion(tmp_path):
    pytest.importorskip("PIL")
    img = np.full((40, 30), 250, dtype=np.uint8)
    img[10:30, 10:20] = 5
    _save_png(tmp_path / "x.png", img)
    pixels, inverted = cli.load_image(str(tmp_path / "x.png"))
    assert pixels.shape == (28, 28) and pixels.dtype == np.uint8 and inverted
    assert pixels[0, 0] < 10 and pixels[14, 14] > 240


# ---------------------------------------------------------------------------- errors: one line, status 2
def test_missing_checkpoint(capsys):
    assert cli.main(["eval", "no/such/file.npz"]) == 2
    _one_error_line(capsys, "numconv eval: error:", "no/such/file.npz", "does not exist")


def test_corrupt_checkpoint(trained, tmp_path, capsys):
    data = (trained / "last.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    assert cli.main(["eval", str(tmp_path / "cut.npz")]) == 2
    _one_error_line(capsys, "cut.npz", "truncated or corrupt")
    assert cli.main(["predict", str(tmp_path / "cut.npz"), "x.png"]) == 2
    _one_error_line(capsys, "numconv predict: error:", "truncated or corrupt")


def test_checkpoint_without_model_config(tmp_path, capsys):
    from numconv.checkpoint import save_checkpoint
    from numconv.models import LeNet5

    save_checkpoint(tmp_path / "bare.npz", LeNet5())
    assert cli.main(["eval", str(tmp_path / "bare.npz")]) == 2
    _one_error_line(capsys, "does not record which model")


def test_missing_image(trained, capsys):
    assert cli.main(["predict", str(trained / "last.npz"), "missing.png"]) == 2
    _one_error_line(capsys, "image 'missing.png' does not exist")


def test_unreadable_image(trained, tmp_path, capsys):
    pytest.importorskip("PIL")
    (tmp_path / "fake.png").write_text("not an image")
    assert cli.main(["predict", str(trained / "last.npz"), str(tmp_path / "fake.png")]) == 2
    _one_error_line(capsys, "cannot read image", "fake.png")


def test_missing_data_names_the_places_searched(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("NUMCONV_DATA", raising=False)
    assert cli.main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path / "nothing"), "--no-progress"]) == 2
    _one_error_line(capsys, "cannot load the mnist training set", "searched", str(tmp_path / "nothing"),
                           "--download")


def test_nothing_to_resume_and_bad_values(tmp_path, capsys):
    assert cli.main(["train", "--out", str(tmp_path / "new"), "--resume", *TINY]) == 2
    _one_error_line(capsys, "nothing to resume", "last.npz")
    assert cli.main(["train", "--model", "resnet", *TINY]) == 2
    _one_error_line(capsys, "unknown model 'resnet'")
    assert cli.main(["train", "--epochs", "0", "--out", str(tmp_path)]) == 2
    _one_error_line(capsys, "--epochs must be at least 1")
    assert cli.main(["train", "--lr", "-1", "--out", str(tmp_path), *TINY]) == 2
    _one_error_line(capsys, "numconv train: error:", "-1")


def test_resume_into_a_different_model_is_refused(trained, tmp_path, capsys):
    import shutil

    shutil.copy(trained / "last.npz", tmp_path / "last.npz")
    assert cli.main(["train", "--model", "vgg", "--out", str(tmp_path), "--resume", *TINY]) == 2
    _one_error_line(capsys, "numconv train: error: cannot resume", "with --model vgg",
                    "trained with --model lenet5")


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--optimizer", "lbfgs"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2


def test_commands_are_extensible(capsys):
    calls = []

    def add_arguments(p):
        p.add_argument("--name", default="x")

    def run(args):
        """Say hello."""
        calls.append(args.name)
        return 0

    cli.register("hello", add_arguments, run)
    try:
        assert cli.main(["hello", "--name", "numconv"]) == 0
        assert calls == ["numconv"]
        with pytest.raises(SystemExit):
            cli.main(["--help"])
        assert "Say hello." in capsys.readouterr().out
    finally:
        del cli.COMMANDS["hello"]


def test_python_dash_m_numconv_train(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(
        [sys.executable, "-m", "numconv", "train", "--epochs", "1", "--limit-train", "512", "--no-progress"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("test accuracy ") and "on 2,000 images" in last
    accuracy = float(last.split()[2].rstrip("%"))
    assert accuracy > 30.0  # 8 steps on 512 images: three times the 10 % of chance
    out = tmp_path / "runs" / "lenet5-sample"
    assert sorted(os.listdir(out)) == ["best.npz", "curves.png", "feature_maps.png", "history.csv", "history.json",
                                       "last.npz", "predictions.npz"]
    assert load_checkpoint(out / "best.npz").epoch == 1
    bad = subprocess.run([sys.executable, "-m", "numconv", "eval", "missing.npz"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_predict_refuses_a_top_below_one_and_says_what_a_folder_is(trained, tmp_path, capsys):
    assert cli.main(["predict", str(trained / "last.npz"), str(tmp_path), "--top", "-5"]) == 2
    assert "--top must be at least 1, got -5" in capsys.readouterr().err  # (it acted as --top 1)
    assert cli.main(["predict", str(trained / "last.npz"), str(tmp_path)]) == 2
    assert f"image '{tmp_path}' is not a file" in capsys.readouterr().err  # (it said "does not exist")
