"""Optimisers and learning-rate schedules, step for step those of ``torch.optim``.

::

    from numconv import optim
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5)
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            model.backward(criterion.backward())
            optimizer.step()
        scheduler.step()

Every optimiser updates ``param.data`` in place, in the parameter's own
dtype, and its ``state_dict()`` holds plain values only (see
:mod:`numconv.optim.optimizer`).
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
