"""``summary``: a table of a network's layers, shapes, parameters, operations and memory.

Like ``torchinfo.summary`` (and ``torchsummary``), for numconv models::

    >>> import numconv
    >>> result = numconv.summary(numconv.models.LeNet5(), (1, 32, 32), print_table=False)
    >>> result.total_params, result.total_mult_adds
    (61706, 423038)

Two ways to find the shapes:

- **run a forward pass** (the default for a ``Module``): every module's
  ``forward`` is wrapped for the duration of one call on a random input, in
  eval mode and under ``numconv.no_grad()``, then everything is put back as
  it was (training flags, kept caches). Works for any ``Module``, including
  custom ones with their own ``forward``.
- **work them out** (``run_forward=False``, and always for a list of
  :func:`spec` layers): the output shape of each layer follows from its
  hyper-parameters (see ``numconv.tools._shapes``). Nothing is computed and
  no weights need to exist, so a network too large to build can still be
  described: a list of ``spec("Linear", 25088, 4096)``-style layers costs a
  few hundred bytes, where VGG-16 built for real holds 138 M floats.

The numbers follow torchinfo's conventions so the two can be compared:

- **parameters** are the ``Parameter`` s (buffers such as ``running_mean`` are
  *not* parameters; they appear as "buffers" in the footer). Parameters with
  ``requires_grad=False`` count as non-trainable. A module called twice has its
  parameters counted at its first row only.
- **mult-adds** of a convolution: ``(weight.size + bias.size) * N * prod(out_spatial)``,
  i.e. every output element costs ``C_in/groups * prod(kernel)`` multiply-adds
  plus one add for the bias. Of any other layer with parameters:
  ``N * (number of parameters)`` (exact for ``Linear`` on (N, features) input;
  a convention for batch norm and the like). Layers without parameters
  (activations, pooling) count 0.
- **memory** in decimal megabytes (1 MB = 10**6 bytes). "Forward
  activations" is the sum of the outputs of every layer (leaf module).

The code is in three files: this one (the entry point and the totals),
``summary_rows.py`` (one :class:`LayerRow` per module call, traced or worked
out) and ``summary_table.py`` (the table as text).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._checks import FLOAT_DTYPES
from ..nn import Module
from ._shapes import LayerSpec, sample_shape, spec
from .summary_rows import LayerRow, _children, im2col_shape, mult_adds, trace_analytic, trace_forward
from .summary_table import format_table

__all__ = ["summary", "spec", "LayerRow", "SummaryResult"]


# ---------------------------------------------------------------------------- the result
@dataclass
class SummaryResult:
    """What :func:`summary` found; ``str(result)`` is the table.

    Attributes
    ----------
    rows : list of LayerRow
        In the order the modules ran (parents before their children).
    input_size : tuple
        The batched input shape, ``(batch_size, *input_size)``.
    dtype : np.dtype
        The input's dtype.
    total_params, trainable_params : int
        Every parameter of the model once (shared parameters once).
    total_mult_adds : int
    input_bytes, activation_bytes, param_bytes, buffer_bytes : int
        Input; outputs of every leaf layer; parameters; buffers (running statistics).
    im2col_bytes, max_im2col_bytes : int
        All convolutions' column matrices together (a training-mode forward
        keeps every one of them for the backward pass), and the largest one.
    depth : int or None
        How many levels of nesting the table shows (None: all).
    """

    rows: list
    input_size: tuple
    dtype: np.dtype
    total_params: int
    trainable_params: int
    total_mult_adds: int
    input_bytes: int
    activation_bytes: int
    param_bytes: int
    buffer_bytes: int
    im2col_bytes: int
    max_im2col_bytes: int
    depth: int | None = None
    ran_forward: bool = field(default=True)

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def total_bytes(self) -> int:
        """Estimated memory of one forward pass: input + activations + parameters + buffers."""
        return self.input_bytes + self.activation_bytes + self.param_bytes + self.buffer_bytes

    def leaf_rows(self) -> list:
        """The rows of actual layers (modules without children), in the order they ran."""
        return [r for r in self.rows if r.is_leaf]

    def __str__(self) -> str:
        return format_table(self)


# ---------------------------------------------------------------------------- the entry point
def summary(model, input_size=None, *, batch_size: int = 1, dtype=np.float32, depth: int | None = None,
            run_forward: bool | None = None, print_table: bool = True) -> SummaryResult:
    """Summarise a network: each layer's output shape, parameters, mult-adds and memory, with totals.

    Parameters
    ----------
    model : Module, or a list / dict of :class:`LayerSpec`
        A numconv model, or a description of one built with :func:`spec`
        (a list runs its layers in order like ``Sequential``; a dict names
        them; nested lists and dicts nest).
    input_size : tuple of int, optional
        The shape of **one sample, without the batch axis**, e.g. ``(1, 32, 32)``
        (torchsummary's convention; torchinfo's ``input_size`` includes the
        batch axis). Default: ``model.input_shape`` (the ``numconv.models``
        networks have one).
    batch_size : int
        The batch axis put in front of ``input_size`` (default 1).
    dtype : float32 or float64
        The input's dtype.
    depth : int, optional
        Show nesting levels down to this depth only (a container at the last
        level shows the totals of what it holds); None shows every level.
        Totals are always of the whole model.
    run_forward : bool, optional
        True: run one forward pass to find the shapes. False: work them out
        from the layers' hyper-parameters (containers must be ``Sequential``).
        Default: True for a Module, False for specs (which cannot run).
    print_table : bool
        Print the table (default True).

    Returns
    -------
    SummaryResult
        The rows and totals as data; ``str()`` gives the table.

    Raises
    ------
    ValueError
        Bad ``input_size``/``batch_size``, or an input the model cannot take
        (the message names the layer).
    """
    is_module = isinstance(model, Module)
    if not is_module and not isinstance(model, (list, tuple, dict, LayerSpec)):
        raise TypeError(f"summary: expected a numconv Module or a list of layer specs, got {type(model).__name__}")
    if input_size is None:
        input_size = getattr(model, "input_shape", None)
        if input_size is None:
            raise ValueError("summary: pass input_size, the shape of one sample without the batch axis "
                             "(e.g. (1, 32, 32)); this model has no input_shape attribute to default to")
    input_size = sample_shape(input_size, "summary", "input_size")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"summary: expected batch_size to be a positive int, got {batch_size!r}")
    dtype = np.dtype(dtype)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"summary: expected dtype float32 or float64, got {dtype}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 0):
        raise ValueError(f"summary: expected depth to be None or an int >= 0, got {depth!r}")
    if run_forward is None:
        run_forward = is_module
    if run_forward and not is_module:
        raise ValueError("summary: layer specs cannot run a forward pass; use run_forward=False")

    shape = (int(batch_size), *input_size)
    rows = trace_forward(model, shape, dtype) if run_forward else trace_analytic(model, shape, dtype)
    result = _totals(model, rows, shape, dtype, depth)
    result.ran_forward = bool(run_forward)
    if print_table:
        print(result)
    return result


# ---------------------------------------------------------------------------- totals
def _totals(model, rows, shape, dtype, depth) -> SummaryResult:
    if isinstance(model, Module):
        params = list(model.parameters())
        total = sum(p.size for p in params)
        trainable = sum(p.size for p in params if p.requires_grad)
        param_bytes = sum(p.data.nbytes for p in params)
        buffer_bytes = sum(np.asarray(b).nbytes for b in model.buffers())
    else:
        total = sum(r.params for r in rows)
        trainable = sum(r.trainable_params for r in rows)
        param_bytes = sum(r.param_bytes for r in rows)
        buffer_bytes = 0
        for layer in _leaf_specs(model):
            for name, s in layer.buffer_shapes().items():
                itemsize = 8 if name == "num_batches_tracked" else np.dtype(layer.hparams["dtype"]).itemsize
                buffer_bytes += math.prod(s) * itemsize
    leaves = [r for r in rows if r.is_leaf]
    return SummaryResult(
        rows=rows, input_size=shape, dtype=dtype, total_params=total, trainable_params=trainable,
        total_mult_adds=sum(r.mult_adds for r in rows), input_bytes=math.prod(shape) * dtype.itemsize,
        activation_bytes=sum(r.output_bytes for r in leaves), param_bytes=param_bytes, buffer_bytes=buffer_bytes,
        im2col_bytes=sum(r.im2col_bytes for r in rows), max_im2col_bytes=max((r.im2col_bytes for r in rows),
                                                                             default=0),
        depth=depth,
    )


def _leaf_specs(node):
    if isinstance(node, LayerSpec):
        yield node
    for _, child in _children(node):
        yield from _leaf_specs(child)
