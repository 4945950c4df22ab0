"""Whole networks equal PyTorch's: logits, loss, input gradient, every parameter gradient, buffers,
and a few SGD-momentum steps, in training and in eval mode."""

from collections import OrderedDict

import numpy as np
import pytest

import numconv
from numconv import nn, optim
from numconv.models import LeNet5, SimpleCNN, SmallVGG

torch = pytest.importorskip("torch")
from parity import rel_error  # noqa: E402

TOL64 = 1e-9
LARGEST = {}  # largest error seen per dtype (shown with pytest -s)


@pytest.fixture(scope="module", autouse=True)
def _report_largest_errors():
    yield
    print("\n[test_networks] largest relative errors vs PyTorch:",
          ", ".join(f"{k} {v:.2e}" for k, v in sorted(LARGEST.items())))


def torch_lenet5(activation="tanh", pooling="avg", num_classes=10):
    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[activation]
    pool = {"avg": torch.nn.AvgPool2d, "max": torch.nn.MaxPool2d}[pooling]
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5), act(), pool(2),
        torch.nn.Conv2d(6, 16, 5), act(), pool(2),
        torch.nn.Conv2d(16, 120, 5), act(),
        torch.nn.Flatten(),
        torch.nn.Linear(120, 84), act(),
        torch.nn.Linear(84, num_classes),
    )


def torch_simple_cnn(in_channels=3, num_classes=10, input_size=224, channels=(16, 32, 64)):
    layers, previous = [], in_channels
    for c in channels:
        layers += [torch.nn.Conv2d(previous, c, 3, padding=1), torch.nn.BatchNorm2d(c), torch.nn.ReLU(),
                   torch.nn.MaxPool2d(2)]
        previous = c
    final = input_size // 2 ** len(channels)
    layers += [torch.nn.Flatten(), torch.nn.Linear(previous * final * final, num_classes)]
    return torch.nn.Sequential(*layers)


def _load_into_torch(ours, theirs, dtype):
    theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    theirs.load_state_dict(OrderedDict((k, torch.from_numpy(v.copy())) for k, v in ours.state_dict().items()))


def _randomise_running_stats(model, rng):
    """Eval mode must not test running stats that are still 0 and 1."""
    for name, m in model.named_modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean = rng.standard_normal(m.running_mean.shape).astype(m.running_mean.dtype) * 0.1
            m.running_var = rng.uniform(0.5, 2.0, m.running_var.shape).astype(m.running_var.dtype)


def _check(what, ours, theirs, dtype, tol):
    err = rel_error(ours, theirs.detach().numpy() if hasattr(theirs, "detach") else theirs)
    key = np.dtype(dtype).name
    LARGEST[key] = max(LARGEST.get(key, 0.0), err)
    assert err <= tol, f"{what}: relative error {err:.2e} > {tol:.0e}"


def compare_network(ours, theirs, x, y, training, dtype=np.float64, tol=TOL64):
    """One forward/backward through both networks with cross-entropy; compare everything."""
    _load_into_torch(ours, theirs, dtype)
    ours.train(training)
    theirs.train(training)
    x = x.astype(dtype)
    criterion = nn.CrossEntropyLoss()
    ours.zero_grad()
    logits = ours(x)
    loss = criterion(logits, y)
    dx = ours.backward(criterion.backward())

    tx = torch.tensor(x, requires_grad=True)
    t_logits = theirs(tx)
    t_loss = torch.nn.functional.cross_entropy(t_logits, torch.from_numpy(y))
    t_loss.backward()

    assert logits.dtype == dtype and dx.dtype == dtype
    _check("logits", logits, t_logits, dtype, tol)
    _check("loss", np.array(loss), t_loss, dtype, tol)
    _check("input gradient", dx, tx.grad, dtype, tol)
    t_params = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(t_params)
    scale = max(float(t.grad.abs().max()) for t in t_params.values())
    for name, p in ours.named_parameters():
        t_grad = t_params[name].grad
        if float(t_grad.abs().max()) <= 1e-12 * scale:
            # Mathematically zero (a conv bias before a training-mode batch norm): both sides hold
            # rounding noise, so compare magnitudes instead of noise against noise.
            assert np.abs(p.grad).max() <= 1e-12 * scale, f"gradient of {name} should be ~0"
            continue
        _check(f"gradient of {name}", p.grad, t_grad, dtype, tol)
    t_buffers = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():
        _check(f"buffer {name}", b, t_buffers[name], dtype, tol)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("activation,pooling", [("tanh", "avg"), ("relu", "max"), ("tanh", "max")])
def test_lenet5_matches_torch(activation, pooling, training):
    numconv.manual_seed(0)
    ours = LeNet5(activation=activation, pooling=pooling, dtype=np.float64)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 1, 32, 32))
    y = rng.integers(0, 10, 5)
    compare_network(ours, torch_lenet5(activation, pooling), x, y, training)


def test_lenet5_float32_matches_torch():
    numconv.manual_seed(2)
    ours = LeNet5(activation="relu", pooling="max")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 1, 32, 32))
    y = rng.integers(0, 10, 8)
    compare_network(ours, torch_lenet5("relu", "max"), x, y, True, dtype=np.float32, tol=1e-4)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_simple_cnn_224_matches_torch(training):
    numconv.manual_seed(0)
    ours = SimpleCNN(dtype=np.float64)
    rng = np.random.default_rng(3)
    _randomise_running_stats(ours, rng)
    x = rng.standard_normal((2, 3, 224, 224))
    y = rng.integers(0, 10, 2)
    compare_network(ours, torch_simple_cnn(), x, y, training)


def _sgd_steps(ours, theirs, batches, training, lr=0.05, momentum=0.9, weight_decay=1e-4, nesterov=False):
    _load_into_torch(ours, theirs, np.float64)
    ours.train(training)
    theirs.train(training)
    opt = optim.SGD(ours.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov)
    t_opt = torch.optim.SGD(theirs.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay,
                            nesterov=nesterov)
    criterion = nn.CrossEntropyLoss()
    for step, (x, y) in enumerate(batches):
        opt.zero_grad()
        loss = criterion(ours(x), y)
        ours.backward(criterion.backward())
        opt.step()
        t_opt.zero_grad()
        t_loss = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(y))
        t_loss.backward()
        t_opt.step()
        _check(f"step {step} loss", np.array(loss), t_loss, np.float64, TOL64)
        t_state = theirs.state_dict()
        for name, value in ours.state_dict().items():
            _check(f"step {step} {name}", value, t_state[name], np.float64, TOL64)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_lenet5_sgd_momentum_steps_match_torch(training):
    numconv.manual_seed(4)
    ours = LeNet5(activation="relu", pooling="max", dtype=np.float64)
    rng = np.random.default_rng(4)
    batches = [(rng.standard_normal((6, 1, 32, 32)), rng.integers(0, 10, 6)) for _ in range(4)]
    _sgd_steps(ours, torch_lenet5("relu", "max"), batches, training, nesterov=True)


def test_simple_cnn_sgd_momentum_steps_match_torch():
    numconv.manual_seed(5)
    kwargs = dict(in_channels=1, input_size=32, channels=(8, 16, 16))
    ours = SimpleCNN(dtype=np.float64, **kwargs)
    rng = np.random.default_rng(5)
    batches = [(rng.standard_normal((4, 1, 32, 32)), rng.integers(0, 10, 4)) for _ in range(4)]
    _sgd_steps(ours, torch_simple_cnn(**kwargs), batches, True)


def test_eval_mode_backprop_needs_a_forward_outside_no_grad():
    model = LeNet5(dtype=np.float64).eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 32, 32))
    with numconv.no_grad():
        model(x)
    with pytest.raises(RuntimeError, match="no forward pass"):
        model.backward(np.ones((2, 10)))
    model(x)  # eval mode keeps the cache outside no_grad (saliency maps)
    assert model.backward(np.ones((2, 10))).shape == x.shape


def torch_small_vgg(in_channels=3, num_classes=10, channels=(32, 64, 128), hidden=256, dropout=0.5, input_size=32):
    features, previous = [], in_channels
    for c in channels:
        for _ in range(2):
            features += [torch.nn.Conv2d(previous, c, 3, padding=1), torch.nn.BatchNorm2d(c), torch.nn.ReLU()]
            previous = c
        features.append(torch.nn.MaxPool2d(2))
    final = input_size // 2 ** len(channels)
    classifier = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(previous * final * final, hidden),
                                     torch.nn.ReLU(), torch.nn.Dropout(dropout), torch.nn.Linear(hidden, num_classes))
    return torch.nn.Sequential(OrderedDict(features=torch.nn.Sequential(*features), classifier=classifier))


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_small_vgg_matches_torch(training):
    # Dropout draws differ between the libraries, so the training-mode comparison uses p=0.
    kwargs = dict(channels=(8, 16, 16), hidden=32, dropout=0.0 if training else 0.5)
    numconv.manual_seed(6)
    ours = SmallVGG(dtype=np.float64, **kwargs)
    rng = np.random.default_rng(6)
    _randomise_running_stats(ours, rng)
    x = rng.standard_normal((3, 3, 32, 32))
    y = rng.integers(0, 10, 3)
    compare_network(ours, torch_small_vgg(**kwargs), x, y, training)
