"""The tools on the transposed-convolution, upsampling and padding layers: explain, summary (against torchinfo),
the shape arithmetic without running, and the command line."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from numconv import cli, nn
from numconv.tools._shapes import spec, spec_of
from numconv.tools.explain import explain
from numconv.tools.summary import summary


def test_explain_conv_transpose_fourteen_to_twenty_eight():
    e = explain("conv_transpose2d", (8, 14, 14), out_channels=4, kernel_size=3, stride=2, padding=1)
    assert e.output_shape == (4, 27, 27)
    assert e.axes[0].text == ("H_out = (H_in - 1)·S - 2P + D(K-1) + output_padding + 1 = "
                              "(14 - 1)·2 - 2·1 + 1·(3-1) + 0 + 1 = 27")
    assert any("output_padding 0 gives 27, 1 gives 28 (here 0: 27)" in n for n in e.notes)
    e = explain("conv_transpose2d", (8, 14, 14), out_channels=4, kernel_size=3, stride=2, padding=1,
                output_padding=1)
    assert e.output_shape == (4, 28, 28) and "+ 1 + 1 = 28" in e.axes[1].text
    assert e.params == 8 * 4 * 9 + 4
    assert e.mult_adds == e.params * 28 * 28  # torchinfo's convention
    assert "288·196 = 56,448" in e.mult_adds_text  # and the work really done
    assert e.receptive_field.kind == "unknown"


def test_cli_explain_conv_transpose(capsys):
    argv = ["explain", "conv_transpose2d", "--input", "8x14x14", "--out-channels", "4", "--kernel", "3",
            "--stride", "2", "--padding", "1", "--output-padding", "1"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "input (8, 14, 14) -> output (4, 28, 28)" in out
    assert "(14 - 1)·2 - 2·1 + 1·(3-1) + 1 + 1 = 28" in out
    assert "C_in·(C_out/groups)·Kh·Kw + C_out = 8·(4/1)·3·3 + 4 = 292" in out
    assert cli.main(["explain", "conv2d", "--input", "1x5x5", "--out-channels", "1", "--kernel", "3",
                     "--output-padding", "1"]) == 2
    assert "conv2d takes no --output-padding" in capsys.readouterr().err


@settings(max_examples=25)
@given(nd=st.integers(1, 3), data=st.data())
def test_conv_transpose_arithmetic_matches_the_layer(nd, data):
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
    output_padding = tuple(data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    spatial = tuple(data.draw(st.integers(2, 4)) for _ in range(nd))
    padding = tuple(data.draw(st.integers(0, 1)) for _ in range(nd))
    groups = data.draw(st.sampled_from([1, 2]))
    assume(all((i - 1) * s - 2 * p + d * (k - 1) + op >= 0
               for i, k, s, p, op, d in zip(spatial, kernel, stride, padding, output_padding, dilation)))
    layer = getattr(nn, f"ConvTranspose{nd}d")(2, 2 * groups, kernel, stride, padding, output_padding, groups,
                                               dilation=dilation)
    shape = (1, 2, *spatial)
    assert spec_of(layer).output_shape(shape) == layer(np.zeros(shape, np.float32)).shape
    assert {k: v for k, v in spec_of(layer).parameter_shapes().items()} == \
        {k: v.shape for k, v in layer.named_parameters()}


torch = pytest.importorskip("torch")


def _torchinfo_leaves(stats):
    return [(layer.class_name, list(layer.output_size), layer.num_params, layer.macs)
            for layer in stats.summary_list if layer.is_leaf_layer]


def _decoder():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1),
                         nn.ConvTranspose2d(6, 2, 3, stride=2, padding=1, output_padding=1, groups=2, bias=False),
                         nn.Upsample(scale_factor=1.5, mode="bilinear"), nn.ReflectionPad2d((1, 0, 2, 1)),
                         nn.Conv2d(2, 8, 3), nn.PixelShuffle(2), nn.UpsamplingNearest2d(size=(9, 8)),
                         nn.ConstantPad2d(-1, 0.5), nn.PixelUnshuffle(1), nn.UpsamplingBilinear2d(scale_factor=2))


@pytest.mark.parametrize("run_forward", [True, False], ids=["traced", "analytic"])
def test_summary_matches_torchinfo(run_forward):
    torchinfo = pytest.importorskip("torchinfo")
    from numconv.interop import to_torch

    model = _decoder()
    theirs = torchinfo.summary(to_torch(model), input_size=(2, 1, 7, 7), depth=10, verbose=0)
    ours = summary(model, (1, 7, 7), batch_size=2, run_forward=run_forward, print_table=False)
    rows = [(r.type_name, list(r.output_shape), r.params, r.mult_adds) for r in ours.leaf_rows()]
    assert rows == _torchinfo_leaves(theirs)
    assert ours.total_params == theirs.total_params and ours.total_mult_adds == theirs.total_mult_adds


LAYERS_AND_INPUTS = [
    (nn.Upsample(scale_factor=(1.5, 0.7), mode="bilinear"), (2, 3, 5, 6)),
    (nn.Upsample(size=4, mode="nearest-exact"), (1, 2, 7)),
    (nn.Upsample(scale_factor=2.2, mode="trilinear", recompute_scale_factor=True), (1, 1, 2, 3, 4)),
    (nn.UpsamplingBilinear2d(size=(3, 8)), (1, 2, 4, 4)),
    (nn.PixelShuffle(3), (2, 18, 2, 3)), (nn.PixelUnshuffle(2), (3, 4, 6)),
    (nn.ZeroPad1d((2, -1)), (2, 3, 5)), (nn.ConstantPad3d(1, 2.0), (1, 2, 2, 3, 1)),
    (nn.ReflectionPad2d((1, 2, 0, 3)), (1, 2, 4, 5)), (nn.ReplicationPad1d(3), (2, 2)),
    (nn.CircularPad2d((-1, 2, 1, 0)), (1, 1, 3, 4)),
]


@pytest.mark.parametrize("layer, shape", LAYERS_AND_INPUTS, ids=[repr(m) for m, _ in LAYERS_AND_INPUTS])
def test_resize_and_pad_arithmetic_matches_the_layer(layer, shape):
    assert spec_of(layer).output_shape(shape) == layer(np.zeros(shape)).shape
    assert spec_of(layer).mult_adds(shape) == 0


def test_shape_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"ReflectionPad2d: padding_mode='reflect' needs each padding smaller"):
        spec("ReflectionPad2d", 4).output_shape((1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"Upsample: mode 'bilinear' needs a 4-D input"):
        spec("Upsample", scale_factor=2, mode="bilinear").output_shape((1, 1, 4))
    with pytest.raises(ValueError, match=r"PixelShuffle: expected an input \(\*, C \* 4, H, W\)"):
        spec("PixelShuffle", 2).output_shape((1, 3, 4, 4))
    with pytest.raises(ValueError, match="Upsample: give exactly one of size and scale_factor"):
        spec("Upsample")


def test_explain_upsample_and_pad():
    e = explain("upsample", (1, 5, 5), scale_factor=2, mode="bilinear")
    assert e.output_shape == (1, 10, 10) and e.params == 0 and e.mult_adds == 0
    assert "H_out = floor(H_in · scale_factor) = floor(5 · 2) = 10; scale = 1/2" in e.notes
    e = explain("zeropad2d", (2, 5, 5), padding=(1, 0, 2, 1))
    assert e.output_shape == (2, 8, 6)
    assert e.receptive_field.start == (-2.0, -1.0)  # a constant border shifts the first window into it


def test_spec_errors():
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride or dilation"):
        spec("ConvTranspose2d", 2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"the output would be -1 for input of shape \(1, 1, 2\)"):
        spec("ConvTranspose1d", 1, 1, 2, padding=2).output_shape((1, 1, 2))
