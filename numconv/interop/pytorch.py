"""Convert between numconv modules and PyTorch modules, weights and buffers included.

numconv's layers carry PyTorch's names, constructor arguments, attribute
names, parameter shapes and ``extra_repr`` text, so the conversion is
generic: for a layer ``numconv.nn.X`` we build ``torch.nn.X`` from the
attributes named like the other side's constructor arguments, copy the
``state_dict``, and then check that both sides print the same
``extra_repr`` (which lists every hyper-parameter), so a silently dropped
setting cannot slip through. Containers (``Sequential`` and its subclasses
such as ``LeNet5``, ``ModuleList``, ``ModuleDict``) are converted child by
child under the same names, so ``state_dict`` keys are identical (a
subclass becomes a torch ``Sequential`` of a class with its name, so it
comes back as itself). The
merge modules (``Add``, ``Cat``, ``Residual``, ``Parallel``) and Modules
with their own ``forward`` (the ResNets) get generated torch twins (see
``_twins``) and come back from them as what they were.

torch is imported on first use only.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict

import numpy as np

from .. import nn

__all__ = ["to_torch", "from_torch"]

# Constructor arguments that are not hyper-parameters of the layer.
_SKIP_ARGS = {"self", "device", "dtype", "args", "kwargs"}


def _torch():
    try:
        import torch
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("numconv.interop needs PyTorch (pip install torch)") from error
    return torch


def _init_args(cls) -> list:
    try:
        params = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return []
    return [name for name, p in params.items()
            if name not in _SKIP_ARGS and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _hyperparameters(source, target_cls, convert) -> dict:
    """Constructor kwargs for ``target_cls`` read from ``source``'s attributes of the same names."""
    kwargs = {}
    for name in _init_args(target_cls):
        if not _has_attribute(source, name):
            continue  # the constructor's default applies; the repr check below catches a difference
        value = getattr(source, name)
        if name == "bias" and not isinstance(value, bool):
            value = value is not None  # the attribute is the bias parameter itself (or None)
        kwargs[name] = convert(value)
    return kwargs


def _has_attribute(obj, name) -> bool:
    try:
        getattr(obj, name)
    except AttributeError:
        return False
    return True


def _check_same_repr(ours, theirs, path) -> None:
    a, b = ours.extra_repr(), theirs.extra_repr()
    if a != b:
        raise TypeError(
            f"cannot convert {type(ours).__name__} at '{path or '<root>'}': the settings differ after conversion "
            f"(numconv: {a!r}, torch: {b!r})"
        )


def _unsupported(module, path, side) -> TypeError:
    return TypeError(
        f"cannot convert {type(module).__module__}.{type(module).__name__} at '{path or '<root>'}' "
        f"to {side}: no matching layer type (supported: Sequential, ModuleList, ModuleDict, Add, Cat, Residual, "
        f"Parallel, models with their own forward and no backward, and the layers both libraries share, such "
        f"as Conv2d, Linear, BatchNorm2d, MaxPool2d, ReLU, Dropout, Flatten)"
    )


# ---------------------------------------------------------------------------- numconv -> torch
def to_torch(model):
    """A ``torch.nn.Module`` equal to ``model``: same layers, names, weights, buffers, modes and frozen parameters.

    Parameters
    ----------
    model : numconv.nn.Module
        A layer, or a ``Sequential`` / ``ModuleList`` / ``ModuleDict`` tree
        of layers (the ``numconv.models`` networks are such trees).

    Returns
    -------
    torch.nn.Module
        In the dtype of ``model``'s parameters (float32 -> ``torch.float32``,
        float64 -> ``torch.float64``); a ``Sequential`` subclass (``LeNet5``)
        becomes a ``torch.nn.Sequential`` of a generated class of the same
        name, with the same ``state_dict`` keys and plain attributes, which
        ``from_torch`` turns back into the numconv class.

    Raises
    ------
    TypeError
        Naming the first layer (and its path) that has no PyTorch twin.
    """
    torch = _torch()
    converted = _to_torch(model, "", torch, {})
    state = {k: torch.from_numpy(np.array(v, copy=True)) for k, v in model.state_dict().items()}
    converted.load_state_dict(state, strict=True)
    _copy_modes(model, converted, lambda p, flag: p.requires_grad_(flag))
    return converted


def _to_torch(module, path, torch, converted):
    """The twin of ``module``; ``converted`` maps id(module) to twins made so far, so a module registered
    twice (weight tying) becomes one shared torch module."""
    if id(module) not in converted:
        converted[id(module)] = _new_torch_twin(module, path, torch, converted)
    return converted[id(module)]


def _new_torch_twin(module, path, torch, converted):
    if not isinstance(module, nn.Module):
        raise TypeError(f"to_torch: expected a numconv Module at '{path or '<root>'}', got {type(module).__name__}")
    children = OrderedDict((name, _to_torch(child, f"{path}.{name}" if path else name, torch, converted))
                           for name, child in module.named_children())
    if isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward:
        # LeNet5 and friends only add a constructor: a Sequential of a class named like theirs, which
        # from_torch turns back into their class. (A subclass with its own forward computes something
        # else: a twin running that forward, below.)
        if type(module) is nn.Sequential:
            return torch.nn.Sequential(children)
        from . import _twins

        return _twins.sequential_to_torch(module, children, torch)
    if isinstance(module, nn.ModuleList):
        return torch.nn.ModuleList(list(children.values()))
    if isinstance(module, nn.ModuleDict):
        return torch.nn.ModuleDict(children)
    twin = _twin_to_torch(module, children, torch)
    if twin is not None:
        return twin
    name = type(module).__name__
    cls = getattr(torch.nn, name, None)
    if (children or cls is None or not type(module).__module__.startswith("numconv.nn")
            or not (isinstance(cls, type) and issubclass(cls, torch.nn.Module))):
        raise _unsupported(module, path, "torch")

    def convert(value):
        return torch.from_numpy(np.array(value, copy=True)) if isinstance(value, np.ndarray) else value

    theirs = cls(**_hyperparameters(module, cls, convert))
    dtype = module.dtype
    if dtype is not None:
        theirs = theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    _check_same_repr(module, theirs, path)
    return theirs


# ---------------------------------------------------------------------------- torch -> numconv
def from_torch(module):
    """A numconv module equal to the ``torch.nn.Module`` ``module``.

    Parameters
    ----------
    module : torch.nn.Module
        A layer numconv has (same class name in ``numconv.nn``), a
        ``Sequential`` / ``ModuleList`` / ``ModuleDict`` tree of them, or a
        class with its own ``forward`` that ``torch.fx`` can trace into a
        chain of such layers and simple functions (see
        :mod:`numconv.interop.torch_fx`).

    Returns
    -------
    numconv.nn.Module
        float64 where the torch parameters are float64, float32 otherwise;
        same names, weights, buffers, train/eval mode of every module, and
        ``requires_grad`` of every parameter.

    Raises
    ------
    TypeError
        Naming the first layer (and its path) numconv does not have.
    """
    torch = _torch()
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")
    converted = _from_torch(module, "", torch, {})
    state = OrderedDict((k, v.detach().cpu().numpy()) for k, v in module.state_dict().items())
    converted.load_state_dict(state, strict=True)
    _copy_modes(module, converted, lambda p, flag: setattr(p, "requires_grad", flag))
    return converted


def _copy_modes(source, converted, set_requires_grad) -> None:
    """Give ``converted`` ``source``'s train/eval mode and frozen parameters, module by module and by name.

    Per module, not just the root's flag: a model in training with its batch norms in eval mode (the usual
    way to fine-tune) must stay so. A module the conversion added (a container of a traced ``forward``)
    takes its parent's mode.
    """
    converted.train(source.training)
    modes = {name: m.training for name, m in source.named_modules()}
    for name, m in converted.named_modules():
        if name in modes:
            m.training = modes[name]
    frozen = {name: p.requires_grad for name, p in source.named_parameters()}
    for name, p in converted.named_parameters():
        if name in frozen and not frozen[name]:
            set_requires_grad(p, False)


def _from_torch(module, path, torch, converted):
    """The numconv twin of ``module``, made once per torch module (a shared module stays shared)."""
    if id(module) not in converted:
        converted[id(module)] = _new_numconv_twin(module, path, torch, converted)
    return converted[id(module)]


def _new_numconv_twin(module, path, torch, converted):
    if (not type(module).__module__.startswith("torch.nn") and any(True for _ in module.children())
            and not _is_twin(module)):
        # A class of the user's own, with its own forward: trace it with torch.fx into a chain.
        from .torch_fx import trace_to_sequential

        # (Each call of a traced submodule gets a layer of its own, not the shared twin: one cache per call.)
        return trace_to_sequential(module, torch, lambda sub, name: _new_numconv_twin(
            sub, f"{path}.{name}" if path else name, torch, converted))
    # Every registered name, a shared module under each (torch's named_children() lists it once).
    children = OrderedDict((name, _from_torch(child, f"{path}.{name}" if path else name, torch, converted))
                           for name, child in module._modules.items() if child is not None)
    if type(module) is torch.nn.Sequential:
        return nn.Sequential(children)
    if type(module) is torch.nn.ModuleList:
        return nn.ModuleList(list(children.values()))
    if type(module) is torch.nn.ModuleDict:
        return nn.ModuleDict(children)
    twin = _twin_from_torch(module, children)
    if twin is not None:
        return twin
    name = type(module).__name__
    cls = getattr(nn, name, None)
    if (children or cls is None or not type(module).__module__.startswith("torch.nn")
            or not (isinstance(cls, type) and issubclass(cls, nn.Module))):
        raise _unsupported(module, path, "numconv")

    def convert(value):
        return value.detach().cpu().numpy().copy() if isinstance(value, torch.Tensor) else value

    kwargs = _hyperparameters(module, cls, convert)
    dtype = _torch_dtype(module, torch)
    if "dtype" in inspect.signature(cls.__init__).parameters:
        kwargs["dtype"] = dtype
    ours = cls(**kwargs)
    _check_same_repr(ours, module, path)
    return ours


def _twin_to_torch(module, children, torch):
    """Add / Cat / Residual / Parallel, and Modules with their own forward (the ResNets): see ``_twins``."""
    from . import _twins

    twin = _twins.merge_to_torch(module, children, torch)
    if twin is None and _twins.has_own_forward(module):
        twin = _twins.custom_to_torch(module, children, torch)
    return twin


def _is_twin(module) -> bool:
    """A torch module ``to_torch`` generated (Add/Cat/Residual/Parallel, or a model's twin): it converts back as such."""
    from . import _twins

    return _twins.is_twin(module)


def _twin_from_torch(module, children):
    from . import _twins

    ours = _twins.merge_from_torch(module, children)
    return ours if ours is not None else _twins.custom_from_torch(module, children)


def _torch_dtype(module, torch):
    for tensor in list(module.parameters(recurse=False)) + list(module.buffers(recurse=False)):
        if tensor.is_floating_point():
            return np.float64 if tensor.dtype == torch.float64 else np.float32
    return np.float32
