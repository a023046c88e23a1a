"""ResNets with batch norm, and what is prunable.

Registry (``MODELS``; each model's torch-free description is its record in :data:`findeval.regime.ARCHITECTURES`,
which :func:`build`, :func:`findeval.regime.conv_shapes` and the config check all read), all with torchvision's parameter names (``conv1``, ``layer1.0.conv1``,
``layer1.0.downsample.0``, ``fc``) so that masks and checkpoints read naturally:

- ``resnet_cifar``: the CIFAR-style ResNet of He et al. (3x3 stem, three stages of basic blocks with
  widths w, 2w, 4w, depth = 6n + 2). The default for the digits miniature.
- ``resnet18`` / ``resnet50``: ImageNet ResNets (torchvision's stages and blocks); ``width`` scales every
  stage (64 = standard). ``stem`` chooses the first layer: ``cifar`` (the default) is a 3x3 stride-1
  convolution without max-pool, as commonly used for 64x64 Tiny ImageNet (the paper does not say which stem
  it used); ``imagenet`` is torchvision's 7x7 stride-2 convolution followed by a 3x3 stride-2 max-pool, which
  divides the resolution of every later layer by 4 (about 16x fewer FLOPs per image).

Initialization (paper, A.1): Kaiming-normal for every convolution and the final linear layer (fan-out for
convolutions, as torchvision; fan-in for the linear layer), zero biases, BN weight 1 and bias 0.

Prunable tensors (paper, Section 2.2): the weights of every convolution, shortcut convolutions included.
The final fully connected layer, all biases and all BN parameters and buffers are never pruned.
"""

from __future__ import annotations

import torch
from torch import nn

from .datasets import REGISTRY
from .regime import ARCHITECTURES, architecture

#: The registered models (their descriptions: findeval.regime.ARCHITECTURES).
MODELS = tuple(ARCHITECTURES)
#: First layers of resnet18/resnet50 (``model.stem``); ``cifar`` is the default.
STEMS = ("cifar", "imagenet")


class ModelError(ValueError):
    """Unknown model, bad model options, or a state dict that does not fit the model."""


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_planes != out_planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, out_planes, 1, stride, bias=False), nn.BatchNorm2d(out_planes)
            )

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    def __init__(self, block, blocks_per_stage, widths, *, in_channels: int, num_classes: int, stem_width: int,
                 stem: str = "cifar"):
        super().__init__()
        if stem not in STEMS:
            raise ModelError(f"unknown stem {stem!r}; choose from {', '.join(STEMS)}")
        if stem == "imagenet":  # torchvision: 7x7 stride 2, then a 3x3 stride-2 max-pool
            self.conv1 = nn.Conv2d(in_channels, stem_width, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            self.conv1 = nn.Conv2d(in_channels, stem_width, 3, 1, 1, bias=False)
            self.maxpool = None
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.relu = nn.ReLU(inplace=True)
        in_planes = stem_width
        for i, (n, w) in enumerate(zip(blocks_per_stage, widths)):
            layers = []
            for j in range(n):
                layers.append(block(in_planes, w, stride=(1 if i == 0 or j > 0 else 2)))
                in_planes = w * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
        self.num_stages = len(widths)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, num_classes)
        self.reset_parameters()

    def reset_parameters(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="linear")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        if self.maxpool is not None:
            x = self.maxpool(x)
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


#: The block classes of the architecture descriptions' ``block`` (findeval.regime.Architecture).
BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


def build(spec: dict) -> ResNet:
    """Build a model from its spec: ``{"name", "num_classes", "in_channels", ...options}`` (unseeded), as its
    torch-free description in :data:`findeval.regime.ARCHITECTURES` says (the one :func:`findeval.regime.
    conv_shapes` and the config check read)."""
    spec = dict(spec)
    try:
        num_classes = int(spec["num_classes"])
        in_channels = int(spec["in_channels"])
    except KeyError as err:
        raise ModelError(f"model spec lacks {err}") from err
    try:
        net = architecture(spec)
    except ValueError as err:
        raise ModelError(str(err)) from err
    return ResNet(BLOCKS[net["block"]], list(net["blocks"]), list(net["widths"]), in_channels=in_channels,
                  num_classes=num_classes, stem_width=net["widths"][0], stem=net["stem"])


def init_model(spec: dict, seed: int) -> ResNet:
    """Build and initialize a model reproducibly from ``seed`` (the init seed)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(spec)


def prunable_names(model_or_state) -> list[str]:
    """State-dict keys of the prunable tensors, in network order: every convolution's weight (4-D,
    :func:`findeval.masks.is_prunable`)."""
    from .masks import prunable_shapes

    if isinstance(model_or_state, nn.Module):
        return [f"{n}.weight" for n, m in model_or_state.named_modules() if isinstance(m, nn.Conv2d)]
    return list(prunable_shapes(model_or_state))


def load_state(model: nn.Module, state: dict, source: str = "checkpoint") -> None:
    """Load ``state`` strictly, with an error that names the mismatching keys or shapes."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: {tuple(state[k].shape)} vs model {tuple(v.shape)}" for k, v in own.items()
              if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:4])}{' ...' if len(unexpected) > 4 else ''}")
        if shapes:
            parts.append(f"shape mismatch {'; '.join(shapes[:4])}")
        raise ModelError(f"{source} does not fit this architecture: {'; '.join(parts)}")
    model.load_state_dict(state)


def count_parameters(model: nn.Module) -> dict:
    names = set(prunable_names(model))
    total = sum(p.numel() for p in model.parameters())
    prunable = sum(p.numel() for n, p in model.named_parameters() if n in names)
    return {"total": total, "prunable": prunable}


#: (in_channels, num_classes) of the registered datasets (findeval.datasets): the model can be built without
#: the data.
DATASET_SHAPES = {name: (d.in_channels, d.num_classes) for name, d in REGISTRY.items()}


def model_spec(model: dict, dataset: str) -> dict:
    if dataset not in DATASET_SHAPES:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASET_SHAPES)}")
    channels, classes = DATASET_SHAPES[dataset]
    return {**model, "in_channels": channels, "num_classes": classes}
