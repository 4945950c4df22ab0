"""Train the convolutional autoencoder to remove noise from Fashion-MNIST, with numconv and with PyTorch.

Each clean image x (pixels in [0, 1]) gets Gaussian noise, ``noisy =
clip(x + sigma * n, 0, 1)``; the autoencoder (``numconv.models.autoencoder``:
two stride-2 convolutions down to 7 x 7, two stride-2 transposed
convolutions back to 28 x 28, a sigmoid) is trained to map ``noisy`` back to
``x`` with ``MSELoss``. Both sides start from the same weights (copied with
``to_torch``), see the same noisy batches in the same order, and use Adam
with the same settings; the test MSE (noisy test images from one fixed seed)
of both is printed next to that of doing nothing (the noisy image itself).
The picture ``docs/figures/denoise.png`` shows noisy, denoised (numconv) and
clean test images, one row each.

Usage::

    python scripts/train_denoise.py                                   # full Fashion-MNIST, 5 epochs
    python scripts/train_denoise.py --epochs 1 --limit 5000           # a quick check
    python scripts/train_denoise.py --dataset sample                  # the bundled sample, offline
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, REPO)

import numconv  # noqa: E402
from numconv import models, nn, optim  # noqa: E402
from numconv.data import get_dataset  # noqa: E402
from numconv.interop import to_torch  # noqa: E402


def load(name, train, limit):
    """Pixels in [0, 1], shape (N, 1, 28, 28), float32."""
    dataset = get_dataset(name, train=train)
    n = len(dataset) if limit is None else min(limit, len(dataset))
    return np.ascontiguousarray(dataset.data[:n, None], dtype=np.float32) / 255.0


def add_noise(x, sigma, rng):
    return np.clip(x + sigma * rng.standard_normal(x.shape, dtype=np.float32), 0.0, 1.0)


def numconv_epoch(model, optimizer, noisy, clean, batch_size):
    criterion = nn.MSELoss()
    model.train()
    total = 0.0
    for start in range(0, len(noisy), batch_size):
        optimizer.zero_grad()
        loss = criterion(model(noisy[start:start + batch_size]), clean[start:start + batch_size])
        model.backward(criterion.backward())
        optimizer.step()
        total += loss * len(noisy[start:start + batch_size])
    return total / len(noisy)


def torch_epoch(torch, model, optimizer, noisy, clean, batch_size):
    model.train()
    total = 0.0
    for start in range(0, len(noisy), batch_size):
        optimizer.zero_grad()
        xb, yb = torch.from_numpy(noisy[start:start + batch_size]), torch.from_numpy(clean[start:start + batch_size])
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
    return total / len(noisy)


def numconv_predict(model, x, batch_size=500):
    model.eval()
    with numconv.no_grad():
        return np.concatenate([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def torch_predict(torch, model, x, batch_size=500):
    model.eval()
    with torch.no_grad():
        return np.concatenate([model(torch.from_numpy(x[i:i + batch_size])).numpy()
                               for i in range(0, len(x), batch_size)])


def save_figure(path, noisy, denoised, clean, n=8):
    """Three rows of ``n`` test images: noisy, denoised, clean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, n, figsize=(1.2 * n, 4.0))
    for row, (title, images) in enumerate((("noisy", noisy), ("denoised", denoised), ("clean", clean))):
        for col in range(n):
            ax = axes[row, col]
            ax.imshow(images[col, 0], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="fashion-mnist", choices=["fashion-mnist", "mnist", "sample"])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--sigma", type=float, default=0.3, help="standard deviation of the noise (pixels in [0, 1])")
    p.add_argument("--limit", type=int, default=None, help="use only the first N training (and N test) images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--torch-threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--figure", default=os.path.join(REPO, "docs", "figures", "denoise.png"))
    args = p.parse_args(argv)
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")

    import torch

    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)
    clean_train, clean_test = load(args.dataset, True, args.limit), load(args.dataset, False, args.limit)
    noisy_test = add_noise(clean_test, args.sigma, np.random.default_rng(args.seed + 1))
    numconv.manual_seed(args.seed)
    ours = models.autoencoder()
    theirs = to_torch(ours)
    ours_opt = optim.Adam(ours.parameters(), lr=args.lr)
    theirs_opt = torch.optim.Adam(theirs.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    print(f"autoencoder ({sum(p.size for p in ours.parameters()):,} parameters) on {args.dataset}: "
          f"{len(clean_train):,} training / {len(clean_test):,} test images, noise sigma {args.sigma}, batch "
          f"{args.batch_size}, Adam lr {args.lr}; torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"test MSE of the noisy images themselves: {np.mean((noisy_test - clean_test) ** 2):.5f}")
    print(f"{'epoch':>5} | {'numconv train':>13} {'test MSE':>9} {'s':>7} | {'torch train':>11} {'test MSE':>9} "
          f"{'s':>7}", flush=True)
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(clean_train))
        clean = clean_train[order]
        noisy = add_noise(clean, args.sigma, rng)
        start = time.perf_counter()
        loss_o = numconv_epoch(ours, ours_opt, noisy, clean, args.batch_size)
        t_o = time.perf_counter() - start
        start = time.perf_counter()
        loss_t = torch_epoch(torch, theirs, theirs_opt, noisy, clean, args.batch_size)
        t_t = time.perf_counter() - start
        denoised = numconv_predict(ours, noisy_test)
        mse_o = float(np.mean((denoised - clean_test) ** 2))
        mse_t = float(np.mean((torch_predict(torch, theirs, noisy_test) - clean_test) ** 2))
        print(f"{epoch:>5} | {loss_o:>13.5f} {mse_o:>9.5f} {t_o:>7.1f} | {loss_t:>11.5f} {mse_t:>9.5f} {t_t:>7.1f}",
              flush=True)
    save_figure(args.figure, noisy_test, denoised, clean_test)
    print(f"test MSE: numconv {mse_o:.5f}, torch {mse_t:.5f}, noisy input {np.mean((noisy_test - clean_test) ** 2):.5f}"
          f"; figure: {os.path.relpath(args.figure)}")


if __name__ == "__main__":
    main()
