"""Validation at the public boundary: every bad input gives a clear error naming the problem.

Each case is one bad call: the exception type (``ValueError`` for a bad
shape or value, ``TypeError`` for a bad dtype or type) and a pattern the
message must contain, so a vague message fails the test just as a wrong
answer would.
"""

import numpy as np
import pytest

from numconv import functional as F
from numconv import nn, optim
from numconv._checks import as_float_array


def _x(*shape, dtype=np.float32):
    return np.zeros(shape, dtype=dtype)


def _params():
    return [nn.Parameter(np.zeros(3, dtype=np.float32))]


def _ce(logits_shape, target):
    return nn.CrossEntropyLoss()(np.zeros(logits_shape, dtype=np.float32), np.asarray(target))


def _backward_with(layer, x, dout):
    layer(x)
    return layer.backward(dout)


def _loss_backward_with(criterion, x, grad):
    criterion(x, x)
    return criterion.backward(grad)


class _TensorLike:
    """Stands in for a torch tensor (``detach`` and ``numpy``) without importing torch."""

    def detach(self):
        return self

    def numpy(self):
        return np.zeros(3)


# (id, call, exception, pattern the message must contain)
CASES = [
    # ---- dtypes: float32 and float64 only, with a hint on how to convert
    ("int64 pixels", lambda: nn.Conv2d(1, 2, 3)(_x(1, 1, 5, 5, dtype=np.int64)), TypeError,
     r"^Conv2d: expected input of dtype float32 or float64, got int64 .*x\.astype\(np\.float32\)"),
    ("uint8 pixels", lambda: nn.MaxPool2d(2)(_x(1, 1, 4, 4, dtype=np.uint8)), TypeError,
     r"got uint8 .*/ 255 for 8-bit pixels"),
    ("bool input", lambda: nn.Linear(3, 2)(_x(2, 3, dtype=bool)), TypeError, r"^Linear: .*got bool"),
    ("complex input", lambda: nn.ReLU()(_x(3, dtype=np.complex128)), TypeError,
     r"got complex128 \(complex numbers are not supported; use x\.real or np\.abs\(x\)\)"),
    ("object input", lambda: F.relu(np.array([1.0, None])), TypeError, r"^relu: .*got object"),
    ("float16 input", lambda: nn.BatchNorm2d(1)(_x(2, 1, 3, 3, dtype=np.float16)), TypeError,
     r"float16 is not supported; use x\.astype\(np\.float32\)"),
    ("float16 scalar", lambda: F.relu(np.float16(1.0)), TypeError, r"float16 is not supported"),
    ("int scalar", lambda: F.relu(np.int64(3)), TypeError, r"got int64"),
    ("longdouble input", lambda: F.softmax(_x(2, 3, dtype=np.longdouble), 1), TypeError,
     r"use x\.astype\(np\.float64\)"),
    ("a tensor, not an array", lambda: nn.Linear(3, 2)(_TensorLike()), TypeError,
     r"expected input to be a NumPy array .*got _TensorLike; convert a tensor with t\.detach\(\)\.numpy\(\)"),
    ("a string", lambda: F.relu("1.0"), TypeError, r"expected input to be a NumPy array .*got str"),
    ("list of strings", lambda: F.relu(["a", "b"]), TypeError, r"expected input to hold numbers"),
    ("ragged list", lambda: F.relu([[1.0], [1.0, 2.0]]), ValueError, r"rows of different lengths"),
    ("int64 conv weight", lambda: F.conv2d(_x(1, 1, 4, 4), np.zeros((1, 1, 2, 2), dtype=np.int64)), TypeError,
     r"^conv2d: expected weight of dtype float32 or float64, got int64"),
    # ---- rank
    ("2-D image to Conv2d", lambda: nn.Conv2d(1, 2, 3)(_x(28, 28)), ValueError,
     r"^Conv2d: expected a 3-D or 4-D input \(C, H, W\) or \(N, C, H, W\), got shape \(28, 28\) \(2-D\); "
     r".*x\[np\.newaxis\] has shape \(1, 28, 28\)"),
    ("1-D input to Conv2d", lambda: nn.Conv2d(1, 2, 3)(_x(28)), ValueError,
     r"x\[np\.newaxis, np\.newaxis\] has shape \(1, 1, 28\)"),
    ("0-d input to Conv1d", lambda: nn.Conv1d(1, 2, 3)(np.float32(1.0)), ValueError,
     r"^Conv1d: expected a 2-D or 3-D input .*got shape \(\) \(0-D\)"),
    ("6-D input to Conv3d", lambda: nn.Conv3d(1, 2, 3)(_x(1, 1, 1, 4, 4, 4)), ValueError,
     r"^Conv3d: expected a 4-D or 5-D input"),
    ("5-D input to MaxPool2d", lambda: nn.MaxPool2d(2)(_x(1, 1, 1, 4, 4)), ValueError,
     r"^MaxPool2d: expected a 3-D or 4-D input"),
    ("3-D input to BatchNorm2d", lambda: nn.BatchNorm2d(3)(_x(3, 4, 4)), ValueError,
     r"^BatchNorm2d: expected a 4-D input \(N, C, H, W\), got shape \(3, 4, 4\)"),
    ("0-d logits", lambda: _ce((), 0), ValueError, r"^CrossEntropyLoss: expected input of shape \(C,\), \(N, C\)"),
    ("0-d input to maxout", lambda: F.maxout(np.float32(1.0), 2), ValueError, r"^maxout: .*0-D"),
    # ---- channels: count, channel-last layout, groups
    ("channel-last batch", lambda: nn.Conv2d(3, 8, 3)(_x(8, 28, 28, 3)), ValueError,
     r"^Conv2d: expected input with 3 channels \(weight has shape \(8, 3, 3, 3\)\), got input of shape "
     r"\(8, 28, 28, 3\); it looks channel-last.*x\.transpose\(0, 3, 1, 2\)"),
    ("channel-last image", lambda: nn.Conv2d(3, 8, 3)(_x(28, 28, 3)), ValueError, r"x\.transpose\(2, 0, 1\)"),
    ("channel-last to batch norm", lambda: nn.BatchNorm2d(3)(_x(4, 5, 5, 3)), ValueError,
     r"^BatchNorm2d: expected input with 3 channels on axis 1 .*x\.transpose\(0, 3, 1, 2\)"),
    ("wrong channel count", lambda: nn.Conv2d(3, 8, 3)(_x(8, 1, 28, 28)), ValueError,
     r"expected input with 3 channels .*got input of shape \(8, 1, 28, 28\)$"),
    ("input channels not divisible by groups", lambda: F.conv2d(_x(1, 3, 4, 4), _x(2, 1, 2, 2), groups=2),
     ValueError, r"^conv2d: input channels \(3\) must be divisible by groups \(2\)"),
    ("group norm channels", lambda: nn.GroupNorm(2, 4)(_x(2, 6, 3)), ValueError,
     r"^GroupNorm: expected input with 4 channels"),
    ("PReLU channels", lambda: nn.PReLU(3)(_x(2, 4, 5)), ValueError, r"^PReLU: expected an input with 3 channels"),
    ("no channel to pool", lambda: nn.MaxPool2d(2)(_x(2, 0, 4, 4)), ValueError,
     r"^MaxPool2d: expected at least one channel \(only the batch axis may be empty\)"),
    # ---- sizes
    ("kernel larger than padded input", lambda: nn.Conv2d(1, 1, 5, padding=0)(_x(1, 1, 4, 4)), ValueError,
     r"^Conv2d: kernel size \(5, 5\) with dilation \(1, 1\) spans 5 pixels, but the padded input is only 4 x 4"),
    ("empty spatial axis", lambda: nn.Conv1d(1, 1, 1, padding=1)(_x(2, 1, 0)), ValueError,
     r"^Conv1d: expected non-empty spatial dimensions"),
    ("pool window larger than input", lambda: nn.MaxPool2d(5)(_x(1, 1, 4, 4)), ValueError,
     r"^MaxPool2d: kernel_size \(5, 5\) .*the output would have size"),
    ("3-D average pool smaller than kernel", lambda: nn.AvgPool3d(3, padding=1)(_x(1, 1, 2, 4, 4)), ValueError,
     r"^AvgPool3d: input of spatial size \(2, 4, 4\) is smaller than kernel_size \(3, 3, 3\)"),
    ("Linear width", lambda: nn.Linear(4, 2)(_x(3, 5)), ValueError,
     r"^Linear: expected input with last axis 4 \(weight has shape \(2, 4\)\), got input of shape \(3, 5\)"),
    ("layer norm shape", lambda: nn.LayerNorm((3, 4))(_x(2, 4, 3)), ValueError,
     r"^LayerNorm: expected an input of shape \(\*, 3, 4\)"),
    ("batch norm needs two values", lambda: nn.BatchNorm1d(3)(_x(1, 3)), ValueError,
     r"Expected more than 1 value per channel when training"),
    ("softmax dim", lambda: nn.Softmax(dim=3)(_x(2, 3)), ValueError,
     r"^softmax: dim 3 is out of range for an input of shape \(2, 3\)"),
    ("flatten dims", lambda: nn.Flatten(start_dim=5)(_x(2, 3)), ValueError, r"^Flatten: start_dim=5.*out of range"),
    ("dropout1d rank", lambda: F.dropout1d(_x(2, 3, 4, 5)), ValueError, r"^dropout1d: expected a 2-D or 3-D input"),
    # ---- upstream gradients
    ("relu dout shape", lambda: _backward_with(nn.ReLU(), _x(2, 3), _x(3, 2)), ValueError,
     r"^relu_backward: expected dout of shape \(2, 3\)"),
    ("linear dout shape", lambda: F.linear_backward(_x(2, 3), F.linear(_x(2, 4), _x(2, 4))[1]), ValueError,
     r"^linear_backward: expected dout of shape \(2, 2\) \(the output's\), got \(2, 3\)"),
    ("conv dout shape", lambda: _backward_with(nn.Conv2d(1, 1, 3), _x(1, 1, 5, 5), _x(1, 1, 5, 5)), ValueError,
     r"expected dout of shape \(1, 1, 3, 3\)"),
    ("loss upstream shape", lambda: _loss_backward_with(nn.MSELoss(reduction="none"), _x(2, 3), _x(3)), ValueError,
     r"^MSELoss\.backward: expected grad_output of the loss's shape \(2, 3\) \(reduction='none'\), got shape \(3,\)"),
    # ---- weights and biases given to functional ops
    ("conv weight rank", lambda: F.conv2d(_x(1, 1, 4, 4), _x(1, 2, 2)), ValueError,
     r"^conv2d: expected a 4-D weight \(out_channels, in_channels/groups, kH, kW\), got shape \(1, 2, 2\)"),
    ("conv bias shape", lambda: F.conv2d(_x(1, 1, 4, 4), _x(2, 1, 2, 2), _x(3)), ValueError,
     r"^conv2d: expected bias of shape \(2,\) \(one per output channel\), got \(3,\)"),
    ("linear weight rank", lambda: F.linear(_x(2, 3), _x(3)), ValueError, r"^linear: expected weight of shape"),
    ("class weight shape", lambda: nn.CrossEntropyLoss(weight=_x(4))(_x(2, 3), np.array([0, 1])), ValueError,
     r"^CrossEntropyLoss: expected weight of shape \(3,\), one per class, got weight of shape \(4,\)"),
    # ---- loss targets
    ("class index out of range", lambda: _ce((5, 10), [1, 2, 3, 12, 0]), ValueError,
     r"^CrossEntropyLoss: target\[3\] = 12 is out of range for 10 classes"),
    ("negative class index", lambda: _ce((3, 4), [-1, 0, 0]), ValueError,
     r"target\[0\] = -1 is out of range for 4 classes \(expected 0 <= target < 4, or ignore_index=-100\)"),
    ("bad index in a segmentation map", lambda: _ce((2, 3, 4), [[0, 1, 2, 5], [0, 0, 0, 0]]), ValueError,
     r"target\[0, 3\] = 5 is out of range for 3 classes"),
    ("NLL index out of range", lambda: nn.NLLLoss()(_x(2, 3), np.array([0, 3])), ValueError,
     r"^NLLLoss: target\[1\] = 3 is out of range for 3 classes"),
    ("target of the wrong length", lambda: _ce((4, 3), [0, 1, 2]), ValueError,
     r"expected target of shape \(4,\) for input of shape \(4, 3\), got target of shape \(3,\)"),
    ("boolean target", lambda: _ce((2, 3), np.array([True, False])), TypeError, r"got bool"),
    ("float target of the index shape", lambda: _ce((2, 3), np.array([0.0, 1.0])), TypeError,
     r"a float target is read as class probabilities and must have the input's shape \(2, 3\)"),
    ("BCE input outside [0, 1]", lambda: nn.BCELoss()(np.array([0.2, 1.5]), np.array([0.0, 1.0])), ValueError,
     r"^BCELoss: input\[1\] = 1\.5 is outside \[0, 1\] \(input must be probabilities\)"),
    ("BCE target outside [0, 1]", lambda: nn.BCELoss()(np.array([0.2, 0.5]), np.array([-0.5, 1.0])), ValueError,
     r"^BCELoss: target\[0\] = -0\.5 is outside \[0, 1\]"),
    ("BCE NaN probability", lambda: nn.BCELoss()(np.array([np.nan]), np.array([1.0])), ValueError,
     r"input\[0\] = nan is outside \[0, 1\]"),
    ("MSE shape mismatch", lambda: nn.MSELoss()(_x(4, 1), _x(4)), ValueError,
     r"^MSELoss: expected target of the input's shape \(4, 1\), got target of shape \(4,\)"),
    ("BCE weight not broadcastable", lambda: nn.BCELoss(weight=_x(3))(_x(2, 2) + 0.5, _x(2, 2)), ValueError,
     r"weight of shape \(3,\) cannot be broadcast to the input's shape \(2, 2\)"),
    # ---- layer hyper-parameters, checked when the layer is built
    ("kernel_size 0", lambda: nn.Conv2d(1, 1, 0), ValueError,
     r"^Conv2d: expected every entry of kernel_size to be >= 1, got 0"),
    ("stride 0", lambda: nn.Conv2d(1, 1, 3, stride=0), ValueError, r"^Conv2d: .*stride to be >= 1, got 0"),
    ("negative stride", lambda: nn.Conv1d(1, 1, 3, stride=(-1,)), ValueError, r"stride to be >= 1, got \(-1,\)"),
    ("negative padding", lambda: nn.Conv2d(1, 1, 3, padding=-1), ValueError, r"padding to be >= 0, got -1"),
    ("dilation 0", lambda: nn.Conv3d(1, 1, 3, dilation=0), ValueError, r"dilation to be >= 1, got 0"),
    ("groups do not divide in_channels", lambda: nn.Conv2d(4, 6, 3, groups=3), ValueError,
     r"^Conv2d: in_channels \(4\) must be divisible by groups \(3\)"),
    ("groups do not divide out_channels", lambda: nn.Conv2d(6, 4, 3, groups=3), ValueError,
     r"^Conv2d: out_channels \(4\) must be divisible by groups \(3\)"),
    ("groups 0", lambda: nn.Conv2d(2, 2, 3, groups=0), ValueError, r"groups >= 1, got 0"),
    ("no input channels", lambda: nn.Conv2d(0, 2, 3), ValueError, r"^Conv2d: expected in_channels >= 1, got 0"),
    ("kernel_size a float", lambda: nn.Conv2d(1, 1, 2.5), TypeError, r"kernel_size to be an int or a tuple of 2 ints"),
    ("'same' with stride", lambda: nn.Conv2d(1, 1, 3, stride=2, padding="same"), ValueError,
     r"padding='same' is not supported for strided convolutions"),
    ("unknown padding_mode", lambda: nn.Conv2d(1, 1, 3, padding_mode="mirror"), ValueError,
     r"padding_mode must be one of"),
    ("pool kernel 0", lambda: nn.MaxPool2d(0), ValueError, r"^MaxPool2d: expected every entry of kernel_size"),
    ("pool padding over half the kernel", lambda: nn.MaxPool2d(2, padding=2), ValueError,
     r"^MaxPool2d: padding \(2, 2\) must be at most half of kernel_size \(2, 2\)"),
    ("pool stride 0", lambda: nn.AvgPool2d(2, stride=0), ValueError, r"^AvgPool2d: .*stride to be >= 1"),
    ("dropout p above 1", lambda: nn.Dropout(1.5), ValueError, r"^Dropout: expected p between 0 and 1, got 1\.5"),
    ("dropout p negative", lambda: nn.Dropout2d(-0.1), ValueError, r"^Dropout2d: expected p between 0 and 1"),
    ("dropout p a string", lambda: nn.Dropout("0.5"), TypeError, r"^Dropout: expected p to be a number"),
    ("batch norm eps negative", lambda: nn.BatchNorm2d(3, eps=-1e-5), ValueError, r"^BatchNorm2d: expected eps >= 0"),
    ("group norm groups", lambda: nn.GroupNorm(3, 4), ValueError,
     r"^GroupNorm: num_channels \(4\) must be divisible by num_groups \(3\)"),
    ("layer norm shape negative", lambda: nn.LayerNorm((3, -1)), ValueError, r"^LayerNorm: expected normalized_shape"),
    ("Linear features negative", lambda: nn.Linear(-1, 2), ValueError,
     r"^Linear: expected in_features to be a non-negative int, got -1"),
    ("Flatten dim a string", lambda: nn.Flatten("1"), TypeError, r"^Flatten: expected start_dim to be an int"),
    ("Hardtanh range", lambda: nn.Hardtanh(1.0, -1.0), ValueError, r"expected max_val > min_val"),
    ("CELU alpha 0", lambda: nn.CELU(0.0), ValueError, r"^CELU: alpha must be non-zero"),
    ("label smoothing", lambda: nn.CrossEntropyLoss(label_smoothing=1.5), ValueError,
     r"label_smoothing must be between 0\.0 and 1\.0, got 1\.5"),
    ("Huber delta", lambda: nn.HuberLoss(delta=0.0), ValueError, r"^HuberLoss: delta must be > 0"),
    ("smooth L1 beta", lambda: nn.SmoothL1Loss(beta=-1.0), ValueError, r"^SmoothL1Loss: beta must be >= 0"),
    ("reduction", lambda: nn.MSELoss(reduction="avg"), ValueError,
     r"^MSELoss: reduction must be one of 'none', 'mean', 'sum', got 'avg'"),
    ("ceil_mode 1", lambda: F.max_pool2d(_x(1, 1, 4, 4), 2, ceil_mode=1), TypeError,
     r"^max_pool2d: expected ceil_mode to be a bool"),
    # ---- optimiser hyper-parameters
    ("negative lr", lambda: optim.SGD(_params(), lr=-1), ValueError, r"Invalid learning rate: -1"),
    ("momentum 1", lambda: optim.SGD(_params(), lr=0.1, momentum=1.0), ValueError,
     r"Invalid momentum value: 1\.0 \(expected 0 <= momentum < 1\)"),
    ("negative momentum", lambda: optim.SGD(_params(), lr=0.1, momentum=-0.1), ValueError,
     r"Invalid momentum value: -0\.1"),
    ("RMSprop momentum", lambda: optim.RMSprop(_params(), momentum=1.5), ValueError, r"Invalid momentum value: 1\.5"),
    ("Nesterov without momentum", lambda: optim.SGD(_params(), lr=0.1, nesterov=True), ValueError,
     r"Nesterov momentum requires a momentum and zero dampening"),
    ("beta1 1", lambda: optim.Adam(_params(), betas=(1.0, 0.999)), ValueError,
     r"Invalid beta parameter at index 0: 1\.0 \(expected 0 <= beta < 1\)"),
    ("one beta", lambda: optim.Adam(_params(), betas=(0.9,)), TypeError, r"Invalid betas: expected a pair"),
    ("eps 0", lambda: optim.Adam(_params(), eps=0.0), ValueError, r"Invalid epsilon value: 0\.0 \(expected eps > 0"),
    ("negative eps", lambda: optim.AdamW(_params(), eps=-1e-8), ValueError, r"Invalid epsilon value: -1e-08"),
    ("Adagrad eps 0", lambda: optim.Adagrad(_params(), eps=0), ValueError, r"Invalid epsilon value: 0"),
    ("lr a string", lambda: optim.SGD(_params(), lr="0.1"), TypeError, r"Invalid learning rate: expected a number"),
]


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_a_clear_error(call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call()
    assert type(info.value) is error  # not a subclass such as numpy's AxisError


def test_number_of_distinct_bad_inputs():
    # The report quotes this count; keep the list free of duplicates.
    assert len({c[0] for c in CASES}) == len(CASES) >= 100


# ---------------------------------------------------------------------------- what is accepted
@pytest.mark.parametrize("value, dtype", [
    (np.float32(2.0), np.float32), (np.float64(2.0), np.float64), (2.0, np.float64), (2, np.float64),
    ([1, 2], np.float64), ((1.5, 2.5), np.float64),
])
def test_float_scalars_and_lists_keep_or_get_a_float_dtype(value, dtype):
    assert as_float_array(value, "test").dtype == dtype


def test_float_scalar_keeps_its_dtype_through_a_layer():
    assert F.relu(np.float32(2.0))[0].dtype == np.float32
    assert nn.Sigmoid()(np.float32(0.5)).dtype == np.float32


@pytest.mark.parametrize("make", [
    lambda x: np.asfortranarray(x), lambda x: x[..., ::-1], lambda x: x[:, :, ::2], lambda x: x[::-1, ::-1],
])
def test_any_memory_layout_is_accepted(make):
    base = np.random.default_rng(0).standard_normal((2, 3, 6, 8)).astype(np.float32)
    x = make(base)
    conv = nn.Conv2d(3, 2, 3)
    np.testing.assert_allclose(conv(x), conv(np.ascontiguousarray(x)), rtol=1e-6)
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x), nn.MaxPool2d(2)(np.ascontiguousarray(x)))


def test_refused_configuration_changes_nothing():
    sgd = optim.SGD(_params(), lr=0.1)
    with pytest.raises(ValueError, match="momentum"):
        sgd.add_param_group({"params": _params(), "momentum": 2.0})
    assert len(sgd.param_groups) == 1
