"""The tape of layer calls: PyTorch-style models train as written.

For each pattern (custom forward, a reused layer, a reshape between layers, a
residual sum, parallel branches, concatenated skips, weight sharing, an array
used three times) the same model written in PyTorch with the same weights
gives the same output, input gradient and every parameter gradient, and
gradcheck passes. NumPy arithmetic between layers is refused, one test per
kind of operation.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import numconv
from numconv import nn
from numconv.nn.tape import TapeError
from parity import TOL, rel_error, upstream_rng

torch = pytest.importorskip("torch")
tnn = torch.nn


# ---------------------------------------------------------------------------- the same models, twice
class SimpleCNN(nn.Module):
    """The tutorial class: one ``self.activation`` and one ``self.pool`` used after every block."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.activation = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(6 * 2 * 2, 3)

    def forward(self, x):
        x = self.pool(self.activation(self.conv1(x)))
        x = self.pool(self.activation(self.conv2(x)))
        return self.fc(x.reshape(x.shape[0], -1))


class TorchSimpleCNN(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = tnn.Conv2d(4, 6, 3, padding=1)
        self.activation = tnn.ReLU()
        self.pool = tnn.MaxPool2d(2)
        self.fc = tnn.Linear(6 * 2 * 2, 3)

    def forward(self, x):
        x = self.pool(self.activation(self.conv1(x)))
        x = self.pool(self.activation(self.conv2(x)))
        return self.fc(x.view(x.size(0), -1))


class LeNet5(nn.Module):
    """LeNet-5 as the lecture writes it: ``x.view(x.size(0), -1)`` between the conv part and the head."""

    def __init__(self):
        super().__init__()
        self.c1, self.s2 = nn.Conv2d(1, 6, 5), nn.AvgPool2d(2)
        self.c3, self.s4 = nn.Conv2d(6, 16, 5), nn.AvgPool2d(2)
        self.f5, self.f6, self.out = nn.Linear(16 * 5 * 5, 120), nn.Linear(120, 84), nn.Linear(84, 10)
        self.tanh = nn.Tanh()

    def forward(self, x):
        x = self.s2(self.tanh(self.c1(x)))
        x = self.s4(self.tanh(self.c3(x)))
        x = x.reshape(x.shape[0], -1)
        return self.out(self.tanh(self.f6(self.tanh(self.f5(x)))))


class TorchLeNet5(tnn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.s2 = tnn.Conv2d(1, 6, 5), tnn.AvgPool2d(2)
        self.c3, self.s4 = tnn.Conv2d(6, 16, 5), tnn.AvgPool2d(2)
        self.f5, self.f6, self.out = tnn.Linear(16 * 5 * 5, 120), tnn.Linear(120, 84), tnn.Linear(84, 10)
        self.tanh = tnn.Tanh()

    def forward(self, x):
        x = self.s2(self.tanh(self.c1(x)))
        x = self.s4(self.tanh(self.c3(x)))
        x = x.view(x.size(0), -1)
        return self.out(self.tanh(self.f6(self.tanh(self.f5(x)))))


class BasicBlock(nn.Module):
    """torchvision's ResNet BasicBlock, with ``nn.Add`` where PyTorch writes ``out + identity``."""

    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.add = nn.Add()

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(self.add(out, identity))


class TorchBasicBlock(tnn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(cout)
        self.relu = tnn.ReLU()
        self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def residual_block(cin, cout, stride=1):
    """The same block as an ``nn.Residual`` inside a ``Sequential``: keys ``0.body.0.weight``, ``0.shortcut.0...``."""
    body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
    shortcut = None
    if stride != 1 or cin != cout:
        shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
    return nn.Sequential(nn.Residual(body, shortcut), nn.ReLU())


class TorchResidual(tnn.Module):
    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body, self.shortcut = body, shortcut

    def forward(self, x):
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


def torch_residual_block(cin, cout, stride=1):
    body = tnn.Sequential(tnn.Conv2d(cin, cout, 3, stride, 1, bias=False), tnn.BatchNorm2d(cout), tnn.ReLU(),
                          tnn.Conv2d(cout, cout, 3, 1, 1, bias=False), tnn.BatchNorm2d(cout))
    shortcut = None
    if stride != 1 or cin != cout:
        shortcut = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout))
    return tnn.Sequential(TorchResidual(body, shortcut), tnn.ReLU())


def inception(cin):
    """An Inception-style block: 1x1, 1x1 -> 3x3, 1x1 -> 5x5 and pool -> 1x1 branches, concatenated."""
    return nn.Parallel(
        nn.Conv2d(cin, 4, 1),
        nn.Sequential(nn.Conv2d(cin, 3, 1), nn.ReLU(), nn.Conv2d(3, 5, 3, padding=1)),
        nn.Sequential(nn.Conv2d(cin, 2, 1), nn.ReLU(), nn.Conv2d(2, 3, 5, padding=2)),
        nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(cin, 2, 1)),
    )


class TorchParallel(tnn.Module):
    def __init__(self, *branches, merge="cat"):
        super().__init__()
        for i, b in enumerate(branches):
            self.add_module(str(i), b)
        self.merge = merge

    def forward(self, x):
        outs = [b(x) for b in self.children()]
        return torch.cat(outs, 1) if self.merge == "cat" else sum(outs)


def torch_inception(cin):
    return TorchParallel(
        tnn.Conv2d(cin, 4, 1),
        tnn.Sequential(tnn.Conv2d(cin, 3, 1), tnn.ReLU(), tnn.Conv2d(3, 5, 3, padding=1)),
        tnn.Sequential(tnn.Conv2d(cin, 2, 1), tnn.ReLU(), tnn.Conv2d(2, 3, 5, padding=2)),
        tnn.Sequential(tnn.MaxPool2d(3, 1, 1), tnn.Conv2d(cin, 2, 1)),
    )


class TinyUNet(nn.Module):
    """Two levels: the encoder's features are concatenated onto the decoder's (``nn.Cat`` skips)."""

    def __init__(self):
        super().__init__()
        self.enc1 = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.down = nn.MaxPool2d(2)
        self.enc2 = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU())
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.up_conv = nn.Conv2d(8, 4, 1)
        self.cat = nn.Cat(1)
        self.dec = nn.Sequential(nn.Conv2d(8, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1))

    def forward(self, x):
        skip = self.enc1(x)
        deep = self.enc2(self.down(skip))
        up = self.up_conv(self.up(deep))
        return self.dec(self.cat(up, skip))


class TorchTinyUNet(tnn.Module):
    def __init__(self):
        super().__init__()
        self.enc1 = tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1), tnn.ReLU())
        self.down = tnn.MaxPool2d(2)
        self.enc2 = tnn.Sequential(tnn.Conv2d(4, 8, 3, padding=1), tnn.ReLU())
        self.up = tnn.Upsample(scale_factor=2, mode="nearest")
        self.up_conv = tnn.Conv2d(8, 4, 1)
        self.dec = tnn.Sequential(tnn.Conv2d(8, 4, 3, padding=1), tnn.ReLU(), tnn.Conv2d(4, 2, 1))

    def forward(self, x):
        skip = self.enc1(x)
        deep = self.enc2(self.down(skip))
        up = self.up_conv(self.up(deep))
        return self.dec(torch.cat([up, skip], 1))


class Shared(nn.Module):
    """Weight sharing: one convolution applied twice, and one array used three times."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.act = nn.Tanh()
        self.add = nn.Add()

    def forward(self, x):
        h = self.act(self.conv(x))
        h2 = self.act(self.conv(h))  # the same conv, second call
        return self.add(h, h2, self.act(h))  # h used three times


class TorchShared(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv = tnn.Conv2d(3, 3, 3, padding=1)
        self.act = tnn.Tanh()

    def forward(self, x):
        h = self.act(self.conv(x))
        h2 = self.act(self.conv(h))
        return h + h2 + self.act(h)


def _compare(ours, theirs, shape, dtype=np.float64, seed=0, train=True):
    """Same weights -> same output, input gradient and parameter gradients (and running statistics)."""
    ours.to(dtype)
    theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    missing = ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert missing == ([], [])
    ours.train(train)
    theirs.train(train)
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    out = ours(x)
    tx = torch.tensor(x, requires_grad=True)
    tout = theirs(tx)
    grad = upstream_rng(seed).standard_normal(out.shape).astype(dtype)
    ours.zero_grad()
    dx = ours.backward(grad)
    tout.backward(torch.tensor(grad))
    tol = TOL[np.dtype(dtype)]
    assert rel_error(out, tout.detach().numpy()) <= tol
    assert rel_error(dx, tx.grad.numpy()) <= tol
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert rel_error(p.grad, theirs_params[name].grad.numpy()) <= tol, name
    theirs_state = theirs.state_dict()
    for name, b in ours.named_buffers():
        assert rel_error(b, theirs_state[name].numpy()) <= tol, name
    return x


CASES = {
    "simple_cnn_shared_activation_and_pool": (SimpleCNN, TorchSimpleCNN, (2, 1, 8, 8)),
    "lenet5_with_reshape": (LeNet5, TorchLeNet5, (3, 1, 32, 32)),
    "basic_block_with_add": (lambda: BasicBlock(4, 4), lambda: TorchBasicBlock(4, 4), (2, 4, 6, 6)),
    "basic_block_downsample": (lambda: BasicBlock(3, 6, 2), lambda: TorchBasicBlock(3, 6, 2), (2, 3, 7, 7)),
    "residual": (lambda: residual_block(4, 4), lambda: torch_residual_block(4, 4), (2, 4, 6, 6)),
    "residual_shortcut": (lambda: residual_block(3, 5, 2), lambda: torch_residual_block(3, 5, 2), (2, 3, 6, 6)),
    "inception_parallel": (lambda: inception(3), lambda: torch_inception(3), (2, 3, 6, 6)),
    "tiny_unet_cat_skips": (TinyUNet, TorchTinyUNet, (2, 1, 8, 8)),
    "weight_sharing_and_three_uses": (Shared, TorchShared, (2, 3, 5, 5)),
}


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(CASES))
def test_same_as_pytorch(name, dtype):
    make, make_torch, shape = CASES[name]
    torch.manual_seed(0)
    _compare(make(), make_torch(), shape, dtype)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["simple_cnn_shared_activation_and_pool", "basic_block_with_add", "residual"])
def test_eval_mode_same_as_pytorch(name):
    make, make_torch, shape = CASES[name]
    torch.manual_seed(1)
    _compare(make(), make_torch(), shape, np.float64, train=False)


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck(name):
    make, _, shape = CASES[name]
    numconv.manual_seed(1)
    model = make().double().eval()  # eval: batch norm as a fixed affine map, which finite differences can see
    # Seed 1, not 0: with seed 0 SimpleCNN has a max-pool window of equal values within eps of a kink, where
    # finite differences are wrong for PyTorch's gradient too (a property of the input, not of backward).
    x = np.random.default_rng(1).standard_normal((1, *shape[1:]))
    report = numconv.gradcheck(model, x, max_checks=20)
    assert report.passed, str(report)


@pytest.mark.torch
def test_parameter_names_nest_as_in_pytorch():
    assert list(residual_block(3, 5, 2).state_dict()) == list(torch_residual_block(3, 5, 2).state_dict())
    assert list(inception(3).state_dict()) == list(torch_inception(3).state_dict())
    assert list(BasicBlock(3, 6, 2).state_dict()) == list(TorchBasicBlock(3, 6, 2).state_dict())


@pytest.mark.torch
def test_training_steps_stay_equal():
    """A few SGD steps with momentum through the custom-forward LeNet-5: the weights stay PyTorch's."""
    torch.manual_seed(0)
    ours, theirs = LeNet5().double(), TorchLeNet5().double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    opt = numconv.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    loss_fn, tloss_fn = nn.CrossEntropyLoss(), tnn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, y = rng.standard_normal((4, 1, 32, 32)), rng.integers(0, 10, 4)
        opt.zero_grad()
        loss = loss_fn(ours(x), y)
        ours.backward(loss_fn.backward())
        opt.step()
        topt.zero_grad()
        tloss = tloss_fn(theirs(torch.tensor(x)), torch.tensor(y))
        tloss.backward()
        topt.step()
        assert abs(loss - tloss.item()) <= 1e-10 * abs(tloss.item())
    for name, p in theirs.named_parameters():
        assert rel_error(ours.state_dict()[name], p.detach().numpy()) <= 1e-10


# ---------------------------------------------------------------------------- views of recorded arrays
class Viewer(nn.Module):
    """A linear layer fed a view of the previous output, chosen by ``how``."""

    def __init__(self, how):
        super().__init__()
        self.how = how
        self.conv = nn.Conv2d(2, 3, 1, dtype=np.float64)
        self.fc = nn.Linear(12, 2, dtype=np.float64)
        self.fc_t = nn.Linear(3, 2, dtype=np.float64)

    def forward(self, x):
        h = self.conv(x)  # (N, 3, 2, 2)
        if self.how == "reshape":
            return self.fc(h.reshape(h.shape[0], -1))
        if self.how == "flatten_copy":
            return self.fc(h.flatten().reshape(len(h), -1))  # a copy (flatten), then a view of the copy
        if self.how == "transpose":
            return self.fc_t(h.transpose(0, 2, 3, 1))  # channels last: a non-contiguous view
        if self.how == "slice":
            return self.fc_t(h[:, :, 0, 1])
        if self.how == "newaxis":
            return self.fc(h.reshape(h.shape[0], -1)[:, None, :])
        raise AssertionError(self.how)


def _torch_viewer(ours, how):
    conv = tnn.Conv2d(2, 3, 1).double()
    fc, fc_t = tnn.Linear(12, 2).double(), tnn.Linear(3, 2).double()
    for mod, name in ((conv, "conv"), (fc, "fc"), (fc_t, "fc_t")):
        mod.weight.data = torch.tensor(getattr(ours, name).weight.data)
        mod.bias.data = torch.tensor(getattr(ours, name).bias.data)

    def forward(x):
        h = conv(x)
        if how in ("reshape", "flatten_copy"):
            return fc(h.reshape(h.shape[0], -1))
        if how == "transpose":
            return fc_t(h.permute(0, 2, 3, 1))
        if how == "slice":
            return fc_t(h[:, :, 0, 1])
        return fc(h.reshape(h.shape[0], -1)[:, None, :])

    return forward, conv


@pytest.mark.torch
@pytest.mark.parametrize("how", ["reshape", "flatten_copy", "transpose", "slice", "newaxis"])
def test_gradients_go_back_through_views(how):
    numconv.manual_seed(0)
    ours = Viewer(how)
    forward, conv = _torch_viewer(ours, how)
    x = np.random.default_rng(0).standard_normal((2, 2, 2, 2))
    out = ours(x)
    tx = torch.tensor(x, requires_grad=True)
    tout = forward(tx)
    grad = upstream_rng(0).standard_normal(out.shape)
    dx = ours.backward(grad)
    tout.backward(torch.tensor(grad))
    assert rel_error(out, tout.detach().numpy()) <= 1e-10
    assert rel_error(dx, tx.grad.numpy()) <= 1e-10
    assert rel_error(ours.conv.weight.grad, conv.weight.grad.numpy()) <= 1e-10


def test_view_of_the_model_input_and_returning_a_view():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 3, dtype=np.float64)

        def forward(self, x):
            return self.fc(x.reshape(len(x), -1)).T  # a view of the input in, a view of the output out

    m = M()
    x = np.random.default_rng(0).standard_normal((2, 2, 4))
    out = m(x)
    grad = upstream_rng(0).standard_normal(out.shape)
    dx = m.backward(grad)
    np.testing.assert_allclose(dx, (grad.T @ m.fc.weight.data).reshape(x.shape), rtol=1e-12)


# ---------------------------------------------------------------------------- what is refused, and how
class Refused(nn.Module):
    def __init__(self, how):
        super().__init__()
        self.how = how
        self.conv = nn.Conv2d(2, 2, 3, padding=1, dtype=np.float64)
        self.act = nn.ReLU()

    def forward(self, x):
        h = self.conv(x)
        how = self.how
        if how == "add":
            return self.act(h + x)
        if how == "multiply":
            return self.act(h * 2)
        if how == "concatenate":
            return self.act(np.concatenate([h, x], axis=1))
        if how == "ufunc":
            return self.act(np.maximum(h, 0.5))
        if how == "in_place":
            h += x
            return self.act(h)
        if how == "returned":
            return self.act(h) - x
        if how == "keyword":
            return self.act(x=h)
        raise AssertionError(how)


@pytest.mark.parametrize("how, message", [
    ("add", r"argument 0 of ReLU .*computed with NumPy between layers.*nn\.Add\(\)"),
    ("multiply", r"argument 0 of ReLU .*computed with NumPy"),
    ("concatenate", r"argument 0 of ReLU .*nn\.Cat\(dim\)"),
    ("ufunc", r"argument 0 of ReLU .*computed with NumPy"),
    ("in_place", r"argument 0 of ReLU 'act' .*receives the output of Conv2d 'conv' after it was changed in place"),
    ("returned", r"the value returned by Refused\.forward is an array that no layer call produced"),
    ("keyword", r"keyword argument x= of ReLU .*pass it positionally"),
])
def test_numpy_between_layers_is_refused_with_the_fix(how, message):
    model = Refused(how)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    out = model(x)  # the forward itself runs (inference needs no tape)
    model.zero_grad()
    with pytest.raises(TapeError, match=r"^Refused\.backward cannot differentiate its last forward: " + message):
        model.backward(np.ones_like(out))
    assert all(p.grad is None for p in model.parameters())  # refused before anything was computed


def test_backward_rules_are_clear():
    model = SimpleCNN()
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    with pytest.raises(RuntimeError, match="SimpleCNN.backward: there is no forward pass to differentiate"):
        model.backward(np.ones((2, 3)))
    out = model(x)
    with pytest.raises(ValueError, match=r"expected a gradient of shape \(2, 3\).*got shape \(3, 2\)"):
        model.backward(np.ones((3, 2)))
    model.backward(np.ones_like(out))  # a refusal before anything was computed keeps the tape
    with pytest.raises(RuntimeError, match="already differentiated"):
        model.backward(np.ones_like(out))
    with numconv.no_grad():
        model(x)
    with pytest.raises(RuntimeError, match="no forward pass"):  # no_grad records nothing
        model.backward(np.ones_like(out))


def test_a_second_forward_replaces_the_tape():
    numconv.manual_seed(0)
    model = LeNet5().double()
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((2, 1, 32, 32)), rng.standard_normal((2, 1, 32, 32))
    grad = rng.standard_normal((2, 10))
    model(x1)
    model(x2)
    dx = model.backward(grad)
    model(x2)
    np.testing.assert_array_equal(dx, model.backward(grad))


def test_eval_mode_forward_records_for_saliency_maps():
    numconv.manual_seed(0)
    model = SimpleCNN().eval()
    x = np.random.default_rng(0).standard_normal((1, 1, 8, 8)).astype(np.float32)
    out = model(x)
    saliency = model.backward(np.eye(3, dtype=np.float32)[[int(out.argmax())]])
    assert saliency.shape == x.shape and np.abs(saliency).sum() > 0


def test_a_handwritten_backward_is_kept():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3, dtype=np.float64)

        def forward(self, x):
            return self.fc(self.fc(x))

        def backward(self, grad_output):  # each child backward finds its own call, last call first
            return self.fc.backward(self.fc.backward(grad_output))

    m = Twice()
    x = np.random.default_rng(0).standard_normal((2, 3))
    m(x)
    w = m.fc.weight.data
    np.testing.assert_allclose(m.backward(np.ones((2, 3))), np.ones((2, 3)) @ w @ w, rtol=1e-12)


def test_a_branch_that_does_not_reach_the_output_gets_no_gradient():
    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(2, 2), nn.Linear(2, 2)

        def forward(self, x):
            self.unused(x)
            return self.used(x)

    m = Unused()
    m(np.ones((1, 2), dtype=np.float32))
    m.backward(np.ones((1, 2), dtype=np.float32))
    assert m.used.weight.grad is not None and m.unused.weight.grad is None  # as PyTorch


def test_several_inputs_and_outputs():
    class TwoInTwoOut(nn.Module):
        def __init__(self):
            super().__init__()
            self.add, self.fc = nn.Add(), nn.Linear(2, 2, dtype=np.float64)

        def forward(self, a, b, scale=1.0):
            s = self.add(a, b)
            return self.fc(s), s

    m = TwoInTwoOut()
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal((1, 2))
    out, s = m(a, b)
    g_out, g_s = upstream_rng(0).standard_normal(out.shape), upstream_rng(1).standard_normal(s.shape)
    da, db = m.backward((g_out, g_s))
    expected = g_out @ m.fc.weight.data + g_s
    np.testing.assert_allclose(da, expected, rtol=1e-12)
    np.testing.assert_allclose(db, expected.sum(0, keepdims=True), rtol=1e-12)  # broadcast: summed back


# ---------------------------------------------------------------------------- merge modules on their own
@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_add_and_cat_against_torch(dtype):
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(s).astype(dtype) for s in ((2, 3, 4), (3, 1), (2, 3, 4)))
    out = nn.Add()(a, b, c)
    ta, tb, tc = (torch.tensor(v, requires_grad=True) for v in (a, b, c))
    tout = ta + tb + tc
    g = upstream_rng(0).standard_normal(out.shape).astype(dtype)
    add = nn.Add()
    add(a, b, c)
    grads = add.backward(g)
    tout.backward(torch.tensor(g))
    for ours, theirs in zip(grads, (ta, tb, tc)):
        assert ours.dtype == dtype and rel_error(ours, theirs.grad.numpy()) <= TOL[np.dtype(dtype)]
    cat = nn.Cat(dim=-1)
    x, y = rng.standard_normal((2, 3, 2)).astype(dtype), rng.standard_normal((2, 3, 5)).astype(dtype)
    out = cat(x, y)
    tx, ty = torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)
    tout = torch.cat([tx, ty], -1)
    g = upstream_rng(1).standard_normal(out.shape).astype(dtype)
    dx, dy = cat.backward(g)
    tout.backward(torch.tensor(g))
    assert rel_error(out, tout.detach().numpy()) == 0
    assert rel_error(dx, tx.grad.numpy()) == 0 and rel_error(dy, ty.grad.numpy()) == 0


def test_merge_modules_errors():
    with pytest.raises(ValueError, match=r"Add: the inputs' shapes \(2, 3\), \(4,\) do not broadcast"):
        nn.Add()(np.ones((2, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"Cat: inputs of shapes \(1, 2, 3\), \(1, 2, 4\) differ outside dim 1"):
        nn.Cat(1)(np.ones((1, 2, 3)), np.ones((1, 2, 4)))
    with pytest.raises(TypeError, match=r"pass the arrays as separate arguments"):
        nn.Cat(1)([np.ones((1, 2)), np.ones((1, 2))])
    with pytest.raises(TypeError, match="Add: expected at least one input"):
        nn.Add()()
    with pytest.raises(ValueError, match=r"Residual: the body maps \(1, 2, 4, 4\) to \(1, 3, 4, 4\)"):
        nn.Residual(nn.Conv2d(2, 3, 1))(np.ones((1, 2, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="merge must be 'cat' or 'add'"):
        nn.Parallel(nn.ReLU(), merge="stack")


@pytest.mark.torch
def test_parallel_add():
    torch.manual_seed(0)
    ours = nn.Parallel(nn.Conv2d(2, 3, 1), nn.Conv2d(2, 3, 3, padding=1), merge="add")
    theirs = TorchParallel(tnn.Conv2d(2, 3, 1), tnn.Conv2d(2, 3, 3, padding=1), merge="add")
    _compare(ours, theirs, (2, 2, 5, 5))


# ---------------------------------------------------------------------------- threads
def _train(model, seed, steps=4):
    rng = np.random.default_rng(seed)
    opt = numconv.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(steps):
        x, y = rng.standard_normal((8, 1, 32, 32)).astype(np.float32), rng.integers(0, 10, 8)
        opt.zero_grad()
        losses.append(loss_fn(model(x), y))
        model.backward(loss_fn.backward())
        opt.step()
    return losses


def test_two_threads_training_their_own_models_equal_one_after_the_other():
    def fresh(seed):
        numconv.manual_seed(seed)
        return LeNet5()

    alone = [_train(fresh(s), s) for s in (0, 1)]
    alone_state = [fresh(s) for s in (0, 1)]
    for s, m in enumerate(alone_state):
        _train(m, s)
    models, results = [fresh(0), fresh(1)], [None, None]

    def run(i):
        results[i] = _train(models[i], i)

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == alone
    for ours, reference in zip(models, alone_state):
        for (name, a), b in zip(ours.state_dict().items(), reference.state_dict().values()):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_one_model_shared_by_threads_gives_each_its_own_gradient():
    """Each thread differentiates its own forward; the parameter gradients of both add up exactly."""
    numconv.manual_seed(0)
    model = LeNet5().double()
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((4, 1, 32, 32)) for _ in range(2)]
    gs = [rng.standard_normal((4, 10)) for _ in range(2)]
    expected_dx = []
    expected_grad = 0
    for x, g in zip(xs, gs):
        model.zero_grad()
        model(x)
        expected_dx.append(model.backward(g))
        expected_grad = expected_grad + model.c1.weight.grad
    barrier = threading.Barrier(2)
    dxs = [None, None]

    def run(i):
        for _ in range(20):
            barrier.wait()
            model(xs[i])
            barrier.wait()  # both forwards done before either backward: caches must not mix
            dxs[i] = model.backward(gs[i])
            np.testing.assert_array_equal(dxs[i], expected_dx[i])

    for _ in range(1):
        model.zero_grad()
        threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    np.testing.assert_allclose(model.c1.weight.grad, 20 * expected_grad, rtol=1e-10)


def test_grad_mode_and_debug_mode_are_per_thread():
    seen = {}
    inside, release = threading.Event(), threading.Event()

    def other():
        with numconv.no_grad():
            inside.set()
            release.wait(5)
        seen["after"] = numconv.is_grad_enabled()

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    assert numconv.is_grad_enabled()  # the other thread's no_grad does not reach this one
    numconv.set_debug(True)
    try:
        probe = threading.Thread(target=lambda: seen.setdefault("debug", numconv.is_debug()))
        probe.start()
        probe.join()
    finally:
        numconv.set_debug(False)
    release.set()
    t.join()
    assert seen == {"after": True, "debug": False}


# ---------------------------------------------------------------------------- debug mode names the call
def test_debug_mode_names_the_call_of_a_reused_layer():
    from test_debug import Log  # log(x): NaN for negative input

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.log, self.fc = Log(), nn.Linear(2, 2, dtype=np.float64)

        def forward(self, x):
            return self.log(self.fc(self.log(x)))

    m = M()
    m.fc.weight.data[...] = [[1.0, 0.0], [0.0, -1.0]]
    m.fc.bias.data[...] = 0
    with numconv.debug():
        with pytest.raises(FloatingPointError, match=r"^model\.log \(Log, call 2\) produced NaN in its forward"):
            m(np.array([[2.0, 3.0]]))


# ---------------------------------------------------------------------------- the picture of the tape
def test_tape_rows_show_calls_sources_and_forks():
    from numconv.tools.viz import tape_rows

    rows = tape_rows(BasicBlock(2, 2), np.ones((1, 2, 3, 3), dtype=np.float32))
    labels = [label for label, _ in rows]
    assert labels == ["input", "conv1: Conv2d", "bn1: BatchNorm2d", "relu: ReLU", "conv2: Conv2d",
                      "bn2: BatchNorm2d", "add: Add", "relu (call 2): ReLU"]
    assert rows[6][1] == [5, 0]  # add(out, identity): the input is a fork
    with pytest.raises(ValueError, match="has its own backward"):
        tape_rows(nn.Residual(nn.ReLU()), np.ones((1, 2)))


# ---------------------------------------------------------------------------- in place between forward and backward
@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Conv2d(2, 3, 3, stride=2, groups=1), (2, 2, 7, 7)),
    (lambda: nn.Conv1d(2, 4, 3, groups=2), (2, 2, 9)),  # grouped 1-D: the im2col path
    (lambda: nn.Conv2d(8, 8, 3, padding=1), (2, 8, 8, 8)),  # 3 x 3 stride 1 float32: Winograd or row-slab
    (lambda: nn.Linear(4, 3), (2, 4)),
    (lambda: nn.BatchNorm2d(2), (3, 2, 2, 2)),
    (lambda: nn.GELU(), (2, 4)),
    (lambda: nn.PReLU(), (2, 4)),
    (lambda: nn.Sequential(nn.Linear(4, 4), nn.Tanh()), (2, 4)),
])
def test_an_input_changed_in_place_before_backward_is_refused(make, shape):
    """One rule for every layer, whatever it keeps: changing an input in place before backward is an error."""
    layer = make()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out = layer(x)
    x *= 2  # the caller reuses its buffer before backward
    with pytest.raises(RuntimeError, match=r"argument 0 \(shape .*\) was changed in place after the forward"):
        layer.backward(np.ones_like(out))
    out = layer(x)  # after a new forward all is well
    layer.backward(np.ones_like(out))


# ---------------------------------------------------------------------------- summary through the tape's kinds of model
def test_summary_shows_custom_forward_reused_layers_and_branches():
    table = numconv.summary(SimpleCNN(), (1, 8, 8), print_table=False)
    activation_rows = [r for r in table.rows if r.path == "activation"]
    assert len(activation_rows) == 2  # one row per call of the shared layer
    assert table.total_params == sum(p.size for p in SimpleCNN().parameters())  # shared parameters once
    branches = numconv.summary(inception(3), (3, 6, 6), print_table=False)
    assert [r.output_shape for r in branches.rows][0] == (1, 14, 6, 6)
    assert {r.path for r in branches.rows} >= {"0", "1.2", "2.2", "3.1"}


def test_a_refused_backward_keeps_its_forward_for_a_retry():
    loss_fn = nn.MSELoss()
    pred, target = np.ones((2, 3)), np.zeros((2, 3))
    loss = loss_fn(pred, target)
    with pytest.raises(TypeError):
        loss_fn.backward(loss)  # the natural guess from loss.backward(): refused before anything is used
    np.testing.assert_allclose(loss_fn.backward(), np.full((2, 3), 2 / 6))


class InPlaceFork(nn.Module):
    """An in-place ReLU whose output is used twice: by a convolution and by the skip of a residual add."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 3, 3, padding=1, dtype=np.float64)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(3, 3, 3, padding=1, dtype=np.float64)
        self.pool = nn.MaxPool2d(2)
        self.add = nn.Add()

    def forward(self, x):
        out = self.relu(self.conv1(x))
        return self.pool(self.add(self.conv2(out), out))


class TorchInPlaceFork(torch.nn.Module):
    def __init__(self, ours):
        super().__init__()
        self.conv1, self.conv2 = torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.Conv2d(3, 3, 3, padding=1)
        self.relu, self.pool = torch.nn.ReLU(inplace=True), torch.nn.MaxPool2d(2)
        self.double().load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})

    def forward(self, x):
        out = self.relu(self.conv1(x))
        return self.pool(self.conv2(out) + out)


def test_an_in_place_layer_whose_output_is_used_twice_gets_the_right_gradients():
    # The in-place output is the array the layer was given: it must still get a slot of its own on the tape
    # (it once shared the next array's, and the two gradients were added together).
    rng = np.random.default_rng(0)
    ours, x = InPlaceFork(), rng.standard_normal((2, 2, 6, 6))
    theirs, tx = TorchInPlaceFork(ours), torch.from_numpy(x).requires_grad_()
    out, expected = ours(x), theirs(tx)
    g = rng.standard_normal(out.shape)
    expected.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.backward(g), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, dict(theirs.named_parameters())[name].grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make, x_shape", [
    (lambda: nn.Conv2d(2, 3, 3), (2, 2, 5, 5)),
    (lambda: nn.ConvTranspose2d(2, 3, 3, stride=2), (2, 2, 4, 4)),
    (lambda: nn.Linear(4, 3), (2, 4)),
    (lambda: nn.BatchNorm2d(2), (3, 2, 4, 4)),
    (lambda: nn.MaxPool2d(2), (1, 2, 4, 4)),
])
def test_a_gradient_of_the_wrong_shape_keeps_the_forward_for_a_retry(make, x_shape):
    # As in PyTorch, whose graph survives a "Mismatch in shape" error: the corrected call gives the same gradients.
    rng = np.random.default_rng(0)
    layer, x = make().double(), rng.standard_normal(x_shape)
    out = layer(x)
    dout = rng.standard_normal(out.shape)
    with pytest.raises(ValueError, match=r"expected (dout|grad_output) of shape"):
        layer.backward(np.zeros(out.shape[:-1] + (out.shape[-1] + 1,)))
    dx = layer.backward(dout)
    reference = make().double()
    reference.load_state_dict(layer.state_dict())  # (batch norm's running statistics do not enter its gradient)
    reference(x)
    np.testing.assert_allclose(dx, reference.backward(dout), rtol=1e-12)
    for p, q in zip(layer.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12)
    with pytest.raises(RuntimeError, match="already differentiated"):
        layer.backward(dout)  # and once it has succeeded, the forward is spent


def test_a_backward_refused_after_a_parameter_received_its_gradient_spends_the_forward():
    class HalfDone(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(np.ones(2))

        def forward(self, x):
            self._keep(x)
            return x * self.weight.data

        def backward(self, grad_output):
            x = self._take()
            self.weight.accumulate_grad((grad_output * x).sum(axis=0))
            raise ValueError("refused after the weight received its gradient")

    layer = HalfDone()
    layer(np.ones((3, 2)))
    with pytest.raises(ValueError, match="refused after"):
        layer.backward(np.ones((3, 2)))
    with pytest.raises(RuntimeError, match="already differentiated"):  # a retry would add the gradient twice
        layer.backward(np.ones((3, 2)))


def test_a_single_parameter_layer_refuses_data_of_the_other_precision():
    layer = nn.Linear(3, 2, bias=False)
    x = np.ones((1, 3), dtype=np.float32)
    layer(x)
    layer.weight.data = layer.weight.data.astype(np.float64)  # not a conversion of the layer
    with pytest.raises(TypeError, match=r"Linear: parameter 'weight' is float64 but the layer is float32"):
        layer(x)
    layer.double()  # a conversion: fine, and the output follows
    assert layer(x).dtype == np.float64


# ---------------------------------------------------------------------------- in-place changes, views, repeated inputs
class ChangedThenViewed(nn.Module):
    def __init__(self, change):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(2, 4, 3, padding=1), nn.Linear(64, 3)
        self.relu, self.change = nn.ReLU(True), change

    def forward(self, x):
        h = self.conv(x)
        if self.change == "scale":
            h *= 2.0  # arithmetic between layers, in place
        else:
            self.relu(h[:, :2])  # an in-place layer on part of it
        return self.fc(h.reshape(len(h), -1))  # then a view of the changed array goes on


@pytest.mark.parametrize("change", ["scale", "relu_on_a_slice"])
def test_a_view_of_an_array_changed_in_place_is_refused(change):
    # The check covered the array itself only: through a view (or a copy) the change went unseen and the
    # gradients were wrong (half of PyTorch's for `h *= 2`).
    model = ChangedThenViewed(change).double()
    out = model(np.random.default_rng(0).standard_normal((2, 2, 4, 4)))
    with pytest.raises(TapeError, match=r"argument 0 of Linear 'fc' .* receives the output of Conv2d 'conv' "
                                        r"through a (view|copy) after it was changed in place"):
        model.backward(np.ones_like(out))


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.add = nn.Linear(3, 2), nn.Linear(3, 2), nn.Add()

    def forward(self, x, y):
        return self.add(self.a(x), self.b(y))


def test_one_array_passed_as_two_inputs_gets_the_whole_gradient_at_each():
    model = TwoInputs().double()
    x = np.random.default_rng(0).standard_normal((4, 3))
    out = model(x, x)
    g = np.random.default_rng(1).standard_normal(out.shape)
    dx, dy = model.backward(g)
    whole = g @ model.a.weight.data + g @ model.b.weight.data  # d(a(x) + b(x))/dx
    np.testing.assert_allclose(dx, whole, rtol=1e-12)
    np.testing.assert_allclose(dy, whole, rtol=1e-12)


@pytest.mark.parametrize("block", ["residual", "parallel"])
def test_a_block_whose_branch_changes_its_input_in_place_is_refused(block):
    # A pre-activation branch starting with ReLU(inplace=True): the skip (or the other branch) would read the
    # changed input while the backward hands it the gradient as if unchanged.
    body = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(2, 2, 3, padding=1))
    model = nn.Residual(body) if block == "residual" else nn.Parallel(body, nn.Identity(), merge="add")
    with pytest.raises(ValueError, match=r"changed the block's input in place .* use inplace=False"):
        model(np.random.default_rng(0).standard_normal((1, 2, 5, 5)).astype(np.float32))


def test_super_backward_in_a_class_with_its_own_backward_is_refused():
    class Base(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(x)

    class Scaled(Base):
        def backward(self, grad_output):
            return super().backward(2 * grad_output)  # nothing was recorded to replay: it returned () silently

    model = Scaled()
    out = model(np.ones((1, 3), dtype=np.float32))
    with pytest.raises(TapeError, match=r"Scaled.backward: this class defines its own backward, so the layer calls "
                                        r"of its forward are not recorded"):
        model.backward(np.ones_like(out))


class PlaceholderThenInPlace(nn.Module):
    """An nn.Identity where an optional norm would go, then an in-place ReLU: a common PyTorch pattern."""

    def __init__(self, middle, inplace):
        super().__init__()
        self.conv, self.middle, self.relu = nn.Conv2d(2, 3, 3, padding=1), middle, nn.ReLU(inplace=inplace)
        self.fc = nn.Linear(3 * 4 * 4, 2)

    def forward(self, x):
        return self.fc(self.relu(self.middle(self.conv(x))).reshape(len(x), -1))


@pytest.mark.parametrize("middle", [nn.Identity, lambda: nn.Dropout(0.5), nn.Flatten])
def test_an_in_place_layer_after_one_whose_backward_reads_no_input_is_allowed(middle):
    # Identity, Flatten and Dropout keep no input values for backward, so an in-place layer after them changes
    # nothing they need (PyTorch accepts it too); the gradients equal those of the out-of-place model.
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((2, 2, 4, 4)), rng.standard_normal((2, 2))
    results = []
    for inplace in (True, False):
        model = PlaceholderThenInPlace(middle(), inplace).double().eval()
        if isinstance(model.middle, nn.Flatten):
            model.middle = nn.Sequential(nn.Flatten(), nn.Unflatten(1, (3, 4, 4)))
        rng_w = np.random.default_rng(1)
        for p in model.parameters():
            p.data[...] = rng_w.standard_normal(p.shape)
        out = model(x)
        results.append((out, model.backward(g), [p.grad.copy() for p in model.parameters()]))
    (out_a, dx_a, grads_a), (out_b, dx_b, grads_b) = results
    np.testing.assert_allclose(out_a, out_b, rtol=1e-12)
    np.testing.assert_allclose(dx_a, dx_b, rtol=1e-12)
    for a, b in zip(grads_a, grads_b):
        np.testing.assert_allclose(a, b, rtol=1e-12)


class WithItsLoss(nn.Module):
    """model(x, target) -> loss, a common PyTorch style: the loss is called inside forward."""

    def __init__(self, loss):
        super().__init__()
        self.fc, self.loss = nn.Linear(4, 3), loss

    def forward(self, x, target):
        return self.loss(self.fc(x), target)


@pytest.mark.parametrize("kind", ["cross_entropy", "mse_mean", "mse_none"])
def test_a_loss_inside_forward_differentiates_like_torch(kind):
    # The loss returns a Python float (the forward crashed on it), and a float target counts as an array argument
    # its backward gives no gradient for (refused as "1 gradient(s) for 2 array argument(s)").
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4))
    if kind == "cross_entropy":
        loss, target, t_loss = nn.CrossEntropyLoss(), np.array([0, 1, 2, 0, 1]), torch.nn.CrossEntropyLoss()
    else:
        reduction = kind.split("_")[1]
        loss, target = nn.MSELoss(reduction=reduction), rng.standard_normal((5, 3))
        t_loss = torch.nn.MSELoss(reduction=reduction)
    model = WithItsLoss(loss).double()
    out = model(x, target)
    grad = None if np.ndim(out) == 0 else rng.standard_normal(np.shape(out))
    dx = model.backward() if grad is None else model.backward(grad)
    if kind != "cross_entropy":  # a float target is an array argument too: it gets a gradient of zeros
        dx, d_target = dx
        assert not d_target.any()
    tx = torch.tensor(x, requires_grad=True)
    fc = torch.nn.Linear(4, 3).double()
    fc.load_state_dict({k: torch.tensor(v) for k, v in model.fc.state_dict().items()})
    t_out = t_loss(fc(tx), torch.tensor(target))
    t_out.backward(None if grad is None else torch.tensor(grad))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(model.fc.weight.grad, fc.weight.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("first, after", [(nn.Tanh, lambda: nn.LeakyReLU(0.1, inplace=True)),
                                          (nn.Sigmoid, lambda: nn.Dropout(0.5, inplace=True)),
                                          (nn.ReLU, lambda: nn.Hardsigmoid(inplace=True))])
def test_an_in_place_layer_after_one_that_kept_its_output_is_refused(first, after):
    # Tanh, Sigmoid, ReLU differentiate from their output: changing it in place gave gradients off by 7-300 %.
    # PyTorch refuses it ("modified by an inplace operation"); so does numconv now, naming the layer.
    model = nn.Sequential(nn.Linear(4, 6), first(), after())
    out = model(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    with pytest.raises(RuntimeError, match=rf"{first.__name__} '1'\.backward: its output 0 \(shape \(5, 6\)\) was changed "
                                           r"in place after the forward pass"):
        model.backward(np.ones_like(out))


def test_batch_norm_then_an_in_place_relu_is_fine():
    # The ResNet pattern: batch norm keeps what it needs, not its output, so an in-place ReLU after it is allowed.
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(inplace=True), nn.Linear(4, 2))
    x = np.random.default_rng(0).standard_normal((2, 2, 6, 6))
    reference = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Linear(4, 2))
    model.double(), reference.double()
    reference.load_state_dict(model.state_dict())
    g = np.ones((2, 3, 4, 2))
    model(x), reference(x)
    np.testing.assert_allclose(model.backward(g), reference.backward(g), rtol=1e-12)


# ---------------------------------------------------------------------------- partial in-place changes, in debug mode
class PartlyChanged(nn.Module):
    """Changes one element of a recorded array between layers: the kind of change nine samples can miss."""

    def __init__(self, where):
        super().__init__()
        self.where = where
        self.conv, self.fc = nn.Conv2d(2, 3, 3, padding=1), nn.Linear(48, 2)

    def forward(self, x):
        h = self.conv(x)
        if self.where == "between":
            h[0, 1, 2, 3] = 0.0  # an element no sample looks at, changed before the next layer
        flat = h.reshape(len(h), -1)
        out = self.fc(flat)
        if self.where == "kept":
            flat[1, 5] = 100.0  # the Linear's input, which its backward reads, changed after the call
        return out


def test_samples_miss_a_one_element_change_but_debug_mode_sees_it():
    """Outside debug mode the fingerprint is nine values (cheap, misses this); in debug mode it is every byte."""
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4))
    model = PartlyChanged("between").double()
    out = model(x)
    model.backward(np.ones_like(out))  # not noticed: the documented limit of the sampled check
    with numconv.debug():
        out = model(x)
        with pytest.raises(TapeError, match=r"argument 0 of Linear 'fc' .* receives the output of Conv2d 'conv' "
                                            r"through a view after it was changed in place"):
            model.backward(np.ones_like(out))
    kept = PartlyChanged("kept").double()
    with numconv.debug():
        out = kept(x)
        with pytest.raises(RuntimeError, match=r"Linear 'fc'\.backward: its argument 0 \(shape \(2, 48\)\) was changed "
                                               r"in place after the forward pass"):
            kept.backward(np.ones_like(out))


def test_debug_mode_switched_between_forward_and_backward_compares_like_with_like():
    """A fingerprint is checked the way it was taken, so switching debug mode midway raises no false alarm."""
    x = np.random.default_rng(1).standard_normal((2, 2, 4, 4))
    for switch_on_first in (True, False):
        model = PartlyChanged("none").double()
        with numconv.debug(switch_on_first):
            out = model(x)
        with numconv.debug(not switch_on_first):
            dx = model.backward(np.ones_like(out))
        reference = PartlyChanged("none").double()
        reference.load_state_dict(model.state_dict())
        ref_out = reference(x)
        assert np.array_equal(dx, reference.backward(np.ones_like(ref_out)))


def test_debug_mode_fingerprints_see_every_byte():
    from numconv.nn.tape_arrays import _fingerprint, _unchanged

    a = np.zeros((3, 50))
    with numconv.debug():
        seen = _fingerprint(a)
        for change in (lambda v: v.__setitem__((1, 7), 1e-300), lambda v: v.__setitem__((2, 49), -0.0)):
            b = a.copy()
            change(b)
            assert _unchanged(a, seen) and not _unchanged(b, seen)
        assert _unchanged(a.T.copy().T, seen)  # same values in another memory order: unchanged
    assert _unchanged(a, _fingerprint(a)) and _unchanged(2.5, _fingerprint(2.5))


# ---------------------------------------------------------------------------- dict outputs
class Heads(nn.Module):
    """Returns a dict, as detection and many PyTorch models do: two float heads and an integer array."""

    def __init__(self):
        super().__init__()
        self.trunk, self.cls, self.box = nn.Linear(4, 6), nn.Linear(6, 3), nn.Linear(6, 2)

    def forward(self, x):
        h = self.trunk(x)
        logits = self.cls(h)
        return {"logits": logits, "label": logits.argmax(1), "box": self.box(h)}


class UsesHeads(nn.Module):
    """A parent that indexes its child's dict output."""

    def __init__(self, loss):
        super().__init__()
        self.heads, self.loss = Heads(), loss

    def forward(self, x, target):
        out = self.heads(x)
        return {"loss": self.loss(out["logits"], target), "box": out["box"]}


def _torch_heads(model):
    t = torch.nn.ModuleDict({name: torch.nn.Linear(*getattr(model, name).weight.shape[::-1]).double()
                             for name in ("trunk", "cls", "box")})
    for name in ("trunk", "cls", "box"):
        t[name].load_state_dict({k: torch.tensor(v) for k, v in getattr(model, name).state_dict().items()})
    return t


@pytest.mark.parametrize("given", ["dict", "dict_without_box", "tuple"])
def test_a_dict_output_takes_its_gradients_by_key_like_torch(given):
    rng = np.random.default_rng(0)
    x, g_logits, g_box = rng.standard_normal((5, 4)), rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    model = Heads().double()
    out = model(x)
    grads = {"dict": {"logits": g_logits, "box": g_box}, "dict_without_box": {"logits": g_logits},
             "tuple": (g_logits, g_box)}[given]
    dx = model.backward(grads)
    t, tx = _torch_heads(model), torch.tensor(x, requires_grad=True)
    h = t["trunk"](tx)
    t_logits, t_box = t["cls"](h), t["box"](h)
    np.testing.assert_allclose(out["logits"], t_logits.detach().numpy(), rtol=1e-12)
    torch.autograd.backward([t_logits, t_box], [torch.tensor(g_logits),
                                                torch.zeros(5, 2, dtype=torch.float64) if given == "dict_without_box"
                                                else torch.tensor(g_box)])
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10)
    for name in ("trunk", "cls"):
        np.testing.assert_allclose(getattr(model, name).weight.grad, t[name].weight.grad.numpy(), rtol=1e-10)
    assert (model.box.weight.grad is None) == (given == "dict_without_box")  # a key left out: no gradient


def test_a_dict_from_a_child_and_a_loss_inside_forward_like_torch():
    rng = np.random.default_rng(1)
    x, target, g_box = rng.standard_normal((5, 4)), np.array([0, 2, 1, 1, 0]), rng.standard_normal((5, 2))
    model = UsesHeads(nn.CrossEntropyLoss()).double()
    out = model(x, target)
    dx = model.backward({"loss": 1.0, "box": g_box})
    t, tx = _torch_heads(model.heads), torch.tensor(x, requires_grad=True)
    h = t["trunk"](tx)
    t_loss = torch.nn.functional.cross_entropy(t["cls"](h), torch.tensor(target))
    torch.autograd.backward([t_loss, t["box"](h)], [torch.tensor(1.0, dtype=torch.float64), torch.tensor(g_box)])
    np.testing.assert_allclose(out["loss"], t_loss.item(), rtol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(model.heads.trunk.weight.grad, t["trunk"].weight.grad.numpy(), rtol=1e-10)


def test_dict_gradients_for_keys_without_arrays_are_refused():
    model = Heads().double()
    out = model(np.ones((2, 4)))
    with pytest.raises(KeyError, match=r"gradients given for \['label'\].*its keys with arrays: \['logits', 'box'\]"):
        model.backward({"label": np.ones(2)})
    with pytest.raises(TypeError, match=r"got a dict of gradients, but the last forward returned ndarray"):
        layer = nn.Sequential(nn.Linear(4, 3)).double()
        layer(np.ones((2, 4)))
        layer.backward({"out": np.ones((2, 3))})
    model.backward({"logits": np.ones_like(out["logits"])})  # the refusals kept the forward


# ---------------------------------------------------------------------------- arrays the tape does not follow
class Offsets(nn.Module):
    """Adds an offset to a layer's output: from a buffer (a constant), a parameter, or an array passed oddly."""

    def __init__(self, offset):
        super().__init__()
        self.offset = offset
        self.fc, self.add = nn.Linear(4, 3), nn.Add()
        self.register_buffer("shift", np.linspace(-1.0, 1.0, 3))
        self.bias = nn.Parameter(np.ones(3))

    def forward(self, x, extra=None, *rest):
        h = self.fc(x)
        if self.offset == "buffer":
            return self.add(h, self.shift)
        if self.offset == "parameter":
            return self.add(h, self.bias.data)
        if self.offset == "keyword":
            return self.add(h, extra)
        return self.add(h, extra[0])  # "list": the array inside a list argument


def test_a_buffer_given_to_a_layer_is_a_constant_as_in_torch():
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    model = Offsets("buffer").double()
    out = model(x)
    dx = model.backward(g)
    fc, tx = torch.nn.Linear(4, 3).double(), torch.tensor(x, requires_grad=True)
    fc.load_state_dict({k: torch.tensor(v) for k, v in model.fc.state_dict().items()})
    t_out = fc(tx) + torch.tensor(model.shift)
    t_out.backward(torch.tensor(g))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(model.fc.weight.grad, fc.weight.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("offset, call, message", [
    ("parameter", lambda m, x: m(x), r"argument 1 of Add 'add' .* is the parameter 'bias' \(or a view of it\), "
                                     r"used outside the layer that owns it"),
    ("keyword", lambda m, x: m(x, extra=np.ones(3)), r"is the keyword argument extra= of Offsets\.forward: .* "
                                                     r"pass it positionally"),
    ("list", lambda m, x: m(x, [np.ones(3)]), r"is an array inside argument 1 \(list\) of Offsets\.forward"),
])
def test_an_array_the_tape_does_not_follow_is_named_for_what_it_is(offset, call, message):
    # These used to get the "computed with NumPy between layers" message, which did not apply.
    model = Offsets(offset).double()
    out = call(model, np.ones((2, 4)))
    with pytest.raises(TapeError, match=message):
        model.backward(np.ones_like(out))
