"""The training loop: ``fit`` and ``evaluate``, with checkpoints you can resume bit for bit.

One training step is the manual-backprop contract spelled out::

    optimizer.zero_grad()
    logits = model(x)                      # forward; layers keep their caches
    loss = criterion(logits, y)            # a float
    model.backward(criterion.backward())   # gradients accumulate into p.grad
    optimizer.step()

``fit`` runs that over the training loader for some epochs, evaluates on a
validation loader after each one, and (with ``out_dir``) writes the history
as JSON and CSV and a checkpoint after every epoch: ``last.npz``, and
``best.npz`` whenever the validation accuracy improves. A checkpoint holds
the model, optimizer, scheduler, numconv's random-generator state and the
loader's shuffling state, so ``fit(..., resume=True)`` continues exactly as
if the run had never stopped: the weights after 2 epochs + resume 1 equal
those after 3 straight epochs, bit for bit.

Every file is replaced atomically (see ``numconv.checkpoint.atomic_write``),
so a run killed at any moment, even with SIGKILL in the middle of writing a
checkpoint, leaves the previous ``last.npz`` intact; resuming repeats the
interrupted epoch and ends with the same weights as a run never killed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import time

import numpy as np

from . import _random
from ._state import no_grad
from .checkpoint import atomic_write, load_checkpoint, save_checkpoint

__all__ = ["fit", "evaluate", "train_one_epoch"]


# ---------------------------------------------------------------------------- evaluate
def evaluate(model, loader, criterion=None, num_classes: int | None = None) -> dict:
    """Loss and accuracy of ``model`` over every batch of ``loader``.

    Runs in eval mode (batch norm uses running statistics, dropout is off)
    under ``numconv.no_grad()``; the model's previous mode is restored.

    Parameters
    ----------
    model : Module
        Maps a batch (N, ...) to logits (N, num_classes).
    loader : iterable of (x, y)
        ``y`` holds int class labels, shape (N,).
    criterion : loss module, optional
        Called as ``criterion(logits, y)`` returning the batch mean; without
        it ``loss`` is NaN.
    num_classes : int, optional
        Size of the confusion matrix (default: the logits' width).

    Returns
    -------
    dict with
        ``loss`` (float, mean over samples), ``accuracy`` (float in [0, 1]),
        ``per_class_accuracy`` (ndarray (num_classes,), NaN for a class with
        no samples), ``confusion_matrix`` (int64 ndarray (num_classes,
        num_classes); row = true class, column = predicted) and ``n`` (int).
    """
    was_training = model.training
    model.eval()
    total_loss, n = 0.0, 0
    confusion = None
    try:
        with no_grad():
            for x, y in loader:
                logits = model(x)
                y = np.asarray(y)
                if confusion is None:
                    k = int(num_classes or logits.shape[1])
                    confusion = np.zeros((k, k), dtype=np.int64)
                if criterion is not None:
                    total_loss += float(criterion(logits, y)) * len(y)
                pred = logits.argmax(axis=1)
                k = confusion.shape[0]
                # bincount over (true, predicted) pairs fills the matrix in one pass.
                confusion += np.bincount(y.astype(np.int64) * k + pred, minlength=k * k).reshape(k, k)
                n += len(y)
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("evaluate: the loader yielded no samples")
    per_class_total = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.diag(confusion) / per_class_total
    return {
        "loss": total_loss / n if criterion is not None else math.nan,
        "accuracy": float(np.trace(confusion) / n),
        "per_class_accuracy": per_class,
        "confusion_matrix": confusion,
        "n": n,
    }


# ---------------------------------------------------------------------------- one epoch
class _Progress:
    """A tqdm bar when available and wanted; otherwise a few plain lines per epoch."""

    def __init__(self, total, desc, enabled, log):
        self.bar = None
        self.total, self.desc, self.enabled, self.log = total, desc, enabled, log
        self.next_print = 0.1
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:  # plain prints instead
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True,
                                file=sys.stderr)

    def update(self, step, loss, acc, rate):
        if self.bar is not None:
            self.bar.set_postfix_str(f"loss {loss:.4f}  acc {100 * acc:.2f}%  {rate:,.0f} img/s", refresh=False)
            self.bar.update(1)
        elif self.enabled and self.total and (step / self.total >= self.next_print or step == self.total):
            self.log(f"  {self.desc} [{step}/{self.total}]  loss {loss:.4f}  acc {100 * acc:.2f}%  {rate:,.0f} img/s")
            self.next_print += 0.1

    def close(self):
        if self.bar is not None:
            self.bar.close()


def train_one_epoch(model, loader, criterion, optimizer, scheduler=None, scheduler_interval="epoch",
                    progress=False, desc="train", log=print) -> dict:
    """One pass over ``loader``: forward, loss, backward, step, for every batch.

    Returns
    -------
    dict with ``loss`` (mean over samples), ``accuracy``, ``n`` (samples),
    ``seconds`` and ``images_per_s``.
    """
    model.train()
    total = len(loader) if hasattr(loader, "__len__") else None
    bar = _Progress(total, desc, progress, log)
    loss_sum, correct, n = 0.0, 0, 0
    start = time.perf_counter()
    try:
        for step, (x, y) in enumerate(loader, 1):
            if hasattr(optimizer, "zero_grad"):
                optimizer.zero_grad()
            else:
                model.zero_grad()
            logits = model(x)
            y = np.asarray(y)
            loss = float(criterion(logits, y))
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f"fit: the training loss became {loss} at {desc}, batch {step} (try a lower learning rate)"
                )
            model.backward(criterion.backward())
            optimizer.step()
            if scheduler is not None and scheduler_interval == "batch":
                scheduler.step()
            b = len(y)
            n += b
            loss_sum += loss * b
            correct += int(np.count_nonzero(logits.argmax(axis=1) == y))
            elapsed = time.perf_counter() - start
            bar.update(step, loss_sum / n, correct / n, n / max(elapsed, 1e-9))
    finally:
        bar.close()
    if n == 0:
        raise ValueError("fit: the training loader yielded no batches")
    seconds = time.perf_counter() - start
    return {"loss": loss_sum / n, "accuracy": correct / n, "n": n, "seconds": seconds,
            "images_per_s": n / max(seconds, 1e-9)}


# ---------------------------------------------------------------------------- fit
def fit(model, train_loader, criterion, optimizer, epochs: int, val_loader=None, scheduler=None, out_dir=None,
        resume=False, seed: int | None = None, progress: bool = True, config: dict | None = None,
        scheduler_interval: str = "epoch", log=print, on_resume=None) -> list:
    """Train ``model`` for ``epochs`` epochs (in total, counting resumed ones).

    Parameters
    ----------
    model : Module
    train_loader : iterable of (x, y)
        Batches (N, ...) float and (N,) int labels. If it has
        ``state_dict``/``load_state_dict`` (numconv's ``DataLoader``), its
        shuffling state is checkpointed and restored.
    criterion : loss module
        ``criterion(logits, y) -> float`` and ``criterion.backward() -> dlogits``.
    optimizer : numconv optimizer
    epochs : int
        The epoch to stop after (a resumed run that already did 2 of 3 does 1).
    val_loader : iterable, optional
        Evaluated after each epoch (``val_loss``, ``val_acc``); ``best.npz``
        follows its accuracy.
    scheduler : LR scheduler, optional
        Stepped once per epoch (after validation), or per batch with
        ``scheduler_interval="batch"``. ``ReduceLROnPlateau`` receives the
        validation loss (the training loss without a validation loader).
    out_dir : str, optional
        Where ``last.npz``, ``best.npz``, ``history.json`` and
        ``history.csv`` are written (created if missing).
    resume : bool or str
        ``True``: continue from ``out_dir/last.npz``; a path: from that
        checkpoint. Restores model, optimizer, scheduler, numconv's random
        state, the loader's state, the epoch and the history.
    seed : int, optional
        For a fresh run, ``numconv.manual_seed(seed)`` before the first
        epoch (dropout masks, random crops). Ignored when resuming.
    progress : bool
        A tqdm bar per epoch (plain lines if tqdm is not installed).
    config : dict, optional
        JSON-able settings stored in each checkpoint (model name and kwargs,
        data transform, ...), so tools can rebuild the model.
    log : callable
        Where the one-line summaries go (``print`` by default).
    on_resume : callable, optional
        Called as ``on_resume(checkpoint)`` after a resumed state is
        restored, before the first epoch (``numconv train`` re-plans its
        schedule there when ``epochs`` changed).

    Returns
    -------
    history : list of dict
        One entry per epoch: ``epoch``, ``lr``, ``train_loss``, ``train_acc``,
        ``val_loss``, ``val_acc`` (with a validation loader), ``seconds``,
        ``images_per_s``.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
    if resume and out_dir is None and not isinstance(resume, (str, os.PathLike)):
        raise ValueError("fit: resume=True needs out_dir (where last.npz is), or pass the checkpoint path")
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
    loader_state = train_loader if hasattr(train_loader, "load_state_dict") else None

    history, start = [], 0
    if resume:
        path = os.fspath(resume) if isinstance(resume, (str, os.PathLike)) else os.path.join(out_dir, "last.npz")
        if not os.path.exists(path):
            raise FileNotFoundError(f"fit: cannot resume: there is no checkpoint at '{path}'")
        ckpt = load_checkpoint(path, model, optimizer, scheduler, loader_state, restore_rng=True)
        history, start = ckpt.history, ckpt.epoch
        log(f"resumed from {path} after epoch {start}")
        if on_resume is not None:
            on_resume(ckpt)
    elif seed is not None:
        _random.manual_seed(seed)

    best = max((h["val_acc"] for h in history if "val_acc" in h), default=-math.inf)
    for epoch in range(start, int(epochs)):
        lr = _current_lr(optimizer)
        stats = train_one_epoch(model, train_loader, criterion, optimizer, scheduler, scheduler_interval,
                                progress=progress, desc=f"epoch {epoch + 1}/{epochs}", log=log)
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": stats["loss"], "train_acc": stats["accuracy"]}
        if val_loader is not None:
            metrics = evaluate(model, val_loader, criterion)
            row.update(val_loss=metrics["loss"], val_acc=metrics["accuracy"])
        row.update(seconds=stats["seconds"], images_per_s=stats["images_per_s"])
        if scheduler is not None and scheduler_interval == "epoch":
            if type(scheduler).__name__ == "ReduceLROnPlateau":
                scheduler.step(row.get("val_loss", row["train_loss"]))
            else:
                scheduler.step()
        history.append(row)
        log(_summary(row, epochs))
        if out_dir is not None:
            state = dict(model=model, optimizer=optimizer, scheduler=scheduler, loader=loader_state,
                         epoch=epoch + 1, history=history, config=config)
            # last.npz is the commit point of the epoch, so it is written after best.npz: a run
            # killed in between redoes this epoch on resume and rewrites best.npz identically,
            # whereas the other order could leave an improved epoch out of best.npz for good.
            if row.get("val_acc", -math.inf) > best:
                best = row["val_acc"]
                save_checkpoint(os.path.join(out_dir, "best.npz"), **state)
            save_checkpoint(os.path.join(out_dir, "last.npz"), **state)
            _write_history(out_dir, history)  # a view of last.npz's history, never ahead of it
    return history


def _current_lr(optimizer):
    groups = getattr(optimizer, "param_groups", None)
    return float(groups[0]["lr"]) if groups else None


def _summary(row, epochs) -> str:
    text = (f"epoch {row['epoch']}/{epochs}  train loss {row['train_loss']:.4f}  "
            f"acc {100 * row['train_acc']:.2f}%")
    if "val_acc" in row:
        text += f"  |  val loss {row['val_loss']:.4f}  acc {100 * row['val_acc']:.2f}%"
    return text + f"  |  {row['seconds']:.1f} s, {row['images_per_s']:,.0f} img/s"


def _write_history(out_dir, history) -> None:
    """``history.json`` and ``history.csv``, each replaced atomically."""
    text = json.dumps(history, indent=2)
    atomic_write(os.path.join(out_dir, "history.json"), lambda f: f.write(text.encode()))
    columns = list(dict.fromkeys(k for row in history for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    atomic_write(os.path.join(out_dir, "history.csv"), lambda f: f.write(buffer.getvalue().encode()))
