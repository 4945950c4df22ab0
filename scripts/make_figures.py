"""Draw every figure in docs/figures/ with numconv itself (fixed seeds, about a minute on two cores).

    python scripts/make_figures.py                  # all figures into docs/figures/
    python scripts/make_figures.py --only im2col    # just one (names below, without extension)
    python scripts/make_figures.py --sample-image   # also redraw numconv/tools/assets/sample_image.npz

The figures:

- ``sliding_kernel.png`` / ``sliding_kernel.gif``: a 3 x 3 kernel sliding over a 5 x 5 input (the PNG with
  padding 1 and stride 2, two steps; the GIF with neither, every step);
- ``im2col.png``: a 4 x 4 input and two 3 x 3 kernels as one matrix product;
- ``image_filters.png``: the built-in sample picture under every kernel of ``numconv.tools.filters``;
- ``transposed_conv.png``: a transposed convolution (2 x 2 input, 3 x 3 kernel, stride 2) two ways: every input
  pixel stamping the kernel onto the output, and the same output as a direct convolution of the input with
  zeros inserted between its pixels, padded, under the flipped kernel (computed with numconv);
- ``lenet5_filters.png``, ``lenet5_filters_before_after.png``, ``lenet5_feature_maps.png``,
  ``training_curves.png``, ``confusion_matrix.png``, ``saliency.png``, ``worst_mistakes.png``: from a LeNet-5
  trained for 10 epochs on the bundled Fashion-MNIST sample with ``numconv.train.fit``;
- ``maxpool_routing.png``, ``col2im_counts.png``, ``strided_dx.png``: the backward pass on small made-up inputs;
- ``batchnorm_histograms.png``, ``gradient_norms.png``, ``sanity_*.png``: the runs of ``scripts/figure_runs.py``
  on the bundled sample, which also print the numbers quoted in docs/sanity-checks.md.
- ``tape.png``: the tape of layer calls one forward pass of a ResNet block records (``plot_tape``).

Every figure uses the bundled sample (or no data at all); none needs the full Fashion-MNIST.

The sample picture is drawn by ``draw_landscape`` below: every pixel computed from its coordinates with
NumPy (gradients, discs, sine ridges, rectangles), 3x supersampled, no photo involved.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(1, os.path.join(REPO, "scripts"))

FIGURES = os.path.join(REPO, "docs", "figures")
SAMPLE_IMAGE = os.path.join(REPO, "numconv", "tools", "assets", "sample_image.npz")
EPOCHS = 10


def draw_landscape(height=144, width=216, seed=7, supersample=3):
    """A landscape drawn with NumPy: every pixel computed from its coordinates (no photo).

    Each element is a mask or a weight over the (y, x) grid painted over what is already there, drawn at
    ``supersample`` times the size and averaged down so edges are anti-aliased. Returns (height, width, 3) uint8.
    """
    rng = np.random.default_rng(seed)
    h, w = height * supersample, width * supersample
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    y, x = (y + 0.5) / h, (x + 0.5) / w          # 0..1, y grows downwards
    img = np.zeros((h, w, 3))

    def paint(mask, colour):
        m = np.asarray(mask, dtype=np.float64)[..., None]
        img[:] = img * (1 - m) + m * np.asarray(colour, dtype=np.float64)

    horizon = 0.58
    # Sky: deep blue at the top to a pale haze at the horizon.
    t = np.clip(y / horizon, 0, 1)[..., None]
    img[:] = (1 - t) * np.array([0.16, 0.35, 0.72]) + t * np.array([0.80, 0.87, 0.93])
    # Sun with a soft glow.
    sun_r = np.hypot((x - 0.80) * w / h, y - 0.17)
    paint(np.exp(-(sun_r / 0.12) ** 2) * 0.45, [1.0, 0.93, 0.70])
    paint(sun_r < 0.055, [1.0, 0.97, 0.82])
    # Clouds: a few soft white blobs.
    for cx, cy, sx, sy in [(0.22, 0.15, 0.10, 0.035), (0.30, 0.12, 0.07, 0.03), (0.52, 0.24, 0.09, 0.025)]:
        paint(np.clip(1.4 * np.exp(-((x - cx) / sx) ** 2 - ((y - cy) / sy) ** 2), 0, 0.92), [0.97, 0.97, 0.98])

    def ridge(base, amp, freqs):
        phases = rng.uniform(0, 2 * np.pi, len(freqs))
        waves = (np.sin(2 * np.pi * f * x[0] + p) / (1 + i) for i, (f, p) in enumerate(zip(freqs, phases)))
        return base - amp * sum(waves)

    far = ridge(0.40, 0.07, [1.3, 3.1, 7.3, 15.7])
    near = ridge(0.50, 0.06, [0.9, 2.3, 5.9, 12.1])
    paint((y > far) & (y < horizon), [0.45, 0.52, 0.66])
    paint((y > far) & (y < far + 0.035) & (far < 0.36), [0.95, 0.96, 0.98])   # snow caps on the high peaks
    paint((y > near) & (y < horizon), [0.22, 0.42, 0.30])
    # Meadow below the horizon, with one-pixel grain (texture for the blurs to smooth and sharpen to exaggerate).
    grain = rng.normal(0, 1, (h // supersample + 1, w // supersample + 1))
    grain = np.kron(grain, np.ones((supersample, supersample)))[:h, :w]
    meadow = np.array([0.36, 0.62, 0.25]) + 0.035 * grain[..., None] + 0.10 * (y[..., None] - horizon)
    img[:] = np.where((y >= horizon)[..., None], meadow, img)
    # Lake on the left: the sky and mountains mirrored, darker, with ripples.
    lake = ((x - 0.25) / 0.24) ** 2 + ((y - 0.78) / 0.13) ** 2 < 1
    mirror_y = np.clip(2 * horizon - y + 0.004 * np.sin(2 * np.pi * y * 90), 0, horizon - 1e-6)
    rows = (mirror_y * h).astype(int)
    reflection = img[rows, np.arange(w)[None, :]] * np.array([0.70, 0.78, 0.88])
    img[:] = np.where(lake[..., None], reflection, img)
    # House: white walls, red roof, dark windows with crossbars, a door.
    wall = (x > 0.58) & (x < 0.78) & (y > 0.60) & (y < 0.82)
    paint(wall, [0.93, 0.90, 0.84])
    roof = (y > 0.47) & (y <= 0.60) & (np.abs(x - 0.68) < (y - 0.47) / 0.13 * 0.12)
    paint(roof, [0.70, 0.16, 0.12])
    for wx in (0.61, 0.71):
        window = (x > wx) & (x < wx + 0.05) & (y > 0.64) & (y < 0.71)
        paint(window, [0.15, 0.20, 0.30])
        bars = window & ((np.abs(x - (wx + 0.025)) < 0.003) | (np.abs(y - 0.675) < 0.004))
        paint(bars, [0.93, 0.90, 0.84])
    paint((x > 0.665) & (x < 0.695) & (y > 0.72) & (y < 0.82), [0.40, 0.25, 0.15])
    # Fence: thin posts and two rails in front of the meadow.
    posts = (x > 0.52) & (np.mod(x, 0.022) < 0.007) & (y > 0.84) & (y < 0.93)
    rails = (x > 0.52) & ((np.abs(y - 0.865) < 0.005) | (np.abs(y - 0.905) < 0.005))
    paint(posts | rails, [0.55, 0.42, 0.30])
    # Trees: dark green triangles on brown trunks.
    for tx, ty, size in [(0.87, 0.80, 0.11), (0.94, 0.77, 0.09), (0.52, 0.72, 0.07)]:
        paint((np.abs(x - tx) < 0.006) & (y > ty - 0.02) & (y < ty + 0.04), [0.35, 0.22, 0.12])
        crown = (y < ty) & (y > ty - size * 2) & (np.abs(x - tx) * w / h < (y - (ty - size * 2)) * 0.32)
        paint(crown, [0.10, 0.33, 0.16])
    img = img.reshape(height, supersample, width, supersample, 3).mean(axis=(1, 3))
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------- figures
def sliding_kernel_figures(out):
    from numconv.tools.viz import sliding_kernel, sliding_kernel_gif

    # The same input and kernel as in docs/pictures.md.
    x = np.array([[3, 0, 1, 2, 1], [1, 2, 0, 1, 3], [0, 1, 3, 2, 0], [2, 0, 1, 1, 2], [1, 3, 0, 0, 1]])
    kernel = np.array([[0, 1, 2], [2, 2, 0], [0, 1, 2]])
    sliding_kernel(x, kernel, stride=2, padding=1, step=[0, 4], path=os.path.join(out, "sliding_kernel.png"))
    sliding_kernel_gif(os.path.join(out, "sliding_kernel.gif"), x, kernel, dpi=100)


def im2col_figure(out):
    from numconv.tools.viz import plot_im2col

    x = np.arange(16).reshape(4, 4) % 5
    kernels = np.array([[[1, 0, -1], [1, 0, -1], [1, 0, -1]], [[0, 1, 0], [1, -4, 1], [0, 1, 0]]])
    plot_im2col(x, kernels, path=os.path.join(out, "im2col.png"), highlight=1)


def image_filters_figure(out):
    from numconv.tools.viz import plot_image_filters

    path = os.path.join(out, "image_filters.png")
    plot_image_filters(path=path)
    _to_palette(path)


def _to_palette(path, colours=256):
    """Re-save a PNG with an adaptive palette: photo-like panels otherwise weigh 400+ KB."""
    from PIL import Image

    with Image.open(path) as image:
        indexed = image.convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT,
                                                dither=Image.Dither.NONE)
    indexed.save(path, optimize=True)


def lenet5_figures(out):
    """Train LeNet-5 briefly on the bundled sample, then draw its filters, feature maps, curves, confusion."""
    import numconv
    from numconv import nn, optim
    from numconv.data import Compose, DataLoader, FashionMNISTSample, Normalize, Pad, ToFloat
    from numconv.models import LeNet5
    from numconv.optim.lr_scheduler import CosineAnnealingLR
    from numconv.train import evaluate, fit
    from numconv.tools.viz import plot_confusion_matrix, plot_feature_maps, plot_filters, plot_history

    transform = Compose([ToFloat(), Pad(2), Normalize([0.2860], [0.3530])])
    train_set = FashionMNISTSample(train=True, transform=transform)
    test_set = FashionMNISTSample(train=False, transform=transform)
    numconv.manual_seed(0)
    model = LeNet5()
    filters_before = model[0].weight.data.copy()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = CosineAnnealingLR(optimizer, T_max=EPOCHS)
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True, seed=0)
    test_loader = DataLoader(test_set, batch_size=256)
    history = fit(model, train_loader, nn.CrossEntropyLoss(), optimizer, EPOCHS, val_loader=test_loader,
                  scheduler=scheduler, progress=False)
    metrics = evaluate(model, test_loader, nn.CrossEntropyLoss())
    names = list(test_set.classes)

    plot_filters(model[0], os.path.join(out, "lenet5_filters.png"),
                 title="LeNet-5 C1 after training: 6 filters of 5×5")
    image, label = test_set[0]
    plot_feature_maps(model, image, os.path.join(out, "lenet5_feature_maps.png"), class_names=names,
                      title=f"What each layer of LeNet-5 sees (a {names[label]}; predicted: "
                            f"{names[int(np.argmax(model.eval()(image[None])))]})")
    plot_history(history, os.path.join(out, "training_curves.png"),
                 title=f"LeNet-5 on the bundled Fashion-MNIST sample ({len(train_set):,} training images)")
    plot_confusion_matrix(metrics["confusion_matrix"], names, os.path.join(out, "confusion_matrix.png"),
                          title=f"LeNet-5 after {EPOCHS} epochs: {100 * metrics['accuracy']:.1f}% "
                                f"on {metrics['n']:,} test images")
    print(f"  LeNet-5 after {EPOCHS} epochs: test accuracy {100 * metrics['accuracy']:.1f} %")
    lenet5_after_training(out, model, filters_before, test_set, names)


def lenet5_after_training(out, model, filters_before, test_set, names):
    """Filters before and after, saliency maps and the worst mistakes of the trained LeNet-5."""
    from numconv.data import FashionMNISTSample
    from numconv.tools.viz import plot_filters_before_after, plot_saliency, plot_worst_mistakes, worst_mistakes

    plot_filters_before_after(filters_before, model[0].weight.data, os.path.join(out, "lenet5_filters_before_after.png"),
                              title=f"LeNet-5 C1 filters at initialisation and after {EPOCHS} epochs on the sample")
    images = [test_set[i][0] for i in range(6)]
    plot_saliency(model, images, names, os.path.join(out, "saliency.png"))
    model.eval()
    inputs = np.stack([test_set[i][0] for i in range(len(test_set))])
    logits = np.concatenate([np.asarray(model(inputs[i:i + 500]), dtype=np.float64) for i in range(0, len(inputs), 500)])
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    labels = np.array([test_set[i][1] for i in range(len(test_set))])
    raw = FashionMNISTSample(train=False)
    mistakes = worst_mistakes(probabilities, labels, 12)
    plot_worst_mistakes(np.stack([raw[i][0] for i in range(len(raw))]), mistakes, names,
                        os.path.join(out, "worst_mistakes.png"))
    print(f"  worst mistakes: {[(names[t], names[p], round(c, 3)) for _, t, p, c in mistakes[:4]]}")


def backward_figures(out):
    """Max pooling's routing (with ties), col2im's overlap counts, and dx of a stride-2 convolution."""
    from numconv.tools.viz import plot_col2im_counts, plot_maxpool_routing, plot_strided_dx

    x = np.array([[1, 3, 5, 5, 0], [2, 0, 5, 5, 1], [7, 7, 0, 1, 4], [7, 7, 2, 1, 6], [0, 2, 3, 8, 1]])
    plot_maxpool_routing(x, np.array([[1, 2], [3, 4]]), kernel_size=3, stride=2,
                         path=os.path.join(out, "maxpool_routing.png"))
    plot_col2im_counts(8, 8, 3, strides=(1, 2, 4), path=os.path.join(out, "col2im_counts.png"))
    sobel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    plot_strided_dx(np.array([[1, 2], [3, 4]]), sobel, stride=2, input_size=(5, 5),
                    path=os.path.join(out, "strided_dx.png"))


def sanity_figures(out):
    """The sanity-check runs on the bundled sample: print their numbers, draw their curves."""
    import figure_runs as runs
    from numconv.tools.viz import (layer_outputs, plot_activation_histograms, plot_gradient_norms,
                                   plot_loss_curves)

    images, labels, _, _ = runs.sample_arrays(train=True)
    test_images, test_labels, _, _ = runs.sample_arrays(train=False)
    for label, loss in runs.initial_loss(test_images, test_labels).items():
        print(f"  initial loss, {label}: {loss:.4f} (ln 10 = {np.log(10):.4f})")
    losses, acc = runs.overfit_fifty(images, labels)
    print(f"  overfit 50 images: loss {losses[0]:.4f} -> {losses[-1]:.5f}, accuracy on them {100 * acc:.0f} %, "
          f"first step at 100 %: see the curve")
    plot_loss_curves({"LeNet-5 on 50 images": losses}, os.path.join(out, "sanity_overfit.png"),
                     title="Overfitting 50 images: the loss must go to about 0", reference=float(np.log(10)))
    lrs = runs.learning_rates(images, labels, test_images, test_labels)
    runs.report("learning rates (LeNet-5, SGD momentum 0.9, 300 steps of 64)", lrs)
    plot_loss_curves({k: v[0] for k, v in lrs.items()}, os.path.join(out, "sanity_learning_rates.png"),
                     title="LeNet-5 with four learning rates", reference=float(np.log(10)))
    inits, norms, saturated = runs.initialisations(images, labels, test_images, test_labels)
    runs.report("initialisations (LeNet-5, lr 0.05)", inits)
    plot_loss_curves({k: v[0] for k, v in inits.items()}, os.path.join(out, "sanity_init.png"),
                     title="LeNet-5 with three initialisations", reference=float(np.log(10)))
    plot_gradient_norms(norms, os.path.join(out, "gradient_norms.png"), saturation=saturated,
                        title="LeNet-5 (tanh), lr 0.05: gradient size per layer, and how many tanh outputs saturate")
    for label, records in norms.items():
        first, last = records[0], records[-1]
        print(f"  gradient norms, {label}: first step {dict((k, f'{v:.2g}') for k, v in first.items())}; "
              f"last {dict((k, f'{v:.2g}') for k, v in last.items())}")
        print(f"  saturated tanh outputs, {label}: first {saturated[label][0]}; last {saturated[label][-1]}")
    bns = runs.batch_norm_runs(images, labels, test_images, test_labels)
    runs.report("batch norm (small CNN, SGD momentum 0.9, 300 steps of 64)", bns)
    plot_loss_curves({k: v[0] for k, v in bns.items()}, os.path.join(out, "sanity_batch_norm.png"),
                     title="A small CNN with and without batch norm", reference=float(np.log(10)))
    model = runs.small_cnn(True)
    outputs = layer_outputs(model, test_images[:256])
    plot_activation_histograms(outputs[0][2], outputs[1][2], os.path.join(out, "batchnorm_histograms.png"),
                               title="The first conv layer's outputs for 256 test images, at initialisation: "
                                     "before and after batch norm")


def transposed_conv_figure(out):
    """Stamping and zero insertion side by side, every number computed by numconv."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from numconv import functional as F

    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    kernel = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    stride = 2
    result = F.conv_transpose2d(x[None, None], kernel[None, None], stride=stride)[0][0, 0]  # 5 x 5
    # The same output as a direct convolution: s - 1 zeros between pixels, k - 1 zeros around, flipped kernel.
    spread = np.zeros((3, 3))
    spread[::stride, ::stride] = x
    padded = np.pad(spread, 2)
    flipped = kernel[::-1, ::-1]
    direct = F.conv2d(padded[None, None], flipped[None, None])[0][0, 0]
    assert np.array_equal(result, direct)

    colours = {"in": (0.90, 0.95, 1.00), "zero": (0.93, 0.93, 0.93), "kernel": (1.00, 0.93, 0.70),
               "out": (0.85, 0.95, 0.85), "hi": (1.00, 0.80, 0.55)}

    def grid(ax, values, x0, y0, colour, title=None, highlight=(), size=0.8, faint_zero=False):
        rows, cols = values.shape
        for i in range(rows):
            for j in range(cols):
                zero = faint_zero and values[i, j] == 0
                face = colours["hi"] if (i, j) in highlight else colours["zero"] if zero else colour
                ax.add_patch(Rectangle((x0 + j * size, y0 - (i + 1) * size), size, size, facecolor=face,
                                       edgecolor="0.4", linewidth=0.8))
                ax.text(x0 + (j + 0.5) * size, y0 - (i + 0.5) * size, f"{values[i, j]:g}", ha="center",
                        va="center", fontsize=8, color="0.55" if zero else "black")
        if title:
            ax.text(x0 + cols * size / 2, y0 + 0.2, title, ha="center", va="bottom", fontsize=8.5)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    for ax in axes:
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_xlim(-0.2, 10.6)
        ax.set_ylim(-9.0, 1.4)
    left, right = axes
    window = {(i, j) for i in range(3) for j in range(2, 5)}
    # Left: every input pixel stamps value * kernel at (2i, 2j); overlaps add up.
    grid(left, x, 0, 0, colours["in"], "input x", highlight={(0, 1)})
    grid(left, kernel, 2.2, 0, colours["kernel"], "kernel w")
    stamp = np.zeros((5, 5))
    stamp[0:3, 2:5] = x[0, 1] * kernel
    grid(left, stamp, 5.4, 0, colours["out"], "x[0, 1] · w at (0, 2)", highlight=window, faint_zero=True)
    grid(left, result, 2.2, -4.8, colours["out"], "output: the 4 stamps added", highlight={(0, 2)})
    left.text(-0.1, -2.2, "stride 2: each input\npixel stamps the\nkernel, scaled by\nits value, 2 pixels\n"
              "from its neighbour's\nstamp; overlaps\nadd up", fontsize=8, va="top")
    left.text(5.2, 1.3, "transposed convolution as stamps (conv's input gradient)", fontsize=10, ha="center")
    # Right: zeros between the pixels, k - 1 = 2 zeros around, a plain convolution with the flipped kernel.
    grid(right, padded, 0, 0, colours["in"], "x spread out: zeros between, k - 1 = 2 around",
         highlight=window, faint_zero=True)
    grid(right, flipped, 6.4, 0, colours["kernel"], "w flipped")
    grid(right, direct, 6.4, -3.4, colours["out"], "direct convolution", highlight={(0, 2)})
    right.text(0, -6.0, "the same numbers, but most products\nmultiply a zero: the stamps skip them",
               fontsize=8, va="top")
    right.text(5.2, 1.3, "the same as a convolution of the zero-inserted input", fontsize=10, ha="center")
    fig.subplots_adjust(left=0.01, right=0.99, top=0.98, bottom=0.02, wspace=0.05)
    fig.savefig(os.path.join(out, "transposed_conv.png"), dpi=110)
    plt.close(fig)
    _to_palette(os.path.join(out, "transposed_conv.png"))


def tape_figure(out):
    """The tape of a ResNet basic block written with only ``forward``: the input is a fork."""
    from numconv import nn
    from numconv.tools.viz import plot_tape

    class BasicBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)
            self.relu = nn.ReLU()
            self.conv2, self.bn2 = nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4)
            self.add = nn.Add()

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(self.add(out, x))

    x = np.random.default_rng(0).standard_normal((2, 4, 6, 6)).astype(np.float32)
    plot_tape(BasicBlock(), x, path=os.path.join(out, "tape.png"),
              title="The tape of a ResNet block's forward (read down), replayed upward by backward")


FIGURE_MAKERS = {
    "backward": backward_figures,
    "sanity": sanity_figures,
    "sliding_kernel": sliding_kernel_figures,
    "im2col": im2col_figure,
    "image_filters": image_filters_figure,
    "transposed_conv": transposed_conv_figure,
    "lenet5": lenet5_figures,
    "tape": tape_figure,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(FIGURE_MAKERS), action="append",
                        help="make only these figures (repeatable)")
    parser.add_argument("--out", default=FIGURES, help="output folder (default docs/figures)")
    parser.add_argument("--sample-image", action="store_true",
                        help="first redraw the sample picture into numconv/tools/assets/")
    args = parser.parse_args(argv)
    if args.sample_image:
        np.savez_compressed(SAMPLE_IMAGE, image=draw_landscape())
        print(f"wrote {os.path.relpath(SAMPLE_IMAGE, REPO)}")
    os.makedirs(args.out, exist_ok=True)
    before = set(os.listdir(args.out))
    for name in args.only or FIGURE_MAKERS:
        start = time.perf_counter()
        FIGURE_MAKERS[name](args.out)
        print(f"{name}: {time.perf_counter() - start:.1f} s")
    for name in sorted(os.listdir(args.out)):
        path = os.path.join(args.out, name)
        print(f"  {name:28s} {os.path.getsize(path) / 1024:6.1f} KB" + ("" if name in before else "  (new)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
