"""``TracedModel``: a traced PyTorch forward that branches, replayed with numconv layers.

Where the traced graph is not a chain (``x + self.conv(x)``, ``torch.cat``,
one submodule called at two places), ``from_torch`` builds this module: it
holds the converted submodules under their PyTorch names (so the
``state_dict`` keys are PyTorch's) and a *program*, the traced steps in
order, where ``+`` is an ``nn.Add``, ``torch.cat`` an ``nn.Cat`` and each
function call the numconv layer that computes it. Its ``forward`` runs the
program; it defines no ``backward``, so the tape of layer calls
differentiates it like any model written with a ``forward`` only.
"""

from __future__ import annotations

import numpy as np

from .. import nn

__all__ = ["TracedModel", "Ref"]


class Ref:
    """A reference to the result of an earlier step of the program."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


def _resolve(value, results):
    """``value`` with each :class:`Ref` replaced by its result, inside lists, tuples and dicts too."""
    if isinstance(value, Ref):
        return results[value.name]
    if isinstance(value, list):
        return [_resolve(v, results) for v in value]
    if isinstance(value, tuple):  # (a forward returning a tuple gives a tuple, as in torch)
        return tuple(_resolve(v, results) for v in value)
    if isinstance(value, dict):
        return {key: _resolve(v, results) for key, v in value.items()}
    return value


class TracedModel(nn.Module):
    """Run a program of steps over numconv layers (see the module docstring).

    Parameters
    ----------
    submodules : dict of str -> Module
        The converted PyTorch submodules, by dotted path (``"block.conv"``).
    program : list of (name, kind, target, args, kwargs)
        ``kind`` is ``"input"``, ``"module"`` (``target`` a path of
        ``submodules``), ``"layer"`` (``target`` an index into the function
        layers), ``"size"`` (``args = (ref, dim)``, ``dim`` None for the
        whole shape) or ``"output"``; ``args`` and ``kwargs`` (a dict, the
        keyword arguments of a module call such as ``output_size=``) hold
        :class:`Ref` s to earlier results and constants.
    layers : list of Module
        The layers made for function calls and merges (registered under
        ``fx_functions`` so ``train()`` / ``eval()`` reach them; they hold no state).
    """

    def __init__(self, submodules, program, layers):
        super().__init__()
        for path, module in submodules.items():
            self._place(path.split("."), module)
        self.fx_functions = nn.ModuleList(layers)
        object.__setattr__(self, "program", list(program))

    def _place(self, parts, module):
        owner = self
        for part in parts[:-1]:
            if part not in owner._modules:
                owner.add_module(part, nn.ModuleDict())
            owner = owner._modules[part]
        owner.add_module(parts[-1], module)

    def _find(self, path):
        module = self
        for part in path.split("."):
            module = module._modules[part]
        return module

    def forward(self, x):
        results = {}
        for name, kind, target, args, kwargs in self.program:
            if kind == "input":
                results[name] = x
            elif kind == "size":
                array, dim = _resolve(args, results)
                results[name] = np.shape(array) if dim is None else np.shape(array)[dim]
            elif kind == "output":
                return _resolve(args[0], results)
            else:
                layer = self._find(target) if kind == "module" else self.fx_functions[target]
                results[name] = layer(*_resolve(args, results),
                                      **{key: _resolve(value, results) for key, value in kwargs.items()})
        raise RuntimeError("TracedModel: the program has no output step")

    def extra_repr(self) -> str:
        return f"{len(self.program)} traced steps"
