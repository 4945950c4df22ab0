"""train_forward_only: optimizer.zero_grad() forgotten, the gradients pile up."""

import numpy as np

HINT = 'the gradients pile up from step to step'


from numconv import nn, optim


class Net(nn.Module):
    """conv → ReLU → conv, plus the input, → ReLU → global average pool → linear. No backward: the tape does it."""

    def __init__(self, channels, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.relu = nn.ReLU()  # one instance, two calls: the tape keeps one cache per call
        self.add = nn.Add()  # the residual sum goes through a module, so backward sends its gradient both ways
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        h = self.conv2(self.relu(self.conv1(x)))
        h = self.relu(self.add(h, x))
        h = self.pool(h)
        return self.fc(h.reshape(h.shape[0], -1))  # a reshape is a view: the tape reshapes the gradient back


def train_forward_only(x, labels, state, lr, steps):
    """Train ``Net`` from ``state`` for ``steps`` SGD steps.

    Returns
    -------
    losses : ndarray, shape (steps,)
    dx : ndarray, shape of x: the input gradient of the first step
    """
    model = Net(x.shape[1], len(state["fc.bias"])).double()
    model.load_state_dict(state)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    losses, first_dx = [], None
    for _ in range(steps):
        losses.append(criterion(model(x), labels))
        dx = model.backward(criterion.backward())
        if first_dx is None:
            first_dx = dx
        optimizer.step()
    return np.array(losses), first_dx
