"""``from_torch`` for PyTorch classes with their own ``forward``: traced with ``torch.fx``, rebuilt as a chain.

A model written the PyTorch-tutorial way::

    class Net(torch.nn.Module):
        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = torch.flatten(x, 1)
            return self.fc(x)

is traced symbolically (``torch.fx.symbolic_trace``); when every step uses
only the result of the step before it, the steps become a numconv
``Sequential``: each submodule call becomes the converted layer under the
submodule's own name (so ``state_dict`` keys stay ``conv1.weight``), each
function or method call the numconv layer that computes it
(``F.relu`` -> ``ReLU``, ``torch.flatten(x, 1)`` / ``x.view(x.size(0), -1)``
-> ``Flatten``, ...). A parameter-free submodule called twice (``self.pool``
above) becomes one layer at each place.

A forward that is not a chain (a residual ``x + f(x)``, ``torch.cat``, a
submodule called at two places) becomes a
:class:`~numconv.interop.torch_graph.TracedModel` instead: the submodules
under their names, and the traced steps replayed with ``nn.Add`` for
``+`` and ``nn.Cat`` for ``torch.cat``; the tape gives it its backward.
Refused, naming the step: a function numconv has no layer for, a step
that reads a parameter directly, and forward hooks (which a conversion
would silently drop).
"""

from __future__ import annotations

from collections import OrderedDict

from .. import nn

__all__ = ["trace_to_sequential"]


def _function_layers(torch):
    """``callable -> (numconv layer class, constructor kwargs from the call's extra arguments)``."""
    F = torch.nn.functional
    plain = {F.relu: nn.ReLU, torch.relu: nn.ReLU, torch.tanh: nn.Tanh, F.tanh: nn.Tanh, torch.sigmoid: nn.Sigmoid,
             F.sigmoid: nn.Sigmoid, F.gelu: nn.GELU, F.silu: nn.SiLU, F.elu: nn.ELU, F.leaky_relu: nn.LeakyReLU,
             F.softmax: nn.Softmax, F.log_softmax: nn.LogSoftmax, F.relu6: nn.ReLU6, F.hardswish: nn.Hardswish,
             F.mish: nn.Mish, F.softplus: nn.Softplus, F.dropout: nn.Dropout}
    return plain


_METHOD_LAYERS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softmax": nn.Softmax,
                  "log_softmax": nn.LogSoftmax}
_ARG_NAMES = {nn.Softmax: ["dim"], nn.LogSoftmax: ["dim"], nn.LeakyReLU: ["negative_slope"], nn.ELU: ["alpha"],
              nn.Dropout: ["p"], nn.GELU: ["approximate"], nn.Softplus: ["beta", "threshold"]}


class _NotAChain(Exception):
    """The traced forward branches; it becomes a TracedModel instead of a Sequential."""


class _Chain:
    """The layers of the chain being built, each under a unique name."""

    def __init__(self):
        self.layers, self.counts = [], {}

    def add(self, name, layer):
        count = self.counts.get(name, 0)
        self.counts[name] = count + 1
        self.layers.append((name if count == 0 else f"{name}_{count}", layer))


def _refuse(node, why) -> TypeError:
    return TypeError(f"from_torch: cannot convert the step '{node.format_node()}' of the traced forward: {why}")


def _flatten_layer(torch, node):
    """``torch.flatten(x, start[, end])``, ``x.flatten(start)``, ``x.view(x.size(0), -1)`` -> Flatten, or None."""
    args = list(node.args[1:])
    if node.target in (torch.flatten, "flatten"):
        start = args[0] if args else node.kwargs.get("start_dim", 0)
        end = args[1] if len(args) > 1 else node.kwargs.get("end_dim", -1)
        return nn.Flatten(start, end) if isinstance(start, int) and isinstance(end, int) else None
    if node.target in ("view", "reshape") and len(args) == 2 and args[1] == -1:
        size = args[0]
        is_batch = (getattr(size, "op", None) == "call_method" and size.target == "size" and size.args[1:] == (0,))
        return nn.Flatten() if is_batch else None
    return None


def _function_layer(torch, node):
    """The numconv layer computing a call_function / call_method step, or None."""
    if node.target in (torch.flatten, "flatten", "view", "reshape"):
        return _flatten_layer(torch, node)
    cls = _function_layers(torch).get(node.target) if node.op == "call_function" \
        else _METHOD_LAYERS.get(node.target)
    if cls is None:
        return None
    names = _ARG_NAMES.get(cls, [])
    kwargs = dict(zip(names, node.args[1:]))
    kwargs.update({k: v for k, v in node.kwargs.items() if k in names})
    # F.dropout(x, p, training=self.training) becomes a Dropout layer, which follows train() / eval() itself
    # (the traced graph only holds the mode the model was in when it was traced).
    return cls(**kwargs)


def _check_hooks(module):
    for name, sub in module.named_modules():
        if sub._forward_hooks or sub._forward_pre_hooks:
            raise TypeError(f"from_torch: the module at '{name or '<root>'}' has forward hooks, which a converted "
                            f"model would not run; remove them before converting")


def trace_to_sequential(module, torch, convert_leaf):
    """A numconv model computing what ``module``'s traced forward computes.

    A chain becomes a ``Sequential``; a forward that branches (a sum, a
    concatenation, a submodule called twice) a :class:`TracedModel`.
    ``convert_leaf(submodule, path)`` converts one called submodule.
    """
    _check_hooks(module)
    import torch.fx

    try:
        traced = torch.fx.symbolic_trace(module)
    except Exception as error:  # tracing runs user code: any failure means "not traceable"
        raise TypeError(f"from_torch: {type(module).__name__} has its own forward, and torch.fx cannot trace "
                        f"it ({type(error).__name__}: {error})") from None
    spare = _uncalled_state(traced, module)
    if not spare:
        try:
            return _chain(traced, module, torch, convert_leaf)
        except _NotAChain:
            pass
    return _graph(traced, module, torch, convert_leaf, spare)


def _uncalled_state(traced, module):
    """Paths of the layers with parameters or buffers that ``forward`` never calls (a spare head, an
    auxiliary classifier): converted too, so the model keeps their weights and ``state_dict`` keys."""
    called = [node.target for node in traced.graph.nodes if node.op == "call_module"]
    spare = []
    for path, sub in module.named_modules():
        if not path or any(True for _ in sub.children()) or not sub.state_dict():
            continue
        if not any(path == c or path.startswith(c + ".") for c in called):
            spare.append(path)
    return spare


def _chain(traced, module, torch, convert_leaf):
    chain, previous, called = _Chain(), None, set()
    submodules = dict(module.named_modules())
    for node in traced.graph.nodes:
        if node.op == "placeholder":
            if previous is not None:
                raise _refuse(node, "the forward takes more than one input")
            previous = node
            continue
        if node.op == "output":
            if node.args[0] is not previous:
                raise _refuse(node, "the forward returns something other than its last step")
            break
        if node.op == "call_method" and node.target == "size":
            continue  # only feeds a view(x.size(0), -1)
        data = [a for a in node.all_input_nodes if not (a.op == "call_method" and a.target == "size")]
        if data != [previous] or len(previous.users) > 1 + (node.target in ("view", "reshape")):
            raise _NotAChain
        if node.op == "call_module":
            sub = submodules[node.target]
            if node.target in called and any(True for _ in sub.parameters()):
                raise _NotAChain
            if node.kwargs or len(node.args) > 1:  # e.g. output_size=: a chain passes one array only
                raise _NotAChain
            called.add(node.target)
            chain.add(node.target, convert_leaf(sub, node.target))  # a fresh layer per call: one cache each
        elif node.op in ("call_function", "call_method"):
            layer = _function_layer(torch, node)
            if layer is None:
                raise _refuse(node, f"numconv has no layer for {getattr(node.target, '__name__', node.target)}")
            chain.add(type(layer).__name__.lower(), layer)
        else:
            raise _refuse(node, f"a '{node.op}' step (e.g. reading a parameter directly) has no layer")
        previous = node
    return _nest(chain.layers)


def _nest(layers):
    """Sequentials nested along dotted names, refusing a container whose calls are interleaved with others."""
    tree, closed = OrderedDict(), set()
    last_top = None
    for name, layer in layers:
        *parents, leaf = name.split(".")
        top = parents[0] if parents else leaf
        if top != last_top:
            if top in closed:
                raise TypeError(f"from_torch: '{top}' is called again after other steps; a chain cannot hold that")
            if last_top is not None:
                closed.add(last_top)
            last_top = top
        level = tree
        for part in parents:
            level = level.setdefault(part, OrderedDict())
        level[leaf] = layer

    def build(level):
        return nn.Sequential(OrderedDict((k, build(v) if isinstance(v, OrderedDict) else v)
                                         for k, v in level.items()))
    return build(tree)


def _graph(traced, module, torch, convert_leaf, spare=()):
    """The traced graph as a program over numconv layers (nn.Add for ``+``, nn.Cat for ``torch.cat``);
    ``spare`` names layers it never calls, kept for their weights."""
    import operator

    from .torch_graph import Ref, TracedModel

    submodules, program, layers = {}, [], []
    owned = dict(module.named_modules())

    def refs(value):
        if hasattr(value, "op") and hasattr(value, "users"):
            return Ref(value.name)
        if isinstance(value, list):
            return [refs(v) for v in value]
        if isinstance(value, tuple):
            return tuple(refs(v) for v in value)
        if isinstance(value, dict):  # (a forward that returns a dict of results)
            return {key: refs(v) for key, v in value.items()}
        return value

    def add_layer(node, layer, args):
        layers.append(layer)
        program.append((node.name, "layer", len(layers) - 1, [refs(a) for a in args], {}))

    for node in traced.graph.nodes:
        if node.op == "placeholder":
            if program:
                raise _refuse(node, "the forward takes more than one input")
            program.append((node.name, "input", None, [], {}))
        elif node.op == "output":
            program.append((node.name, "output", None, [refs(node.args[0])], {}))
        elif node.op == "call_module":
            if node.target not in submodules:
                submodules[node.target] = convert_leaf(owned[node.target], node.target)
            program.append((node.name, "module", node.target, [refs(a) for a in node.args],
                            {key: refs(value) for key, value in node.kwargs.items()}))
        elif node.op == "call_method" and node.target == "size":
            program.append((node.name, "size", None, [refs(node.args[0]), node.args[1] if len(node.args) > 1
                                                      else node.kwargs.get("dim")], {}))
        elif node.target in (operator.add, operator.iadd, torch.add, "add"):
            if len(node.args) != 2 or not all(hasattr(a, "op") for a in node.args) or node.kwargs:
                raise _refuse(node, "only a sum of two results becomes an nn.Add")
            add_layer(node, nn.Add(), node.args)
        elif node.target in (torch.cat, torch.concat):
            dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
            add_layer(node, nn.Cat(dim), node.args[0])
        elif node.op in ("call_function", "call_method"):
            layer = _function_layer(torch, node)
            if layer is None:
                raise _refuse(node, f"numconv has no layer for {getattr(node.target, '__name__', node.target)}")
            add_layer(node, layer, node.args[:1])
        else:
            raise _refuse(node, f"a '{node.op}' step (e.g. reading a parameter directly) has no layer")
    for path in spare:
        submodules[path] = convert_leaf(owned[path], path)
    order = {name: i for i, name in enumerate(owned)}  # PyTorch's registration order: the same state_dict order
    return TracedModel(dict(sorted(submodules.items(), key=lambda item: order[item[0]])), program, layers)
