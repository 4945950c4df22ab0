"""Optimisers against torch.optim, step for step: SGD, Adam, AdamW, RMSprop, Adagrad.

Identical parameters in numconv and torch receive the same random gradients
for 25 steps; parameters are compared after every step (float64 1e-10,
float32 1e-4 relative error, max norm). Also: parameter groups, skipped
parameters, state dicts (layout against torch's, round trip through an
``.npz`` mid-run), and hyper-parameter errors.
"""

import itertools

import numpy as np
import pytest

from numconv import nn, optim
from numconv.nn import Parameter

torch = pytest.importorskip("torch")
from parity import assert_close  # noqa: E402
from test_optim_helpers import assert_plain, npz_round_trip  # noqa: E402

DTYPES = [np.float64, np.float32]
SHAPES = [(4, 3), (5,), (2, 3, 2)]
# Gradients of very different sizes, so eps and the per-coordinate scaling matter.
GRAD_SCALES = [1.0, 1e-3, 10.0]
STEPS = 25


def _options(**axes):
    """Every combination of the given option values, as a list of dicts."""
    names = list(axes)
    return [dict(zip(names, values)) for values in itertools.product(*(axes[n] for n in names))]


SGD_CASES = [
    o for o in _options(lr=[0.05], momentum=[0, 0.9], dampening=[0, 0.3], nesterov=[False, True],
                        weight_decay=[0, 0.1], maximize=[False, True])
    if not (o["nesterov"] and (o["momentum"] == 0 or o["dampening"] != 0))
]
ADAM_CASES = _options(lr=[0.01], betas=[(0.9, 0.999), (0.5, 0.9)], amsgrad=[False, True], weight_decay=[0, 0.1],
                      maximize=[False, True])
RMSPROP_CASES = _options(lr=[0.01], alpha=[0.9], centered=[False, True], momentum=[0, 0.8], weight_decay=[0, 0.1],
                         maximize=[False, True])
ADAGRAD_CASES = _options(lr=[0.1], lr_decay=[0, 0.05], weight_decay=[0, 0.1], initial_accumulator_value=[0, 0.5],
                         maximize=[False, True])

CASES = (
    [("SGD", o) for o in SGD_CASES]
    + [("Adam", o) for o in ADAM_CASES]
    + [("AdamW", o) for o in ADAM_CASES]
    + [("RMSprop", o) for o in RMSPROP_CASES]
    + [("Adagrad", o) for o in ADAGRAD_CASES]
)


def _case_id(case):
    name, options = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in options.items() if k != "lr")


def make_params(dtype, seed=0, shapes=SHAPES):
    """The same starting values as numconv Parameters and torch Parameters."""
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [Parameter(v.copy()) for v in values]
    theirs = [torch.nn.Parameter(torch.tensor(v)) for v in values]
    return ours, theirs


def set_grads(ours, theirs, rng, dtype):
    for i, (p, tp) in enumerate(zip(ours, theirs)):
        g = (GRAD_SCALES[i % len(GRAD_SCALES)] * rng.standard_normal(p.shape)).astype(dtype)
        p.grad = np.full_like(p.data, g)
        if tp is not None:
            tp.grad = torch.tensor(g)


def run_and_compare(opt, t_opt, ours, theirs, dtype, steps=STEPS, seed=1, tol=None):
    """Step both optimisers on the same gradients; compare every parameter after every step."""
    rng = np.random.default_rng(seed)
    worst = 0.0
    for step in range(steps):
        set_grads(ours, theirs, rng, dtype)
        opt.step()
        t_opt.step()
        for i, (p, tp) in enumerate(zip(ours, theirs)):
            assert p.data.dtype == dtype
            worst = max(worst, assert_close(p.data, tp.detach(), dtype, f"step {step}, parameter {i}", tol))
    return worst


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_optimizer_matches_torch(case, dtype):
    name, options = case
    ours, theirs = make_params(dtype)
    opt = getattr(optim, name)(ours, **options)
    t_opt = getattr(torch.optim, name)(theirs, **options)
    run_and_compare(opt, t_opt, ours, theirs, dtype)


GROUP_CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9), dict(lr=0.01, momentum=0.5, weight_decay=0.2, nesterov=True)),
    ("Adam", dict(lr=0.01), dict(lr=0.002, betas=(0.8, 0.99), amsgrad=True)),
    ("AdamW", dict(lr=0.01), dict(lr=0.05, weight_decay=0.3)),
    ("RMSprop", dict(lr=0.01, momentum=0.5), dict(lr=0.003, centered=True, alpha=0.8)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.1), dict(lr=0.5, lr_decay=0.1, weight_decay=0.1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, defaults, second", GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_param_groups_with_their_own_options(name, defaults, second, dtype):
    ours, theirs = make_params(dtype)

    def groups(params):
        return [{"params": params[:1]}, {"params": params[1:], **second}]

    opt = getattr(optim, name)(groups(ours), **defaults)
    t_opt = getattr(torch.optim, name)(groups(theirs), **defaults)
    assert opt.param_groups[1]["lr"] == second["lr"] and opt.param_groups[0]["lr"] == defaults["lr"]
    run_and_compare(opt, t_opt, ours, theirs, dtype)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_add_param_group_mid_run(name):
    dtype = np.float64
    ours, theirs = make_params(dtype)
    opt = getattr(optim, name)(ours[:2], lr=0.01)
    t_opt = getattr(torch.optim, name)(theirs[:2], lr=0.01)
    run_and_compare(opt, t_opt, ours[:2], theirs[:2], dtype, steps=5)
    opt.add_param_group({"params": [ours[2]], "lr": 0.05})
    t_opt.add_param_group({"params": [theirs[2]], "lr": 0.05})
    run_and_compare(opt, t_opt, ours, theirs, dtype, steps=10, seed=7)


def test_adagrad_group_uses_its_own_initial_accumulator_value():
    # A deliberate difference: torch.optim.Adagrad fills every group's sum with
    # the constructor's value and ignores a group's own.
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(3))
    opt = optim.Adagrad([{"params": [a]}, {"params": [b], "initial_accumulator_value": 0.7}],
                        initial_accumulator_value=0.2)
    assert np.all(opt.state[a]["sum"] == 0.2) and np.all(opt.state[b]["sum"] == 0.7)


def test_changing_lr_between_steps_as_a_scheduler_does():
    dtype = np.float64
    ours, theirs = make_params(dtype)
    opt = optim.Adam(ours, lr=0.01)
    t_opt = torch.optim.Adam(theirs, lr=0.01)
    rng = np.random.default_rng(3)
    for step in range(10):
        lr = 0.01 * 0.8**step
        opt.param_groups[0]["lr"] = lr
        t_opt.param_groups[0]["lr"] = lr
        set_grads(ours, theirs, rng, dtype)
        opt.step()
        t_opt.step()
    for p, tp in zip(ours, theirs):
        assert_close(p.data, tp.detach(), dtype, "after lr changes")


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_frozen_parameters_are_skipped(name):
    dtype = np.float64
    ours, theirs = make_params(dtype)
    ours[1].requires_grad = False
    theirs[1].requires_grad_(False)
    frozen = ours[1].data.copy()
    opt = getattr(optim, name)(ours, lr=0.1, weight_decay=0.1)
    t_opt = getattr(torch.optim, name)(theirs, lr=0.1, weight_decay=0.1)
    rng = np.random.default_rng(0)
    for _ in range(5):
        set_grads(ours, [theirs[0], None, theirs[2]], rng, dtype)  # torch's frozen parameter has no grad
        opt.step()
        t_opt.step()
    np.testing.assert_array_equal(ours[1].data, frozen)
    assert ours[1] not in opt.state or not opt.state[ours[1]] or name == "Adagrad"
    for i in (0, 2):
        assert_close(ours[i].data, theirs[i].detach(), dtype, f"parameter {i}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_updates_in_place_in_the_parameter_dtype(dtype):
    for cls, kwargs in [(optim.SGD, dict(momentum=0.9)), (optim.Adam, dict(amsgrad=True)),
                        (optim.RMSprop, dict(centered=True, momentum=0.5)), (optim.Adagrad, {})]:
        p = Parameter(np.ones((3, 2), dtype=dtype))
        data = p.data
        opt = cls([p], lr=np.float64(0.1), weight_decay=np.float64(0.01), **kwargs)  # NumPy float64 options too
        p.grad = np.full_like(p.data, 0.5)
        opt.step()
        assert p.data is data, f"{cls.__name__} replaced the array instead of updating it"
        assert p.data.dtype == dtype
        assert not np.all(p.data == 1)
        for key, value in opt.state[p].items():
            if isinstance(value, np.ndarray):
                assert value.dtype == dtype, f"{cls.__name__} state {key} is {value.dtype}"


def test_float64_gradient_on_float32_parameter_updates_in_float32():
    p = Parameter(np.ones(4, dtype=np.float32))
    p.grad = np.full(4, 0.5)  # float64
    opt = optim.Adam([p], lr=0.1)
    opt.step()
    assert p.data.dtype == np.float32 and opt.state[p]["exp_avg"].dtype == np.float32


def test_step_leaves_the_gradient_alone():
    p = Parameter(np.ones(3))
    p.grad = np.full_like(p.data, [1.0, -2.0, 3.0])
    before = p.grad.copy()
    for opt in (optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True),
                optim.Adam([p], weight_decay=0.1, maximize=True), optim.RMSprop([p], weight_decay=0.1),
                optim.Adagrad([p], weight_decay=0.1)):
        opt.step()
        opt.step()
        np.testing.assert_array_equal(p.grad, before)


def test_zero_grad_and_closure():
    ours, _ = make_params(np.float64)
    opt = optim.SGD(ours, lr=0.1)
    for p in ours:
        p.grad = np.full_like(p.data, 1.0)
    opt.zero_grad()
    assert all(p.grad is None for p in ours)  # set_to_none=True, as torch.optim
    opt.zero_grad(set_to_none=False)
    assert all(np.all(p.grad == 0) for p in ours)
    calls = []

    def closure():
        calls.append(1)
        for p in ours:
            p.grad = np.full_like(p.data, 1.0)
        return 42.0

    start = ours[0].data.copy()
    assert opt.step(closure) == 42.0
    assert calls == [1]
    np.testing.assert_allclose(ours[0].data, start - 0.1)


def test_accepts_generators_named_parameters_and_single_group_dicts():
    model = nn.Linear(3, 2, dtype=np.float64)
    opt = optim.SGD(model.parameters(), lr=0.1)
    assert opt.param_groups[0]["params"] == [model.weight, model.bias]
    opt = optim.Adam(model.named_parameters())
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]
    opt = optim.SGD([{"params": model.weight}], lr=0.1)  # a lone Parameter inside a group is fine
    assert opt.param_groups[0]["params"] == [model.weight]


@pytest.mark.parametrize("dtype", DTYPES)
def test_training_a_linear_layer_matches_torch(dtype):
    """A whole loop: nn.Linear forward/backward, hand-written MSE, AdamW steps."""
    rng = np.random.default_rng(0)
    model = nn.Linear(5, 3, dtype=dtype)
    t_model = torch.nn.Linear(5, 3).to(torch.float64 if dtype == np.float64 else torch.float32)
    t_model.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    opt = optim.AdamW(model.parameters(), lr=0.05)
    t_opt = torch.optim.AdamW(t_model.parameters(), lr=0.05)
    x = rng.standard_normal((8, 5)).astype(dtype)
    target = rng.standard_normal((8, 3)).astype(dtype)
    for step in range(20):
        opt.zero_grad()
        y = model(x)
        model.backward((2 * (y - target) / y.size).astype(dtype))  # d/dy of mean((y - target)**2)
        opt.step()
        t_opt.zero_grad()
        torch.nn.functional.mse_loss(t_model(torch.tensor(x)), torch.tensor(target)).backward()
        t_opt.step()
        for name, tp in t_model.named_parameters():
            assert_close(getattr(model, name).data, tp.detach(), dtype, f"step {step} {name}")


# ---------------------------------------------------------------------------- state dicts
STATE_CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
]


def _two_groups(params):
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.003}]


@pytest.mark.parametrize("name, options", STATE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(STATE_CASES)])
def test_state_dict_layout_equals_torch(name, options):
    dtype = np.float64
    ours, theirs = make_params(dtype)
    opt = getattr(optim, name)(_two_groups(ours), **options)
    t_opt = getattr(torch.optim, name)(_two_groups(theirs), **options)
    run_and_compare(opt, t_opt, ours, theirs, dtype, steps=4)
    state, t_state = opt.state_dict(), t_opt.state_dict()
    assert_plain(state)
    assert sorted(state["state"]) == sorted(t_state["state"])
    for index, entry in state["state"].items():
        t_entry = {k: v for k, v in t_state["state"][index].items() if v is not None}
        assert sorted(entry) == sorted(t_entry), f"parameter {index}"
        for key, value in entry.items():
            if key == "step":
                assert isinstance(value, int) and value == int(t_entry[key])
            else:
                assert_close(value, t_entry[key], dtype, f"state {index} {key}")
    for group, t_group in zip(state["param_groups"], t_state["param_groups"]):
        assert group["params"] == t_group["params"]
        for key, value in group.items():
            expected = t_group[key]
            assert value == (list(expected) if isinstance(expected, tuple) else expected), key


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, options", STATE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(STATE_CASES)])
def test_state_dict_round_trip_mid_run_continues_identically(name, options, dtype):
    cls = getattr(optim, name)
    rng = np.random.default_rng(5)
    ours, _ = make_params(dtype)
    opt = cls(_two_groups(ours), **options)
    grads = [[(s * rng.standard_normal(p.shape)).astype(dtype) for p, s in zip(ours, GRAD_SCALES)]
             for _ in range(25)]

    def step(optimizer, params, gs):
        for p, g in zip(params, gs):
            p.grad = np.full_like(p.data, g)
        optimizer.step()

    for gs in grads[:10]:
        step(opt, ours, gs)
    saved = npz_round_trip(opt.state_dict())
    resumed_params = [Parameter(p.data.copy()) for p in ours]
    resumed = cls(_two_groups(resumed_params), lr=123.0,
                  **{k: v for k, v in options.items() if k != "lr"})
    resumed.load_state_dict(saved)
    for key in saved.get("state", {}):  # the loaded arrays are copies
        for value in saved["state"][key].values():
            if value.ndim:
                value[...] = np.nan
    assert resumed.param_groups[1]["lr"] == 0.003 and resumed.param_groups[0]["lr"] == options["lr"]
    for gs in grads[10:]:
        step(opt, ours, gs)
        step(resumed, resumed_params, gs)
        for p, q in zip(ours, resumed_params):
            np.testing.assert_array_equal(q.data, p.data)


def test_load_state_dict_casts_state_to_each_parameter_dtype():
    ours64, _ = make_params(np.float64)
    opt64 = optim.Adam(ours64, lr=0.01, amsgrad=True)
    for p in ours64:
        p.grad = np.full_like(p.data, 1.0)
    opt64.step()
    ours32 = [Parameter(p.data.astype(np.float32)) for p in ours64]
    opt32 = optim.Adam(ours32, lr=0.01, amsgrad=True)
    opt32.load_state_dict(opt64.state_dict())
    for p in ours32:
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            assert opt32.state[p][key].dtype == np.float32, key
    opt32.step()
    assert all(p.data.dtype == np.float32 for p in ours32)


def test_state_dict_returns_copies():
    p = Parameter(np.ones(3))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.full_like(p.data, 1.0)
    opt.step()
    state = opt.state_dict()
    state["state"][0]["momentum_buffer"][...] = 100.0
    state["param_groups"][0]["lr"] = 5.0
    assert np.all(opt.state[p]["momentum_buffer"] == 1.0)
    assert opt.param_groups[0]["lr"] == 0.1


def test_state_dict_format_is_plain_and_indexed_like_torch():
    ours, _ = make_params(np.float32)
    opt = optim.Adam(_two_groups(ours), lr=0.01)
    for p in ours:
        p.grad = np.full_like(p.data, 1.0)
    opt.step()
    state = opt.state_dict()
    assert_plain(state)
    assert [g["params"] for g in state["param_groups"]] == [[0, 1], [2]]
    assert state["param_groups"][0]["betas"] == [0.9, 0.999]
    assert state["state"][2]["step"] == 1 and state["state"][2]["exp_avg"].dtype == np.float32
    back = npz_round_trip(state)
    assert set(back["state"]) == {"0", "1", "2"}  # what a flattened .npz gives back


def test_load_state_dict_errors_leave_the_optimizer_untouched():
    ours, _ = make_params(np.float64)
    opt = optim.SGD(_two_groups(ours), lr=0.1, momentum=0.9)
    for p in ours:
        p.grad = np.full_like(p.data, 1.0)
    opt.step()
    state = opt.state_dict()
    other = optim.SGD(ours, lr=0.1)
    with pytest.raises(ValueError, match="2 parameter groups.*1"):
        other.load_state_dict(state)
    fewer = optim.SGD([{"params": ours[:1]}, {"params": ours[2:]}], lr=0.1)
    with pytest.raises(ValueError, match="group 0 has 2 parameters in the state dict but 1"):
        fewer.load_state_dict(state)
    bad = opt.state_dict()
    bad["state"][2]["momentum_buffer"] = np.zeros((7, 7))
    bad["param_groups"][0]["lr"] = 0.5
    fresh = optim.SGD(_two_groups(ours), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"shape \(7, 7\).*\(2, 3, 2\)"):
        fresh.load_state_dict(bad)
    assert fresh.param_groups[0]["lr"] == 0.1 and not fresh.state
    with pytest.raises(TypeError, match="'state' and 'param_groups'"):
        fresh.load_state_dict({"lr": 0.1})


# ---------------------------------------------------------------------------- errors
P = Parameter(np.zeros(3))


def _p():
    return [Parameter(np.zeros(2))]


@pytest.mark.parametrize("make, message", [
    (lambda: optim.SGD(_p(), lr=-1), "Invalid learning rate: -1"),
    (lambda: optim.SGD(_p(), lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda: optim.SGD(_p(), lr=0.1, weight_decay=-1e-4), "Invalid weight_decay value: -0.0001"),
    (lambda: optim.SGD(_p(), lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda: optim.SGD(_p(), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda: optim.Adam(_p(), lr=-0.001), "Invalid learning rate: -0.001"),
    (lambda: optim.Adam(_p(), eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda: optim.Adam(_p(), betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda: optim.Adam(_p(), betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda: optim.AdamW(_p(), weight_decay=-0.01), "Invalid weight_decay value: -0.01"),
    (lambda: optim.RMSprop(_p(), alpha=-0.9), "Invalid alpha value: -0.9"),
    (lambda: optim.RMSprop(_p(), momentum=-1), "Invalid momentum value: -1"),
    (lambda: optim.RMSprop(_p(), eps=-1), "Invalid epsilon value: -1"),
    (lambda: optim.Adagrad(_p(), lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda: optim.Adagrad(_p(), initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    (lambda: optim.SGD([{"params": _p(), "lr": -2.0}], lr=0.1), "Invalid learning rate: -2.0"),
    (lambda: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda: optim.SGD([{"params": [P]}, {"params": [P]}], lr=0.1), "more than one parameter group"),
    (lambda: optim.SGD([P, P], lr=0.1), "more than once"),
    (lambda: optim.Adam(_p(), lr=float("nan")), "Invalid learning rate: nan"),
])
def test_bad_hyper_parameters_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("make, message", [
    (lambda: optim.SGD(P, lr=0.1), "single Parameter"),
    (lambda: optim.SGD({P}, lr=0.1), "not a set"),
    (lambda: optim.SGD([np.zeros(3)], lr=0.1), "can only optimize numconv Parameters, got ndarray"),
    (lambda: optim.SGD(5, lr=0.1), "iterable"),
    (lambda: optim.SGD({"params": [P]}, lr=0.1), "a list of groups"),
    (lambda: optim.SGD(_p(), lr="0.1"), "learning rate: expected a number"),
    (lambda: optim.SGD(_p(), lr=0.1, nesterov="yes"), "nesterov"),
    (lambda: optim.Adam(_p(), betas=0.9), "betas"),
    (lambda: optim.SGD(_p(), lr=0.1).add_param_group([P]), "must be a dict"),
])
def test_bad_arguments_raise_type_error(make, message):
    with pytest.raises(TypeError, match=message):
        make()


def test_gradient_of_the_wrong_shape_is_a_clear_error():
    p = Parameter(np.zeros((2, 3)))
    p.grad = np.zeros(3)
    with pytest.raises(ValueError, match=r"shape \(2, 3\) has a gradient of shape \(3,\)"):
        optim.SGD([p], lr=0.1).step()


def test_repr_lists_every_group():
    text = repr(optim.SGD([{"params": _p()}, {"params": _p(), "lr": 0.5}], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 1" in text and "lr: 0.5" in text and "momentum: 0.9" in text


def test_defaults_are_torchs():
    import inspect

    for name in ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]:
        ours = inspect.signature(getattr(optim, name)).parameters
        theirs = inspect.signature(getattr(torch.optim, name)).parameters
        for arg, param in ours.items():
            if arg == "params":
                continue
            assert arg in theirs, f"{name}: torch has no argument {arg}"
            assert param.default == theirs[arg].default, f"{name}({arg}=...): {param.default} vs {theirs[arg].default}"


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_state_of_a_scalar_parameter_round_trips(name):
    # A 0-d parameter (a learnable temperature): its 0-d state arrays came back from the plain-value form as
    # Python floats, which load_state_dict then refused as "not an array".

    p = Parameter(np.array(1.5))
    kwargs = dict(lr=0.1, momentum=0.9) if name in ("SGD", "RMSprop") else dict(lr=0.1)
    opt = getattr(optim, name)([p], **kwargs)
    p.grad = np.array(0.25)
    opt.step()
    again = getattr(optim, name)([p], **kwargs)
    again.load_state_dict(opt.state_dict())
    p.grad = np.array(-0.5)
    before = p.data.copy()
    opt.step()
    stepped, p.data = p.data.copy(), before
    again.step()
    np.testing.assert_allclose(p.data, stepped, rtol=1e-12)
