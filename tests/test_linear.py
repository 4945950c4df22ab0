"""Linear, Flatten, Identity: PyTorch parity, gradcheck, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numconv
from numconv import functional as F
from numconv import nn

torch = pytest.importorskip("torch")
from parity import check_module, check_op  # noqa: E402


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(
    lead=st.lists(st.integers(1, 4), min_size=0, max_size=2),
    fin=st.integers(1, 9),
    fout=st.integers(1, 9),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_linear_functional_matches_torch(dtype, lead, fin, fout, bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*lead, fin))
    w = rng.standard_normal((fout, fin))
    b = rng.standard_normal(fout) if bias else None
    check_op(F.linear, F.linear_backward, torch.nn.functional.linear, [x, w, b], dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_module_matches_torch(dtype, bias):
    numconv.manual_seed(3)
    ours = nn.Linear(7, 5, bias=bias)
    theirs = torch.nn.Linear(7, 5, bias=bias)
    x = np.random.default_rng(0).standard_normal((4, 7))
    check_module(ours, theirs, [x], dtype=dtype)


def test_linear_gradcheck():
    x = np.random.default_rng(0).standard_normal((3, 6))
    assert numconv.gradcheck(nn.Linear(6, 4), x, raise_exception=True)


def test_linear_default_init_bounds():
    numconv.manual_seed(0)
    layer = nn.Linear(100, 50)
    bound = 1 / np.sqrt(100)
    assert layer.weight.dtype == np.float32
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.bias.data).max() <= bound
    # uniform over the whole range, not a narrower one
    assert np.abs(layer.weight.data).max() > 0.9 * bound


def test_linear_errors_name_shapes():
    layer = nn.Linear(4, 2)
    with pytest.raises(ValueError, match=r"last axis 4.*\(3, 5\)"):
        layer(np.zeros((3, 5)))
    with pytest.raises(TypeError, match="int64"):
        layer(np.zeros((3, 4), dtype=np.int64))
    with pytest.raises(RuntimeError, match="no forward pass"):
        nn.Linear(4, 2).backward(np.zeros((3, 2)))


def test_linear_float64_input_to_float32_layer():
    layer = nn.Linear(4, 2)
    y = layer(np.ones((3, 4)))
    assert y.dtype == np.float32
    dx = layer.backward(np.ones((3, 2), dtype=np.float32))
    assert dx.dtype == np.float64


def test_flatten_and_identity_round_trip():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    flat = nn.Flatten()
    y = flat(x)
    assert y.shape == (2, 60)
    assert flat.backward(y).shape == x.shape
    assert nn.Flatten(0, -1)(x).shape == (120,)
    ident = nn.Identity(54, unused="argument")
    assert ident(x) is x
    assert numconv.gradcheck(nn.Flatten(), x)
    with pytest.raises(ValueError, match="out of range"):
        nn.Flatten(start_dim=5)(x)
