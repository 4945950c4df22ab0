"""Pictures of what a CNN does, drawn with matplotlib from numconv itself.

- ``plot_filters(layer)``: the learned filters of a conv layer, as a grid;
- ``plot_feature_maps(model, image)``: what every layer sees for one input;
- ``plot_history(history)``: training curves from ``numconv.train.fit``;
- ``plot_confusion_matrix(matrix, class_names)``;
- ``sliding_kernel(x, kernel)`` / ``sliding_kernel_gif(path, x, kernel)``: a
  kernel sliding over a small input, with each multiply-add written out;
- ``plot_im2col(x, kernel)``: the im2col matrix next to the kernel matrix,
  convolution as one matrix product;
- ``plot_image_filters(image)``: a picture under each hand-made kernel of
  ``numconv.tools.filters``;
- backward-pass pictures: ``plot_maxpool_routing`` (where each gradient goes,
  ties included), ``plot_col2im_counts`` (how many windows cover each pixel),
  ``plot_strided_dx`` (dx of a strided convolution as a correlation of the
  zero-inserted dy with the rotated kernel);
- training pictures: ``plot_loss_curves``, ``plot_activation_histograms``
  (before/after batch norm), ``plot_gradient_norms`` (per layer, per step),
  ``plot_filters_before_after``, ``plot_saliency``, ``plot_worst_mistakes``;
- ``plot_tape(model, x)``: the calls one forward pass recorded on the tape,
  with the forks where backward adds gradients;
- ``make_grid(images)`` / ``save_image(images, path)``: torchvision's tiling of
  a batch into one picture (plain NumPy and Pillow, no matplotlib).

Every function returns the ``matplotlib.figure.Figure`` and, given
``path``, also saves it. matplotlib is imported only when a function runs
(``pip install matplotlib``). If ``matplotlib.pyplot`` is already imported
(a notebook, a script ending in ``plt.show()``), figures are made through
pyplot and display as usual; otherwise they are plain ``Figure`` objects
that need no display and save through the Agg backend.
"""

from .backward_pictures import (
    MaxPoolRouting, dx_by_correlation, maxpool_routing, plot_col2im_counts, plot_maxpool_routing, plot_strided_dx,
    window_counts, zero_insert,
)
from .curves import load_history, plot_confusion_matrix, plot_history
from .feature_maps import layer_outputs, plot_feature_maps
from .filters_grid import plot_filters
from .grid import make_grid, save_image
from .image_filters import plot_image_filters
from .im2col_picture import Im2colProduct, im2col_product, plot_im2col
from .run_figures import save_run_figures
from .tape_picture import plot_tape, tape_rows
from .sliding import SlidingStep, sliding_kernel, sliding_kernel_gif, sliding_step, sliding_steps
from .training_pictures import (
    gradient_norms, plot_activation_histograms, plot_filters_before_after, plot_gradient_norms, plot_loss_curves,
    plot_saliency, plot_worst_mistakes, saliency, worst_mistakes,
)

__all__ = [
    "plot_filters", "plot_feature_maps", "layer_outputs", "plot_history", "load_history", "plot_confusion_matrix",
    "sliding_kernel", "sliding_kernel_gif", "sliding_step", "sliding_steps", "SlidingStep", "plot_im2col",
    "im2col_product", "Im2colProduct", "plot_image_filters", "save_run_figures",
    "make_grid", "save_image", "plot_tape", "tape_rows",
    "plot_maxpool_routing", "maxpool_routing", "MaxPoolRouting", "plot_col2im_counts", "window_counts",
    "plot_strided_dx", "dx_by_correlation", "zero_insert",
    "plot_loss_curves", "plot_activation_histograms", "gradient_norms", "plot_gradient_norms",
    "plot_filters_before_after", "saliency", "plot_saliency", "worst_mistakes", "plot_worst_mistakes",
]
