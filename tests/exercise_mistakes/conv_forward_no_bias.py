"""conv2d_forward that forgets the bias."""

import numpy as np

HINT = "the bias is missing: add b[f] to every output of filter f"


def conv2d_forward(x, w, b, stride, padding):
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    n_samples, _, height, width = x.shape
    n_filters, _, kh, kw = w.shape
    out_h, out_w = (height - kh) // stride + 1, (width - kw) // stride + 1
    out = np.zeros((n_samples, n_filters, out_h, out_w))
    for n in range(n_samples):
        for f in range(n_filters):
            for i in range(out_h):
                for j in range(out_w):
                    out[n, f, i, j] = np.sum(x[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] * w[f])
    return out
