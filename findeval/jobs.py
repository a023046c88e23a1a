"""One function per pipeline step, on plain arguments (paths, dicts, wildcard values).

The Snakemake scripts in ``scripts/`` only unpack ``snakemake.*`` and call these, so every step can be
run and tested without Snakemake. Each writes its outputs atomically.
"""

from __future__ import annotations

import logging
import math
import os
import time

from .hparams import H, derive_seed, run_seeds
from .io import load_checkpoint, read_json, save_checkpoint, write_json

log = logging.getLogger("findeval")

#: (in_channels, num_classes) of the registered datasets: the model can be built without the data.
DATASET_SHAPES = {"digits": (1, 10), "cifar10": (3, 10), "cifar100": (3, 100)}


def setup_logging(path: str | None) -> None:
    handlers = [logging.FileHandler(path, mode="w")] if path else [logging.StreamHandler()]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", handlers=handlers, force=True)


def set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, int(threads)))


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("runtime.device is 'cuda' but no CUDA device is available (use 'cpu' or 'auto')")
    return device


def model_spec(model: dict, dataset: str) -> dict:
    if dataset not in DATASET_SHAPES:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASET_SHAPES)}")
    channels, classes = DATASET_SHAPES[dataset]
    return {**model, "in_channels": channels, "num_classes": classes}


# --------------------------------------------------------------------------- steps


def prepare_data(out: str, *, name: str, root=None, test_fraction: float = 0.2, split_seed: int = 0) -> None:
    from . import data

    shapes = data.prepare(name, out, root=root, test_fraction=test_fraction, split_seed=split_seed)
    log.info("prepared %s: %s", name, shapes)


def init(out_init: str, out_reinit: str, out_architecture: str, *, model: dict, dataset: str, seed: int) -> None:
    """theta_0 of replicate ``seed``, the new random init its random baselines train from, and the
    architecture's prunable tensors (names, shapes) for jobs that need them without torch."""
    from . import models

    spec = model_spec(model, dataset)
    for path, which in ((out_init, "init"), (out_reinit, "reinit")):
        s = derive_seed(seed, which)
        m = models.init_model(spec, s)
        save_checkpoint(path, m.state_dict(), {"model_spec": spec, "init_seed": s, "replicate": seed, "role": which})
    names = models.prunable_names(m)
    shapes = {k: list(v.shape) for k, v in m.state_dict().items() if k in names}
    write_json(out_architecture, {"model_spec": spec, "prunable": shapes, "parameters": models.count_parameters(m)})


def prune(out_mask: str, *, trained: str, parent_mask: str | None, fraction: float, level: int, seed: int,
          h_find: H) -> dict:
    """Mask of ``level`` from the weights trained at ``level - 1`` (A1 line 5)."""
    from . import masks

    state, _ = load_checkpoint(trained)
    parent = None
    if parent_mask:
        parent, attrs = masks.load_mask(parent_mask)
        masks.check_compatible(parent, state, f"mask {parent_mask}")
        if attrs.get("level") != level - 1:
            raise masks.MaskError(f"{parent_mask} is level {attrs.get('level')}, expected {level - 1}")
    mask = masks.global_magnitude_prune(state, parent, fraction)
    if parent is not None:
        masks.check_monotone(mask, parent, out_mask)
    masks.save_mask(out_mask, mask, kind="lottery", level=level, seed=seed, h_find=h_find, fraction=fraction,
                    seeds=run_seeds(seed))
    log.info("level %d: sparsity %.4f", level, masks.sparsity(mask))
    return mask


def rewind(out_ticket: str, *, start: str, mask: str) -> None:
    """theta_rewind * M (A1 line 6): the weights a level's training starts from."""
    from . import masks

    state, meta = load_checkpoint(start)
    m, attrs = masks.load_mask(mask)
    masks.check_compatible(m, state, f"mask {mask}")
    save_checkpoint(out_ticket, masks.apply_mask(state, m), {**meta, "role": "ticket", "level": attrs["level"],
                                                              "rewound_from": os.path.basename(start)})


def global_random_mask(out_mask: str, *, architecture: str, fraction: float, level: int, seed: int) -> None:
    from . import masks

    arch = read_json(architecture)
    shapes = {k: tuple(v) for k, v in arch["prunable"].items()}
    total = sum(math.prod(s) for s in shapes.values())
    kept = masks.kept_schedule(total, fraction, level)[level]
    seeds = run_seeds(seed, "global_random", level)
    mask = masks.global_random_mask(shapes, kept, seeds["mask"])
    masks.save_mask(out_mask, mask, kind="global_random", level=level, seed=seed, h_find=None, fraction=fraction,
                    seeds=seeds)


def preserve_lpr_mask(out_mask: str, *, lottery_mask: str, level: int, seed: int) -> None:
    from . import masks

    ref, attrs = masks.load_mask(lottery_mask)
    seeds = run_seeds(seed, "preserve_lpr", level)
    mask = masks.preserve_lpr_mask(ref, seeds["mask"])
    masks.save_mask(out_mask, mask, kind="preserve_lpr", level=level, seed=seed, h_find=attrs.get("H_find"),
                    fraction=attrs.get("fraction"), seeds=seeds)


def train_run(out_metrics: str, *, start: str, mask: str | None, data: str, kind: str, h_find: H | None,
              h_eval: H, level: int, seed: int, training: dict, augment: dict | None, role: str,
              out_trained: str | None = None, device: str = "cpu", threads: int = 1) -> dict:
    """Train the masked network from ``start`` with ``h_eval`` (for find runs, h_eval is H_find) and write
    its metrics.json (and, for find runs, the trained weights)."""
    from . import data as data_mod
    from . import masks, models, training as tr

    set_threads(threads)
    device = resolve_device(device)
    state, meta = load_checkpoint(start)
    spec = meta.get("model_spec")
    if not spec:
        raise ValueError(f"checkpoint {start} has no meta['model_spec']; was it written by findeval?")
    model = models.build(spec)
    models.load_state(model, state, f"checkpoint {start}")
    m = None
    mask_attrs = {}
    if mask:
        m, mask_attrs = masks.load_mask(mask)
        masks.check_compatible(m, state, f"mask {mask}")
        if mask_attrs.get("level") != level:
            raise masks.MaskError(f"{mask} is level {mask_attrs.get('level')}, expected {level}")
    dataset = data_mod.load(data, device)
    seeds = run_seeds(seed, kind, level)
    t0 = time.perf_counter()
    result = tr.train(model, dataset, h_eval, tr.Schedule.from_config(training), data_seed=seeds["data"], mask=m,
                      augment=tr.Augment.from_config(augment), device=device, log=log.info)
    names = models.prunable_names(model)
    total = sum(p.numel() for n, p in model.named_parameters() if n in names)
    zeros = sum(int((p == 0).sum()) for n, p in model.named_parameters() if n in names)
    metrics = {
        "kind": kind,
        "role": role,
        "level": level,
        "seed": seed,
        "seeds": seeds,
        "sparsity": masks.sparsity(m) if m else 0.0,
        "zero_fraction": zeros / total,
        "H_find": h_find.as_dict() if h_find else None,
        "H_eval": h_eval.as_dict(),
        "test_accuracy": result["test_accuracy"],
        "test_loss": result["test_loss"],
        "train_loss": result["train_loss"],
        "diverged": result["diverged"],
        "epochs": training["epochs"],
        "epochs_completed": result["epochs_completed"],
        "iterations_per_epoch": result["iterations_per_epoch"],
        "train_time_s": result["train_time_s"],
        "wall_time_s": round(time.perf_counter() - t0, 3),
        "device": device,
        "model": spec,
        "history": result["history"],
    }
    if out_trained:
        save_checkpoint(out_trained, model.state_dict(), {**meta, "role": "trained", "level": level,
                                                          "H": h_eval.as_dict()})
    write_json(out_metrics, metrics)
    return metrics
