"""Exercise: write a Module with only ``forward`` (a small residual network), and train it.

Task
----
1. Write the class ``Net`` below with ``__init__`` and ``forward`` only, no
   ``backward``: numconv records each layer call of ``forward`` on a tape and
   ``model.backward(grad)`` replays it in reverse, calling each layer's own
   backward (see docs/writing-models.md). The network::

       h = conv2(relu(conv1(x)))        # conv1, conv2: Conv2d(channels, channels, 3, padding=1)
       h = relu(h + x)                  # the residual: WRITE IT WITH self.add = nn.Add(), not with +
       h = pool(h)                      # nn.AdaptiveAvgPool2d(1): (N, C, 1, 1)
       logits = fc(h.reshape(N, -1))    # nn.Linear(channels, classes)

   Name the layers ``conv1``, ``conv2`` and ``fc``: the checker gives you the
   starting weights as a state dict with the keys ``conv1.weight``,
   ``conv1.bias``, ``conv2.weight``, ``conv2.bias``, ``fc.weight``, ``fc.bias``.

2. Write ``train_forward_only(x, labels, state, lr, steps) -> (losses, dx)``:
   build the model in float64 (``Net(...).double()``), load ``state``, and
   run ``steps`` steps of plain SGD (``numconv.optim.SGD(model.parameters(),
   lr=lr)``) on the cross-entropy of ``model(x)`` against ``labels``. Return
   the loss of every step and the gradient with respect to ``x`` of the first
   step (what ``model.backward`` returns).

Shapes
------
x : (N, C, H, W); labels : (N,) ints; state : dict of arrays; lr : float; steps : int
->  losses : (steps,);  dx : (N, C, H, W)
"""

import numpy as np

from numconv import nn, optim


class Net(nn.Module):
    """The residual network above, with only forward."""

    def __init__(self, channels, classes):
        super().__init__()
        # TODO 1: the layers: conv1, conv2, one ReLU (it may be called twice), an nn.Add, the pool, fc.

    def forward(self, x):
        # TODO 2: the forward pass above. Combine arrays only through modules (self.add(h, x)): the tape
        #         cannot see NumPy arithmetic between layers, and backward will tell you so.
        raise NotImplementedError("Net.forward: fill in the TODOs")


def train_forward_only(x, labels, state, lr, steps):
    """The loss of every step, and dx of the first step."""
    # TODO 3: model = Net(x.shape[1], len(state["fc.bias"])).double(); model.load_state_dict(state)
    # TODO 4: for each step: optimizer.zero_grad(); loss = criterion(model(x), labels);
    #         dx = model.backward(criterion.backward()); optimizer.step(). Keep every loss and the first dx.
    raise NotImplementedError("train_forward_only: fill in the TODOs")
