"""Checks of a validated config that a JSON schema cannot express, run when the Snakefile loads.

Each failure raises :class:`ConfigError` naming the key, the value and what is allowed, before any job runs.
"""

from __future__ import annotations

import os

from .hparams import H


class ConfigError(ValueError):
    pass


#: Files and folders a dataset needs under ``dataset.root`` (existence checks only: no scan of their contents;
#: the preparation job checks every image it needs and names what is missing).
DATASET_FILES = {
    "cifar10": ("cifar-10-batches-py/data_batch_1",),
    "cifar100": ("cifar-100-python/train",),
    "tiny_imagenet": ("wnids.txt", "train", "val/images", "val/val_annotations.txt"),
    "miniplaces": ("train.txt", "val.txt", "categories.txt", "images/train", "images/val"),
}
#: What ``dataset.root`` is, for the messages.
DATASET_ROOTS = {
    "cifar10": "the folder that holds cifar-10-batches-py/",
    "cifar100": "the folder that holds cifar-100-python/",
    "tiny_imagenet": "the standard tiny-imagenet-200 folder, or the folder that holds it",
    "miniplaces": "the MiniPlaces development kit folder (images/train, images/val, and train.txt, val.txt, "
                  "categories.txt either in its data/ subfolder, as the kit is distributed, or beside images/)",
}
#: MiniPlaces' text files (train.txt, val.txt, categories.txt): in the kit's data/ subfolder, or at the root.
MINIPLACES_TEXT = ("train.txt", "val.txt", "categories.txt")
MINIPLACES_TEXT_DIRS = ("data", "")


def miniplaces_text_dir(base: str) -> str:
    """Where MiniPlaces' text files are: ``base/data`` (the official kit) or ``base`` (a flattened copy);
    the first that holds train.txt, else ``base``."""
    for sub in MINIPLACES_TEXT_DIRS:
        if os.path.isfile(os.path.join(base, sub, "train.txt")):
            return os.path.join(base, sub) if sub else base
    return base
#: Datasets whose folder may also be a named subfolder of ``dataset.root``.
DATASET_SUBDIRS = {"tiny_imagenet": "tiny-imagenet-200"}


def dataset_base(name: str, root: str) -> str:
    """The folder that holds the dataset's files: ``root``, or its standard subfolder when that has them."""
    sub = DATASET_SUBDIRS.get(name)
    if sub and not os.path.exists(os.path.join(root, DATASET_FILES[name][0])):
        if os.path.exists(os.path.join(root, sub, DATASET_FILES[name][0])):
            return os.path.join(root, sub)
    return root


def check_dataset(ds: dict) -> None:
    name = ds["name"]
    if name not in DATASET_FILES:
        return
    root = ds.get("root")
    if not root:
        raise ConfigError(f"dataset.root must be set for dataset '{name}' ({DATASET_ROOTS[name]}); "
                          f"nothing is downloaded")
    if os.path.exists(root) and not os.path.isdir(root):
        raise ConfigError(f"dataset.root: {root!r} is a file, not a folder; dataset.root is {DATASET_ROOTS[name]}")
    if not os.path.isdir(root):
        raise ConfigError(f"dataset.root: folder {root!r} does not exist ({DATASET_ROOTS[name]})")
    base = dataset_base(name, root)
    files = list(DATASET_FILES[name])
    if name == "miniplaces":
        text = miniplaces_text_dir(base)
        files = [os.path.relpath(os.path.join(text, f), base) if f in MINIPLACES_TEXT else f for f in files]
    missing = [os.path.join(base, f) for f in files if not os.path.exists(os.path.join(base, f))]
    if missing:
        sub = DATASET_SUBDIRS.get(name)
        where = f" (nor in {os.path.join(root, sub)})" if sub and base == root else ""
        raise ConfigError(f"dataset.root: expected {', '.join(missing)}{where} for dataset '{name}', not found; "
                          f"dataset.root is {DATASET_ROOTS[name]}")


def dataset_ready(ds: dict) -> bool:
    """False for a dataset that needs a folder (``dataset.root``) and has none set."""
    return ds["name"] not in DATASET_FILES or bool(ds.get("root"))


def check_config(config: dict, *, data: bool = True) -> None:
    if data:
        check_dataset(config["dataset"])

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


def check_experiments(config: dict, validate) -> dict[str, dict]:
    """Every experiment the config plans, by name: the main one and those of ``other_models`` (figA8, figA9).

    ``validate(cfg)`` checks a derived config against the schema and fills its defaults (the Snakefile passes
    Snakemake's ``validate``). An entry's dataset folder is checked here only when it names one: an unset
    ``dataset.root`` leaves the figure out of the default target, and building it stops at data preparation with
    the message that says what is expected where.
    """
    from . import plan

    experiments = {config["experiment"]: config}
    owner = {config["experiment"]: "the main experiment"}
    for fig, derived in plan.other_model_configs(config).items():
        where = f"other_models.{fig}"
        try:
            validate(derived)
            check_config(derived, data=dataset_ready(derived["dataset"]))
            plan.other_model_panels(config, fig)
        except Exception as err:  # schema errors come as WorkflowError, the rest as ConfigError/ValueError
            raise ConfigError(f"{where}: {err}") from err
        name = derived["experiment"]
        if name in experiments:
            other = experiments[name]
            differ = [k for k in plan.OTHER_MODEL_BLOCKS if derived[k] != other[k]]
            if differ:
                raise ConfigError(f"{where}.experiment: '{name}' is already {owner[name]}'s, whose "
                                  f"{', '.join(differ)} differ: give this one another experiment name")
            continue
        experiments[name], owner[name] = derived, where
    return experiments
