"""ONNX export and import: onnx's full checker, onnxruntime equal to numconv, and the round trip.

Every exported file passes ``onnx.checker.check_model(full_check=True)`` (inside ``to_onnx``); onnxruntime's
output equals numconv's eval-mode output within 1e-5 of the output's largest magnitude (float32); and
``from_onnx`` gives back the same ``state_dict`` and bit-identical outputs. ``ERRORS`` keeps the largest
error seen per case (printed with ``-s``) for the record.
"""

import copy

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import numconv
from numconv import cli, models, nn
from numconv.interop import UnsupportedLayerError, from_onnx, to_onnx
from numconv.interop.onnx_export import module_tree

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOLERANCE = 1e-5
ERRORS = {}


def run_onnx(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def numconv_eval(model, x):
    model.eval()
    with numconv.no_grad():
        return np.asarray(model(x))


def relative_error(ours, theirs):
    return float(np.max(np.abs(ours - theirs)) / max(float(np.max(np.abs(theirs))), 1e-30))


def check_model(model, input_shape, tmp_path, key, opset=17, batch=3, round_trip=True):
    """Export, run in onnxruntime (another batch size than exported), import back; compare all three.

    ``round_trip=False`` for a model with its own forward that branches (ResNet, U-Net): the file cannot say
    how to rebuild its class, and ``from_onnx`` refuses it (tested in ``test_custom_forward_via_the_tape``).
    """
    path = to_onnx(model, input_shape, tmp_path / "model.onnx", opset=opset)
    x = np.random.default_rng(7).standard_normal((batch, *input_shape[1:])).astype(np.float32)
    expected = numconv_eval(model, x)
    got = run_onnx(path, x)
    assert got.shape == expected.shape
    err = relative_error(got, expected)
    ERRORS[key] = max(ERRORS.get(key, 0.0), err)
    assert err <= TOLERANCE, f"{key}: onnxruntime differs from numconv by {err:.2e} (relative)"
    if not round_trip:
        return path
    back = from_onnx(path)
    original, restored = model.state_dict(), back.state_dict()
    assert list(original) == list(restored)
    for name in original:
        np.testing.assert_array_equal(restored[name], original[name], err_msg=name)
    np.testing.assert_array_equal(numconv_eval(back, x), expected)
    return path


def randomise_statistics(model, seed=0):
    """Non-trivial running statistics, so batch norm's inference form is really exercised."""
    rng = np.random.default_rng(seed)
    for module in model.modules():
        if getattr(module, "running_mean", None) is not None:
            module.running_mean[...] = rng.standard_normal(module.running_mean.shape)
            module.running_var[...] = rng.random(module.running_var.shape) + 0.5
            module.num_batches_tracked[...] = 17
    return model


# Every model of numconv.models, narrowed where it has a width argument (the layers are the same); the ones that
# need 224 x 224 input take a few seconds each (exported from a batch of 1, run on a batch of 2).
MODEL_KWARGS = {"simplecnn": {"input_size": 32}, "vgg": {"input_size": 32}, "unetmini": {"width": 4},
                "autoencoder": {"channels": (4, 8)}, **{name: {"num_classes": 10, "hidden": 64} for name in
                                                        ("alexnet", "zfnet", "vgg11", "vgg16")},
                "resnet18": {"num_classes": 10}, "resnet34": {"num_classes": 10}}
LARGE = {"alexnet", "zfnet", "vgg11", "vgg16", "resnet18", "resnet34", "googlenetmini"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in LARGE else n
                                  for n in models.available()])
def test_every_model(name, tmp_path):
    numconv.manual_seed(0)
    model = randomise_statistics(models.get_model(name, **MODEL_KWARGS.get(name, {})))
    shape = (1, 3, 64, 64) if name in ("resnet18", "resnet34") else (1, *model.input_shape)  # any size >= 32
    check_model(model, shape, tmp_path, f"model {name}", batch=2, round_trip=module_tree(model) is not None)


def test_lenet5_variants_and_opsets(tmp_path):
    for activation, pooling in (("relu", "max"), ("tanh", "avg")):
        check_model(models.LeNet5(activation=activation, pooling=pooling), (1, 1, 32, 32), tmp_path,
                    f"lenet5 {activation}/{pooling}")
    for opset in (13, 18, 21):
        check_model(models.LeNet5(), (1, 1, 32, 32), tmp_path, f"lenet5 opset {opset}", opset=opset)


ACTIVATIONS = [nn.ReLU(), nn.LeakyReLU(0.2), nn.PReLU(4, init=0.3), nn.PReLU(), nn.ELU(0.7), nn.CELU(1.3), nn.SELU(),
               nn.GELU(), nn.GELU(approximate="tanh"), nn.SiLU(), nn.Mish(), nn.Sigmoid(), nn.Tanh(),
               nn.Hardtanh(-0.5, 2.0), nn.ReLU6(), nn.Hardsigmoid(), nn.Hardswish(), nn.Softplus(),
               nn.Softplus(beta=2.0, threshold=1.5), nn.Softsign(), nn.Threshold(0.1, -2.0), nn.Softmax(dim=1),
               nn.LogSoftmax(dim=1), nn.Softmin(dim=3), nn.Step(), nn.Identity(), nn.Dropout(0.3),
               nn.Dropout2d(), nn.AlphaDropout(0.2)]


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda m: repr(m))
def test_every_activation(activation, tmp_path):
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), activation)
    key = f"activation {activation!r}"
    check_model(model, (2, 2, 5, 6), tmp_path, key)
    if isinstance(activation, (nn.GELU, nn.Mish)):
        check_model(model, (2, 2, 5, 6), tmp_path, key + " native op", opset=20)


LAYERS = [
    (nn.Conv1d(3, 4, 3, stride=2, padding=2, dilation=2), (2, 3, 11)),
    (nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), groups=2, bias=False), (2, 4, 7, 6)),
    (nn.Conv2d(3, 4, 4, padding="same", dilation=2), (2, 3, 9, 8)),
    (nn.Conv2d(3, 4, 3, padding=2, padding_mode="reflect"), (2, 3, 6, 7)),
    (nn.Conv2d(3, 4, 3, padding=1, padding_mode="replicate"), (2, 3, 6, 7)),
    (nn.Conv3d(2, 3, 2, stride=(1, 2, 1), padding=1), (1, 2, 4, 5, 4)),
    (nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 10)),
    (nn.MaxPool2d(3, stride=2, padding=1, dilation=2), (2, 3, 11, 9)),
    (nn.MaxPool2d(2, ceil_mode=True), (2, 3, 7, 5)),
    (nn.MaxPool3d(2), (1, 2, 4, 4, 6)),
    (nn.AvgPool1d(3, stride=2, padding=1, count_include_pad=False), (2, 3, 10)),
    (nn.AvgPool2d(3, stride=2, padding=1), (2, 3, 9, 8)),
    (nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False), (2, 3, 8, 8)),
    (nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 8, 8)),
    (nn.AvgPool2d(1, stride=2, ceil_mode=True, count_include_pad=False), (2, 3, 6, 7)),
    (nn.MaxPool2d(1, stride=2, ceil_mode=True), (2, 3, 6, 7)),
    (nn.AvgPool3d(2, stride=1), (1, 2, 3, 4, 3)),
    (nn.AdaptiveAvgPool2d(1), (2, 3, 5, 7)),
    (nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 4, 9)),
    (nn.AdaptiveMaxPool2d(1), (2, 3, 5, 7)),
    (nn.AdaptiveMaxPool1d(2), (2, 3, 8)),
    (nn.AdaptiveAvgPool3d(1), (1, 2, 3, 4, 5)),
    (nn.BatchNorm1d(5), (4, 5)),
    (nn.BatchNorm1d(3), (2, 3, 6)),
    (nn.BatchNorm2d(3, affine=False), (2, 3, 4, 5)),
    (nn.BatchNorm3d(2, eps=1e-3), (2, 2, 3, 3, 3)),
    (nn.InstanceNorm1d(3, affine=True), (2, 3, 7)),
    (nn.InstanceNorm2d(3), (2, 3, 5, 6)),
    (nn.InstanceNorm2d(3, affine=True, track_running_stats=True), (2, 3, 5, 6)),
    (nn.LayerNorm((4, 5)), (2, 3, 4, 5)),
    (nn.LayerNorm(5, elementwise_affine=False), (2, 3, 4, 5)),
    (nn.GroupNorm(2, 4), (2, 4, 3, 5)),
    (nn.GroupNorm(3, 6, affine=False), (2, 6, 7)),
    (nn.LocalResponseNorm(3, alpha=0.01, beta=0.6, k=2.0), (2, 5, 4, 4)),
    (nn.LocalResponseNorm(3, alpha=0.5), (2, 6, 7)),  # onnxruntime's LRN is 4-D only: folded and back
    (nn.LocalResponseNorm(5), (1, 6, 2, 3, 4)),
    (nn.Flatten(), (2, 3, 4, 5)),
    (nn.Flatten(2), (2, 3, 4, 5)),
    (nn.Unflatten(1, (2, 6)), (2, 12, 3)),
    (nn.Linear(5, 3), (4, 5)),
    (nn.Linear(5, 3, bias=False), (2, 3, 5)),
    (nn.Maxout(3), (2, 6, 4, 4)),
]


@pytest.mark.parametrize("layer, shape", LAYERS, ids=lambda v: repr(v) if isinstance(v, nn.Module) else "")
def test_every_layer(layer, shape, tmp_path):
    numconv.manual_seed(1)
    for p in layer.parameters():  # affine parameters away from their 1 / 0 starting values
        p.data[...] = np.random.default_rng(3).standard_normal(p.data.shape).astype(p.data.dtype)
    check_model(nn.Sequential(randomise_statistics(layer)), shape, tmp_path, f"layer {layer!r}")


# ------------------------------------------------------------------------------- hypothesis-drawn networks
BLOCKS = ["conv", "maxpool", "avgpool", "batchnorm", "groupnorm", "instancenorm", "lrn", "activation", "residual",
          "parallel", "convtranspose", "pad", "upsample", "shuffle"]
PADS = [nn.ZeroPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d, nn.ConstantPad2d, nn.CircularPad2d]
UPSAMPLE_MODES = [("nearest", None), ("nearest-exact", None), ("bilinear", False), ("bilinear", True)]


@st.composite
def networks(draw):
    channels, size = draw(st.integers(1, 4)), draw(st.integers(6, 11))
    layers, c = [], channels
    for _ in range(draw(st.integers(1, 4))):
        kind, c_before = draw(st.sampled_from(BLOCKS)), c
        if kind == "conv":
            out, k = draw(st.integers(1, 5)), draw(st.integers(1, 3))
            groups = draw(st.sampled_from([g for g in (1, 2) if c % g == 0 and out % g == 0]))
            layers.append(nn.Conv2d(c, out, k, stride=draw(st.integers(1, 2)), padding=draw(st.integers(0, k // 2)),
                                    dilation=draw(st.integers(1, 2)) if size > 4 * k else 1, groups=groups,
                                    bias=draw(st.booleans()),
                                    padding_mode=draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))))
            c = out
        elif kind in ("maxpool", "avgpool"):
            k = draw(st.integers(1, 3))
            stride, padding = draw(st.integers(1, 2)), draw(st.integers(0, k // 2))
            ceil = draw(st.booleans())
            layers.append(nn.MaxPool2d(k, stride, padding, ceil_mode=ceil) if kind == "maxpool" else
                          nn.AvgPool2d(k, stride, padding, ceil_mode=ceil, count_include_pad=draw(st.booleans())))
        elif kind == "batchnorm":
            layers.append(nn.BatchNorm2d(c, affine=draw(st.booleans())))
        elif kind == "groupnorm":
            layers.append(nn.GroupNorm(draw(st.sampled_from([g for g in range(1, c + 1) if c % g == 0])), c))
        elif kind == "instancenorm":
            layers.append(nn.InstanceNorm2d(c, affine=draw(st.booleans())))
        elif kind == "lrn":
            layers.append(nn.LocalResponseNorm(draw(st.sampled_from([1, 3, 5]))))
        elif kind == "residual":
            body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), copy.deepcopy(draw(st.sampled_from(ACTIVATIONS[:21]))))
            layers.append(nn.Residual(body, nn.Conv2d(c, c, 1) if draw(st.booleans()) else None))
        elif kind == "convtranspose":
            out, k, stride, dilation = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 2)), \
                draw(st.integers(1, 2))
            layers.append(nn.ConvTranspose2d(c, out, k, stride=stride, padding=draw(st.integers(0, k - 1)),
                                             output_padding=draw(st.integers(0, max(stride, dilation) - 1)),
                                             dilation=dilation, bias=draw(st.booleans())))
            c = out
        elif kind == "pad":
            cls = draw(st.sampled_from(PADS))
            amounts = tuple(draw(st.lists(st.integers(-1, 2), min_size=4, max_size=4)))
            layers.append(cls(amounts, 0.5) if cls is nn.ConstantPad2d else cls(amounts))
        elif kind == "upsample":
            mode, align = draw(st.sampled_from(UPSAMPLE_MODES))
            if draw(st.booleans()):
                resize = {"scale_factor": draw(st.sampled_from([0.5, 0.7, 1.5, 2.0, 2.3]))}
            else:
                resize = {"size": (draw(st.integers(1, 12)), draw(st.integers(1, 12)))}
            layers.append(nn.Upsample(**resize, mode=mode, align_corners=align))
        elif kind == "shuffle":
            if c % 4 == 0 and draw(st.booleans()):
                layers.append(nn.PixelShuffle(2))
                c //= 4
            else:
                layers.append(nn.PixelUnshuffle(2))
                c *= 4
        elif kind == "parallel":
            merge = draw(st.sampled_from(["cat", "add"]))
            widths = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(1, 3)))]
            if merge == "add":
                widths = [widths[0]] * len(widths)
            layers.append(nn.Parallel(*(nn.Conv2d(c, w, 1) for w in widths), merge=merge))
            c = sum(widths) if merge == "cat" else widths[0]
        else:
            layers.append(copy.deepcopy(draw(st.sampled_from(ACTIVATIONS[:21]))))  # one instance per place
        try:  # keep only what still fits the image (and keeps it small)
            size_probe = nn.Sequential(*layers)
            if max(numconv_eval(size_probe, np.zeros((1, channels, size, size), np.float32)).shape[2:]) > 32:
                raise ValueError("too large")
        except ValueError:
            layers.pop()
            c = c_before
    layers += [nn.Flatten()]
    probe = numconv_eval(nn.Sequential(*layers), np.zeros((1, channels, size, size), np.float32))
    layers.append(nn.Linear(probe.shape[1], draw(st.integers(1, 4))))
    return nn.Sequential(*layers), (2, channels, size, size)


@pytest.mark.slow
@settings(max_examples=25)
@given(net=networks(), seed=st.integers(0, 2**16))
def test_random_networks(net, seed, tmp_path_factory):
    model, shape = net
    numconv.manual_seed(seed)
    randomise_statistics(model, seed)
    try:
        check_model(model, shape, tmp_path_factory.mktemp("net"), "hypothesis networks")
    except UnsupportedLayerError as error:  # the one refusal a drawn network may meet (tested on its own above)
        assert "PyTorch drops a last window" in str(error)
        assume(False)


# ------------------------------------------------------------------------------- errors, foreign files, CLI
class Doubler(nn.Module):
    """A layer of one's own, with a hand-written backward: nothing tells export what it computes."""

    def forward(self, x):
        return x * 2

    def backward(self, grad_output):
        return grad_output * 2


@pytest.mark.parametrize("model, shape, message", [
    (nn.Sequential(nn.AvgPool2d((1, 2), stride=2, ceil_mode=True)), (1, 1, 6, 7), "PyTorch drops a last window"),
    (nn.Sequential(nn.AvgPool2d(2, divisor_override=3)), (1, 1, 4, 4), "AvgPool2d at '0': divisor_override=3"),
    (nn.Sequential(nn.Conv2d(1, 1, 1), nn.AdaptiveAvgPool2d(3)), (1, 1, 5, 5), "from (5, 5) to (3, 3)"),
    (nn.Sequential(nn.LocalResponseNorm(2)), (1, 3, 2, 2), "even size=2"),
    (nn.Sequential(nn.BatchNorm2d(2, track_running_stats=False)), (2, 2, 3, 3), "without running statistics"),
    (nn.Sequential(nn.MaxPool2d(2, return_indices=True)), (1, 1, 4, 4), "return_indices=True"),
    (nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 3), Doubler())), (1, 1, 6, 6),
     "Doubler at '0.1' is a layer ONNX export does not cover"),
])
def test_unsupported_layers_are_named(model, shape, message, tmp_path):
    with pytest.raises(UnsupportedLayerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        to_onnx(model, shape, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


class Net(nn.Module):
    """A model with its own forward: export follows its tape (a reshape, a fork, an nn.Add, an nn.Cat)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.add = nn.Add()
        self.cat = nn.Cat(1)
        self.fc = nn.Linear(8 * 5 * 5, 3)

    def forward(self, x):
        y = self.conv(x)
        z = self.cat(self.add(self.act(y), y), y)
        return self.fc(z.reshape(z.shape[0], -1))


class Chain(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(2 * 3 * 3, 4)

    def forward(self, x):
        return self.fc(self.conv(x).reshape(x.shape[0], -1))


def test_custom_forward_via_the_tape(tmp_path):
    model = Net()
    path = to_onnx(model, (1, 2, 5, 5), tmp_path / "net.onnx")
    x = np.random.default_rng(0).standard_normal((3, 2, 5, 5)).astype(np.float32)
    err = relative_error(run_onnx(path, x), numconv_eval(model, x))
    ERRORS["custom forward"] = err
    assert err <= TOLERANCE
    ops = [node.op_type for node in onnx.load(path).graph.node]
    assert ops[:6] == ["Conv", "Relu", "Add", "Concat", "Reshape", "Gemm"]
    with pytest.raises(UnsupportedLayerError, match="only chains of layers import"):
        from_onnx(path)  # a branching graph without a module tree: the class's code is not in the file
    chain = Chain()
    path = to_onnx(chain, (1, 1, 5, 5), tmp_path / "chain.onnx")
    back = from_onnx(path)  # a chain imports: conv, the reshape as a Flatten, fc
    x = x[:, :1]
    np.testing.assert_array_equal(numconv_eval(back, x), numconv_eval(chain, x))
    assert list(back.state_dict()) == list(chain.state_dict())


def test_merge_modules(tmp_path):
    numconv.manual_seed(2)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.Residual(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())),
        nn.Residual(nn.Conv2d(4, 6, 1, stride=2), shortcut=nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(4, 6, 1))),
        nn.Parallel(nn.Conv2d(6, 2, 1), nn.Sequential(nn.Conv2d(6, 3, 3, padding=1), nn.GELU()), merge="cat"),
        nn.Parallel(nn.Conv2d(5, 2, 1), nn.Conv2d(5, 2, 1), merge="add"),
        nn.Flatten(), nn.Linear(2 * 3 * 3, 3))
    check_model(randomise_statistics(model), (2, 2, 6, 6), tmp_path, "merge modules")


def as_foreign_file(path, tmp_path):
    """A copy of the ONNX file at ``path`` as another exporter writes it: no numconv metadata, other node names."""
    proto = onnx.load(path)
    del proto.metadata_props[:]
    for node in proto.graph.node:
        node.name = f"n_{node.name.replace('/', '_')}"
    onnx.save(proto, tmp_path / "foreign.onnx")
    return tmp_path / "foreign.onnx"


def test_foreign_file_maps_operators(tmp_path):
    """A file without numconv's metadata (as another exporter writes) imports operator by operator."""
    model = randomise_statistics(models.SmallVGG(input_size=32, channels=(4, 8)))
    imported = from_onnx(as_foreign_file(to_onnx(model, (1, 3, 32, 32), tmp_path / "vgg.onnx"), tmp_path))
    assert isinstance(imported[0], nn.Conv2d) and isinstance(imported[1], nn.BatchNorm2d)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    np.testing.assert_array_equal(numconv_eval(imported, x), numconv_eval(model, x))


def test_branching_graph_is_refused(tmp_path):
    helper = onnx.helper
    nodes = [helper.make_node("Relu", ["input"], ["a"], name="a"), helper.make_node("Add", ["a", "input"], ["output"],
                                                                                       name="b")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, [1, 2])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "branch.onnx")
    with pytest.raises(UnsupportedLayerError, match="node 'b' \\(Add\\) reads"):
        from_onnx(tmp_path / "branch.onnx")


@pytest.mark.slow
def test_export_command(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(["train", "--out", str(run), "--epochs", "1", "--limit-train", "64", "--limit-test", "32",
                     "--no-progress"]) == 0
    assert cli.main(["export", str(run / "last.npz"), str(tmp_path / "lenet5.onnx")]) == 0
    assert "wrote" in capsys.readouterr().out
    model, _ = cli._load_model(str(run / "last.npz"))
    x = np.random.default_rng(0).standard_normal((5, 1, 32, 32)).astype(np.float32)
    assert relative_error(run_onnx(tmp_path / "lenet5.onnx", x), numconv_eval(model, x)) <= TOLERANCE
    assert cli.main(["export", str(run / "missing.npz"), str(tmp_path / "x.onnx")]) == 2


def test_a_model_without_parameters_exports_in_the_dtype_asked_for(tmp_path):
    # Its dtype cannot come from its parameters: float32 by default, float64 on request.
    import onnxruntime

    model = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2))
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    path = to_onnx(model, (1, 2, 4, 4), tmp_path / "m.onnx", dtype=np.float64)
    out = onnxruntime.InferenceSession(str(path)).run(None, {"input": x})[0]
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, model(x))
    with pytest.raises(ValueError, match=r"dtype=float64 differs from the model's parameters \(float32\)"):
        to_onnx(nn.Linear(2, 2), (1, 2), tmp_path / "l.onnx", dtype=np.float64)
