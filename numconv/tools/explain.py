"""``explain``: the arithmetic of a layer, or the receptive field of a network, with the numbers filled in.

For one layer it prints how the output size follows from the input size
(per spatial axis), how many parameters the layer has and how many
multiply-adds it does, and the window it looks through::

    >>> import numconv
    >>> e = numconv.explain("conv2d", (3, 32, 32), out_channels=16, kernel_size=5, padding=2)
    >>> e.output_shape, e.params, e.mult_adds
    ((16, 32, 32), 1216, 1245184)
    >>> print(e.axes[0].text)
    H_out = floor((H_in + 2P - D(K-1) - 1)/S) + 1 = floor((32 + 2·2 - 1·(5-1) - 1)/1) + 1 = 32

For a whole network it follows the receptive field from layer to layer with
the standard recurrence, per spatial axis (``K`` kernel, ``S`` stride, ``D``
dilation, ``P`` padding before the axis)::

    r_out     = r_in + (K - 1)·D·j_in            pixels of the input one output sees
    j_out     = j_in·S                           input pixels between neighbouring outputs
    start_out = start_in + ((K - 1)·D/2 - P)·j_in  input pixel at the centre of the first output's window

starting from ``r = 1, j = 1, start = 0`` at the input (``start`` is a pixel
index: 0 is the centre of the first pixel; it can be negative, in the
padding, or end in .5 for even windows). After a ``Linear`` layer every
output sees the whole input. The recurrence follows the layers in the order
they run, which is exact for a chain such as a ``Sequential``.

Input shapes are those of **one sample, without the batch axis**, as in
``summary``; mult-adds are per sample, with ``summary``'s (torchinfo's)
conventions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..nn import Module
from ._shapes import BranchSpec, LayerSpec, layer_class, sample_shape, spec, spec_of
from ._table import align_columns, shape_text
from .explain_layer import AxisArithmetic, LayerExplanation, explain_layer
from .receptive_field import ReceptiveField, field_after, input_field, joined_field

__all__ = ["explain", "LayerExplanation", "ModelExplanation", "AxisArithmetic", "ReceptiveField", "parse_shape"]


# ---------------------------------------------------------------------------- a whole network
@dataclass
class ModelRow:
    """One layer of a :class:`ModelExplanation`."""

    path: str
    type_name: str
    output_shape: tuple
    params: int
    receptive_field: ReceptiveField


@dataclass
class ModelExplanation:
    """Output shapes and the receptive field after each layer of a network; ``str()`` prints the table.

    Attributes
    ----------
    name : str
    input_shape : tuple
        One sample, without the batch axis.
    rows : list of ModelRow
        The layers (leaf modules) in the order they run.
    """

    name: str
    input_shape: tuple
    rows: list

    @property
    def receptive_field(self) -> ReceptiveField:
        """The receptive field of the network's output (that of its last layer)."""
        return self.rows[-1].receptive_field if self.rows else input_field(len(self.input_shape) - 1)

    def __str__(self) -> str:
        header = ("layer", "output shape", "params", "RF", "jump", "start")
        first = ("(input)", shape_text(self.input_shape), "", *input_field(len(self.input_shape) - 1).cells())
        body = [first] + [(f"{r.type_name}: {r.path}", shape_text(r.output_shape),
                           f"{r.params:,}" if r.params else "--", *r.receptive_field.cells()) for r in self.rows]
        lines, widths = align_columns([header, *body], ("<", "<", ">", ">", ">", ">"))
        return "\n".join([
            f"Receptive field of {self.name} on input {shape_text(self.input_shape)}, per spatial axis:",
            "  r_out = r_in + (K-1)·D·j_in    j_out = j_in·S    start_out = start_in + ((K-1)·D/2 - P)·j_in",
            "  (RF r: input pixels one output sees; jump j: input pixels between neighbouring outputs;",
            "   start: input pixel at the centre of the first output's window, 0 = the first pixel)",
            "",
            lines[0], "  ".join("-" * w for w in widths), *lines[1:],
        ])


# ---------------------------------------------------------------------------- the entry point
def explain(layer_or_model, input_shape=None, **hparams):
    """Spell out a layer's arithmetic, or a network's receptive field, with the numbers filled in.

    Parameters
    ----------
    layer_or_model : str, numconv.nn layer class, LayerSpec, Module, or list / dict of LayerSpec
        A layer name (``"conv2d"``, ``"maxpool2d"``, ``"linear"``, ...) or
        class with its constructor arguments in ``hparams``; a layer or a
        :class:`LayerSpec` (one layer); a network (a Module with children,
        or a list / dict of specs as taken by ``summary``).
    input_shape : tuple of int or str
        One sample, **without the batch axis**: ``(3, 32, 32)`` or ``"3x32x32"``.
        Default for a network: its ``input_shape`` attribute.
    **hparams
        With a layer name: the constructor arguments, by name
        (``out_channels=16, kernel_size=5, padding=2``). ``in_channels``,
        ``in_features``, ``num_features`` and ``num_channels`` default to
        the input's size.

    Returns
    -------
    LayerExplanation or ModelExplanation
        The numbers as data; ``str()`` is the explanation.

    Raises
    ------
    ValueError
        An input the layer cannot take (named in the message), or a bad shape.
    TypeError
        Missing or unknown layer arguments.
    """
    if isinstance(layer_or_model, (str, type)):
        input_shape = _check_shape(input_shape)
        layer = spec(layer_or_model, **_fill_input_sizes(layer_class(layer_or_model).__name__, input_shape, hparams))
        return explain_layer(layer, input_shape)
    if hparams:
        raise TypeError(f"explain: layer arguments ({', '.join(hparams)}) go with a layer name, not with a "
                        f"{type(layer_or_model).__name__}")
    if isinstance(layer_or_model, LayerSpec):
        return explain_layer(layer_or_model, _check_shape(input_shape))
    if isinstance(layer_or_model, Module) and not any(True for _ in layer_or_model.children()):
        return explain_layer(spec_of(layer_or_model), _check_shape(input_shape))
    if isinstance(layer_or_model, (Module, list, tuple, dict)):
        if input_shape is None:
            input_shape = getattr(layer_or_model, "input_shape", None)
        return _explain_model(layer_or_model, _check_shape(input_shape))
    raise TypeError(f"explain: expected a layer name, a layer, a layer spec or a network, got "
                    f"{type(layer_or_model).__name__}")


def parse_shape(text: str, what: str = "shape", example: str = "3x32x32") -> tuple:
    """``"3x32x32"`` -> ``(3, 32, 32)``; ``"5"`` -> ``(5,)``. ``ValueError`` naming ``what`` otherwise."""
    parts = str(text).lower().replace("×", "x").replace(",", "x").split("x")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if not values or any(v < 0 for v in values):
        raise ValueError(f"{what}: expected non-negative integers joined by 'x' (such as {example}), got {text!r}")
    return values


def _check_shape(input_shape) -> tuple:
    if input_shape is None:
        raise ValueError("explain: pass input_shape, the shape of one sample without the batch axis (e.g. (3, 32, 32))")
    if isinstance(input_shape, str):
        input_shape = parse_shape(input_shape, "explain: input_shape")
    return sample_shape(input_shape, "explain", "input_shape")


def _fill_input_sizes(type_name: str, input_shape: tuple, hparams: dict) -> dict:
    """Default the argument that must equal the input's channel (or feature) count to that count."""
    hparams = dict(hparams)
    key = {"Linear": "in_features", "GroupNorm": "num_channels"}.get(type_name)
    if type_name.startswith("Conv"):
        key = "in_channels"
    elif type_name.startswith(("BatchNorm", "InstanceNorm")):
        key = "num_features"
    if key is not None and key not in hparams:
        hparams[key] = input_shape[-1] if key == "in_features" else input_shape[0]
    return hparams


# ---------------------------------------------------------------------------- walking a network
def _explain_model(model, input_shape: tuple) -> ModelExplanation:
    from .summary import summary

    chain = isinstance(model, (list, tuple, dict))
    try:
        result = summary(model, input_shape, run_forward=not chain and not _is_sequential_tree(model),
                         print_table=False)
    except ValueError as error:
        raise ValueError(str(error).replace("summary:", "explain:", 1)) from None
    layers = dict(_named_leaves(model, ""))
    blocks = list(_branching_blocks(model, ""))
    rf = input_field(len(input_shape) - 1)
    rows, open_blocks = [], []  # open_blocks: the blocks whose branches are running, outermost first
    for row in result.leaf_rows():
        # Branches (nn.Parallel, nn.Residual, a block description) each start from the block's input; a row
        # after the last branch (the join, or what follows the block) sees the union of their fields.
        joined = False
        while open_blocks and open_blocks[-1].branch_of(row.path) is None:
            rf, joined = open_blocks.pop().join(rf), True
        for block in blocks:
            branch = block.branch_of(row.path)
            if branch is not None and not block.joined:
                if block.entry is None:
                    open_blocks.append(block)
                rf = block.enter(rf, branch)
        node = layers.get(row.path)
        try:
            layer = node if isinstance(node, LayerSpec) else spec_of(node)
        except TypeError:
            layer = None
        if not (joined and layer is None and row.type_name in ("Add", "Cat")):  # the join row itself: no window
            rf = field_after(rf, layer, row.input_shape)
        rows.append(ModelRow(row.path, row.type_name, row.output_shape[1:], row.params, rf))
    name = type(model).__name__ if isinstance(model, Module) else "the network"
    return ModelExplanation(name, input_shape, rows)


@dataclass
class _Block:
    """Branches that start from one input and are joined, and the receptive field as ``explain`` walks them."""

    prefix: str
    branches: list  # per branch, the names of its layers at the block's level
    identity: bool  # the input itself is one more term of the join (a residual block without a shortcut)
    entry: ReceptiveField | None = None  # the field of the block's input, once its first branch starts
    branch: int | None = None  # the branch running now
    ended: list = field(default_factory=list)  # the fields at the ends of the branches before it
    joined: bool = False  # (a layer after the join may share a name with one in a branch)

    def branch_of(self, path: str):
        """Which branch the leaf ``path`` is in, or None."""
        if not path.startswith(self.prefix + ".") and self.prefix:
            return None
        first = path[len(self.prefix) + 1 if self.prefix else 0:].split(".")[0]
        return next((i for i, names in enumerate(self.branches) if first in names), None)

    def enter(self, rf: ReceptiveField, branch: int) -> ReceptiveField:
        """The field a row of ``branch`` starts from: the block's input's when the branch begins."""
        if self.entry is None:
            self.entry, self.branch = rf, branch
        elif branch != self.branch:
            self.ended.append(rf)
            self.branch, rf = branch, self.entry
        return rf

    def join(self, rf: ReceptiveField) -> ReceptiveField:
        """The field after the join: the union of every branch's (``rf`` is the last branch's)."""
        self.joined = True
        return joined_field([*self.ended, rf, *([self.entry] if self.identity else [])])


def _branching_blocks(node, prefix):
    """Every branching block in ``node``, outer blocks before the blocks inside them."""
    from ..nn import Parallel, Residual

    if isinstance(node, (Parallel, Residual)):
        names = [name for name, _ in node.named_children()]
        identity = isinstance(node, Residual) and node.shortcut is None
        yield _Block(prefix, [[name] for name in names], identity)
    elif isinstance(node, BranchSpec):
        yield _Block(prefix, [list(branch) for branch in node.branches if branch],
                     any(not branch for branch in node.branches))
    if isinstance(node, Module):
        children = list(node.named_children())
    elif isinstance(node, BranchSpec):
        children = list(node.children())
    elif isinstance(node, (list, tuple, dict)):
        children = list(node.items() if isinstance(node, dict) else enumerate(node))
    else:
        children = []
    for name, child in children:
        yield from _branching_blocks(child, f"{prefix}.{name}" if prefix else str(name))


def _is_sequential_tree(module) -> bool:
    from ..nn import Sequential

    children = list(module.children())
    if not children:
        return True
    return type(module).forward is Sequential.forward and all(_is_sequential_tree(c) for c in children)


def _named_leaves(node, prefix):
    if isinstance(node, Module):
        children = list(node.named_children())
        if not children:
            yield prefix, node
        for name, child in children:
            yield from _named_leaves(child, f"{prefix}.{name}" if prefix else name)
    elif isinstance(node, LayerSpec):
        yield prefix, node
    elif isinstance(node, BranchSpec):
        for name, child in node.children():
            yield from _named_leaves(child, f"{prefix}.{name}" if prefix else name)
    else:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for name, child in items:
            yield from _named_leaves(child, f"{prefix}.{name}" if prefix else str(name))
