"""Single-thread CPU time of W11 and W12 (transposed convolution, x2 upsampling) next to PyTorch's.

    python benchmarks/upsampling_cpu_time.py

Both sides on one thread (numconv: one worker, BLAS on one thread; PyTorch:
``torch.set_num_threads(1)``), timed with ``time.process_time`` in
alternating rounds, median of 7. CPU time rather than wall time: on a
shared machine whose load swings, a process's own CPU time is the figure
least disturbed by the other jobs (the suite's wall-clock ratios can move
by 3x under load). Run it under the fair conditions of docs/performance.md.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> int:
    import torch
    from threadpoolctl import threadpool_limits

    from numconv import functional as F
    from numconv.kernels import workers

    torch.set_num_threads(1)
    workers.set_num_workers(1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 64, 28, 28), dtype=np.float32)
    w = rng.standard_normal((64, 32, 4, 4), dtype=np.float32) * np.float32(0.1)
    b = rng.standard_normal(32, dtype=np.float32)
    dy_ct = rng.standard_normal((16, 32, 56, 56), dtype=np.float32)
    dy_up = rng.standard_normal((16, 64, 56, 56), dtype=np.float32)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tf = torch.nn.functional

    def ct_ours():
        return F.conv_transpose2d_backward(dy_ct, F.conv_transpose2d(x, w, b, stride=2, padding=1)[1])

    def ct_torch():
        return torch.autograd.grad(tf.conv_transpose2d(tx, tw, tb, stride=2, padding=1), (tx, tw, tb),
                                   torch.from_numpy(dy_ct))

    def up(mode):
        def ours():
            return F.interpolate_backward(dy_up, F.interpolate(x, scale_factor=2, mode=mode)[1])

        def theirs():
            return torch.autograd.grad(tf.interpolate(tx, scale_factor=2, mode=mode), (tx,), torch.from_numpy(dy_up))
        return ours, theirs

    cases = {"W11 conv_transpose 64->32 4x4 s2 p1, fwd+bwd": (ct_ours, ct_torch),
             "W12 bilinear x2, fwd+bwd": up("bilinear"), "W12 nearest x2, fwd+bwd": up("nearest")}
    with threadpool_limits(1):
        for name, sides in cases.items():
            times = ([], [])
            for _ in range(7):
                for fn, acc in zip(sides, times):
                    fn()
                    start = time.process_time()
                    for _ in range(3):
                        fn()
                    acc.append((time.process_time() - start) / 3)
            ours, theirs = (float(np.median(t)) for t in times)
            print(f"{name:48s} numconv {ours * 1e3:6.1f} ms  torch {theirs * 1e3:6.1f} ms  ratio {ours / theirs:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
