"""Optimisers refuse what would silently go wrong: another optimiser's state, a bad lr at step().

And parameters that got no gradient in a step (``p.grad is None``: a frozen
branch, an unused layer) stay where they are, momentum and running averages
included, as in PyTorch.
"""

import numpy as np
import pytest

from numconv import optim
from numconv.nn import Parameter

torch = pytest.importorskip("torch")
from parity import assert_close  # noqa: E402


# ---------------------------------------------------------------------------- no gradient, no move
@pytest.mark.parametrize("name, options", [
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5)),
    ("Adagrad", dict(lr=0.1)),
])
def test_a_parameter_without_gradient_does_not_move_as_in_torch(name, options):
    rng = np.random.default_rng(0)
    values = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    ours = [Parameter(v.copy()) for v in values]
    theirs = [torch.nn.Parameter(torch.tensor(v)) for v in values]
    opt = getattr(optim, name)(ours, **options)
    t_opt = getattr(torch.optim, name)(theirs, **options)
    # The second parameter gets a gradient in steps 0 and 1, then none in steps 2-5 (a frozen branch).
    for step in range(6):
        for i, (p, tp) in enumerate(zip(ours, theirs)):
            if i == 1 and step >= 2:
                p.grad, tp.grad = None, None
            else:
                g = rng.standard_normal(p.shape)
                p.grad = g.copy()
                tp.grad = torch.tensor(g)
        before = ours[1].data.copy()
        opt.step()
        t_opt.step()
        for i, (p, tp) in enumerate(zip(ours, theirs)):
            assert_close(p.data, tp.detach(), np.float64, f"{name} step {step} parameter {i}")
        if step >= 2:
            np.testing.assert_array_equal(ours[1].data, before)


# ---------------------------------------------------------------------------- the lr at step()
@pytest.mark.parametrize("lr", [-0.1, float("nan"), float("inf")])
def test_step_refuses_a_learning_rate_set_negative_or_non_finite(lr):
    p = Parameter(np.ones(3))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.ones(3)
    opt.param_groups[0]["lr"] = lr
    with pytest.raises(ValueError, match=f"SGD.step: parameter group 0: Invalid learning rate: {lr}"):
        opt.step()
    np.testing.assert_array_equal(p.data, 1.0)
    assert not opt.state[p]


def test_inf_learning_rate_is_refused_at_construction():
    with pytest.raises(ValueError, match="Invalid learning rate: inf"):
        optim.Adam([Parameter(np.ones(2))], lr=float("inf"))


# ---------------------------------------------------------------------------- another optimiser's state
def _stepped(cls, **options):
    p = Parameter(np.ones(3))
    opt = cls([p], **options)
    p.grad = np.full(3, 0.5)
    opt.step()
    return opt


@pytest.mark.parametrize("saved, loading, message", [
    (lambda: _stepped(optim.SGD, lr=0.1, momentum=0.9), optim.Adam, "has 'momentum'.*SGD or RMSprop.*into Adam"),
    (lambda: _stepped(optim.Adam, lr=0.1), optim.SGD, "has 'betas'.*Adam or AdamW.*into SGD"),
    (lambda: _stepped(optim.RMSprop, lr=0.1), optim.Adagrad, "has 'alpha'.*RMSprop.*into Adagrad"),
    (lambda: _stepped(optim.Adagrad, lr=0.1), optim.RMSprop, "has 'lr_decay'.*Adagrad.*into RMSprop"),
])
def test_load_state_dict_refuses_another_optimizers_state(saved, loading, message):
    state = saved().state_dict()
    p = Parameter(np.ones(3))
    opt = loading([p], lr=0.2)
    state_before = opt.state
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(state)
    assert opt.param_groups[0]["lr"] == 0.2 and opt.state is state_before


@pytest.mark.parametrize("tamper, error, message", [
    (lambda s: s["state"][0].update(step=-1), ValueError, "'step' of parameter 0 should be an int >= 0, got -1"),
    (lambda s: s["state"][0].update(step=2.5), ValueError, "'step' of parameter 0 should be an int >= 0, got 2.5"),
    (lambda s: s["state"][0].update(step="three"), ValueError, "'step'.*'three'"),
    (lambda s: s["state"][0].pop("exp_avg_sq"), ValueError, "lacks 'exp_avg_sq'"),
    (lambda s: s["state"][0].update(momentum_buffer=np.zeros(3)), ValueError,
     "state 'momentum_buffer', which Adam does not keep"),
    (lambda s: s["state"][0].update(exp_avg="zeros"), TypeError, "'exp_avg' of parameter 0 should be an array"),
    (lambda s: s["state"].update({0: [1, 2]}), TypeError, "state of parameter 0 should be a dict"),
    (lambda s: s["param_groups"][0].update(lr=-1.0), ValueError, "Invalid learning rate: -1.0"),
    (lambda s: s["param_groups"][0].update(betas=[0.9, 1.5]), ValueError, "beta parameter at index 1"),
])
def test_load_state_dict_checks_every_entry(tamper, error, message):
    state = _stepped(optim.Adam, lr=0.1).state_dict()
    tamper(state)
    p = Parameter(np.ones(3))
    opt = optim.Adam([p], lr=0.2)
    with pytest.raises(error, match=message):
        opt.load_state_dict(state)
    assert opt.param_groups[0]["lr"] == 0.2 and not opt.state


def test_sgd_state_into_adam_used_to_fail_at_step_now_at_load():
    opt = _stepped(optim.SGD, lr=0.1, momentum=0.9)
    state = opt.state_dict()
    state["param_groups"][0] = {k: v for k, v in state["param_groups"][0].items()
                                if k not in ("momentum", "dampening", "nesterov")}
    adam = optim.Adam([Parameter(np.ones(3))], lr=0.1)
    with pytest.raises(ValueError, match="'momentum_buffer', which Adam does not keep"):
        adam.load_state_dict(state)


# ---------------------------------------------------------------------------- schedulers
from numconv.optim import lr_scheduler  # noqa: E402


def _opt(**kw):
    return optim.SGD([Parameter(np.zeros(2))], lr=0.1, momentum=0.9, **kw)


@pytest.mark.parametrize("make, message", [
    (lambda: lr_scheduler.ExponentialLR(_opt(), gamma=-1), "gamma to be finite and > 0, got -1"),
    (lambda: lr_scheduler.ExponentialLR(_opt(), gamma=float("nan")), "gamma to be finite and > 0, got nan"),
    (lambda: lr_scheduler.ExponentialLR(_opt(), gamma=float("inf")), "gamma to be finite and > 0, got inf"),
    (lambda: lr_scheduler.StepLR(_opt(), step_size=2, gamma=0), "gamma to be finite and > 0, got 0"),
    (lambda: lr_scheduler.MultiStepLR(_opt(), [2], gamma=-0.5), "gamma to be finite and > 0"),
    (lambda: lr_scheduler.CosineAnnealingLR(_opt(), T_max=3, eta_min=-0.1), "eta_min to be finite and >= 0"),
    (lambda: lr_scheduler.CosineAnnealingLR(_opt(), T_max=3, eta_min=float("nan")), "eta_min"),
    (lambda: lr_scheduler.OneCycleLR(_opt(), max_lr=-0.1, total_steps=5), "max_lr to be finite and > 0"),
    (lambda: lr_scheduler.OneCycleLR(_opt(), max_lr=0.1, total_steps=5, div_factor=0), "div_factor"),
    (lambda: lr_scheduler.OneCycleLR(_opt(), max_lr=0.1, total_steps=5, base_momentum=1.5), "base_momentum in"),
    (lambda: lr_scheduler.ReduceLROnPlateau(_opt(), factor=-0.5), "factor should be < 1.0 and >= 0"),
    (lambda: lr_scheduler.ReduceLROnPlateau(_opt(), min_lr=-1.0), "min_lr to be finite and >= 0"),
    (lambda: lr_scheduler.ReduceLROnPlateau(_opt(), threshold=float("nan")), "threshold"),
])
def test_scheduler_arguments_are_checked_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def _saved(make):
    opt = _opt()
    sched = make(opt)
    opt.step()
    sched.step() if not isinstance(sched, lr_scheduler.ReduceLROnPlateau) else sched.step(1.0)
    return sched.state_dict(), make


@pytest.mark.parametrize("make, key, value, message", [
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=4), "T_max", 0, "T_max >= 1, got 0"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=4), "last_epoch", -1, "last_epoch >= 0, got -1"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=4), "eta_min", "x", "eta_min to be a number"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9), "gamma", -1.0, "gamma to be finite and > 0"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9), "base_lrs", [0.1, 0.2], "base_lrs to be a list of 1"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9), "_last_lr", [float("nan")], "_last_lr to be finite"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2), "step_size", 0, "step_size >= 1"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2), "sneaky", 1, "unknown entry 'sneaky'"),
    (lambda o: lr_scheduler.MultiStepLR(o, [3]), "milestones", [-2], "every milestone >= 0"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=5), "total_steps", 0, "total_steps >= 1"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=5), "_anneal_func_type", "exp",
     "_anneal_func_type to be one of"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o), "patience", -3, "patience >= 0"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o), "factor", 2.0, "factor should be < 1.0"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o), "mode", "avg", "mode to be one of"),
])
def test_scheduler_load_state_dict_checks_every_value_and_changes_nothing_on_error(make, key, value, message):
    state, make = _saved(make)
    state[key] = value
    fresh = make(_opt())
    before = fresh.state_dict()
    with pytest.raises((ValueError, TypeError), match=message):
        fresh.load_state_dict(state)
    after = fresh.state_dict()
    assert sorted(after) == sorted(before)
    assert all(np.array_equal(np.asarray(after[k], dtype=object), np.asarray(before[k], dtype=object))
               if not isinstance(before[k], dict) else after[k] == before[k] for k in before)

