"""Initialisers: the rules of ``torch.nn.init``, drawing from numconv's generator.

Each function fills an array (or a ``Parameter``'s ``.data``) in place and
returns what it was given, so ``init.zeros_(layer.bias)`` reads like
PyTorch. Random ones draw from numconv's global generator (seeded with
``numconv.manual_seed``) unless a NumPy ``generator`` is passed.

The random *streams* differ from PyTorch's (a NumPy generator is not a
PyTorch one), so the values differ, but the distributions, bounds, gains
and fans are the same. Draws are made in float64 and then stored in the
array's own dtype, so a float32 and a float64 layer seeded alike hold the
same numbers up to rounding.

Which rule when (``fan_in`` = inputs feeding one output unit, e.g.
``in_channels * kh * kw`` for a conv weight):

=====================  ==================================================
``xavier_uniform_``    U(-a, a), ``a = gain * sqrt(6 / (fan_in + fan_out))``
``xavier_normal_``     N(0, std²), ``std = gain * sqrt(2 / (fan_in + fan_out))``
``kaiming_uniform_``   U(-b, b), ``b = gain * sqrt(3 / fan)``
``kaiming_normal_``    N(0, std²), ``std = gain / sqrt(fan)``
``orthogonal_``        a (semi-)orthogonal matrix times ``gain``
``trunc_normal_``      N(mean, std²) restricted to [a, b]
=====================  ==================================================
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from . import _random
from ._checks import check_number

__all__ = [
    "calculate_gain", "calculate_fan_in_and_fan_out", "uniform_", "normal_", "trunc_normal_", "constant_",
    "zeros_", "ones_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
    "kaiming_normal_", "orthogonal_", "default_layer_init_",
]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
               "sigmoid")


# ---------------------------------------------------------------------------- helpers
def _array(tensor, where: str = "init") -> np.ndarray:
    """The ndarray to fill: ``tensor`` itself or a ``Parameter``'s ``.data``."""
    # (an ndarray has a ``.data`` attribute too: its raw buffer, not what we want)
    data = tensor if isinstance(tensor, np.ndarray) else getattr(tensor, "data", tensor)
    if not isinstance(data, np.ndarray):
        raise TypeError(f"{where}: expected an ndarray or a Parameter, got {type(tensor).__name__}")
    if data.dtype.kind != "f":
        raise TypeError(f"{where}: expected a float array, got dtype {data.dtype}")
    return data


def _rng(generator, where: str) -> np.random.Generator:
    if generator is None:
        return _random.get_generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{where}: expected generator to be a numpy.random.Generator, got {type(generator).__name__}")
    return generator


def _norm_cdf(z: float) -> float:
    """P(Z <= z) for a standard normal Z."""
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


# ---------------------------------------------------------------------------- gains and fans
def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    ============================  =====================================
    nonlinearity                  gain
    ============================  =====================================
    linear, conv*, sigmoid        1
    tanh                          5/3
    relu                          sqrt(2)
    leaky_relu                    sqrt(2 / (1 + negative_slope²))
    selu                          3/4
    ============================  =====================================

    Parameters
    ----------
    nonlinearity : str
    param : float, optional
        The negative slope for ``"leaky_relu"`` (default 0.01); ignored otherwise.
    """
    if nonlinearity in _LINEAR_FNS:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float, np.integer, np.floating)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4  # an empirical value, the one PyTorch uses
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r} (expected one of "
        f"{', '.join(_LINEAR_FNS)}, tanh, relu, leaky_relu, selu)"
    )


def calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight, as PyTorch computes them.

    For a weight of shape ``(out, in, *kernel)``, the receptive field is
    ``prod(kernel)`` (1 for a linear weight ``(out, in)``), and
    ``fan_in = in * receptive``, ``fan_out = out * receptive``.

    Parameters
    ----------
    tensor : ndarray or Parameter, at least 2-D
    """
    data = _array(tensor, "calculate_fan_in_and_fan_out")
    if data.ndim < 2:
        raise ValueError(
            f"init: fan in and fan out can not be computed for an array with fewer than 2 dimensions, "
            f"got shape {tuple(data.shape)}"
        )
    receptive = math.prod(data.shape[2:])
    return data.shape[1] * receptive, data.shape[0] * receptive


_calculate_fan_in_and_fan_out = calculate_fan_in_and_fan_out  # PyTorch's (private) name


def _fan(tensor, mode: str, where: str) -> int:
    if not isinstance(mode, str) or mode.lower() not in ("fan_in", "fan_out"):
        raise ValueError(f"{where}: mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode.lower() == "fan_in" else fan_out


# ---------------------------------------------------------------------------- plain fills
def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with values drawn from U(a, b).

    Parameters
    ----------
    tensor : ndarray or Parameter, any shape
    a, b : float
        The bounds, ``a <= b``.
    generator : numpy.random.Generator, optional
        Defaults to numconv's global generator.
    """
    data = _array(tensor, "uniform_")
    a, b = check_number(a, "uniform_", "a"), check_number(b, "uniform_", "b")
    if a > b:
        raise ValueError(f"uniform_: expected a <= b, got a={a} > b={b}")
    data[...] = _rng(generator, "uniform_").uniform(a, b, size=data.shape)
    return tensor


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with values drawn from N(mean, std²).

    Parameters
    ----------
    tensor : ndarray or Parameter, any shape
    mean, std : float
        ``std >= 0``.
    generator : numpy.random.Generator, optional
    """
    data = _array(tensor, "normal_")
    mean, std = check_number(mean, "normal_", "mean"), check_number(std, "normal_", "std")
    if std < 0:
        raise ValueError(f"normal_: expected std >= 0, got {std}")
    data[...] = _rng(generator, "normal_").normal(mean, std, size=data.shape)
    return tensor


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, generator=None):
    """Fill with N(mean, std²) restricted to [a, b] (values outside are redrawn).

    Note that ``a`` and ``b`` are absolute bounds, not multiples of ``std``.

    Rejection sampling: propose candidates and keep those that pass. When
    [a, b] holds a fair share of the normal's mass, candidates are drawn
    from N(mean, std²) and kept if they land in [a, b]. When it holds little
    (a narrow interval, or one out in the tail), candidates are drawn from
    U(a, b) and kept with probability ``pdf(x) / pdf(m)``, ``m`` the point of
    [a, b] nearest the mean. Both give exactly the truncated distribution;
    the proposal with the higher acceptance rate is used.

    Parameters
    ----------
    tensor : ndarray or Parameter, any shape
    mean, std : float
        Of the normal before truncation; ``std > 0``.
    a, b : float
        The bounds, ``a < b`` (either may be infinite).
    generator : numpy.random.Generator, optional
    """
    data = _array(tensor, "trunc_normal_")
    mean, std = check_number(mean, "trunc_normal_", "mean"), check_number(std, "trunc_normal_", "std")
    a, b = check_number(a, "trunc_normal_", "a"), check_number(b, "trunc_normal_", "b")
    if not std > 0:
        raise ValueError(f"trunc_normal_: expected std > 0, got {std}")
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(f"trunc_normal_: the mean {mean} is more than 2 std from [a, b] = [{a}, {b}]", stacklevel=2)
    samples = _truncated_normal(_rng(generator, "trunc_normal_"), data.size, mean, std, a, b)
    data[...] = samples.reshape(data.shape)
    return tensor


def _truncated_normal(rng, n: int, mean: float, std: float, a: float, b: float) -> np.ndarray:
    """``n`` float64 draws from N(mean, std²) restricted to [a, b], by rejection."""
    mass = _norm_cdf((b - mean) / std) - _norm_cdf((a - mean) / std)
    nearest = min(max(mean, a), b)  # where the density on [a, b] peaks
    log_peak = -0.5 * ((nearest - mean) / std) ** 2
    uniform_rate = 0.0
    if math.isfinite(a) and math.isfinite(b):
        uniform_rate = std * math.sqrt(2 * math.pi) * mass / ((b - a) * math.exp(log_peak))
    rate = max(mass, uniform_rate)
    if not rate > 1e-6:
        raise ValueError(
            f"trunc_normal_: [a, b] = [{a}, {b}] holds only {mass:.2e} of N({mean}, {std}²); too little to sample"
        )
    out = np.empty(n, dtype=np.float64)
    filled = 0
    while filled < n:
        # Propose enough candidates that one round usually suffices.
        k = min(int((n - filled) / rate * 1.1) + 16, 1 << 22)
        if mass >= uniform_rate:
            x = rng.normal(mean, std, size=k)
            x = x[(x >= a) & (x <= b)]
        else:
            x = rng.uniform(a, b, size=k)
            log_ratio = -0.5 * ((x - mean) / std) ** 2 - log_peak
            x = x[np.log(rng.random(k)) < log_ratio]
        take = min(x.size, n - filled)
        out[filled:filled + take] = x[:take]
        filled += take
    return out


def constant_(tensor, val: float):
    """Fill with ``val``."""
    _array(tensor, "constant_")[...] = check_number(val, "constant_", "val")
    return tensor


def zeros_(tensor):
    """Fill with zeros."""
    return constant_(tensor, 0.0)


def ones_(tensor):
    """Fill with ones."""
    return constant_(tensor, 1.0)


def eye_(tensor):
    """Fill a 2-D array with the identity (ones on the diagonal, zeros elsewhere).

    A linear layer so initialised passes its input through unchanged
    (the part that fits). ``tensor`` has shape (out_features, in_features).
    """
    data = _array(tensor, "eye_")
    if data.ndim != 2:
        raise ValueError(f"eye_: only 2-D arrays are supported, got shape {tuple(data.shape)}")
    data[...] = np.eye(*data.shape, dtype=data.dtype)
    return tensor


def dirac_(tensor, groups: int = 1):
    """Fill a 3-, 4- or 5-D conv weight with the Dirac delta (an identity convolution).

    With weight shape ``(out, in // groups, *kernel)``, output channel
    ``g * out_per_group + d`` gets a 1 at the kernel's centre for input
    channel ``d`` (``d < min(out_per_group, in_per_group)``), zeros elsewhere,
    so the conv copies its input channels (as many as fit).

    Parameters
    ----------
    tensor : ndarray or Parameter, shape (out, in_per_group, k1[, k2[, k3]])
    groups : int
        ``out`` must be divisible by it.
    """
    data = _array(tensor, "dirac_")
    if data.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: only 3-, 4- or 5-D arrays are supported, got shape {tuple(data.shape)}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"dirac_: expected groups to be a positive int, got {groups!r}")
    if data.shape[0] % groups != 0:
        raise ValueError(f"dirac_: dim 0 ({data.shape[0]}) must be divisible by groups ({groups})")
    out_per_group = data.shape[0] // groups
    centre = tuple(k // 2 for k in data.shape[2:])
    data[...] = 0
    for g in range(groups):
        for d in range(min(out_per_group, data.shape[1])):
            data[(g * out_per_group + d, d) + centre] = 1
    return tensor


# ---------------------------------------------------------------------------- scaled by fans
def _xavier_std(tensor, gain, where):
    """``gain * sqrt(2 / (fan_in + fan_out))``, or None for an empty array (nothing to fill)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    if fan_in + fan_out == 0:
        return None
    return check_number(gain, where, "gain") * math.sqrt(2.0 / (fan_in + fan_out))


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio, 2010).

    ``tensor``: an ndarray or Parameter, at least 2-D, shape (out, in,
    *kernel); ``generator``: a numpy.random.Generator (default numconv's).
    """
    std = _xavier_std(tensor, gain, "xavier_uniform_")
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std  # U(-b, b) has standard deviation b / sqrt(3)
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """N(0, std²) with ``std = gain * sqrt(2 / (fan_in + fan_out))``; arguments as in ``xavier_uniform_``."""
    std = _xavier_std(tensor, gain, "xavier_normal_")
    return tensor if std is None else normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor, a, mode, nonlinearity, where):
    """``gain / sqrt(fan)``, or None for an empty array (PyTorch leaves those alone)."""
    data = _array(tensor, where)
    fan = _fan(tensor, mode, where)
    if data.size == 0:
        warnings.warn(f"{where}: initializing zero-element arrays is a no-op", stacklevel=3)
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """U(-b, b) with ``b = gain * sqrt(3 / fan)`` (He et al., 2015).

    With ``a=sqrt(5)`` this is PyTorch's default for conv and linear weights:
    the gain is ``sqrt(2 / (1 + 5)) = sqrt(1/3)``, so ``b = 1 / sqrt(fan_in)``.

    Parameters
    ----------
    tensor : ndarray or Parameter, at least 2-D, shape (out, in, *kernel)
    a : float
        Negative slope of the leaky ReLU that follows (only for ``"leaky_relu"``).
    mode : {"fan_in", "fan_out"}
        ``"fan_in"`` keeps the forward pass's variance, ``"fan_out"`` the backward's.
    nonlinearity : str
        See :func:`calculate_gain`; ``"relu"`` or ``"leaky_relu"`` recommended.
    generator : numpy.random.Generator, optional
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """N(0, std²) with ``std = gain / sqrt(fan)`` (He et al., 2015).

    Parameters are those of :func:`kaiming_uniform_`.
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain: float = 1.0, generator=None):
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013).

    The array is viewed as a matrix of shape ``(rows, cols) = (shape[0],
    size // shape[0])``. Its rows are orthonormal if ``rows <= cols``, its
    columns otherwise. Made from the QR decomposition of a Gaussian matrix,
    with the signs of R's diagonal folded into Q so that Q is uniformly
    distributed over the orthogonal matrices (not just any orthogonal Q).

    Parameters
    ----------
    tensor : ndarray or Parameter, at least 2-D
    gain : float
    generator : numpy.random.Generator, optional
    """
    data = _array(tensor, "orthogonal_")
    if data.ndim < 2:
        raise ValueError(f"orthogonal_: only arrays with 2 or more dimensions are supported, got shape {data.shape}")
    gain = check_number(gain, "orthogonal_", "gain")
    if data.size == 0:
        return tensor
    rows = data.shape[0]
    cols = data.size // rows
    flat = _rng(generator, "orthogonal_").normal(0.0, 1.0, size=(rows, cols))
    if rows < cols:
        flat = flat.T  # QR of the tall matrix; its transpose then has orthonormal rows
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    data[...] = (gain * q).reshape(data.shape)
    return tensor


def default_layer_init_(weight, bias=None, generator=None) -> None:
    """PyTorch's default for Linear and Conv layers.

    ``weight`` ~ kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in));
    ``bias`` ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """
    data = _array(weight, "default_layer_init_")
    if data.size:
        kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        fan_in, _ = calculate_fan_in_and_fan_out(weight)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound, generator)
