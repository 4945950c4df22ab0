"""numconv against stored PyTorch answers (no torch needed).

``scripts/make_fixtures.py`` ran PyTorch on a fixed battery of layers and
losses and stored inputs, parameters, a random upstream gradient and
PyTorch's outputs and gradients. Here each case is rebuilt from the same
class name and constructor arguments in numconv and must agree: float64 to
1e-10 and float32 to 1e-4 relative error (max norm).
"""

import json
import os

import numpy as np
import pytest

from numconv import nn

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "torch_reference.npz")
DATA = np.load(FIXTURE, allow_pickle=False)
SPEC = json.loads(str(DATA["spec"]))
TOL = {np.float64: 1e-10, np.float32: 1e-4}


def rel_error(ours, ref):
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f"shape {ours.shape} vs stored {ref.shape}"
    if ref.size == 0:
        return 0.0
    scale = np.abs(ref).max()
    err = np.abs(ours - ref).max()
    return err / scale if scale > 0 else err


def _items(prefix, kind):
    start = f"{prefix}/{kind}/"
    return {k[len(start):]: DATA[k] for k in DATA.files if k.startswith(start)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("index", range(len(SPEC["layers"])), ids=lambda i: f"{i}-{SPEC['layers'][i]['name']}")
def test_layer_matches_stored_torch(index, dtype):
    case = SPEC["layers"][index]
    prefix = f"layer{index}"
    layer = getattr(nn, case["name"])(**case["kwargs"])
    layer.to(dtype)
    layer.load_state_dict(_items(prefix, "state"))
    layer.train(case["mode"] == "train")
    out = layer(DATA[f"{prefix}/x"].astype(dtype))
    tol = TOL[dtype]
    assert rel_error(out, DATA[f"{prefix}/out"]) <= tol, "forward output"
    dx = layer.backward(DATA[f"{prefix}/upstream"].astype(dtype))
    assert rel_error(dx, DATA[f"{prefix}/dx"]) <= tol, "input gradient"
    grads = _items(prefix, "grad")
    assert sorted(grads) == sorted(name for name, _ in layer.named_parameters())
    for name, p in layer.named_parameters():
        assert rel_error(p.grad, grads[name]) <= tol, f"gradient of {name}"
    for name, value in _items(prefix, "buffer_after").items():
        ours = dict(layer.named_buffers())[name]
        assert rel_error(ours, value) <= (tol if value.dtype.kind == "f" else 0), f"buffer {name}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("index", range(len(SPEC["losses"])), ids=lambda i: f"{i}-{SPEC['losses'][i]['name']}")
def test_loss_matches_stored_torch(index, dtype):
    case = SPEC["losses"][index]
    prefix = f"loss{index}"
    kwargs = dict(case["kwargs"])
    kwargs.update(_items(prefix, "kwarg"))
    loss_fn = getattr(nn, case["name"])(**kwargs)
    target = DATA[f"{prefix}/target"]
    if target.dtype.kind == "f":
        target = target.astype(dtype)
    loss = loss_fn(DATA[f"{prefix}/x"].astype(dtype), target)
    tol = TOL[dtype]
    assert rel_error(loss, DATA[f"{prefix}/out"]) <= tol, "loss value"
    upstream = DATA[f"{prefix}/upstream"]
    dx = loss_fn.backward(grad_output=upstream.astype(dtype) if upstream.ndim else float(upstream))
    assert rel_error(dx, DATA[f"{prefix}/dx"]) <= tol, "input gradient"
