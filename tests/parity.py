"""One-line PyTorch parity checks (the helpers every test module uses).

``check_op`` runs a functional pair and the matching torch function on the
same inputs, draws a *random* upstream gradient (never all ones), and
compares the output and every input gradient. ``check_module`` does the same
for a layer, copying our parameters into the torch layer first and comparing
parameter gradients and buffers too.

Errors are measured as ``max|ours - torch| / max|torch|`` (the relative
error in the max norm; plain absolute error when the reference is all zero).
Tolerances: float64 1e-10, float32 1e-4 (DESIGN.md), never loosened to pass.
"""

from __future__ import annotations

import numpy as np
import pytest

TOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}


def rel_error(ours, theirs) -> float:
    """``max|a - b| / max|b|`` (absolute error where ``b`` is all zero)."""
    a = np.asarray(ours, dtype=np.float64)
    b = np.asarray(theirs, dtype=np.float64)
    assert a.shape == b.shape, f"shape mismatch: ours {a.shape}, torch {b.shape}"
    if a.size == 0:
        return 0.0
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    assert np.array_equal(nan_a, nan_b), "NaN positions differ"
    a, b = np.where(nan_a, 0, a), np.where(nan_b, 0, b)
    inf_a, inf_b = np.isinf(a), np.isinf(b)
    assert np.array_equal(a[inf_a], b[inf_b]) and np.array_equal(inf_a, inf_b), "Inf positions differ"
    a, b = np.where(inf_a, 0, a), np.where(inf_b, 0, b)
    scale = np.max(np.abs(b))
    err = np.max(np.abs(a - b))
    return float(err / scale) if scale > 0 else float(err)


def upstream_rng(seed) -> np.random.Generator:
    """The generator the upstream gradient is drawn from.

    Tests usually draw their inputs from ``default_rng(seed)`` and pass the
    same ``seed`` here. Seeding this stream with ``(seed, 1)`` instead keeps
    it independent of theirs: were it ``default_rng(seed)``, the upstream
    gradient would equal the input whenever the two shapes agree (a square
    ``Linear``, any shape-preserving op), and a backward that mixes up ``x``
    and ``dout`` would pass.
    """
    return np.random.default_rng((seed, 1))


def to_numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def assert_close(ours, theirs, dtype, what: str, tol: float | None = None) -> float:
    """Assert the relative error is within the dtype's tolerance; return it."""
    import torch

    if isinstance(theirs, torch.Tensor):
        theirs = to_numpy(theirs)
    ours = np.asarray(ours)
    tol = TOL[np.dtype(dtype)] if tol is None else tol
    assert ours.shape == np.shape(theirs), f"{what}: shape {ours.shape} vs torch {np.shape(theirs)}"
    err = rel_error(ours, theirs)
    tiny = float(np.finfo(dtype).tiny)  # the smallest normal number
    if 0 < np.max(np.abs(np.asarray(theirs, dtype=np.float64)), initial=0.0) < tiny:
        # A result wholly below the normal range (a float32 loss of 5.9e-43) has absolute, not relative,
        # precision: its last bit is 1.4e-45, 0.2 % of it. Measure the error against the smallest normal
        # number instead, the scale at which the format's relative precision begins.
        err = float(np.max(np.abs(np.asarray(ours, np.float64) - np.asarray(theirs, np.float64)))) / tiny
    assert err <= tol, f"{what}: relative error {err:.3e} > {tol:.0e} ({np.dtype(dtype)})"
    return err


def check_op(op, op_backward, torch_fn, arrays, kwargs=None, torch_kwargs=None, dtype=np.float64,
             seed=0, tol=None, grad_mask=None):
    """Compare a functional pair with a torch function, forward and backward.

    Parameters
    ----------
    op, op_backward : callables
        ``op(*arrays, **kwargs) -> (out, cache)``; ``op_backward(dout, cache) -> grads``.
    torch_fn : callable
        ``torch_fn(*tensors, **torch_kwargs) -> tensor``.
    arrays : list
        Float arrays (cast to ``dtype``; differentiated), or None / other
        values passed through unchanged to both sides.
    grad_mask : list of bool, optional
        Which arrays to compare gradients for (default: every float array).

    Returns
    -------
    dict with the relative errors measured (``"out"``, ``"grad0"``, ...).
    """
    import torch

    kwargs = kwargs or {}
    torch_kwargs = kwargs if torch_kwargs is None else torch_kwargs
    dtype = np.dtype(dtype)
    ours_in = [a.astype(dtype) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in arrays]
    torch_in = [
        torch.tensor(a, requires_grad=True) if isinstance(a, np.ndarray) and a.dtype.kind == "f"
        else (torch.from_numpy(a) if isinstance(a, np.ndarray) else a)
        for a in ours_in
    ]
    out, cache = op(*ours_in, **kwargs)
    t_out = torch_fn(*torch_in, **torch_kwargs)
    errors = {"out": assert_close(out, t_out, dtype, "forward output", tol)}
    assert np.asarray(out).dtype == dtype, f"output dtype {np.asarray(out).dtype}, expected {dtype}"
    upstream = upstream_rng(seed).standard_normal(np.shape(out)).astype(dtype)
    grads = op_backward(upstream, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    t_out.backward(torch.from_numpy(upstream))
    for i, (a, t) in enumerate(zip(ours_in, torch_in)):
        if not (isinstance(t, torch.Tensor) and t.requires_grad):
            continue
        if grad_mask is not None and not grad_mask[i]:
            continue
        g = grads[i]
        assert g is not None, f"gradient {i} is None"
        tg = t.grad if t.grad is not None else torch.zeros_like(t)
        errors[f"grad{i}"] = assert_close(g, tg, dtype, f"gradient of input {i}", tol)
        assert np.asarray(g).dtype == dtype, f"gradient {i} dtype {np.asarray(g).dtype}, expected {dtype}"
    return errors


def copy_params_to_torch(ours, theirs) -> None:
    """Load our module's state into a torch module (same architecture)."""
    import torch

    state = {k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state, strict=True)


def check_module(ours, theirs, inputs, dtype=np.float64, seed=0, tol=None, steps=1, compare_buffers=True,
                 term_scales=None):
    """Compare a numconv layer with a torch layer: output, dx, parameter grads, buffers.

    ``theirs`` receives our parameters (``copy_params_to_torch``), is put in
    the same mode and dtype, and both run ``steps`` forward/backward passes
    on ``inputs`` (a list of arrays; only the first is differentiated).
    Returns the largest relative error of each kind.

    ``term_scales`` maps a parameter name to ``f(x, upstream) -> array``: the
    sum of the absolute values of the terms that make up each element of that
    parameter's gradient (e.g. ``sum |dy * x_hat|`` for a batch-norm weight).
    Such a gradient is a sum that can cancel to almost nothing; its error is
    then measured against that sum, the scale rounding errors are relative to
    in any implementation (PyTorch's included), instead of against the nearly
    zero result. The tolerance itself is unchanged.
    """
    import torch

    dtype = np.dtype(dtype)
    ours.to(dtype)
    theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    copy_params_to_torch(ours, theirs)
    theirs.train(ours.training)
    errors = {}
    rng = upstream_rng(seed)
    for step in range(steps):
        xs = [np.asarray(x[step] if isinstance(x, list) else x) for x in inputs]
        xs = [x.astype(dtype) if x.dtype.kind == "f" else x for x in xs]
        t_xs = [torch.tensor(x, requires_grad=(i == 0)) for i, x in enumerate(xs)]
        ours.zero_grad()
        for p in theirs.parameters():
            p.grad = None
        out = ours(*xs)
        t_out = theirs(*t_xs)
        errors["out"] = max(errors.get("out", 0), assert_close(out, t_out, dtype, f"step {step} output", tol))
        upstream = rng.standard_normal(np.shape(out)).astype(dtype)
        dx = ours.backward(upstream)
        t_out.backward(torch.from_numpy(upstream))
        tdx = t_xs[0].grad if t_xs[0].grad is not None else torch.zeros_like(t_xs[0])
        errors["dx"] = max(errors.get("dx", 0), assert_close(dx, tdx, dtype, f"step {step} input gradient", tol))
        t_params = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            tg = t_params[name].grad
            tg = torch.zeros_like(t_params[name]) if tg is None else tg
            if term_scales and name in term_scales:
                err = _error_against_terms(p.grad, to_numpy(tg), term_scales[name](xs[0], upstream))
                assert err <= (TOL[dtype] if tol is None else tol), \
                    f"step {step} grad of {name}: error {err:.3e} relative to its terms ({dtype})"
            else:
                err = assert_close(p.grad, tg, dtype, f"step {step} grad of {name}", tol)
            errors[name] = max(errors.get(name, 0), err)
        if compare_buffers:
            t_buffers = dict(theirs.named_buffers())
            for name, b in ours.named_buffers():
                err = assert_close(b, t_buffers[name], dtype if b.dtype.kind == "f" else np.float64,
                                   f"step {step} buffer {name}", tol)
                errors[name] = max(errors.get(name, 0), err)
    return errors


def _error_against_terms(ours, theirs, term_scale) -> float:
    """``max |a - b| / max(sum of |terms|)``: the error of a sum relative to the size of its terms."""
    a = np.asarray(ours, dtype=np.float64)
    b = np.asarray(theirs, dtype=np.float64)
    assert a.shape == b.shape, f"shape mismatch: ours {a.shape}, torch {b.shape}"
    scale = float(np.max(np.asarray(term_scale, dtype=np.float64), initial=0.0))
    err = float(np.max(np.abs(a - b), initial=0.0))
    return err / scale if scale > 0 else err


class LargestErrors:
    """The largest relative error against PyTorch of each kind (dx, dweight, ...) per key, printed after a module.

    A test module keeps one, ``LARGEST = LargestErrors()``, exposes its fixture as
    ``report_largest_errors = LARGEST.fixture()``, and records each comparison's errors (the dict that
    ``check_op`` / ``check_module`` return) under a key such as the dtype's name.
    """

    NAMES = {"grad0": "dx", "grad1": "dweight", "grad2": "dbias"}

    def __init__(self):
        self.seen = {}

    def record(self, errors, key) -> None:
        seen = self.seen.setdefault(key, {})
        for name, value in errors.items():
            name = self.NAMES.get(name, name)
            seen[name] = max(seen.get(name, 0.0), value)

    def record_dtype(self, errors, dtype) -> None:
        self.record(errors, np.dtype(dtype).name)

    def fixture(self):
        """A module-scoped autouse fixture that prints the largest errors once the module's tests ran."""
        @pytest.fixture(scope="module", autouse=True)
        def report_largest_errors():
            yield
            for key, errors in sorted(self.seen.items()):
                print(f"\nlargest relative error vs PyTorch, {key}: "
                      + ", ".join(f"{k} {v:.2e}" for k, v in errors.items()))
        return report_largest_errors
