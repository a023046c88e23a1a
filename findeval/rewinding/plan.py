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

Paths (public, beside the regular layout of :mod:`findeval.a1.plan`; ``{v}`` is ``late/k{k}``, ``warmup/w{N}``
or ``lr_rewind``)::

    results/{exp}/late/k{k}/{H_find}/seed{s}/theta_k.pt                  theta_k of the dense run with H_find
    results/{exp}/{v}/{H_find}/seed{s}/level{L}/{mask.h5,ticket.pt,trained.pt,metrics.json}   the chain
    results/{exp}/{v}/eval/{H_find}/{H_eval}/seed{s}/level{L}/metrics.json                   its evaluations
    results/{exp}/rewinding/fig4.csv                                     the numbers Figure 4 draws

(warmup chains also have level0/{trained.pt,metrics.json}: their own dense run.)

This module is pure Python on the config (imported by the Snakefile at parse time: no numpy, torch or file
access); the job steps are :mod:`findeval.rewinding.jobs`, the figures :mod:`findeval.rewinding.plots`.
"""

from __future__ import annotations

import logging
import re

from .. import paths
from ..a1 import plan as a1
from ..errors import ConfigError
from ..hparams import H, format_number

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
    n = a1.levels(config) if n is None else int(n)
    if not 1 <= n <= a1.levels(config):
        raise ConfigError(f"rewinding.levels: {n} is not in 1..pruning.levels = {a1.levels(config)}")
    base = a1.default_h(config)
    # Fig. 4 (L82): two LR_find x two LR_eval per panel; the paper does not state the values. Unset: a smaller
    # and a larger value of each grid, the smaller being defaults.lr (the paper's default H) when it is below
    # the grid's largest (see two_values)
    lr_find = block.get("lr_find") or two_values(a1.grid_values(config, "lr", "find"), base.lr)
    lr_eval = block.get("lr_eval") or two_values(a1.grid_values(config, "lr", "eval"), base.lr)
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


#: The grammar of a ``{variant}`` wildcard, a variant with the setting that defines it: ``late/k<epoch>``,
#: ``warmup/w<iterations>`` or ``lr_rewind``. :func:`parse_variant` accepts exactly these strings,
#: :func:`variant_name` spells them.
VARIANT = rf"late/k{paths.INDEX}|warmup/w{paths.INDEX}|lr_rewind"
_VARIANT = re.compile(VARIANT)


def variant_name(variant: str, setting=None) -> str:
    """The ``{variant}`` of ``variant`` with its setting (late: the epoch k; warmup: the iterations; a wildcard
    such as ``"{late_k}"`` gives a rule's pattern)."""
    if variant == "late":
        return f"late/k{setting}"
    if variant == "warmup":
        return f"warmup/w{setting}"
    if variant == "lr_rewind":
        return "lr_rewind"
    raise ValueError(f"unknown rewinding variant {variant!r}; choose from {VARIANTS}")


def variant_dir(config: dict, variant: str) -> str:
    """``late/k{k}``, ``warmup/w{N}`` or ``lr_rewind``: the variant with the config's setting that defines it."""
    s = settings(config)
    return variant_name(variant, {"late": s["late_epoch"], "warmup": s["warmup_iters"]}.get(variant))


def parse_variant(vdir: str) -> dict:
    """``late/k1`` -> {variant: late, late_epoch: 1}; ``warmup/w25`` -> {variant: warmup, warmup_iters: 25}."""
    if not _VARIANT.fullmatch(vdir):
        raise ValueError(f"not a rewinding variant folder: {vdir!r} (late/k<epoch>, warmup/w<iterations>, "
                         "lr_rewind)")
    name, _, arg = vdir.partition("/")
    if name == "late":
        return {"variant": "late", "late_epoch": int(arg[1:]), "warmup_iters": None}
    if name == "warmup":
        return {"variant": "warmup", "late_epoch": 0, "warmup_iters": int(arg[1:])}
    return {"variant": "lr_rewind", "late_epoch": 0, "warmup_iters": None}


def eval_is_find(config: dict, variant: str) -> bool:
    """Is evaluating with H_eval == H_find the chain's own training?"""
    return variant != "warmup" or settings(config)["warmup_in_eval"]


def metrics_path(config: dict, variant: str, hfind: H, heval: H, seed: int, level: int) -> str:
    """The metrics.json of a variant's mask of ``level`` (found with ``hfind``) trained with ``heval``.
    Level 0 is the chain's dense run with H_find (the regular one, but for warmup: its own)."""
    exp, vdir = config["experiment"], variant_dir(config, variant)
    if level == 0 and variant != "warmup":
        return paths.find_file(exp, hfind.slug, seed, 0, "metrics")
    if level == 0 or (heval == hfind and eval_is_find(config, variant)):
        return paths.level_file(paths.variant_chain(exp, vdir, hfind.slug, seed), level, "metrics")
    return paths.level_file(paths.variant_eval(exp, vdir, hfind.slug, heval.slug, seed), level, "metrics")


# --------------------------------------------------------------------------- figure contents


def _files(config: dict, path_of, levels) -> list[dict]:
    return [{"seed": int(s), "level": int(lv), "path": path_of(s, lv)} for s in config["seeds"] for lv in levels]


def variant_line(config: dict, variant: str, hfind: H, heval: H, label: str) -> dict:
    n = settings(config)["levels"]
    return {"label": label, "style": None,
            "files": _files(config, lambda s, lv: metrics_path(config, variant, hfind, heval, s, lv),
                            range(0, n + 1))}


def figure_panels(config: dict, fig: str = "fig4") -> list[dict]:
    """Fig. 4: one accuracy panel per variant, a line per (LR_find, LR_eval) (``findeval.lpr.plots`` panels)."""
    if fig != "fig4":
        raise ValueError(f"unknown rewinding figure {fig!r}; choose from {FIGURES}")
    s = settings(config)
    base = a1.default_h(config)
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
    """Everything figure ``fig`` draws, as plain values (Snakemake params): its panels and their lines' files,
    levels, the pruning fraction and the figure note."""
    return {"figure": fig, "panels": figure_panels(config, fig), "levels": settings(config)["levels"],
            "fraction": config["pruning"]["fraction"], "experiment": config["experiment"],
            "dataset": config["dataset"]["name"], "model": config["model"]["name"], "note": figure_note(config)}


def figure_inputs(config: dict, fig: str = "fig4") -> list[str]:
    """The files figure ``fig`` reads (the registry's contract, :class:`findeval.figures.Family`): every file its
    panels' lines list."""
    return sorted({f["path"] for panel in figure_panels(config, fig) for line in panel["lines"]
                   for f in line["files"]})


def data_path(config: dict, fig: str = "fig4") -> str:
    """The table figure ``fig`` draws, written by its figure job (``results/<exp>/rewinding/<fig>.csv``)."""
    return paths.table(config["experiment"], "rewinding", fig)


# --------------------------------------------------------------------------- input functions of the rules


def chain_input(w, variant: str) -> dict:
    """Inputs of a variant's find chain (wildcards exp, hfind, seed, and k for late)."""
    inputs = {"data": paths.data(w.exp)}
    if variant == "warmup":
        inputs["init"] = paths.init(w.exp, w.seed)
    else:
        inputs["dense"] = paths.find_file(w.exp, w.hfind, w.seed, 0, "trained")
    if variant == "late":
        inputs["theta"] = paths.theta_k(w.exp, variant_name("late", int(w.late_k)), w.hfind, w.seed)
    return inputs


def find_groups(config: dict, max_group: int) -> list[dict]:
    """The variant chains of one replicate that run in one job, in lock-step, when ``runtime.find_group`` =
    ``max_group`` >= 2 (:func:`findeval.rewinding.jobs.variant_chains`; rules ``rewinding_group_<i>``): per variant,
    Fig. 4's LR_find chains (``settings()["lr_find"]``) sharing a batch size, in chunks of at most ``max_group``.
    Each ``{"variant", "vdir", "hs"}``. Only Fig. 4's chains: a late chain that only the instability analysis
    reads (its small LR) keeps its own late_chain job, so that fig4 trains no chain it does not draw."""
    s = settings(config)
    base = a1.default_h(config)
    hs = [base.replace(lr=v) for v in s["lr_find"]]
    groups = a1.find_groups(config, max_group, hs)
    return [{"variant": variant, "vdir": variant_dir(config, variant), "hs": group} for variant in VARIANTS
            if not (variant == "late" and s["late_epoch"] is None) for group in groups]


def group_input(w, variant: str, hs: list[H], late_epoch) -> dict:
    """The inputs of one variant group (:func:`find_groups`): the data and, per chain j, ``c{j}_<name>`` of its
    late_chain / warmup_chain / lr_rewind_chain job's inputs (:func:`chain_input`)."""
    out = {"data": paths.data(w.exp)}
    for j, h in enumerate(hs):
        one = chain_input(_Chain(w.exp, h.slug, w.seed, late_epoch), variant)
        out.update({f"c{j}_{k}": v for k, v in one.items() if k != "data"})
    return out


class _Chain:
    """The wildcards :func:`chain_input` reads, for one chain of a group."""

    def __init__(self, exp: str, hfind: str, seed, late_k):
        self.exp, self.hfind, self.seed, self.late_k = exp, hfind, seed, late_k


def group_outputs(exp: str, group: dict, levels: int) -> dict:
    """The named outputs of one variant group: chain j's files are ``c{j}_<name>_<level>``, those of its own chain
    job (levels 1..N; warmup also trains level 0)."""
    out = {}
    for j, h in enumerate(group["hs"]):
        d = paths.variant_chain(exp, group["vdir"], h.slug, "{seed}")
        first = 0 if group["variant"] == "warmup" else 1
        files = {**paths.per_level(d, first, levels, "trained", "metrics"), **paths.per_level(d, 1, levels, "mask",
                                                                                                "ticket")}
        out.update({f"c{j}_{name}": path for name, path in files.items()})
    return out


def eval_sweep_input(w, levels: int) -> dict:
    """An evaluation sweep trains the chain's tickets (its per-level starts) under the chain's masks."""
    d = paths.variant_chain(w.exp, w.variant, w.hfind, w.seed)
    return {**paths.per_level(d, 1, levels, start="ticket", mask="mask"), "data": paths.data(w.exp)}
