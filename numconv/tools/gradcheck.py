"""Finite-difference gradient checking for layers and functional ops.

The idea: a backward pass claims that the loss ``L = sum(y * g)`` (``y`` the
output, ``g`` a random upstream gradient) changes by ``dL/dx[i]`` when
``x[i]`` moves a little. We test that claim directly with centered
differences::

    dL/dx[i]  ~=  (L(x[i] + eps) - L(x[i] - eps)) / (2 * eps)

whose error shrinks like ``eps**2``. Everything runs in float64 (in float32
the rounding error of ``L`` swamps the difference). Elements are sampled from
large tensors so a check stays fast.

Why a *random* upstream gradient: with ``g`` all ones, ``L = sum(y)``; for
batch norm the true input gradient of ``sum(y)`` is exactly zero, so a wrong
backward that returns zeros would pass. A random ``g`` rules that out.

How close is close enough. A centered difference is itself inexact; two
errors limit it (``u = 2.2e-16`` is float64's machine epsilon):

- *rounding*: ``L(x + eps)`` and ``L(x - eps)`` each carry a rounding error
  of several ``u * F``, where ``F = sum(|y * g|)`` is the size of the terms
  that make up ``L`` (their own rounding, plus that of adding them up);
  dividing the difference by ``2 * eps`` makes it an error of up to about
  ``8 * u * F / eps`` in the gradient (``1.8e-9 * F`` for ``eps = 1e-6``;
  the largest seen over the built-in layers of ``numconv gradcheck`` was
  ``3 * u * F / eps``);
- *truncation*: ``eps**2 / 6`` times the third derivative of ``L``, at
  most about ``eps**2 * F`` for a function that varies on the unit scale of
  its inputs.

A difference between the analytic and the numerical gradient below the
*noise floor* ``8 * u * F / eps + eps**2 * F`` therefore says nothing: the
two agree as far as finite differences can tell. Above the floor the
relative error must be at most ``rtol``. A gradient that is mathematically
zero (the bias of a convolution feeding a training-mode batch norm) has a
numerical gradient of pure noise, about ``1e-9``: it passes, and since the
check cannot tell a right backward from a wrong one there, a
``GradcheckWarning`` says so. A wrong backward still fails wherever the true
gradient stands above the floor (for ``eps = 1e-6``, gradients larger than
about ``2e-9 * F``).

The floor assumes the inputs are of order one. An input far from zero
compared with its spread (batch norm of values around 1e4, say) makes the
forward pass lose digits to cancellation that ``F`` does not see; centre
such data, or expect the check to report errors of that size.
"""

from __future__ import annotations

import copy
import importlib
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import _random

__all__ = ["gradcheck", "GradcheckReport", "GradcheckError", "TensorCheck", "GradcheckWarning", "noise_floor"]


class GradcheckError(AssertionError):
    """Raised by ``gradcheck(..., raise_exception=True)`` when a gradient is wrong."""


class GradcheckWarning(UserWarning):
    """Both gradients of a tensor are ~0: the check could not tell right from wrong."""


@dataclass
class TensorCheck:
    """The result for one tensor (an input or a parameter).

    Attributes
    ----------
    name : str
        ``"input 0"``, ``"weight"``, ``"0.bias"``, ...
    shape : tuple
    checked : int
        How many elements were perturbed.
    max_rel_error : float
        ``max |a - n| / max(|a|, |n|, floor * s, noise_floor / rtol)`` over
        the checked elements (``a`` analytic, ``n`` numerical, ``s`` the
        largest of them in this tensor): at most ``rtol`` exactly when every
        element is within ``rtol`` relative or within the noise floor.
    max_abs_error : float
    worst_index : tuple
        Where the largest relative error occurred.
    analytic, numeric : float
        The two gradients at ``worst_index``.
    passed : bool
    vanishing : bool
        Both gradients were below the noise floor everywhere checked: the
        tensor passed, but the check could not tell right from wrong.
    noise_floor : float
        The absolute difference finite differences cannot resolve (see the
        module docstring).
    """

    name: str
    shape: tuple
    checked: int
    max_rel_error: float
    max_abs_error: float
    worst_index: tuple
    analytic: float
    numeric: float
    passed: bool
    vanishing: bool = False
    noise_floor: float = 0.0


@dataclass
class GradcheckReport:
    """All tensor checks of one ``gradcheck`` call.

    ``bool(report)`` and ``report.passed`` are True only when every tensor
    passed. ``print(report)`` shows a table.
    """

    checks: list = field(default_factory=list)
    rtol: float = 1e-6
    eps: float = 1e-6
    label: str = ""
    noise_floor: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def max_rel_error(self) -> float:
        return max((c.max_rel_error for c in self.checks), default=0.0)

    def __getitem__(self, name: str) -> TensorCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def __str__(self) -> str:
        title = (f"gradcheck {self.label}".rstrip() + f"  (eps={self.eps:g}, tolerance={self.rtol:g} relative, "
                 f"noise floor {self.noise_floor:.1e} absolute)")
        header = (f"{'tensor':<18} {'shape':<18} {'checked':>7} {'max rel err':>12} {'at':<16} {'analytic':>12} "
                  f"{'numeric':>12}  result")
        rows = [title, header, "-" * len(header)]
        for c in self.checks:
            result = "ok" if c.passed else "FAIL"
            if c.vanishing:
                result += " (both ~0: within noise)"
            rows.append(
                f"{c.name:<18} {str(c.shape):<18} {c.checked:>7} {c.max_rel_error:>12.2e} "
                f"{str(c.worst_index):<16} {c.analytic:>12.4e} {c.numeric:>12.4e}  {result}"
            )
        rows.append("PASSED" if self.passed else "FAILED")
        return "\n".join(rows)

    __repr__ = __str__


def _find_backward(fn):
    """For a functional op ``op``, find ``op_backward`` in the same module."""
    module = importlib.import_module(fn.__module__)
    backward = getattr(module, fn.__name__ + "_backward", None)
    if backward is None:
        raise TypeError(f"gradcheck: no backward given and {fn.__module__}.{fn.__name__}_backward does not exist")
    return backward


def _scalarise(out, upstream) -> float:
    """``sum(out * upstream)`` as a Python float (out may be a float or an array)."""
    out = out[0] if isinstance(out, tuple) else out
    return float(np.sum(np.asarray(out, dtype=np.float64) * upstream))


def gradcheck(
    f,
    *inputs,
    backward=None,
    kwargs=None,
    eps: float = 1e-6,
    rtol: float = 1e-6,
    floor: float = 1e-3,
    max_checks: int = 64,
    check_parameters: bool = True,
    seed: int = 0,
    raise_exception: bool = False,
    label: str | None = None,
) -> GradcheckReport:
    """Compare analytic gradients with centered finite differences, in float64.

    Parameters
    ----------
    f : Module or callable
        A numconv ``Module`` (its ``backward`` and its parameters' ``.grad``
        are checked; a float64 copy is used, the original is untouched), a
        loss module (``backward`` w.r.t. its first input), or a functional op
        ``f(*inputs, **kwargs) -> (out, cache)`` whose backward
        ``backward(dout, cache)`` returns one gradient per input (``None`` for
        non-differentiable ones). For a functional op, ``backward`` defaults to
        the function named ``<f>_backward`` next to ``f``.
    *inputs : ndarray or other
        Float arrays are differentiated (converted to float64 copies);
        anything else (integer targets, ints) is passed through unchanged.
    kwargs : dict, optional
        Extra keyword arguments for ``f``.
    eps : float
        The finite-difference step.
    rtol : float
        Tolerance on the relative error ``|a - n| / max(|a|, |n|, floor * s)``,
        where ``s`` is the largest gradient of that tensor. An element also
        passes when ``|a - n|`` is below the finite-difference noise floor
        ``8 * u * F / eps + eps**2 * F`` (``u`` float64's machine epsilon,
        ``F = sum(|y * g|)``; see the module docstring).
    floor : float
        See ``rtol``: keeps an element whose gradient is tiny next to the
        others in its tensor from being judged on its own, noisy, scale.
    max_checks : int
        At most this many elements are perturbed per tensor (sampled at random).
    check_parameters : bool
        Also check every parameter of a Module.
    seed : int
        Seeds the upstream gradient and the element sampling.
    raise_exception : bool
        Raise ``GradcheckError`` (with the table) instead of returning a failing report.

    Returns
    -------
    GradcheckReport
        Truthy only if every tensor passed.
    """
    from ..nn.module import Module  # tools sit above nn in the layering

    _check_settings(eps, rtol, floor, max_checks)
    kwargs = dict(kwargs or {})
    rng = np.random.default_rng(seed)
    inputs = [np.array(x, dtype=np.float64) if _is_float_array(x) else x for x in inputs]

    if isinstance(f, Module):
        model = copy.deepcopy(f).double()
        buffers_before = {k: np.array(v, copy=True) for k, v in model.named_buffers()}
        rng_state = _random.get_rng_state()

        def forward():
            # Same random draws (dropout masks) and same running statistics every time; copies of the
            # inputs, so that a layer with inplace=True cannot overwrite the values being perturbed.
            _random.set_rng_state(rng_state)
            out = model(*[x.copy() if isinstance(x, np.ndarray) else x for x in inputs], **kwargs)
            for name, value in model.named_buffers():
                value[...] = buffers_before[name]
            return out

        out = forward()
        upstream = _random_like(out, rng)
        model.zero_grad()
        grads = model.backward(np.asarray(upstream))  # an array even for a scalar loss (a float is refused)
        _random.set_rng_state(rng_state)
        grads = grads if isinstance(grads, tuple) else (grads,)
        targets = _pair_inputs(inputs, grads)
        if check_parameters:
            targets += [(name, p.data, p.grad) for name, p in model.named_parameters() if p.requires_grad]
        name = label or type(f).__name__
    else:
        backward = backward or _find_backward(f)

        def forward():
            out, _ = f(*inputs, **kwargs)
            return out

        out, cache = f(*inputs, **kwargs)
        upstream = _random_like(out, rng)
        grads = backward(upstream, cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        targets = _pair_inputs(inputs, grads)
        name = label or getattr(f, "__name__", "function")

    noise = noise_floor(out, upstream, eps)
    report = GradcheckReport(rtol=rtol, eps=eps, label=name, noise_floor=noise)
    for tensor_name, array, analytic in targets:
        report.checks.append(
            _check_tensor(tensor_name, array, np.asarray(analytic, dtype=np.float64), forward, upstream,
                          eps, rtol, floor, noise, max_checks, rng)
        )
    for c in report.checks:
        if c.vanishing:
            warnings.warn(
                f"gradcheck {name}: both gradients of '{c.name}' are ~0 (below the finite-difference noise "
                f"floor {noise:.1e}) at every checked element; the check cannot tell a right backward from a "
                "wrong one here",
                GradcheckWarning,
                stacklevel=2,
            )
    if raise_exception and not report.passed:
        raise GradcheckError("\n" + str(report))
    return report


def _check_settings(eps, rtol, floor, max_checks) -> None:
    """Refuse settings that would make every check meaningless (eps=0 divides 0 by 0, max_checks=0 checks nothing)."""
    for name, value in (("eps", eps), ("rtol", rtol)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not 0 < value < math.inf:
            raise ValueError(f"gradcheck: {name} must be a finite number > 0, got {value!r}")
    if isinstance(floor, bool) or not isinstance(floor, (int, float, np.integer, np.floating)) \
            or not 0 <= floor < math.inf:
        raise ValueError(f"gradcheck: floor must be a finite number >= 0, got {floor!r}")
    if isinstance(max_checks, bool) or not isinstance(max_checks, (int, np.integer)) or max_checks < 1:
        raise ValueError(f"gradcheck: max_checks must be an int >= 1 (how many elements of each tensor to check), "
                         f"got {max_checks!r}")


def _is_float_array(x) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.kind == "f"


def _random_like(out, rng) -> np.ndarray:
    out = out[0] if isinstance(out, tuple) else out
    shape = np.shape(out)
    return rng.standard_normal(shape)


def _pair_inputs(inputs, grads):
    """Match the returned gradients with the float inputs they belong to."""
    pairs = []
    for i, (x, g) in enumerate(zip(inputs, grads)):
        if g is None or not _is_float_array(x):
            continue
        if np.shape(g) != x.shape:
            raise ValueError(
                f"gradcheck: the gradient for input {i} has shape {np.shape(g)} but the input has shape {x.shape}"
            )
        pairs.append((f"input {i}", x, g))
    return pairs


def noise_floor(out, upstream, eps: float) -> float:
    """The smallest gradient error centered differences can resolve for ``L = sum(out * upstream)``.

    ``8 * u * F / eps + eps**2 * F`` with ``F = sum(|out * upstream|)`` and
    ``u`` float64's machine epsilon: the rounding in the two evaluations of
    ``L`` (up to several ``u * F`` each, divided by ``2 * eps``) plus the
    truncation error of the centered difference (``eps**2 / 6`` times the
    third derivative, taken as at most ``F`` for a function that varies on
    the unit scale). See the module docstring.

    Parameters
    ----------
    out : float, ndarray or tuple
        The forward output (of a tuple, the first element is the one differentiated).
    upstream : float or ndarray, shape of ``out``
    eps : float
        The finite-difference step.

    Returns
    -------
    float
    """
    out = out[0] if isinstance(out, tuple) else out
    magnitude = float(np.sum(np.abs(np.asarray(out, dtype=np.float64) * upstream)))
    return 8 * np.finfo(np.float64).eps * magnitude / eps + eps**2 * magnitude


def _check_tensor(name, array, analytic, forward, upstream, eps, rtol, floor, noise, max_checks, rng) -> TensorCheck:
    if analytic.shape != array.shape:
        raise ValueError(f"gradcheck: gradient of '{name}' has shape {analytic.shape}, expected {array.shape}")
    size = array.size
    if size == 0:
        return TensorCheck(name, array.shape, 0, 0.0, 0.0, (), 0.0, 0.0, True)
    flat_positions = np.sort(rng.choice(size, size=min(size, max_checks), replace=False))
    numeric = np.empty(len(flat_positions))
    for k, flat in enumerate(flat_positions):
        index = np.unravel_index(flat, array.shape)
        original = array[index]
        # Divide by the step actually taken: for |x| > 1, x + eps rounds and
        # (x + eps) - (x - eps) is not exactly 2 * eps.
        array[index] = high = original + eps
        plus = _scalarise(forward(), upstream)
        array[index] = low = original - eps
        minus = _scalarise(forward(), upstream)
        array[index] = original
        numeric[k] = (plus - minus) / (high - low)
    chosen = analytic.reshape(-1)[flat_positions]
    abs_err = np.abs(chosen - numeric)
    scale = max(np.max(np.abs(numeric)), np.max(np.abs(chosen)))
    vanishing = scale <= noise
    # The denominator is kept above floor * scale (an element tiny next to the
    # tensor's other gradients) and above noise / rtol, so that rel_err <= rtol exactly
    # when abs_err <= rtol * max(|a|, |n|, floor * scale) or abs_err <= noise.
    lower_bound = max(floor * scale, noise / rtol, np.finfo(np.float64).tiny)
    rel_err = abs_err / np.maximum(np.maximum(np.abs(chosen), np.abs(numeric)), lower_bound)
    worst = int(np.argmax(rel_err))
    return TensorCheck(
        name=name,
        shape=tuple(array.shape),
        checked=len(flat_positions),
        max_rel_error=float(rel_err[worst]),
        max_abs_error=float(abs_err.max()),
        worst_index=tuple(int(i) for i in np.unravel_index(flat_positions[worst], array.shape)),
        analytic=float(chosen[worst]),
        numeric=float(numeric[worst]),
        passed=bool(rel_err[worst] <= rtol),
        vanishing=bool(vanishing),
        noise_floor=float(noise),
    )
