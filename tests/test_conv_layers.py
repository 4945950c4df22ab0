"""Conv1d, Conv2d, Conv3d layers: PyTorch parity, gradcheck, state_dict, repr, construction errors."""

import warnings

import numpy as np
import pytest

import numconv
from numconv import nn

torch = pytest.importorskip("torch")
from parity import check_module, rel_error  # noqa: E402

LAYERS = {1: (nn.Conv1d, torch.nn.Conv1d), 2: (nn.Conv2d, torch.nn.Conv2d), 3: (nn.Conv3d, torch.nn.Conv3d)}


# (nd, constructor arguments, input shape)
CASES = [
    (1, dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1), (2, 3, 9)),
    (1, dict(in_channels=4, out_channels=8, kernel_size=3, groups=4, padding="same", dilation=2), (2, 4, 8)),
    (1, dict(in_channels=2, out_channels=3, kernel_size=4, padding="same", padding_mode="circular"), (2, 2, 7)),
    (1, dict(in_channels=2, out_channels=3, kernel_size=2, padding=3, padding_mode="replicate", bias=False), (2, 9)),
    (2, dict(in_channels=1, out_channels=6, kernel_size=5), (3, 1, 12, 12)),
    (2, dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), groups=2), (2, 4, 7, 6)),
    (2, dict(in_channels=2, out_channels=3, kernel_size=4, padding="same", padding_mode="reflect"), (1, 2, 6, 5)),
    (2, dict(in_channels=2, out_channels=3, kernel_size=3, padding=2, padding_mode="reflect", dilation=2),
     (2, 2, 5, 6)),
    (2, dict(in_channels=2, out_channels=3, kernel_size=3, padding=1, padding_mode="replicate"), (2, 2, 5, 6)),
    (2, dict(in_channels=2, out_channels=3, kernel_size=3, padding=(1, 2), padding_mode="circular"), (2, 2, 5, 6)),
    (2, dict(in_channels=3, out_channels=3, kernel_size=3, padding="valid", groups=3, bias=False), (3, 5, 5)),
    (3, dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1), (2, 2, 5, 6, 4)),
    (3, dict(in_channels=2, out_channels=4, kernel_size=(2, 3, 2), padding=(1, 1, 0), padding_mode="reflect",
             groups=2), (2, 4, 4, 3)),
    (3, dict(in_channels=1, out_channels=2, kernel_size=2, padding="same", padding_mode="circular"), (1, 1, 3, 4, 3)),
]
CASE_IDS = [f"Conv{nd}d-{'-'.join(f'{k}={v}' for k, v in kw.items() if k not in ('in_channels', 'out_channels'))}"
            for nd, kw, _ in CASES]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nd, kwargs, x_shape", CASES, ids=CASE_IDS)
def test_layer_matches_torch(nd, kwargs, x_shape, dtype):
    ours_cls, torch_cls = LAYERS[nd]
    numconv.manual_seed(sum(x_shape))
    x = np.random.default_rng(nd).standard_normal(x_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check_module(ours_cls(**kwargs), torch_cls(**kwargs), [x], dtype=dtype)


@pytest.mark.parametrize("nd, kwargs, x_shape", CASES, ids=CASE_IDS)
def test_layer_gradcheck(nd, kwargs, x_shape):
    # A convolution is linear in its input and in its weight: no kinks, finite differences are exact
    # up to rounding wherever the input is drawn.
    numconv.manual_seed(0)
    x = np.random.default_rng(1).standard_normal(x_shape)
    assert numconv.gradcheck(LAYERS[nd][0](**kwargs), x, raise_exception=True)


def test_gradcheck_catches_a_wrong_backward():
    class SlightlyWrong(nn.Conv2d):
        def backward(self, grad_output):
            return super().backward(grad_output) * 1.001

    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
    layer = SlightlyWrong(2, 3, 3, padding=1, padding_mode="reflect")
    assert not numconv.gradcheck(layer, x, check_parameters=False)


def test_lenet_layers_match_torch():
    numconv.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((16, 1, 32, 32))
    ours1, ours2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
    check_module(ours1, torch.nn.Conv2d(1, 6, 5), [x], dtype=np.float32)
    check_module(ours2, torch.nn.Conv2d(6, 16, 5), [x[:, :, :14, :14].repeat(6, axis=1)], dtype=np.float32)


@pytest.mark.parametrize("nd, kwargs, x_shape", CASES[:6:2] + CASES[-3:], ids=CASE_IDS[:6:2] + CASE_IDS[-3:])
def test_state_dict_round_trip_with_torch(nd, kwargs, x_shape):
    ours_cls, torch_cls = LAYERS[nd]
    x = np.random.default_rng(0).standard_normal(x_shape).astype(np.float32)
    # torch -> numconv, no renaming
    theirs = torch_cls(**kwargs)
    ours = ours_cls(**kwargs)
    state = {k: v.numpy() for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict(state)
    assert rel_error(ours(x), theirs(torch.from_numpy(x)).detach().numpy()) <= 1e-5
    # numconv -> torch, no renaming
    numconv.manual_seed(7)
    ours = ours_cls(**kwargs)
    theirs = torch_cls(**kwargs)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()}, strict=True)
    assert rel_error(ours(x), theirs(torch.from_numpy(x)).detach().numpy()) <= 1e-5
    for name, p in theirs.named_parameters():
        np.testing.assert_array_equal(p.detach().numpy(), getattr(ours, name).data)


REPR_CASES = [
    (2, (1, 6, 5), {}),
    (2, (3, 6, 4), dict(padding="same", padding_mode="reflect", bias=False, groups=3, dilation=2)),
    (2, (3, 6, (3, 5)), dict(stride=(2, 1), padding=(1, 2))),
    (2, (4, 4, 3), dict(padding=0, dilation=1, groups=1, bias=True, padding_mode="zeros")),
    (2, (4, 4, 3), dict(padding="valid")),
    (1, (3, 6, 4), dict(padding="valid")),
    (1, (3, 6, 4), dict(padding=(0,))),
    (1, (2, 4, 3), dict(stride=2, padding=1, padding_mode="circular")),
    (3, (3, 6, (1, 2, 3)), dict(padding=(0, 1, 0), stride=2)),
    (3, (2, 2, 3), dict(groups=2, padding_mode="replicate", padding=1, bias=False)),
]


@pytest.mark.parametrize("nd, args, kwargs", REPR_CASES)
def test_repr_equals_torch(nd, args, kwargs):
    ours_cls, torch_cls = LAYERS[nd]
    assert repr(ours_cls(*args, **kwargs)) == repr(torch_cls(*args, **kwargs))


def test_repr_inside_sequential():
    ours = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5, bias=False))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 6, 5), torch.nn.Conv2d(6, 16, 5, bias=False))
    assert repr(ours) == repr(theirs)


def test_parameters_and_default_init():
    numconv.manual_seed(0)
    layer = nn.Conv2d(8, 12, (3, 5), groups=2)
    assert layer.weight.shape == (12, 4, 3, 5) and layer.bias.shape == (12,)
    assert layer.weight.dtype == layer.bias.dtype == np.float32
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    bound = 1 / np.sqrt(4 * 3 * 5)  # fan_in = in_channels / groups * kernel area
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    # uniform over the whole range (720 draws): the largest is near the bound, the mean |w| near bound / 2
    assert np.abs(layer.weight.data).max() > 0.95 * bound
    assert abs(np.abs(layer.weight.data).mean() - bound / 2) < 0.05 * bound
    assert nn.Conv1d(2, 3, 2, dtype=np.float64).weight.dtype == np.float64
    assert nn.Conv3d(2, 3, 2, bias=False).bias is None
    assert list(nn.Conv3d(2, 3, 2, bias=False).state_dict()) == ["weight"]
    assert layer.kernel_size == (3, 5) and layer.stride == (1, 1) and layer.padding == (0, 0)
    assert layer.dilation == (1, 1) and layer.groups == 2 and layer.padding_mode == "zeros"


def test_gradients_accumulate_and_dtypes():
    numconv.manual_seed(0)
    layer = nn.Conv2d(2, 3, 3, padding=1)
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5))  # float64 into a float32 layer
    dout = np.random.default_rng(1).standard_normal((2, 3, 5, 5)).astype(np.float32)
    out = layer(x)
    assert out.dtype == np.float32
    dx = layer.backward(dout)
    assert dx.dtype == np.float64  # back in the caller's precision
    first_w, first_b = layer.weight.grad.copy(), layer.bias.grad.copy()
    layer(x)
    layer.backward(dout)
    np.testing.assert_allclose(layer.weight.grad, 2 * first_w, rtol=1e-6)
    np.testing.assert_allclose(layer.bias.grad, 2 * first_b, rtol=1e-6)
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None  # set_to_none=True, as PyTorch
    layer.zero_grad(set_to_none=False)
    assert not layer.weight.grad.any() and not layer.bias.grad.any()
    layer.weight.requires_grad = False
    layer(x)
    layer.backward(dout)
    assert not layer.weight.grad.any() and layer.bias.grad.any()


def test_cache_rules():
    layer = nn.Conv1d(2, 3, 3)
    x = np.zeros((1, 2, 5), dtype=np.float32)
    with pytest.raises(RuntimeError, match="Conv1d.backward: there is no forward pass"):
        layer.backward(np.zeros((1, 3, 3), dtype=np.float32))
    layer(x)
    layer.backward(np.zeros((1, 3, 3), dtype=np.float32))
    with pytest.raises(RuntimeError, match="no forward pass"):
        layer.backward(np.zeros((1, 3, 3), dtype=np.float32))
    with numconv.no_grad():
        layer(x)
    with pytest.raises(RuntimeError, match="no forward pass"):
        layer.backward(np.zeros((1, 3, 3), dtype=np.float32))
    layer.eval()(x)  # eval mode still keeps the cache (saliency maps)
    assert layer.backward(np.zeros((1, 3, 3), dtype=np.float32)).shape == x.shape
    layer(x)
    with pytest.raises(ValueError, match=r"Conv1d.backward: expected dout of shape \(1, 3, 3\)"):
        layer.backward(np.zeros((1, 3, 4)))


def test_forward_errors_name_shapes():
    with pytest.raises(ValueError, match=r"Conv2d: expected input with 3 channels \(weight has shape "
                                         r"\(16, 3, 5, 5\)\), got input of shape \(8, 1, 28, 28\)"):
        nn.Conv2d(3, 16, 5)(np.zeros((8, 1, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match=r"Conv2d: kernel size \(5, 5\) with dilation \(1, 1\) spans 5 pixels, "
                                         r"but the padded input is only 4 x 4"):
        nn.Conv2d(1, 1, 5)(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"Conv2d: expected a 3-D or 4-D input \(C, H, W\) or \(N, C, H, W\), "
                                         r"got shape \(28, 28\) \(2-D\)"):
        nn.Conv2d(1, 1, 5)(np.zeros((28, 28)))
    with pytest.raises(ValueError, match=r"Conv2d: padding_mode='reflect' needs each padding smaller than the input"):
        nn.Conv2d(1, 1, 3, padding=4, padding_mode="reflect")(np.zeros((1, 1, 4, 4)))
    with pytest.raises(TypeError, match="Conv3d: expected input of dtype float32 or float64, got uint8"):
        nn.Conv3d(1, 1, 1)(np.zeros((1, 1, 2, 2, 2), dtype=np.uint8))


def test_constructor_errors():
    with pytest.raises(ValueError, match=r"Conv2d: in_channels \(3\) must be divisible by groups \(2\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv1d: out_channels \(5\) must be divisible by groups \(2\)"):
        nn.Conv1d(4, 5, 3, groups=2)
    with pytest.raises(ValueError, match="Conv2d: expected groups >= 1, got 0"):
        nn.Conv2d(4, 4, 3, groups=0)
    with pytest.raises(ValueError, match=r"Conv2d: invalid padding string 'full', should be 'valid' or 'same'"):
        nn.Conv2d(1, 1, 3, padding="full")
    with pytest.raises(ValueError, match="Conv3d: padding='same' is not supported for strided convolutions"):
        nn.Conv3d(1, 1, 3, padding="same", stride=(1, 2, 1))
    with pytest.raises(ValueError, match=r"Conv2d: padding_mode must be one of \('zeros', 'reflect', 'replicate', "
                                         r"'circular'\), but got padding_mode='symmetric'"):
        nn.Conv2d(1, 1, 3, padding_mode="symmetric")
    with pytest.raises(ValueError, match="kernel_size to be >= 1"):
        nn.Conv2d(1, 1, 0)
    with pytest.raises(ValueError, match="expected kernel_size to be an int or a tuple of 2 ints"):
        nn.Conv2d(1, 1, (3, 3, 3))
    with pytest.raises(ValueError, match="padding to be >= 0"):
        nn.Conv1d(1, 1, 3, padding=-1)
    with pytest.raises(ValueError, match="stride to be >= 1"):
        nn.Conv1d(1, 1, 3, stride=0)
    with pytest.raises(ValueError, match="in_channels >= 1"):
        nn.Conv1d(0, 1, 3)
    with pytest.raises(TypeError, match="expected dtype float32 or float64, got int64"):
        nn.Conv1d(1, 1, 3, dtype=np.int64)


def _frames_to_matmul(run, monkeypatch):
    """Frames from a conv layer's ``forward`` / ``backward`` down to the frame that calls np.matmul (first call)."""
    import sys

    depths, matmul = [], np.matmul

    def spy(*args, **kwargs):
        if not depths:
            depth, f = 1, sys._getframe(1)
            while f is not None and not (f.f_code.co_name in ("forward", "backward")
                                         and isinstance(f.f_locals.get("self"), nn.Conv2d)):
                depth, f = depth + 1, f.f_back
            depths.append(depth if f is not None else None)
        return matmul(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(np, "matmul", spy)
        run()
    return depths[0]


def test_readable_path_is_three_frames_from_the_layer(monkeypatch):
    # nn.Conv2d.forward -> the N-d op -> conv_im2col, which calls np.matmul: a learner stepping in
    # with a debugger reaches the matrix product in three frames (and the same back).
    conv = nn.Conv2d(2, 3, 3, padding=1, algorithm="im2col")
    x = np.random.default_rng(0).standard_normal((2, 2, 6, 6)).astype(np.float32)
    assert _frames_to_matmul(lambda: conv(x), monkeypatch) == 3
    out = conv(x)
    assert _frames_to_matmul(lambda: conv.backward(np.ones_like(out)), monkeypatch) == 3
