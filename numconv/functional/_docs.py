"""Docstring text that many ops share, written once.

Every backward op takes ``(dout, cache)``: the gradient of the loss with
respect to its forward op's output, and what that forward op returned beside
the output. ``gradient_of`` writes that ``Parameters`` section into a backward
op's docstring, so the docstring in the source holds what is the op's own:
its summary and what it returns. ``RANKS`` holds the names a docstring uses
for 1, 2 and 3 spatial axes, for families written once for every rank.
"""

from __future__ import annotations

import inspect

# What a docstring says for each rank: the spatial axes, the kernel axes, a per-axis tuple argument,
# and the axis its output-size formula is written for.
RANKS = {
    1: {"nd": 1, "axes": "L", "out_axes": "L_out", "kernel_axes": "kL", "ints": "(int,)", "axis": "L",
        "each_axis": ""},
    2: {"nd": 2, "axes": "H, W", "out_axes": "H_out, W_out", "kernel_axes": "kH, kW", "ints": "(int, int)",
        "axis": "H", "each_axis": " (same for W)"},
    3: {"nd": 3, "axes": "D, H, W", "out_axes": "D_out, H_out, W_out", "kernel_axes": "kD, kH, kW",
        "ints": "(int, int, int)", "axis": "D", "each_axis": " (same for H and W)"},
}

_PARAMETERS = """Parameters
----------
dout : ndarray, {dout}
    The gradient of the loss with respect to ``{forward}``'s output (never changed in place).
{name} : {cache}
    What ``{forward}`` returned beside its output."""

#: The ``Returns`` of every fast convolution algorithm's backward pass (``numconv.functional.fast``).
ALGORITHM_GRADIENTS = """Returns
-------
dx : ndarray, shape (N, C, H, W)
    The gradient of the forward's (unpadded) input.
dweight : ndarray, shape (K, C, kH, kW)"""


def gradient_of(forward: str, cache: str, dout: str | None = None, returns: str = ""):
    """Decorator: give a backward op ``(dout, cache)`` its numpydoc ``Parameters`` section.

    The section goes after the op's own summary, before its ``Returns``.

    Parameters
    ----------
    forward : str
        The forward op's name, e.g. ``"conv2d"``.
    cache : str
        What the forward op returns beside its output, e.g. ``"ConvCache"``
        (documented under the op's second parameter's name).
    dout : str, optional
        The shape of ``dout``, when a formula says more than the default
        "shape of ``forward``'s output".
    returns : str, optional
        A ``Returns`` section shared by a family of backward ops (such as
        ``ALGORITHM_GRADIENTS``), for an op whose docstring has none.

    Returns
    -------
    decorate : callable
        Sets ``op.__doc__`` and returns ``op`` itself (no wrapper, no extra frame).
    """
    shape = dout or f"shape of ``{forward}``'s output"

    def decorate(op):
        name = list(inspect.signature(op).parameters)[1]  # "cache", or "state" for the fast algorithms
        parameters = _PARAMETERS.format(dout=shape, forward=forward, cache=cache, name=name)
        own = inspect.cleandoc(op.__doc__ or "")
        head, marker, tail = own.partition("\nReturns\n-------")
        sections = [head.rstrip(), parameters]
        if marker:
            sections.append(marker.strip() + tail)
        elif returns:
            sections.append(returns)
        lines = "\n\n".join(sections).splitlines()
        op.__doc__ = "\n".join(lines[:1] + [f"    {line}" if line else "" for line in lines[1:]]) + "\n    "
        return op

    return decorate
