"""numconv.explain: the arithmetic matches the layers, the receptive field matches brute force, the CLI."""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import numconv
from numconv import cli, nn
from numconv import models
from numconv.models import LeNet5, SmallVGG
from numconv.tools.explain import LayerExplanation, ModelExplanation, explain, parse_shape
from numconv.tools.summary import spec, summary


# ---------------------------------------------------------------------------- one layer, by hand
def test_conv2d_example():
    e = explain("conv2d", (3, 32, 32), out_channels=16, kernel_size=5, stride=1, padding=2)
    assert isinstance(e, LayerExplanation)
    assert e.output_shape == (16, 32, 32)
    assert e.params == 16 * 3 * 5 * 5 + 16 == 1_216
    assert e.mult_adds == 16 * 32 * 32 * (3 * 5 * 5 + 1)
    assert [a.axis for a in e.axes] == ["H", "W"] and [a.output for a in e.axes] == [32, 32]
    assert e.axes[0].text == ("H_out = floor((H_in + 2P - D(K-1) - 1)/S) + 1 = "
                              "floor((32 + 2·2 - 1·(5-1) - 1)/1) + 1 = 32")
    assert e.params_text == "C_out·(C_in/groups)·Kh·Kw + C_out = 16·(3/1)·5·5 + 16 = 1,216"
    assert e.mult_adds_text.startswith("C_out·H_out·W_out·((C_in/groups)·Kh·Kw + 1) = 16·32·32·((3/1)·5·5 + 1) = "
                                       "1,245,184")
    rf = e.receptive_field
    assert (rf.kind, rf.size, rf.jump, rf.start) == ("local", (5, 5), (1, 1), (0.0, 0.0))
    assert e.im2col_shape == (75, 1024)
    text = str(e)
    assert e.axes[1].text in text and e.params_text in text and "75 x 1,024" in text


def test_strided_dilated_grouped_conv_and_same_padding():
    e = explain("Conv2d", "4x17x12", out_channels=6, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0),
                dilation=(2, 1), groups=2, bias=False)
    assert e.output_shape == (6, 8, 11)  # floor((17 + 2 - 2*2 - 1)/2) + 1 = 8; floor((12 - 1 - 1)/1) + 1 = 11
    assert e.params == 6 * 2 * 3 * 2 and e.mult_adds == 6 * 8 * 11 * (2 * 3 * 2)
    assert "+ C_out" not in e.params_text
    assert (e.receptive_field.size, e.receptive_field.jump, e.receptive_field.start) == ((5, 2), (2, 1), (1.0, 0.5))
    same = explain("conv1d", (2, 10), out_channels=3, kernel_size=4, padding="same")
    assert same.output_shape == (3, 10)
    assert same.axes[0].window.padding == (1, 2)  # an even kernel pads one more pixel after
    assert "L_in + P_before + P_after" in same.axes[0].text and "(10 + 1 + 2 - 1·(4-1) - 1)/1" in same.axes[0].text
    assert same.receptive_field.start == (0.5,)


def test_pooling_with_ceil_mode():
    e = explain("maxpool2d", (8, 6, 5), kernel_size=2, stride=2, padding=1, ceil_mode=True)
    assert e.output_shape == (8, 4, 3)
    assert e.params == 0 and e.mult_adds == 0
    assert e.axes[0].text == "H_out = ceil((H_in + 2P - D(K-1) - 1)/S) + 1 = ceil((6 + 2·1 - 1·(2-1) - 1)/2) + 1 = 4"
    # ceil(5/2) + 1 = 4 windows, but the 4th would start at 6 = past the 5 pixels and the 1 of padding before them.
    assert e.axes[1].text.endswith("+ 1 = 3 (the last window would start past the input, so it is dropped)")
    assert e.receptive_field.start == (-0.5, -0.5)
    assert any("ceil_mode" in note for note in e.notes)
    avg = explain("avgpool3d", (2, 8, 8, 8), kernel_size=2)
    assert avg.output_shape == (2, 4, 4, 4) and [a.axis for a in avg.axes] == ["D", "H", "W"]


def test_other_layers():
    linear = explain("linear", (120,), out_features=84)
    assert linear.output_shape == (84,) and linear.params == linear.mult_adds == 84 * 120 + 84
    assert linear.params_text == "out·in + out = 84·120 + 84 = 10,164"
    assert linear.receptive_field.kind == "global"
    bn = explain("batchnorm2d", (16, 8, 8))
    assert bn.params == 32 and bn.buffers == 16 + 16 + 1 and bn.mult_adds == 32
    assert "buffer elements" in str(bn) and bn.receptive_field.size == (1, 1)
    assert explain("batchnorm2d", (16, 8, 8), affine=False).params == 0
    relu = explain(nn.ReLU(), (3, 4, 4))
    assert relu.params == 0 and relu.output_shape == (3, 4, 4) and "learns nothing" in relu.params_text
    assert explain("flatten", (3, 4, 4)).output_shape == (48,)
    assert explain("adaptiveavgpool2d", (3, 8, 6), output_size=(4, 3)).receptive_field.size == (2, 2)
    assert explain("adaptiveavgpool2d", (3, 8, 6), output_size=1).receptive_field.kind == "global"
    assert explain("adaptivemaxpool2d", (3, 7, 7), output_size=3).receptive_field.kind == "unknown"
    assert explain("instancenorm2d", (3, 8, 8)).receptive_field.kind == "global"
    assert explain("softmax", (3, 8, 8), dim=1).receptive_field.kind == "local"


@given(data=st.data())
def test_conv_arithmetic_matches_the_layer(data):
    groups = data.draw(st.integers(1, 3))
    c_in, c_out = groups * data.draw(st.integers(1, 2)), groups * data.draw(st.integers(1, 2))
    nd = data.draw(st.integers(1, 3))
    spatial = tuple(data.draw(st.lists(st.integers(1, 9 if nd < 3 else 6), min_size=nd, max_size=nd)))
    kernel = tuple(data.draw(st.lists(st.integers(1, 4), min_size=nd, max_size=nd)))
    stride = data.draw(st.integers(1, 3))
    dilation = data.draw(st.integers(1, 2))
    padding = data.draw(st.one_of(st.integers(0, 3), st.just("same"))) if stride == 1 else data.draw(st.integers(0, 3))
    bias = data.draw(st.booleans())
    layer = getattr(nn, f"Conv{nd}d")(c_in, c_out, kernel, stride=stride, padding=padding, dilation=dilation,
                                      groups=groups, bias=bias)
    x = np.zeros((1, c_in, *spatial), dtype=np.float32)
    try:
        expected = layer(x).shape[1:]
    except ValueError:  # the kernel does not fit: explain must refuse too
        with pytest.raises(ValueError, match="window spans"):
            explain(layer, (c_in, *spatial))
        return
    e = explain(layer, (c_in, *spatial))
    assert e.output_shape == expected
    assert e.params == sum(p.size for p in layer.parameters())
    assert e.mult_adds == summary(layer, (c_in, *spatial), print_table=False).total_mult_adds
    by_name = explain(f"conv{nd}d", (c_in, *spatial), out_channels=c_out, kernel_size=kernel, stride=stride,
                      padding=padding, dilation=dilation, groups=groups, bias=bias)
    assert (by_name.output_shape, by_name.params, by_name.mult_adds) == (e.output_shape, e.params, e.mult_adds)


@given(data=st.data())
def test_pool_arithmetic_matches_the_layer(data):
    kind = data.draw(st.sampled_from(["MaxPool2d", "AvgPool2d"]))
    kernel = data.draw(st.integers(1, 4))
    kwargs = dict(stride=data.draw(st.integers(1, 3)), padding=data.draw(st.integers(0, kernel // 2)),
                  ceil_mode=data.draw(st.booleans()))
    if kind == "MaxPool2d":
        kwargs["dilation"] = data.draw(st.integers(1, 2))
    shape = (2, data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9)))
    layer = getattr(nn, kind)(kernel, **kwargs)
    try:
        expected = layer(np.zeros((1, *shape), dtype=np.float32)).shape[1:]
    except ValueError:
        with pytest.raises(ValueError):
            explain(layer, shape)
        return
    assert explain(layer, shape).output_shape == expected


# ---------------------------------------------------------------------------- receptive fields against brute force
def _brute_force_windows(model, length):
    """For each output position of a 1-D model with 1 input channel: (first, last) input index its gradient reaches."""
    x = np.zeros((1, 1, length))
    y = model(x)
    windows = []
    for i in range(y.shape[2]):
        dy = np.zeros_like(y)
        dy[0, :, i] = 1.0  # every channel: after a concatenation each branch owns some
        y = model(x)
        touched = np.nonzero(model.backward(dy)[0, 0])[0]
        windows.append((touched.min(), touched.max()) if touched.size else None)  # None: sees only padding
    return windows


@given(layers=st.lists(st.tuples(st.sampled_from(["conv", "avg"]), st.integers(1, 4), st.integers(1, 3),
                                 st.integers(0, 2), st.integers(1, 2)), min_size=1, max_size=3))
def test_receptive_field_matches_brute_force(layers):
    modules = []
    for kind, k, s, p, d in layers:
        if kind == "conv":
            conv = nn.Conv1d(1, 1, k, stride=s, padding=p, dilation=d, dtype=np.float64)
            conv.weight.data[...] = 1.0  # positive taps: no cancellation hides a pixel
            conv.bias.data[...] = 0.0
            modules.append(conv)
        else:
            modules.append(nn.AvgPool1d(k, stride=s, padding=min(p, k // 2)))
    model = nn.Sequential(*modules)
    length = 40
    try:
        result = explain(model, (1, length))
    except ValueError:
        assume(False)
    rf = result.receptive_field
    assert rf.kind == "local"
    (r,), (j,), (start,) = rf.size, rf.jump, rf.start
    for i, seen in enumerate(_brute_force_windows(model, length)):
        lo, hi = start + i * j - (r - 1) / 2, start + i * j + (r - 1) / 2
        inside = lo >= 0 and hi <= length - 1
        if inside:
            assert seen == (lo, hi), (i, r, j, start)
        elif seen is not None:  # a window reaching into the padding: only the real pixels show up
            assert lo <= seen[0] and seen[1] <= hi, (i, r, j, start)


def _ones_conv(k, s, p, d):
    conv = nn.Conv1d(1, 1, k, stride=s, padding=p, dilation=d, dtype=np.float64)
    conv.weight.data[...] = 1.0
    conv.bias.data[...] = 0.0
    return conv


@given(first=st.lists(st.tuples(st.integers(1, 5), st.integers(0, 2), st.integers(1, 2)), min_size=1, max_size=2),
       second=st.lists(st.tuples(st.integers(1, 5), st.integers(0, 2), st.integers(1, 2)), min_size=0, max_size=2),
       stride=st.integers(1, 2), kind=st.sampled_from(["cat", "add", "residual"]))
def test_receptive_field_of_branches_matches_brute_force(first, second, stride, kind):
    # Each branch starts from the block's input; the join sees the union of the branches' windows. Branches keep
    # the length ("same" padding) so they can be joined; a pool after the block moves the jump.
    def branch(layers):
        return nn.Sequential(*[_ones_conv(k, 1, d * (k - 1) // 2, d) for k, _, d in layers if (d * (k - 1)) % 2 == 0]
                             or [nn.Identity()])
    if kind == "residual":
        block = nn.Residual(branch(first))
    else:
        block = nn.Parallel(branch(first), branch(second), merge=kind)
    model = nn.Sequential(_ones_conv(3, stride, 1, 1), block, nn.AvgPool1d(2))  # (a max pool routes one pixel)
    length = 40
    rf = explain(model, (1, length)).receptive_field
    assert rf.kind == "local"
    (r,), (j,), (start,) = rf.size, rf.jump, rf.start
    for i, seen in enumerate(_brute_force_windows(model, length)):
        lo, hi = start + i * j - (r - 1) / 2, start + i * j + (r - 1) / 2
        if lo >= 0 and hi <= length - 1:
            assert seen == (lo, hi), (i, r, j, start)


def test_inception_and_resnet_receptive_fields():
    rows = {row.path: row.receptive_field for row in explain(models.googlenet_mini()).rows}
    # The stem's 3 x 3 gives 3; inception3a's widest branch is 1 x 1 then two 3 x 3 (its "5 x 5"): 3 + 4 = 7.
    assert rows["inception3a.branch3.1.conv"].size == (7, 7) and rows["inception3a.branch4.1.conv"].size == (5, 5)


def test_model_receptive_field_table():
    e = explain(LeNet5())  # input_shape defaults to the model's
    assert isinstance(e, ModelExplanation) and e.input_shape == (1, 32, 32)
    convs = [r for r in e.rows if r.type_name in ("Conv2d", "AvgPool2d")]
    assert [(r.receptive_field.size[0], r.receptive_field.jump[0], r.receptive_field.start[0]) for r in convs] == [
        (5, 1, 2.0), (6, 2, 2.5), (14, 2, 6.5), (16, 4, 7.5), (32, 4, 15.5)]
    assert [r.output_shape for r in e.rows][-1] == (10,)
    assert e.rows[8].type_name == "Flatten" and e.rows[8].receptive_field.size == (32, 32)
    assert e.rows[9].receptive_field.kind == "global" and e.receptive_field.kind == "global"
    text = str(e)
    assert "r_out = r_in + (K-1)·D·j_in" in text and "whole input" in text
    assert any(line.startswith("Conv2d: 6") and line.split()[-3:] == ["32", "4", "15.5"]
               for line in text.splitlines())
    vgg = explain(SmallVGG(), (3, 32, 32))
    assert vgg.rows[20].path == "features.20" and vgg.rows[20].receptive_field.size == (36, 36)


def test_model_from_specs_and_custom_modules():
    e = explain([spec("Conv2d", 3, 8, 3, padding=1), spec("MaxPool2d", 2), spec("Conv2d", 8, 8, 3, dilation=2)],
                (3, 16, 16))
    assert e.rows[-1].output_shape == (8, 4, 4)
    assert e.rows[-1].receptive_field.size == (12, 12)  # 3, then 4, then 4 + 2*2*2

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            return x + self.conv(x)

    e = explain(nn.Sequential(Residual(), nn.MaxPool2d(2)), (3, 8, 8))
    assert [r.path for r in e.rows] == ["0.conv", "1"] and e.rows[-1].output_shape == (3, 4, 4)


# ---------------------------------------------------------------------------- errors
def test_errors():
    with pytest.raises(ValueError, match="unknown layer 'conv5d'"):
        explain("conv5d", (3, 8, 8), out_channels=2, kernel_size=3)
    with pytest.raises(TypeError, match="missing a required argument: 'kernel_size'"):
        explain("conv2d", (3, 8, 8), out_channels=2)
    with pytest.raises(TypeError, match="go with a layer name"):
        explain(nn.ReLU(), (3,), inplace=True)
    with pytest.raises(ValueError, match=r"expected a 4-D input.*batch axis of 1 in front of the input shape \(3, 8\)"):
        explain("conv2d", (3, 8), out_channels=2, kernel_size=3)
    with pytest.raises(ValueError, match=r"expected input with 4 channels"):
        explain("conv2d", (3, 8, 8), in_channels=4, out_channels=2, kernel_size=3)
    with pytest.raises(ValueError, match="input_shape"):
        explain("conv2d", "3xbx8", out_channels=2, kernel_size=3)
    with pytest.raises(ValueError, match="input_shape"):
        explain(nn.Sequential(nn.ReLU()))
    assert parse_shape("3x32x32") == (3, 32, 32) and parse_shape("5") == (5,)


# ---------------------------------------------------------------------------- the command
def test_cli_explain_layer(capsys):
    argv = ["explain", "conv2d", "--input", "3x32x32", "--out-channels", "16", "--kernel", "5", "--stride", "1",
            "--padding", "2"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "H_out = floor((H_in + 2P - D(K-1) - 1)/S) + 1 = floor((32 + 2·2 - 1·(5-1) - 1)/1) + 1 = 32" in out
    assert "= 16·(3/1)·5·5 + 16 = 1,216" in out
    assert cli.main(["explain", "conv2d", "--input", "4x9x9", "--out-channels", "4", "--kernel", "5x3",
                     "--padding", "same", "--dilation", "2", "--groups", "2", "--no-bias"]) == 0
    out = capsys.readouterr().out
    assert "input (4, 9, 9) -> output (4, 9, 9)" in out and "4·(4/2)·5·3 = 120" in out
    assert cli.main(["explain", "maxpool2d", "--input", "6x28x28", "--kernel", "2"]) == 0
    assert "output (6, 14, 14)" in capsys.readouterr().out
    assert cli.main(["explain", "avgpool2d", "--input", "6x7x7", "--kernel", "2", "--ceil-mode"]) == 0
    assert "output (6, 4, 4)" in capsys.readouterr().out
    assert cli.main(["explain", "conv1d", "--input", "2x50", "--out-channels", "4", "--kernel", "7",
                     "--stride", "2"]) == 0
    assert "L_out = floor((L_in + 2P - D(K-1) - 1)/S) + 1" in capsys.readouterr().out
    assert cli.main(["explain", "conv3d", "--input", "1x8x16x16", "--out-channels", "2", "--kernel", "3x5x5"]) == 0
    assert "output (2, 6, 12, 12)" in capsys.readouterr().out
    assert cli.main(["explain", "linear", "--input", "120", "--out-features", "84"]) == 0
    assert "out·in + out = 84·120 + 84 = 10,164" in capsys.readouterr().out


def test_cli_explain_model(capsys):
    assert cli.main(["explain", "--model", "lenet5"]) == 0
    out = capsys.readouterr().out
    assert "Receptive field of LeNet5 on input (1, 32, 32)" in out and "15.5" in out
    assert cli.main(["explain", "--model", "vgg", "--input", "1x64x64"]) == 0
    assert "on input (1, 64, 64)" in capsys.readouterr().out


def test_cli_explain_large_model_from_its_description(capsys):
    """The ImageNet networks are explained from their shape-only description: no weights, any input size."""
    import tracemalloc

    tracemalloc.start()
    try:
        assert cli.main(["explain", "--model", "vgg16", "--input", "3x20000x20000"]) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    out = capsys.readouterr().out
    assert peak < 100e6, f"explaining VGG-16 allocated {peak / 1e6:.0f} MB"  # its weights alone are 553 MB
    assert "Receptive field of vgg16 on input (3, 20000, 20000)" in out
    assert any(line.startswith("Linear: classifier.0") and line.split()[-3:] == ["102,764,544", "whole", "input"]
               for line in out.splitlines())  # 512 x 7 x 7 after the adaptive pool, whatever the input
    assert cli.main(["explain", "--model", "resnet18"]) == 0  # branches: Residual blocks as BranchSpecs
    last_add = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("Add: layer4.1.add"))
    assert last_add.split()[-3:] == ["435", "32", "0"]  # ResNet-18's receptive field: the published 435 pixels


@pytest.mark.parametrize("argv, message", [
    (["explain", "conv2d", "--input", "3x32x32", "--kernel", "5"], "conv2d needs --out-channels"),
    (["explain", "conv2d", "--out-channels", "4", "--kernel", "5"], "conv2d needs --input"),
    (["explain", "maxpool2d", "--input", "3x8x8"], "maxpool2d needs --kernel"),
    (["explain", "maxpool2d", "--input", "3x8x8", "--kernel", "2", "--groups", "2"], "maxpool2d takes no --groups"),
    (["explain", "conv2d", "--input", "3x8x8", "--out-channels", "4", "--kernel", "5y3"], "--kernel: expected"),
    (["explain", "conv2d", "--input", "3x4x4", "--out-channels", "4", "--kernel", "5"],
     "the window spans 5 x 5 pixels, but the padded input is only 4 x 4"),
    (["explain", "conv2d", "--input", "3x8x8", "--out-channels", "4", "--kernel", "3", "--groups", "2"],
     "in_channels (3) must be divisible by groups (2)"),
    (["explain", "warp2d", "--input", "3x8x8"], "unknown layer 'warp2d'"),
    (["explain"], "name either a layer"),
    (["explain", "conv2d", "--model", "lenet5"], "name either a layer"),
    (["explain", "--model", "lenet5", "--kernel", "3"], "--kernel describe a single layer"),
    (["explain", "--model", "lenet7"], "unknown model 'lenet7'"),
    (["explain", "pixelshuffle", "--input", "8x4x4"], "pixelshuffle needs --arg upscale_factor=..."),
    (["explain", "pixelshuffle", "--input", "8x4x4", "--arg", "upscale=2"],
     "pixelshuffle takes no argument 'upscale' (--arg upscale=2); it takes upscale_factor"),
    (["explain", "upsample", "--input", "8x4x4"],
     "give exactly one of size and scale_factor, got neither (give the layer's other arguments with --arg"),
    (["explain", "upsample", "--input", "8x4x4", "--arg", "2"], "--arg: expected NAME=VALUE"),
    (["explain", "--model", "lenet5", "--arg", "x=1"], "--arg describe a single layer"),
])
def test_cli_explain_errors(capsys, argv, message):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in captured.err


def test_top_level_name():
    assert numconv.explain is explain
    assert math.isclose(explain("avgpool1d", (1, 4), kernel_size=2).receptive_field.start[0], 0.5)


def test_cli_explain_takes_any_argument_of_the_layer(capsys):
    # Layers whose arguments have no flag of their own: --arg NAME=VALUE, values read as Python literals.
    for argv, expected in [
        (["upsample", "--input", "8x4x4", "--arg", "scale_factor=2", "--arg", "mode=bilinear"], "output (8, 8, 8)"),
        (["pixelshuffle", "--input", "8x4x4", "--arg", "upscale_factor=2"], "output (2, 8, 8)"),
        (["constantpad2d", "--input", "8x4x4", "--arg", "padding=(1, 2, 0, 0)", "--arg", "value=0.5"],
         "output (8, 4, 7)"),
        (["groupnorm", "--input", "8x4x4", "--arg", "num_groups=4"], "output (8, 4, 4)"),
        (["unflatten", "--input", "8x4x4", "--arg", "dim=1", "--arg", "unflattened_size=(2, 4)"],
         "output (2, 4, 4, 4)"),
    ]:
        assert cli.main(["explain", *argv]) == 0
        assert expected in capsys.readouterr().out
    # An even adaptive pool has one window (2 pixels, jump 2); a phase-dependent layer says why it has none.
    assert cli.main(["explain", "adaptiveavgpool2d", "--input", "8x4x4", "--arg", "output_size=2"]) == 0
    assert "  H: 2 pixels, jump 2, first window centred at input pixel 0.5" in capsys.readouterr().out
    assert cli.main(["explain", "pixelshuffle", "--input", "8x4x4", "--arg", "upscale_factor=2"]) == 0
    assert "no single window: neighbouring outputs read different input pixels" in capsys.readouterr().out
