"""Pooling layers: PyTorch parity (check_module), gradcheck, repr, indices, state handling, errors."""

import numpy as np
import pytest

import numconv
from numconv import nn

torch = pytest.importorskip("torch")
from parity import assert_close, check_module, upstream_rng  # noqa: E402
from test_pool_cases import distinct_values  # noqa: E402

# (class name, constructor arguments, input shape); unbatched inputs included
LAYERS = [
    ("MaxPool1d", dict(kernel_size=3, stride=2, padding=1), (2, 3, 9)),
    ("MaxPool1d", dict(kernel_size=2, dilation=2, ceil_mode=True), (3, 8)),
    ("MaxPool2d", dict(kernel_size=2), (2, 3, 8, 6)),
    ("MaxPool2d", dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(1, 2), ceil_mode=True),
     (1, 2, 7, 8)),
    ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1), (4, 9, 9)),
    ("MaxPool3d", dict(kernel_size=2, stride=1, padding=1), (1, 2, 3, 4, 3)),
    ("MaxPool3d", dict(kernel_size=(1, 2, 2), ceil_mode=True), (2, 3, 5, 5)),
    ("AvgPool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (2, 3, 8)),
    ("AvgPool1d", dict(kernel_size=2), (3, 7)),
    ("AvgPool2d", dict(kernel_size=2), (2, 3, 8, 6)),
    ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), (1, 2, 8, 7)),
    ("AvgPool2d", dict(kernel_size=(2, 3), divisor_override=4), (3, 6, 6)),
    ("AvgPool3d", dict(kernel_size=2, stride=1, padding=1, count_include_pad=False), (1, 2, 3, 4, 3)),
    ("AvgPool3d", dict(kernel_size=2, divisor_override=3), (2, 4, 4, 4)),
    ("AdaptiveAvgPool1d", dict(output_size=4), (2, 3, 10)),
    ("AdaptiveAvgPool2d", dict(output_size=(3, None)), (2, 3, 7, 5)),
    ("AdaptiveAvgPool2d", dict(output_size=1), (3, 5, 5)),
    ("AdaptiveAvgPool3d", dict(output_size=(2, 3, 2)), (1, 2, 5, 4, 3)),
    ("AdaptiveMaxPool1d", dict(output_size=3), (2, 7)),
    ("AdaptiveMaxPool2d", dict(output_size=(3, 4)), (2, 3, 7, 6)),
    ("AdaptiveMaxPool3d", dict(output_size=2), (1, 2, 5, 3, 4)),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(LAYERS)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, kwargs, shape", LAYERS, ids=IDS)
def test_layer_matches_torch(name, kwargs, shape, dtype):
    ours = getattr(nn, name)(**kwargs)
    theirs = getattr(torch.nn, name)(**kwargs)
    x = np.random.default_rng(0).standard_normal(shape)
    check_module(ours, theirs, [x], dtype=dtype)


@pytest.mark.parametrize("name, kwargs, shape", LAYERS, ids=IDS)
def test_layer_gradcheck(name, kwargs, shape):
    x = distinct_values(np.random.default_rng(0), shape)  # no ties: finite differences are valid through max
    assert numconv.gradcheck(getattr(nn, name)(**kwargs), x, raise_exception=True)


@pytest.mark.parametrize("name, kwargs", [
    ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1, return_indices=True)),
    ("MaxPool1d", dict(kernel_size=2, return_indices=True)),
    ("MaxPool3d", dict(kernel_size=2, return_indices=True)),
    ("AdaptiveMaxPool2d", dict(output_size=(2, 3), return_indices=True)),
])
def test_return_indices_layers(name, kwargs):
    nd = int(name[-2])
    shape = (2, 3) + (5,) * nd
    x = distinct_values(np.random.default_rng(1), shape)
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    out, idx = ours(x)
    tx = torch.tensor(x, requires_grad=True)
    t_out, t_idx = theirs(tx)
    assert_close(out, t_out, np.float64, "output")
    np.testing.assert_array_equal(idx, t_idx.numpy())
    upstream = upstream_rng(1).standard_normal(out.shape)
    t_out.backward(torch.from_numpy(upstream))
    assert_close(ours.backward(upstream), tx.grad, np.float64, "input gradient")
    assert numconv.gradcheck(getattr(nn, name)(**kwargs), x, raise_exception=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nd, kwargs, spatial", [
    (2, dict(kernel_size=2), (6, 6)),
    (2, dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)), (7, 6)),
    (1, dict(kernel_size=3, stride=2), (7,)),
    (3, dict(kernel_size=2, stride=(1, 2, 2)), (5, 6, 6)),
])
def test_max_unpool_layer_matches_torch(nd, kwargs, spatial, dtype):
    """Sizes chosen so that the default output size is the pooled input's."""
    x = distinct_values(np.random.default_rng(3), (2, 3) + spatial)
    pool = getattr(nn, f"MaxPool{nd}d")(**kwargs, return_indices=True)
    pooled, idx = pool(x)
    name = f"MaxUnpool{nd}d"
    check_module(getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs), [pooled, idx], dtype=dtype)
    planes = idx.reshape(6, -1)
    if all(len(np.unique(row)) == len(row) for row in planes):
        # (With overlapping windows two values can go to one place; only one survives the forward,
        # but the backward, like PyTorch's, reads the gradient back for both: not a derivative.)
        assert numconv.gradcheck(getattr(nn, name)(**kwargs), pooled, idx, raise_exception=True)


def test_max_unpool2d_with_output_size_round_trip():
    x = distinct_values(np.random.default_rng(4), (1, 2, 7, 7))
    pool = nn.MaxPool2d(2, return_indices=True)
    unpool = nn.MaxUnpool2d(2)
    out, idx = pool(x)
    restored = unpool(out, idx, output_size=x.shape)  # a whole (N, C, H, W) shape, as in PyTorch
    assert restored.shape == x.shape
    t_restored = torch.nn.MaxUnpool2d(2)(torch.tensor(out), torch.tensor(idx), output_size=x.shape)
    np.testing.assert_array_equal(restored, t_restored.numpy())
    np.testing.assert_array_equal(restored[restored != 0], x[restored != 0])
    dx = unpool.backward(np.ones_like(restored))
    np.testing.assert_array_equal(dx, np.ones_like(out))
    # unbatched
    np.testing.assert_array_equal(unpool(out[0], idx[0], output_size=(7, 7)), restored[0])


@pytest.mark.parametrize("make", [
    lambda m: m.MaxPool1d(2), lambda m: m.MaxPool2d(2), lambda m: m.MaxPool2d((2, 3), return_indices=True),
    lambda m: m.MaxPool2d(3, 1, 1, 2, False, True), lambda m: m.MaxPool3d(2, stride=1),
    lambda m: m.AvgPool1d(2), lambda m: m.AvgPool1d((3,), 2, 1), lambda m: m.AvgPool2d(2),
    lambda m: m.AvgPool2d([2, 3], padding=1, divisor_override=3, ceil_mode=True, count_include_pad=False),
    lambda m: m.AvgPool3d(2), lambda m: m.AdaptiveAvgPool1d(3), lambda m: m.AdaptiveAvgPool2d((None, 3)),
    lambda m: m.AdaptiveAvgPool2d([3, 2]), lambda m: m.AdaptiveAvgPool3d(3), lambda m: m.AdaptiveMaxPool1d(3),
    lambda m: m.AdaptiveMaxPool2d((2, 3), return_indices=True), lambda m: m.AdaptiveMaxPool3d(2),
    lambda m: m.MaxUnpool1d(2), lambda m: m.MaxUnpool2d(2), lambda m: m.MaxUnpool3d(2),
    lambda m: m.MaxUnpool2d((2, 3), stride=1, padding=(1, 0)),
])
def test_repr_and_attributes_equal_torch(make):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    for attribute in ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices",
                      "count_include_pad", "divisor_override", "output_size"):
        if hasattr(theirs, attribute):
            assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    assert ours.state_dict() == {} and list(ours.parameters()) == []


def test_layers_keep_the_input_dtype():
    for layer in (nn.MaxPool2d(2), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(3), nn.AdaptiveMaxPool2d(2)):
        for dtype in (np.float32, np.float64):
            y = layer(np.ones((1, 2, 6, 6), dtype=dtype))
            assert y.dtype == dtype
            assert layer.backward(np.ones(y.shape, dtype=np.float64)).dtype == dtype
    assert nn.MaxPool2d(2)([[[1.0, 2.0], [3.0, 4.0]]]).tolist() == [[[4.0]]]  # a nested list is an array too


def test_state_errors():
    layer = nn.MaxPool2d(2)
    with pytest.raises(RuntimeError, match="MaxPool2d.backward: there is no forward pass"):
        layer.backward(np.ones((1, 1, 1, 1)))
    y = layer(np.ones((1, 1, 2, 2)))
    layer.backward(y)
    with pytest.raises(RuntimeError, match="no forward pass"):
        layer.backward(y)  # twice
    with numconv.no_grad():
        layer(np.ones((1, 1, 2, 2)))
    with pytest.raises(RuntimeError, match="no forward pass"):
        layer.backward(y)


def test_layer_errors_name_the_layer_and_the_shapes():
    with pytest.raises(ValueError, match=r"^MaxPool2d: expected a 3-D or 4-D input \(C, H, W\) or \(N, C, H, W\), "
                                         r"got shape \(28, 28\) \(2-D\); .*x\[np\.newaxis\] has shape \(1, 28, 28\)$"):
        nn.MaxPool2d(2)(np.zeros((28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match=r"AvgPool1d: kernel_size \(5,\) with dilation \(1,\) spans 5 pixels, but "
                                         r"the padded input is only 4 \(input shape \(1, 1, 4\)"):
        nn.AvgPool1d(5)(np.zeros((1, 1, 4)))
    with pytest.raises(ValueError, match=r"MaxPool3d: padding \(2, 2, 2\) must be at most half of kernel_size "
                                         r"\(3, 3, 3\)"):
        nn.MaxPool3d(3, padding=2)  # caught when the layer is built
    with pytest.raises(ValueError, match=r"AvgPool2d: padding \(0, 2\) must be at most half of kernel_size \(3, 3\)"):
        nn.AvgPool2d(3, padding=(0, 2))
    with pytest.raises(TypeError, match="MaxUnpool2d: expected stride to be an int or a tuple of 2 ints"):
        nn.MaxUnpool2d(2, stride="2")
    with pytest.raises(TypeError, match="AdaptiveMaxPool1d: expected input of dtype float32 or float64, got uint8"):
        nn.AdaptiveMaxPool1d(2)(np.zeros((1, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool3d: expected a 4-D or 5-D input \(C, D, H, W\) or "
                                         r"\(N, C, D, H, W\), got shape \(2, 3, 4\)"):
        nn.AdaptiveAvgPool3d(2)(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"MaxUnpool2d: index 9 at position"):
        nn.MaxUnpool2d(2)(np.ones((1, 1, 1, 1)), np.full((1, 1, 1, 1), 9))
