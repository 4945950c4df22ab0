"""from_torch for PyTorch classes with their own forward (torch.fx-traced chains): outputs and gradients equal."""

import numpy as np
import pytest

from numconv import nn
from numconv.interop import from_torch

torch = pytest.importorskip("torch")
F = torch.nn.functional


class TutorialNet(torch.nn.Module):
    """The CNN of PyTorch's 60-minute tutorial: functional ReLUs, one pool used twice, torch.flatten."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 6, 5)
        self.pool = torch.nn.MaxPool2d(2, 2)
        self.conv2 = torch.nn.Conv2d(6, 16, 5)
        self.fc1 = torch.nn.Linear(16 * 5 * 5, 120)
        self.fc2 = torch.nn.Linear(120, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return F.log_softmax(self.fc2(x), dim=1)


class Block(torch.nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv = torch.nn.Conv2d(c_in, c_out, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(c_out)

    def forward(self, x):
        return torch.tanh(self.bn(self.conv(x)))


class Nested(torch.nn.Module):
    """A custom block inside a custom model, a Sequential head, x.view(x.size(0), -1), optional dropout."""

    def __init__(self, p=0.0):
        super().__init__()
        self.block = Block(2, 4)
        self.head = torch.nn.Sequential(torch.nn.Linear(4 * 6 * 6, 8), torch.nn.ReLU())
        self.out = torch.nn.Linear(8, 3)
        self.p = p

    def forward(self, x):
        x = self.block(x)
        x = x.view(x.size(0), -1)
        x = F.dropout(self.head(x), p=self.p, training=self.training)
        return self.out(x)


def compare(theirs, shape, seed=0, train=True):
    """Same outputs and, in training mode for a random upstream gradient, the same input and parameter
    gradients (float64)."""
    theirs = theirs.double().train(train)
    ours = from_torch(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    out_t = theirs(xt)
    out = ours(x)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    if not ours.training:
        return ours
    upstream = rng.standard_normal(out.shape)
    out_t.backward(torch.from_numpy(upstream))
    dx = ours.backward(upstream)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, grads[name].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    return ours


def test_tutorial_net():
    ours = compare(TutorialNet(), (3, 3, 32, 32))
    assert isinstance(ours.pool, nn.MaxPool2d) and ours.pool is not ours.pool_1  # one layer per call
    assert isinstance(ours.flatten, nn.Flatten) and isinstance(ours.logsoftmax, nn.LogSoftmax)


def test_nested_custom_modules():
    ours = compare(Nested(), (2, 2, 6, 6))
    assert list(ours.state_dict())[:2] == ["block.conv.weight", "block.conv.bias"]
    ours = compare(Nested(p=0.3), (2, 2, 6, 6), train=False)  # dropout: equal in eval mode
    assert isinstance(ours.dropout, nn.Dropout) and ours.dropout.p == 0.3


class Residual(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        return x + self.conv(x)


class Concat(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Conv2d(2, 2, 1), torch.nn.Conv2d(2, 2, 1)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], 1)


class Twice(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.fc(x)))


class Branchy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 3)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return x


class Odd(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 3)

    def forward(self, x):
        return torch.cumsum(self.fc(x), 1)


@pytest.mark.parametrize("model, shape", [(Residual(), (2, 2, 4, 4)), (Concat(), (2, 2, 3, 3)), (Twice(), (4, 3))])
def test_branching_forwards_become_traced_models(model, shape):
    """x + conv(x), torch.cat and a layer called twice: nn.Add, nn.Cat and the tape's per-call caches."""
    from numconv.interop.torch_graph import TracedModel

    ours = compare(model, shape)
    assert isinstance(ours, TracedModel)


@pytest.mark.parametrize("model, message", [
    (Branchy(), "torch.fx cannot trace it"),
    (Odd(), "numconv has no layer for cumsum"),
])
def test_refused_with_the_step(model, message):
    with pytest.raises(TypeError, match=message):
        from_torch(model)


def test_forward_hooks_are_refused():
    model = TutorialNet()
    model.conv2.register_forward_hook(lambda module, args, out: out * 2)
    with pytest.raises(TypeError, match="module at 'conv2' has forward hooks"):
        from_torch(model)


class BasicBlock(torch.nn.Module):
    """torchvision's ResNet BasicBlock, as written there (``out += identity``, in-place ReLU)."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(c_out)
        self.relu = torch.nn.ReLU(inplace=True)
        self.conv2 = torch.nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c_out)
        self.downsample = torch.nn.Sequential(torch.nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                              torch.nn.BatchNorm2d(c_out))

    def forward(self, x):
        identity = self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


def test_resnet_basic_block():
    ours = compare(BasicBlock(3, 4, 2), (2, 3, 6, 6))
    assert "downsample.1.running_mean" in ours.state_dict()
    compare(BasicBlock(3, 4, 2), (2, 3, 6, 6), train=False)


class UpTo28(torch.nn.Module):
    """A submodule called with a keyword argument (output_size=): a constant, or the input's own shape."""

    def __init__(self, skip):
        super().__init__()
        self.skip = skip
        self.down = torch.nn.Conv2d(2, 4, 3, stride=2, padding=1)
        self.up = torch.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1)

    def forward(self, x):
        if self.skip:
            return self.up(self.down(x), output_size=x.size()) + x
        return self.up(self.down(x), output_size=[28, 28])


@pytest.mark.parametrize("skip", [False, True])
def test_keyword_arguments_of_a_submodule_call_are_kept(skip):
    # 14 -> 28 needs output_size (or output_padding): dropping the keyword gave 27 x 27 without a word.
    theirs = UpTo28(skip).double()
    ours = from_torch(theirs)
    x = np.random.default_rng(0).standard_normal((1, 2, 28, 28))
    tx = torch.from_numpy(x).requires_grad_()
    expected = theirs(tx)
    out = ours(x)
    assert out.shape == (1, 2, 28, 28)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(1).standard_normal(out.shape)
    expected.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours.backward(g), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


class WithSpareLayers(torch.nn.Module):
    """Layers registered but never called in forward (a spare head, an auxiliary classifier)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3)
        self.aux = torch.nn.Linear(2, 3)
        self.head = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))

    def forward(self, x):
        return F.relu(self.conv(x))


def test_layers_forward_never_calls_keep_their_weights():
    theirs = WithSpareLayers().double()
    ours = from_torch(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # aux and head kept, under their names
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key], value.numpy())
    x = np.random.default_rng(0).standard_normal((2, 1, 5, 5))
    np.testing.assert_allclose(ours(x), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-12)


class TwoHeads(torch.nn.Module):
    """Returns a dict of results (and a tuple inside it), as detection-style models do."""

    def __init__(self):
        super().__init__()
        self.trunk, self.cls, self.box = torch.nn.Linear(4, 6), torch.nn.Linear(6, 3), torch.nn.Linear(6, 2)

    def forward(self, x):
        h = torch.relu(self.trunk(x))
        return {"logits": self.cls(h), "pair": (self.box(h), h)}


def test_a_forward_returning_a_dict_converts_with_its_structure():
    # The dict's values came back as torch.fx nodes, not arrays: only lists and tuples were followed.
    theirs = TwoHeads().double()
    ours = from_torch(theirs)
    x = np.random.default_rng(0).standard_normal((5, 4))
    out, expected = ours(x), theirs(torch.from_numpy(x))
    assert list(out) == ["logits", "pair"] and isinstance(out["pair"], tuple)
    np.testing.assert_allclose(out["logits"], expected["logits"].detach().numpy(), rtol=1e-12)
    for a, b in zip(out["pair"], expected["pair"]):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-12)
    g = np.random.default_rng(1).standard_normal((5, 3))
    dx = ours.backward({"logits": g})  # the dict's array values take gradients by key
    xt = torch.from_numpy(x).requires_grad_(True)
    theirs(xt)["logits"].backward(torch.from_numpy(g))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10)
