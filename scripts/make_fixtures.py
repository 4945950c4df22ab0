"""Write PyTorch reference outputs for a fixed battery of layers and losses.

The suite compares numconv with PyTorch live wherever torch is installed.
This script stores PyTorch's answers for a fixed battery of cases in
``tests/fixtures/torch_reference.npz`` so that ``tests/test_fixtures.py``
still checks against PyTorch on a machine without torch.

Every case names a ``torch.nn`` class and its constructor arguments; numconv
mirrors the names and arguments, so the same description builds our layer.
For each case we store, in float64: the input, the parameters and buffers
(state dict), a random upstream gradient, and PyTorch's output, input
gradient, parameter gradients and buffers after the forward pass.

Run from the repository root::

    python scripts/make_fixtures.py
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "torch_reference.npz")

# (torch.nn class name, constructor kwargs, input shape, mode)
LAYERS = [
    ("Conv1d", dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1), (2, 3, 9), "train"),
    ("Conv1d", dict(in_channels=4, out_channels=4, kernel_size=3, groups=4, padding="same", dilation=2), (2, 4, 8), "train"),
    ("Conv1d", dict(in_channels=2, out_channels=3, kernel_size=4, padding="same"), (2, 2, 7), "train"),
    ("Conv2d", dict(in_channels=3, out_channels=5, kernel_size=3, padding=1), (2, 3, 6, 7), "train"),
    ("Conv2d", dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0),
                    dilation=(1, 2), groups=2, bias=False), (2, 4, 7, 8), "train"),
    ("Conv2d", dict(in_channels=2, out_channels=3, kernel_size=4, padding="same"), (1, 2, 6, 5), "train"),
    ("Conv2d", dict(in_channels=2, out_channels=3, kernel_size=3, padding=2, padding_mode="reflect"), (2, 2, 5, 6), "train"),
    ("Conv2d", dict(in_channels=2, out_channels=3, kernel_size=3, padding=1, padding_mode="replicate"), (2, 2, 5, 6), "train"),
    ("Conv2d", dict(in_channels=2, out_channels=3, kernel_size=3, padding=(1, 2), padding_mode="circular"), (2, 2, 5, 6), "train"),
    ("Conv2d", dict(in_channels=3, out_channels=4, kernel_size=3, stride=3), (3, 5, 5), "train"),  # unbatched
    ("Conv3d", dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1), (2, 2, 5, 6, 4), "train"),
    ("Linear", dict(in_features=5, out_features=3), (4, 5), "train"),
    ("MaxPool1d", dict(kernel_size=3, stride=2, padding=1), (2, 3, 9), "train"),
    ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1), (2, 3, 7, 8), "train"),
    ("MaxPool2d", dict(kernel_size=2, ceil_mode=True), (2, 2, 7, 5), "train"),
    ("MaxPool2d", dict(kernel_size=2, stride=1, dilation=2), (1, 2, 6, 6), "train"),
    ("MaxPool3d", dict(kernel_size=2), (1, 2, 4, 5, 4), "train"),
    ("AvgPool1d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False), (2, 3, 9), "train"),
    ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1), (2, 3, 7, 8), "train"),
    ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (2, 3, 8, 8), "train"),
    ("AvgPool2d", dict(kernel_size=2, divisor_override=3), (2, 3, 6, 6), "train"),
    ("AvgPool3d", dict(kernel_size=2, stride=1), (1, 2, 3, 4, 3), "train"),
    ("AdaptiveAvgPool2d", dict(output_size=(3, 2)), (2, 3, 7, 5), "train"),
    ("AdaptiveAvgPool1d", dict(output_size=4), (2, 3, 10), "train"),
    ("AdaptiveMaxPool2d", dict(output_size=3), (2, 3, 7, 8), "train"),
    ("BatchNorm1d", dict(num_features=4), (6, 4), "train"),
    ("BatchNorm2d", dict(num_features=3), (4, 3, 5, 5), "train"),
    ("BatchNorm2d", dict(num_features=3, momentum=None), (4, 3, 5, 5), "train"),
    ("BatchNorm3d", dict(num_features=2, affine=False), (2, 2, 3, 3, 3), "train"),
    ("LayerNorm", dict(normalized_shape=[4, 5]), (3, 2, 4, 5), "train"),
    ("GroupNorm", dict(num_groups=2, num_channels=4), (3, 4, 5, 5), "train"),
    ("InstanceNorm2d", dict(num_features=3, affine=True), (2, 3, 5, 6), "train"),
    ("LocalResponseNorm", dict(size=3), (2, 5, 4, 4), "train"),
    ("ReLU", dict(), (3, 4, 5), "train"),
    ("ReLU6", dict(), (3, 4, 5), "train"),
    ("LeakyReLU", dict(negative_slope=0.1), (3, 4, 5), "train"),
    ("PReLU", dict(num_parameters=4), (3, 4, 5), "train"),
    ("ELU", dict(alpha=0.7), (3, 4, 5), "train"),
    ("SELU", dict(), (3, 4, 5), "train"),
    ("CELU", dict(alpha=1.5), (3, 4, 5), "train"),
    ("GELU", dict(), (3, 4, 5), "train"),
    ("GELU", dict(approximate="tanh"), (3, 4, 5), "train"),
    ("SiLU", dict(), (3, 4, 5), "train"),
    ("Mish", dict(), (3, 4, 5), "train"),
    ("Sigmoid", dict(), (3, 4, 5), "train"),
    ("Tanh", dict(), (3, 4, 5), "train"),
    ("Hardtanh", dict(min_val=-0.5, max_val=0.8), (3, 4, 5), "train"),
    ("Hardsigmoid", dict(), (3, 4, 5), "train"),
    ("Hardswish", dict(), (3, 4, 5), "train"),
    ("Softplus", dict(beta=2.0, threshold=5.0), (3, 4, 5), "train"),
    ("Softsign", dict(), (3, 4, 5), "train"),
    ("Threshold", dict(threshold=0.1, value=2.0), (3, 4, 5), "train"),
    ("Softmax", dict(dim=1), (3, 4, 5), "train"),
    ("LogSoftmax", dict(dim=-1), (3, 4, 5), "train"),
    ("Softmin", dict(dim=0), (3, 4, 5), "train"),
    ("Flatten", dict(), (2, 3, 4, 5), "train"),
]

# (torch.nn class name, constructor kwargs, input shape, target kind)
LOSSES = [
    ("CrossEntropyLoss", dict(), (6, 5), "index"),
    ("CrossEntropyLoss", dict(weight="weight5", label_smoothing=0.1, ignore_index=2), (6, 5), "index"),
    ("CrossEntropyLoss", dict(reduction="sum"), (2, 4, 3, 3), "index"),
    ("CrossEntropyLoss", dict(label_smoothing=0.2), (6, 5), "prob"),
    ("NLLLoss", dict(weight="weight5"), (6, 5), "index"),
    ("BCELoss", dict(), (4, 3), "unit"),
    ("BCEWithLogitsLoss", dict(pos_weight="weight3"), (4, 3), "unit"),
    ("MSELoss", dict(), (4, 3), "real"),
    ("L1Loss", dict(reduction="sum"), (4, 3), "real"),
    ("SmoothL1Loss", dict(beta=0.5), (4, 3), "real"),
    ("HuberLoss", dict(delta=0.7), (4, 3), "real"),
    ("KLDivLoss", dict(reduction="batchmean"), (4, 3), "logprob"),
]


def make_input(rng, name, shape):
    x = rng.standard_normal(shape)
    if name in ("BCELoss",):
        x = rng.uniform(0.05, 0.95, shape)
    if name == "KLDivLoss":
        x = np.log(rng.dirichlet(np.ones(shape[-1]), size=shape[:-1]))
    return x


def make_target(rng, kind, shape):
    if kind == "index":
        target_shape = (shape[0],) + tuple(shape[2:])
        return rng.integers(0, shape[1], size=target_shape).astype(np.int64)
    if kind == "prob":
        return rng.dirichlet(np.ones(shape[1]), size=shape[0])
    if kind == "unit":
        return rng.uniform(0, 1, shape)
    if kind == "logprob":
        return rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    return rng.standard_normal(shape)


def resolve_kwargs(kwargs, rng, store, prefix):
    """Replace placeholder strings like 'weight5' with stored random arrays."""
    resolved = {}
    for key, value in kwargs.items():
        if isinstance(value, str) and value.startswith("weight") and value[6:].isdigit():
            array = rng.uniform(0.2, 2.0, int(value[6:]))
            store[f"{prefix}/kwarg/{key}"] = array
            resolved[key] = array
        else:
            resolved[key] = value
    return resolved


def main():
    import torch

    torch.manual_seed(0)
    rng = np.random.default_rng(2024)
    store = {}
    spec = {"layers": [], "losses": [], "torch_version": torch.__version__}
    for i, (name, kwargs, shape, mode) in enumerate(LAYERS):
        prefix = f"layer{i}"
        layer = getattr(torch.nn, name)(**kwargs).double()
        with torch.no_grad():  # non-trivial affine parameters and running stats
            for pname, p in layer.named_parameters():
                p.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, p.shape) * rng.choice([-1, 1], p.shape)))
        layer.train(mode == "train")
        x = make_input(rng, name, shape)
        t_x = torch.tensor(x, requires_grad=True)
        for key, value in layer.state_dict().items():
            store[f"{prefix}/state/{key}"] = value.numpy().copy()
        out = layer(t_x)
        upstream = rng.standard_normal(tuple(out.shape))
        out.backward(torch.from_numpy(upstream))
        store[f"{prefix}/x"] = x
        store[f"{prefix}/upstream"] = upstream
        store[f"{prefix}/out"] = out.detach().numpy()
        store[f"{prefix}/dx"] = t_x.grad.numpy()
        for pname, p in layer.named_parameters():
            store[f"{prefix}/grad/{pname}"] = p.grad.numpy()
        for bname, b in layer.named_buffers():
            store[f"{prefix}/buffer_after/{bname}"] = b.numpy().copy()
        spec["layers"].append({"name": name, "kwargs": kwargs, "mode": mode})
    for i, (name, kwargs, shape, kind) in enumerate(LOSSES):
        prefix = f"loss{i}"
        resolved = resolve_kwargs(kwargs, rng, store, prefix)
        t_kwargs = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in resolved.items()}
        loss_fn = getattr(torch.nn, name)(**t_kwargs)
        x = make_input(rng, name, shape)
        target = make_target(rng, kind, shape)
        t_x = torch.tensor(x, requires_grad=True)
        loss = loss_fn(t_x, torch.from_numpy(target))
        upstream = rng.standard_normal(tuple(loss.shape))
        loss.backward(torch.from_numpy(np.asarray(upstream)))
        store[f"{prefix}/x"] = x
        store[f"{prefix}/target"] = target
        store[f"{prefix}/upstream"] = np.asarray(upstream)
        store[f"{prefix}/out"] = loss.detach().numpy()
        store[f"{prefix}/dx"] = t_x.grad.numpy()
        spec["losses"].append({"name": name, "kwargs": kwargs})
    store["spec"] = np.array(json.dumps(spec))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    np.savez_compressed(OUT, **store)
    print(f"wrote {len(spec['layers'])} layer cases and {len(spec['losses'])} loss cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    sys.exit(main())
