"""Input checks shared by every public entry point.

numconv checks its inputs once, at the public boundary (a layer's
``forward``, a functional op, a loss), and the inner math trusts them. The
messages name what was expected and what came, so a learner can fix the call
without reading a NumPy traceback.
"""

from __future__ import annotations

from numbers import Real
from typing import Sequence

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(x, where: str, name: str = "input") -> np.ndarray:
    """Return ``x`` as a float32/float64 ndarray, or raise a clear ``TypeError``.

    A float32 or float64 array comes back as it is (same object, same
    dtype, any memory layout), and so does the dtype of a NumPy float
    scalar (``np.float32(2.0)`` stays float32, as a 0-d array). Python
    numbers and (nested) lists of them become float64, as in NumPy.

    Everything else is refused rather than silently converted: integer and
    boolean arrays (a learner who passes uint8 pixels should learn that they
    must scale them first), complex, object and string arrays, and float16.
    PyTorch runs some float16 ops on the CPU; numconv does not, because its
    float32 reference tolerances mean nothing at half precision, so a
    float16 input is a ``TypeError`` everywhere, saying how to convert.
    """
    if isinstance(x, np.ndarray):
        pass
    elif isinstance(x, np.generic):
        x = np.asarray(x)  # keeps the scalar's dtype; the check below decides
    elif isinstance(x, (list, tuple, float, int)) and not isinstance(x, bool):
        try:
            converted = np.asarray(x)
        except ValueError:  # NumPy refuses nested lists of unequal lengths
            raise ValueError(f"{where}: expected {name} to be a rectangular array, but the nested "
                             f"{type(x).__name__} has rows of different lengths") from None
        if converted.dtype.kind not in "iuf":
            raise TypeError(f"{where}: expected {name} to hold numbers, got a {type(x).__name__} that NumPy "
                            f"reads as dtype {converted.dtype}{_dtype_hint(converted.dtype)}")
        x = converted.astype(np.float64, copy=False)
    else:
        raise TypeError(
            f"{where}: expected {name} to be a NumPy array (float32 or float64), got {type(x).__name__}"
            + _foreign_hint(x)
        )
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{where}: expected {name} of dtype float32 or float64, got {x.dtype}{_dtype_hint(x.dtype)}")
    return x


def _dtype_hint(dtype: np.dtype) -> str:
    """How to turn an array of a refused dtype into one numconv accepts."""
    if dtype == np.bool_:
        return " (convert it first, e.g. x.astype(np.float32))"
    if np.issubdtype(dtype, np.integer):
        return " (convert it first, e.g. x.astype(np.float32), and x.astype(np.float32) / 255 for 8-bit pixels)"
    if dtype == np.float16:
        return " (float16 is not supported; use x.astype(np.float32))"
    if dtype.kind == "f":
        return " (use x.astype(np.float64))"
    if dtype.kind == "c":
        return " (complex numbers are not supported; use x.real or np.abs(x))"
    return " (convert it to a float array, e.g. x.astype(np.float32))"


def _foreign_hint(x) -> str:
    """A hint for array types from other libraries (a torch tensor has ``.numpy()``)."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return "; convert a tensor with t.detach().numpy()"
    if hasattr(x, "__array__"):
        return "; convert it with np.asarray(x)"
    return ""


def check_ndim(x: np.ndarray, allowed: Sequence[int], where: str, layout: str, name: str = "input") -> None:
    """Raise ``ValueError`` unless ``x.ndim`` is one of ``allowed``.

    ``layout`` describes the expected axes, e.g. ``"(N, C, H, W) or (C, H, W)"``.
    An input short of axes gets a hint: a (28, 28) image for a layer that
    wants (C, H, W) needs ``x[np.newaxis]``.
    """
    if x.ndim not in allowed:
        ranks = " or ".join(f"{r}-D" for r in allowed)
        hint = ""
        missing = min(allowed) - x.ndim
        if 0 < missing <= 2 and x.ndim >= 1:
            index = ", ".join(["np.newaxis"] * missing)
            hint = (f"; if it is one sample with one channel, add the missing "
                    f"ax{'is' if missing == 1 else 'es'}: x[{index}] has shape {shape_str((1,) * missing + x.shape)}")
        raise ValueError(f"{where}: expected a {ranks} {name} {layout}, got shape {shape_str(x.shape)} "
                         f"({x.ndim}-D){hint}")


def channel_last_hint(shape, channel_axis: int, channels: int) -> str:
    """A hint when an input looks channel-last, e.g. (N, H, W, C) where (N, C, H, W) is wanted.

    Returns ``""`` unless the last axis has the expected channel count and
    the channel axis does not; otherwise the ``transpose`` that fixes it.
    """
    shape = tuple(shape)
    if len(shape) - channel_axis < 2 or shape[-1] != channels or shape[channel_axis] == channels:
        return ""
    order = tuple(range(channel_axis)) + (len(shape) - 1,) + tuple(range(channel_axis, len(shape) - 1))
    return (f"; it looks channel-last, with the {channels} channels on the last axis: "
            f"x.transpose{order} puts them first")


def ntuple(value, n: int, where: str, name: str, minimum: int | None = None) -> tuple:
    """Expand an int or a length-``n`` sequence of ints into an ``n``-tuple.

    ``minimum`` (if given) is the smallest value allowed for each entry.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = (int(value),) * n
    elif isinstance(value, (tuple, list)) and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        if len(value) == 1:
            values = (int(value[0]),) * n
        elif len(value) != n:
            raise ValueError(f"{where}: expected {name} to be an int or a tuple of {n} ints, got {value!r}")
        else:
            values = tuple(int(v) for v in value)
    else:
        raise TypeError(f"{where}: expected {name} to be an int or a tuple of {n} ints, got {value!r}")
    if minimum is not None and any(v < minimum for v in values):
        raise ValueError(f"{where}: expected every entry of {name} to be >= {minimum}, got {value!r}")
    if any(abs(v) > MAX_HYPER_PARAMETER for v in values):
        raise ValueError(f"{where}: expected every entry of {name} to be at most {MAX_HYPER_PARAMETER} (2**31 - 1; no "
                         f"array is that large), got {value!r}")
    return values


#: the largest size, stride, padding or dilation accepted: no array numconv can hold is that long, and
#: beyond it NumPy's strided views overflow (a stride of 2**58 raised OverflowError deep inside as_strided)
MAX_HYPER_PARAMETER = 2**31 - 1


def check_parameters(module) -> None:
    """Refuse parameters a layer cannot compute with, blaming the parameter (not the input).

    Catches arrays assigned directly to ``param.data``: an integer, float16
    or complex array, something that is not an ndarray, a read-only array
    (the optimiser updates parameters in place), and a dtype that differs
    from the layer's other parameters and floating buffers (the layer would
    silently compute in, and return, another precision). A layer's own
    ``forward`` calls this first.
    """
    where = type(module).__name__
    first = None
    for kind, store in (("parameter", module._parameters), ("buffer", module._buffers)):
        for name, value in store.items():
            if value is None:
                continue
            data = value.data if kind == "parameter" else value
            if kind == "buffer" and (not isinstance(data, np.ndarray) or name == "num_batches_tracked"):
                continue  # the step counter is an integer by design
            if not isinstance(data, np.ndarray):
                raise TypeError(f"{where}: parameter '{name}' holds a {type(data).__name__}, not a NumPy array; assign "
                                f"an ndarray to {name}.data")
            if data.dtype not in FLOAT_DTYPES:
                raise TypeError(f"{where}: {kind} '{name}' has dtype {data.dtype}, but a layer computes in float32 or "
                                f"float64{_dtype_hint(data.dtype)} (was an array assigned to {name}.data?)")
            if kind == "parameter" and not data.flags.writeable:
                raise ValueError(f"{where}: parameter '{name}' is a read-only array, which an optimizer cannot update "
                                 f"in place; assign a writeable copy: {name}.data = array.copy()")
            if first is None:
                first = (kind, name, data.dtype)
            elif data.dtype != first[2]:
                raise TypeError(
                    f"{where}: {first[0]} '{first[1]}' is {first[2]} but {kind} '{name}' is {data.dtype}; a layer "
                    f"computes in one dtype (an array of another was assigned to .data?): assign arrays of the "
                    f"layer's dtype, or convert the whole layer with .to(np.float32) or .to(np.float64)")


def check_positive_int(value, where: str, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, raising unless it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where}: expected {name} to be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: expected {name} >= {minimum}, got {value}")
    return int(value)


def check_probability(value, where: str, name: str = "p") -> float:
    """Return ``value`` as a float in [0, 1], raising otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{where}: expected {name} to be a number, got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{where}: expected {name} between 0 and 1, got {value}")
    return float(value)


def check_number(value, where: str, name: str, minimum: float | None = None, *, keep: bool = False):
    """Return a real hyper-parameter as a Python float, raising ``TypeError`` unless it is a number.

    ``minimum`` (if given) is the smallest value allowed. ``keep=True``
    returns the value as given instead of as a float: a layer stores it so
    that its repr prints ``2`` for an int, as PyTorch's does.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise TypeError(f"{where}: expected {name} to be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{where}: expected {name} >= {minimum}, got {value}")
    return value if keep else float(value)


def check_flag(value, where: str, name: str) -> bool:
    """Return ``value`` as a bool, raising ``TypeError`` unless it is one (PyTorch refuses 0/1 too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: expected {name} to be a bool, got {value!r}")
    return bool(value)


def check_choice(value, where: str, name: str, choices):
    """Return ``value``, raising ``ValueError`` unless it is one of ``choices``."""
    if isinstance(value, (list, dict, set)) or value not in choices:
        raise ValueError(f"{where}: expected {name} to be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_dout(dout, shape, dtype, where: str, name: str = "dout") -> np.ndarray:
    """The upstream gradient as an array of the forward's dtype (a copy only if the dtype differs),
    checked against the output's ``shape``."""
    dout = np.asarray(dout)
    if dout.shape != tuple(shape):
        raise ValueError(f"{where}: expected {name} of shape {shape_str(shape)} (the output's), "
                         f"got {shape_str(dout.shape)}")
    return np.asarray(dout, dtype=dtype)


def shape_str(shape) -> str:
    """``(2, 3)`` -> ``"(2, 3)"``, used in messages."""
    return str(tuple(int(s) for s in shape))
