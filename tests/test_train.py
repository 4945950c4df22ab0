"""numconv.train: fit / evaluate, history files, checkpoints, and bit-for-bit resume."""

import csv
import json
import os
import sys

import numpy as np
import pytest

import numconv
from numconv import nn, optim
from numconv.checkpoint import load_checkpoint
from numconv.data import DataLoader, TensorDataset
from numconv.train import evaluate, fit


def _data(n=120, seed=0):
    """A tiny learnable problem: the class is the quadrant holding the brightest blob."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, 8, 8)).astype(np.float32) * 0.3
    y = rng.integers(0, 4, n)
    for i, c in enumerate(y):
        r, col = divmod(int(c), 2)
        x[i, 0, 4 * r:4 * r + 4, 4 * col:4 * col + 4] += 1.0
    return TensorDataset(x, y.astype(np.int64))


def _setup(seed=0, init_seed=0, sched="step"):
    """Model with dropout and batch norm (random state and buffers matter), SGD momentum, a scheduler."""
    numconv.manual_seed(init_seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Dropout(0.25), nn.Linear(64, 4))
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    scheduler = (optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7) if sched == "step"
                 else optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5))
    train = DataLoader(_data(), batch_size=16, shuffle=True, seed=seed)
    val = DataLoader(_data(40, seed=1), batch_size=32)
    return model, optimizer, scheduler, train, val


def _run(out_dir, epochs, resume=False, init_seed=0, sched="step", seed=123):
    model, optimizer, scheduler, train, val = _setup(init_seed=init_seed, sched=sched)
    history = fit(model, train, nn.CrossEntropyLoss(), optimizer, epochs, val_loader=val, scheduler=scheduler,
                  out_dir=out_dir, resume=resume, seed=seed, progress=False, log=lambda *a: None)
    return model, optimizer, scheduler, history


def _assert_models_equal(a, b):
    for (k, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert x.dtype == y.dtype and np.array_equal(x, y), f"{k} differs"


def _strip_times(history):
    return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")} for row in history]


@pytest.mark.parametrize("sched", ["step", "plateau"])
def test_resume_equals_uninterrupted_bit_for_bit(tmp_path, sched):
    straight, s_opt, s_sched, s_hist = _run(tmp_path / "a", 3, sched=sched)
    _run(tmp_path / "b", 2, sched=sched)
    # Fresh objects with *different* initial weights: everything must come from the checkpoint.
    resumed, r_opt, r_sched, r_hist = _run(tmp_path / "b", 3, resume=True, init_seed=99, sched=sched)
    _assert_models_equal(straight, resumed)
    assert _strip_times(s_hist) == _strip_times(r_hist) and len(r_hist) == 3
    assert s_opt.param_groups[0]["lr"] == r_opt.param_groups[0]["lr"]
    for p, q in zip(straight.parameters(), resumed.parameters()):
        assert np.array_equal(s_opt.state[p]["momentum_buffer"], r_opt.state[q]["momentum_buffer"])
    assert s_sched.state_dict() == r_sched.state_dict()
    a = load_checkpoint(tmp_path / "a" / "last.npz")
    b = load_checkpoint(tmp_path / "b" / "last.npz")
    assert a.rng_state == b.rng_state and a.loader == b.loader and a.epoch == b.epoch == 3


def test_resume_catches_a_different_run(tmp_path):
    """The comparison above can fail: without the checkpoint's state the runs differ."""
    straight, *_ = _run(tmp_path / "a", 3)
    _run(tmp_path / "b", 2)
    model, optimizer, scheduler, train, val = _setup(init_seed=0)
    ckpt = load_checkpoint(tmp_path / "b" / "last.npz", model, optimizer, scheduler)  # RNG and loader not restored
    fit(model, train, nn.CrossEntropyLoss(), optimizer, 1, val_loader=val, scheduler=scheduler,
        progress=False, log=lambda *a: None)
    assert ckpt.epoch == 2
    assert not all(np.array_equal(x, y) for x, y in zip(straight.state_dict().values(), model.state_dict().values()))


def test_resume_from_an_explicit_path_and_when_already_done(tmp_path):
    _run(tmp_path / "a", 2)
    model, optimizer, scheduler, train, val = _setup(init_seed=5)
    lines = []
    history = fit(model, train, nn.CrossEntropyLoss(), optimizer, 2, scheduler=scheduler,
                  resume=str(tmp_path / "a" / "last.npz"), progress=False, log=lines.append)
    assert len(history) == 2 and "resumed" in lines[0] and len(lines) == 1  # nothing left to train
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        _run(tmp_path / "empty", 1, resume=True)
    with pytest.raises(ValueError, match="needs out_dir"):
        fit(model, train, nn.CrossEntropyLoss(), optimizer, 1, resume=True)


def test_same_seed_same_run_and_other_seed_differs(tmp_path):
    a, *_ = _run(None, 2, seed=7)
    b, *_ = _run(None, 2, seed=7)
    c, *_ = _run(None, 2, seed=8)  # a different dropout stream
    _assert_models_equal(a, b)
    assert not np.array_equal(a[6].weight.data, c[6].weight.data)


def test_history_files_and_checkpoints(tmp_path):
    model, optimizer, scheduler, history = _run(tmp_path, 3)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[0]["lr"] == pytest.approx(0.1) and history[1]["lr"] == pytest.approx(0.07)
    assert history[-1]["train_acc"] > 0.6  # it learns
    assert json.loads((tmp_path / "history.json").read_text()) == history
    with open(tmp_path / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds",
                             "images_per_s"]
    assert [float(r["val_acc"]) for r in rows] == [h["val_acc"] for h in history]
    last = load_checkpoint(tmp_path / "last.npz")
    best = load_checkpoint(tmp_path / "best.npz")
    assert last.epoch == 3 and last.history == history
    best_epoch = max(history, key=lambda h: h["val_acc"])["epoch"]  # the first epoch reaching the best
    assert best.epoch == best_epoch
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "history.csv", "history.json", "last.npz"]


def test_a_crash_between_two_checkpoint_writes_loses_no_best_epoch(tmp_path, monkeypatch):
    """last.npz is each epoch's commit point, written after best.npz.

    Epoch 2 has the best validation accuracy. The run dies between the two
    checkpoint writes of epoch 2; after resuming, best.npz must still be
    epoch 2's (with last.npz written first, it would stay epoch 1's for good).
    """
    import numconv.train as train_module

    def run(out_dir, resume=False, crash=False):
        model, optimizer, scheduler, train, _ = _setup()
        accuracy_of_epoch = {1: 0.5, 2: 0.9, 3: 0.7}
        monkeypatch.setattr(train_module, "evaluate",  # train.epoch counts the epochs completed
                            lambda *args, **kwargs: {"loss": 1.0, "accuracy": accuracy_of_epoch[train.epoch]})
        writes = []
        real_save = train_module.save_checkpoint

        def save(path, **state):
            writes.append((state["epoch"], os.path.basename(path)))
            if crash and [epoch for epoch, _ in writes].count(2) == 2:
                raise KeyboardInterrupt("power cut")
            real_save(path, **state)

        monkeypatch.setattr(train_module, "save_checkpoint", save)
        try:
            fit(model, train, nn.CrossEntropyLoss(), optimizer, 3, val_loader=[], scheduler=scheduler,
                out_dir=out_dir, resume=resume, seed=123, progress=False, log=lambda *a: None)
        finally:
            monkeypatch.undo()
        return writes

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", crash=True)
    assert load_checkpoint(tmp_path / "b" / "last.npz").epoch == 1
    assert run(tmp_path / "b", resume=True) == [(2, "best.npz"), (2, "last.npz"), (3, "last.npz")]
    assert run(tmp_path / "a") == [(1, "best.npz"), (1, "last.npz"), (2, "best.npz"), (2, "last.npz"),
                                   (3, "last.npz")]
    for name in ("best.npz", "last.npz"):
        a, b = load_checkpoint(tmp_path / "a" / name), load_checkpoint(tmp_path / "b" / name)
        assert a.epoch == b.epoch == (2 if name == "best.npz" else 3)
        for key in a.model:
            assert np.array_equal(a.model[key], b.model[key]), (name, key)


def test_config_is_stored_in_checkpoints(tmp_path):
    model, optimizer, scheduler, train, val = _setup()
    config = {"model": {"name": "custom", "kwargs": {}}, "data": {"mean": [0.5]}}
    fit(model, train, nn.CrossEntropyLoss(), optimizer, 1, out_dir=tmp_path, config=config, progress=False,
        log=lambda *a: None)
    assert load_checkpoint(tmp_path / "last.npz").config == config
    assert not (tmp_path / "best.npz").exists()  # best follows validation accuracy, and there was none


class _Logits(nn.Module):
    """Returns its input: the 'images' are the logits themselves."""

    def forward(self, x):
        self._keep(True)
        return x


def test_evaluate_metrics_match_a_direct_computation():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((50, 4))
    y = rng.integers(0, 3, 50)  # class 3 never occurs
    loader = DataLoader(TensorDataset(logits, y), batch_size=16)
    model = _Logits().train()
    metrics = evaluate(model, loader, nn.CrossEntropyLoss())
    pred = logits.argmax(1)
    assert metrics["n"] == 50
    assert metrics["accuracy"] == np.mean(pred == y)
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    assert metrics["loss"] == pytest.approx(-log_p[np.arange(50), y].mean(), rel=1e-12)
    expected = np.zeros((4, 4), dtype=np.int64)
    for t, p in zip(y, pred):
        expected[t, p] += 1
    assert metrics["confusion_matrix"].dtype == np.int64
    np.testing.assert_array_equal(metrics["confusion_matrix"], expected)
    for c in range(3):
        assert metrics["per_class_accuracy"][c] == np.mean(pred[y == c] == c)
    assert np.isnan(metrics["per_class_accuracy"][3])
    assert model.training and nn.tape.last_call(model) is None  # mode restored, nothing recorded (no_grad)


def test_evaluate_uses_eval_mode():
    numconv.manual_seed(0)
    model = nn.Sequential(nn.Dropout(0.9), nn.Linear(3, 2))
    loader = DataLoader(TensorDataset(np.ones((8, 3), np.float32), np.zeros(8, np.int64)), batch_size=4)
    a = evaluate(model, loader, nn.CrossEntropyLoss())
    b = evaluate(model, loader, nn.CrossEntropyLoss())
    assert a["loss"] == b["loss"]  # no dropout noise
    assert np.isnan(evaluate(model, loader)["loss"])
    with pytest.raises(ValueError, match="no samples"):
        evaluate(model, [])


def test_plain_progress_lines_without_tqdm(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    model, optimizer, scheduler, train, val = _setup()
    fit(model, train, nn.CrossEntropyLoss(), optimizer, 1, val_loader=val, progress=True)
    out = capsys.readouterr().out
    assert "epoch 1/1 [8/8]" in out and "img/s" in out
    assert "val loss" in out and out.strip().splitlines()[-1].startswith("epoch 1/1  train loss")


def test_tqdm_bar_goes_to_stderr(capsys):
    pytest.importorskip("tqdm")
    model, optimizer, scheduler, train, val = _setup()
    fit(model, train, nn.CrossEntropyLoss(), optimizer, 1, progress=True)
    captured = capsys.readouterr()
    assert "epoch 1/1:" in captured.err and "/8 [" in captured.err  # the bar, on stderr
    assert captured.out.startswith("epoch 1/1  train loss") and "[8/8]" not in captured.out


def test_diverging_loss_is_a_clear_error():
    model, optimizer, scheduler, train, val = _setup()
    model[6].weight.data[...] = np.nan
    with pytest.raises(FloatingPointError, match="loss became nan at epoch 1/1, batch 1"):
        fit(model, train, nn.CrossEntropyLoss(), optimizer, 1, progress=False, log=lambda *a: None)


def test_bad_arguments():
    model, optimizer, scheduler, train, val = _setup()
    with pytest.raises(ValueError, match="epochs"):
        fit(model, train, nn.CrossEntropyLoss(), optimizer, -1)
    with pytest.raises(ValueError, match="scheduler_interval"):
        fit(model, train, nn.CrossEntropyLoss(), optimizer, 1, scheduler_interval="step")
