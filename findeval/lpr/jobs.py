"""Layerwise pruning ratios (LPR), job time: the match-LPR and local pruning of a constrained chain's level,
its trainings and evaluation sweeps (the planning is :mod:`findeval.lpr.plan`)."""

from __future__ import annotations

import json
import logging

import h5py

from .. import masks, runs
from ..a1 import jobs
from ..hparams import H, run_seeds
from ..io import atomic_path, load_checkpoint
from ..masks import MaskError, layer_count_prune, ones_like, prunable_shapes, prune_count
from .plan import CONSTRAINTS

log = logging.getLogger("findeval")


# --------------------------------------------------------------------------- pruning


def matched_kept(reference) -> dict:
    """Per layer, the number of weights the reference mask keeps (the counts match-LPR pruning hits)."""
    return {name: int(m.sum()) for name, m in reference.items()}


def local_kept(mask, fraction: float) -> dict:
    """Per layer, the count local pruning keeps: ``n_l - round_half_up(fraction * n_l)`` of its ``n_l`` kept."""
    return {name: int(m.sum()) - prune_count(int(m.sum()), fraction) for name, m in mask.items()}


def check_counts(mask, kept: dict, what: str = "mask") -> None:
    wrong = {n: (int(m.sum()), kept[n]) for n, m in mask.items() if int(m.sum()) != kept[n]}
    if wrong:
        raise MaskError(f"{what}: per-layer counts missed their targets (kept, target): {wrong}")


def prune_match_lpr(weights: dict, parent, reference, *, parent_name: str = "parent mask",
                    reference_name: str = "reference mask"):
    """One level of match-LPR pruning: every layer keeps exactly as many weights as ``reference`` keeps there,
    the weights kept being those of largest |w| among those ``parent`` keeps."""
    if list(reference) != list(parent):
        raise MaskError(f"{reference_name} holds tensors {list(reference)[:3]}..., {parent_name} holds "
                        f"{list(parent)[:3]}...: they are not masks of the same network")
    for name in parent:
        if reference[name].shape != parent[name].shape:
            raise MaskError(f"{name}: {reference_name} has shape {reference[name].shape}, {parent_name} "
                            f"{parent[name].shape}")
    kept = matched_kept(reference)
    more = {n: (k, int(parent[n].sum())) for n, k in kept.items() if k > int(parent[n].sum())}
    if more:
        raise MaskError(f"{reference_name} keeps more weights than {parent_name} in some layers (reference, parent):"
                        f" {more}; the reference must be the mask of the next level")
    mask = layer_count_prune(weights, parent, kept)
    check_counts(mask, kept, "match-LPR mask")
    return mask


def prune_local(weights: dict, parent, fraction: float):
    """One level of local pruning: every layer loses ``round_half_up(fraction * n_l)`` of its ``n_l`` kept weights."""
    kept = local_kept(parent, fraction)
    mask = layer_count_prune(weights, parent, kept)
    check_counts(mask, kept, "local mask")
    return mask


def dense_mask(state: dict):
    """The level-0 mask: every prunable tensor (:func:`findeval.masks.prunable_shapes`)."""
    return ones_like(prunable_shapes(state))


def prune_chain(out_mask: str, out_ticket: str, *, constraint: str, trained: str, parent_mask: str | None,
                start: str, level: int, seed: int, h_find: H, fraction: float, reference_mask: str | None = None,
                h_ref: H | None = None):
    """One level of a constrained chain: mask M_L from the weights trained at L-1 (and M_{L-1}), then its
    ticket theta_0 * M_L (A1 lines 5 and 6)."""
    if constraint not in CONSTRAINTS:
        raise ValueError(f"unknown LPR constraint {constraint!r}; choose from {CONSTRAINTS}")
    masks.prune_count(1, fraction)  # checks 0 < fraction < 1 before any file is read
    state, _ = load_checkpoint(trained)
    if parent_mask:
        parent, attrs = masks.load_mask(parent_mask)
        masks.check_compatible(parent, state, f"mask {parent_mask}")
        if attrs.get("level") != level - 1:
            raise masks.MaskError(f"{parent_mask} is level {attrs.get('level')}, expected {level - 1}")
    else:
        if level != 1:
            raise ValueError(f"level {level} needs the chain's mask of level {level - 1}")
        parent = dense_mask(state)
    if constraint == "match_lpr":
        if not reference_mask:
            raise ValueError("match-LPR pruning needs a reference mask")
        ref, ref_attrs = masks.load_mask(reference_mask)
        if ref_attrs.get("level") != level:
            raise masks.MaskError(f"reference {reference_mask} is level {ref_attrs.get('level')}, expected {level}")
        mask = prune_match_lpr(state, parent, ref, parent_name=parent_mask or "the dense network",
                               reference_name=f"reference {reference_mask}")
    else:
        mask = prune_local(state, parent, fraction)
    masks.check_monotone(mask, parent, out_mask)
    with atomic_path(out_mask) as tmp:
        masks.save_mask(tmp, mask, kind=constraint, level=level, seed=seed, h_find=h_find, fraction=fraction,
                        seeds=run_seeds(seed))
        with h5py.File(tmp, "a", locking=masks.file_locking()) as f:
            f.attrs["constraint"] = constraint
            f.attrs["H_ref"] = json.dumps(h_ref.as_dict() if h_ref else None)
    jobs.rewind(out_ticket, start=start, mask=out_mask)
    log.info("%s level %d: sparsity %.4f, LPR %s", constraint, level, masks.sparsity(mask),
             {k: round(v, 4) for k, v in masks.lpr(mask).items()})
    return mask


def chain_run(out_metrics: str, *, constraint: str, h_find: H, h_eval: H, h_ref: H | None = None, **kwargs):
    """The run that trains a constrained chain's ticket (``h_eval`` = H_find for its find run, another H for an
    evaluation; the other arguments: ``jobs.a1_run``'s).

    The run is a lottery run in every respect (theta_0 and the replicate's data order: same seeds); its
    metrics.json says ``kind`` = the constraint and records ``H_ref``.
    """
    return jobs.a1_run(out_metrics, kind="lottery", h_find=h_find, h_eval=h_eval,
                       tail={"kind": constraint, "constraint": constraint, "H_ref": h_ref.as_dict() if h_ref else None},
                       **kwargs)


def train_chain(out_metrics: str, **kwargs) -> dict:
    """Train one run of :func:`chain_run`'s arguments with the training entry point; its record."""
    return runs.train(chain_run(out_metrics, **kwargs))


def constrained_chain(*, constraint: str, trained: dict, metrics: dict, masks_out: dict, tickets: dict,
                      dense_trained: str, h_find: H, h_ref: H | None = None, reference_masks: dict | None = None,
                      **common) -> None:
    """One LPR-constrained chain, levels 1..N, in one job (``runtime.granularity: chain``): the same calls as
    the per-level rules ``prune_match_lpr``/``prune_local`` and ``train_find_lpr``, in level order. Level 0
    is the regular find chain's dense run (``dense_trained``). ``common``: :func:`constrained_chains`' other
    arguments."""
    constrained_chains([{"constraint": constraint, "trained": trained, "metrics": metrics, "masks_out": masks_out,
                         "tickets": tickets, "dense_trained": dense_trained, "h_find": h_find, "h_ref": h_ref,
                         "reference_masks": reference_masks}], **common)


def constrained_chains(chains: list[dict], *, init: str, data: str, seed: int, fraction: float, training: dict,
                       augment: dict | None, device: str = "cpu", threads: int = 1, group: int = 0,
                       **speed) -> None:
    """Several LPR-constrained chains of one replicate in lock-step (``runtime.find_group``; rules
    ``lpr_find_group_<i>``): at each level every chain prunes (match-LPR or local) and rewinds, then the level's
    trainings run as grouped networks of at most ``group`` chains, each with its own LR and weight decay
    (:func:`findeval.runs.train_all`; equal to the one-chain path to float tolerance), or one after another
    (``group`` 0: :func:`constrained_chain`'s bytes).

    ``chains``: one dict per chain with keys ``constraint``, ``trained``, ``metrics``, ``masks_out``, ``tickets``,
    ``dense_trained``, ``h_find`` and, for match-LPR, ``h_ref`` and ``reference_masks`` (as
    :func:`constrained_chain`'s arguments). Chains trained together must share their batch size. Each chain's
    files are those its own lpr_find_chain job writes."""
    levels = None
    for c in chains:
        lv = sorted(c["metrics"])
        if lv != list(range(1, len(lv) + 1)) or sorted(c["trained"]) != lv or sorted(c["masks_out"]) != lv \
                or sorted(c["tickets"]) != lv:
            raise ValueError(f"an LPR chain needs every level from 1: got metrics {lv}, masks {sorted(c['masks_out'])}")
        if levels is not None and lv != levels:
            raise ValueError(f"chains trained in lock-step need the same levels: {lv} and {levels}")
        levels = lv
    for level in levels or []:
        for c in chains:
            prune_chain(c["masks_out"][level], c["tickets"][level], constraint=c["constraint"],
                        trained=c["dense_trained"] if level == 1 else c["trained"][level - 1],
                        parent_mask=c["masks_out"].get(level - 1), start=init, level=level, seed=seed,
                        h_find=c["h_find"], fraction=fraction, h_ref=c.get("h_ref"),
                        reference_mask=((c.get("reference_masks") or {}).get(level)
                                        if c["constraint"] == "match_lpr" else None))
        runs.train_all([chain_run(c["metrics"][level], out_trained=c["trained"][level], constraint=c["constraint"],
                                  h_find=c["h_find"], h_eval=c["h_find"], h_ref=c.get("h_ref"),
                                  start=c["tickets"][level], mask=c["masks_out"][level], data=data,
                                  role="train_find_lpr", level=level, seed=seed, training=training, augment=augment,
                                  device=device, threads=threads, **speed) for c in chains], group)


def constrained_eval_sweep(*, constraint: str, metrics: dict, tickets: dict, masks_in: dict, data: str,
                           h_find: H, h_eval: H, seed: int, training: dict, augment: dict | None,
                           h_ref: H | None = None, device: str = "cpu", threads: int = 1, group: int = 0,
                           **speed) -> None:
    """``train_eval_lpr`` for every level of one constrained chain with one H_eval, in one job. ``group`` > 0
    (runtime.group): grouped networks of at most ``group`` levels (the same records, plus ``group_size``)."""
    runs.train_all([chain_run(out, constraint=constraint, h_find=h_find, h_eval=h_eval, h_ref=h_ref,
                              start=tickets[level], mask=masks_in[level], data=data, role="train_eval_lpr",
                              level=level, seed=seed, training=training, augment=augment, device=device,
                              threads=threads, **speed) for level, out in metrics.items()], group)
