"""ONNX export and import of transposed convolution, resizing and padding layers.

Each layer runs through ``test_onnx.check_model``: the full checker, onnxruntime equal to numconv's eval-mode
output (float32, within 1e-5 of the output's magnitude), and ``from_onnx`` giving back the same layer type, the
same ``state_dict`` and bit-identical outputs.
"""

import numpy as np
import pytest

import numconv
from numconv import nn
from numconv.interop import UnsupportedLayerError, from_onnx, to_onnx
from numconv.interop.onnx_resize import onnx_nearest_indices
from numconv.functional.upsample import nearest_indices

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from test_onnx import as_foreign_file, check_model, numconv_eval, run_onnx  # noqa: E402

CONV_TRANSPOSE = [
    (nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1, output_padding=1), (2, 3, 6)),
    (nn.ConvTranspose1d(2, 2, 2, dilation=2, output_padding=1), (2, 2, 5)),  # output_padding >= stride: Pad + Add
    (nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2), (2, 4, 4, 5)),
    (nn.ConvTranspose2d(2, 3, 3, stride=1, padding=2, dilation=3, output_padding=2, bias=False), (2, 2, 5, 4)),
    (nn.ConvTranspose2d(2, 3, 3, stride=1, padding=1, dilation=2, output_padding=1), (2, 2, 4, 4)),  # smaller end pad
    (nn.ConvTranspose3d(2, 4, 2, stride=2, padding=(0, 1, 0), groups=2), (1, 2, 3, 3, 2)),
]

PADDING = [
    (nn.ZeroPad1d((2, 1)), (2, 3, 5)),
    (nn.ZeroPad2d((1, 0, -1, 2)), (2, 3, 4, 5)),
    (nn.ConstantPad2d((2, -1, 0, 3), 1.5), (2, 3, 4, 5)),
    (nn.ConstantPad3d(1, -0.5), (1, 2, 3, 2, 2)),
    (nn.ReflectionPad1d((3, -1)), (2, 3, 5)),
    (nn.ReflectionPad2d((1, 2, 3, 0)), (2, 3, 4, 5)),
    (nn.ReflectionPad3d((1, 1, 0, 1, 2, -1)), (1, 2, 3, 3, 4)),
    (nn.ReplicationPad2d((0, 3, -2, 1)), (2, 3, 4, 5)),
    (nn.ReplicationPad3d(2), (1, 2, 2, 3, 2)),
    (nn.ZeroPad2d(0), (2, 3, 4, 5)),
]

CIRCULAR = [(nn.CircularPad1d((2, 3)), (2, 3, 4)), (nn.CircularPad2d((1, -1, 2, 0)), (2, 3, 4, 5)),
            (nn.CircularPad3d((1, 0, 0, 2, 1, 1)), (1, 2, 3, 3, 2))]

RESIZE = [
    (nn.Upsample(scale_factor=2), (2, 3, 4, 5)),
    (nn.Upsample(scale_factor=1.5), (2, 3, 5, 4)),
    (nn.Upsample(scale_factor=2.3, mode="nearest"), (2, 3, 10, 7)),  # 10 * 2.3: 23 in float32, not in float64
    (nn.Upsample(scale_factor=2.05), (2, 3, 5, 4)),  # Gather: PyTorch's 2-D forward copies i // 2 for 5 -> 10
    (nn.Upsample(scale_factor=(2.3, 0.7)), (2, 3, 4, 10)),  # 10 * 0.7 = 6.9999998 in float32
    (nn.Upsample(size=(7, 3), mode="nearest"), (2, 3, 4, 6)),
    (nn.Upsample(scale_factor=1.5, mode="nearest"), (2, 3, 7)),
    (nn.Upsample(scale_factor=(2, 1.5, 0.5), mode="nearest"), (1, 2, 3, 4, 6)),
    (nn.Upsample(scale_factor=1.5, mode="nearest-exact"), (2, 3, 5, 7)),
    (nn.Upsample(size=(9, 2), mode="nearest-exact"), (2, 3, 4, 5)),
    (nn.Upsample(scale_factor=2.3, mode="linear"), (2, 3, 6)),
    (nn.Upsample(size=1, mode="linear"), (2, 3, 6)),  # half_pixel keeps PyTorch's coordinate for one pixel
    (nn.Upsample(scale_factor=1.5, mode="bilinear"), (2, 3, 5, 4)),
    (nn.Upsample(scale_factor=(2.3, 1.1), mode="bilinear"), (2, 3, 10, 5)),  # 5 * 1.1 -> 5: PyTorch copies
    (nn.Upsample(scale_factor=2.3, mode="bilinear", recompute_scale_factor=True), (2, 3, 4, 5)),
    (nn.Upsample(size=(3, 8), mode="bilinear", align_corners=True), (2, 3, 5, 4)),
    (nn.Upsample(size=(1, 1), mode="bilinear", align_corners=True), (2, 3, 5, 4)),
    (nn.Upsample(scale_factor=0.7, mode="trilinear"), (1, 2, 4, 5, 10)),
    (nn.Upsample(scale_factor=(1.5, 2, 2.3), mode="trilinear", align_corners=True), (1, 2, 3, 2, 4)),
    (nn.UpsamplingNearest2d(scale_factor=2), (2, 3, 3, 4)),
    (nn.UpsamplingBilinear2d(size=(5, 7)), (2, 3, 3, 4)),
    (nn.PixelShuffle(2), (2, 8, 3, 4)),
    (nn.PixelUnshuffle(2), (2, 3, 4, 6)),
    (nn.PixelUnshuffle(3), (2, 2, 3, 6)),
]


def _case_id(value):
    return repr(value) if isinstance(value, nn.Module) else "x".join(map(str, value))


@pytest.mark.parametrize("layer, shape", CONV_TRANSPOSE + PADDING + RESIZE, ids=_case_id)
def test_layer(layer, shape, tmp_path):
    numconv.manual_seed(4)
    path = check_model(nn.Sequential(layer), shape, tmp_path, f"layer {layer!r}")
    back = from_onnx(path)[0]
    assert type(back) is type(layer) and repr(back) == repr(layer)
    if isinstance(layer, nn.Upsample):  # the oldest opset exported, and from 18 scales / sizes of the spatial axes
        for opset in (13, 18):
            check_model(nn.Sequential(layer), shape, tmp_path, f"layer {layer!r} opset {opset}", opset=opset)


@pytest.mark.parametrize("layer, shape", CIRCULAR, ids=_case_id)
def test_circular_padding(layer, shape, tmp_path):
    """Pad mode 'wrap' from opset 19; Slice + Concat per axis before it (the default opset 17 included)."""
    model = nn.Sequential(layer)
    assert "Pad" in ops(check_model(model, shape, tmp_path, f"layer {layer!r} opset 19", opset=19))
    written = ops(check_model(model, shape, tmp_path, f"layer {layer!r} opset 17"))
    assert "Pad" not in written and "Concat" in written


@pytest.mark.parametrize("opset", [17, 19])
def test_conv_with_circular_padding(opset, tmp_path):
    numconv.manual_seed(6)
    model = nn.Sequential(nn.Conv2d(2, 3, (3, 5), padding=(1, 2), padding_mode="circular"), nn.ReLU())
    check_model(model, (2, 2, 4, 5), tmp_path, f"conv2d circular opset {opset}", opset=opset)
    check_model(nn.Sequential(nn.Conv1d(3, 2, 3, padding=2, padding_mode="circular")), (2, 3, 4), tmp_path,
                f"conv1d circular opset {opset}", opset=opset)


def ops(path):
    return [node.op_type for node in onnx.load(path).graph.node][:-1]  # without the output's Identity


@pytest.mark.parametrize("layer, shape, expected", [
    (nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1, output_padding=1), (1, 2, 3, 3), ["ConvTranspose"]),
    (nn.ZeroPad2d((1, -1, 0, 2)), (1, 2, 3, 3), ["Slice", "Pad"]),
    (nn.ReflectionPad2d((1, -1, 0, 2)), (1, 2, 3, 3), ["Pad", "Slice"]),
    (nn.Upsample(scale_factor=2.0), (1, 2, 3, 3), ["Resize"]),
    (nn.Upsample(size=(5, 4), mode="bilinear"), (1, 2, 3, 3), ["Shape", "Slice", "Concat", "Resize"]),
    (nn.Upsample(scale_factor=2.05), (1, 2, 5, 4), ["Gather", "Gather"]),  # 5 -> 10 copies i // 2 (2-D only)
    (nn.Upsample(scale_factor=2.05), (1, 2, 5), ["Resize"]),  # the 1-D forward divides by 2.05, as Resize does
    (nn.PixelShuffle(2), (1, 4, 3, 3), ["DepthToSpace"]),
    (nn.PixelUnshuffle(2), (1, 2, 4, 4), ["Reshape", "Transpose", "Reshape"]),
])
def test_operators_written(layer, shape, expected, tmp_path):
    assert ops(to_onnx(nn.Sequential(layer), shape, tmp_path / "x.onnx")) == expected


def _resize_file(path, n, scale, exact):
    helper = onnx.helper
    attrs = (dict(coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil") if exact else
             dict(coordinate_transformation_mode="asymmetric", nearest_mode="floor"))
    node = helper.make_node("Resize", ["input", "", "scales"], ["output"], mode="nearest", **attrs)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1, 1, n])],
        [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, [1, 1, None])],
        initializer=[onnx.numpy_helper.from_array(np.array([1, 1, scale], np.float32), "scales")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_nearest_pixels_as_onnxruntime_picks_them(tmp_path):
    """``onnx_nearest_indices`` (which decides between Resize and Gather) is what onnxruntime computes."""
    for n, scale, exact in [(6, 4 / 6, False), (7, 1.5, False), (5, 2.3, True), (9, 0.5, True), (10, 0.7, False),
                            (3, 8 / 3, True), (5, 2.05, False), (11, 1 / 3, True), (9, 1.7, False)]:
        x = np.arange(n, dtype=np.float32).reshape(1, 1, n)
        picked = run_onnx(_resize_file(tmp_path / "r.onnx", n, scale, exact), x)[0, 0].astype(np.int64)
        np.testing.assert_array_equal(onnx_nearest_indices(n, len(picked), np.float32(scale), exact), picked)
    # PyTorch's 2-D shortcut (an output twice the input copies pixel i // 2 whatever the factor) is not Resize's
    assert not np.array_equal(nearest_indices(5, 10, 2.05, kernel="channels_last"),
                              onnx_nearest_indices(5, 10, np.float32(2.05), False))


class Decoder(nn.Module):
    """A forward that asks a transposed convolution for an output size: the file holds the padding it resolved to."""

    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)

    def forward(self, x):
        return self.up(x, output_size=(2 * x.shape[2], 2 * x.shape[3]))


def test_conv_transpose_output_size_resolves_to_output_padding(tmp_path):
    model = Decoder()
    path = to_onnx(model, (1, 3, 4, 5), tmp_path / "decoder.onnx")
    node = onnx.load(path).graph.node[0]
    assert onnx.helper.get_attribute_value(node.attribute[[a.name for a in node.attribute].index("output_padding")]) \
        == [1, 1]
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    expected = numconv_eval(model, x)
    assert expected.shape == (2, 2, 8, 10)
    np.testing.assert_allclose(run_onnx(path, x), expected, rtol=0, atol=1e-5 * np.abs(expected).max())
    back = from_onnx(path)  # a chain: one ConvTranspose2d with its own output_padding (0), as the class has
    assert isinstance(back[0], nn.ConvTranspose2d) and back[0].output_padding == (0, 0)


def test_foreign_file_maps_operators(tmp_path):
    """Without numconv's metadata, ConvTranspose, Pad, Resize (constant scales) and DepthToSpace map to layers."""
    numconv.manual_seed(5)
    model = nn.Sequential(nn.ConvTranspose2d(2, 8, 3, stride=2, padding=1, output_padding=1), nn.ReflectionPad2d(1),
                          nn.ConstantPad2d((1, 0, 2, 1), 0.5), nn.Upsample(scale_factor=1.5, mode="bilinear"),
                          nn.PixelShuffle(2), nn.Upsample(scale_factor=2, mode="nearest"))
    for opset in (17, 18):
        _foreign_round_trip(model, tmp_path, opset)


def _foreign_round_trip(model, tmp_path, opset):
    imported = from_onnx(as_foreign_file(to_onnx(model, (1, 2, 3, 4), tmp_path / "m.onnx", opset=opset), tmp_path))
    kinds = [type(m).__name__ for m in imported]
    assert kinds == ["ConvTranspose2d", "ReflectionPad2d", "ConstantPad2d", "Upsample", "PixelShuffle", "Upsample",
                     "Identity"]
    x = np.random.default_rng(0).standard_normal((2, 2, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(numconv_eval(imported, x), numconv_eval(model, x))


@pytest.mark.parametrize("node_kwargs, message", [
    (dict(op_type="Resize", mode="cubic"), "not one of numconv's interpolations"),
    (dict(op_type="Resize", mode="linear", coordinate_transformation_mode="pytorch_half_pixel"),
     "not one of numconv's interpolations"),
    (dict(op_type="DepthToSpace", blocksize=2), "mode DCR orders the channels block-first"),
    (dict(op_type="Pad", mode="reflect", pads=[0, 0, -1, 0, 0, 0, 0, 0]), "negative pads"),
])
def test_foreign_operators_refused(node_kwargs, message, tmp_path):
    helper = onnx.helper
    op = node_kwargs.pop("op_type")
    inputs, initializers = ["input"], []
    if op == "Resize":
        inputs += ["", "scales"]
        initializers.append(onnx.numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"))
    if op == "Pad":
        inputs.append("pads")
        initializers.append(onnx.numpy_helper.from_array(np.array(node_kwargs.pop("pads"), np.int64), "pads"))
    node = helper.make_node(op, inputs, ["output"], name="n", **node_kwargs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT,
                                                                          [1, 4, 4, 4])],
                              [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, [1, None, None, None])],
                              initializer=initializers)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "f.onnx")
    with pytest.raises(UnsupportedLayerError, match=message):
        from_onnx(tmp_path / "f.onnx")


def test_pixel_shuffle_needs_four_axes(tmp_path):
    with pytest.raises(UnsupportedLayerError, match=r"PixelShuffle at '0': only \(N, C, H, W\) input"):
        to_onnx(nn.Sequential(nn.PixelShuffle(2)), (1, 2, 4, 3, 3), tmp_path / "x.onnx")
