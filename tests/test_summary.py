"""numconv.summary: counts by hand, AlexNet without building it, torchinfo parity, state left as it was, the CLI."""

import tracemalloc
from collections import OrderedDict

import numpy as np
import pytest

import numconv
from numconv import cli, nn
from numconv.models import LeNet5, SimpleCNN, SmallVGG
from numconv.tools.summary import spec, summary


# ---------------------------------------------------------------------------- LeNet-5 by hand
def test_lenet5_counts_by_hand():
    result = summary(LeNet5(), (1, 32, 32), print_table=False)
    assert result.total_params == result.trainable_params == 61_706
    assert result.non_trainable_params == 0
    leaves = result.leaf_rows()
    assert [r.output_shape for r in leaves] == [
        (1, 6, 28, 28), (1, 6, 28, 28), (1, 6, 14, 14), (1, 16, 10, 10), (1, 16, 10, 10), (1, 16, 5, 5),
        (1, 120, 1, 1), (1, 120, 1, 1), (1, 120), (1, 84), (1, 84), (1, 10)]
    assert [r.params for r in leaves] == [156, 0, 0, 2_416, 0, 0, 48_120, 0, 0, 10_164, 0, 850]
    # A convolution: every output element costs C_in/groups * kh * kw multiply-adds plus one bias add.
    conv1, conv2, conv3 = leaves[0], leaves[3], leaves[6]
    assert conv1.mult_adds == 6 * 28 * 28 * (1 * 5 * 5 + 1)
    assert conv2.mult_adds == 16 * 10 * 10 * (6 * 5 * 5 + 1)
    assert conv3.mult_adds == 120 * (16 * 5 * 5 + 1)
    assert leaves[9].mult_adds == 120 * 84 + 84 and leaves[11].mult_adds == 84 * 10 + 10
    assert result.total_mult_adds == 122_304 + 241_600 + 48_120 + 10_164 + 850
    # im2col: (C_in * kh * kw) rows, one column per output position.
    assert conv1.im2col_shape == (25, 784) and conv1.im2col_bytes == 25 * 784 * 4
    assert conv2.im2col_shape == (150, 100) and conv3.im2col_shape == (400, 1)
    assert result.max_im2col_bytes == conv1.im2col_bytes
    assert result.im2col_bytes == 4 * (25 * 784 + 150 * 100 + 400)
    assert result.param_bytes == 61_706 * 4 and result.input_bytes == 32 * 32 * 4
    assert result.activation_bytes == 4 * sum(int(np.prod(r.output_shape)) for r in leaves)
    assert result.total_bytes == result.input_bytes + result.activation_bytes + result.param_bytes


@pytest.mark.parametrize("run_forward", [True, False])
def test_transposed_convolution_columns_are_what_it_computes(run_forward):
    """A ConvTranspose row shows W^T @ x, (C_out * prod(k), N * prod(in)): col2im of it is the layer's output."""
    layer = nn.ConvTranspose2d(3, 4, (3, 2), stride=2, bias=False, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 4))
    row = summary(nn.Sequential(layer), (3, 5, 4), batch_size=2, run_forward=run_forward,
                  print_table=False).leaf_rows()[0]
    weight = layer.weight.data  # (C_in, C_out, kh, kw)
    cols = weight.reshape(3, -1).T @ x.transpose(1, 0, 2, 3).reshape(3, -1)  # rows (c_out, offset), columns (n, pixel)
    assert row.im2col_shape == cols.shape == (4 * 3 * 2, 2 * 5 * 4) and row.im2col_bytes == cols.nbytes
    full = numconv.functional.col2im(cols, (2, 4, (5 - 1) * 2 + 3, (4 - 1) * 2 + 2), (3, 2), 2)
    np.testing.assert_allclose(full, layer(x), rtol=1e-12, atol=1e-12)


def test_table_text(capsys):
    result = summary(LeNet5(), batch_size=4)  # input_size defaults to the model's input_shape
    printed = capsys.readouterr().out
    assert printed.strip() == str(result).strip()
    assert "Total params: 61,706" in printed and "Trainable params: 61,706" in printed
    assert "Non-trainable params: 0" in printed
    assert f"Total mult-adds: {4 * 423_038:,}" in printed
    assert "  Conv2d: 0" in printed and "[4, 6, 28, 28]" in printed and "25 x 3,136" in printed
    assert "Input size (MB): 0.02" in printed
    assert summary(LeNet5(), print_table=False) is not None and capsys.readouterr().out == ""


def test_batch_size_scales_mult_adds_and_memory_not_params():
    one = summary(LeNet5(), print_table=False)
    eight = summary(LeNet5(), batch_size=8, print_table=False)
    assert eight.total_params == one.total_params and eight.param_bytes == one.param_bytes
    assert eight.total_mult_adds == 8 * one.total_mult_adds
    assert eight.activation_bytes == 8 * one.activation_bytes and eight.im2col_bytes == 8 * one.im2col_bytes


def test_float64_doubles_the_bytes():
    single = summary(LeNet5(), print_table=False)
    double = summary(LeNet5(dtype=np.float64), dtype=np.float64, print_table=False)
    assert double.param_bytes == 2 * single.param_bytes
    assert double.activation_bytes == 2 * single.activation_bytes
    assert double.im2col_bytes == 2 * single.im2col_bytes


# ---------------------------------------------------------------------------- parameters, buffers, frozen, shared
def test_buffers_are_not_parameters_and_frozen_parameters_are_not_trainable():
    model = SimpleCNN(in_channels=1, input_size=16, channels=(4, 8))
    model[0].weight.requires_grad = False  # 4 * 1 * 3 * 3 = 36 frozen weights
    result = summary(model, print_table=False)
    assert result.total_params == sum(p.size for p in model.parameters())
    assert result.trainable_params == result.total_params - 36
    assert result.non_trainable_params == 36
    bn = result.leaf_rows()[1]
    assert bn.type_name == "BatchNorm2d" and bn.params == 2 * 4  # weight and bias; running stats are buffers
    assert result.buffer_bytes == sum(b.nbytes for b in model.buffers())
    assert "40 (36 frozen)" in str(result)
    model.requires_grad_(False)
    assert "(40)" in str(summary(model, print_table=False))


def test_a_module_called_twice_counts_its_parameters_once_and_its_work_twice():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.shared = nn.Linear(4, 4)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.shared(self.act(self.shared(x)))

    result = summary(Twice(), (4,), batch_size=3, print_table=False)
    assert result.total_params == 20
    rows = result.rows
    assert [(r.path, r.depth, r.shared) for r in rows] == [
        ("", 0, False), ("shared", 1, False), ("act", 1, False), ("shared", 1, True)]
    assert rows[1].params == 20 and rows[3].params == 0
    assert rows[1].mult_adds == rows[3].mult_adds == 3 * 20
    assert result.total_mult_adds == 2 * 3 * 20
    assert "(shared)" in str(result)


def test_custom_module_runs_but_cannot_be_worked_out():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 3, padding=1)

        def forward(self, x):
            return self.conv(x) + 1.0

    model = nn.Sequential(OrderedDict(block=Block(), flat=nn.Flatten()))
    result = summary(model, (2, 5, 5), print_table=False)
    assert [(r.name, r.depth, r.output_shape) for r in result.rows] == [
        ("Sequential", 0, (1, 75)), ("Block: block", 1, (1, 3, 5, 5)), ("Conv2d: block.conv", 2, (1, 3, 5, 5)),
        ("Flatten: flat", 1, (1, 75))]
    with pytest.raises(ValueError, match="Block: block.*run_forward=True"):
        summary(model, (2, 5, 5), run_forward=False, print_table=False)


def test_depth_limits_the_rows_shown_not_the_totals():
    model = SmallVGG()
    full = summary(model, print_table=False)
    shallow = summary(model, depth=1, print_table=False)
    assert shallow.total_params == full.total_params and shallow.total_mult_adds == full.total_mult_adds
    text = str(shallow)
    assert "Conv2d" not in text
    features = sum(r.params for r in full.rows if r.path.startswith("features."))
    assert features == 287_904
    assert any(line.lstrip().startswith("Sequential: features") and "287,904" in line for line in text.splitlines())


# ---------------------------------------------------------------------------- nothing left changed
def test_modes_caches_and_methods_are_restored():
    model = LeNet5()
    model.train()
    model[1].eval()  # a mixed state must come back exactly
    x = np.random.default_rng(0).standard_normal((2, 1, 32, 32)).astype(np.float32)
    y = model(x)  # a pending backward
    summary(model, print_table=False)
    assert [m.training for m in model.modules()] == [True, True, False] + [True] * 10
    assert all("forward" not in m.__dict__ for m in model.modules())
    model.zero_grad()
    model.backward(np.ones_like(y))  # the kept caches are still there
    assert np.abs(model[0].weight.grad).sum() > 0


def test_restored_after_a_failing_forward():
    model = LeNet5()
    with pytest.raises(ValueError, match=r"in Conv2d: 0.*expected input with 1 channels"):
        summary(model, (3, 32, 32), print_table=False)
    assert model.training and all("forward" not in m.__dict__ for m in model.modules())


# ---------------------------------------------------------------------------- working shapes out
@pytest.mark.parametrize("make", [LeNet5, SmallVGG, lambda: SimpleCNN(in_channels=3, input_size=32),
                                  lambda: LeNet5(activation="relu", pooling="max", dtype=np.float64)],
                         ids=["lenet5", "vgg", "simplecnn", "lenet5-float64"])
def test_worked_out_rows_equal_the_forward_pass(make):
    model = make()
    ran = summary(model, batch_size=3, print_table=False)
    worked_out = summary(model, batch_size=3, run_forward=False, print_table=False)
    assert worked_out.rows == ran.rows
    assert (worked_out.total_params, worked_out.total_mult_adds, worked_out.activation_bytes) == \
           (ran.total_params, ran.total_mult_adds, ran.activation_bytes)


def _alexnet(scale=1, fc=4096, classes=1000):
    """The lecture AlexNet as specs (``scale`` divides every width, for a small twin that can be built)."""
    c = [96 // scale, 256 // scale, 384 // scale, 384 // scale, 256 // scale]
    return OrderedDict(
        features=[
            spec("Conv2d", 3, c[0], 11, stride=4), spec("ReLU"), spec("LocalResponseNorm", 5),
            spec("MaxPool2d", 3, stride=2),
            spec("Conv2d", c[0], c[1], 5, padding=2, groups=2), spec("ReLU"), spec("LocalResponseNorm", 5),
            spec("MaxPool2d", 3, stride=2),
            spec("Conv2d", c[1], c[2], 3, padding=1), spec("ReLU"),
            spec("Conv2d", c[2], c[3], 3, padding=1, groups=2), spec("ReLU"),
            spec("Conv2d", c[3], c[4], 3, padding=1, groups=2), spec("ReLU"),
            spec("MaxPool2d", 3, stride=2),  # pool5: 13 x 13 -> 6 x 6
        ],
        classifier=[
            spec("Flatten"), spec("Linear", 6 * 6 * c[4], fc // scale), spec("ReLU"), spec("Dropout"),
            spec("Linear", fc // scale, fc // scale), spec("ReLU"), spec("Dropout"),
            spec("Linear", fc // scale, classes),
        ],
    )


def test_alexnet_from_specs_without_allocating_it():
    tracemalloc.start()
    try:
        result = summary(_alexnet(), (3, 227, 227), print_table=False)
        text = str(result)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100e6, f"summarising AlexNet allocated {peak / 1e6:.0f} MB"
    weighted = [r for r in result.leaf_rows() if r.type_name in ("Conv2d", "Linear")]
    biases = [96, 256, 384, 384, 256, 4096, 4096, 1000]
    assert [r.params - b for r, b in zip(weighted, biases)] == [
        34_848, 307_200, 884_736, 663_552, 442_368, 37_748_736, 16_777_216, 4_096_000]
    assert result.total_params == result.trainable_params == 34_848 + 307_200 + 884_736 + 663_552 + 442_368 + \
        37_748_736 + 16_777_216 + 4_096_000 + sum(biases) == 60_965_224  # numconv.models.AlexNet's count
    assert [r.output_shape[2] for r in weighted[:5]] == [55, 27, 13, 13, 13]
    assert weighted[5].input_shape == (1, 6 * 6 * 256)
    assert weighted[0].mult_adds == 96 * 55 * 55 * (3 * 11 * 11 + 1)  # 105,705,600
    assert weighted[1].mult_adds == 256 * 27 * 27 * (48 * 5 * 5 + 1)
    assert result.param_bytes == 4 * result.total_params
    assert "Shapes worked out from the layers' hyper-parameters" in text and "37,752,832" in text


def test_specs_equal_the_built_network():
    """A small AlexNet twin: specs, worked-out modules and a real forward pass all agree."""
    specs = _alexnet(scale=8, fc=512, classes=10)

    def build(layers):
        return nn.Sequential(*(getattr(nn, s.type_name)(**{k: v for k, v in s.hparams.items()}) for s in layers))

    model = nn.Sequential(OrderedDict((name, build(layers)) for name, layers in specs.items()))
    from_specs = summary(specs, (3, 227, 227), batch_size=2, print_table=False)
    ran = summary(model, (3, 227, 227), batch_size=2, print_table=False)
    assert from_specs.rows[1:] == ran.rows[1:]  # the root's type differs: "Sequential" for a dict of specs
    for name in ("total_params", "trainable_params", "total_mult_adds", "activation_bytes", "param_bytes",
                 "buffer_bytes", "im2col_bytes", "input_bytes"):
        assert getattr(from_specs, name) == getattr(ran, name), name


def test_spec_buffers_count_like_the_layer():
    layers = [spec("Conv2d", 1, 4, 3), spec("BatchNorm2d", 4)]
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4))
    assert summary(layers, (1, 8, 8), print_table=False).buffer_bytes == \
        summary(model, (1, 8, 8), print_table=False).buffer_bytes == 4 * 4 * 2 + 8


# ---------------------------------------------------------------------------- errors
def test_errors():
    with pytest.raises(ValueError, match="input_size"):
        summary(LeNet5(), (1, 0, 32), print_table=False)
    with pytest.raises(ValueError, match="input_size"):
        summary(nn.Sequential(nn.ReLU()), print_table=False)  # no input_shape attribute to default to
    with pytest.raises(ValueError, match="batch_size"):
        summary(LeNet5(), batch_size=0, print_table=False)
    with pytest.raises(TypeError, match="float32 or float64"):
        summary(LeNet5(), dtype=np.int32, print_table=False)
    with pytest.raises(ValueError, match="run_forward=False"):
        summary([spec("ReLU")], (3,), run_forward=True, print_table=False)
    with pytest.raises(ValueError, match=r"layer '1'.*Linear: expected input with last axis 5"):
        summary([spec("Flatten"), spec("Linear", 5, 2)], (2, 3), print_table=False)
    with pytest.raises(ValueError, match=r"Conv2d: the window spans 11 x 11 pixels, but the padded input is only"):
        summary([spec("Conv2d", 3, 4, 11)], (3, 8, 8), print_table=False)
    with pytest.raises(ValueError, match="unknown layer 'conv4d'"):
        spec("conv4d", 1, 2, 3)
    with pytest.raises(TypeError, match="Conv2d: missing a required argument: 'kernel_size'"):
        spec("Conv2d", 1, 2)
    with pytest.raises(ValueError, match="divisible by groups"):
        spec("Conv2d", 3, 4, 3, groups=2)
    with pytest.raises(TypeError, match="expected a numconv Module"):
        summary("lenet5", print_table=False)


# ---------------------------------------------------------------------------- torchinfo
def _torchinfo_leaves(stats):
    return [(layer.class_name, list(layer.output_size), layer.num_params, layer.trainable_params, layer.macs)
            for layer in stats.summary_list if layer.is_leaf_layer]


@pytest.mark.torch
@pytest.mark.parametrize("make", [LeNet5, lambda: SimpleCNN(in_channels=3, input_size=32), SmallVGG],
                         ids=["lenet5", "simplecnn", "vgg"])
def test_torchinfo_parity(make):
    torchinfo = pytest.importorskip("torchinfo")
    from numconv.interop import to_torch

    model = make()
    torch_model = to_torch(model)
    # Freeze the first convolution's weight on both sides.
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    first.weight.requires_grad = False
    next(m for m in torch_model.modules() if type(m).__name__ == "Conv2d").weight.requires_grad_(False)

    ours = summary(model, batch_size=2, print_table=False)
    theirs = torchinfo.summary(torch_model, input_size=(2, *model.input_shape), depth=10, verbose=0)
    assert ours.total_params == theirs.total_params
    assert ours.trainable_params == theirs.trainable_params < ours.total_params
    assert ours.total_mult_adds == theirs.total_mult_adds
    assert ours.param_bytes == theirs.total_param_bytes
    assert [(r.type_name, list(r.output_shape), r.params, r.trainable_params, r.mult_adds)
            for r in ours.leaf_rows()] == _torchinfo_leaves(theirs)


# ---------------------------------------------------------------------------- the command
def test_cli_summary(capsys):
    assert cli.main(["summary", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 61,706" in out and "[1, 1, 32, 32]" in out
    assert cli.main(["summary", "LeNet-5", "--batch-size", "16"]) == 0
    assert f"Total mult-adds: {16 * 423_038:,}" in capsys.readouterr().out
    assert cli.main(["summary", "vgg", "--input", "1x64x64", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "[1, 1, 64, 64]" in out and "Sequential: features" in out and "Conv2d" not in out
    # A non-square input still sets the channels (models ending in an adaptive pool take any size).
    assert cli.main(["summary", "resnet8", "--input", "3x32x40"]) == 0
    out = capsys.readouterr().out
    assert "[1, 3, 32, 40]" in out and "Total params: 78,042" in out  # 3 input channels: 288 more weights


@pytest.mark.parametrize("argv, message", [
    (["summary", "resnet"], "unknown model 'resnet'; available: alexnet, autoencoder, googlenetmini"),
    (["summary", "lenet5", "--input", "1xax32"], "--input: expected non-negative integers"),
    (["summary", "lenet5", "--input", "3x32x32"], "expected input with 1 channels"),
    (["summary", "lenet5", "--batch-size", "0"], "--batch-size must be at least 1"),
    # A model with its own forward is measured on one sample and scaled: refused before the large forward pass.
    (["summary", "resnet8", "--batch-size", "400", "--max-memory", "0.1"],
     "a forward pass with input 400 x 1 x 28 x 28 would need about 0.5 GiB, more than the limit of 0.1 GiB"),
    (["summary", "unetmini", "--batch-size", "100000"], "more than the limit of 4 GiB (--max-memory)"),
])
def test_cli_summary_errors(capsys, argv, message):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in captured.err


def test_top_level_name():
    assert numconv.summary is summary
