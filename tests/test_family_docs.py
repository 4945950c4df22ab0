"""Layer families and backward ops whose docstrings are written once and filled in per member."""

import inspect
import re

import pytest

import numconv.functional as F
import numconv.nn as nn
from numconv.functional._docs import gradient_of
from numconv.functional.fast import rowslab, winograd

FAMILIES = ["Conv", "ConvTranspose", "MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool"]
AXES = {1: "L", 2: "H, W", 3: "D, H, W"}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_each_rank_is_its_own_class_with_its_own_shapes(family, nd):
    layer = getattr(nn, f"{family}{nd}d")
    assert layer._nd == nd and layer.__name__ == layer.__qualname__ == f"{family}{nd}d"
    assert layer.__module__.startswith("numconv.nn.")
    doc = inspect.getdoc(layer)
    assert f"torch.nn.{family}{nd}d" in doc and f"(C, {AXES[nd]})" in doc.replace("C_in, ", "C, ")
    assert not re.search(r"\{[a-z_]+\}", doc), "a placeholder was left unfilled"


BACKWARD_OPS = [F.conv2d_backward, F.conv_transpose2d_backward, F.pad_backward, F.interpolate_backward,
                F.linear_backward, F.dropout_backward, rowslab.rowslab_backward, winograd.winograd_backward]


@pytest.mark.parametrize("op", BACKWARD_OPS, ids=lambda op: op.__name__)
def test_backward_docstrings_are_numpydoc_with_parameters_before_returns(op):
    doc = inspect.getdoc(op)
    second = list(inspect.signature(op).parameters)[1]
    assert doc.index("Parameters\n----------\ndout : ndarray, shape") < doc.index(f"\n{second} : ")
    assert doc.index(f"\n{second} : ") < doc.index("Returns\n-------\ndx : ndarray")


def test_gradient_of_returns_the_op_itself_and_keeps_its_own_text():
    def op_backward(dout, cache):
        """Gradient of ``op``: its own words.

        Returns
        -------
        dx : ndarray, shape of the input
        """
        return dout

    documented = gradient_of("op", "OpCache")(op_backward)
    assert documented is op_backward  # no wrapper: no extra frame between a layer and the math
    doc = inspect.getdoc(documented)
    assert doc.startswith("Gradient of ``op``: its own words.\n\nParameters\n----------\ndout : ndarray, shape of")
    assert "cache : OpCache\n    What ``op`` returned beside its output." in doc
    assert doc.endswith("Returns\n-------\ndx : ndarray, shape of the input")
