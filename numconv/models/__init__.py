"""Ready-made networks, and a registry to build them by name.

>>> from numconv import models
>>> model = models.get_model("lenet5", activation="relu")
>>> models.available()
['lenet5', 'simplecnn', 'vgg']

Every model is a plain ``nn.Sequential`` (or nested ``Sequential``s), so its
``state_dict`` keys are those of the same ``torch.nn.Sequential`` and
``numconv.interop.to_torch`` turns it into one. Each model keeps the
arguments it was built with in ``model.hparams`` (JSON-able), which is what
a checkpoint records to rebuild it.
"""

from __future__ import annotations

from .lenet import LeNet5
from .simple_cnn import SimpleCNN
from .vgg import SmallVGG

__all__ = ["LeNet5", "SimpleCNN", "SmallVGG", "get_model", "available", "MODELS"]

MODELS = {"lenet5": LeNet5, "simplecnn": SimpleCNN, "vgg": SmallVGG}
_ALIASES = {"lenet": "lenet5", "smallvgg": "vgg", "vggnet": "vgg"}


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
        ``"lenet5"``, ``"simplecnn"`` or ``"vgg"`` (case, ``-`` and ``_``
        ignored; ``"lenet"``, ``"smallvgg"`` also work).
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
