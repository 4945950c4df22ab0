"""ResNets (He et al., 2015/2016): torchvision's ResNet-18/34, and the small 6n+2 ResNets for 28/32-pixel images.

The building block is torchvision's ``BasicBlock``, written as PyTorch
writes it: a ``forward`` that calls ``conv1``, ``bn1``, ``relu``, ``conv2``,
``bn2`` and adds the shortcut. numconv differentiates it with the tape of
layer calls; the only change from the PyTorch code is that the sum goes
through ``nn.Add`` (``self.add``, which has no parameters), so the tape sees it.

``state_dict`` keys are torchvision's: ``conv1.weight``, ``bn1.running_mean``,
``layer1.0.conv1.weight``, ``layer2.0.downsample.0.weight``,
``layer2.0.downsample.1.running_var``, ``fc.weight``.
"""

from __future__ import annotations

import numpy as np

from .. import init, nn
from .._checks import check_positive_int

__all__ = ["BasicBlock", "ResNet", "SmallResNet", "describe_resnet", "resnet18", "resnet34", "resnet8", "resnet20"]


def _conv3x3(c_in: int, c_out: int, stride: int, dtype) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False, dtype=dtype)


def _projection(c_in: int, c_out: int, stride: int, dtype) -> nn.Sequential:
    """The "option B" shortcut: a strided 1 x 1 convolution and batch norm (torchvision's ``downsample``)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False, dtype=dtype),
                         nn.BatchNorm2d(c_out, dtype=dtype))


class BasicBlock(nn.Module):
    """Two 3 x 3 convolutions with batch norm, plus the input: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    Parameters
    ----------
    inplanes, planes : int
        Input and output channels.
    stride : int
        Stride of ``conv1`` (2 halves the image at the start of a stage).
    downsample : Module, optional
        The shortcut when the shape changes (``_projection``); the identity when None.
    dtype : float32 (default) or float64

    Shapes
    ------
    (N, inplanes, H, W) -> (N, planes, ceil(H / stride), ceil(W / stride))
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None, dtype=np.float32):
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride, dtype)
        self.bn1 = nn.BatchNorm2d(planes, dtype=dtype)
        self.relu = nn.ReLU()  # one instance, called twice (the tape records each call)
        self.conv2 = _conv3x3(planes, planes, 1, dtype)
        self.bn2 = nn.BatchNorm2d(planes, dtype=dtype)
        self.downsample = downsample
        self.add = nn.Add()
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(self.add(out, identity))  # PyTorch: out += identity; out = relu(out)


def _stage(inplanes: int, planes: int, blocks: int, stride: int, dtype) -> nn.Sequential:
    """``blocks`` BasicBlocks; the first changes the width and stride (with a projection shortcut if needed)."""
    downsample = None
    if stride != 1 or inplanes != planes:
        downsample = _projection(inplanes, planes, stride, dtype)
    layers = [BasicBlock(inplanes, planes, stride, downsample, dtype)]
    layers += [BasicBlock(planes, planes, 1, None, dtype) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def _he_init(model) -> None:
    """torchvision's initialisation: convolutions ~ N(0, 2 / fan_out), batch norm weight 1 and bias 0."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            init.ones_(module.weight)
            init.zeros_(module.bias)


def _check_counts(name: str, **values) -> dict:
    return {key: check_positive_int(value, name, key) for key, value in values.items()}


class ResNet(nn.Module):
    """torchvision's ResNet with BasicBlocks (ResNet-18 and ResNet-34), for 224 x 224 images.

    Parameters
    ----------
    layers : sequence of 4 int
        BasicBlocks per stage: (2, 2, 2, 2) for ResNet-18, (3, 4, 6, 3) for ResNet-34.
    num_classes : int
    in_channels : int
        3 for RGB (torchvision's fixed value); 1 for grayscale.
    dtype : float32 (default) or float64

    Shapes
    ------
    ===============================  ==============================  =====================
    attribute                        layer                           output (224 x 224 in)
    ===============================  ==============================  =====================
    conv1, bn1, relu                 7 x 7 conv, 64, stride 2        (N, 64, 112, 112)
    maxpool                          3 x 3 max, stride 2             (N, 64, 56, 56)
    layer1                           BasicBlocks, 64                 (N, 64, 56, 56)
    layer2                           BasicBlocks, 128, stride 2      (N, 128, 28, 28)
    layer3                           BasicBlocks, 256, stride 2      (N, 256, 14, 14)
    layer4                           BasicBlocks, 512, stride 2      (N, 512, 7, 7)
    avgpool                          adaptive average to 1 x 1       (N, 512, 1, 1)
    fc                               Linear(512, num_classes)        (N, num_classes)
    ===============================  ==============================  =====================

    ResNet-18 has 11,689,512 parameters with 1000 classes, ResNet-34 21,797,672.
    Any input of at least 32 x 32 works (the average pool adapts).
    """

    input_shape = (3, 224, 224)

    def __init__(self, layers=(2, 2, 2, 2), num_classes: int = 1000, in_channels: int = 3, dtype=np.float32):
        super().__init__()
        layers = tuple(layers)
        if len(layers) != 4:
            raise ValueError(f"ResNet: expected 4 stage depths, got layers={layers!r}")
        counts = _check_counts("ResNet", num_classes=num_classes, in_channels=in_channels,
                               **{f"layers[{i}]": n for i, n in enumerate(layers)})
        self.conv1 = nn.Conv2d(counts["in_channels"], 64, 7, stride=2, padding=3, bias=False, dtype=dtype)
        self.bn1 = nn.BatchNorm2d(64, dtype=dtype)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        widths = (64, 128, 256, 512)
        previous = 64
        for i, (width, blocks) in enumerate(zip(widths, layers)):
            setattr(self, f"layer{i + 1}", _stage(previous, width, int(blocks), 1 if i == 0 else 2, dtype))
            previous = width
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, counts["num_classes"], dtype=dtype)
        _he_init(self)
        self.input_shape = (counts["in_channels"], 224, 224)
        self.hparams = {"layers": [int(n) for n in layers], "num_classes": counts["num_classes"],
                        "in_channels": counts["in_channels"], "dtype": np.dtype(dtype).name}

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        x = x.reshape(x.shape[0], -1)  # torch.flatten(x, 1)
        return self.fc(x)


class SmallResNet(nn.Module):
    """The 6n + 2 ResNet of He et al. (2016, section 4.2) for CIFAR-10, and for 28 x 28 MNIST-style images.

    A 3 x 3 convolution with 16 channels, then three stages of ``n`` BasicBlocks
    with 16, 32 and 64 channels (the 2nd and 3rd start with stride 2), global
    average pooling and one linear layer: 6n + 2 weighted layers. Where a stage
    changes the shape, the shortcut is a strided 1 x 1 convolution with batch
    norm (the paper's *option B*; its CIFAR runs used option A, zero-padded
    identity, which adds no parameters). Attribute names follow torchvision's
    ResNet (``conv1``, ``bn1``, ``layer1`` ... ``layer3``, ``fc``).

    Parameters
    ----------
    n : int
        Blocks per stage: 1 gives ResNet-8, 3 ResNet-20, 5 ResNet-32.
    num_classes : int
    in_channels : int
        1 for MNIST / Fashion-MNIST (default), 3 for CIFAR.
    input_size : int
        Height = width of the input (28 by default; 32 for CIFAR). Only
        recorded as ``input_shape``: any size works, the pool adapts.
    dtype : float32 (default) or float64

    Shapes
    ------
    With a 28 x 28 input: conv1 (N, 16, 28, 28) -> layer1 (N, 16, 28, 28) ->
    layer2 (N, 32, 14, 14) -> layer3 (N, 64, 7, 7) -> avgpool (N, 64, 1, 1) -> fc (N, num_classes).
    (32 x 32: 32, 16, 8.) ResNet-8 has 77,754 parameters with 10 classes and one input channel (78,042 with three).
    """

    def __init__(self, n: int = 1, num_classes: int = 10, in_channels: int = 1, input_size: int = 28,
                 dtype=np.float32):
        super().__init__()
        counts = _check_counts("SmallResNet", n=n, num_classes=num_classes, in_channels=in_channels,
                               input_size=input_size)
        self.conv1 = _conv3x3(counts["in_channels"], 16, 1, dtype)
        self.bn1 = nn.BatchNorm2d(16, dtype=dtype)
        self.relu = nn.ReLU()
        self.layer1 = _stage(16, 16, counts["n"], 1, dtype)
        self.layer2 = _stage(16, 32, counts["n"], 2, dtype)
        self.layer3 = _stage(32, 64, counts["n"], 2, dtype)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, counts["num_classes"], dtype=dtype)
        _he_init(self)
        self.input_shape = (counts["in_channels"], counts["input_size"], counts["input_size"])
        self.hparams = {**counts, "dtype": np.dtype(dtype).name}

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = self.avgpool(x)
        x = x.reshape(x.shape[0], -1)
        return self.fc(x)


def resnet18(num_classes: int = 1000, in_channels: int = 3, dtype=np.float32) -> ResNet:
    """ResNet-18: stages of (2, 2, 2, 2) BasicBlocks; 11,689,512 parameters with 1000 classes."""
    return ResNet((2, 2, 2, 2), num_classes, in_channels, dtype)


def resnet34(num_classes: int = 1000, in_channels: int = 3, dtype=np.float32) -> ResNet:
    """ResNet-34: stages of (3, 4, 6, 3) BasicBlocks; 21,797,672 parameters with 1000 classes."""
    return ResNet((3, 4, 6, 3), num_classes, in_channels, dtype)


def resnet8(num_classes: int = 10, in_channels: int = 1, input_size: int = 28, dtype=np.float32) -> SmallResNet:
    """ResNet-8 (n = 1): 77,754 parameters for 1-channel input and 10 classes."""
    return SmallResNet(1, num_classes, in_channels, input_size, dtype)


def resnet20(num_classes: int = 10, in_channels: int = 1, input_size: int = 28, dtype=np.float32) -> SmallResNet:
    """ResNet-20 (n = 3), the paper's smallest CIFAR ResNet, with option-B shortcuts."""
    return SmallResNet(3, num_classes, in_channels, input_size, dtype)


# ---------------------------------------------------------------------------- shape-only descriptions
def _describe_block(make, inplanes: int, planes: int, stride: int):
    """A BasicBlock as ``make.branches``: the body, the shortcut (if any), the ``add`` and the last ReLU."""
    body = [("conv1", make("Conv2d", inplanes, planes, 3, stride=stride, padding=1, bias=False)),
            ("bn1", make("BatchNorm2d", planes)), ("relu", make("ReLU")),
            ("conv2", make("Conv2d", planes, planes, 3, padding=1, bias=False)), ("bn2", make("BatchNorm2d", planes))]
    shortcut = []
    if stride != 1 or inplanes != planes:
        shortcut = [("downsample", make.seq(make("Conv2d", inplanes, planes, 1, stride=stride, bias=False),
                                            make("BatchNorm2d", planes)))]
    return make.branches("BasicBlock", [body, shortcut], "add", join="add", after=[("relu", make("ReLU"))])


def describe_resnet(make, layers=(2, 2, 2, 2), num_classes: int = 1000, in_channels: int = 3):
    """:class:`ResNet` as a tree of specs, for ``summary`` without weights (``make``: ``tools._shapes.SpecMaker``).

    Equal, row for row, to the summary of the built model, with one more row:
    ``flatten`` (the model flattens with ``reshape`` in ``forward``).
    """
    parts = [("conv1", make("Conv2d", in_channels, 64, 7, stride=2, padding=3, bias=False)),
             ("bn1", make("BatchNorm2d", 64)), ("relu", make("ReLU")),
             ("maxpool", make("MaxPool2d", 3, stride=2, padding=1))]
    previous = 64
    for i, (width, blocks) in enumerate(zip((64, 128, 256, 512), layers)):
        stride = 1 if i == 0 else 2
        stage = [_describe_block(make, previous, width, stride)]
        stage += [_describe_block(make, width, width, 1) for _ in range(blocks - 1)]
        parts.append((f"layer{i + 1}", make.seq(*stage)))
        previous = width
    parts += [("avgpool", make("AdaptiveAvgPool2d", (1, 1))), ("flatten", make("Flatten")),
              ("fc", make("Linear", 512, num_classes))]
    return make.named(parts)
