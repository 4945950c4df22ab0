"""conv2d_forward that flips the kernel (the textbook convolution, not PyTorch's cross-correlation)."""

import numpy as np

HINT = "the kernel is flipped (that is the textbook 'true' convolution)"


def conv2d_forward(x, w, b, stride, padding):
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n_samples, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    out_h, out_w = (height - kh) // stride + 1, (width - kw) // stride + 1
    out = np.zeros((n_samples, n_filters, out_h, out_w))
    for n in range(n_samples):
        for f in range(n_filters):
            kernel = w[f, :, ::-1, ::-1]
            for i in range(out_h):
                for j in range(out_w):
                    window = x[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * kernel) + b[f]
    return out
