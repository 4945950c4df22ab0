"""Pictures of a network in training: activations before and after batch norm, the size of each layer's
gradient over the steps, filters before and after training, a saliency map, and the worst mistakes.

The numbers come from numconv (``gradient_norms``, ``saliency``,
``worst_mistakes`` are public and tested); the functions here only draw.
"""

from __future__ import annotations

import numpy as np

from ._figure import finish, new_figure, no_ticks, symmetric_limits

__all__ = ["plot_loss_curves", "plot_activation_histograms", "gradient_norms", "plot_gradient_norms", "plot_filters_before_after",
           "saliency", "plot_saliency", "worst_mistakes", "plot_worst_mistakes"]


def plot_loss_curves(runs: dict, path=None, *, title: str | None = None, ylabel: str = "training loss",
                     reference: float | None = None):
    """Loss per step of several runs on one axes (log scale when the values span more than 100×).

    Parameters
    ----------
    runs : dict
        ``{label: sequence of losses}``; a NaN or inf ends its line (a diverged run).
    reference : float, optional
        A horizontal dotted line (e.g. ln 10, the loss of a uniform guess).
    """
    fig = new_figure("plot_loss_curves", (6.4, 3.8))
    fig.set_layout_engine("constrained")
    ax = fig.add_subplot()
    finite = np.concatenate([np.asarray(v, dtype=np.float64)[np.isfinite(v)] for v in runs.values()])
    for label, losses in runs.items():
        losses = np.asarray(losses, dtype=np.float64)
        ax.plot(np.arange(1, losses.size + 1), losses, label=label, linewidth=1.1)
    if reference is not None:
        ax.axhline(reference, color="black", linestyle=":", linewidth=1, label=f"{reference:.3f}")
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 100:
        ax.set_yscale("log")
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    ax.set_title(title or "", fontsize=10)
    return finish(fig, path)


def plot_activation_histograms(before, after, path=None, *, channels: int = 4, title: str | None = None):
    """Histograms of a layer's activations per channel, before and after batch norm.

    Parameters
    ----------
    before, after : ndarray (N, C, H, W)
        The input and the output of a batch-norm layer for one batch.
    channels : int
        The first channels drawn, one colour each.
    """
    fig = new_figure("plot_activation_histograms", (9.0, 3.4))
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, 2)
    for ax, values, label in ((axes[0], before, "before batch norm"), (axes[1], after, "after batch norm")):
        values = np.asarray(values, dtype=np.float64)
        for c in range(min(channels, values.shape[1])):
            v = values[:, c].ravel()
            ax.hist(v, bins=50, histtype="step", linewidth=1.4, label=f"channel {c}: mean {v.mean():.2f}, "
                                                                      f"std {v.std():.2f}")
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=7)
        ax.set_xlabel("activation", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title or "One batch's activations per channel", fontsize=10)
    return finish(fig, path)


def gradient_norms(model) -> dict:
    """``{layer name: L2 norm of its weight's gradient}`` for every parameter named ``weight`` (None skipped)."""
    norms = {}
    for name, param in model.named_parameters():
        if name.endswith("weight") and param.grad is not None:
            norms[name[: -len(".weight")] or name] = float(np.sqrt(np.sum(np.square(param.grad, dtype=np.float64))))
    return norms


def plot_gradient_norms(runs: dict, path=None, *, saturation: dict | None = None, every: int = 10,
                        title: str | None = None):
    """The gradient norm of each layer over the training steps, one column per run, log scale.

    Parameters
    ----------
    runs : dict
        ``{run title: list of gradient_norms(model) dicts, one per step}``.
    saturation : dict, optional
        ``{run title: list of {tanh layer: saturated fraction}}``, one every ``every`` steps: drawn as a
        second row.
    """
    rows = 2 if saturation else 1
    fig = new_figure("plot_gradient_norms", (4.4 * len(runs), 3.2 * rows + 0.4))
    fig.set_layout_engine("constrained")
    axes = np.asarray(fig.subplots(rows, len(runs), squeeze=False))  # each run its own scale: they differ by decades
    for k, (label, records) in enumerate(runs.items()):
        ax = axes[0, k]
        for layer in records[0]:
            values = np.array([r[layer] for r in records])
            ax.plot(np.where(values > 0, values, np.nan), label=f"layer {layer}", linewidth=1.1)
        ax.set_yscale("log")
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=7)
        if saturation:
            fractions = saturation[label]
            for layer in fractions[0]:
                axes[1, k].plot(np.arange(len(fractions)) * every, [f[layer] for f in fractions],
                                label=f"tanh {layer}", linewidth=1.1)
            axes[1, k].set_ylim(-0.02, 1.02)
            axes[1, k].tick_params(labelsize=7)
            axes[1, k].set_xlabel("step", fontsize=8)
    axes[0, 0].set_ylabel("|gradient of the weight|", fontsize=8)
    axes[0, -1].legend(fontsize=7)
    if saturation:
        axes[1, 0].set_ylabel("fraction of tanh outputs\nbeyond ±0.99 (saturated)", fontsize=8)
        axes[1, -1].legend(fontsize=7)
    fig.suptitle(title or "Gradient size per layer through training", fontsize=10)
    return finish(fig, path)


def plot_filters_before_after(before, after, path=None, *, title: str | None = None):
    """Each first-layer filter before training (top row) and after (bottom row), one colour scale per row.

    Parameters
    ----------
    before, after : ndarray (F, 1, kh, kw)
    """
    before, after = np.asarray(before)[:, 0], np.asarray(after)[:, 0]
    fig = new_figure("plot_filters_before_after", (1.2 + 1.3 * before.shape[0], 3.2))
    fig.set_layout_engine("constrained")
    axes = fig.subplots(2, before.shape[0], squeeze=False)
    for row, (weights, label) in enumerate(((before, "before"), (after, "after"))):
        low, high = symmetric_limits(weights)
        for f in range(weights.shape[0]):
            image = axes[row, f].imshow(weights[f], cmap="RdBu_r", vmin=low, vmax=high, interpolation="nearest")
            no_ticks(axes[row, f])
        axes[row, 0].set_ylabel(label, fontsize=9)
        fig.colorbar(image, ax=list(axes[row]), fraction=0.04, pad=0.01).ax.tick_params(labelsize=6)
    fig.suptitle(title or "First-layer filters before and after training (red positive, blue negative)",
                 fontsize=10)
    return finish(fig, path)


def saliency(model, image) -> tuple:
    """The gradient of the predicted class's logit with respect to the input.

    Parameters
    ----------
    model : Module
    image : ndarray (C, H, W), preprocessed as the model expects

    Returns
    -------
    (gradient (C, H, W), predicted class, logits (K,))
        Parameter gradients are left as they were (zeroed afterwards).
    """
    was_training = model.training
    model.train()  # backward needs a training-mode forward (this model's layers behave alike in both modes)
    try:
        logits = np.asarray(model(np.asarray(image)[None]))
        predicted = int(np.argmax(logits[0]))
        upstream = np.zeros_like(logits)
        upstream[0, predicted] = 1.0
        gradient = np.asarray(model.backward(upstream))[0]
    finally:
        model.zero_grad()
        model.train(was_training)
    return gradient, predicted, logits[0]


def plot_saliency(model, images, class_names=None, path=None, *, title: str | None = None):
    """Each image above the size of its saliency ``|d logit_predicted / d pixel|`` (bright: most sensitive).

    Parameters
    ----------
    images : sequence of ndarray (1, H, W), preprocessed
    """
    fig = new_figure("plot_saliency", (1.0 + 1.6 * len(images), 3.6))
    fig.set_layout_engine("constrained")
    axes = fig.subplots(2, len(images), squeeze=False)
    for k, image in enumerate(images):
        gradient, predicted, _ = saliency(model, image)
        axes[0, k].imshow(np.asarray(image)[0], cmap="gray", interpolation="nearest")
        axes[0, k].set_title(str(class_names[predicted]) if class_names else str(predicted), fontsize=8)
        shown = axes[1, k].imshow(np.abs(gradient).max(axis=0), cmap="inferno", interpolation="nearest")
        no_ticks(axes[0, k])
        no_ticks(axes[1, k])
    axes[0, 0].set_ylabel("input", fontsize=8)
    axes[1, 0].set_ylabel("|gradient|", fontsize=8)
    fig.colorbar(shown, ax=list(axes[1]), fraction=0.04, pad=0.01).ax.tick_params(labelsize=6)
    fig.suptitle(title or "Saliency: which pixels move the predicted class's score most", fontsize=10)
    return finish(fig, path)


def worst_mistakes(probabilities, labels, n: int = 12) -> list:
    """The ``n`` misclassified examples the model was surest about: ``[(index, label, predicted, p), ...]``."""
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probabilities[wrong, predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")][:n]
    return [(int(i), int(labels[i]), int(predicted[i]), float(probabilities[i, predicted[i]])) for i in order]


def plot_worst_mistakes(images, mistakes, class_names=None, path=None, *, columns: int = 6, title: str | None = None):
    """The images of ``worst_mistakes``, each titled "true -> predicted (p %)".

    Parameters
    ----------
    images : ndarray (N, H, W) or (N, 1, H, W), the data set's images (raw or preprocessed)
    mistakes : list from ``worst_mistakes``
    """
    images = np.asarray(images)
    rows = max(1, -(-len(mistakes) // columns))
    fig = new_figure("plot_worst_mistakes", (1.75 * columns, 0.6 + 1.95 * rows))
    fig.set_layout_engine("constrained")
    axes = np.asarray(fig.subplots(rows, columns, squeeze=False))
    name = (lambda k: class_names[k]) if class_names else str
    for ax in axes.ravel():
        no_ticks(ax)
        ax.axis("off")
    for ax, (index, label, predicted, p) in zip(axes.ravel(), mistakes):
        ax.axis("on")
        ax.imshow(images[index].reshape(images.shape[-2:]), cmap="gray", interpolation="nearest")
        ax.set_title(f"{name(label)}\n→ {name(predicted)} ({100 * p:.0f}%)", fontsize=7)
    fig.suptitle(title or "The worst mistakes: wrong, and sure of it (true → predicted)", fontsize=10)
    return finish(fig, path)
