"""numconv.interop: to_torch / from_torch carry layers, settings, weights, buffers and mode."""

from collections import OrderedDict

import numpy as np
import pytest

import numconv
from numconv import nn
from numconv.interop import from_torch, to_torch
from numconv.models import LeNet5, SimpleCNN, SmallVGG

torch = pytest.importorskip("torch")
from parity import rel_error  # noqa: E402

# (layer name, constructor args, kwargs, input shape); each layer is converted
# both ways and must give the same output and print the same settings.
LAYERS = [
    ("Conv1d", (3, 4, 3), {"stride": 2, "padding": 1, "bias": False}, (2, 3, 9)),
    ("Conv2d", (3, 4, (3, 2)), {"dilation": 2, "groups": 1, "padding": 1}, (2, 3, 9, 8)),
    ("Conv2d", (4, 4, 3), {"groups": 2, "stride": (2, 1)}, (2, 4, 7, 7)),
    ("Conv3d", (2, 3, 2), {"padding": 1}, (1, 2, 4, 5, 3)),
    ("ConvTranspose1d", (3, 4, 3), {"stride": 2, "padding": 1, "output_padding": 1}, (2, 3, 5)),
    ("ConvTranspose2d", (4, 6, (3, 2)), {"groups": 2, "dilation": 2, "output_padding": (1, 0), "bias": False},
     (2, 4, 4, 5)),
    ("ConvTranspose3d", (2, 3, 2), {"stride": 2}, (1, 2, 3, 2, 3)),
    ("Upsample", (), {"scale_factor": 2}, (2, 3, 4, 4)),
    ("Upsample", (), {"size": (5, 7), "mode": "bilinear", "align_corners": True}, (2, 3, 4, 4)),
    ("Upsample", (), {"scale_factor": 1.5, "mode": "trilinear", "recompute_scale_factor": True}, (1, 2, 3, 4, 3)),
    ("UpsamplingNearest2d", (), {"scale_factor": 3}, (1, 2, 2, 3)),
    ("UpsamplingBilinear2d", (), {"size": (4, 6)}, (1, 2, 2, 3)),
    ("PixelShuffle", (2,), {}, (2, 8, 3, 3)),
    ("PixelUnshuffle", (3,), {}, (2, 1, 6, 3)),
    ("ZeroPad2d", ((1, 0, 2, -1),), {}, (2, 3, 4, 5)),
    ("ConstantPad1d", (2, 1.5), {}, (2, 3, 4)),
    ("ReflectionPad2d", (2,), {}, (2, 3, 4, 5)),
    ("ReplicationPad3d", ((1, 0, 2, 1, 0, 1),), {}, (1, 2, 3, 3, 3)),
    ("CircularPad1d", ((3, 1),), {}, (2, 3, 4)),
    ("Linear", (6, 3), {}, (4, 6)),
    ("Linear", (6, 3), {"bias": False}, (4, 6)),
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1}, (2, 3, 9)),
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)),
    ("MaxPool2d", (3,), {"stride": 2, "ceil_mode": True, "padding": 1}, (2, 3, 8, 8)),
    ("MaxPool3d", (2,), {}, (1, 2, 4, 4, 4)),
    ("AvgPool1d", (2,), {}, (2, 3, 8)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, (2, 3, 8, 8)),
    ("AvgPool3d", (2,), {}, (1, 2, 4, 4, 4)),
    ("BatchNorm1d", (3,), {"momentum": 0.2}, (4, 3, 5)),
    ("BatchNorm2d", (3,), {"eps": 1e-3}, (4, 3, 5, 5)),
    ("BatchNorm2d", (3,), {"affine": False}, (4, 3, 5, 5)),
    ("BatchNorm3d", (2,), {}, (2, 2, 3, 3, 3)),
    ("ReLU", (), {}, (3, 5)),
    ("Tanh", (), {}, (3, 5)),
    ("Sigmoid", (), {}, (3, 5)),
    ("LeakyReLU", (0.2,), {}, (3, 5)),
    ("Dropout", (0.3,), {}, (3, 5)),
    ("Flatten", (), {}, (2, 3, 4)),
    ("Flatten", (), {"start_dim": 0, "end_dim": 1}, (2, 3, 4)),
    ("Identity", (), {}, (2, 3)),
]


def _out_equal(ours, theirs, x):
    with numconv.no_grad(), torch.no_grad():
        a = ours(x)
        b = theirs(torch.from_numpy(x)).numpy()
    err = rel_error(a, b)
    assert err <= 1e-10, f"outputs differ by {err:.2e}"


@pytest.mark.parametrize("name,args,kwargs,shape", LAYERS, ids=[f"{c[0]}-{i}" for i, c in enumerate(LAYERS)])
def test_each_layer_both_ways(name, args, kwargs, shape):
    numconv.manual_seed(0)
    ours = getattr(nn, name)(*args, **kwargs)
    ours.to(np.float64) if ours.dtype is not None else None
    ours.eval()  # dropout off, batch norm on running stats
    x = np.random.default_rng(0).standard_normal(shape)
    theirs = to_torch(ours)
    assert type(theirs) is getattr(torch.nn, name)
    assert theirs.extra_repr() == ours.extra_repr()
    assert not theirs.training
    _out_equal(ours, theirs, x)
    back = from_torch(theirs)
    assert type(back) is type(ours) and repr(back) == repr(ours)
    for (k, a), (k2, b) in zip(ours.state_dict().items(), back.state_dict().items()):
        assert k == k2 and a.dtype == b.dtype and np.array_equal(a, b)
    _out_equal(back, theirs, x)


def _same_state(ours, theirs):
    t_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(t_state)
    for k, v in ours.state_dict().items():
        assert np.array_equal(v, t_state[k].numpy()), k


def test_lenet5_to_torch_and_back():
    numconv.manual_seed(1)
    ours = LeNet5(activation="relu", pooling="max", dtype=np.float64)
    theirs = to_torch(ours)
    # A torch Sequential of a class named LeNet5 (it only adds a constructor), so it comes back as a LeNet5.
    assert isinstance(theirs, torch.nn.Sequential) and type(theirs).__name__ == "LeNet5" and len(theirs) == 12
    assert next(theirs.parameters()).dtype == torch.float64
    _same_state(ours, theirs)
    x = np.random.default_rng(1).standard_normal((4, 1, 32, 32))
    _out_equal(ours, theirs, x)
    back = from_torch(theirs)
    assert type(back) is LeNet5 and back.hparams == ours.hparams and back.input_shape == ours.input_shape
    _out_equal(back, theirs, x)
    assert type(from_torch(torch.nn.Sequential(*theirs))) is nn.Sequential  # a plain one stays plain


def test_torch_lenet5_from_torch_float32():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5), torch.nn.Tanh(), torch.nn.AvgPool2d(2), torch.nn.Conv2d(6, 16, 5), torch.nn.Tanh(),
        torch.nn.AvgPool2d(2), torch.nn.Conv2d(16, 120, 5), torch.nn.Tanh(), torch.nn.Flatten(),
        torch.nn.Linear(120, 84), torch.nn.Tanh(), torch.nn.Linear(84, 10))
    ours = from_torch(theirs)
    assert all(p.dtype == np.float32 for p in ours.parameters())
    reference = LeNet5()
    assert list(ours.state_dict()) == list(reference.state_dict())
    reference.load_state_dict(ours.state_dict())  # the same architecture as numconv's LeNet5
    x = np.random.default_rng(2).standard_normal((3, 1, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    assert rel_error(reference(x), expected) <= 1e-4
    assert rel_error(ours(x), expected) <= 1e-4


def test_batch_norm_buffers_are_carried_both_ways():
    numconv.manual_seed(3)
    ours = SimpleCNN(in_channels=1, num_classes=4, input_size=16, channels=(3, 5), dtype=np.float64)
    rng = np.random.default_rng(3)
    for _ in range(3):  # move the running statistics away from 0 / 1
        ours(rng.standard_normal((4, 1, 16, 16)) * 2 + 1)
    ours.eval()
    theirs = to_torch(ours)
    assert int(theirs[1].num_batches_tracked) == 3
    _same_state(ours, theirs)
    x = rng.standard_normal((2, 1, 16, 16))
    _out_equal(ours, theirs, x)

    theirs.train()
    with torch.no_grad():
        theirs(torch.from_numpy(rng.standard_normal((4, 1, 16, 16))))
    back = from_torch(theirs)
    assert back.training and int(back[1].num_batches_tracked) == 4
    _same_state(back, theirs)


def test_nested_containers_keep_names():
    model = SmallVGG(in_channels=1, channels=(2, 3), hidden=4, input_size=8, dtype=np.float64)
    theirs = to_torch(model)
    assert list(dict(theirs.named_children())) == ["features", "classifier"]
    _same_state(model, theirs)
    tree = nn.Sequential(OrderedDict(body=nn.ModuleList([nn.Linear(2, 2)]),
                                     heads=nn.ModuleDict({"a": nn.Linear(2, 1)})))
    t_tree = to_torch(tree)
    assert isinstance(t_tree.body, torch.nn.ModuleList) and isinstance(t_tree.heads, torch.nn.ModuleDict)
    _same_state(tree, t_tree)
    _same_state(from_torch(t_tree), t_tree)


def test_loss_modules_convert():
    ours = nn.CrossEntropyLoss(weight=np.array([1.0, 2.0, 0.5]), label_smoothing=0.1)
    theirs = to_torch(ours)
    assert isinstance(theirs, torch.nn.CrossEntropyLoss) and theirs.label_smoothing == 0.1
    assert torch.equal(theirs.weight, torch.tensor([1.0, 2.0, 0.5], dtype=theirs.weight.dtype))
    back = from_torch(theirs)
    assert isinstance(back, nn.CrossEntropyLoss)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        return x + self.fc(x)


class HandWritten(nn.Module):
    """A layer with its own NumPy backward: no torch twin can run it."""

    def forward(self, x):
        self._keep(None)
        return x * 2

    def backward(self, grad_output):
        self._take()
        return grad_output * 2


def test_unsupported_layers_are_named():
    with pytest.raises(TypeError, match=r"Maxout at '1'"):
        to_torch(nn.Sequential(nn.Linear(3, 3), nn.Maxout(2)))
    with pytest.raises(TypeError, match=r"HandWritten at '1'"):
        to_torch(nn.Sequential(nn.Linear(3, 3), HandWritten()))
    with pytest.raises(TypeError, match=r"LSTM at '0\.1'"):
        from_torch(torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.LSTM(3, 3))))
    with pytest.raises(TypeError, match="expected a torch.nn.Module"):
        from_torch(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="expected a numconv Module"):
        to_torch(torch.nn.Linear(2, 2))


def test_a_module_with_its_own_forward_converts_both_ways():
    ours = nn.Sequential(nn.Linear(3, 3), Residual()).double()
    theirs = to_torch(ours)
    assert type(theirs[1]).__name__ == "Residual" and list(theirs.state_dict()) == list(ours.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 3))
    assert np.allclose(theirs(torch.tensor(x)).detach().numpy(), ours(x), rtol=1e-13, atol=0)
    back = from_torch(theirs)
    assert type(back[1]) is Residual and np.allclose(back(x), ours(x), rtol=1e-13, atol=0)


def test_a_setting_lost_in_conversion_is_an_error(monkeypatch):
    # Pretend numconv's MaxPool2d had a setting torch's constructor was not given.
    monkeypatch.setattr(nn.MaxPool2d, "extra_repr", lambda self: "kernel_size=2, stride=2, padding=0, dilation=1, "
                                                                 "ceil_mode=True")
    with pytest.raises(TypeError, match=r"MaxPool2d at '2': the settings differ"):
        to_torch(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2)))


def test_modes_and_frozen_parameters_cross_both_ways_module_by_module():
    # Fine-tuning: the model trains, its batch norms stay in eval mode, its first convolution is frozen.
    ours = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU()).double()
    ours.train()
    ours[1].eval()
    ours[0].weight.requires_grad = False
    theirs = to_torch(ours)
    assert theirs.training and not theirs[1].training and theirs[2].training
    assert not theirs[0].weight.requires_grad and theirs[0].bias.requires_grad
    x = np.random.default_rng(0).standard_normal((2, 1, 5, 5))
    np.testing.assert_allclose(ours(x), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-12)
    back = from_torch(theirs)
    assert back.training and not back[1].training and back[2].training
    assert not back[0].weight.requires_grad and back[0].bias.requires_grad


def test_a_shared_layer_stays_one_layer_both_ways():
    # Weight tying: one module under two names. Its keys appear under both (as in PyTorch) and it stays shared.
    conv = nn.Conv2d(2, 2, 3, padding=1).double()
    ours = nn.Sequential(conv, nn.ReLU(), conv)
    assert list(ours.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    theirs = to_torch(ours)
    assert list(theirs.state_dict()) == list(ours.state_dict()) and theirs[0] is theirs[2]
    back = from_torch(theirs)
    assert back[0] is back[2] and list(back.state_dict()) == list(ours.state_dict())
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5))
    np.testing.assert_allclose(back(x), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-12)


def test_a_converted_model_with_its_own_forward_can_be_pickled():
    # torch.save(model) pickles the classes: the generated twins (a ResNet's, the merge modules) rebuild by name.
    import io

    from numconv import models

    theirs = to_torch(models.resnet8().double()).eval()
    buffer = io.BytesIO()
    torch.save(theirs, buffer)
    buffer.seek(0)
    again = torch.load(buffer, weights_only=False)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 1, 28, 28)))
    assert type(again).__name__ == "SmallResNet" and torch.equal(again(x), theirs(x))
    assert type(from_torch(again)) is models.SmallResNet


@pytest.mark.parametrize("name", ["googlenet_mini", "autoencoder", "vgg11"])
def test_sequential_models_come_back_as_their_class_and_pickle(name):
    # They came back from torch as plain Sequentials: hparams and input_shape (which `train` and `summary`
    # read) were lost.
    import io

    from numconv import models

    ours = (models.vgg11(num_classes=10) if name == "vgg11" else getattr(models, name)()).double()
    theirs = to_torch(ours).eval()
    buffer = io.BytesIO()
    torch.save(theirs, buffer)
    buffer.seek(0)
    again = torch.load(buffer, weights_only=False)
    back = from_torch(again)
    assert type(back) is type(ours) and back.input_shape == ours.input_shape
    assert getattr(back, "hparams", None) == getattr(ours, "hparams", None)
    assert list(back.state_dict()) == list(ours.state_dict())
    x = np.random.default_rng(0).standard_normal((1, *ours.input_shape))
    if name == "vgg11":
        x = x[:, :, :32, :32]  # (adaptive pooling: any size above 32 runs; kept small)
    with torch.no_grad():
        expected = again(torch.from_numpy(x)).numpy()
    assert rel_error(back.eval()(x), expected) <= 1e-10
