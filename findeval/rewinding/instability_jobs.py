"""Instability analysis (figures A13, A14), job time: the second copy's training, the interpolation and its
batch-norm recomputation (the planning is :mod:`findeval.rewinding.instability_plan`)."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile

import torch

from .. import data as data_mod, models, runs, training as tr
from ..hparams import H, derive_seed, run_seeds
from ..io import load_checkpoint, read_json, write_json
from . import jobs as rewinding_jobs
from .instability_plan import BN_BATCH, RANDOM_KINDS, alpha_values

log = logging.getLogger("findeval")


def copy_b_seed(seed: int) -> int:
    """Data-order seed of the second copy (the first is the replicate's, ``run_seeds(seed)["data"]``)."""
    return derive_seed(seed, "data", "instability", "copy_b")


def interpolate_state(a: dict, b: dict, alpha: float) -> dict:
    """``(1 - alpha) * a + alpha * b`` for every floating tensor; others (BN batch counters) from ``a``."""
    out = {}
    for k, va in a.items():
        vb = b[k]
        out[k] = (1 - alpha) * va + alpha * vb if va.is_floating_point() else va.clone()
    return out


def recompute_bn(model, data, batch_size: int = BN_BATCH) -> None:
    """Reset every batch-norm layer's running statistics and re-estimate them on the training images (no
    augmentation): the cumulative mean over fixed batches, in the prepared order."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    n = len(data.y_train)
    with torch.no_grad():
        for i in range(0, n, batch_size):
            xb = data.x_train[i: i + batch_size]
            if len(xb) < 2:
                continue
            model(data_mod.normalize(xb, data.mean, data.std))
    model.eval()


def evaluate_bn(model, state: dict, data) -> dict:
    """Test loss and accuracy of ``state`` loaded into ``model`` with BN statistics recomputed on training data."""
    models.load_state(model, state, "interpolated weights")
    recompute_bn(model, data)
    return tr.evaluate(model, data.x_test, data.y_test, data.mean, data.std)


def instability(out_json: str, *, ticket: str, mask: str, copy_a: str, copy_a_metrics: str, data: str, h: H,
                seed: int, level: int, late_epoch: int, alphas: int, training: dict, augment: dict | None,
                device: str = "cpu", threads: int = 1, out_copy_b: str | None = None, **speed) -> dict:
    """Train copy B of the ticket (other data order), then the test error along the path from copy A to B.
    ``out_copy_b``: also keep copy B's weights there (the rule does not). Copy B's resume file sits beside
    ``out_json`` (a killed job goes on training copy B where it stopped)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy_b = rewinding_jobs.variant_run(None, out_trained=f"{tmp}/copy_b.pt", start=ticket, mask=mask, data=data,
                                       variant="late" if late_epoch else "lottery", h_find=h, h_eval=h, level=level,
                                       seed=seed, training=training, augment=augment, role="instability_copy_b",
                                       first_epoch=late_epoch, data_seed=copy_b_seed(seed), device=device,
                                       threads=threads, **speed)
        mb = runs.train(dataclasses.replace(copy_b, outputs=dataclasses.replace(copy_b.outputs, resume=out_json)))
        b, _ = load_checkpoint(f"{tmp}/copy_b.pt", require_finite=False)
        if out_copy_b:
            shutil.copyfile(f"{tmp}/copy_b.pt", out_copy_b)
    a, meta = load_checkpoint(copy_a, require_finite=False)
    device = runs.resolve_device(device)
    dataset = runs.load_data(data, device)
    model = models.build(meta["model_spec"]).to(device)
    models.load_state(model, a, f"checkpoint {copy_a}")
    plain = {"a": tr.evaluate(model, dataset.x_test, dataset.y_test, dataset.mean, dataset.std)}
    models.load_state(model, b, "copy B")
    plain["b"] = tr.evaluate(model, dataset.x_test, dataset.y_test, dataset.mean, dataset.std)
    rows = []
    for alpha in alpha_values(alphas):
        r = evaluate_bn(model, interpolate_state(a, b, alpha), dataset)
        rows.append({"alpha": alpha, "test_accuracy": r["accuracy"], "test_error": 1 - r["accuracy"],
                     "test_loss": r["loss"]})
    errors = [r["test_error"] for r in rows]
    out = {
        "kind": "instability", "level": level, "seed": seed, "late_epoch": late_epoch, "H": h.as_dict(),
        "sparsity": mb["sparsity"],
        "data_seeds": {"copy_a": run_seeds(seed)["data"], "copy_b": copy_b_seed(seed)},
        "copy_a": copy_a, "copy_a_test_accuracy": read_json(copy_a_metrics)["test_accuracy"],
        "copy_b_test_accuracy": mb["test_accuracy"],
        "endpoints_without_bn_recompute": {k: v["accuracy"] for k, v in plain.items()},
        "bn": f"recomputed on the training images (no augmentation), batches of {BN_BATCH}",
        "diverged": bool(mb["diverged"]) or bool(meta.get("diverged")),
        # instability (Frankle et al.): the highest error on the path above the mean error of its endpoints
        "instability": max(errors) - (errors[0] + errors[-1]) / 2,
        "interpolation": rows,
    }
    write_json(out_json, out)
    log.info("instability level %d, k %d, %s: %.4f", level, late_epoch, h.slug, out["instability"])
    return out


def random_eval_sweep(*, rkind: str, metrics: dict, masks_in: dict, reinit: str, data: str, h_find: H, h_eval: H,
                      seed: int, training: dict, augment: dict | None, device: str = "cpu", threads: int = 1,
                      group: int = 0, **speed) -> None:
    """A14's random baselines of a late-rewinding chain: its masks (preserve mask) or their within-layer
    shuffles (preserve LPR), each trained from the replicate's new random init, the full schedule (records of
    ``rewinding.variant_run``). ``group`` > 0 (runtime.group): grouped networks of at most ``group`` levels."""
    if rkind not in RANDOM_KINDS:
        raise ValueError(f"unknown baseline {rkind!r}; choose from {RANDOM_KINDS}")
    runs.train_all([rewinding_jobs.variant_run(out, start=reinit, mask=masks_in[level], data=data, variant="late",
                                          kind=rkind, h_find=h_find, h_eval=h_eval, level=level, seed=seed,
                                          training=training, augment=augment, role="train_eval", device=device,
                                          threads=threads, **speed) for level, out in metrics.items()], group)
