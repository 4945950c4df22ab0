"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``."""

from __future__ import annotations

from collections import OrderedDict

from . import tape
from .module import Module


class Sequential(Module):
    """Run modules one after another; backward (the tape's replay) runs them in reverse.

    ``Sequential(a, b, c)`` names its children ``"0"``, ``"1"``, ``"2"``
    (so its ``state_dict`` keys are ``"0.weight"``, ... as in PyTorch);
    ``Sequential(OrderedDict(conv=a, act=b))`` uses the given names.

    Examples
    --------
    >>> import numconv.nn as nn
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    """

    _backward_reads_inputs = False  # each of its layers' calls is checked when it is differentiated

    def __init__(self, *modules):
        super().__init__()
        add_children(self, modules)

    def forward(self, x):
        # (In debug mode each child's call checks its own output: see numconv/nn/_debug.py.)
        for m in self._modules.values():
            x = m(x)
        return x

    def backward(self, grad_output=None):
        """Differentiate the last forward: each recorded call's backward, last call first.

        A chain is the tape's simplest case (``numconv/nn/tape.py``): every
        call feeds the next, so the gradient just passes from one to the one
        before, and a layer that appears twice uses each call's own cache.
        """
        return tape.replay_chain(self, grad_output)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        if isinstance(index, str):
            return self._modules[index]
        return items[index][1]

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self)), _checked_module(module, len(self)))
        return self


class ModuleList(Module):
    """A list of modules, registered so their parameters are found.

    It has no forward of its own; the module that owns it decides how to use it.
    """

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self._modules)), _checked_module(module, len(self._modules)))
        return self

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        return list(self._modules.values())[index]


class ModuleDict(Module):
    """A dict of modules, registered so their parameters are found."""

    def __init__(self, modules=None):
        super().__init__()
        for name, m in (modules or {}).items():
            self.add_module(str(name), _checked_module(m, name))

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(str(key), _checked_module(module, key))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()


def add_children(container: Module, modules: tuple) -> None:
    """Register ``modules`` as ``"0"``, ``"1"``, ..., or under the names of one ``OrderedDict`` passed alone.

    What ``Sequential(*modules)`` and ``Parallel(*branches)`` do with their arguments.
    """
    if len(modules) == 1 and isinstance(modules[0], OrderedDict):
        named = modules[0].items()
    else:
        named = enumerate(modules)
    for name, m in named:
        container.add_module(str(name), _checked_module(m, name))


def _checked_module(m, name):
    if not isinstance(m, Module):
        raise TypeError(f"expected a numconv Module at position/name {name!r}, got {type(m).__name__}")
    return m
