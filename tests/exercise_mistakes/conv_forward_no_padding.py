"""conv2d_forward that never pads x: right without padding, the wrong shape with it."""

import numpy as np

HINT = "that is the shape without padding: did you forget to pad x"


def conv2d_forward(x, w, b, stride, padding):
    n_samples, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    out_h, out_w = (height - kh) // stride + 1, (width - kw) // stride + 1
    out = np.zeros((n_samples, n_filters, out_h, out_w))
    for n in range(n_samples):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    window = x[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out
