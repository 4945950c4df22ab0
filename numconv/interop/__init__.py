"""Moving models between numconv, PyTorch and ONNX.

>>> from numconv.interop import to_torch, from_torch, to_onnx, from_onnx
>>> torch_model = to_torch(numconv_model)                        # doctest: +SKIP
>>> back = from_torch(torch_model)                               # doctest: +SKIP
>>> to_onnx(numconv_model, (1, 1, 32, 32), "lenet5.onnx")        # doctest: +SKIP
>>> same = from_onnx("lenet5.onnx")                              # doctest: +SKIP

PyTorch, onnx and onnxruntime are optional: each is imported when a
conversion first needs it (``pip install 'numconv[onnx]'`` for ONNX).
"""

from .onnx_export import UnsupportedLayerError, to_onnx
from .onnx_graph import describe_onnx
from .onnx_import import from_onnx
from .pytorch import from_torch, to_torch

__all__ = ["to_torch", "from_torch", "to_onnx", "from_onnx", "describe_onnx", "UnsupportedLayerError"]
