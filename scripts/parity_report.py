"""Print how far numconv is from PyTorch on the stored fixture battery.

For every case in ``tests/fixtures/torch_reference.npz`` (made by
``scripts/make_fixtures.py`` from PyTorch), rebuild the layer or loss in
numconv, run forward and backward in float64 and float32, and print the
largest relative error (max-norm, as the tests measure it) over the output,
the input gradient and every parameter gradient. Needs no torch.

Usage::

    python scripts/parity_report.py            # one line per case
    python scripts/parity_report.py --summary  # per layer class
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from numconv import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "torch_reference.npz")


def rel_error(ours, ref) -> float:
    """max |ours - ref| / max |ref| (absolute error where ref is all zeros)."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if ref.size == 0:
        return 0.0
    scale = np.abs(ref).max()
    err = np.abs(ours - ref).max()
    return float(err / scale if scale > 0 else err)


def _items(data, prefix, kind):
    start = f"{prefix}/{kind}/"
    return {k[len(start):]: data[k] for k in data.files if k.startswith(start)}


def layer_error(data, case, prefix, dtype) -> float:
    layer = getattr(nn, case["name"])(**case["kwargs"]).to(dtype)
    layer.load_state_dict(_items(data, prefix, "state"))
    layer.train(case["mode"] == "train")
    errors = [rel_error(layer(data[f"{prefix}/x"].astype(dtype)), data[f"{prefix}/out"])]
    errors.append(rel_error(layer.backward(data[f"{prefix}/upstream"].astype(dtype)), data[f"{prefix}/dx"]))
    grads = _items(data, prefix, "grad")
    errors += [rel_error(p.grad, grads[name]) for name, p in layer.named_parameters()]
    return max(errors)


def loss_error(data, case, prefix, dtype) -> float:
    kwargs = dict(case["kwargs"])
    kwargs.update(_items(data, prefix, "kwarg"))
    loss_fn = getattr(nn, case["name"])(**kwargs)
    target = data[f"{prefix}/target"]
    if target.dtype.kind == "f":
        target = target.astype(dtype)
    errors = [rel_error(loss_fn(data[f"{prefix}/x"].astype(dtype), target), data[f"{prefix}/out"])]
    upstream = data[f"{prefix}/upstream"]
    dx = loss_fn.backward(grad_output=upstream.astype(dtype) if upstream.ndim else float(upstream))
    errors.append(rel_error(dx, data[f"{prefix}/dx"]))
    return max(errors)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", action="store_true", help="one line per layer class")
    args = parser.parse_args(argv)
    data = np.load(FIXTURE, allow_pickle=False)
    spec = json.loads(str(data["spec"]))
    rows = []
    for kind, measure in (("layers", layer_error), ("losses", loss_error)):
        for index, case in enumerate(spec[kind]):
            prefix = f"{'layer' if kind == 'layers' else 'loss'}{index}"
            rows.append((case["name"], json.dumps(case["kwargs"], sort_keys=True),
                         measure(data, case, prefix, np.float64), measure(data, case, prefix, np.float32)))
    if args.summary:
        by_name: dict = {}
        for name, _, e64, e32 in rows:
            n, m64, m32 = by_name.get(name, (0, 0.0, 0.0))
            by_name[name] = (n + 1, max(m64, e64), max(m32, e32))
        print(f"{'layer or loss':<22} {'cases':>5} {'max rel err f64':>16} {'max rel err f32':>16}")
        for name, (n, m64, m32) in by_name.items():
            print(f"{name:<22} {n:>5} {m64:>16.1e} {m32:>16.1e}")
    else:
        for name, kwargs, e64, e32 in rows:
            print(f"{name:<22} {e64:9.1e} {e32:9.1e}  {kwargs}")
    worst64 = max(r[2] for r in rows)
    worst32 = max(r[3] for r in rows)
    print(f"{len(rows)} cases; worst float64 {worst64:.1e} (tolerance 1e-10), worst float32 {worst32:.1e} (tolerance 1e-4)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
