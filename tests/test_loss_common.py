"""What every loss layer shares: the call/backward protocol, repr, state_dict, reductions.

Also holds ``record``, which the other loss test modules use to keep the
largest error measured against PyTorch per op and dtype; set
``NUMCONV_LOSS_REPORT=path`` to have the table written there at exit.
"""

import atexit
import json
import os
import warnings

import numpy as np
import pytest

import numconv
from numconv import functional as F
from numconv import nn

torch = pytest.importorskip("torch")

MAX_ERRORS = {}


def record(name, dtype, errors):
    """Remember the largest relative errors (vs PyTorch) of ``name`` in ``dtype``."""
    key = f"{name} [{np.dtype(dtype).name}]"
    MAX_ERRORS[key] = max(MAX_ERRORS.get(key, 0.0), *errors.values())


def torch_kwargs_for(kwargs, dtype):
    """Our kwargs with float arrays cast to ``dtype``, and PyTorch's (the same as tensors).

    Weights go to PyTorch as plain tensors: ``check_op`` would mark arrays as
    requiring grad, which PyTorch refuses for a loss's ``weight``.
    """
    ours, theirs = {}, {}
    for key, value in kwargs.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            value = value.astype(dtype)
            ours[key], theirs[key] = value, torch.from_numpy(value)
        else:
            ours[key] = theirs[key] = value
    return ours, theirs


def _write_report():
    path = os.environ.get("NUMCONV_LOSS_REPORT")
    if path and MAX_ERRORS:
        previous = {}
        if os.path.exists(path):
            with open(path) as f:
                previous = json.load(f)
        for key, value in MAX_ERRORS.items():
            previous[key] = max(previous.get(key, 0.0), value)
        with open(path, "w") as f:
            json.dump(previous, f, indent=1, sort_keys=True)


atexit.register(_write_report)


def _example(name, rng, reduction="mean"):
    """A (layer kwargs, input, target) triple that suits loss ``name``."""
    x = rng.standard_normal((4, 3))
    if name in ("CrossEntropyLoss", "NLLLoss"):
        return x, rng.integers(0, 3, 4)
    if name == "BCELoss":
        return rng.uniform(0.05, 0.95, (4, 3)), rng.random((4, 3))
    if name == "KLDivLoss":
        return x, rng.random((4, 3))
    return x, rng.standard_normal((4, 3))


ALL = ["CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss", "SmoothL1Loss",
       "HuberLoss", "KLDivLoss"]


@pytest.mark.parametrize("name", ALL)
def test_protocol_float_return_and_default_upstream(name):
    rng = np.random.default_rng(0)
    x, target = _example(name, rng)
    for dtype in (np.float32, np.float64):
        crit = getattr(nn, name)()
        loss = crit(x.astype(dtype), target.astype(dtype) if target.dtype.kind == "f" else target)
        assert type(loss) is float
        dx = crit.backward()
        assert dx.dtype == dtype and dx.shape == x.shape
        crit(x.astype(dtype), target.astype(dtype) if target.dtype.kind == "f" else target)
        dx_scaled = crit.backward(grad_output=-2.5)
        np.testing.assert_allclose(dx_scaled, -2.5 * dx, rtol=1e-6 if dtype == np.float32 else 1e-15)
        assert np.any(dx)


@pytest.mark.parametrize("name", ALL)
def test_protocol_reduction_none(name):
    rng = np.random.default_rng(1)
    x, target = _example(name, rng)
    crit = getattr(nn, name)(reduction="none")
    loss = crit(x, target)
    assert isinstance(loss, np.ndarray) and loss.shape == (np.shape(target) if name in ("CrossEntropyLoss", "NLLLoss")
                                                          else x.shape)
    dx_default = crit.backward()
    crit(x, target)
    np.testing.assert_array_equal(dx_default, crit.backward(np.ones(loss.shape)))
    crit(x, target)
    with pytest.raises(ValueError, match=rf"{name}\.backward: expected grad_output of the loss's shape"):
        crit.backward(grad_output=1.0)
    mean_crit = getattr(nn, name)()
    mean_crit(x, target)
    with pytest.raises(ValueError, match=r"expected grad_output of the loss's shape \(\).*got shape \(4,\)"):
        mean_crit.backward(np.ones(4))


@pytest.mark.parametrize("name", ALL)
def test_backward_without_forward_or_twice_is_an_error(name):
    rng = np.random.default_rng(2)
    x, target = _example(name, rng)
    crit = getattr(nn, name)()
    with pytest.raises(RuntimeError, match=f"{name}.backward: there is no forward pass"):
        crit.backward()
    crit(x, target)
    crit.backward()
    with pytest.raises(RuntimeError, match="no forward pass"):
        crit.backward()
    with numconv.no_grad():
        crit(x, target)
    with pytest.raises(RuntimeError, match="no forward pass"):
        crit.backward()


@pytest.mark.parametrize("name", ALL)
def test_gradcheck_with_random_upstream_every_reduction(name):
    rng = np.random.default_rng(3)
    x, target = _example(name, rng)
    reductions = ["mean", "sum", "none"] + (["batchmean"] if name == "KLDivLoss" else [])
    for reduction in reductions:
        assert numconv.gradcheck(getattr(nn, name)(reduction=reduction), x, target, raise_exception=True)


REPR_CASES = [
    ("CrossEntropyLoss", dict(weight=[1.0, 2.0, 3.0], ignore_index=2, label_smoothing=0.1, reduction="sum")),
    ("NLLLoss", dict(weight=[1.0, 2.0])),
    ("BCELoss", dict(weight=[0.5, 1.5])),
    ("BCEWithLogitsLoss", dict(pos_weight=[3.0, 1.0])),
    ("BCEWithLogitsLoss", dict(weight=[0.5, 1.5], pos_weight=[3.0, 1.0])),
    ("MSELoss", dict(reduction="none")),
    ("L1Loss", dict()),
    ("SmoothL1Loss", dict(beta=0.5)),
    ("HuberLoss", dict(delta=2.0)),
    ("KLDivLoss", dict(reduction="batchmean", log_target=True)),
]


@pytest.mark.parametrize("name, kwargs", REPR_CASES)
def test_repr_and_state_dict_match_torch(name, kwargs):
    ours = getattr(nn, name)(**{k: np.array(v) if isinstance(v, list) else v for k, v in kwargs.items()})
    theirs = getattr(torch.nn, name)(**{k: torch.tensor(v) if isinstance(v, list) else v for k, v in kwargs.items()})
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key], value.numpy())
    assert ours.reduction == theirs.reduction
    for attr in ("ignore_index", "label_smoothing", "beta", "delta", "log_target"):
        if hasattr(theirs, attr):
            assert getattr(ours, attr) == getattr(theirs, attr)
    # and back: a state dict saved by PyTorch loads
    ours.load_state_dict({k: v.numpy() * 2 for k, v in theirs.state_dict().items()})
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key], value.numpy() * 2)


def test_default_reprs():
    for name in ALL:
        assert repr(getattr(nn, name)()) == f"{name}()"


def test_weight_buffer_keeps_its_dtype_and_follows_to():
    crit = nn.CrossEntropyLoss(weight=np.array([1.0, 2.0], dtype=np.float32))
    assert crit.weight.dtype == np.float32 and list(dict(crit.named_buffers())) == ["weight"]
    crit.double()
    assert crit.weight.dtype == np.float64
    # the loss computes in the input's dtype whatever the weight's
    x = np.array([[0.3, -0.2]], dtype=np.float32)
    assert crit(x, np.array([1])) == pytest.approx(
        torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor([1]), weight=torch.tensor([1.0, 2.0])).item(),
        rel=1e-6)
    assert crit.backward().dtype == np.float32


@pytest.mark.parametrize("size_average, reduce", [(None, False), (False, None), (True, True), (False, True),
                                                   (True, False)])
def test_legacy_size_average_and_reduce(size_average, reduce):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.MSELoss(size_average=size_average, reduce=reduce)
        theirs_ce = torch.nn.CrossEntropyLoss(None, size_average, -100, reduce)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        ours = nn.MSELoss(size_average=size_average, reduce=reduce)
    with pytest.warns(UserWarning):
        ours_ce = nn.CrossEntropyLoss(None, size_average, -100, reduce)
    assert ours.reduction == theirs.reduction and ours_ce.reduction == theirs_ce.reduction


def test_positional_arguments_follow_torch_order():
    crit = nn.CrossEntropyLoss(None, None, 5, None, "sum", 0.2)
    assert (crit.ignore_index, crit.reduction, crit.label_smoothing) == (5, "sum", 0.2)
    assert nn.SmoothL1Loss(None, None, "none", 0.3).beta == 0.3
    assert nn.HuberLoss("sum", 0.4).delta == 0.4
    assert nn.KLDivLoss(None, None, "batchmean", True).log_target is True
    crit = nn.BCEWithLogitsLoss(None, None, None, "sum", np.ones(2))
    assert crit.reduction == "sum" and crit.pos_weight.shape == (2,)


def test_reduction_validation():
    for name in ALL:
        if name == "HuberLoss":
            continue
        with pytest.raises(ValueError, match=rf"{name}: reduction must be one of 'none', 'mean', 'sum'"):
            getattr(nn, name)(reduction="elementwise_mean")
    assert nn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
    with pytest.raises(ValueError, match=r"MSELoss: reduction must be one of 'none', 'mean', 'sum', got 'batchmean'"):
        nn.MSELoss(reduction="batchmean")
    with pytest.raises(ValueError, match="HuberLoss: reduction must be one of"):
        nn.HuberLoss(reduction="avg")
    with pytest.raises(ValueError, match="mse_loss: reduction must be one of"):
        F.mse_loss(np.zeros(2), np.zeros(2), reduction="Mean")


def test_loss_drives_a_model_backward():
    """The documented loop: criterion(...) then model.backward(criterion.backward())."""
    numconv.manual_seed(0)
    model = nn.Linear(3, 4).double()
    t_model = torch.nn.Linear(3, 4).double()
    t_model.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    x = np.random.default_rng(4).standard_normal((5, 3))
    y = np.array([0, 3, 1, 2, 3])
    crit = nn.CrossEntropyLoss(label_smoothing=0.1)
    loss = crit(model(x), y)
    model.backward(crit.backward())
    t_loss = torch.nn.CrossEntropyLoss(label_smoothing=0.1)(t_model(torch.tensor(x)), torch.tensor(y))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    np.testing.assert_allclose(model.weight.grad, t_model.weight.grad.numpy(), rtol=1e-10, atol=1e-14)
