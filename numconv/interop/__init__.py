"""Moving models between numconv and PyTorch.

>>> from numconv.interop import to_torch, from_torch
>>> torch_model = to_torch(numconv_model)       # doctest: +SKIP
>>> back = from_torch(torch_model)              # doctest: +SKIP

PyTorch is optional: it is imported when a conversion first runs.
"""

from .pytorch import from_torch, to_torch

__all__ = ["to_torch", "from_torch"]
