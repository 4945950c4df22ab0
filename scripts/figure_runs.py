"""The training runs behind the pictures of the backward pass and docs/sanity-checks.md.

Everything runs on the bundled Fashion-MNIST sample (6,000 training and 2,000
test images, shipped with numconv), with fixed seeds, and prints the numbers
the docs quote. ``scripts/make_figures.py --only sanity`` and ``--only
training`` call these.
"""

from __future__ import annotations

import math
import os

import numpy as np

import numconv
import numconv.tools.viz
from numconv import nn, optim
from numconv.data import FashionMNISTSample
from numconv.models import LeNet5

MEAN, STD = 0.2860, 0.3530


def sample_arrays(train: bool) -> tuple:
    """The bundled sample as arrays: images (N, 1, 32, 32) normalised and padded like LeNet-5's input, labels."""
    data = FashionMNISTSample(train=train)
    images = np.stack([data[i][0] for i in range(len(data))]).astype(np.float32)
    labels = np.array([data[i][1] for i in range(len(data))])
    images = np.pad((images - MEAN) / STD, ((0, 0), (0, 0), (2, 2), (2, 2)))
    return images, labels, list(data.classes), data


def train(model, images, labels, *, lr, steps, batch=64, momentum=0.9, seed=0, optimizer="sgd", record=None):
    """Plain SGD (or Adam) steps on shuffled batches; returns the loss of every step (NaN once it diverged)."""
    opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum) if optimizer == "sgd" else \
        optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    order, losses = np.array([], dtype=int), []
    model.train()
    for _ in range(steps):
        if order.size < batch:
            order = np.concatenate([order, rng.permutation(len(images))])
        index, order = order[:batch], order[batch:]
        with np.errstate(all="ignore"):
            loss = criterion(model(images[index]), labels[index])
            losses.append(float(loss))
            if not math.isfinite(loss):
                return losses + [float("nan")] * (steps - len(losses))
            model.zero_grad()
            model.backward(criterion.backward())
            if record is not None:
                record(model)
            opt.step()
    return losses


def accuracy(model, images, labels) -> float:
    model.eval()
    with numconv.no_grad():
        predicted = np.concatenate([np.asarray(model(images[i:i + 500])).argmax(axis=1)
                                    for i in range(0, len(images), 500)])
    return float((predicted == labels).mean())


def lenet(seed=0, scale=1.0, **kwargs):
    numconv.manual_seed(seed)
    model = LeNet5(**kwargs)
    for name, param in model.named_parameters():
        if name.endswith("weight"):
            param.data *= scale
    return model


def small_cnn(batch_norm: bool, seed=0):
    """Two 3×3 conv blocks (ReLU, max pool) and a linear classifier, with or without batch norm."""
    numconv.manual_seed(seed)
    layers = []
    for c_in, c_out in ((1, 8), (8, 16)):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batch_norm)]
        layers += [nn.BatchNorm2d(c_out)] if batch_norm else []
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(16 * 8 * 8, 10))


# ---------------------------------------------------------------------------------------------- the experiments
def initial_loss(images, labels) -> dict:
    """The loss of untrained networks on the test images: about ln 10 when the initialisation is sane."""
    criterion = nn.CrossEntropyLoss()
    found = {}
    for label, model in (("LeNet-5, default init", lenet()), ("LeNet-5, weights x10", lenet(scale=10.0)),
                         ("small CNN with batch norm", small_cnn(True))):
        model.eval()
        with numconv.no_grad():
            found[label] = float(criterion(model(images[:1000]), labels[:1000]))
    return found


def overfit_fifty(images, labels, steps=200) -> tuple:
    """Train LeNet-5 on 50 images only: the loss must go to about 0 and the accuracy on them to 100 %."""
    model = lenet()
    losses = train(model, images[:50], labels[:50], lr=0.05, steps=steps, batch=50, momentum=0.9)
    return losses, accuracy(model, images[:50], labels[:50])


def learning_rates(images, labels, test_images, test_labels, steps=300) -> dict:
    runs = {}
    for lr in (0.001, 0.05, 0.5, 5.0):
        model = lenet()
        losses = train(model, images, labels, lr=lr, steps=steps)
        runs[f"lr {lr:g}"] = (losses, accuracy(model, test_images, test_labels))
    return runs


def saturation(model, images) -> dict:
    """The fraction of each tanh layer's outputs beyond +-0.99 (where tanh's slope is below 0.02)."""
    return {name: float(np.mean(np.abs(out) > 0.99))
            for name, module, out in numconv.tools.viz.layer_outputs(model, images) if isinstance(module, nn.Tanh)}


def initialisations(images, labels, test_images, test_labels, steps=300) -> tuple:
    """Default init, weights x5 (tanh saturates), all weights zero (every unit the same).

    Returns the runs (losses, test accuracy), the gradient norms per layer at every step, and the saturated
    fraction of every tanh layer (on 256 test images) every 10 steps.
    """
    runs, norms, saturated = {}, {}, {}
    for label, scale in (("default init", 1.0), ("weights x5", 5.0), ("weights all zero", 0.0)):
        model = lenet(scale=scale)
        records, fractions = [], []

        def record(m):
            records.append(numconv.tools.viz.gradient_norms(m))
            if len(records) % 10 == 1:
                fractions.append(saturation(m, test_images[:256]))

        losses = train(model, images, labels, lr=0.05, steps=steps, record=record)
        runs[label] = (losses, accuracy(model, test_images, test_labels))
        norms[label], saturated[label] = records, fractions
    return runs, norms, saturated


def batch_norm_runs(images, labels, test_images, test_labels, steps=300) -> dict:
    runs = {}
    for lr in (0.05, 0.15, 0.3):
        for bn in (False, True):
            model = small_cnn(bn)
            losses = train(model, images, labels, lr=lr, steps=steps)
            runs[f"{'with' if bn else 'without'} batch norm, lr {lr:g}"] = (losses, accuracy(model, test_images,
                                                                                                 test_labels))
    return runs


def report(name: str, runs: dict) -> None:
    """Print each run's first and last losses (mean of 20 steps) and test accuracy."""
    print(f"{name}:")
    for label, (losses, acc) in runs.items():
        losses = np.asarray(losses)
        print(f"  {label:34s} loss {np.mean(losses[:20]):8.4f} -> {np.mean(losses[-20:]):8.4f}   "
              f"test accuracy {100 * acc:5.1f} %")


def out_path(out: str, name: str) -> str:
    return os.path.join(out, name)
