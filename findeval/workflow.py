"""Checks of a validated config that a JSON schema cannot express, run when the Snakefile loads.

Each failure raises :class:`ConfigError` naming the key, the value and what is allowed, before any job runs.
"""

from __future__ import annotations

import os

from .hparams import H


class ConfigError(ValueError):
    pass


#: Files a dataset needs under ``dataset.root`` (a folder check only: no scan of its contents).
DATASET_FILES = {
    "cifar10": "cifar-10-batches-py/data_batch_1",
    "cifar100": "cifar-100-python/train",
}


def check_config(config: dict) -> None:
    ds = config["dataset"]
    if ds["name"] in DATASET_FILES:
        root = ds.get("root")
        if not root:
            raise ConfigError(f"dataset.root must be set for dataset '{ds['name']}' (the folder that holds "
                              f"{DATASET_FILES[ds['name']].split('/')[0]}/); nothing is downloaded")
        if not os.path.isdir(root):
            raise ConfigError(f"dataset.root: folder {root!r} does not exist")
        expected = os.path.join(root, DATASET_FILES[ds["name"]])
        if not os.path.exists(expected):
            raise ConfigError(f"dataset.root: expected {expected} for dataset '{ds['name']}', not found")

    model = config["model"]
    if model["name"] == "resnet_cifar" and "depth" in model and (model["depth"] - 2) % 6:
        raise ConfigError(f"model.depth: resnet_cifar needs depth 6n+2 (8, 14, 20, ...), got {model['depth']}")
    if model["name"] != "resnet_cifar" and "depth" in model:
        raise ConfigError(f"model.depth: only resnet_cifar takes a depth ({model['name']} has a fixed one)")

    tr = config["training"]
    late = [m for m in tr.get("milestones", []) if m >= tr["epochs"]]
    if late:
        raise ConfigError(f"training.milestones: {late} are not below training.epochs = {tr['epochs']}")
    if list(tr.get("milestones", [])) != sorted(tr.get("milestones", [])):
        raise ConfigError(f"training.milestones must be increasing, got {tr['milestones']}")

    try:
        H(**config["defaults"])
    except (TypeError, ValueError) as err:
        raise ConfigError(f"defaults: {err}") from err
    for dim in ("lr", "batch_size", "weight_decay"):
        for phase in ("find", "eval"):
            values = config["grids"][dim][phase]
            for v in values:
                try:
                    H(**{**config["defaults"], dim: v})
                except (TypeError, ValueError) as err:
                    raise ConfigError(f"grids.{dim}.{phase}: {err}") from err
    if not config["seeds"]:
        raise ConfigError("seeds: at least one seed is needed")
