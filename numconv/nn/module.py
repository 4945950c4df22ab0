"""``Module``: the base class of every layer and model, with PyTorch's bookkeeping.

A layer does three things: ``forward`` computes the output and keeps what the
backward pass needs (its *cache*, with ``self._keep(cache)``); ``backward``
turns the gradient of the loss with respect to the output into the gradient
with respect to the input (getting the cache back with ``self._take()``), and
*adds* the parameter gradients into each ``Parameter.grad``; and the rest of
this class (``parameters``, ``state_dict``, ``train``/``eval``, ``to``) is the
bookkeeping that makes layers composable, named and saveable the PyTorch way.

A model written the PyTorch way needs no ``backward`` at all: every call of a
module is recorded on a tape (``numconv/nn/tape.py``), and the default
``backward`` replays the calls made inside the last ``forward`` in reverse,
each with its own cache. A subclass that defines ``backward`` keeps it.

The cache rule: a forward pass is recorded and keeps its cache unless it runs
inside ``numconv.no_grad()``, in training *and* in eval mode (so you can
backprop through an eval-mode network, e.g. for saliency maps). ``backward``
differentiates the most recent forward of that module in that thread and
consumes it, so calling it twice, or without a forward, is a ``RuntimeError``.
A backward refused for a bad gradient (wrong shape or dtype) before any
parameter received anything keeps the forward, so the corrected call works,
as PyTorch's graph survives a shape mismatch.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import functools

import numpy as np

from .. import _state
from .._checks import FLOAT_DTYPES, as_float_array
from . import _debug as debug_mode
from . import tape
from .parameter import Parameter

_DEVICES = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla")


class Module:
    """Base class for all layers and models.

    Subclasses set parameters, buffers and sub-modules as attributes in
    ``__init__`` (after calling ``super().__init__()``) and implement
    ``forward``. ``backward`` comes from the tape of layer calls; a layer that
    differentiates itself by hand defines its own.

    Examples
    --------
    >>> import numconv.nn as nn
    >>> class TwoLayer(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc1, self.act, self.fc2 = nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)
    ...     def forward(self, x):
    ...         return self.fc2(self.act(self.fc1(x)))
    """

    # What the tape may assume of a layer's backward (numconv/nn/tape_replay.py); a layer class overrides them.
    # False: its backward reads no values of its inputs (shapes, a mask), so the tape lets an in-place layer
    # change them after the forward (Identity, Flatten, Dropout, Add, Cat, Sequential).
    _backward_reads_inputs = True
    # True: its backward returns the gradient of its first argument only (a loss: none for the target).
    _gradient_for_first_argument_only = False

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ attributes
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            buffers.pop(name, None)
            modules.pop(name, None)
            self.__dict__.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            self.__dict__.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"{type(self).__name__}: cannot assign {type(value).__name__} to parameter '{name}' "
                    "(use a Parameter, or None)"
                )
            params[name] = None
        elif name in buffers:
            buffers[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(f"{type(self).__name__}: cannot assign {type(value).__name__} to sub-module '{name}'")
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only called when normal lookup fails.
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or ``None``, as for ``bias=False``) under ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: expected a Parameter or None, got {type(param).__name__}")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name: str, array, persistent: bool = True) -> None:
        """Add a buffer: state that is saved but not learned (running statistics)."""
        self.__dict__.pop(name, None)
        self._buffers[name] = None if array is None else np.asarray(array)
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Add a child module under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: expected a Module, got {type(module).__name__}")
        self.__dict__.pop(name, None)
        self._modules[name] = module

    # ------------------------------------------------------------------ forward / backward
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_output=None):
        """Differentiate the last forward by replaying its recorded layer calls in reverse.

        Parameters
        ----------
        grad_output : ndarray, the shape of the last forward's output
            dL/d(output). A tuple with one array per output if ``forward``
            returned several; may be omitted when the output is a scalar.

        Returns
        -------
        ndarray, or a tuple with one ndarray per array argument of ``forward``
            dL/d(input). Parameter gradients are added into each ``p.grad``.
        """
        return tape.replay(self, grad_output)

    backward._replays_the_tape = True

    def __init_subclass__(cls, **kwargs):
        # Every subclass's own ``backward`` goes through the tape's entry point (which finds the call to
        # differentiate) and, in debug mode, through the NaN/Inf check (numconv/nn/_debug.py).
        super().__init_subclass__(**kwargs)
        if "backward" in cls.__dict__:
            cls.backward = _backward_entry(cls.__dict__["backward"])

    def __call__(self, *args, **kwargs):
        switches = _state._local
        forward = self.forward
        if switches.debug:
            forward = functools.partial(debug_mode.checked_forward, self)
        if not switches.grad_enabled:
            return forward(*args, **kwargs)
        return tape.record_call(self, args, kwargs, forward)

    # Cache helpers used by layers --------------------------------------------------
    def _keep(self, cache) -> None:
        """Keep ``cache`` for this call's backward (nothing inside ``no_grad``)."""
        tape.keep_cache(self, cache)

    def _output(self, result):
        """``result`` is a functional op's ``(out, cache)``: keep the cache for this call's backward, return ``out``."""
        out, cache = result
        self._keep(cache)
        return out

    def _take(self):
        """Return the cache of the call being differentiated and forget it; raise if there is none."""
        return tape.take_cache(self)

    def _as_input(self, x, where: str | None = None) -> np.ndarray:
        """Check ``x`` is a float array and cast it to this module's dtype.

        A module with parameters computes in its parameters' dtype; one
        without keeps the input's dtype.
        """
        x = as_float_array(x, where or type(self).__name__)
        dtype = self.dtype
        if dtype is not None and x.dtype != dtype:
            x = x.astype(dtype)
        return x

    # ------------------------------------------------------------------ traversal
    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(name, parameter)`` pairs, names dotted like PyTorch's."""
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{module_prefix}.{name}" if module_prefix else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Yield every parameter (each shared parameter once)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(name, buffer)`` pairs."""
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{module_prefix}.{name}" if module_prefix else name), b

    def buffers(self, recurse: bool = True) -> Iterator[np.ndarray]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True
                      ) -> Iterator[tuple[str, "Module"]]:
        """Yield ``(path, module)`` for this module and every descendant (a shared module once), as PyTorch."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self.named_children():
            yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def apply(self, fn) -> "Module":
        """Call ``fn(module)`` on every child (recursively) and then on self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes, grads, dtype
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (batch norm uses batch statistics, dropout drops)."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: expected mode to be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        """Set evaluation mode; same as ``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to ``None`` (the default, as PyTorch) or to zeros."""
        for p in self.parameters():
            p.zero_grad(set_to_none)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    @property
    def dtype(self):
        """The dtype of this module's own parameters (``None`` if it has none)."""
        for p in self._parameters.values():
            if p is not None:
                return p.data.dtype
        for name, b in self._buffers.items():
            if b is not None and b.dtype in FLOAT_DTYPES:
                return b.dtype
        return None

    def to(self, *args, device=None, dtype=None) -> "Module":
        """Convert every parameter and floating buffer to ``dtype`` (float32/float64), as ``torch.nn.Module.to``.

        Accepts ``to(np.float64)``, ``to("cpu")``, ``to(device="cpu", dtype=...)``;
        numconv computes on the CPU, so any other device is an error.
        """
        for arg in args:
            if isinstance(arg, str) and arg.split(":")[0] in _DEVICES:
                device = arg
            elif dtype is None:
                dtype = arg
            else:
                raise TypeError(f"{type(self).__name__}.to: unexpected argument {arg!r}")
        if device is not None and str(device).split(":")[0] != "cpu":
            raise ValueError(f"{type(self).__name__}.to: numconv computes on the CPU only, got device {device!r}")
        if dtype is None:
            return self
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{type(self).__name__}.to: expected a dtype (float32 or float64) or 'cpu', "
                            f"got {dtype!r}") from None
        if dtype not in FLOAT_DTYPES:
            raise TypeError(f"{type(self).__name__}.to: expected float32 or float64, got {dtype}")
        for m in self.modules():
            object.__setattr__(m, "_dtype", dtype)  # what the layer's parameters are checked against when it runs
            for p in m._parameters.values():
                if p is not None:
                    p.to(dtype)
            for name, b in m._buffers.items():
                if b is not None and b.dtype in FLOAT_DTYPES:
                    m._buffers[name] = b.astype(dtype, copy=False)
        return self

    def cpu(self) -> "Module":
        """Does nothing (numconv computes on the CPU); returns self, as PyTorch."""
        return self

    def double(self) -> "Module":
        return self.to(np.float64)

    def float(self) -> "Module":
        return self.to(np.float32)

    # ------------------------------------------------------------------ state dict
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Copies of every parameter and persistent buffer, under PyTorch's keys.

        A module registered under two names (weight tying) appears under both, as in PyTorch.
        """
        state = OrderedDict()
        for prefix, m in self.named_modules(remove_duplicate=False):
            for name, p in m._parameters.items():
                if p is not None:
                    state[f"{prefix}.{name}" if prefix else name] = p.data.copy()
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    state[f"{prefix}.{name}" if prefix else name] = np.array(b, copy=True)
        return state

    def _state_slots(self):
        """``{key: (module, name, kind)}`` for everything ``state_dict`` saves."""
        slots = OrderedDict()
        for prefix, m in self.named_modules(remove_duplicate=False):
            for name, p in m._parameters.items():
                if p is not None:
                    slots[f"{prefix}.{name}" if prefix else name] = (m, name, "parameter")
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent:
                    slots[f"{prefix}.{name}" if prefix else name] = (m, name, "buffer")
        return slots

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        Every key and shape is checked before anything is written, so a
        mismatch leaves the module untouched. Values are cast to the dtype of
        the parameter or buffer they replace. Arrays from PyTorch
        (``{k: v.numpy() for k, v in torch_model.state_dict().items()}``)
        load as they are.

        Returns
        -------
        (missing_keys, unexpected_keys) : tuple of lists
            Both empty when ``strict=True`` (a mismatch raises instead).
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict: expected a mapping of names to arrays, got {type(state_dict).__name__}")
        slots = self._state_slots()
        missing = [k for k in slots if k not in state_dict]
        unexpected = [k for k in state_dict if k not in slots]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if unexpected:
                parts.append(f"unexpected keys {unexpected}")
            raise KeyError(f"{type(self).__name__}.load_state_dict: " + " and ".join(parts))
        staged = []
        for key, (module, name, kind) in slots.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if hasattr(value, "detach"):  # a torch tensor handed over directly
                value = value.detach().cpu().numpy()
            value = np.asarray(value)
            current = module._parameters[name].data if kind == "parameter" else module._buffers[name]
            if value.shape != current.shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: '{key}' has shape {tuple(value.shape)} in the "
                    f"state dict but {tuple(current.shape)} in the model"
                )
            if value.dtype.kind not in "fiub":
                raise TypeError(f"{type(self).__name__}.load_state_dict: '{key}' has unsupported dtype {value.dtype}")
            if current.dtype.kind == "f" and value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                pass  # NaN weights are legal (if unwise); we copy them as PyTorch does
            staged.append((module, name, kind, value.astype(current.dtype, copy=True)))
        for module, name, kind, value in staged:
            if kind == "parameter":
                p = module._parameters[name]
                p.data = value
                p.grad = None
            else:
                module._buffers[name] = value
        return missing, unexpected

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        body = ([extra] if extra else []) + lines
        return f"{type(self).__name__}(\n  " + "\n  ".join(body) + "\n)"



def _backward_entry(backward):
    """Wrap a hand-written ``backward``: the tape finds the call it differentiates; debug mode checks it."""

    @functools.wraps(backward)
    def entry(self, *grads, **kwargs):
        if _state._local.debug:
            return debug_mode.checked_backward(self, lambda: tape.run_backward(self, backward, grads, kwargs), grads)
        return tape.run_backward(self, backward, grads, kwargs)

    return entry


Module.backward = _backward_entry(Module.backward)
