"""Late rewinding, warm-up and LR rewinding (paper section 3.2, figure 4), job time: the variant chains and
their evaluation sweeps (the planning is :mod:`findeval.rewinding.plan`)."""

from __future__ import annotations

import logging
import os

from .. import masks, runs
from ..a1 import jobs
from ..hparams import H
from ..io import load_checkpoint, save_checkpoint
from ..regime import Schedule
from ..runs import DIVERGED, Outputs, Runtime, Seeds, TrainRun
from .plan import VARIANTS, parse_variant

log = logging.getLogger("findeval")


def variant_run(out_metrics: str | None, *, start: str, mask: str | None, data: str, variant: str, h_find: H,
                h_eval: H, level: int, seed: int, training: dict, augment: dict | None, role: str,
                first_epoch: int = 0, warmup_iters: int | None = None, kind: str = "lottery",
                data_seed: int | None = None, out_trained: str | None = None, device: str = "cpu",
                threads: int = 1, precision: str = "fp32", channels_last: bool = False):
    """The run that trains ``start`` under ``mask`` with ``h_eval`` for epochs ``first_epoch``+1..E, recording
    the keys of :func:`findeval.a1.jobs.train_run` plus ``variant``, ``first_epoch`` and ``warmup_iters``.

    ``warmup_iters`` (not None) replaces the training block's; ``data_seed`` (not None) replaces the replicate's
    data-order seed (instability copies). A start with NaN weights (a diverged earlier level of an LR
    rewinding chain) gives a diverged run, recorded as such."""
    if warmup_iters is not None:
        training = {**training, "warmup_iters": int(warmup_iters)}
    seeds = Seeds(seed, kind, level, data=data_seed)
    head = {"kind": kind, "role": role, "variant": variant, "level": level, "seed": seed, "seeds": seeds.resolve(),
            "H_find": h_find.as_dict(), "H_eval": h_eval.as_dict(), "epochs": training["epochs"],
            "first_epoch": int(first_epoch), "warmup_iters": int(training.get("warmup_iters", 0))}
    return TrainRun(role=role, kind=kind, start=start, mask=mask, data=data, h=h_eval, h_find=h_find, level=level,
                    schedule=Schedule.from_config(training), seeds=seeds, augment=augment,
                    runtime=Runtime(device, threads, precision, channels_last), first_epoch=int(first_epoch),
                    require_finite=False, head=head,
                    outputs=Outputs(metrics=out_metrics, trained=out_trained, trained_meta={
                        "role": "trained", "level": level, "variant": variant, "H": h_eval.as_dict(),
                        "diverged": DIVERGED}))


def train_variant(out_metrics: str, **kwargs) -> dict:
    """Train one run of :func:`variant_run`'s arguments with the training entry point; its record."""
    return runs.train(variant_run(out_metrics, **kwargs))


def late_theta(out: str, *, init: str, data: str, h_find: H, seed: int, late_epoch: int, training: dict,
               augment: dict | None, device: str = "cpu", threads: int = 1, precision: str = "fp32",
               channels_last: bool = False) -> None:
    """theta_k: theta_0 trained densely with H_find for k epochs (the data order of the replicate): the first k
    epochs of the regular dense run, bit for bit. Its checkpoint's meta records the k epochs' history."""
    seeds = runs.Seeds(seed)
    runs.train(runs.TrainRun(
        role="late_theta", kind="lottery", start=init, data=data, h=h_find, h_find=h_find, level=0,
        schedule=Schedule.from_config(training), seeds=seeds, augment=augment,
        runtime=runs.Runtime(device, threads, precision, channels_last), stop_epoch=int(late_epoch),
        outputs=runs.Outputs(trained=out, trained_meta={
            "role": "late_rewind_point", "epoch": int(late_epoch), "H": h_find.as_dict(), "seeds": seeds.resolve(),
            "diverged": runs.DIVERGED, "history": runs.HISTORY})))


def rewind_any(out_ticket: str, *, start: str, mask: str) -> None:
    """theta * M for any start, NaN weights included (an LR rewinding chain after a diverged level)."""
    state, meta = load_checkpoint(start, require_finite=False)
    m, attrs = masks.load_mask(mask)
    masks.check_compatible(m, state, f"mask {mask}")
    save_checkpoint(out_ticket, masks.apply_mask(state, m), {**meta, "role": "ticket", "level": attrs["level"],
                                                              "rewound_from": os.path.basename(start)})


def variant_chain(*, trained: dict, metrics: dict, masks_out: dict, tickets: dict, h_find: H,
                  dense: str | None = None, theta: str | None = None, **common) -> None:
    """One find chain of a variant, every level: prune (A1 line 5, global magnitude) -> rewind (to theta_k,
    theta_0 or the trained weights) -> train with H_find. ``metrics``/``trained`` hold levels 1..N (and 0 for
    warmup, whose dense run is its own); ``dense`` is the regular dense run (late, lr_rewind); ``common``:
    :func:`variant_chains`' other arguments."""
    variant_chains([{"h_find": h_find, "trained": trained, "metrics": metrics, "masks_out": masks_out,
                     "tickets": tickets, "dense": dense, "theta": theta}], **common)


def variant_chains(chains: list[dict], *, variant: str, data: str, seed: int, fraction: float, training: dict,
                   augment: dict | None, init: str | None = None, late_epoch: int = 0,
                   warmup_iters: int | None = None, device: str = "cpu", threads: int = 1, group: int = 0,
                   **speed) -> None:
    """Several chains of one variant and replicate in lock-step (``runtime.find_group``; rules
    ``rewinding_group_<i>``): at each level every chain prunes and rewinds, then the level's trainings run as
    grouped networks of at most ``group`` chains, each with its own LR and weight decay
    (:func:`findeval.runs.train_all`; equal to the one-chain path to float tolerance), or one after another
    (``group`` 0: :func:`variant_chain`'s bytes).

    ``chains``: one dict per H_find with keys ``h_find``, ``trained``, ``metrics``, ``masks_out``, ``tickets``
    and ``dense`` (late, lr_rewind) and ``theta`` (late), as :func:`variant_chain`'s arguments. Chains trained
    together must share their batch size."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown rewinding variant {variant!r}; choose from {VARIANTS}")
    levels = None
    for c in chains:
        lv = sorted(c["masks_out"])
        if lv != list(range(1, len(lv) + 1)) or sorted(c["tickets"]) != lv or \
                sorted(set(c["metrics"]) - {0}) != lv or sorted(set(c["trained"]) - {0}) != lv:
            raise ValueError(f"a rewinding chain needs every level from 1: got masks {lv}, metrics {sorted(c['metrics'])}")
        if levels is not None and lv != levels:
            raise ValueError(f"chains trained in lock-step need the same levels: {lv} and {levels}")
        levels = lv
    first = int(late_epoch) if variant == "late" else 0
    if variant == "late" and (first < 1 or not all(c.get("theta") for c in chains)):
        raise ValueError("late rewinding needs theta_k and late_epoch >= 1")
    common = dict(data=data, variant=variant, seed=seed, training=training, augment=augment,
                  warmup_iters=warmup_iters if variant == "warmup" else None, device=device, threads=threads,
                  **speed)
    dense = {id(c): c.get("dense") for c in chains}
    if variant == "warmup":
        runs.train_all([variant_run(c["metrics"][0], out_trained=c["trained"][0], start=init, mask=None, level=0,
                                    role="train_find", h_find=c["h_find"], h_eval=c["h_find"], **common)
                        for c in chains], group)
        dense = {id(c): c["trained"][0] for c in chains}
    for level in levels or []:
        for c in chains:
            prev = dense[id(c)] if level == 1 else c["trained"][level - 1]
            jobs.prune(c["masks_out"][level], trained=prev, parent_mask=c["masks_out"].get(level - 1),
                       fraction=fraction, level=level, seed=seed, h_find=c["h_find"])
            target = {"late": c.get("theta"), "warmup": init, "lr_rewind": prev}[variant]
            rewind_any(c["tickets"][level], start=target, mask=c["masks_out"][level])
        runs.train_all([variant_run(c["metrics"][level], out_trained=c["trained"][level], start=c["tickets"][level],
                                    mask=c["masks_out"][level], level=level, role="train_find", first_epoch=first,
                                    h_find=c["h_find"], h_eval=c["h_find"], **common) for c in chains], group)


def variant_eval_sweep(*, vdir: str, metrics: dict, starts: dict, masks_in: dict, data: str, h_find: H, h_eval: H,
                       seed: int, training: dict, augment: dict | None, warmup_in_eval: bool = False,
                       device: str = "cpu", threads: int = 1, group: int = 0, **speed) -> None:
    """Every level of one variant chain's masks trained with ``h_eval`` from the chain's tickets.
    ``group`` > 0 (runtime.group): grouped networks of at most ``group`` levels (``runs.train_grouped``; the
    same records, plus ``group_size``)."""
    v = parse_variant(vdir)
    runs.train_all([variant_run(out, start=starts[level], mask=masks_in[level], data=data, variant=v["variant"],
                                h_find=h_find, h_eval=h_eval, level=level, seed=seed, training=training,
                                augment=augment, role="train_eval", first_epoch=v["late_epoch"],
                                warmup_iters=v["warmup_iters"] if warmup_in_eval else None, device=device,
                                threads=threads, **speed) for level, out in metrics.items()], group)
