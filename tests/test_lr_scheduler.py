"""Learning-rate schedules against torch.optim.lr_scheduler, value for value.

Each scheduler drives a two-group optimiser in numconv and in torch for 40
steps; the learning rates (and, for OneCycleLR, the momentum or beta1) must
agree after every step. Also: state dicts (through an ``.npz`` mid-run),
resuming with ``last_epoch``, chaining, warnings and errors.
"""

import numpy as np
import pytest

from numconv import optim
from numconv.nn import Parameter
from numconv.optim import lr_scheduler

torch = pytest.importorskip("torch")
from parity import assert_close  # noqa: E402
from test_optim_helpers import assert_plain, npz_round_trip  # noqa: E402

STEPS = 40
LRS = (0.1, 0.02)

# (optimizer name, optimizer options, scheduler name, scheduler options)
CASES = [
    ("SGD", {}, "StepLR", dict(step_size=3, gamma=0.5)),
    ("SGD", {}, "StepLR", dict(step_size=7)),
    ("Adam", {}, "StepLR", dict(step_size=1, gamma=0.9)),
    ("SGD", {}, "MultiStepLR", dict(milestones=[5, 12, 12, 30], gamma=0.3)),
    ("SGD", {}, "MultiStepLR", dict(milestones=[0, 3])),
    ("SGD", {}, "ExponentialLR", dict(gamma=0.9)),
    ("Adam", {}, "ExponentialLR", dict(gamma=1.05)),
    ("SGD", {}, "CosineAnnealingLR", dict(T_max=10)),  # 40 steps: down, up, down, up
    ("SGD", {}, "CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("Adam", {}, "CosineAnnealingLR", dict(T_max=1, eta_min=0.01)),
    ("SGD", dict(momentum=0.9), "OneCycleLR", dict(max_lr=0.5, total_steps=STEPS)),
    ("SGD", {}, "OneCycleLR", dict(max_lr=[0.5, 0.2], epochs=4, steps_per_epoch=10, anneal_strategy="linear")),
    ("Adam", {}, "OneCycleLR", dict(max_lr=0.01, total_steps=STEPS, three_phase=True, pct_start=0.25)),
    ("AdamW", {}, "OneCycleLR", dict(max_lr=[0.01, 0.03], total_steps=STEPS + 5, base_momentum=[0.8, 0.7],
                                     max_momentum=0.9, div_factor=10.0, final_div_factor=100.0)),
    ("RMSprop", dict(momentum=0.5), "OneCycleLR", dict(max_lr=0.05, total_steps=STEPS, pct_start=0.5)),
    ("Adagrad", {}, "OneCycleLR", dict(max_lr=0.05, total_steps=STEPS, cycle_momentum=False,
                                       anneal_strategy="linear", three_phase=True)),
    ("SGD", {}, "ReduceLROnPlateau", dict(patience=2)),
    ("SGD", {}, "ReduceLROnPlateau", dict(mode="max", factor=0.5, patience=1, threshold=0.05)),
    ("SGD", {}, "ReduceLROnPlateau", dict(threshold_mode="abs", threshold=0.1, patience=0, cooldown=2,
                                          min_lr=[0.01, 0.005])),
    ("Adam", {}, "ReduceLROnPlateau", dict(mode="max", threshold_mode="abs", factor=0.3, patience=1,
                                           min_lr=0.001, eps=0.002)),
]


def _id(case):
    return f"{case[2]}-{case[0]}-" + ",".join(f"{k}={v}" for k, v in case[3].items())


def metric(step):
    """A noisy, mostly decreasing loss with plateaus (the same for both sides)."""
    rng = np.random.default_rng(step)
    return float(1.0 / (1 + step // 6) + 0.05 * rng.standard_normal())


def build(lib, opt_name, opt_options, sched_name, sched_options, params=None):
    """An optimiser with two groups (lr 0.1 and 0.02) and a scheduler, from numconv or torch."""
    if params is None:
        params = [Parameter(np.ones(2)), Parameter(np.ones(3))] if lib is optim else \
                 [torch.nn.Parameter(torch.ones(2, dtype=torch.float64)),
                  torch.nn.Parameter(torch.ones(3, dtype=torch.float64))]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, LRS)]
    opt = getattr(lib, opt_name)(groups, **opt_options)
    sched = getattr(lib.lr_scheduler, sched_name)(opt, **sched_options)
    return opt, sched, params


def advance(opt, sched, params, step, lib):
    """One training step (the same small gradient on both sides), then the scheduler's step."""
    for p in params:
        if lib is optim:
            p.grad = np.full_like(p.data, 0.01 * (step + 1))
        else:
            p.grad = torch.full_like(p, 0.01 * (step + 1))
    opt.step()
    if isinstance(sched, (lr_scheduler.ReduceLROnPlateau, torch.optim.lr_scheduler.ReduceLROnPlateau)):
        sched.step(metric(step))
    else:
        sched.step()


def momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum", 0.0) for g in opt.param_groups]


def compare(opt, sched, t_opt, t_sched, what):
    worst = assert_close(np.array(sched.get_last_lr()), np.array(t_sched.get_last_lr()), np.float64, f"{what} lr")
    assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
    worst = max(worst, assert_close(np.array(momenta(opt)), np.array(momenta(t_opt)), np.float64,
                                    f"{what} momentum"))
    return worst


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_schedule_matches_torch(case):
    opt, sched, params = build(optim, *case)
    t_opt, t_sched, t_params = build(torch.optim, *case)
    compare(opt, sched, t_opt, t_sched, "after construction")
    lrs = {tuple(sched.get_last_lr())}
    for step in range(STEPS):
        advance(opt, sched, params, step, optim)
        advance(t_opt, t_sched, t_params, step, torch.optim)
        compare(opt, sched, t_opt, t_sched, f"step {step}")
        lrs.add(tuple(sched.get_last_lr()))
        assert sched.last_epoch == t_sched.last_epoch
    assert len(lrs) >= 2, "the schedule never moved: the case tests nothing"
    for p, tp in zip(params, t_params):  # and the optimiser used those rates
        assert_close(p.data, tp.detach(), np.float64, "parameters")


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_state_dict_round_trip_mid_run(case):
    opt, sched, params = build(optim, *case)
    for step in range(12):
        advance(opt, sched, params, step, optim)
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    assert_plain(sched_state)
    opt_state, sched_state = npz_round_trip(opt_state), npz_round_trip(sched_state)

    # A fresh run, built the same way: the scheduler first, then both states loaded.
    opt2, sched2, params2 = build(optim, *case, params=[Parameter(p.data.copy()) for p in params])
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(sched_state)
    assert sched2.get_last_lr() == sched.get_last_lr()
    for step in range(12, STEPS):
        advance(opt, sched, params, step, optim)
        advance(opt2, sched2, params2, step, optim)
        assert sched2.get_last_lr() == sched.get_last_lr(), f"step {step}"
        assert momenta(opt2) == momenta(opt)
        assert sched2.last_epoch == sched.last_epoch
    for p, q in zip(params, params2):
        np.testing.assert_array_equal(q.data, p.data)


@pytest.mark.parametrize("name, options", [
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 9])),
    ("ExponentialLR", dict(gamma=0.8)),
    ("CosineAnnealingLR", dict(T_max=6, eta_min=0.01)),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=30)),
])
def test_resuming_with_last_epoch_matches_torch(name, options):
    """Rebuild a scheduler with last_epoch=k over an optimiser whose state was loaded."""
    runs = []
    for lib in (optim, torch.optim):
        opt, sched, params = build(lib, "SGD", dict(momentum=0.9), name, options)
        for step in range(8):
            advance(opt, sched, params, step, lib)
        opt2 = getattr(lib, "SGD")([{"params": [p], "lr": lr} for p, lr in zip(params, LRS)], momentum=0.9)
        opt2.load_state_dict(opt.state_dict())
        sched2 = getattr(lib.lr_scheduler, name)(opt2, **options, last_epoch=sched.last_epoch)
        lrs = [sched2.get_last_lr()]
        for step in range(8, 20):
            advance(opt2, sched2, params, step, lib)
            lrs.append(sched2.get_last_lr())
        runs.append(np.array(lrs))
    assert_close(runs[0], runs[1], np.float64, f"{name} resumed")


def test_chained_schedulers_and_outside_changes_match_torch():
    """Recursive schedules compose: two on one optimiser, and an lr edited by hand midway.

    (eta_min stays 0: with a floor above what StepLR has already lowered a
    group to, the recursive cosine goes negative, which optimizer.step refuses.)
    """
    runs = []
    for lib in (optim, torch.optim):
        opt, step_sched, params = build(lib, "SGD", {}, "StepLR", dict(step_size=5, gamma=0.5))
        cosine = lib.lr_scheduler.CosineAnnealingLR(opt, T_max=8, eta_min=0.0)
        exp = lib.lr_scheduler.ExponentialLR(opt, gamma=0.95)
        lrs = []
        for step in range(30):
            if step == 17:
                for g in opt.param_groups:
                    g["lr"] *= 3
            advance(opt, step_sched, params, step, lib)
            cosine.step()
            exp.step()
            lrs.append([g["lr"] for g in opt.param_groups])
        runs.append(np.array(lrs))
    assert_close(runs[0], runs[1], np.float64, "chained schedules")


def test_stepping_the_scheduler_before_the_optimizer_warns():
    opt, sched, _ = build(optim, "SGD", {}, "StepLR", dict(step_size=2))
    with pytest.warns(UserWarning, match="before optimizer.step"):
        sched.step()


def test_constructor_records_initial_lr_and_base_lrs():
    opt, sched, _ = build(optim, "SGD", {}, "ExponentialLR", dict(gamma=0.5))
    assert sched.base_lrs == list(LRS) and [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    assert sched.last_epoch == 0 and sched.get_last_lr() == list(LRS)
    last = sched.get_last_lr()
    last[0] = 99.0  # a copy
    assert sched.get_last_lr()[0] == LRS[0]


def test_onecycle_sets_momentum_where_sgd_had_none_like_torch():
    opt, sched, _ = build(optim, "SGD", {}, "OneCycleLR", dict(max_lr=0.1, total_steps=10))
    assert opt.param_groups[0]["momentum"] == 0.95 and opt.param_groups[0]["lr"] == pytest.approx(0.1 / 25)


def test_reduce_on_plateau_reduces_after_patience():
    opt, sched, params = build(optim, "SGD", {}, "ReduceLROnPlateau", dict(patience=2, factor=0.5))
    for value in [1.0, 0.9, 0.9, 0.9]:
        sched.step(value)
    assert sched.get_last_lr() == [0.1, 0.02]  # two bad epochs: still patient
    sched.step(0.9)
    assert sched.get_last_lr() == [0.05, 0.01]
    sched.step(np.array(0.5))  # 0-d arrays are fine
    assert sched.best == 0.5


# ---------------------------------------------------------------------------- errors
def _opt(name="SGD", **kw):
    return getattr(optim, name)([Parameter(np.zeros(2))], lr=0.1, **kw)


@pytest.mark.parametrize("make, error, message", [
    (lambda: lr_scheduler.StepLR(object(), step_size=2), TypeError, "expected a numconv optimizer, got object"),
    (lambda: lr_scheduler.StepLR(torch.optim.SGD([torch.nn.Parameter(torch.ones(1))]), 2), TypeError,
     "got SGD"),
    (lambda: lr_scheduler.StepLR(_opt(), step_size=0), ValueError, "step_size >= 1"),
    (lambda: lr_scheduler.StepLR(_opt(), step_size=2.5), TypeError, "step_size to be an int"),
    (lambda: lr_scheduler.MultiStepLR(_opt(), milestones=[3, -1]), ValueError, "milestone >= 0"),
    (lambda: lr_scheduler.ExponentialLR(_opt(), gamma="0.9"), TypeError, "gamma to be a number"),
    (lambda: lr_scheduler.CosineAnnealingLR(_opt(), T_max=0), ValueError, "T_max >= 1"),
    (lambda: lr_scheduler.StepLR(_opt(), step_size=2, last_epoch=4), KeyError, "initial_lr"),
    (lambda: lr_scheduler.OneCycleLR(_opt(), max_lr=0.1), ValueError, "total_steps OR"),
    (lambda: lr_scheduler.OneCycleLR(_opt(), max_lr=0.1, total_steps=0), ValueError, "total_steps >= 1"),
    (lambda: lr_scheduler.OneCycleLR(_opt(), max_lr=0.1, epochs=2, steps_per_epoch=0), ValueError,
     "steps_per_epoch >= 1"),
    (lambda: lr_scheduler.OneCycleLR(_opt(), max_lr=0.1, total_steps=10, pct_start=1.5), ValueError, "pct_start"),
    (lambda: lr_scheduler.OneCycleLR(_opt(), max_lr=0.1, total_steps=10, anneal_strategy="exp"), ValueError,
     "anneal_strategy"),
    (lambda: lr_scheduler.OneCycleLR(_opt(), max_lr=[0.1, 0.2], total_steps=10), ValueError,
     "one value per parameter group: got 2 values for 1 groups"),
    (lambda: lr_scheduler.OneCycleLR(_opt("Adagrad"), max_lr=0.1, total_steps=10), ValueError,
     "must support momentum or beta1"),
    (lambda: lr_scheduler.ReduceLROnPlateau(_opt(), factor=1.0), ValueError, "factor should be < 1.0"),
    (lambda: lr_scheduler.ReduceLROnPlateau(_opt(), mode="avg"), ValueError, "mode 'avg' is unknown"),
    (lambda: lr_scheduler.ReduceLROnPlateau(_opt(), threshold_mode="pct"), ValueError, "threshold mode 'pct'"),
    (lambda: lr_scheduler.ReduceLROnPlateau(_opt(), min_lr=[0.1, 0.2]), ValueError, "one value per parameter"),
    (lambda: lr_scheduler.ReduceLROnPlateau(_opt(), patience=-1), ValueError, "patience >= 0"),
    (lambda: lr_scheduler.ReduceLROnPlateau(_opt()).step("low"), TypeError, "metric as a number"),
])
def test_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_onecycle_refuses_to_step_past_the_end():
    opt = _opt(momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=5)
    for _ in range(5):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="tried to step 6 times; the specified number of total steps is 5"):
        sched.step()


def test_lr_scheduler_is_reachable_like_torchs():
    import numconv

    assert numconv.optim.lr_scheduler is lr_scheduler
    assert issubclass(lr_scheduler.ReduceLROnPlateau, lr_scheduler.LRScheduler)
