"""Variants of the lottery ticket procedure (paper Section 3.3, Figure 4), each compared across LR_find.

Three variants of Algorithm A1, each run as its own find chain (one job per (variant, H_find, replicate)
for every level) whose masks are then evaluated with H_eval (one sweep job per (variant, H_find, H_eval,
replicate)):

- **late rewinding** (``late``, Fig. 4a; Renda et al. 2020): A1 line 6 rewinds to theta_k, the weights after
  epoch k of the dense run with H_find (same theta_0 and data order as the regular find chain), instead of
  theta_0. Level 0 is the regular find chain's dense run (trained in full from theta_0, as A1 line 4 with
  i = 1); M_1 is pruned from it. Every level L >= 1 trains theta_k * M_L for epochs k+1..E with the LR
  schedule and the data order resumed at epoch k (``train(first_epoch=k)``; the optimizer state, i.e. the
  momentum, starts fresh, as in open_lth). theta_k comes from a job that trains theta_0 for k epochs
  (``late_theta``), bit for bit the first k epochs of the regular dense run. An evaluation with H_eval
  trains the same ticket theta_k * M_L (its first k epochs were trained with H_find) for epochs k+1..E.
- **warmup** (``warmup``, Fig. 4b): H_find warms the LR up linearly from 0 over ``warmup_iters`` iterations
  (paper: 1,000 iterations, about 5 of 110 epochs), every level including the dense level 0 (its own run);
  rewinding to theta_0 as in A1. The paper's text puts the warmup in H_find ("to the specified LR_find"), so
  masks are evaluated with H_eval *without* warmup (``rewinding.warmup_in_eval: false``; true adds it).
- **learning-rate rewinding** (``lr_rewind``, Fig. 4c; Renda et al. 2020): no weight rewinding: level L
  starts from the weights trained at level L-1 times M_L (level 0: the regular dense run) and replays the
  whole schedule (epochs 1..E). Evaluating M_L with H_eval trains the same start, trained_{L-1} * M_L, with
  H_eval: fine-tuning is the small-LR_eval case.

As in A1, evaluating a chain's mask with H_eval == H_find is the chain's own training, never run twice
(except for warmup without ``warmup_in_eval``, where the evaluation differs from the find run).

Paths (public, beside the regular layout of :mod:`findeval.plan`; ``{v}`` is ``late/k{k}``, ``warmup/w{N}``
or ``lr_rewind``)::

    results/{exp}/late/k{k}/{H_find}/seed{s}/theta_k.pt                  theta_k of the dense run with H_find
    results/{exp}/{v}/{H_find}/seed{s}/level{L}/{mask.h5,ticket.pt,trained.pt,metrics.json}   the chain
    results/{exp}/{v}/eval/{H_find}/{H_eval}/seed{s}/level{L}/metrics.json                   its evaluations
    results/{exp}/rewinding/fig4.csv                                     the numbers Figure 4 draws

(warmup chains also have level0/{trained.pt,metrics.json}: their own dense run.)

The first half of this module is pure Python on the config (imported by the Snakefile at parse time: no
numpy, torch or file access); the job steps below import what they need lazily.
"""

from __future__ import annotations

import logging
import os
import time

from . import plan
from .hparams import H, format_number, run_seeds
from .workflow import ConfigError

log = logging.getLogger("findeval")

FIGURES = ("fig4",)
VARIANTS = ("late", "warmup", "lr_rewind")
VARIANT_TITLES = {
    "late": "late rewinding to epoch {k}",
    "warmup": "LR warmup over {w} iterations in H_find",
    "lr_rewind": "learning-rate rewinding",
}


# =========================================================================== planning (parse time)


def settings(config: dict) -> dict:
    """The ``rewinding`` block with its defaults resolved (and checked against the training block)."""
    block = config.get("rewinding") or {}
    epochs = int(config["training"]["epochs"])
    k = int(block.get("late_epoch", 1))
    if epochs < 2:  # no epoch to rewind to: fig4, figA13 and figA14 are not planned (figure_files)
        k = None
    elif not 1 <= k < epochs:
        raise ConfigError(f"rewinding.late_epoch: {k} is not in 1..training.epochs - 1 = {epochs - 1}")
    n = block.get("levels")
    n = plan.levels(config) if n is None else int(n)
    if not 1 <= n <= plan.levels(config):
        raise ConfigError(f"rewinding.levels: {n} is not in 1..pruning.levels = {plan.levels(config)}")
    base = plan.default_h(config)
    # Fig. 4 (L82): two LR_find x two LR_eval per panel; the paper does not state the values. Unset: a smaller
    # and a larger value of each grid, the smaller being defaults.lr (the paper's default H) when it is below
    # the grid's largest (see two_values)
    lr_find = block.get("lr_find") or two_values(plan.grid_values(config, "lr", "find"), base.lr)
    lr_eval = block.get("lr_eval") or two_values(plan.grid_values(config, "lr", "eval"), base.lr)
    lr_rewind_eval = block.get("lr_rewind_eval") or lr_eval
    return {"late_epoch": k, "warmup_iters": int(block.get("warmup_iters", 25)),
            "warmup_in_eval": bool(block.get("warmup_in_eval", False)), "levels": n,
            "lr_find": sorted(set(lr_find)), "lr_eval": sorted(set(lr_eval)),
            "lr_rewind_eval": sorted(set(lr_rewind_eval))}


def two_values(grid, centre: float) -> list[float]:
    """A smaller and a larger value of ``grid``: its largest, and ``centre`` if it is in the grid below the
    largest, else the next largest (a one-value grid gives that one value)."""
    values = sorted(set(grid))
    if len(values) < 2:
        return values
    small = centre if centre in values and centre < values[-1] else values[-2]
    return [small, values[-1]]


def variant_dir(config: dict, variant: str) -> str:
    """``late/k{k}``, ``warmup/w{N}`` or ``lr_rewind``: the variant with the setting that defines it."""
    s = settings(config)
    if variant == "late":
        return f"late/k{s['late_epoch']}"
    if variant == "warmup":
        return f"warmup/w{s['warmup_iters']}"
    if variant == "lr_rewind":
        return "lr_rewind"
    raise ValueError(f"unknown rewinding variant {variant!r}; choose from {VARIANTS}")


def parse_variant(vdir: str) -> dict:
    """``late/k1`` -> {variant: late, late_epoch: 1}; ``warmup/w25`` -> {variant: warmup, warmup_iters: 25}."""
    name, _, arg = vdir.partition("/")
    if name == "late" and arg.startswith("k") and arg[1:].isdigit():
        return {"variant": "late", "late_epoch": int(arg[1:]), "warmup_iters": None}
    if name == "warmup" and arg.startswith("w") and arg[1:].isdigit():
        return {"variant": "warmup", "late_epoch": 0, "warmup_iters": int(arg[1:])}
    if name == "lr_rewind" and not arg:
        return {"variant": "lr_rewind", "late_epoch": 0, "warmup_iters": None}
    raise ValueError(f"not a rewinding variant folder: {vdir!r} (late/k<epoch>, warmup/w<iterations>, lr_rewind)")


def chain_dir(exp_dir: str, vdir: str, hfind: str, seed, level=None) -> str:
    d = f"{exp_dir}/{vdir}/{hfind}/seed{seed}"
    return d if level is None else f"{d}/level{level}"


def eval_dir(exp_dir: str, vdir: str, hfind: str, heval: str, seed) -> str:
    return f"{exp_dir}/{vdir}/eval/{hfind}/{heval}/seed{seed}"


def theta_k_path(exp_dir: str, k: int, hfind: str, seed) -> str:
    return f"{exp_dir}/late/k{k}/{hfind}/seed{seed}/theta_k.pt"


def eval_is_find(config: dict, variant: str) -> bool:
    """Is evaluating with H_eval == H_find the chain's own training?"""
    return variant != "warmup" or settings(config)["warmup_in_eval"]


def metrics_path(config: dict, variant: str, hfind: H, heval: H, seed: int, level: int) -> str:
    """The metrics.json of a variant's mask of ``level`` (found with ``hfind``) trained with ``heval``.
    Level 0 is the chain's dense run with H_find (the regular one, but for warmup: its own)."""
    exp, vdir = plan.exp_dir(config), variant_dir(config, variant)
    if level == 0:
        if variant == "warmup":
            return f"{chain_dir(exp, vdir, hfind.slug, seed, 0)}/metrics.json"
        return f"{plan.find_dir(config, hfind, seed, 0)}/metrics.json"
    if heval == hfind and eval_is_find(config, variant):
        return f"{chain_dir(exp, vdir, hfind.slug, seed, level)}/metrics.json"
    return f"{eval_dir(exp, vdir, hfind.slug, heval.slug, seed)}/level{level}/metrics.json"


def per_level(directory: str, first: int, last: int, **files) -> dict:
    """Named files ``{name}_{L}`` = ``{directory}/level{L}/{file}`` for L = first..last (wildcards kept)."""
    return {f"{name}_{lv}": f"{directory}/level{lv}/{file}" for name, file in files.items()
            for lv in range(first, last + 1)}


# --------------------------------------------------------------------------- figure contents


def _files(config: dict, path_of, levels) -> list[dict]:
    return [{"seed": int(s), "level": int(lv), "path": path_of(s, lv)} for s in config["seeds"] for lv in levels]


def variant_line(config: dict, variant: str, hfind: H, heval: H, label: str) -> dict:
    n = settings(config)["levels"]
    return {"label": label, "style": None,
            "files": _files(config, lambda s, lv: metrics_path(config, variant, hfind, heval, s, lv),
                            range(0, n + 1))}


def figure_panels(config: dict, fig: str = "fig4") -> list[dict]:
    """Fig. 4: one accuracy panel per variant, a line per (LR_find, LR_eval) (``findeval.lpr_plots`` panels)."""
    if fig != "fig4":
        raise ValueError(f"unknown rewinding figure {fig!r}; choose from {FIGURES}")
    s = settings(config)
    base = plan.default_h(config)
    panels = []
    for variant in VARIANTS:
        lr_evals = s["lr_rewind_eval"] if variant == "lr_rewind" else s["lr_eval"]
        title = VARIANT_TITLES[variant].format(k=s["late_epoch"], w=s["warmup_iters"])
        if variant == "late":
            title += " (theta_k of H_find's dense run)"
        elif variant == "warmup" and not s["warmup_in_eval"]:
            title += "; H_eval without warmup"
        lines = []
        for lr_e in lr_evals:
            for lr_f in s["lr_find"]:
                hf, he = base.replace(lr=lr_f), base.replace(lr=lr_e)
                label = f"LR_find = {format_number(lr_f)}, LR_eval = {format_number(lr_e)}"
                lines.append(variant_line(config, variant, hf, he, label))
        panels.append({"type": "accuracy", "title": title, "lines": lines})
    return panels


def figure_note(config: dict) -> str:
    """Fig. 4's readings of the paper, printed under the figure."""
    s = settings(config)
    eval_warm = ("the evaluations (H_eval) warm up too (rewinding.warmup_in_eval)" if s["warmup_in_eval"] else
                 "the evaluations (H_eval) run without warmup (L96 warms up LR_find only)")
    return (f"(a) theta_{s['late_epoch']} is taken from H_find's dense run (also for H_eval != H_find); "
            f"(b) warmup in H_find only: {eval_warm}. Two LR_find x two LR_eval per panel (L82); "
            f"the paper does not state the values.")


def figure_params(config: dict, fig: str = "fig4") -> dict:
    return {"figure": fig, "panels": figure_panels(config, fig), "levels": settings(config)["levels"],
            "fraction": config["pruning"]["fraction"], "experiment": config["experiment"],
            "dataset": config["dataset"]["name"], "model": config["model"]["name"], "note": figure_note(config)}


def figure_inputs(config: dict, fig: str = "fig4") -> list[str]:
    return sorted({f["path"] for panel in figure_panels(config, fig) for line in panel["lines"]
                   for f in line["files"]})


def data_path(config: dict, fig: str = "fig4") -> str:
    return f"{plan.exp_dir(config)}/rewinding/{fig}.csv"


def figure_files(config: dict) -> list[str]:
    """fig4's files; none for a schedule of one epoch (nothing to rewind to)."""
    if settings(config)["late_epoch"] is None:
        return []
    return plan.figure_files(config, FIGURES)


# --------------------------------------------------------------------------- input functions of the rules


def chain_input(w, variant: str) -> dict:
    """Inputs of a variant's find chain (wildcards exp, hfind, seed, and k for late)."""
    base = f"results/{w.exp}"
    inputs = {"data": f"{base}/dataset.npz"}
    if variant == "warmup":
        inputs["init"] = f"{base}/seed{w.seed}/init.pt"
    else:
        inputs["dense"] = f"{base}/find/{w.hfind}/seed{w.seed}/level0/trained.pt"
    if variant == "late":
        inputs["theta"] = theta_k_path(base, int(w.late_k), w.hfind, w.seed)
    return inputs


def eval_sweep_input(w, levels: int) -> dict:
    """An evaluation sweep trains the chain's tickets (its per-level starts) under the chain's masks."""
    d = chain_dir(f"results/{w.exp}", w.variant, w.hfind, w.seed)
    return {**per_level(d, 1, levels, start="ticket.pt", mask="mask.h5"), "data": f"results/{w.exp}/dataset.npz"}


# =========================================================================== jobs (job time)


def train_variant(out_metrics: str, *, start: str, mask: str | None, data: str, variant: str, h_find: H,
                  h_eval: H, level: int, seed: int, training: dict, augment: dict | None, role: str,
                  first_epoch: int = 0, warmup_iters: int | None = None, kind: str = "lottery",
                  data_seed: int | None = None, out_trained: str | None = None, device: str = "cpu",
                  threads: int = 1, precision: str = "fp32", channels_last: bool = False,
                  extra: dict | None = None) -> dict:
    """Train ``start`` under ``mask`` with ``h_eval`` for epochs ``first_epoch``+1..E and write a metrics.json
    with the keys of :func:`findeval.jobs.train_run` (plus ``variant``, ``first_epoch``, ``warmup_iters``).

    ``warmup_iters`` (not None) replaces the training block's; ``data_seed`` (not None) replaces the replicate's
    data-order seed (instability copies). A start with NaN weights (a diverged earlier level of an LR
    rewinding chain) gives a diverged run, recorded as such."""
    from . import jobs, training as tr
    from .io import save_checkpoint, write_json

    jobs.set_threads(threads)
    device = jobs.resolve_device(device)
    if warmup_iters is not None:
        training = {**training, "warmup_iters": int(warmup_iters)}
    run = jobs.load_run(start, mask, data, level, device, require_finite=False)
    model, meta = run.model, run.meta
    seeds = run_seeds(seed, kind, level)
    if data_seed is not None:
        seeds["data"] = int(data_seed)
    schedule, aug = tr.Schedule.from_config(training), tr.Augment.from_config(augment)
    resume = None
    every = jobs.resume_every()
    if every and first_epoch == 0:  # a resume file counts epochs from 0 (train()'s resume check)
        fingerprint = jobs.resume_fingerprint(
            start=start, mask=mask, data=data, kind=kind, role=role, level=level, seeds=seeds, variant=variant,
            h_find=h_find.as_dict(), h_eval=h_eval.as_dict(), schedule=schedule.__dict__, augment=aug.__dict__,
            device=device, precision=precision, channels_last=channels_last)
        resume = tr.Resume(jobs.resume_path(out_metrics), fingerprint, every)
    t0 = time.perf_counter()
    result = tr.train(model, run.dataset, h_eval, schedule, data_seed=seeds["data"], mask=run.mask, augment=aug,
                      device=device, log=log.info, resume=resume, precision=precision, channels_last=channels_last,
                      first_epoch=int(first_epoch))
    metrics = {"kind": kind, "role": role, "variant": variant, "level": level, "seed": seed, "seeds": seeds,
               "H_find": h_find.as_dict(), "H_eval": h_eval.as_dict(), "epochs": training["epochs"],
               "first_epoch": int(first_epoch), "warmup_iters": int(training.get("warmup_iters", 0)),
               **(extra or {}), **run.outcome(result, t0)}
    if out_trained:
        save_checkpoint(out_trained, model.state_dict(), {**meta, "role": "trained", "level": level, "variant": variant,
                                                          "H": h_eval.as_dict(), "diverged": result["diverged"]})
    write_json(out_metrics, metrics)
    if resume is not None:
        resume.remove()
    return metrics


def late_theta(out: str, *, init: str, data: str, h_find: H, seed: int, late_epoch: int, training: dict,
               augment: dict | None, device: str = "cpu", threads: int = 1, precision: str = "fp32",
               channels_last: bool = False) -> None:
    """theta_k: theta_0 trained densely with H_find for k epochs (the data order of the replicate): the first k
    epochs of the regular dense run, bit for bit."""
    from . import jobs, models, training as tr
    from .io import load_checkpoint, save_checkpoint

    jobs.set_threads(threads)
    device = jobs.resolve_device(device)
    state, meta = load_checkpoint(init)
    model = models.build(meta["model_spec"])
    models.load_state(model, state, f"checkpoint {init}")
    dataset = jobs.load_data(data, device)
    jobs.check_data_fits(dataset, meta["model_spec"], data, init)
    seeds = run_seeds(seed)
    result = tr.train(model, dataset, h_find, tr.Schedule.from_config(training), data_seed=seeds["data"],
                      augment=tr.Augment.from_config(augment), device=device, log=log.info, precision=precision,
                      channels_last=channels_last, stop_epoch=int(late_epoch))
    save_checkpoint(out, model.state_dict(), {**meta, "role": "late_rewind_point", "epoch": int(late_epoch),
                                              "H": h_find.as_dict(), "seeds": seeds, "diverged": result["diverged"],
                                              "history": result["history"]})


def rewind_any(out_ticket: str, *, start: str, mask: str) -> None:
    """theta * M for any start, NaN weights included (an LR rewinding chain after a diverged level)."""
    from . import masks
    from .io import load_checkpoint, save_checkpoint

    state, meta = load_checkpoint(start, require_finite=False)
    m, attrs = masks.load_mask(mask)
    masks.check_compatible(m, state, f"mask {mask}")
    save_checkpoint(out_ticket, masks.apply_mask(state, m), {**meta, "role": "ticket", "level": attrs["level"],
                                                              "rewound_from": os.path.basename(start)})


def variant_chain(*, variant: str, trained: dict, metrics: dict, masks_out: dict, tickets: dict, data: str,
                  h_find: H, seed: int, fraction: float, training: dict, augment: dict | None,
                  init: str | None = None, dense: str | None = None, theta: str | None = None,
                  late_epoch: int = 0, warmup_iters: int | None = None, device: str = "cpu", threads: int = 1,
                  **speed) -> None:
    """One find chain of a variant, every level: prune (A1 line 5, global magnitude) -> rewind (to theta_k,
    theta_0 or the trained weights) -> train with H_find. ``metrics``/``trained`` hold levels 1..N (and 0 for
    warmup, whose dense run is its own); ``dense`` is the regular dense run (late, lr_rewind)."""
    from . import jobs

    if variant not in VARIANTS:
        raise ValueError(f"unknown rewinding variant {variant!r}; choose from {VARIANTS}")
    levels = sorted(masks_out)
    if levels != list(range(1, len(levels) + 1)) or sorted(tickets) != levels or \
            sorted(set(metrics) - {0}) != levels or sorted(set(trained) - {0}) != levels:
        raise ValueError(f"a rewinding chain needs every level from 1: got masks {levels}, metrics {sorted(metrics)}")
    first = int(late_epoch) if variant == "late" else 0
    if variant == "late" and (not theta or first < 1):
        raise ValueError("late rewinding needs theta_k and late_epoch >= 1")
    common = dict(data=data, variant=variant, h_find=h_find, h_eval=h_find, seed=seed, training=training,
                  augment=augment, warmup_iters=warmup_iters if variant == "warmup" else None, device=device,
                  threads=threads, **speed)
    if variant == "warmup":
        train_variant(metrics[0], out_trained=trained[0], start=init, mask=None, level=0, role="train_find",
                      **common)
        dense = trained[0]
    for level in levels:
        prev = dense if level == 1 else trained[level - 1]
        jobs.prune(masks_out[level], trained=prev, parent_mask=masks_out.get(level - 1), fraction=fraction,
                   level=level, seed=seed, h_find=h_find)
        target = {"late": theta, "warmup": init, "lr_rewind": prev}[variant]
        rewind_any(tickets[level], start=target, mask=masks_out[level])
        train_variant(metrics[level], out_trained=trained[level], start=tickets[level], mask=masks_out[level],
                      level=level, role="train_find", first_epoch=first, **common)


def variant_eval_sweep(*, vdir: str, metrics: dict, starts: dict, masks_in: dict, data: str, h_find: H, h_eval: H,
                       seed: int, training: dict, augment: dict | None, warmup_in_eval: bool = False,
                       device: str = "cpu", threads: int = 1, group: int = 0, **speed) -> None:
    """Every level of one variant chain's masks trained with ``h_eval`` from the chain's tickets.
    ``group`` > 0 (runtime.group): grouped networks of at most ``group`` levels (:func:`grouped_variant_sweep`)."""
    v = parse_variant(vdir)
    if group:
        grouped_variant_sweep(group, metrics=metrics, starts=starts, masks_in=masks_in, data=data,
                              variant=v["variant"], kind="lottery", h_find=h_find, h_eval=h_eval, seed=seed,
                              training=training, augment=augment, first_epoch=v["late_epoch"],
                              warmup_iters=v["warmup_iters"] if warmup_in_eval else None, device=device,
                              threads=threads, **speed)
        return
    for level, out in metrics.items():
        train_variant(out, start=starts[level], mask=masks_in[level], data=data, variant=v["variant"],
                      h_find=h_find, h_eval=h_eval, level=level, seed=seed, training=training, augment=augment,
                      role="train_eval", first_epoch=v["late_epoch"],
                      warmup_iters=v["warmup_iters"] if warmup_in_eval else None, device=device, threads=threads,
                      **speed)


def grouped_variant_sweep(group: int, *, metrics: dict, starts: dict, masks_in: dict, data: str, variant: str,
                          kind: str, h_find: H, h_eval: H, seed: int, training: dict, augment: dict | None,
                          first_epoch: int = 0, warmup_iters: int | None = None, device: str = "cpu",
                          threads: int = 1, **speed) -> list[dict]:
    """:func:`train_variant` for every level of a sweep (one H_eval, one start epoch), the levels trained as
    grouped networks of at most ``group`` levels (``jobs.grouped_sweep``): the same metrics keys (plus
    ``group_size``), start weights with NaN accepted (recorded as diverged), no resume file for late starts."""
    from . import jobs

    if warmup_iters is not None:
        training = {**training, "warmup_iters": int(warmup_iters)}

    def head(level, seeds):
        return {"kind": kind, "role": "train_eval", "variant": variant, "level": level, "seed": seed,
                "seeds": seeds, "H_find": h_find.as_dict(), "H_eval": h_eval.as_dict(), "epochs": training["epochs"],
                "first_epoch": int(first_epoch), "warmup_iters": int(training.get("warmup_iters", 0))}

    return jobs.grouped_sweep(group, metrics=metrics, starts=starts, masks_in=masks_in, data=data, kind=kind,
                              h_find=h_find, h_eval=h_eval, seed=seed, training=training, augment=augment,
                              device=device, threads=threads, role="train_eval", first_epoch=int(first_epoch),
                              require_finite=False, head=head, check_batch=False,
                              fingerprint_extra={"variant": variant}, **speed)
