"""The model zoo against the same networks written in PyTorch (tests/torch_zoo.py), weights copied.

For each model: same ``state_dict`` keys, and on a small float64 input in training mode the same
output, input gradient (for a random upstream gradient), every parameter gradient and every
running statistic, to 1e-10 relative. Then the shape-only descriptions against the built models,
the parameter counts the papers and torchvision give, and the conversion to and from PyTorch.
"""

from __future__ import annotations

import numpy as np
import pytest

import numconv
from numconv import models, nn
from numconv.tools._shapes import SpecMaker
from numconv.tools.summary import summary
from parity import TOL, rel_error, upstream_rng

torch = pytest.importorskip("torch")
import torch_zoo as tz  # noqa: E402

pytestmark = pytest.mark.torch


def compare(ours, theirs, shape, seed=0):
    """Copy torch's weights into ``ours``; compare output, dx, parameter gradients and buffers in float64."""
    ours.double().train()
    theirs.double().train()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()}) == ([], [])
    x = np.random.default_rng(seed).standard_normal(shape)
    out = ours(x)
    tx = torch.tensor(x, requires_grad=True)
    tout = theirs(tx)
    grad = upstream_rng(seed).standard_normal(out.shape)
    ours.zero_grad()
    dx = ours.backward(grad)
    tout.backward(torch.tensor(grad))
    errors = {"output": rel_error(out, tout.detach().numpy()), "dx": rel_error(dx, tx.grad.numpy())}
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        errors[name] = rel_error(p.grad, theirs_params[name].grad.numpy())
    theirs_state = theirs.state_dict()
    for name, b in ours.named_buffers():
        errors[name] = rel_error(b, theirs_state[name].numpy())
    worst = max(errors, key=errors.get)
    assert errors[worst] <= TOL[np.dtype(np.float64)], f"{worst}: relative error {errors[worst]:.2e}"
    return errors


CASES = {
    # name: (numconv model, torch model, input shape)
    "resnet8_28": (lambda: models.resnet8(), lambda: tz.SmallResNet(1), (2, 1, 28, 28)),
    "resnet8_32_rgb": (lambda: models.resnet8(num_classes=7, in_channels=3, input_size=32),
                       lambda: tz.SmallResNet(1, 7, 3), (2, 3, 32, 32)),
    "resnet20_28": (lambda: models.resnet20(), lambda: tz.SmallResNet(3), (2, 1, 28, 28)),
    "googlenet_mini": (lambda: models.googlenet_mini(dropout=0.0), lambda: tz.GoogLeNetMini(dropout=0.0),
                       (2, 1, 28, 28)),
    "unet_mini": (lambda: models.unet_mini(), lambda: tz.UNetMini(), (2, 1, 28, 28)),
    "unet_mini_rgb_32": (lambda: models.unet_mini(3, 5, 8, 32), lambda: tz.UNetMini(3, 5, 8), (2, 3, 32, 32)),
    "autoencoder": (lambda: models.autoencoder(), lambda: tz.autoencoder(), (2, 1, 28, 28)),
}
SLOW_CASES = {
    "alexnet": (lambda: models.AlexNet(num_classes=10, hidden=64, dropout=0.0),
                lambda: tz.alexnet(10, 64, 0.0), (1, 3, 227, 227)),
    "zfnet": (lambda: models.ZFNet(num_classes=10, hidden=64, dropout=0.0),
              lambda: tz.zfnet(10, 64, 0.0), (1, 3, 224, 224)),
    "vgg11": (lambda: models.vgg11(num_classes=10, hidden=32, dropout=0.0),
              lambda: tz.VGG("vgg11", 10, 32, 0.0), (2, 3, 32, 32)),
    # Batch 2 at 64 x 64: layer4's batch norm sees 2 x 2 x 2 values per channel (at 32 x 32 only 2, and the
    # normalised values of 2 numbers are +-1 whatever they are, an ill-conditioned map for any library).
    "resnet18": (lambda: models.resnet18(num_classes=10), lambda: tz.ResNet((2, 2, 2, 2), 10), (2, 3, 64, 64)),
    "resnet34": (lambda: models.resnet34(num_classes=10), lambda: tz.ResNet((3, 4, 6, 3), 10), (2, 3, 64, 64)),
    "vgg16": (lambda: models.vgg16(num_classes=10, hidden=32, dropout=0.0),
              lambda: tz.VGG("vgg16", 10, 32, 0.0), (1, 3, 32, 32)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_same_as_pytorch(name):
    make, make_torch, shape = CASES[name]
    torch.manual_seed(0)
    compare(make(), make_torch(), shape)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_CASES))
def test_large_models_same_as_pytorch(name):
    make, make_torch, shape = SLOW_CASES[name]
    torch.manual_seed(0)
    compare(make(), make_torch(), shape)


def test_resnet_state_dict_keys_are_torchvisions():
    keys = list(models.resnet18().state_dict())
    for key in ("conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer1.1.bn2.bias",
                "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var", "layer4.1.conv2.weight",
                "fc.weight", "fc.bias"):
        assert key in keys
    assert not any(".add." in k or "layer1.0.downsample" in k for k in keys)
    assert keys == list(tz.ResNet((2, 2, 2, 2)).state_dict())


@pytest.mark.parametrize("make, expected", [
    (models.resnet18, 11_689_512), (models.resnet34, 21_797_672), (models.resnet8, 77_754),
    (models.resnet20, 272_186),
])
def test_parameter_counts(make, expected):
    assert sum(p.size for p in make().parameters()) == expected


@pytest.mark.parametrize("key, params", [("alexnet", 60_965_224), ("zfnet", 62_357_608), ("vgg11", 132_863_336),
                                         ("vgg16", 138_357_544), ("resnet18", 11_689_512),
                                         ("resnet34", 21_797_672)])
def test_large_models_described_without_weights(key, params):
    describe, shape = models.DESCRIBE[key]
    result = summary(describe(SpecMaker()), shape, print_table=False, run_forward=False)
    assert result.total_params == params
    assert result.rows[-1].output_shape == (1, 1000)


def test_alexnet_sizes_follow_the_paper():
    result = summary(models.DESCRIBE["alexnet"][0](SpecMaker()), (3, 227, 227), print_table=False)
    sizes = [r.output_shape[2] for r in result.leaf_rows() if r.type_name in ("Conv2d", "MaxPool2d")]
    assert sizes == [55, 27, 27, 13, 13, 13, 13, 6]
    zf = summary(models.DESCRIBE["zfnet"][0](SpecMaker()), (3, 224, 224), print_table=False)
    sizes = [r.output_shape[2] for r in zf.leaf_rows() if r.type_name in ("Conv2d", "MaxPool2d")]
    assert sizes == [110, 55, 26, 13, 13, 13, 13, 6]


@pytest.mark.parametrize("key, make, shape", [
    ("resnet18", lambda: models.resnet18(), (3, 64, 64)),
    ("alexnet", lambda: models.AlexNet(hidden=64), (3, 227, 227)),
])
def test_description_equals_the_built_model(key, make, shape):
    """The shape-only table is the built model's, row for row (the ResNet's has one more: its flatten)."""
    describe, _ = models.DESCRIBE[key]
    kwargs = {"hidden": 64} if key == "alexnet" else {}
    described = summary(describe(SpecMaker(), **kwargs), shape, print_table=False)
    ran = summary(make(), shape, print_table=False)

    def key_of(rows):
        return [(r.path, r.type_name, r.output_shape, r.params, r.mult_adds) for r in rows[1:] if r.path != "flatten"]

    assert key_of(described.rows) == key_of(ran.rows)
    assert (described.total_params, described.total_mult_adds) == (ran.total_params, ran.total_mult_adds)


def test_merge_modules_worked_out_without_running():
    model = nn.Sequential(
        nn.Residual(nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.ReLU())),
        nn.Residual(nn.Conv2d(3, 6, 3, stride=2, padding=1), nn.Conv2d(3, 6, 1, stride=2)),
        models.googlenet.Inception(6, 2, 2, 4, 1, 2, 2),
    )
    worked_out = summary(model, (3, 9, 9), batch_size=2, run_forward=False, print_table=False)
    ran = summary(model, (3, 9, 9), batch_size=2, print_table=False)
    assert worked_out.rows == ran.rows
    assert worked_out.rows[0].output_shape == (2, 10, 5, 5)


def test_summary_cli_does_not_build_large_models(capsys):
    import tracemalloc

    from numconv.cli import main

    tracemalloc.start()
    try:
        assert main(["summary", "vgg16", "--depth", "1"]) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6, f"summary vgg16 allocated {peak / 1e6:.0f} MB"
    out = capsys.readouterr().out
    assert "138,357,544" in out and "nothing was run" in out


@pytest.mark.parametrize("make, shape", [
    (lambda: models.resnet8(), (2, 1, 28, 28)),
    (lambda: models.unet_mini(), (2, 1, 28, 28)),
    (lambda: models.autoencoder(), (2, 1, 28, 28)),
    (lambda: models.googlenet_mini(), (2, 1, 28, 28)),
    (lambda: models.vgg11(num_classes=10, hidden=16), (1, 3, 32, 32)),
])
def test_to_torch_and_back(make, shape):
    from numconv.interop import from_torch, to_torch

    numconv.manual_seed(0)
    ours = make().double().eval()
    theirs = to_torch(ours)
    assert list(theirs.state_dict()) == list(ours.state_dict())
    x = np.random.default_rng(0).standard_normal(shape)
    with torch.no_grad():
        expected = theirs(torch.tensor(x)).numpy()
    assert rel_error(ours(x), expected) <= 1e-12
    back = from_torch(theirs)
    # Every model comes back as its class (a Sequential subclass too), with the same keys.
    assert type(back) is type(ours)
    assert rel_error(back(x), expected) <= 1e-12
    theirs.train()
    back_trained = from_torch(theirs)
    assert back_trained.training and list(back_trained.state_dict()) == list(ours.state_dict())


def test_to_torch_twin_trains_like_the_model():
    """The PyTorch twin of a ResNet is trainable: its gradients equal numconv's."""
    from numconv.interop import to_torch

    numconv.manual_seed(0)
    compare(models.resnet8(), to_torch(models.resnet8()), (2, 1, 28, 28))


@pytest.mark.parametrize("name", ["resnet8", "resnet20", "googlenet_mini", "alexnet", "vgg11", "unet_mini",
                                  "autoencoder"])
def test_registered_by_name(name):
    assert models.available().count(name.replace("_", "")) == 1
    assert models._canonical(name) is not None


@pytest.mark.parametrize("make", [lambda: models.resnet8(), lambda: models.googlenet_mini(),
                                  lambda: models.unet_mini(width=4), lambda: models.autoencoder(channels=(2, 3))])
def test_gradcheck(make):
    """Finite differences agree with the tape's backward through the whole model (eval: batch norm fixed)."""
    numconv.manual_seed(1)
    model = make().double().eval()
    x = np.random.default_rng(1).standard_normal((1, 1, 12, 12))
    report = numconv.gradcheck(model, x, max_checks=15)
    assert report.passed, str(report)


@pytest.mark.slow
def test_numconv_train_resnet8(tmp_path, capsys):
    """`numconv train --model resnet8` trains on the 28 x 28 sample images (no padding) and saves a checkpoint."""
    from numconv.checkpoint import load_checkpoint
    from numconv.cli import main

    out = tmp_path / "run"
    assert main(["train", "--model", "resnet8", "--epochs", "1", "--limit-train", "128", "--limit-test", "64",
                 "--no-progress", "--out", str(out)]) == 0
    assert "resnet8: 77,754 parameters" in capsys.readouterr().out
    config = load_checkpoint(str(out / "best.npz")).config
    assert config["model"] == {"name": "resnet8", "kwargs": {"num_classes": 10, "in_channels": 1, "input_size": 28}}
    assert config["data"]["transform"]["pad"] == 0
    assert main(["eval", str(out / "best.npz"), "--limit-test", "32"]) == 0


def test_numconv_train_refuses_imagenet_models(capsys):
    from numconv.cli import main

    assert main(["train", "--model", "vgg16", "--epochs", "1"]) == 2
    assert "ImageNet network" in capsys.readouterr().err


def test_unet_and_autoencoder_keep_the_image_size():
    assert models.unet_mini(out_channels=3)(np.zeros((1, 1, 28, 28), np.float32)).shape == (1, 3, 28, 28)
    assert models.autoencoder()(np.zeros((2, 1, 28, 28), np.float32)).shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="divisible by 4"):
        models.unet_mini()(np.zeros((1, 1, 30, 30), np.float32))
    assert list(models.unet_mini().state_dict())[:2] == ["enc1.0.weight", "enc1.1.weight"]
    assert "up2.weight" in models.unet_mini().state_dict()
