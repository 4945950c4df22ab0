"""PyTorch twins of what ``torch.nn`` does not have: the merge modules, and Modules with their own ``forward``.

* ``nn.Add``, ``nn.Cat``, ``nn.Residual``, ``nn.Parallel`` become small ``torch.nn.Module``
  classes of the same names, with the same attribute names (so the same ``state_dict`` keys),
  the same ``extra_repr`` and the same arithmetic (``torch.cat``, ``+``).
* A numconv Module subclass with its own ``forward`` (the ResNets, a user's model) becomes an
  instance of a generated ``torch.nn.Module`` subclass of the same name whose ``forward`` is the
  numconv class's own ``forward`` code, run on tensors: the children are converted under the same
  names and the plain attributes (``stride``, ``hparams``, ``downsample = None``) copied. This works
  when ``forward`` only calls submodules and uses what arrays and tensors share (``x.shape``,
  ``x.reshape(n, -1)``, ``if self.downsample is not None``); NumPy functions in a ``forward`` fail
  there with torch's own error. ``from_torch`` turns such a twin back into the numconv class.
* A ``Sequential`` subclass that only adds a constructor (``LeNet5``, ``VGG``, ``Autoencoder``, a user's)
  becomes an instance of a generated ``torch.nn.Sequential`` subclass of the same name, with the same
  plain attributes (``hparams``, ``input_shape``), so that ``from_torch`` gives the class back too
  rather than a plain ``Sequential``.

torch is imported on first use only (``classes(torch)``).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import nn

_CACHE = {}
_NUMCONV_ROOTS = ("numconv.nn",)


def classes(torch) -> dict:
    """The torch twins of the merge modules, built once: ``{"Add": cls, "Cat": cls, ...}``."""
    if "merge" not in _CACHE:
        _CACHE["merge"] = _merge_classes(torch)
    return _CACHE["merge"]


def _merge_classes(torch) -> dict:
    class Add(torch.nn.Module):
        """``a + b + ...`` as a module (numconv.nn.Add)."""

        def forward(self, *xs):
            out = xs[0]
            for x in xs[1:]:
                out = out + x
            return out

    class Cat(torch.nn.Module):
        """``torch.cat(xs, dim)`` as a module (numconv.nn.Cat)."""

        def __init__(self, dim=1):
            super().__init__()
            self.dim = dim

        def forward(self, *xs):
            return torch.cat(xs, self.dim)

        def extra_repr(self):
            return f"dim={self.dim}"

    class Residual(torch.nn.Module):
        """``body(x) + shortcut(x)`` (``+ x`` without a shortcut), as numconv.nn.Residual."""

        def __init__(self, body, shortcut=None):
            super().__init__()
            self.body = body
            self.shortcut = shortcut

        def forward(self, x):
            return self.body(x) + (x if self.shortcut is None else self.shortcut(x))

    class Parallel(torch.nn.Module):
        """Branches ``"0"``, ``"1"``, ... on one input, concatenated along ``dim`` or added (numconv.nn.Parallel)."""

        def __init__(self, branches, merge="cat", dim=1):
            super().__init__()
            for name, branch in branches.items():
                self.add_module(name, branch)
            self.merge, self.dim = merge, dim

        def forward(self, x):
            outs = [branch(x) for branch in self._modules.values()]
            if self.merge == "cat":
                return torch.cat(outs, self.dim)
            return sum(outs[1:], outs[0])

        def extra_repr(self):
            return f"merge={self.merge!r}" + (f", dim={self.dim}" if self.merge == "cat" else "")

    for cls in (Add, Cat, Residual, Parallel):
        cls.__module__ = "numconv.interop.twins"
        cls.__qualname__ = cls.__name__
        cls.__reduce__ = _reduce_merge_twin
    return {"Add": Add, "Cat": Cat, "Residual": Residual, "Parallel": Parallel}


# Pickling (torch.save of a whole converted model): the twin classes are made at run time, so pickle cannot find
# them by name; an instance is rebuilt instead from what names them (the merge's name, or the numconv class,
# which pickle finds by reference) and its torch state.
def _reduce_merge_twin(self):
    return _new_merge_twin, (type(self).__name__,), self.__getstate__()


def _reduce_custom_twin(self):
    return _new_custom_twin, (type(self)._numconv_class,), self.__getstate__()


def _new_merge_twin(name):
    """An empty instance of the merge twin called ``name`` (pickle then sets its state)."""
    import torch

    cls = classes(torch)[name]
    return cls.__new__(cls)


def _new_custom_twin(numconv_class):
    """An empty instance of the twin of ``numconv_class`` (pickle then sets its state)."""
    import torch

    if issubclass(numconv_class, nn.Sequential):
        cls = _sequential_twin_class(numconv_class, torch)
    else:
        cls = _twin_class(numconv_class, torch)
    return cls.__new__(cls)


# ---------------------------------------------------------------------------- numconv -> torch
def merge_to_torch(module, children: OrderedDict, torch):
    """The torch twin of a merge module, or None when ``module`` is not one."""
    twins = classes(torch)
    # Subclasses that only add a constructor (GoogLeNet's Inception is a Parallel) convert as their base.
    if _is(module, nn.Add):
        return twins["Add"]()
    if _is(module, nn.Cat):
        return twins["Cat"](module.dim)
    if _is(module, nn.Residual):
        return twins["Residual"](children["body"], children.get("shortcut"))
    if _is(module, nn.Parallel):
        return twins["Parallel"](children, module.merge, getattr(module.join, "dim", 1))
    return None


def _is(module, cls) -> bool:
    return isinstance(module, cls) and type(module).forward is cls.forward


def has_own_forward(module) -> bool:
    """A Module subclass written outside ``numconv.nn`` that defines ``forward`` but not ``backward`` (a model)."""
    if not isinstance(module, nn.Module):
        return False
    owner = next(klass for klass in type(module).__mro__ if "forward" in vars(klass))
    # A layer with a hand-written NumPy backward computes in NumPy: its forward cannot run on tensors.
    backward_owner = next(klass for klass in type(module).__mro__ if "backward" in vars(klass))
    return not owner.__module__.startswith(_NUMCONV_ROOTS) and backward_owner.__module__.startswith(_NUMCONV_ROOTS)


def custom_to_torch(module, children: OrderedDict, torch):
    """A generated torch Module running ``module``'s class's ``forward`` on the converted children."""
    twin_cls = _twin_class(type(module), torch)
    twin = twin_cls()
    for name, child in children.items():
        twin.add_module(name, child)
    for name, value in _plain_attributes(module).items():
        setattr(twin, name, value)
    dtype = torch.float64 if module.dtype == np.float64 else torch.float32
    for name, p in module._parameters.items():
        twin.register_parameter(name, None if p is None else
                                torch.nn.Parameter(torch.zeros(p.shape, dtype=dtype), p.requires_grad))
    for name, b in module._buffers.items():
        twin.register_buffer(name, None if b is None else torch.from_numpy(np.array(b, copy=True)))
    return twin


def _twin_namespace(cls, what: str) -> dict:
    """The class attributes every generated twin of ``cls`` has: its name, its numconv class, how it pickles."""
    return {"__module__": "numconv.interop.twins", "__qualname__": cls.__name__, "_numconv_class": cls,
            "__reduce__": _reduce_custom_twin, "__doc__": f"PyTorch {what} of {cls.__module__}.{cls.__qualname__}."}


def _twin_class(cls, torch):
    key = ("twin", cls)
    if key not in _CACHE:
        namespace = _twin_namespace(cls, "twin (running its forward code)")
        for klass in reversed(cls.__mro__[:cls.__mro__.index(nn.Module)]):
            for name, value in vars(klass).items():
                if not (name.startswith("__") or name in ("backward", "_numconv_class") or isinstance(value, property)):
                    namespace[name] = value
        _CACHE[key] = type(cls.__name__, (torch.nn.Module,), namespace)
    return _CACHE[key]


def sequential_to_torch(module, children: OrderedDict, torch):
    """A torch ``Sequential`` of ``children`` whose class is named like ``module``'s, with its plain attributes."""
    twin = _sequential_twin_class(type(module), torch)(children)
    for name, value in _plain_attributes(module).items():
        setattr(twin, name, value)
    return twin


def _sequential_twin_class(cls, torch):
    key = ("sequential twin", cls)
    if key not in _CACHE:
        _CACHE[key] = type(cls.__name__, (torch.nn.Sequential,), _twin_namespace(cls, "Sequential twin"))
    return _CACHE[key]


def _plain_attributes(module) -> dict:
    """Instance attributes that are not state: ``stride``, ``hparams``, ``input_shape``, a child set to None."""
    out = {name: None for name, child in module._modules.items() if child is None}
    for name, value in vars(module).items():
        if not name.startswith("_") and name != "training" and not isinstance(value, (nn.Module, np.ndarray)):
            out[name] = value
    return out


# ---------------------------------------------------------------------------- torch -> numconv
def is_twin(module) -> bool:
    """True for a module whose class :func:`merge_to_torch` or :func:`custom_to_torch` made."""
    cls = type(module)
    return cls in _CACHE.get("merge", {}).values() or getattr(cls, "_numconv_class", None) is not None


def merge_from_torch(module, children: OrderedDict):
    """The numconv merge module for a twin made by :func:`merge_to_torch`, or None."""
    name = type(module).__name__
    if type(module) not in _CACHE.get("merge", {}).values():
        return None
    if name == "Add":
        return nn.Add()
    if name == "Cat":
        return nn.Cat(module.dim)
    if name == "Residual":
        return nn.Residual(children["body"], children.get("shortcut"))
    return nn.Parallel(children, merge=module.merge, dim=module.dim)


def custom_from_torch(module, children: OrderedDict):
    """The numconv model a generated twin came from (same class, children and plain attributes), or None."""
    cls = getattr(type(module), "_numconv_class", None)
    if cls is None:
        return None
    ours = cls.__new__(cls)
    nn.Module.__init__(ours)
    for name, child in children.items():
        setattr(ours, name, child)
    for name, value in vars(module).items():
        if not name.startswith("_") and name != "training":
            setattr(ours, name, value)
    for name in module._modules:
        if module._modules[name] is None:
            setattr(ours, name, None)
    for name, p in module._parameters.items():
        setattr(ours, name, None if p is None else nn.Parameter(p.detach().cpu().numpy().copy()))
    for name, b in module._buffers.items():
        ours.register_buffer(name, None if b is None else b.detach().cpu().numpy().copy())
    return ours
