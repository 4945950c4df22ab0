"""``Optimizer``: the bookkeeping every optimiser shares, the PyTorch way.

An optimiser holds *parameter groups*: dicts with a ``"params"`` list and
one value per hyper-parameter (``"lr"``, ``"momentum"``, ...). Groups let
one model train with several settings (a smaller learning rate for a
pretrained body, no weight decay for biases), and they are what a
learning-rate scheduler edits: it rewrites ``group["lr"]`` between steps.

Per-parameter state (momentum buffers, running averages, step counts) lives
in ``optimizer.state[param]``, a dict created on the parameter's first step.

``state_dict()`` has PyTorch's layout, with plain values only::

    {
        "state": {                     # parameter index -> its state
            0: {"step": 3, "exp_avg": ndarray, "exp_avg_sq": ndarray},
            1: {...},                  # only parameters that have state
        },
        "param_groups": [              # one dict per group, in order
            {"lr": 0.001, "betas": [0.9, 0.999], ..., "params": [0, 1]},
            {"lr": 0.01, ..., "params": [2]},
        ],
    }

Parameters are numbered 0, 1, 2, ... through the groups in order. A group
made from ``model.named_parameters()`` also has ``"param_names"`` (a list
of str), which is informative only: loading matches by position. Values
are ints, floats, bools, strings, ndarrays (copies), lists and dicts only,
never objects, so a checkpoint writer can store the whole thing in an
``.npz`` opened with ``allow_pickle=False``. ``load_state_dict`` accepts
what comes back from such a file too: 0-d arrays for numbers, arrays for
lists, and ``"0"``, ``"1"``, ... keys for state indices and list positions.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections import defaultdict

import numpy as np

from ..nn.parameter import Parameter

__all__ = ["Optimizer"]


#: Every hyper-parameter some numconv optimiser has, and which optimisers have it. A saved
#: group holding one of these that the loading optimiser lacks was saved by another kind.
_HYPER_PARAMETERS = {
    "momentum": "SGD or RMSprop", "dampening": "SGD", "nesterov": "SGD", "betas": "Adam or AdamW",
    "amsgrad": "Adam or AdamW", "decoupled_weight_decay": "Adam or AdamW", "alpha": "RMSprop",
    "centered": "RMSprop", "lr_decay": "Adagrad", "initial_accumulator_value": "Adagrad",
}


class Optimizer:
    """Base class of numconv's optimisers.

    A subclass passes its hyper-parameter defaults to ``__init__``, checks a
    group's own values in ``_check_group``, names its per-parameter state in
    ``STATE_ENTRIES`` and updates one parameter in ``_update``; this class
    does the rest, including what every update rule starts with (``g = -g``
    to maximise, then ``g = g + weight_decay * p``).

    Every optimiser has these hyper-parameters (its own default ``lr`` is in
    its signature):

    - ``lr`` (float): the learning rate, finite and >= 0;
    - ``weight_decay`` (float, default 0): the L2 penalty;
    - ``maximize`` (bool, default False): maximise the objective instead of
      minimising it.

    Parameters
    ----------
    params : iterable
        ``Parameter`` objects (e.g. ``model.parameters()``), ``(name,
        Parameter)`` pairs (``model.named_parameters()``), or dicts, each a
        parameter group: ``{"params": [...], "lr": 0.01, ...}``. Options a
        group leaves out take the optimiser's defaults.
    defaults : dict
        Every hyper-parameter's default value.

    Attributes
    ----------
    param_groups : list of dict
        Each holds ``"params"`` (a list of ``Parameter``) and every
        hyper-parameter; edit ``group["lr"]`` to change a learning rate.
    state : dict
        ``state[param]`` is the parameter's state dict (empty before its first step).
    defaults : dict
    """

    #: name -> "count" (an int >= 0) or "array" (the parameter's shape), for every state entry the
    #: optimiser keeps per parameter; ``REQUIRED_STATE`` lists those a non-empty state must have.
    STATE_ENTRIES: dict = {}
    REQUIRED_STATE: tuple = ()

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self._check_group(self.defaults)
        self.state = defaultdict(dict)
        self.param_groups = []
        self._steps_taken = 0  # lets a scheduler warn when it is stepped before the optimiser
        where = type(self).__name__
        if isinstance(params, (Parameter, np.ndarray)):
            raise TypeError(
                f"{where}: params should be an iterable of Parameters or dicts, but got a single "
                f"{type(params).__name__}; pass [param] or model.parameters()"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{where}: params must be an ordered collection (a list), not a set")
        if isinstance(params, dict):
            raise TypeError(f"{where}: params is a single parameter group; pass a list of groups: [{{...}}]")
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(f"{where}: params should be an iterable of Parameters or dicts, "
                            f"got {type(params).__name__}") from None
        if not groups:
            raise ValueError(f"{where}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ what subclasses write
    def _check_group(self, group: dict) -> None:
        """Raise ``ValueError``/``TypeError`` if a hyper-parameter value is invalid.

        Checks those every optimiser has (``lr``, ``weight_decay``, ``maximize``,
        and ``eps`` where there is one); a subclass extends it with its own.
        """
        check_lr(group)
        if "eps" in group:
            check_eps(group)
        check_number(group["weight_decay"], "weight_decay value")
        check_bool(group["maximize"], "maximize")

    def _update(self, param: Parameter, grad: np.ndarray, state: dict, group: dict) -> None:
        """Update ``param.data`` in place from ``grad`` (same dtype as the data), as prepared by ``_gradient``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _update")

    @staticmethod
    def _gradient(param: Parameter, grad: np.ndarray, group: dict) -> np.ndarray:
        """The gradient every update rule starts from: ``-g`` to maximise, plus the L2 term ``weight_decay * p``.

        With ``decoupled_weight_decay`` (AdamW) the weights shrink instead,
        ``p *= 1 - lr * weight_decay``, and the gradient keeps no L2 term.
        """
        if group["maximize"]:
            grad = -grad
        # Python floats keep the arithmetic in the parameter's dtype (a NumPy
        # float64 scalar would promote a float32 update to float64).
        weight_decay = float(group["weight_decay"])
        if weight_decay != 0:
            if group.get("decoupled_weight_decay", False):
                param.data *= 1 - float(group["lr"]) * weight_decay
            else:
                grad = grad + weight_decay * param.data
        return grad

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters, with its own options, to ``param_groups``.

        Useful when fine-tuning: unfreeze a layer and add its parameters.

        Parameters
        ----------
        param_group : dict
            ``{"params": iterable of Parameter (or (name, Parameter) pairs), option: value, ...}``.
        """
        where = f"{type(self).__name__}.add_param_group"
        if not isinstance(param_group, dict):
            raise TypeError(f"{where}: a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{where}: a parameter group needs a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Parameter):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{where}: params must be an ordered collection (a list), not a set")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) and len(p) == 2 else p for p in params]
        if names and len(names) != len(params):
            raise ValueError(f"{where}: give every parameter a name, or none")
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"{where}: can only optimize numconv Parameters, got {type(p).__name__}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{where}: a parameter appears more than once in the group")
        group["params"] = params
        if names:
            group["param_names"] = names
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
        self._check_group(group)
        for other in self.param_groups:
            if ("param_names" in other) != ("param_names" in group):
                raise ValueError(f"{where}: all parameter groups should be with names, or all without")
            if {id(p) for p in other["params"]} & {id(p) for p in params}:
                raise ValueError(f"{where}: some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradient of every parameter: to ``None`` (the default, as PyTorch) or to zeros.

        A parameter whose gradient is ``None`` at ``step()`` (no backward
        reached it: a frozen branch, an unused layer) is skipped, momentum and
        all, as in ``torch.optim``.
        """
        for group in self.param_groups:
            for p in group["params"]:
                p.zero_grad(set_to_none)

    def step(self, closure=None):
        """Update every parameter once from its current gradient.

        Parameters with ``requires_grad=False`` or no gradient (``p.grad is
        None``: nothing reached them since the last ``zero_grad``) are
        skipped entirely, as in PyTorch: their momentum and running averages
        do not move either. A learning rate that became negative or
        non-finite (a scheduler's, or one set by hand) is refused here.

        Parameters
        ----------
        closure : callable, optional
            Recomputes the loss (forward, backward) and returns it; called first.

        Returns
        -------
        The closure's return value, or None.
        """
        loss = closure() if closure is not None else None
        for i, group in enumerate(self.param_groups):
            try:
                check_lr(group)
            except (TypeError, ValueError) as error:  # e.g. a scheduler drove it negative
                raise type(error)(f"{type(self).__name__}.step: parameter group {i}: {error}") from None
        for group in self.param_groups:
            for p in group["params"]:
                if not p.requires_grad or p.grad is None:
                    continue
                grad = p.grad
                if grad.shape != p.data.shape:
                    raise ValueError(
                        f"{type(self).__name__}.step: a parameter of shape {p.data.shape} has a gradient "
                        f"of shape {grad.shape}"
                    )
                if grad.dtype != p.data.dtype:
                    grad = grad.astype(p.data.dtype)  # update in the parameter's own dtype
                self._update(p, self._gradient(p, grad, group), self.state[p], group)
        self._steps_taken += 1
        return loss

    # ------------------------------------------------------------------ state dict
    def state_dict(self) -> dict:
        """The optimiser's state as plain values; see the module docstring for the format.

        Arrays are copies: changing the result does not change the optimiser.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: _plain(v) for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):
                    state[index[id(p)]] = {k: _plain(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state saved by :meth:`state_dict` (or read back from an ``.npz``).

        The optimiser must have the same groups, with the same number of
        parameters each, as the one that saved it. Hyper-parameters (the
        learning rates included) are taken from the saved groups; arrays are
        copied and cast to each parameter's dtype. Everything is checked
        before anything changes.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict:
            raise TypeError(f"{where}: expected a dict with 'state' and 'param_groups', as state_dict() returns")
        saved_groups = _as_list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{where}: the state dict has {len(saved_groups)} parameter groups, the optimizer "
                f"{len(self.param_groups)}"
            )
        id_map = {}
        new_groups = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            saved_ids = [int(_scalar(k)) for k in _as_list(saved["params"])]
            if len(saved_ids) != len(group["params"]):
                raise ValueError(
                    f"{where}: parameter group {i} has {len(saved_ids)} parameters in the state dict but "
                    f"{len(group['params'])} in the optimizer"
                )
            id_map.update(zip(saved_ids, group["params"]))
            new_group = {k: _from_plain(k, v) for k, v in saved.items() if k != "params"}
            self._check_same_kind(new_group, i, where)
            for name, default in self.defaults.items():
                new_group.setdefault(name, default)
            if "param_names" not in new_group and "param_names" in group:
                new_group["param_names"] = group["param_names"]
            new_group["params"] = group["params"]
            self._check_group(new_group)
            new_groups.append(new_group)
        new_state = defaultdict(dict)
        for key, values in state_dict.get("state", {}).items():  # an empty "state" may have been dropped
            key = int(_scalar(key))
            if key not in id_map:
                raise ValueError(f"{where}: the state dict has state for parameter {key}, which no group lists")
            if not isinstance(values, dict):
                raise TypeError(f"{where}: the state of parameter {key} should be a dict, got {type(values).__name__}")
            new_state[id_map[key]] = self._checked_entry(values, key, id_map[key], where)
        self.param_groups = new_groups
        self.state = new_state

    def _check_same_kind(self, saved_group: dict, index: int, where: str) -> None:
        """Refuse a group saved by another kind of optimiser (its hyper-parameters give it away)."""
        foreign = [k for k in saved_group if k in _HYPER_PARAMETERS and k not in self.defaults]
        if foreign:
            raise ValueError(
                f"{where}: parameter group {index} was saved by another optimizer (it has '{foreign[0]}', a "
                f"hyper-parameter of {_HYPER_PARAMETERS[foreign[0]]}), so it cannot be loaded into "
                f"{type(self).__name__}"
            )

    def _checked_entry(self, values: dict, key: int, param: Parameter, where: str) -> dict:
        """One parameter's saved state, checked against ``STATE_ENTRIES`` and cast to its dtype."""
        ours = type(self).__name__
        entry = {}
        for name, value in values.items():
            kind = self.STATE_ENTRIES.get(name)
            if kind is None:
                known = ", ".join(self.STATE_ENTRIES) or "none"
                raise ValueError(f"{where}: parameter {key} has state '{name}', which {ours} does not keep "
                                 f"(it keeps: {known}); was the state saved by another optimizer?")
            value = _from_plain(name, value) if kind == "array" else _scalar(value)
            if kind == "array" and param.data.ndim == 0 and isinstance(value, numbers.Real) \
                    and not isinstance(value, (bool, np.bool_)):
                value = np.asarray(value)  # a scalar parameter's state: _from_plain made the 0-d array a number
            if kind == "count":
                if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
                    raise ValueError(f"{where}: state '{name}' of parameter {key} should be an int >= 0, got "
                                     f"{value!r}")
                value = int(value)
            else:
                if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
                    raise TypeError(f"{where}: state '{name}' of parameter {key} should be an array of numbers, "
                                    f"got {type(value).__name__}")
                if value.shape != param.data.shape:
                    raise ValueError(
                        f"{where}: state '{name}' of parameter {key} has shape {value.shape}, but the "
                        f"parameter has shape {param.data.shape}"
                    )
                value = value.astype(param.data.dtype, copy=True)
            entry[name] = value
        missing = [name for name in self.REQUIRED_STATE if name not in entry]
        if entry and missing:
            raise ValueError(f"{where}: the state of parameter {key} lacks '{missing[0]}', which {ours} needs "
                             f"(it has: {', '.join(entry)}); was it saved by another optimizer?")
        return entry

    # ------------------------------------------------------------------ repr
    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


# ---------------------------------------------------------------------------- helpers
def _plain(value):
    """A copy of ``value`` made of ints, floats, bools, strings, ndarrays, lists and dicts."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"state_dict: cannot store a value of type {type(value).__name__} ({value!r})")


def _scalar(value):
    """A 0-d array (as ``np.load`` returns numbers) as a Python scalar; anything else unchanged."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.generic):
        value = value.item()
    return value


def _as_list(value) -> list:
    """A list, also from a dict keyed ``"0"``, ``"1"``, ... or an ndarray."""
    if isinstance(value, dict):
        return [value[k] for k in sorted(value, key=lambda k: int(_scalar(k)))]
    if isinstance(value, np.ndarray):
        return [_scalar(v) for v in value] if value.ndim else [_scalar(value)]
    return list(value)


def _from_plain(name: str, value):
    """Undo what a trip through ``state_dict`` and an ``.npz`` does to one value."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return _scalar(value)
    if name == "betas":
        return tuple(float(_scalar(v)) for v in _as_list(value))
    if name == "param_names":
        return [str(_scalar(v)) for v in _as_list(value)]
    if name == "step":
        return int(_scalar(value))
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return [_from_plain("", v) for v in value]
    return copy.deepcopy(_scalar(value))


def check_lr(group: dict) -> None:
    """The learning-rate check every optimiser shares: a finite number >= 0."""
    check_number(group["lr"], "learning rate", minimum=0.0, below=math.inf, expected="finite and >= 0")


def check_number(value, what: str, minimum: float | None = 0.0, below: float | None = None,
                 expected: str | None = None) -> None:
    """Raise ``TypeError`` unless ``value`` is a real number, ``ValueError`` unless in range.

    Messages follow PyTorch's (``Invalid learning rate: -1``), with
    ``expected`` (e.g. ``"0 <= momentum < 1"``) appended when given.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"Invalid {what}: expected a number, got {value!r}")
    if (minimum is not None and not value >= minimum) or (below is not None and not value < below):
        raise ValueError(f"Invalid {what}: {value}" + (f" (expected {expected})" if expected else ""))


def check_eps(group: dict) -> None:
    """``eps`` keeps a denominator away from zero, so it must be > 0 (PyTorch also accepts 0)."""
    value = group["eps"]
    check_number(value, "epsilon value", expected="eps > 0")
    if value == 0:
        raise ValueError(f"Invalid epsilon value: {value} (expected eps > 0; 0 lets the update divide by zero)")


def check_bool(value, what: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Invalid {what}: expected True or False, got {value!r}")
