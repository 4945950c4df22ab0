"""numconv: a convolutional-network engine written from scratch in NumPy.

Every layer computes its own forward and backward pass by hand, and every
result equals PyTorch's. The public face::

    import numconv
    from numconv import nn, functional as F
    numconv.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2))
    numconv.gradcheck(model, x)

Heavier sub-packages (``optim``, ``data``, ``models``, ``train``, ``interop``)
load on first use, so ``import numconv`` stays fast.
"""

import importlib as _importlib

from . import functional, init, nn
from . import functional as F
from ._random import get_rng_state, manual_seed, set_rng_state
from ._state import debug, is_debug, is_grad_enabled, no_grad, set_debug
from .tools.gradcheck import gradcheck

__version__ = "0.1.0"

_LAZY_SUBMODULES = (
    "optim", "data", "models", "train", "interop", "reference", "kernels", "tools", "exercises", "checkpoint", "cli",
)
_LAZY_ATTRIBUTES = {
    "summary": ("numconv.tools.summary", "summary"),
    "explain": ("numconv.tools.explain", "explain"),
}


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        module = _importlib.import_module(f"numconv.{name}")
        globals()[name] = module
        return module
    if name in _LAZY_ATTRIBUTES:
        module_name, attribute = _LAZY_ATTRIBUTES[name]
        value = getattr(_importlib.import_module(module_name), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'numconv' has no attribute '{name}'")


__all__ = [
    "nn", "functional", "F", "init", "manual_seed", "get_rng_state", "set_rng_state", "no_grad",
    "is_grad_enabled", "set_debug", "is_debug", "debug", "gradcheck", "summary", "explain",
    *_LAZY_SUBMODULES,
]
