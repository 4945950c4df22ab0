"""conv2d_forward that slides the window one pixel at a time whatever the stride."""

import numpy as np

HINT = "that is the shape with stride 1: did you forget the stride in H_out / W_out?"


def conv2d_forward(x, w, b, stride, padding):
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n_samples, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    out_h, out_w = height - kh + 1, width - kw + 1
    out = np.zeros((n_samples, n_filters, out_h, out_w))
    for n in range(n_samples):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    out[n, f, i, j] = np.sum(x[n, :, i:i + kh, j:j + kw] * w[f]) + b[f]
    return out
