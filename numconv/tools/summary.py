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
  described: a list of ``spec("Linear", 43264, 4096)``-style layers costs a
  few hundred bytes, where AlexNet built for real holds 250 M floats.

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import _state
from .._checks import FLOAT_DTYPES
from ..nn import Module, Parallel, Residual, Sequential
from ..nn.conv import _ConvNd
from ._shapes import BranchSpec, LayerSpec, merge_shapes, spec, spec_of

__all__ = ["summary", "spec", "LayerRow", "SummaryResult"]


# ---------------------------------------------------------------------------- the result
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
        ``(C_in * prod(kernel), N * prod(out_spatial))``.
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
        return _format_table(self)


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
    input_size = _check_size(input_size)
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
    rows = _trace_forward(model, shape, dtype) if run_forward else _trace_analytic(model, shape, dtype)
    result = _totals(model, rows, shape, dtype, depth)
    result.ran_forward = bool(run_forward)
    if print_table:
        print(result)
    return result


def _check_size(input_size) -> tuple:
    if isinstance(input_size, (int, np.integer)) and not isinstance(input_size, bool):
        input_size = (input_size,)
    if not isinstance(input_size, (tuple, list)) or not input_size or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in input_size):
        raise ValueError(f"summary: expected input_size to be a non-empty tuple of positive ints (one sample, "
                         f"without the batch axis), got {input_size!r}")
    return tuple(int(s) for s in input_size)


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


def mult_adds(param_count: int, output_shape, is_conv: bool) -> int:
    """torchinfo's multiply-add count of one layer call.

    A convolution: ``param_count * N * prod(out_spatial)``; any other layer:
    ``param_count * N``, with ``N = output_shape[0]`` the batch axis.
    """
    if not param_count or not output_shape:
        return 0
    if is_conv:
        return param_count * output_shape[0] * math.prod(output_shape[2:])
    return param_count * output_shape[0]


def im2col_shape(in_channels: int, kernel_size, output_shape) -> tuple:
    """(rows, columns) of a convolution's im2col matrix: ``(C_in * prod(k), N * prod(out_spatial))``."""
    return in_channels * math.prod(kernel_size), output_shape[0] * math.prod(output_shape[2:])


def _fill_numbers(row: LayerRow, output_shape, param_count: int, is_conv: bool, in_channels, kernel_size,
                  itemsize: int) -> None:
    """Set the mult-adds and the im2col matrix of ``row`` from its (batched) output shape.

    ``param_count`` counts every parameter the module holds itself, also when
    it was counted at an earlier call: each call does the work again.
    """
    row.mult_adds = mult_adds(param_count, output_shape, is_conv)
    if is_conv and output_shape is not None:
        row.im2col_shape = im2col_shape(in_channels, kernel_size, output_shape)
        row.im2col_bytes = math.prod(row.im2col_shape) * itemsize


# ---------------------------------------------------------------------------- tracing a forward pass
def _arrays(value) -> list:
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _arrays(v)]
    return []


def _trace_forward(model: Module, shape: tuple, dtype) -> list:
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
    is_conv = isinstance(module, _ConvNd)
    batched = row.output_shape
    if is_conv and batched is not None and len(batched) == module._nd + 1:
        batched = (1, *batched)  # an unbatched call counts as a batch of one
    param_count = sum(p.size for p in module._parameters.values() if p is not None)
    _fill_numbers(row, batched, param_count, is_conv, getattr(module, "in_channels", 0),
                  getattr(module, "kernel_size", ()), outputs[0].itemsize if outputs else dtype.itemsize)


# ---------------------------------------------------------------------------- working shapes out
def _trace_analytic(model, shape: tuple, dtype) -> list:
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
    hp = layer.hparams
    _fill_numbers(row, out_shape, param_count, layer.family == "conv", hp.get("in_channels", 0),
                  hp.get("kernel_size", ()), out_dtype.itemsize)
    row.mult_adds = layer.mult_adds(out_shape)  # the layer's own rule (transposed convolutions included)
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


# ---------------------------------------------------------------------------- the table
def _size(nbytes: int) -> str:
    """Bytes in decimal units: ``18816`` -> ``"18.8 kB"``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} B"


def _visible_rows(result: SummaryResult) -> list:
    """(row, params, mult_adds, output_bytes, im2col text) for the rows within ``result.depth``.

    A container at the last shown level carries the sums of everything below it.
    """
    rows, shown = result.rows, []
    for i, row in enumerate(rows):
        if result.depth is not None and row.depth > result.depth:
            continue
        params, trainable, macs, im2col = row.params, row.trainable_params, row.mult_adds, ""
        if row.im2col_shape is not None:
            im2col = f"{row.im2col_shape[0]:,} x {row.im2col_shape[1]:,} = {_size(row.im2col_bytes)}"
        if not row.is_leaf and result.depth is not None and row.depth == result.depth:
            inside = []
            for below in rows[i + 1:]:
                if below.depth <= row.depth:
                    break
                inside.append(below)
            params += sum(r.params for r in inside)
            trainable += sum(r.trainable_params for r in inside)
            macs += sum(r.mult_adds for r in inside)
        shown.append((row, params, trainable, macs, im2col))
    return shown


def _format_table(result: SummaryResult) -> str:
    header = ("Layer (type: path)", "Output shape", "Params", "Mult-adds", "Output", "im2col columns")
    body = []
    for row, params, trainable, macs, im2col in _visible_rows(result):
        if row.shared and not params:
            param_text = "(shared)"
        elif not params:
            param_text = "--"
        elif trainable == params:
            param_text = f"{params:,}"
        elif trainable == 0:
            param_text = f"({params:,})"
        else:
            param_text = f"{params:,} ({params - trainable:,} frozen)"
        shape = "--" if row.output_shape is None else "[" + ", ".join(str(s) for s in row.output_shape) + "]"
        output = _size(row.output_bytes) if row.is_leaf and row.output_bytes else "--"
        body.append(("  " * row.depth + row.name, shape, param_text, f"{macs:,}" if macs else "--", output, im2col))
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    align = ("<", "<", ">", ">", ">", "<")

    def line(cells):
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()

    rule_width = len(line(tuple("x" * w for w in widths)))
    thick, thin = "=" * rule_width, "-" * rule_width
    mb = 1e6
    how = ("Shapes from one forward pass." if result.ran_forward
           else "Shapes worked out from the layers' hyper-parameters (nothing was run).")
    footer = [
        f"Total params: {result.total_params:,}",
        f"Trainable params: {result.trainable_params:,}",
        f"Non-trainable params: {result.non_trainable_params:,}",
        f"Total mult-adds: {result.total_mult_adds:,} ({_scaled(result.total_mult_adds)})",
    ]
    memory = [
        f"Input size (MB): {result.input_bytes / mb:.2f}    "
        f"[{', '.join(str(s) for s in result.input_size)}] {result.dtype.name}",
        f"Forward activations (MB): {result.activation_bytes / mb:.2f}    outputs of every layer",
        f"Params size (MB): {result.param_bytes / mb:.2f}",
        f"Buffers size (MB): {result.buffer_bytes / mb:.2f}    running statistics (not parameters)",
        f"Estimated total size (MB): {result.total_bytes / mb:.2f}",
    ]
    if result.im2col_bytes:
        memory.append(f"im2col columns (MB): {result.im2col_bytes / mb:.2f}    all kept for backward in training; "
                      f"largest {result.max_im2col_bytes / mb:.2f}")
    return "\n".join([thick, line(header), thick, *(line(b) for b in body), thick, *footer, thin, *memory, thin,
                      how, thick])


def _scaled(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)
