"""Early pruning (paper section 3.5), job time: the chains stopped at epoch k, their masks and evaluation
sweeps, and the LPR through training (figA18, figA19) (the planning is :mod:`findeval.early.plan`)."""

from __future__ import annotations

import logging

import h5py
import pandas as pd

from .. import masks, models, runs
from ..a1 import jobs
from ..hparams import H
from ..io import atomic_path
from ..regime import Schedule
from ..runs import DIVERGED, Outputs, Runtime, Seeds, TrainRun

log = logging.getLogger("findeval")


def early_run(out_metrics: str, *, out_trained: str | None, start: str, mask: str | None, data: str, h_find: H,
              level: int, seed: int, stop_epoch: int, training: dict, augment: dict | None,
              role: str = "train_find_early", device: str = "cpu", threads: int = 1, precision: str = "fp32",
              channels_last: bool = False):
    """The run of ``jobs.train_run`` for a find run stopped after epoch ``stop_epoch`` of the schedule: the same
    inputs, checks, seeds (those of the lottery run of this level), resume file and metrics, plus ``prune_epoch``
    (``epochs`` is k, ``schedule_epochs`` the schedule's)."""
    seeds = Seeds(seed, "lottery", level)
    head = {"kind": "early", "role": role, "level": level, "seed": seed, "seeds": seeds.resolve(),
            "H_find": h_find.as_dict(), "H_eval": h_find.as_dict(), "prune_epoch": int(stop_epoch),
            "epochs": int(stop_epoch), "schedule_epochs": training["epochs"]}
    return TrainRun(role=role, kind="early", start=start, mask=mask, data=data, h=h_find, h_find=h_find, level=level,
                    schedule=Schedule.from_config(training), seeds=seeds, augment=augment,
                    runtime=Runtime(device, threads, precision, channels_last), stop_epoch=int(stop_epoch), head=head,
                    outputs=Outputs(metrics=out_metrics, trained=out_trained, trained_meta={
                        "role": "trained", "level": level, "H": h_find.as_dict(), "diverged": DIVERGED,
                        "prune_epoch": int(stop_epoch)}))


def train_until(out_metrics: str, **kwargs) -> dict:
    """Train one run of :func:`early_run`'s arguments with the training entry point; its record."""
    return runs.train(early_run(out_metrics, **kwargs))


def prune_early(out_mask: str, *, prune_epoch: int, **kwargs):
    """``jobs.prune`` (A1 line 5), the mask file also recording ``prune_epoch``."""
    with atomic_path(out_mask) as tmp:
        mask = jobs.prune(str(tmp), **kwargs)
        with h5py.File(tmp, "a", locking=masks.file_locking()) as f:
            f.attrs["prune_epoch"] = int(prune_epoch)
    return mask


def early_chain(*, trained: dict, metrics: dict, masks_out: dict, tickets: dict, h_find: H, **common) -> None:
    """Iterative early pruning for one (H_find, k, replicate): train k epochs -> prune -> rewind, levels 0..N-1
    trained (``trained``/``metrics``), masks and tickets 1..N (``masks_out``/``tickets``); ``common``:
    :func:`early_chains`' other arguments."""
    early_chains([{"h_find": h_find, "trained": trained, "metrics": metrics, "masks_out": masks_out,
                   "tickets": tickets}], **common)


def early_chains(chains: list[dict], *, init: str, data: str, prune_epoch: int, seed: int, fraction: float,
                 training: dict, augment: dict | None, device: str = "cpu", threads: int = 1, group: int = 0,
                 **speed) -> None:
    """Several early-pruning chains of one pruning epoch k and replicate in lock-step (``runtime.find_group``;
    rules ``early_find_group_<i>``): at each level the chains' k-epoch trainings run as grouped networks of at
    most ``group`` chains, each with its own LR and weight decay (:func:`findeval.runs.train_all`; equal to the
    one-chain path to float tolerance), or one after another (``group`` 0: :func:`early_chain`'s bytes); then
    every chain prunes and rewinds.

    ``chains``: one dict per H_find with keys ``h_find``, ``trained``, ``metrics``, ``masks_out``, ``tickets``
    (as :func:`early_chain`'s). Chains trained together must share their batch size. Each chain's files are
    those its own early_find_chain job writes."""
    levels = None
    for c in chains:
        lv = sorted(c["metrics"])
        n = len(lv)
        if lv != list(range(n)) or sorted(c["trained"]) != lv or n < 1 \
                or sorted(c["masks_out"]) != list(range(1, n + 1)) or sorted(c["tickets"]) != list(range(1, n + 1)):
            raise ValueError(f"an early chain trains levels 0..N-1 and masks 1..N: got metrics {lv}, "
                             f"masks {sorted(c['masks_out'])}, tickets {sorted(c['tickets'])}")
        if levels is not None and lv != levels:
            raise ValueError(f"chains trained in lock-step need the same levels: {lv} and {levels}")
        levels = lv
    for level in levels or []:
        runs.train_all([early_run(c["metrics"][level], out_trained=c["trained"][level],
                                  start=c["tickets"].get(level, init), mask=c["masks_out"].get(level), data=data,
                                  h_find=c["h_find"], level=level, seed=seed, stop_epoch=prune_epoch,
                                  training=training, augment=augment, device=device, threads=threads, **speed)
                        for c in chains], group)
        for c in chains:
            prune_early(c["masks_out"][level + 1], prune_epoch=prune_epoch, trained=c["trained"][level],
                        parent_mask=c["masks_out"].get(level), fraction=fraction, level=level + 1, seed=seed,
                        h_find=c["h_find"])
            jobs.rewind(c["tickets"][level + 1], start=init, mask=c["masks_out"][level + 1])


def early_eval_sweep(*, metrics: dict, starts: dict, masks_in: dict, data: str, h_find: H, h_eval: H,
                     prune_epoch: int, seed: int, training: dict, augment: dict | None, device: str = "cpu",
                     threads: int = 1, group: int = 0, **speed) -> None:
    """A1 line 8 for every early mask of one chain with one H_eval (the whole schedule, ``jobs.a1_run``); the
    metrics record ``kind: early`` and ``prune_epoch``. ``group`` > 0 (runtime.group): grouped networks of at
    most ``group`` levels (``runs.train_grouped``)."""
    runs.train_all(jobs.eval_runs(metrics=dict(sorted(metrics.items())), starts=starts, masks_in=masks_in,
                                  data=data, kind="lottery", h_find=h_find, h_eval=h_eval, seed=seed,
                                  training=training, augment=augment, role="train_eval_early",
                                  tail={"kind": "early", "prune_epoch": int(prune_epoch)}, device=device,
                                  threads=threads, **speed), group)


TRAJECTORY_COLUMNS = ["hfind", "seed", "epoch", "lr", "test_accuracy", "layer_index", "layer", "pruned", "total",
                      "ratio", "sparsity", "final_ratio"]


def lpr_trajectory(out_table: str, *, init: str, data: str, h_find: H, seed: int, fraction: float, training: dict,
                   augment: dict | None, device: str = "cpu", threads: int = 1, precision: str = "fp32",
                   channels_last: bool = False, out_trained: str | None = None):
    """The dense level-0 find run of (H_find, replicate) again, measuring after every epoch (and at epoch 0, the
    initialisation) the LPR the first pruning step would give. Writes the table (:data:`TRAJECTORY_COLUMNS`);
    ``out_trained`` (tests) also saves the final weights, which equal the find chain's level-0 ``trained.pt``."""
    masks.prune_count(1, fraction)
    measured = []

    def measure(epoch: int, net) -> None:
        names = models.prunable_names(net)
        weights = {k: v for k, v in net.state_dict().items() if k in names}
        mask = masks.global_magnitude_prune(weights, None, fraction)
        measured.append((epoch, masks.layer_table(mask), masks.sparsity(mask)))

    result = runs.train(runs.TrainRun(
        role="lpr_trajectory", kind="lottery", start=init, data=data, h=h_find, h_find=h_find, level=0,
        schedule=Schedule.from_config(training), seeds=runs.Seeds(seed, "lottery", 0), augment=augment,
        runtime=runs.Runtime(device, threads, precision, channels_last), on_epoch_end=measure,
        outputs=runs.Outputs(trained=out_trained)))
    history = {row["epoch"]: row for row in result["history"]}
    final = {r["name"]: r["ratio"] for r in measured[-1][1]}
    rows = []
    for epoch, table, sp in measured:
        h = history.get(epoch, {})
        for i, r in enumerate(table):
            rows.append({"hfind": h_find.slug, "seed": int(seed), "epoch": epoch, "lr": h.get("lr"),
                         "test_accuracy": h.get("test_accuracy"), "layer_index": i, "layer": r["name"],
                         "pruned": r["pruned"], "total": r["total"], "ratio": r["ratio"], "sparsity": sp,
                         "final_ratio": final[r["name"]]})
    df = pd.DataFrame(rows, columns=TRAJECTORY_COLUMNS)
    with atomic_path(out_table) as tmp:
        df.to_csv(tmp, index=False)
    log.info("LPR through training of %s seed %d: %d epochs measured, final test accuracy %.4f%s", h_find.slug,
             seed, len(measured) - 1, result["test_accuracy"], " (diverged)" if result["diverged"] else "")
    return df
