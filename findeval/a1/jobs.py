"""One function per pipeline step, on plain arguments (paths, dicts, wildcard values).

The Snakemake scripts in ``scripts/`` only unpack ``snakemake.*`` and call these, so every step can be
run and tested without Snakemake. Each writes its outputs atomically.
"""

from __future__ import annotations

import logging
import math
import os

import h5py
import numpy as np

from .. import data, masks, models, runs
from ..hparams import H, derive_seed, run_seeds
from ..io import CheckpointError, atomic_path, load_checkpoint, read_json, save_checkpoint, write_json
from ..models import model_spec, prunable_names
from ..regime import Schedule
from ..runs import DIVERGED_ATTR, Outputs, Runtime, Seeds, TrainRun

log = logging.getLogger("findeval")

# --------------------------------------------------------------------------- steps


def prepare_data(out: str, *, name: str, root=None, test_fraction: float = 0.2, split_seed: int = 0,
                 **options) -> None:
    """The prepared dataset file; ``options`` are the ``dataset.*`` options its record takes."""
    shapes = data.prepare(name, out, root=root, test_fraction=test_fraction, split_seed=split_seed, **options)
    log.info("prepared %s: %s", name, shapes)


def init(out_init: str, out_reinit: str, out_architecture: str, *, model: dict, dataset: str, seed: int) -> None:
    """theta_0 of replicate ``seed``, the new random init its random baselines train from, and the
    architecture's prunable tensors (names, shapes) for jobs that need them without torch."""
    spec = model_spec(model, dataset)
    for path, which in ((out_init, "init"), (out_reinit, "reinit")):
        s = derive_seed(seed, which)
        m = models.init_model(spec, s)
        save_checkpoint(path, m.state_dict(), {"model_spec": spec, "init_seed": s, "replicate": seed, "role": which})
    names = models.prunable_names(m)
    shapes = {k: list(v.shape) for k, v in m.state_dict().items() if k in names}
    write_json(out_architecture, {"model_spec": spec, "prunable": shapes, "parameters": models.count_parameters(m)})


def save_mask_flagged(out_mask: str, mask: dict, *, diverged_at: int | None, **kwargs) -> None:
    """``masks.save_mask``, plus the :data:`DIVERGED_ATTR` attribute when the mask's find chain diverged
    (written inside the same atomic write; masks of healthy chains are byte for byte what save_mask writes)."""
    if diverged_at is None:
        masks.save_mask(out_mask, mask, **kwargs)
        return
    with atomic_path(out_mask) as tmp:
        masks.save_mask(tmp, mask, **kwargs)
        with h5py.File(tmp, "a", locking=masks.file_locking()) as f:
            f.attrs[DIVERGED_ATTR] = int(diverged_at)


def _rank_diverged(state: dict, names) -> dict:
    """Weights of a diverged training for magnitude ranking: NaN and +-inf count as the largest magnitude
    (kept), so the pruning count and order stay defined (ties: network order, then position)."""
    top = np.finfo(np.float32).max
    out = dict(state)
    for name in names:
        w = state[name].detach().cpu().numpy().astype(np.float32)
        out[name] = np.nan_to_num(w, nan=top, posinf=top, neginf=top)
    return out


def prune(out_mask: str, *, trained: str, parent_mask: str | None, fraction: float, level: int, seed: int,
          h_find: H) -> dict:
    """Mask of ``level`` from the weights trained at ``level - 1`` (A1 line 5).

    Divergence is a result, not a crash: if the training at ``level - 1`` diverged (its checkpoint's
    ``meta["diverged"]``) or the parent mask comes from a chain that did, the mask is still written, with
    the exact count of the schedule (non-finite weights rank as the largest), and flagged with the
    :data:`DIVERGED_ATTR` attribute; every run that uses it is recorded as diverged. Non-finite weights
    in a checkpoint that does not say it diverged are an error (a corrupt file).
    """
    masks.prune_count(1, fraction)  # checks 0 < fraction < 1 before any file is read
    state, meta = load_checkpoint(trained, require_finite=False)
    diverged_at = level - 1 if meta.get("diverged") else None
    parent, attrs = None, {}
    if parent_mask:
        parent, attrs = masks.load_mask(parent_mask)
        masks.check_compatible(parent, state, f"mask {parent_mask}")
        if attrs.get("level") != level - 1:
            raise masks.MaskError(f"{parent_mask} is level {attrs.get('level')}, expected {level - 1}")
        if attrs.get(DIVERGED_ATTR) is not None:
            diverged_at = int(attrs[DIVERGED_ATTR])
    remaining = masks.n_kept(parent) if parent is not None else sum(int(state[n].numel()) for n in prunable_names(state))
    if masks.prune_count(remaining, fraction) == 0:
        raise ValueError(f"pruning.fraction {fraction} prunes no weight at level {level}: round({fraction} x "
                         f"{remaining} remaining weights) = 0; "
                         + (f"use pruning.fraction >= {0.5 / remaining:.3g}" if remaining else "no weight is left"))
    nonfinite = [k for k, v in state.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if nonfinite and diverged_at is None:
        raise CheckpointError(f"checkpoint {trained} holds NaN or infinite values in {', '.join(nonfinite[:5])}, "
                              "but does not say its training diverged: a corrupt file?")
    if diverged_at is not None:
        log.warning("the find chain of %s diverged at level %d: the mask of level %d is flagged (%s), and every "
                    "run that uses it is recorded as diverged", trained, diverged_at, level, DIVERGED_ATTR)
        state = _rank_diverged(state, list(parent) if parent is not None else prunable_names(state))
    elif parent is not None:
        for name, keep in parent.items():
            w = state[name].detach().cpu().numpy()
            regrown = int(((w != 0) & ~keep).sum())
            if regrown:
                raise masks.MaskError(
                    f"{trained} is not monotone with its parent mask {parent_mask}: {regrown} weights of {name} "
                    "that the parent prunes are nonzero, so these weights were not trained with this mask"
                )
    mask = masks.global_magnitude_prune(state, parent, fraction)
    if parent is not None:
        masks.check_monotone(mask, parent, out_mask)
    save_mask_flagged(out_mask, mask, diverged_at=diverged_at, kind="lottery", level=level, seed=seed,
                      h_find=h_find, fraction=fraction, seeds=run_seeds(seed))
    log.info("level %d: sparsity %.4f", level, masks.sparsity(mask))
    return mask


def rewind(out_ticket: str, *, start: str, mask: str) -> None:
    """theta_rewind * M (A1 line 6): the weights a level's training starts from."""
    state, meta = load_checkpoint(start)
    m, attrs = masks.load_mask(mask)
    masks.check_compatible(m, state, f"mask {mask}")
    save_checkpoint(out_ticket, masks.apply_mask(state, m), {**meta, "role": "ticket", "level": attrs["level"],
                                                              "rewound_from": os.path.basename(start)})


def global_random_mask(out_mask: str, *, architecture: str, fraction: float, level: int, seed: int) -> None:
    arch = read_json(architecture)
    shapes = {k: tuple(v) for k, v in arch["prunable"].items()}
    total = sum(math.prod(s) for s in shapes.values())
    kept = masks.kept_schedule(total, fraction, level)[level]
    seeds = run_seeds(seed, "global_random", level)
    mask = masks.global_random_mask(shapes, kept, seeds["mask"])
    masks.save_mask(out_mask, mask, kind="global_random", level=level, seed=seed, h_find=None, fraction=fraction,
                    seeds=seeds)


def preserve_lpr_mask(out_mask: str, *, lottery_mask: str, level: int, seed: int) -> None:
    ref, attrs = masks.load_mask(lottery_mask)
    seeds = run_seeds(seed, "preserve_lpr", level)
    mask = masks.preserve_lpr_mask(ref, seeds["mask"])
    save_mask_flagged(out_mask, mask, diverged_at=attrs.get(DIVERGED_ATTR), kind="preserve_lpr", level=level,
                      seed=seed, h_find=attrs.get("H_find"), fraction=attrs.get("fraction"), seeds=seeds)


def a1_run(out_metrics: str, *, start: str, mask: str | None, data: str, kind: str, h_find: H | None, h_eval: H,
           level: int, seed: int, training: dict, augment: dict | None, role: str, out_trained: str | None = None,
           levels: int | None = None, tail: dict | None = None, device: str = "cpu", threads: int = 1,
           precision: str = "fp32", channels_last: bool = False) -> TrainRun:
    """The run of an A1 training job: the masked network from ``start`` trained with ``h_eval`` (for find runs,
    h_eval is H_find), its metrics.json written (and, for find runs, the trained weights). ``tail``: keys the
    record adds or replaces after the outcome (the LPR and early-pruning sweeps record another ``kind``)."""
    return TrainRun(role=role, kind=kind, start=start, mask=mask, data=data, h=h_eval, h_find=h_find, level=level,
                    schedule=Schedule.from_config(training), seeds=Seeds(seed, kind, level), augment=augment,
                    runtime=Runtime(device, threads, precision, channels_last), tail=dict(tail or {}),
                    outputs=Outputs(metrics=out_metrics, trained=out_trained), levels=levels)


def train_run(out_metrics: str, **kwargs) -> dict:
    """Train one A1 run (:func:`a1_run`'s arguments) with the training entry point (:func:`findeval.runs.train`).

    Every input is checked before training starts. After every epoch the run saves a resume file beside
    ``out_metrics`` (:func:`findeval.runs.resume_path`); a re-run of a killed job picks it up if its fingerprint
    (inputs and settings) matches, and ends with the weights an uninterrupted run ends with. The file is removed
    once the outputs are written.
    """
    return runs.train(a1_run(out_metrics, **kwargs))


# --------------------------------------------------------------------------- chains and sweeps
#
# runtime.granularity "chain" (the default) runs a whole find chain, or the evaluation of every level of
# one mask source with one H_eval, in one job: the per-level steps above, called in the same order with
# the same arguments, write the same files (byte for byte, but for the timings in metrics.json) with one
# process start instead of three per level. "level" gives every step its own job (docs/pipeline.md, "Job granularity").


#: A chain's files: the keys of every chain family's job functions (:func:`find_chains`, lpr, early, rewinding) -> the
#: rules' output names ``<name>_<level>``
CHAIN_FILES = {"trained": "trained", "metrics": "metrics", "masks_out": "mask", "tickets": "ticket"}


def find_chain(*, trained: dict, metrics: dict, masks_out: dict, tickets: dict, h_find: H, **common) -> None:
    """Algorithm A1 for one (H_find, replicate), every level: train -> prune -> rewind -> train ...

    ``trained``/``metrics`` map levels 0..N to the outputs of train_find, ``masks_out``/``tickets`` levels
    1..N to those of prune and rewind; ``common``: :func:`find_chains`' other arguments."""
    find_chains([{"h_find": h_find, "trained": trained, "metrics": metrics, "masks_out": masks_out,
                  "tickets": tickets}], **common)


def find_chains(chains: list[dict], *, data: str, fraction: float, training: dict, augment: dict | None,
                init: str | None = None, seed: int | None = None, device: str = "cpu", threads: int = 1,
                group: int = 0, **speed) -> None:
    """Algorithm A1 for several chains in lock-step (``runtime.find_group``): at each level, every chain prunes
    and rewinds, then the chains' trainings of that level run, as grouped networks of at most ``group`` chains
    (each with its own LR and weight decay, and its replicate's data order; :func:`findeval.runs.train_grouped`,
    equal to the one-chain path to float tolerance), or one after another (``group`` 0: :func:`find_chain`'s
    bytes).

    ``chains``: one dict per chain with keys ``h_find``, ``trained``, ``metrics``, ``masks_out``, ``tickets`` (as
    :func:`find_chain`'s arguments) and, for the chains of several replicates (rules ``find_seeds_group_<i>``),
    its own ``seed`` and ``init`` (theta_0 of that replicate; else ``seed`` and ``init`` here). Chains trained
    together must share their batch size. Each chain's files are those its own find_chain job writes."""
    chains = [{**c, "seed": c.get("seed", seed), "init": c.get("init", init)} for c in chains]
    if any(c["init"] is None or c["seed"] is None for c in chains):
        raise ValueError("every find chain needs its replicate's seed and theta_0 (init)")
    chains = [{**c, "seed": int(c["seed"])} for c in chains]
    levels = None
    for c in chains:
        lv = sorted(c["metrics"])
        if lv != list(range(len(lv))) or sorted(c["trained"]) != lv or sorted(c["masks_out"]) != lv[1:] \
                or sorted(c["tickets"]) != lv[1:]:
            raise ValueError(f"a find chain needs every level from 0: got metrics {lv}, masks {sorted(c['masks_out'])}")
        if levels is not None and lv != levels:
            raise ValueError(f"chains trained in lock-step need the same levels: {lv} and {levels}")
        levels = lv
    for level in levels or []:
        if level >= 1:
            for c in chains:
                prune(c["masks_out"][level], trained=c["trained"][level - 1], parent_mask=c["masks_out"].get(level - 1),
                      fraction=fraction, level=level, seed=c["seed"], h_find=c["h_find"])
                rewind(c["tickets"][level], start=c["init"], mask=c["masks_out"][level])
        runs.train_all([a1_run(c["metrics"][level], out_trained=c["trained"][level],
                               start=c["tickets"].get(level, c["init"]), mask=c["masks_out"].get(level), data=data,
                               kind="lottery", h_find=c["h_find"], h_eval=c["h_find"], level=level, seed=c["seed"],
                               training=training, augment=augment, role="train_find", device=device, threads=threads,
                               levels=levels[-1], **speed)
                        for c in chains], group)


def eval_sweep(*, metrics: dict, starts: dict, masks_in: dict, data: str, kind: str, h_find: H | None, h_eval: H,
               seed: int, training: dict, augment: dict | None, device: str = "cpu", threads: int = 1,
               group: int = 0, **speed) -> None:
    """A1 line 8 for every level of one mask source with one H_eval: the train_eval runs, in level order.

    ``group`` (runtime.group) > 0: the levels are trained as grouped networks of at most ``group`` levels
    (:func:`findeval.runs.train_grouped`; equal to the default path to float tolerance, not byte for byte);
    0: one after another (the default)."""
    runs.train_all(eval_runs(metrics=metrics, starts=starts, masks_in=masks_in, data=data, kind=kind, h_find=h_find,
                             h_eval=h_eval, seed=seed, training=training, augment=augment, device=device,
                             threads=threads, **speed), group)


def eval_runs(*, metrics: dict, starts: dict, masks_in: dict, seed: int, role: str = "train_eval", **common) -> list:
    """The train_eval runs (:func:`a1_run`) of every level of ``metrics`` (``{level: metrics.json}``), in order."""
    last = max(metrics) if metrics else None
    return [a1_run(out, start=starts[level], mask=masks_in[level], level=level, seed=seed, role=role, levels=last,
                   **common) for level, out in metrics.items()]


def global_random_masks(masks_out: dict, *, architecture: str, fraction: float, seed: int) -> None:
    for level, out in masks_out.items():
        global_random_mask(out, architecture=architecture, fraction=fraction, level=level, seed=seed)


def preserve_lpr_masks(masks_out: dict, *, lottery_masks: dict, seed: int) -> None:
    for level, out in masks_out.items():
        preserve_lpr_mask(out, lottery_mask=lottery_masks[level], level=level, seed=seed)
