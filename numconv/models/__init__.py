"""Ready-made networks, and a registry to build them by name.

>>> from numconv import models
>>> model = models.get_model("lenet5", activation="relu")
>>> models.available()[:4]
['alexnet', 'googlenetmini', 'lenet5', 'resnet18']

The models are ``nn.Sequential`` trees (LeNet-5, AlexNet, ZFNet, the VGGs,
the small GoogLeNet with its ``nn.Parallel`` Inception blocks) or Modules
with a ``forward`` (the ResNets), with torchvision's attribute names where
torchvision has the network, so their ``state_dict`` keys are PyTorch's and
``numconv.interop.to_torch`` turns them into torch modules. Each model keeps the
arguments it was built with in ``model.hparams`` (JSON-able), which is what
a checkpoint records to rebuild it.
"""

from __future__ import annotations

from functools import partial

from .alexnet import AlexNet, ZFNet, describe_alexnet, describe_zfnet
from .googlenet import GoogLeNetMini, Inception, googlenet_mini
from .lenet import LeNet5
from .simple_cnn import SimpleCNN
from .unet import Autoencoder, UNetMini, autoencoder, unet_mini
from .resnet import BasicBlock, ResNet, SmallResNet, describe_resnet, resnet8, resnet18, resnet20, resnet34
from .vgg import VGG, SmallVGG, describe_vgg, vgg11, vgg16

__all__ = ["LeNet5", "SimpleCNN", "SmallVGG", "AlexNet", "ZFNet", "VGG", "vgg11", "vgg16", "GoogLeNetMini",
           "Inception", "googlenet_mini", "BasicBlock", "ResNet", "SmallResNet", "resnet8", "resnet18",
           "resnet20", "resnet34", "UNetMini", "unet_mini", "Autoencoder", "autoencoder", "get_model", "available", "MODELS"]

MODELS = {"lenet5": LeNet5, "simplecnn": SimpleCNN, "vgg": SmallVGG, "alexnet": AlexNet, "zfnet": ZFNet,
          "vgg11": vgg11, "vgg16": vgg16, "googlenetmini": googlenet_mini, "resnet8": resnet8, "resnet20": resnet20,
          "resnet18": resnet18, "resnet34": resnet34, "unetmini": unet_mini, "autoencoder": autoencoder}
_ALIASES = {"lenet": "lenet5", "smallvgg": "vgg", "vggnet": "vgg", "googlenet": "googlenetmini",
            "inception": "googlenetmini", "unet": "unetmini"}


# The large networks, also described as shape-only trees (``describe(make, **kwargs)``) with their input
# shape: ``numconv summary`` prints their tables without allocating their weights.
DESCRIBE = {
    "alexnet": (describe_alexnet, AlexNet.input_shape),
    "zfnet": (describe_zfnet, ZFNet.input_shape),
    "vgg11": (partial(describe_vgg, config="vgg11"), VGG.input_shape),
    "vgg16": (partial(describe_vgg, config="vgg16"), VGG.input_shape),
    "resnet18": (partial(describe_resnet, layers=(2, 2, 2, 2)), ResNet.input_shape),
    "resnet34": (partial(describe_resnet, layers=(3, 4, 6, 3)), ResNet.input_shape),
}


def _canonical(name: str) -> str | None:
    key = name.lower().replace("-", "").replace("_", "")
    key = _ALIASES.get(key, key)
    return key if key in MODELS else None


def available() -> list:
    """The registered model names."""
    return sorted(MODELS)


def get_model(name: str, **kwargs):
    """Build a registered model by name.

    Parameters
    ----------
    name : str
        One of :func:`available` (case, ``-`` and ``_`` ignored;
        ``"lenet"``, ``"smallvgg"``, ``"googlenet"`` also work).
    **kwargs
        Passed to the model's constructor (e.g. ``num_classes=10``,
        ``activation="relu"``, ``dtype=np.float64``).
    """
    if not isinstance(name, str):
        raise TypeError(f"get_model: expected a model name (str), got {type(name).__name__}")
    key = _canonical(name)
    if key is None:
        raise ValueError(f"get_model: unknown model {name!r}; available: {', '.join(available())}")
    return MODELS[key](**kwargs)
