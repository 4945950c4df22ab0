"""Initialisers, numerically the same rules as ``torch.nn.init``.

Each function fills an array (or a ``Parameter``'s ``.data``) in place and
returns it. Random ones draw from numconv's global generator (seeded with
``numconv.manual_seed``) unless a ``generator`` is passed. The random
*streams* differ from PyTorch's (NumPy's generator is not PyTorch's), so
the values differ, but the distributions and bounds are the same.
"""

from __future__ import annotations

import math

import numpy as np

from . import _random


def _array(tensor) -> np.ndarray:
    data = getattr(tensor, "data", tensor)
    if not isinstance(data, np.ndarray):
        raise TypeError(f"init: expected an ndarray or Parameter, got {type(tensor).__name__}")
    if data.dtype.kind != "f":
        raise TypeError(f"init: expected a float array, got dtype {data.dtype}")
    return data


def _rng(generator):
    return generator if generator is not None else _random.get_generator()


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (as ``torch.nn.init.calculate_gain``)."""
    linear_fns = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid")
    if nonlinearity in linear_fns:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    """``fan_in = in_features * receptive field``, ``fan_out = out_features * receptive field``.

    For a weight of shape ``(out, in, *kernel)`` (conv) or ``(out, in)`` (linear).
    """
    data = _array(tensor)
    if data.ndim < 2:
        raise ValueError(f"init: fan in and fan out need an array with at least 2 dimensions, got shape {data.shape}")
    receptive = int(np.prod(data.shape[2:])) if data.ndim > 2 else 1
    return data.shape[1] * receptive, data.shape[0] * receptive


def _fan(tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with values drawn from U(a, b)."""
    data = _array(tensor)
    data[...] = _rng(generator).uniform(a, b, size=data.shape)
    return tensor


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with values drawn from N(mean, std²)."""
    data = _array(tensor)
    data[...] = _rng(generator).normal(mean, std, size=data.shape)
    return tensor


def constant_(tensor, val: float):
    """Fill with ``val``."""
    _array(tensor)[...] = val
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio, 2010)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """N(0, std²) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """U(-b, b) with ``b = gain * sqrt(3 / fan)`` (He et al., 2015).

    With ``a=sqrt(5)`` this is PyTorch's default for conv and linear weights:
    the gain is ``sqrt(2 / (1 + 5)) = sqrt(1/3)``, so ``b = 1 / sqrt(fan_in)``.
    """
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor  # PyTorch warns and leaves zero-element tensors alone
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """N(0, std²) with ``std = gain / sqrt(fan)``."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain: float = 1.0, generator=None):
    """Fill with a (semi-)orthogonal matrix, from the QR decomposition of a Gaussian one."""
    data = _array(tensor)
    if data.ndim < 2:
        raise ValueError(f"orthogonal_: expected at least 2 dimensions, got shape {data.shape}")
    rows = data.shape[0]
    cols = data.size // rows
    flat = _rng(generator).normal(0.0, 1.0, size=(rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))  # make the decomposition unique, as PyTorch does
    if rows < cols:
        q = q.T
    data[...] = (gain * q).reshape(data.shape)
    return tensor


def default_layer_init_(weight, bias=None, generator=None) -> None:
    """PyTorch's default for Linear and Conv layers.

    ``weight`` ~ kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in));
    ``bias`` ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """
    kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        fan_in, _ = calculate_fan_in_and_fan_out(weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound, generator)
