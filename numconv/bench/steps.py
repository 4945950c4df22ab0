"""The training step the suite times (W8, W10), on each side, for scripts that time it too.

``benchmarks/profile_step.py`` profiles the same step the W10 workload times.
"""

from __future__ import annotations

__all__ = ["training_step", "torch_training_step"]


def training_step(net, x, y):
    """A training step of ``net`` to time: cross-entropy, backward, SGD (lr 0.01, momentum 0.9).

    Parameters
    ----------
    net : numconv.nn.Module
    x : ndarray, shape (N, *image_shape); y : ndarray of int, shape (N,)

    Returns
    -------
    callable
        ``step()``, one step on ``(x, y)`` each call.
    """
    from ..nn import CrossEntropyLoss
    from ..optim import SGD

    criterion = CrossEntropyLoss()
    optimizer = SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step():
        optimizer.zero_grad()
        criterion(net(x), y)
        net.backward(criterion.backward())
        optimizer.step()
    return step


def torch_training_step(torch, net, x, y):
    """``training_step`` for a ``torch.nn.Module`` (the same loss and optimiser); ``x``, ``y`` NumPy arrays."""
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()
        optimizer.step()
    return step
