"""numconv._geometry: the one window-count function, held to PyTorch's pooling and convolution sizes."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from numconv._geometry import ceil_mode_drops_last, window_output_size, window_span

torch = pytest.importorskip("torch")


@settings(max_examples=150, deadline=None)
@given(size=st.integers(1, 12), kernel=st.integers(1, 5), stride=st.integers(1, 4), dilation=st.integers(1, 2),
       padding=st.integers(0, 2), ceil_mode=st.booleans())
def test_window_output_size_is_pytorchs(size, kernel, stride, dilation, padding, ceil_mode):
    assume(2 * padding <= kernel and window_span(kernel, dilation) <= size + 2 * padding)
    x = torch.zeros(1, 1, size, dtype=torch.float64)
    pooled = torch.nn.functional.max_pool1d(x, kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    assert window_output_size(size, kernel, stride, padding, dilation, ceil_mode) == pooled.shape[-1]
    if not ceil_mode:
        conv = torch.nn.functional.conv1d(x, torch.zeros(1, 1, kernel, dtype=torch.float64), None, stride, padding,
                                          dilation)
        assert window_output_size(size, kernel, stride, padding, dilation) == conv.shape[-1]


@pytest.mark.parametrize("size, kernel, stride, padding, dropped", [
    (5, 2, 2, 1, True),    # rounding up gives 4 windows; the 4th would start at pixel 6 = 5 + 1: dropped
    (5, 2, 2, 0, False),   # rounding up gives 3 windows, the 3rd starts at 4 < 5: kept
    (6, 3, 2, 0, False),   # 3 windows, the 3rd starts at 4: kept (a 4th would start at 6, but was never counted)
    (4, 2, 2, 0, False),   # the division is exact: nothing rounds up
])
def test_ceil_mode_drops_last(size, kernel, stride, padding, dropped):
    assert ceil_mode_drops_last(size, kernel, stride, padding) is dropped
    rounded_up = -(-(size + 2 * padding - kernel) // stride) + 1
    assert window_output_size(size, kernel, stride, padding, ceil_mode=True) == rounded_up - dropped
    x = torch.zeros(1, 1, size, dtype=torch.float64)
    assert torch.nn.functional.max_pool1d(x, kernel, stride, padding, ceil_mode=True).shape[-1] == rounded_up - dropped


def test_padding_before_and_after():
    assert window_output_size(10, 3, 1, (2, 0)) == 10 == window_output_size(10, 3, 1, 1)
    assert window_output_size(3, 5, 1, (0, 1)) == 0  # the window does not fit: the caller names the problem
    assert np.array_equal([window_span(k, d) for k, d in [(1, 1), (3, 1), (3, 2), (5, 3)]], [1, 3, 5, 13])
