"""Fuzzing every layer family against PyTorch, degenerate inputs included.

Hypothesis draws a layer configuration (convolutions, pools, norms, Linear,
activations, softmax, dropout in eval mode, losses) and an input that is often
awkward: an empty batch or channel axis, size-1 axes, strides larger than the
input, kernels larger than the padded input, the wrong rank (0-d included),
channel-last layout, Fortran order, negatively strided and step-sliced views,
and dtypes numconv refuses. Each call must end in one of two ways:

* numconv and PyTorch both run: the outputs agree, and so do the input and
  parameter gradients for a random upstream gradient (float64 to 1e-10,
  float32 to 1e-4, the tolerances of every parity test, against PyTorch
  computing in float64), and the shapes and dtypes are the same;
* numconv raises ``ValueError`` or ``TypeError`` whose message starts with
  the name of the layer or op, and PyTorch refuses the call too.

Anything else fails the test: an ``IndexError``, ``ZeroDivisionError`` or
numba error escaping from inside, a silently wrong shape, numconv accepting
what PyTorch refuses, or numconv refusing what PyTorch accepts. The
deliberate differences from PyTorch, where numconv refuses on purpose:

* dtypes other than float32 and float64 (float16, integers, bool, complex)
  are a ``TypeError`` that says how to convert (PyTorch runs some of them);
* a layer's hyper-parameters (kernel size, stride, padding, groups, p, ...)
  are checked when the layer is built; PyTorch checks some of them at the
  first forward. A configuration numconv refuses must also be one PyTorch
  refuses, when built or when called;
* negative convolution padding is refused; PyTorch refuses it with
  ``padding_mode="zeros"`` but crops the input with the other modes;
* a convolution with ``in_channels=0`` is refused; PyTorch builds it and
  returns an empty output with 0 channels (rather than the bias);
* every pooling layer needs non-empty channel and spatial axes (only the
  batch may be empty), as PyTorch's max and average pools do; PyTorch's
  adaptive pools accept some of those empty inputs, and with
  ``output_size=1`` an input of any rank (they take a plain mean then);
* batch norm checks an empty input like any other (rank, channel count);
  PyTorch returns an empty input unchecked;
* a pointwise loss (MSE, L1, BCE, ...) refuses a target whose shape differs
  from the input's; PyTorch broadcasts the two, with a warning that the
  result is probably wrong;
* a classification loss refuses an input with zero classes;
* with an empty input every parameter gradient is 0; PyTorch's group norm
  gives NaN for its weight (0 / 0 statistics of an empty group).

Two PyTorch failures are worked around rather than compared: its backward
refuses an empty upstream gradient for some ops (numconv's gradient must then
be zero), and it crashes the process on a max-pool window that a dilation
makes miss a tiny input entirely (numconv's gradient must then route each
other window's gradient to one input).

How many cases ran, and how each ended, is printed at the end of the session
(``numconv fuzz: N cases ran (...)``, from ``tests/conftest.py``).
"""

from __future__ import annotations

import collections
import re
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numconv import nn

torch = pytest.importorskip("torch")
from parity import TOL, assert_close, copy_params_to_torch, upstream_rng  # noqa: E402

_COUNTS: collections.Counter = collections.Counter()
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@pytest.fixture(autouse=True)
def _count_cases(record_property):
    """Record how many cases each test ran, and how they ended; conftest.py prints the totals."""
    before = collections.Counter(_COUNTS)
    yield
    record_property("fuzz_cases", dict(_COUNTS - before))


# ---------------------------------------------------------------------------- inputs
DTYPES = st.sampled_from(["float64"] * 10 + ["float32"] * 6 + ["float16", "int64", "uint8", "bool", "complex128"])
LAYOUTS = st.sampled_from(["C"] * 4 + ["F", "reversed", "strided"])


@st.composite
def arrays(draw, shape, dtype=None, low=-3.0, high=3.0):
    """An array of ``shape`` in a drawn dtype and memory layout (the values are what they are)."""
    dtype = np.dtype(draw(DTYPES) if dtype is None else dtype)
    layout = draw(LAYOUTS) if len(shape) else "C"
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base_shape = tuple(shape[:-1]) + (2 * shape[-1],) if layout == "strided" else tuple(shape)
    if dtype.kind == "f":
        base = rng.uniform(low, high, base_shape).astype(dtype)
    elif dtype.kind == "b":
        base = rng.random(base_shape) < 0.5
    elif dtype.kind == "c":
        base = rng.standard_normal(base_shape) + 1j
    else:
        base = rng.integers(0, 5, base_shape).astype(dtype)
    if layout == "F":
        return np.asfortranarray(base)
    if layout == "reversed":
        return base[..., ::-1]
    if layout == "strided":
        return base[..., ::2]
    return base


def _sizes(n, low=0, high=7):
    return st.lists(st.integers(low, high), min_size=n, max_size=n)


@st.composite
def layered_shape(draw, channels, nd, unbatched_ok=True):
    """A shape for an (N, C, *spatial) layer: mostly right, sometimes wrong in one way."""
    kind = draw(st.sampled_from(["batched"] * 6 + ["unbatched", "rank", "channels", "channel_last"]))
    spatial = tuple(draw(_sizes(nd, 0, 7)))
    if draw(st.booleans()):  # mostly non-empty spatial axes; empty ones are drawn above too
        spatial = tuple(max(s, 1) for s in spatial)
    batch = draw(st.sampled_from([0, 1, 2, 3]))
    if kind == "unbatched" and unbatched_ok:
        return (channels,) + spatial
    if kind == "rank":
        rank = draw(st.integers(0, nd + 3))
        return tuple(draw(_sizes(rank, 1, 4)))
    if kind == "channels":
        return (batch, draw(st.integers(0, 5))) + spatial
    if kind == "channel_last":
        return (batch,) + spatial + (channels,)
    return (batch, channels) + spatial


# ---------------------------------------------------------------------------- the oracle
# _REFERENCE: PyTorch computes in float64 for every case, on the very values numconv gets (a float32
# array converts exactly). A float32 result of numconv is then held to 1e-4 of the most exact answer
# at hand, not of PyTorch's own float32 rounding: where a result is mostly cancellation (a batch norm
# gradient over three values), two float32 computations can each be 1e-4 off and 2e-4 apart.
def _torch_input(x):
    """``x`` as a torch tensor: a C-ordered copy (torch cannot view negative strides), float64 and
    differentiable if ``x`` is float (see ``_REFERENCE``)."""
    if x.dtype not in FLOATS:
        return torch.from_numpy(x.copy(order="C"))
    return torch.from_numpy(np.array(x, dtype=np.float64, order="C")).requires_grad_(True)


def _assert_names_the_op(error, name) -> None:
    """numconv's messages start with the layer's name or the functional op's (``"group_norm: ..."``)."""
    assert re.match(rf"^({name}|[a-z][a-z0-9_]*)(\.\w+)?: \S", str(error)), f"message does not name the op: {error}"


def check_against_torch(where, ours_forward, theirs_forward, x, *, ours_module=None, theirs_module=None,
                        backward=None, deliberate=None):
    """Run one fuzz case; see the module docstring for what must hold.

    ``ours_forward(x)`` / ``theirs_forward(tensor)`` compute the output;
    ``backward(upstream)`` (default: ``ours_module.backward``) the input
    gradient. Parameter gradients and buffers of the two modules are compared
    when both are given. ``deliberate(x)`` says whether numconv refuses ``x``
    on purpose where PyTorch accepts it (a documented difference).
    """
    name = where
    if x.dtype not in FLOATS:
        with pytest.raises(TypeError, match=rf"^{name}\b.*float32 or float64"):
            ours_forward(x)
        _COUNTS["refused dtype"] += 1
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours_error = theirs_error = None
        try:
            out = ours_forward(x)
        except (ValueError, TypeError) as error:
            ours_error = error
        t_x = _torch_input(x)
        try:
            t_out = theirs_forward(t_x)
        except Exception as error:  # torch raises RuntimeError, IndexError, ValueError...
            theirs_error = error
    if ours_error is not None:
        _assert_names_the_op(ours_error, name)
        if theirs_error is None and deliberate is not None and deliberate(x):
            _COUNTS["deliberate difference"] += 1
            return
        assert theirs_error is not None, (f"numconv refused what PyTorch accepts (input {x.shape} {x.dtype}): "
                                          f"{ours_error}")
        _COUNTS["both refused"] += 1
        return
    assert theirs_error is None, f"numconv accepted what PyTorch refuses ({x.shape} {x.dtype}): {theirs_error}"
    if isinstance(t_out, tuple):
        t_out = t_out[0]
    dtype = x.dtype
    if isinstance(out, float):  # a loss with reduction "mean" or "sum" returns a Python float
        out = np.asarray(out, dtype=dtype)
    out = np.asarray(out)
    assert out.dtype == dtype, f"output dtype {out.dtype}, input {dtype}"
    assert_close(out, t_out, dtype, f"{name} forward")
    if t_out.requires_grad:
        upstream = upstream_rng(len(x.shape)).standard_normal(out.shape).astype(dtype)
        dx = (backward or ours_module.backward)(upstream)
        if name.startswith("MaxPool") and np.isneginf(out).any():
            # A dilated window that skips a tiny input entirely: -inf with no input behind it (both agree
            # on that), and PyTorch's backward then crashes the process (double free). Check instead
            # that every other window sends its gradient to exactly one input.
            assert np.asarray(dx).shape == x.shape
            routed = upstream[~np.isneginf(out)]
            tol = TOL[np.dtype(dtype)] * max(np.abs(routed).sum(), 1.0)
            assert abs(np.sum(dx, dtype=np.float64) - routed.sum(dtype=np.float64)) <= tol, f"{name} gradient total"
            _COUNTS["both ran; PyTorch's backward would crash"] += 1
            return
        try:
            t_out.backward(torch.from_numpy(upstream.astype(np.float64)))
        except RuntimeError:
            # PyTorch's backward of some ops refuses an empty upstream gradient; the true gradient is zero.
            assert out.size == 0, "PyTorch's backward failed on a non-empty output"
            assert np.asarray(dx).shape == x.shape and not np.any(dx), "the gradient through an empty output is 0"
            _COUNTS["both ran; PyTorch's backward refused an empty gradient"] += 1
            return
        t_grad = t_x.grad if t_x.grad is not None else torch.zeros_like(t_x)
        assert np.asarray(dx).dtype == dtype
        assert_close(dx, t_grad, dtype, f"{name} input gradient")
        if ours_module is not None and theirs_module is not None:
            theirs_params = dict(theirs_module.named_parameters())
            for key, p in ours_module.named_parameters():
                tg = theirs_params[key].grad
                if x.size == 0 and tg is not None and torch.isnan(tg).any():
                    assert not np.any(p.grad), f"{name}: an empty input must give zero gradients"
                    continue  # deliberate (see the module docstring)
                assert_close(p.grad, torch.zeros_like(theirs_params[key]) if tg is None else tg, dtype,
                             f"{name} gradient of {key}")
    if ours_module is not None and theirs_module is not None:
        theirs_buffers = dict(theirs_module.named_buffers())
        for key, b in ours_module.named_buffers():
            if b.dtype.kind == "f":
                assert_close(b, theirs_buffers[key], dtype, f"{name} buffer {key}")
    _COUNTS["both ran, equal"] += 1


def _torch_refuses(theirs_factory, inputs) -> bool:
    """Whether PyTorch refuses to build the module, or to run it on one of ``inputs``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            theirs = theirs_factory()
        except Exception:
            return True
        for x in inputs:
            try:
                theirs(torch.from_numpy(x.copy(order="C")))
            except Exception:
                return True
    return False


def build_pair(where, ours_factory, theirs_factory, x, typical_shape=None, deliberate_config=False):
    """Build both modules; if numconv refuses the configuration, PyTorch must refuse it too.

    PyTorch skips some checks for an empty input, so its verdict is also
    asked on an ordinary input of ``typical_shape``. ``deliberate_config``
    marks a configuration numconv refuses on purpose.
    Returns ``(ours, theirs)``, or None when both refused (the case is counted).
    """
    try:
        ours = ours_factory()
    except (ValueError, TypeError) as error:
        _assert_names_the_op(error, where)
        if deliberate_config:
            _COUNTS["deliberate difference"] += 1
            return None
        inputs = [x] if typical_shape is None else [x, np.ones(typical_shape, dtype=_layer_dtype(x))]
        assert _torch_refuses(theirs_factory, inputs), (
            f"numconv refused to build what PyTorch builds and runs on {x.shape}: {error}")
        _COUNTS["both refused"] += 1
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = theirs_factory()
    return ours, theirs


def _torch_dtype(dtype):
    return torch.float32 if np.dtype(dtype) == np.float32 else torch.float64


def _layer_dtype(x):
    """Modules compute in their parameters' dtype: build them in the input's (float64 for refused dtypes)."""
    return x.dtype if x.dtype in FLOATS else np.dtype(np.float64)


def _run_module(where, ours_factory, theirs_factory, x, training=False, typical_shape=None, deliberate=None,
                deliberate_config=False):
    pair = build_pair(where, ours_factory, theirs_factory, x, typical_shape, deliberate_config)
    if pair is None:
        return
    ours, theirs = pair
    theirs.to(torch.float64)  # see _REFERENCE
    copy_params_to_torch(ours, theirs)
    ours.train(training)
    theirs.train(training)
    check_against_torch(where, ours, theirs, x, ours_module=ours, theirs_module=theirs, deliberate=deliberate)


# ---------------------------------------------------------------------------- convolution
@pytest.mark.parametrize("nd", [1, 2, 3])
@given(data=st.data())
def test_fuzz_conv(nd, data):
    draw = data.draw
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    in_channels = groups * draw(st.integers(0, 2)) if draw(st.integers(0, 9)) == 0 else groups * draw(st.integers(1, 2))
    out_channels = groups * draw(st.integers(1, 2))
    kernel = tuple(draw(_sizes(nd, 1, 4)))
    stride = draw(st.sampled_from([1, 1, 2, 3, 50]))
    padding = draw(st.sampled_from([0, 0, 1, 2, "same", "valid"]))
    dilation = draw(st.sampled_from([1, 1, 2]))
    padding_mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
    bias = draw(st.booleans())
    if draw(st.integers(0, 7)) == 0:  # a bad hyper-parameter
        bad = draw(st.sampled_from(["kernel", "stride", "padding", "groups", "dilation"]))
        kernel = 0 if bad == "kernel" else kernel
        stride = draw(st.sampled_from([0, -1])) if bad == "stride" else stride
        padding = -1 if bad == "padding" else padding
        groups = groups + 1 if bad == "groups" and groups > 1 else groups
        dilation = 0 if bad == "dilation" else dilation
    shape = draw(layered_shape(in_channels, nd))
    x = draw(arrays(shape))
    dtype = _layer_dtype(x)
    name = f"Conv{nd}d"
    args = (in_channels, out_channels, kernel, stride, padding, dilation, groups, bias, padding_mode)
    if in_channels == 0:
        # Deliberate: PyTorch builds it and returns an empty output with 0 channels, not out_channels
        # channels of bias. numconv refuses to build a convolution that sees no input.
        with pytest.raises(ValueError, match=rf"^{name}: expected in_channels >= 1, got 0"):
            getattr(nn, name)(*args)
        _COUNTS["deliberate difference"] += 1
        return
    _run_module(name, lambda: getattr(nn, name)(*args, dtype=dtype),
                lambda: getattr(torch.nn, name)(*args, dtype=_torch_dtype(dtype)), x,
                typical_shape=(2, in_channels) + (9,) * nd,
                deliberate_config=padding == -1 and padding_mode != "zeros")


# ---------------------------------------------------------------------------- pooling
@pytest.mark.parametrize("kind", ["MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool"])
@pytest.mark.parametrize("nd", [1, 2, 3])
@given(data=st.data())
def test_fuzz_pool(kind, nd, data):
    draw = data.draw
    name = f"{kind}{nd}d"
    if kind.startswith("Adaptive"):
        size = draw(st.one_of(st.integers(0, 4), st.lists(st.one_of(st.integers(0, 4), st.none()),
                                                            min_size=nd, max_size=nd).map(tuple)))
        if nd == 1 and isinstance(size, tuple):
            size = size[0] if size[0] is not None else 1
        kwargs = dict(output_size=size)
    else:
        kernel = draw(st.integers(1, 4)) if draw(st.booleans()) else tuple(draw(_sizes(nd, 1, 4)))
        kwargs = dict(kernel_size=kernel, stride=draw(st.sampled_from([None, 1, 2, 3, 50])),
                      padding=draw(st.sampled_from([0, 0, 1, 2])), ceil_mode=draw(st.booleans()))
        if draw(st.integers(0, 9)) == 0:
            kwargs[draw(st.sampled_from(["kernel_size", "stride", "padding"]))] = draw(st.sampled_from([0, -1]))
        if kind == "MaxPool":
            kwargs["dilation"] = draw(st.sampled_from([1, 1, 2]))
        else:
            kwargs["count_include_pad"] = draw(st.booleans())
            if nd > 1 and draw(st.integers(0, 4)) == 0:
                kwargs["divisor_override"] = draw(st.sampled_from([1, 3]))
    shape = draw(layered_shape(draw(st.integers(1, 3)), nd))
    x = draw(arrays(shape))
    _run_module(name, lambda: getattr(nn, name)(**kwargs), lambda: getattr(torch.nn, name)(**kwargs), x,
                training=True, typical_shape=(2, 2) + (9,) * nd,
                deliberate=lambda a: kind.startswith("Adaptive") and (a.ndim not in (nd + 1, nd + 2)
                                                                     or 0 in a.shape[-nd - 1:]))


# ---------------------------------------------------------------------------- normalisation
# _WELL_CONDITIONED: a normalisation set of one value standardises to exactly 0 and one of two values
# to exactly -1 and +1; the true input gradient is then 0, or pure cancellation of the order of
# eps / var. PyTorch returns rounding noise there (2.8e-14 where the answer is exactly 0), which no
# relative error can be measured against, so the fuzz grows such sets to three values.
@pytest.mark.parametrize("nd", [0, 1, 2, 3])
@given(data=st.data())
def test_fuzz_batch_norm(nd, data):
    draw = data.draw
    name = f"BatchNorm{max(nd, 1)}d"
    channels = draw(st.integers(1, 3))
    kwargs = dict(num_features=channels, eps=draw(st.sampled_from([1e-5, 0.1])),
                  momentum=draw(st.sampled_from([0.1, None, 0.5])), affine=draw(st.booleans()),
                  track_running_stats=draw(st.booleans()))
    shape = draw(layered_shape(channels, nd, unbatched_ok=False))
    if len(shape) >= 2 and int(np.prod(shape)) // max(shape[1], 1) == 2:
        shape = (shape[0] + 1,) + shape[1:] if shape[0] else shape  # see _WELL_CONDITIONED
    x = draw(arrays(shape))
    dtype = _layer_dtype(x)
    _run_module(name, lambda: getattr(nn, name)(**kwargs, dtype=dtype),
                lambda: getattr(torch.nn, name)(**kwargs, dtype=_torch_dtype(dtype)), x,
                training=draw(st.booleans()), deliberate=lambda a: a.size == 0)


@given(data=st.data())
def test_fuzz_layer_and_group_norm(data):
    draw = data.draw
    rank = draw(st.integers(0, 4))
    shape = tuple(draw(_sizes(rank, 0, 4)))
    if draw(st.booleans()):
        k = draw(st.integers(1, 2))
        if rank >= k and 0 < int(np.prod(shape[rank - k:])) < 3:
            shape = shape[:-1] + (3,)  # see _WELL_CONDITIONED
        normalized = shape[rank - k:] if rank >= k and draw(st.integers(0, 5)) else tuple(draw(_sizes(k, 1, 4)))
        kwargs = dict(normalized_shape=normalized, eps=1e-5, elementwise_affine=draw(st.booleans()),
                      bias=draw(st.booleans()))
        name = "LayerNorm"
    else:
        groups = draw(st.integers(1, 3))
        channels = shape[1] if rank >= 2 and draw(st.integers(0, 5)) else draw(st.integers(1, 6))
        if rank >= 2 and 0 < shape[1] // groups * int(np.prod(shape[2:])) < 3:
            shape = shape + (3,)  # see _WELL_CONDITIONED
        kwargs = dict(num_groups=groups, num_channels=channels, affine=draw(st.booleans()))
        name = "GroupNorm"
    x = draw(arrays(shape))
    dtype = _layer_dtype(x)
    _run_module(name, lambda: getattr(nn, name)(**kwargs, dtype=dtype),
                lambda: getattr(torch.nn, name)(**kwargs, dtype=_torch_dtype(dtype)), x, training=True)


# ---------------------------------------------------------------------------- linear, activations, dropout
ELEMENTWISE = [
    ("ReLU", {}), ("ReLU6", {}), ("LeakyReLU", dict(negative_slope=0.2)), ("ELU", dict(alpha=0.7)), ("SELU", {}),
    ("CELU", dict(alpha=1.5)), ("GELU", {}), ("GELU", dict(approximate="tanh")), ("SiLU", {}), ("Mish", {}),
    ("Sigmoid", {}), ("Tanh", {}), ("Hardtanh", dict(min_val=-0.5, max_val=2.0)), ("Hardsigmoid", {}),
    ("Hardswish", {}), ("Softplus", dict(beta=2.0, threshold=3.0)), ("Softsign", {}),
    ("Threshold", dict(threshold=0.1, value=-2.0)), ("Dropout", dict(p=0.3)), ("Dropout1d", dict(p=0.3)),
    ("Dropout2d", dict(p=0.3)), ("Dropout3d", dict(p=0.3)), ("AlphaDropout", dict(p=0.3)),
]


@given(data=st.data())
def test_fuzz_elementwise_and_dropout_in_eval(data):
    draw = data.draw
    name, kwargs = draw(st.sampled_from(ELEMENTWISE))
    x = draw(arrays(tuple(draw(_sizes(draw(st.integers(0, 5)), 0, 4)))))
    _run_module(name, lambda: getattr(nn, name)(**kwargs), lambda: getattr(torch.nn, name)(**kwargs), x)


@given(data=st.data())
def test_fuzz_softmax_family_and_flatten(data):
    draw = data.draw
    rank = draw(st.integers(0, 4))
    x = draw(arrays(tuple(draw(_sizes(rank, 0, 4)))))
    name = draw(st.sampled_from(["Softmax", "LogSoftmax", "Softmin", "Flatten", "PReLU"]))
    if name == "Flatten":
        kwargs = dict(start_dim=draw(st.integers(-3, 3)), end_dim=draw(st.integers(-3, 3)))
    elif name == "PReLU":
        kwargs = dict(num_parameters=draw(st.sampled_from([1, 1, 2, 3])))
    else:
        kwargs = dict(dim=draw(st.integers(-5, 4)))
    if name == "PReLU":
        dtype = _layer_dtype(x)
        _run_module(name, lambda: nn.PReLU(**kwargs, dtype=dtype),
                    lambda: torch.nn.PReLU(**kwargs, dtype=_torch_dtype(dtype)), x)
    else:
        _run_module(name, lambda: getattr(nn, name)(**kwargs), lambda: getattr(torch.nn, name)(**kwargs), x)


@given(data=st.data())
def test_fuzz_linear(data):
    draw = data.draw
    in_features, out_features = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    rank = draw(st.integers(0, 3))
    shape = tuple(draw(_sizes(rank, 0, 3)))
    if rank and draw(st.integers(0, 4)):
        shape = shape[:-1] + (in_features,)
    x = draw(arrays(shape))
    dtype = _layer_dtype(x)
    bias = draw(st.booleans())
    _run_module("Linear", lambda: nn.Linear(in_features, out_features, bias=bias, dtype=dtype),
                lambda: torch.nn.Linear(in_features, out_features, bias=bias, dtype=_torch_dtype(dtype)), x)


# ---------------------------------------------------------------------------- losses
CLASS_LOSSES = ["CrossEntropyLoss", "NLLLoss"]
POINTWISE_LOSSES = ["BCELoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "KLDivLoss"]


@given(data=st.data())
def test_fuzz_losses(data):
    draw = data.draw
    name = draw(st.sampled_from(CLASS_LOSSES + POINTWISE_LOSSES))
    reduction = draw(st.sampled_from(["mean", "sum", "none"] + (["batchmean"] if name == "KLDivLoss" else [])))
    kwargs = dict(reduction=reduction)
    rank = draw(st.sampled_from([0, 1, 2, 2, 2, 3]))
    shape = tuple(draw(_sizes(rank, 0, 4)))
    low, high = (0.0, 1.0) if name == "BCELoss" and draw(st.integers(0, 5)) else (-3.0, 3.0)
    x = draw(arrays(shape, low=low, high=high))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if name in CLASS_LOSSES:
        classes = (shape[0] if rank == 1 else shape[1]) if rank else 1
        target_shape = () if rank <= 1 else shape[:1] + shape[2:]
        if draw(st.integers(0, 6)) == 0:
            target_shape = tuple(draw(_sizes(draw(st.integers(0, 3)), 0, 4)))
        target = rng.integers(0, max(classes, 1), target_shape)
        if target.size and draw(st.integers(0, 4)) == 0:  # a bad or an ignored class index
            target.reshape(-1)[draw(st.integers(0, target.size - 1))] = draw(st.sampled_from([-1, -100, classes, 12]))
        if draw(st.booleans()):
            kwargs["weight"] = rng.uniform(0.5, 2.0, max(classes, 1) + draw(st.sampled_from([0, 0, 0, 1])))
        if name == "CrossEntropyLoss":
            kwargs["label_smoothing"] = draw(st.sampled_from([0.0, 0.0, 0.2]))
            if draw(st.integers(0, 5)) == 0 and rank:  # probability targets
                target = rng.dirichlet(np.ones(max(classes, 1)), (int(np.prod(target_shape)),)).reshape(shape) \
                    if classes and draw(st.booleans()) else rng.random(shape)
    else:
        target_shape = shape if draw(st.integers(0, 6)) else tuple(draw(_sizes(rank, 0, 4)))
        target = rng.random(target_shape) if name in ("BCELoss", "KLDivLoss") else rng.standard_normal(target_shape)
        if name == "BCELoss" and target.size and draw(st.integers(0, 5)) == 0:
            target.reshape(-1)[0] = 1.5
        if name == "HuberLoss":
            kwargs["delta"] = draw(st.sampled_from([0.5, 1.0]))
        if name == "SmoothL1Loss":
            kwargs["beta"] = draw(st.sampled_from([0.0, 0.5, 1.0]))
    if isinstance(target, np.ndarray) and target.dtype.kind == "f" and x.dtype in FLOATS:
        target = target.astype(x.dtype)
    torch_kwargs = {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) if k == "weight" else v
                    for k, v in kwargs.items()}
    ours = getattr(nn, name)(**kwargs)
    theirs = getattr(torch.nn, name)(**torch_kwargs)
    t_target = torch.from_numpy(target.astype(np.float64) if target.dtype.kind == "f" else target.copy(order="C"))
    # A target of another shape is refused on purpose (PyTorch's pointwise losses broadcast it, with a warning).
    mismatch = name in POINTWISE_LOSSES and np.shape(target) != x.shape
    # Zero classes are refused on purpose: no class index can be valid (PyTorch does not check).
    mismatch = mismatch or (name in CLASS_LOSSES and 0 in x.shape[:2][-1:])
    check_against_torch(name, lambda a: ours(a, target), lambda t: theirs(t, t_target), x,
                        backward=lambda g: ours.backward(g[()] if g.ndim == 0 else g), deliberate=lambda a: mismatch)
