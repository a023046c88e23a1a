"""Narrow (channel-pruned) ResNets: the channel groups of a :class:`findeval.models.ResNet` and the network rebuilt
at fewer channels per group. A foundation module (torch, no feature): :func:`findeval.runs.build_model` builds any
model spec with it, and :mod:`findeval.structured.jobs` prunes channels with it (its module docstring says how the
groups are formed and why a removed channel equals one whose BN scale and shift are zero).

A model spec with ``channels`` (kept channels per group, :func:`topology`'s group names) is a narrow network; one
without is :func:`findeval.models.build`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import models


class StructuredError(ValueError):
    """A model, checkpoint or channel selection that does not fit structured pruning."""


# --------------------------------------------------------------------------- topology


@dataclass(frozen=True)
class Topology:
    """How the channels of a findeval ResNet are wired.

    ``groups``: group name -> BN names whose outputs share channels (network order);
    ``bn_group``: BN name -> its group; ``convs``: conv name -> (input group, or None for the image;
    output BN); ``fc``: name of the final linear layer; ``fc_in``: the group feeding it.
    """

    groups: dict
    bn_group: dict
    convs: dict
    fc: str
    fc_in: str

    def sizes(self, model: nn.Module) -> dict:
        """The channel count of every group in ``model`` (its first BN's width)."""
        mods = dict(model.named_modules())
        return {g: mods[bns[0]].num_features for g, bns in self.groups.items()}


def topology(model: nn.Module) -> Topology:
    """Channel groups of a :class:`findeval.models.ResNet` (see the module docstring)."""
    if not all(hasattr(model, a) for a in ("conv1", "bn1", "fc", "num_stages")):
        raise StructuredError(f"structured pruning needs a findeval ResNet, got {type(model).__name__}")
    groups: list[list[str]] = []
    convs: dict = {}

    def new(bns):
        groups.append(list(bns))
        return len(groups) - 1

    stream = new(["bn1"])
    streams = [stream]
    convs["conv1"] = (None, "bn1")
    for i in range(1, model.num_stages + 1):
        for j, block in enumerate(getattr(model, f"layer{i}")):
            p = f"layer{i}.{j}"
            last = 3 if hasattr(block, "conv3") else 2
            prev = stream
            for k in range(1, last + 1):
                bn = f"{p}.bn{k}"
                convs[f"{p}.conv{k}"] = (prev, bn)
                if k < last:
                    prev = new([bn])
            if block.downsample is not None:
                ds = f"{p}.downsample.1"
                convs[f"{p}.downsample.0"] = (stream, ds)
                stream = new([ds])
                streams.append(stream)
            groups[stream].append(f"{p}.bn{last}")
    names = {}
    for gi, bns in enumerate(groups):
        names[gi] = f"stream{streams.index(gi)}" if gi in streams else bns[0]
    group_map = {names[gi]: tuple(bns) for gi, bns in enumerate(groups)}
    bn_group = {bn: names[gi] for gi, bns in enumerate(groups) for bn in bns}
    conv_map = {c: (None if gin is None else names[gin], bn) for c, (gin, bn) in convs.items()}
    found = {n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}
    if found != set(bn_group):
        raise StructuredError(f"unexpected batch norms: {sorted(found ^ set(bn_group))[:4]}")
    return Topology(group_map, bn_group, conv_map, "fc", names[stream])


# --------------------------------------------------------------------------- the narrow network


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attr, module)


def narrow_modules(model: nn.Module, topo: Topology, channels: dict) -> nn.Module:
    """Rebuild, in place, every conv / BN / fc of ``model`` at the widths ``channels`` (per group)."""
    sizes = topo.sizes(model)
    if set(channels) != set(sizes):
        raise StructuredError(f"channels must name every group ({', '.join(sizes)}); got {', '.join(channels)}")
    for g, n in channels.items():
        if not 1 <= int(n) <= sizes[g]:
            raise StructuredError(f"group {g}: {n} channels kept, allowed 1..{sizes[g]}")
    width = {bn: int(channels[g]) for bn, g in topo.bn_group.items()}
    for conv, (gin, bn) in topo.convs.items():
        old = model.get_submodule(conv)
        cin = old.in_channels if gin is None else int(channels[gin])
        _replace(model, conv, nn.Conv2d(cin, width[bn], old.kernel_size, old.stride, old.padding,
                                        bias=old.bias is not None))
    for bn, w in width.items():
        old = model.get_submodule(bn)
        _replace(model, bn, nn.BatchNorm2d(w, eps=old.eps, momentum=old.momentum))
    fc = model.get_submodule(topo.fc)
    _replace(model, topo.fc, nn.Linear(int(channels[topo.fc_in]), fc.out_features))
    model.reset_parameters()
    return model


def build(spec: dict) -> nn.Module:
    """:func:`findeval.models.build`, plus ``spec["channels"]`` (kept channels per group): the narrow net (the
    unseeded network of any model spec, narrow or not)."""
    spec = dict(spec)
    channels = spec.pop("channels", None)
    model = models.build(spec)
    if channels:
        narrow_modules(model, topology(model), channels)
    return model


def init_model(spec: dict, seed: int) -> nn.Module:
    """:func:`build`, initialised (Kaiming, as the dense net) reproducibly from ``seed`` (the init seed)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(spec)
