"""The rows of ``summary``'s table: one per module call, found by running the model or by working shapes out.

``trace_forward`` runs one forward pass with every module's ``forward``
wrapped to record a :class:`LayerRow`; ``trace_analytic`` walks a tree of
``Sequential`` s or of :class:`LayerSpec` s and works each layer's output
shape out from its hyper-parameters (``numconv.tools._shapes``), so that a
network too large to build can still be described. ``numconv.tools.summary``
adds the totals and ``summary_table`` prints them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import _state
from ..nn import Module, Parallel, Residual, Sequential
from ..nn.conv import _ConvNd
from ..nn.conv_transpose import _ConvTransposeNd
from ._shapes import BranchSpec, LayerSpec, merge_shapes, mult_adds, spec_of

__all__ = ["LayerRow", "trace_forward", "trace_analytic", "mult_adds", "im2col_shape", "columns_shape"]


@dataclass
class LayerRow:
    """One row of the table: one call of one module (or one :class:`LayerSpec`).

    Attributes
    ----------
    path : str
        Dotted path of the module in the model (``"features.0"``); ``""`` for the model itself.
    type_name : str
        Class name (``"Conv2d"``).
    depth : int
        0 for the model, 1 for its children, ...
    input_shape, output_shape : tuple or None
        Batched shapes of the first input and of the output.
    params, trainable_params : int
        Parameters this module owns itself (not those of its children), counted
        at its first call only.
    param_bytes : int
    mult_adds : int
        Multiply-adds of this call (see the module docstring for the conventions).
    output_bytes : int
        Bytes of the output array(s).
    im2col_shape : (int, int) or None
        Convolutions: the column matrix that ``algorithm="im2col"`` builds,
        ``(C_in * prod(kernel), N * prod(out_spatial))``; transposed
        convolutions: the columns ``W^T @ x`` they add onto the output,
        ``(C_out * prod(kernel), N * prod(in_spatial))``.
    im2col_bytes : int
    is_leaf : bool
        True for a module without children (a layer); container rows hold no
        numbers of their own beyond parameters they own directly.
    shared : bool
        True when this module already ran earlier in the same pass.
    """

    path: str
    type_name: str
    depth: int
    input_shape: tuple | None = None
    output_shape: tuple | None = None
    params: int = 0
    trainable_params: int = 0
    param_bytes: int = 0
    mult_adds: int = 0
    output_bytes: int = 0
    im2col_shape: tuple | None = None
    im2col_bytes: int = 0
    is_leaf: bool = True
    shared: bool = False

    @property
    def name(self) -> str:
        """``"Conv2d: features.0"``: the type, and the path when there is one."""
        return f"{self.type_name}: {self.path}" if self.path else self.type_name


# ---------------------------------------------------------------------------- per-row numbers
def _own_parameters(module, counted: set) -> tuple:
    """(params, trainable, bytes) of the parameters ``module`` holds itself and ``counted`` has not seen."""
    params = trainable = nbytes = 0
    for p in module._parameters.values():
        if p is None or id(p) in counted:
            continue
        counted.add(id(p))
        params += p.size
        trainable += p.size if p.requires_grad else 0
        nbytes += p.data.nbytes
    return params, trainable, nbytes


def im2col_shape(in_channels: int, kernel_size, output_shape) -> tuple:
    """(rows, columns) of a convolution's im2col matrix: ``(C_in * prod(k), N * prod(out_spatial))``."""
    return in_channels * math.prod(kernel_size), output_shape[0] * math.prod(output_shape[2:])


def columns_shape(transposed: bool, in_channels: int, out_channels: int, kernel_size, input_shape,
                  output_shape) -> tuple:
    """(rows, columns) of the column matrix a convolution computes with, from its batched shapes.

    A convolution unrolls its input (im2col): ``(C_in * prod(k), N * prod(out_spatial))``,
    one column per output pixel. A transposed convolution computes
    ``W^T @ x``: ``(C_out * prod(k), N * prod(in_spatial))``, one column per
    input pixel, which col2im then adds onto the output
    (``numconv/functional/conv_transpose.py``).
    """
    if transposed:
        return im2col_shape(out_channels, kernel_size, input_shape)
    return im2col_shape(in_channels, kernel_size, output_shape)


def _fill_numbers(row: LayerRow, output_shape, param_count: int, is_conv: bool, columns, itemsize: int) -> None:
    """Set the mult-adds of ``row`` from its (batched) output shape, and its column matrix (None: none).

    ``param_count`` counts every parameter the module holds itself, also when
    it was counted at an earlier call: each call does the work again.
    """
    row.mult_adds = mult_adds(param_count, output_shape, is_conv)
    if columns is not None:
        row.im2col_shape = columns
        row.im2col_bytes = math.prod(columns) * itemsize


# ---------------------------------------------------------------------------- tracing a forward pass
def _arrays(value) -> list:
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _arrays(v)]
    return []


def trace_forward(model: Module, shape: tuple, dtype) -> list:
    """Run ``model`` once on a random input, recording a row per module call.

    Each module's ``forward`` is shadowed by an instance attribute that opens
    a row, calls the real ``forward`` and fills the row in from its output.
    The shadows and the training flags are put back afterwards, also when
    the forward pass fails; it runs under ``no_grad``, so the tape of a
    pending forward is not touched.
    """
    rows, stack, failed, counted, calls, paths = [], [], [], set(), {}, {}
    for path, module in model.named_modules():
        paths.setdefault(id(module), path)

    def wrap(module, original):
        def forward(*args, **kwargs):
            calls[id(module)] = calls.get(id(module), 0) + 1
            inputs = _arrays(args[:1])
            row = LayerRow(paths[id(module)], type(module).__name__, len(stack),
                           input_shape=tuple(inputs[0].shape) if inputs else None,
                           is_leaf=not any(True for _ in module.children()), shared=calls[id(module)] > 1)
            row.params, row.trainable_params, row.param_bytes = _own_parameters(module, counted)
            rows.append(row)
            stack.append(row)
            try:
                out = original(*args, **kwargs)
            except Exception:
                failed.append(row)  # the innermost module that raised comes first
                raise
            finally:
                stack.pop()
            _record_output(row, module, _arrays(out), np.dtype(dtype))
            return out
        return forward

    modules = list({id(m): m for _, m in model.named_modules()}.values())
    saved = [(m, m.__dict__.get("forward"), m.training) for m in modules]
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)  # a local generator: numconv's is untouched
    try:
        for m in modules:
            m.__dict__["forward"] = wrap(m, m.forward)
        model.eval()
        with _state.no_grad():
            try:
                model(x)
            except (ValueError, TypeError) as error:
                where = f" in {failed[0].name}" if failed and failed[0].path else ""
                kind = TypeError if isinstance(error, TypeError) else ValueError
                raise kind(f"summary: the forward pass on an input of shape {shape} failed{where}: {error}") from error
    finally:
        for m, forward, training in saved:
            if forward is None:
                m.__dict__.pop("forward", None)
            else:
                m.__dict__["forward"] = forward
            object.__setattr__(m, "training", training)
    return rows


def _record_output(row: LayerRow, module, outputs: list, dtype) -> None:
    """Fill in ``row`` from the arrays a module call returned."""
    if outputs:
        row.output_shape = tuple(outputs[0].shape)
        row.output_bytes = sum(a.nbytes for a in outputs)
    is_conv = isinstance(module, _ConvNd)  # transposed convolutions too
    batched_in, batched_out = row.input_shape, row.output_shape
    if is_conv and batched_out is not None and len(batched_out) == module._nd + 1:
        batched_in, batched_out = (1, *batched_in), (1, *batched_out)  # an unbatched call counts as a batch of one
    columns = None
    if is_conv and batched_out is not None:
        columns = columns_shape(isinstance(module, _ConvTransposeNd), module.in_channels, module.out_channels,
                                module.kernel_size, batched_in, batched_out)
    param_count = sum(p.size for p in module._parameters.values() if p is not None)
    _fill_numbers(row, batched_out, param_count, is_conv, columns, outputs[0].itemsize if outputs else dtype.itemsize)


# ---------------------------------------------------------------------------- working shapes out
def trace_analytic(model, shape: tuple, dtype) -> list:
    """Rows for ``model`` (a Module tree of Sequentials, or specs) with shapes from the layers' arithmetic."""
    rows, counted = [], set()
    _walk(model, "", _type_name(model), 0, shape, np.dtype(dtype), rows, counted)
    return rows


def _type_name(node) -> str:
    """A module's class name, a spec's layer type; a list or dict of specs reads as a ``Sequential``."""
    if isinstance(node, (LayerSpec, BranchSpec)):
        return node.type_name
    return type(node).__name__ if isinstance(node, Module) else "Sequential"


def _children(node):
    if isinstance(node, BranchSpec):
        return node.children()
    if isinstance(node, Module):
        return list(node.named_children())
    if isinstance(node, dict):
        return [(str(k), v) for k, v in node.items()]
    if isinstance(node, (list, tuple)):
        return [(str(i), v) for i, v in enumerate(node)]
    return []


def _walk(node, path, type_name, depth, shape, dtype, rows, counted):
    """Append the rows of ``node`` run on ``shape``; return (output shape, output dtype)."""
    row = LayerRow(path, type_name, depth, input_shape=shape)
    rows.append(row)
    children = _children(node)
    if isinstance(node, Module):
        row.params, row.trainable_params, row.param_bytes = _own_parameters(node, counted)
    plan = _branch_plan(node)
    if plan is not None:
        return _walk_branches(plan, row, path, depth, shape, dtype, rows, counted)
    if children or isinstance(node, (list, tuple, dict)):
        if isinstance(node, Module) and type(node).forward is not Sequential.forward:
            raise ValueError(f"summary: cannot work out the shapes inside {row.name or type_name} (a "
                             f"{type(node).__name__} with its own forward) without running it; use run_forward=True")
        row.is_leaf = False
        for name, child in children:
            if not isinstance(child, (Module, LayerSpec, BranchSpec, list, tuple, dict)):
                raise TypeError(f"summary: expected a layer spec at '{_join(path, name)}', got "
                                f"{type(child).__name__}")
            shape, dtype = _walk(child, _join(path, name), _type_name(child), depth + 1, shape, dtype, rows, counted)
        row.output_shape = shape
        row.output_bytes = math.prod(shape) * dtype.itemsize
        return shape, dtype

    layer = node if isinstance(node, LayerSpec) else spec_of(node)
    try:
        out_shape = layer.output_shape(shape)
    except ValueError as error:
        raise ValueError(f"summary: layer '{path}': {error}") from None
    if isinstance(node, LayerSpec):
        sizes = [math.prod(s) for s in layer.parameter_shapes().values()]
        row.params = row.trainable_params = sum(sizes)
        row.param_bytes = sum(sizes) * (layer.dtype.itemsize if sizes else 0)
        param_count = sum(sizes)
    else:
        param_count = sum(p.size for p in node._parameters.values() if p is not None)
    # A layer with parameters computes in their dtype; one without keeps its input's.
    out_dtype = layer.dtype or dtype
    row.output_shape = out_shape
    row.output_bytes = math.prod(out_shape) * out_dtype.itemsize
    is_conv = layer.family in ("conv", "convtranspose")
    columns = None
    if is_conv:
        hp = layer.hparams
        columns = columns_shape(layer.family == "convtranspose", hp["in_channels"], hp["out_channels"],
                                hp["kernel_size"], shape, out_shape)
    _fill_numbers(row, out_shape, param_count, is_conv, columns, out_dtype.itemsize)
    return out_shape, out_dtype


def _branch_plan(node):
    """A ``BranchSpec`` for ``node`` when its parts are not a chain (Residual, Parallel, a BranchSpec), else None."""
    if isinstance(node, BranchSpec):
        return node
    if isinstance(node, Residual):
        shortcut = {} if node.shortcut is None else {"shortcut": node.shortcut}
        return BranchSpec("Residual", [{"body": node.body}, shortcut], "add")
    if isinstance(node, Parallel) and type(node).forward is Parallel.forward:
        return BranchSpec(type(node).__name__, [{name: child} for name, child in node.named_children()],
                          node.merge, getattr(node.join, "dim", 1))
    return None


def _walk_branches(plan, row, path, depth, shape, dtype, rows, counted):
    """Walk each branch from ``shape``, join their outputs, then walk ``plan.after``."""
    row.is_leaf = False
    outs = []
    for branch in plan.branches:
        s, d = shape, dtype
        for name, child in branch.items():
            s, d = _walk(child, _join(path, name), _type_name(child), depth + 1, s, d, rows, counted)
        outs.append((s, d))
    shape = merge_shapes([s for s, _ in outs], plan.merge, plan.dim, f"summary: '{path or row.type_name}'")
    dtype = np.result_type(*(d for _, d in outs))
    if plan.join is not None:
        join = LayerRow(_join(path, plan.join), "Add" if plan.merge == "add" else "Cat", depth + 1,
                        input_shape=outs[0][0], output_shape=shape)
        join.output_bytes = math.prod(shape) * dtype.itemsize
        rows.append(join)
    for name, child in (plan.after or {}).items():
        shape, dtype = _walk(child, _join(path, name), _type_name(child), depth + 1, shape, dtype, rows, counted)
    row.output_shape = shape
    row.output_bytes = math.prod(shape) * dtype.itemsize
    return shape, dtype


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
