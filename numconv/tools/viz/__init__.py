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

from .curves import load_history, plot_confusion_matrix, plot_history
from .feature_maps import layer_outputs, plot_feature_maps
from .filters_grid import plot_filters
from .grid import make_grid, save_image
from .image_filters import plot_image_filters
from .im2col_picture import Im2colProduct, im2col_product, plot_im2col
from .run_figures import save_run_figures
from .tape_picture import plot_tape, tape_rows
from .sliding import SlidingStep, sliding_kernel, sliding_kernel_gif, sliding_step, sliding_steps

__all__ = [
    "plot_filters", "plot_feature_maps", "layer_outputs", "plot_history", "load_history", "plot_confusion_matrix",
    "sliding_kernel", "sliding_kernel_gif", "sliding_step", "sliding_steps", "SlidingStep", "plot_im2col",
    "im2col_product", "Im2colProduct", "plot_image_filters", "save_run_figures",
    "make_grid", "save_image", "plot_tape", "tape_rows",
]
