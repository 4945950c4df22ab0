"""Where branches meet: ``Add``, ``Cat``, ``Residual``, ``Parallel``.

Arrays in a model combine only through modules, so that the tape of layer
calls (``numconv/nn/tape.py``) sees every step and backward can route the
gradient. Each module here differentiates itself by hand, like every layer:

* a **sum** hands the same gradient to each input (summed over the axes that
  broadcasting repeated, so each gradient has its input's shape);
* a **concatenation** hands each input its own slice of the gradient.

``Residual`` (a ResNet block: ``body(x) + shortcut(x)``) and ``Parallel``
(an Inception block: branches on one input, then concatenated or added) are
containers built on those two rules.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_float_array
from .container import _checked_module, add_children
from .module import Module
from .tape_arrays import _fingerprint, _unchanged

__all__ = ["Add", "Cat", "Residual", "Parallel"]


def _inputs(xs, where: str) -> list:
    """Check that ``xs`` are float arrays, at least one."""
    if not xs:
        raise TypeError(f"{where}: expected at least one input array, got none")
    if len(xs) == 1 and isinstance(xs[0], (list, tuple)):
        raise TypeError(f"{where}: pass the arrays as separate arguments, {where.split('.')[0].lower()}(a, b), "
                        "not as one list")
    return [as_float_array(x, where, f"input {i}") for i, x in enumerate(xs)]


def sum_to_shape(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting stretched to turn ``shape`` into ``grad.shape``.

    Examples
    --------
    >>> sum_to_shape(np.ones((2, 3, 4)), (3, 1)).tolist()
    [[8.0], [8.0], [8.0]]
    """
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def _one_or_tuple(grads: list):
    return grads[0] if len(grads) == 1 else tuple(grads)


class Add(Module):
    """``a + b + ...``: the sum of any number of arrays (NumPy broadcasting), as ``x + y`` in PyTorch.

    Shapes
    ------
    inputs broadcastable to one shape S -> output S. ``backward`` returns one
    gradient per input, each summed back to that input's shape.

    Examples
    --------
    >>> add = Add()
    >>> add(np.ones((2, 3)), np.ones(3)).shape
    (2, 3)
    """

    _backward_reads_inputs = False  # its backward needs shapes (or a mask), not its inputs' values

    def forward(self, *xs):
        xs = _inputs(xs, "Add")
        try:
            np.broadcast_shapes(*(x.shape for x in xs))
        except ValueError:
            raise ValueError("Add: the inputs' shapes " + ", ".join(str(x.shape) for x in xs)
                             + " do not broadcast to one shape") from None
        out = xs[0]
        for x in xs[1:]:
            out = out + x  # a new array; the inputs are never changed
        if len(xs) == 1:
            out = out.copy()
        self._keep([(x.shape, x.dtype) for x in xs])
        return out

    def backward(self, grad_output):
        """Return dL/d(input) for every input: ``grad_output`` summed to each input's shape."""
        grad_output = np.asarray(grad_output)
        return _one_or_tuple([sum_to_shape(grad_output, shape).astype(dtype, copy=False)
                              for shape, dtype in self._take()])


class Cat(Module):
    """Concatenate along ``dim``, as ``torch.cat(xs, dim)``: the U-Net skip and the Inception merge.

    Parameters
    ----------
    dim : int
        The axis to join along (1 = channels, for NCHW).

    Shapes
    ------
    inputs (N, C_i, H, W) -> output (N, sum C_i, H, W) for ``dim=1``; the
    other axes must agree. ``backward`` returns one slice of the gradient per input.
    """

    _backward_reads_inputs = False  # its backward needs shapes (or a mask), not its inputs' values

    def __init__(self, dim: int = 1):
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"Cat: expected dim to be an int, got {dim!r}")
        self.dim = int(dim)

    def forward(self, *xs):
        xs = _inputs(xs, "Cat")
        ndim = xs[0].ndim
        dim = self.dim + ndim if self.dim < 0 else self.dim
        shapes = ", ".join(str(x.shape) for x in xs)
        if not 0 <= dim < max(ndim, 1) or any(x.ndim != ndim for x in xs):
            raise ValueError(f"Cat: cannot join inputs of shapes {shapes} along dim {self.dim}")
        rest = {x.shape[:dim] + x.shape[dim + 1:] for x in xs}
        if len(rest) > 1:
            raise ValueError(f"Cat: inputs of shapes {shapes} differ outside dim {self.dim}; only the size along "
                             f"dim {self.dim} may differ")
        self._keep((dim, [(x.shape[dim], x.dtype) for x in xs]))
        return np.concatenate(xs, axis=dim)

    def backward(self, grad_output):
        """Return the slice of ``grad_output`` that belongs to each input."""
        dim, sizes = self._take()
        grad_output = np.asarray(grad_output)
        edges = np.cumsum([0] + [n for n, _ in sizes])
        index = [slice(None)] * grad_output.ndim
        grads = []
        for (start, stop), (_, dtype) in zip(zip(edges[:-1], edges[1:]), sizes):
            index[dim] = slice(start, stop)
            grads.append(grad_output[tuple(index)].astype(dtype))
        return _one_or_tuple(grads)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Residual(Module):
    """``body(x) + shortcut(x)``, or ``body(x) + x`` without a shortcut: the ResNet block.

    Parameters
    ----------
    body : Module
        The residual branch (e.g. conv - BN - ReLU - conv - BN).
    shortcut : Module, optional
        What the input goes through to be added (e.g. a 1 x 1 convolution with
        stride 2 when the body changes the shape); the identity when None.

    The gradient of a sum reaches both terms, so ``dx = body.backward(g) +
    shortcut.backward(g)`` (``+ g`` for the identity): the shortcut carries
    the gradient past the body undiminished, which is why deep ResNets train.
    State-dict keys nest as in PyTorch: ``body.0.weight``, ``shortcut.1.running_mean``.
    """

    def __init__(self, body: Module, shortcut: Module | None = None):
        super().__init__()
        self.body = _checked_module(body, "body")
        self.add_module("shortcut", None if shortcut is None else _checked_module(shortcut, "shortcut"))

    def forward(self, x):
        seen = _fingerprint(np.asarray(x))
        branch = self.body(x)
        _check_input_kept(self, x, seen, "body")
        skip = x if self.shortcut is None else self.shortcut(x)
        if np.shape(branch) != np.shape(skip):
            raise ValueError(f"Residual: the body maps {np.shape(x)} to {np.shape(branch)} but the shortcut gives "
                             f"{np.shape(skip)}; give a shortcut that changes the shape the same way (e.g. a "
                             "1 x 1 Conv2d with the body's stride)")
        self._keep(np.result_type(x))
        return branch + skip

    def backward(self, grad_output):
        """dx = body.backward(g) + shortcut.backward(g) (or + g when the shortcut is the identity)."""
        dtype = self._take()
        dx = self.body.backward(grad_output)
        skip = grad_output if self.shortcut is None else self.shortcut.backward(grad_output)
        return (dx + skip).astype(dtype, copy=False)


class Parallel(Module):
    """Run ``branches`` on one input, then join their outputs: the Inception block.

    Parameters
    ----------
    *branches : Module
        Named ``"0"``, ``"1"``, ... in the ``state_dict``, as in ``Sequential``
        (or pass one ``OrderedDict`` of names to modules).
    merge : {'cat', 'add'}
        Concatenate the outputs along ``dim`` (Inception), or add them.
    dim : int
        The axis for ``merge='cat'`` (1 = channels).

    Backward gives each branch its slice of the gradient ('cat') or the whole
    gradient ('add'), and sums what the branches return: the input fed them all.
    """

    def __init__(self, *branches, merge: str = "cat", dim: int = 1):
        super().__init__()
        if merge not in ("cat", "add"):
            raise ValueError(f"Parallel: merge must be 'cat' or 'add', got {merge!r}")
        add_children(self, branches)
        if not self._modules:
            raise ValueError("Parallel: expected at least one branch")
        self.merge = merge
        # Not a registered child: it has no state, and the branches keep the names "0", "1", ...
        object.__setattr__(self, "join", Cat(dim) if merge == "cat" else Add())

    def forward(self, x):
        seen = _fingerprint(np.asarray(x))
        outputs = []
        for name, branch in self._modules.items():
            outputs.append(branch(x))
            _check_input_kept(self, x, seen, f"branch {name!r}")
        return self.join(*outputs)

    def backward(self, grad_output):
        """Split the gradient to the branches (via the join's backward) and sum what they send back."""
        grads = self.join.backward(grad_output)
        grads = grads if isinstance(grads, tuple) else (grads,)
        dx = None
        for branch, grad in zip(reversed(list(self._modules.values())), reversed(grads)):
            g = branch.backward(grad)
            dx = g if dx is None else dx + g
        return dx

    def __len__(self):
        return len(self._modules)

    def extra_repr(self) -> str:
        return f"merge={self.merge!r}" + (f", dim={self.join.dim}" if self.merge == "cat" else "")


def _check_input_kept(block, x, seen, part: str) -> None:
    """Refuse a block whose ``part`` changed the block's input in place (an ``inplace=True`` first layer).

    The other terms (the skip, the other branches) would then read the changed input, and the block's
    backward, which hands them the gradient as if the input were unchanged, would be wrong. Nine sampled
    values (the tape's fingerprint) notice an in-place activation.
    """
    if not _unchanged(np.asarray(x), seen):
        raise ValueError(
            f"{type(block).__name__}: its {part} changed the block's input in place (an inplace=True layer at "
            "its start?), so the other terms of the sum would see the changed values; use inplace=False "
            "for the first layer of a branch")
