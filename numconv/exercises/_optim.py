"""Exercises on optimisers: one step of SGD with momentum and of Adam, checked over several steps.

The student writes one step, state in and state out; the checker calls it
once per step with the gradients of the case, carrying the state it returns,
and compares the parameter after every step (and the final state) with
``numconv.optim`` (which is tested step for step against ``torch.optim``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import optim
from ..nn.parameter import Parameter
from ._base import Exercise, exercise, near, values

__all__ = ["SGD_MOMENTUM_STEP", "ADAM_STEP"]


def _optim_inputs(case, rng, hyper: dict) -> dict:
    grads = values(rng, (case["steps"], case["D"])) * case.get("gscale", 1.0)
    return {"param": values(rng, (case["D"],)), "grads": grads, **hyper}


def _reference_steps(inputs, make_optimizer, state_names) -> tuple:
    """The parameter after each step and the final state, from ``numconv.optim``."""
    param = Parameter(inputs["param"].copy())
    optimizer = make_optimizer([param])
    params = []
    for grad in inputs["grads"]:
        param.grad = grad.copy()
        optimizer.step()
        params.append(param.data.copy())
    state = optimizer.state[param]
    return (np.stack(params), *(state[name].copy() for name in state_names))


def _run_steps(fn, inputs, n_state: int, after: tuple) -> tuple:
    """Call the student's step once per gradient, carrying the parameter and the state it returns.

    The arguments ``after`` the state are the step number (``"t"``, from 1) and hyper-parameters of ``inputs``.
    """
    param = inputs["param"].copy()
    state = [np.zeros_like(param) for _ in range(n_state)]
    params = []
    for t, grad in enumerate(inputs["grads"], start=1):
        result = fn(param, grad.copy(), *state, *(t if name == "t" else inputs[name] for name in after))
        if not isinstance(result, (tuple, list)) or len(result) != 1 + n_state or any(r is None for r in result):
            return result  # the checker says what came back instead
        param, *state = (np.array(r, dtype=np.float64) for r in result)
        if param.shape != inputs["param"].shape:
            raise ValueError(f"step {t} returned param of shape {param.shape}, expected {inputs['param'].shape}")
        params.append(param.copy())
    return (np.stack(params), *state)


def _simulate(inputs, update, carried: bool = True) -> tuple:
    """Outputs of a (wrong) step rule ``update(param, grad, state, t) -> (param, state)`` run like the student's.

    The state is None (zeros) at the first step, and at every step when it is not ``carried``.
    """
    param, state, params = inputs["param"].copy(), None, []
    for t, grad in enumerate(inputs["grads"], start=1):
        param, state = update(param, grad, state if carried else None, t)
        params.append(param.copy())
    return np.stack(params), state


def _not_carried_hint(state_names) -> str:
    """The hint for a step that starts again from zeros: the slip every optimiser exercise can make."""
    one = len(state_names) == 1
    state = " and ".join(state_names)
    return (f"{'the ' + state + ' is' if one else state + ' are'} not carried from step to step (each step starts "
            f"again from zeros): return the new {state}, and use the {'one' if one else 'ones'} you are given")


def _slip_mistakes(inputs, rule, slips: dict, names: tuple) -> dict:
    """Mistake candidates of an optimiser step, run like the student's step.

    Parameters
    ----------
    inputs : dict
        The case's inputs.
    rule : callable
        ``rule(**{slip: True}) -> update``: a step rule (see ``_simulate``), right when no slip is set.
    slips : dict
        ``{slip: hint}``: the flags of ``rule`` that make the usual wrong steps, and the hint for each.
    names : tuple of str
        The exercise's outputs: the parameters, then each state array.

    Returns
    -------
    dict
        ``{output name: [(array, hint), ...]}``, the state not carried first.
    """
    runs = [(_simulate(inputs, rule(), carried=False), _not_carried_hint(names[1:]))]
    runs += [(_simulate(inputs, rule(**{slip: True})), hint) for slip, hint in slips.items()]
    found = {name: [] for name in names}
    for (params, state), hint in runs:
        for name, array in zip(names, (params, *state) if isinstance(state, tuple) else (params, state)):
            found[name].append((array, hint))
    return found


def _step_exercise(signature: str, title: str, **fields) -> Exercise:
    """An optimiser exercise: ``param, grad``, the state, then the step number and the hyper-parameters.

    The checker calls the step once per gradient with the state it returned
    (``_run_steps``) and compares ``params``, the parameter after every step,
    and the final state. A case shrinks in its size D (at least 2) and its
    number of steps.
    """
    made = exercise(signature, title, shrink_keys=("D", "steps"), minimum={"D": 2}, **fields)
    n_state = len(made.outputs) - 1
    after = made.arguments[2 + n_state:]
    return replace(made, outputs=("params", *made.outputs[1:]),
                   call=lambda fn, inputs: _run_steps(fn, inputs, n_state, after))


# ---------------------------------------------------------------------------------------------- SGD with momentum
SGD_CASES = [dict(D=3, steps=1, wd=0.0), dict(D=3, steps=2, wd=0.0), dict(D=4, steps=4, wd=0.0),
             dict(D=4, steps=3, wd=0.1), dict(D=6, steps=6, wd=0.01)]


_SGD_LR = 0.1


def _sgd_inputs(case, rng) -> dict:
    return _optim_inputs(case, rng, {"lr": _SGD_LR, "momentum": 0.9, "weight_decay": case["wd"]})


def _sgd_reference(inputs) -> tuple:
    return _reference_steps(inputs, lambda params: optim.SGD(params, lr=inputs["lr"], momentum=inputs["momentum"],
                                                             weight_decay=inputs["weight_decay"]),
                            ["momentum_buffer"])


# The usual slips of a momentum step besides a velocity not carried: the flags of the rule in ``_sgd_mistakes``.
_SGD_SLIPS = {
    "dampened": "velocity = momentum * velocity + (1 - momentum) * grad is the damped (moving-average) form; "
                "torch.optim.SGD adds the whole gradient: velocity = momentum * velocity + grad",
    "decay_after": "the weight decay is added after the momentum: torch.optim.SGD adds weight_decay * param to the "
                   "gradient first, and the velocity carries it",
}


def _sgd_mistakes(case, inputs, expected) -> dict:
    lr, mu, wd = inputs["lr"], inputs["momentum"], inputs["weight_decay"]

    def rule(dampened=False, decay_after=False):
        def update(param, grad, velocity, t):
            velocity = np.zeros_like(param) if velocity is None else velocity
            g = grad if decay_after else grad + wd * param
            velocity = mu * velocity + ((1 - mu) * g if dampened else g)
            step = velocity + wd * param if decay_after else velocity
            return param - lr * step, velocity
        return update

    return _slip_mistakes(inputs, rule, _SGD_SLIPS, ("params", "velocity"))


def _sgd_factor_hint(case, output, k) -> str | None:
    if output == "velocity" and near(k, -_SGD_LR):
        return ("your velocity is -lr times torch's: that is the other common form of momentum (v = momentum * v - "
                "lr * grad; param += v). It moves the parameter the same way, but torch.optim.SGD keeps "
                "velocity = momentum * velocity + grad and steps param -= lr * velocity: return that velocity")
    return None


SGD_MOMENTUM_STEP = _step_exercise(
    "sgd_momentum_step(param, grad, velocity, lr, momentum, weight_decay) -> (param, velocity)",
    "one step of SGD with momentum and weight decay", cases=SGD_CASES, settings=("steps", "wd"),
    make_inputs=_sgd_inputs, reference=_sgd_reference, mistakes=_sgd_mistakes, factor_hints=_sgd_factor_hint)


# ---------------------------------------------------------------------------------------------- Adam
# The last case has gradients so small that sqrt(v_hat) is close to eps, which shows where eps goes.
ADAM_CASES = [dict(D=3, steps=1, gscale=1.0), dict(D=3, steps=2, gscale=1.0), dict(D=4, steps=4, gscale=1.0),
              dict(D=6, steps=7, gscale=1.0), dict(D=4, steps=3, gscale=1e-6)]
_ADAM = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}


def _adam_reference(inputs) -> tuple:
    return _reference_steps(inputs, lambda params: optim.Adam(params, lr=inputs["lr"], eps=inputs["eps"],
                                                              betas=(inputs["beta1"], inputs["beta2"])),
                            ["exp_avg", "exp_avg_sq"])


# The usual slips of an Adam step besides m and v not carried: the flags of the rule in ``_adam_mistakes``.
_ADAM_SLIPS = {
    "uncorrected": "the bias correction is missing: divide m by (1 - beta1**t) and v by (1 - beta2**t) before the "
                   "step (m and v start at zero, so early steps are too small without it)",
    "stores_corrected": "the bias-corrected m_hat and v_hat are returned as the new m and v: keep m and v "
                        "uncorrected, and correct a copy for the step",
    "unsquared": "v averages the gradient, not its square: v = beta2 * v + (1 - beta2) * grad**2",
    "eps_inside": "eps is inside the square root: torch.optim.Adam divides by sqrt(v_hat) + eps",
}


def _adam_mistakes(case, inputs, expected) -> dict:
    lr, b1, b2, eps = (inputs[k] for k in ("lr", "beta1", "beta2", "eps"))

    def rule(uncorrected=False, stores_corrected=False, unsquared=False, eps_inside=False):
        def update(param, grad, state, t):
            m, v = (np.zeros_like(param), np.zeros_like(param)) if state is None else state
            m = b1 * m + (1 - b1) * grad
            v = b2 * v + (1 - b2) * (grad if unsquared else grad * grad)
            m_hat, v_hat = (m, v) if uncorrected else (m / (1 - b1**t), v / (1 - b2**t))
            step = m_hat / (np.sqrt(v_hat + eps) if eps_inside else np.sqrt(np.abs(v_hat)) + eps)
            return param - lr * step, (m_hat, v_hat) if stores_corrected else (m, v)
        return update

    return _slip_mistakes(inputs, rule, _ADAM_SLIPS, ("params", "m", "v"))


ADAM_STEP = _step_exercise(
    "adam_step(param, grad, m, v, t, lr, beta1, beta2, eps) -> (param, m, v)", "one step of Adam", cases=ADAM_CASES,
    settings=("steps", "gscale"), make_inputs=lambda case, rng: _optim_inputs(case, rng, dict(_ADAM)),
    reference=_adam_reference, mistakes=_adam_mistakes)
