"""Exercise: write a Module with only ``forward`` (a small residual network) and train it.

The student writes the class (no ``backward``: the tape of layer calls
chains the layers' own backward passes) and the training loop, in
``train_forward_only(x, labels, state, lr, steps) -> (losses, dx)``. The
checker compares the loss of every step and the input gradient of the first
step with the same network trained by numconv (tested against PyTorch).
"""

from __future__ import annotations

import numpy as np

from .. import nn, optim
from ._base import exercise, values

__all__ = ["TRAIN_FORWARD_ONLY", "ReferenceNet"]


class ReferenceNet(nn.Module):
    """conv → ReLU → conv, plus the input (a residual), → ReLU → global average pool → linear.

    The flags build the usual wrong versions, for the hints.
    """

    def __init__(self, channels: int, classes: int, residual=True, final_relu=True):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, dtype=np.float64)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, dtype=np.float64)
        self.relu = nn.ReLU()
        self.add = nn.Add()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, classes, dtype=np.float64)
        self.residual, self.final_relu = residual, final_relu

    def forward(self, x):
        h = self.conv2(self.relu(self.conv1(x)))
        if self.residual:
            h = self.add(h, x)
        if self.final_relu:
            h = self.relu(h)
        h = self.pool(h)
        return self.fc(h.reshape(h.shape[0], -1))


def _train(x, labels, state, lr, steps, zero_grad=True, **flags) -> tuple:
    """(losses, dx of the first step) of ReferenceNet trained with plain SGD."""
    model = ReferenceNet(x.shape[1], len(state["fc.bias"]), **flags)
    model.load_state_dict(state)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    losses, first_dx = [], None
    for _ in range(steps):
        if zero_grad:
            optimizer.zero_grad()
        losses.append(criterion(model(x), labels))
        dx = model.backward(criterion.backward())
        first_dx = dx if first_dx is None else first_dx
        optimizer.step()
    return np.array(losses), np.asarray(first_dx)


CASES = [dict(N=1, C=1, H=3, steps=1), dict(N=2, C=2, H=4, steps=1), dict(N=2, C=2, H=4, steps=3),
         dict(N=4, C=3, H=5, steps=4)]
CLASSES = 3


def _inputs(case, rng) -> dict:
    c = case["C"]
    state = {"conv1.weight": values(rng, (c, c, 3, 3)) / 3, "conv1.bias": values(rng, (c,)) / 3,
             "conv2.weight": values(rng, (c, c, 3, 3)) / 3, "conv2.bias": values(rng, (c,)) / 3,
             "fc.weight": values(rng, (CLASSES, c)), "fc.bias": values(rng, (CLASSES,))}
    return {"x": values(rng, (case["N"], c, case["H"], case["H"])), "labels": rng.integers(0, CLASSES, case["N"]),
            "state": state, "lr": 0.1, "steps": case["steps"]}


def _reference(inputs) -> tuple:
    return _train(inputs["x"], inputs["labels"], inputs["state"], inputs["lr"], inputs["steps"])


def _mistakes(case, inputs, expected) -> dict:
    args = (inputs["x"], inputs["labels"], inputs["state"], inputs["lr"], inputs["steps"])
    found = {"losses": [], "dx": []}
    for flags, hint in [
        (dict(zero_grad=False), "the gradients pile up from step to step: call optimizer.zero_grad() (or "
                                "model.zero_grad()) before each backward pass"),
        (dict(residual=False), "the residual is missing: add the block's input to conv2's output, "
                               "h = self.add(h, x), before the last ReLU"),
        (dict(final_relu=False), "the ReLU after the residual sum is missing: h = self.relu(self.add(h, x))"),
    ]:
        losses, dx = _train(*args, **flags)
        found["losses"].append((losses, hint))
        found["dx"].append((dx, hint))
    return found


TRAIN_FORWARD_ONLY = exercise(
    "train_forward_only(x, labels, state, lr, steps) -> (losses, dx)", "a residual network with only forward, trained",
    cases=CASES, shrink_keys=("N", "C", "H", "steps"), minimum={"H": 1}, settings=("N", "steps"),
    make_inputs=_inputs, reference=_reference, mistakes=_mistakes)
