"""Instability analysis (Frankle et al. 2019b) of lottery tickets: the paper's Figures A13 and A14.

**Figure A13** (linear mode connectivity): a subnetwork, the ticket theta_k * M_L of a chain with
LR_find = LR_eval = LR (a regular lottery ticket run), is trained twice from the same start with different
SGD noise, i.e. different data orders and augmentation draws. Copy A is the chain's own training at level L
(the replicate's data seed); copy B is trained by the instability job from the same ticket with the data
seed ``derive_seed(seed, "data", "instability", "copy_b")`` (both recorded). For every alpha of
``linspace(0, 1, alphas)`` the job forms ``(1 - alpha) * theta_A + alpha * theta_B`` (every parameter; pruned
weights are zero in both, so the mask holds), recomputes the batch-norm statistics on the training images
(no augmentation; the cumulative mean over fixed batches of 256, in the order of the prepared data), and
measures the test error. Lines (the paper's): small LR rewound to epoch k (stable in the paper), small LR
without late rewinding (k = 0: the regular chain, rewound to theta_0), and the large LR rewound to epoch k.
One panel per level (paper: 48.8% and 73.8% pruned = levels 3 and 6 at p = 0.2).

**Figure A14**: late-rewinding tickets (small LR, coupled) against random baselines trained from the
replicate's new random init (``reinit.pt``, the full schedule from epoch 0): global random (the regular
baseline of :mod:`findeval.a1.plan`), preserve LPR (each late-rewinding mask shuffled within every layer) and
preserve mask (the late-rewinding mask itself with new random weights).

Paths::

    results/{exp}/instability/k{k}/{H}/seed{s}/level{L}/interpolation.json
    results/{exp}/late/k{k}/random/preserve_lpr/{H_find}/seed{s}/level{L}/mask.h5
    results/{exp}/late/k{k}/random_eval/{preserve_lpr|preserve_mask}/{H_find}/{H_eval}/seed{s}/level{L}/metrics.json
    results/{exp}/instability/{figA13,figA14}.csv          the numbers each figure draws

This module is pure Python on the config (parse time); the job steps are :mod:`findeval.rewinding.instability_jobs`.
"""

from __future__ import annotations

import logging

from .. import paths
from ..a1 import plan as a1
from ..errors import ConfigError
from ..hparams import format_number
from . import plan as rewinding

log = logging.getLogger("findeval")

FIGURES = ("figA13", "figA14")
RANDOM_KINDS = ("preserve_lpr", "preserve_mask")
#: The grammar of an ``{rkind}`` wildcard (rules/rewinding.smk): one of :data:`RANDOM_KINDS`.
RKIND = "|".join(RANDOM_KINDS)
#: Batch size of the batch-norm recomputation (fixed: the statistics must not depend on H).
BN_BATCH = 256


# =========================================================================== planning (parse time)


def settings(config: dict) -> dict:
    block = config.get("instability") or {}
    base = a1.default_h(config)
    lrs = block.get("lr") or [min(a1.grid_values(config, "lr", "find")), base.lr]
    if len(lrs) != 2:
        raise ConfigError(f"instability.lr: expected [small, large], got {lrs}")
    rw = rewinding.settings(config)
    n = rw["levels"]
    levels = block.get("levels")
    if levels is None:
        levels = sorted({min(3, n), min(6, n)})
    for lv in levels:
        if not 1 <= int(lv) <= n:
            raise ConfigError(f"instability.levels: level {lv} is not in 1..rewinding levels = {n}")
    alphas = int(block.get("alphas", 11))
    if alphas < 2:
        raise ConfigError(f"instability.alphas: at least 2 (the endpoints), got {alphas}")
    return {"lr_small": float(lrs[0]), "lr_large": float(lrs[1]), "levels": sorted({int(x) for x in levels}),
            "alphas": alphas, "late_epoch": rw["late_epoch"], "rewind_levels": n}


def alpha_values(n: int) -> list[float]:
    return [i / (n - 1) for i in range(n)]


def a13_lines(config: dict) -> list[dict]:
    """(H, k, label) of every Figure A13 line, in the paper's order."""
    s = settings(config)
    base = a1.default_h(config)
    small, large, k = base.replace(lr=s["lr_small"]), base.replace(lr=s["lr_large"]), s["late_epoch"]
    return [
        {"h": small, "k": k, "label": f"LR = {format_number(s['lr_small'])}, from epoch {k}"},
        {"h": small, "k": 0, "label": f"LR = {format_number(s['lr_small'])}, from init (no late rewinding)"},
        {"h": large, "k": k, "label": f"LR = {format_number(s['lr_large'])}, from epoch {k}"},
    ]


def source_chain(exp: str, k: int, hslug: str, seed) -> str:
    """The chain whose ticket, mask and trained weights (copy A) an instability job uses: the regular find chain
    for k = 0, the late-rewinding chain to epoch k otherwise."""
    if int(k) == 0:
        return paths.find_chain(exp, hslug, seed)
    return paths.variant_chain(exp, rewinding.variant_name("late", k), hslug, seed)


def random_eval_path(exp: str, k: int, rkind: str, hfind: str, heval: str, seed, level) -> str:
    sweep = paths.variant_random_eval(exp, rewinding.variant_name("late", k), rkind, hfind, heval, seed)
    return paths.level_file(sweep, level, "metrics")


def _files(config: dict, path_of, levels) -> list[dict]:
    return [{"seed": int(s), "level": int(lv), "path": path_of(s, lv)} for s in config["seeds"] for lv in levels]


def figure_panels(config: dict, fig: str) -> list[dict]:
    s = settings(config)
    exp = config["experiment"]
    frac = float(config["pruning"]["fraction"])
    if fig == "figA13":
        panels = []
        for lv in s["levels"]:
            pct = format_number(round(100 * (1 - (1 - frac) ** lv), 1))
            panels.append({"type": "interpolation", "title": f"level {lv} ({pct}% pruned)", "lines": [
                {"label": ln["label"], "style": None,
                 "files": _files(config, lambda sd, L, ln=ln: paths.interpolation(exp, ln["k"], ln["h"].slug, sd, L),
                                 [lv])} for ln in a13_lines(config)]})
        return panels
    if fig == "figA14":
        h = a1.default_h(config).replace(lr=s["lr_small"])
        k, n = s["late_epoch"], s["rewind_levels"]
        lv1 = range(1, n + 1)
        gr = a1.Line("global_random", None, h)
        lines = [
            rewinding.variant_line(config, "late", h, h, f"lottery ticket, late rewinding to epoch {k}"),
            {"label": "global random", "style": None,
             "files": _files(config, lambda sd, L: a1.metrics_path(config, gr, sd, L), lv1)},
            *[{"label": name, "style": None,
               "files": _files(config, lambda sd, L, r=r: random_eval_path(exp, k, r, h.slug, h.slug, sd, L), lv1)}
              for r, name in (("preserve_lpr", "preserve LPR"), ("preserve_mask", "preserve mask"))],
        ]
        return [{"type": "accuracy", "title": f"LR_find = LR_eval = {format_number(s['lr_small'])}, "
                                              f"late rewinding to epoch {k}", "lines": lines}]
    raise ValueError(f"unknown instability figure {fig!r}; choose from {FIGURES}")


def figure_params(config: dict, fig: str) -> dict:
    """Everything figure ``fig`` draws, as plain values (Snakemake params): its panels and their lines' files, the
    rewinding levels and the pruning fraction."""
    return {"figure": fig, "panels": figure_panels(config, fig), "levels": settings(config)["rewind_levels"],
            "fraction": config["pruning"]["fraction"], "experiment": config["experiment"],
            "dataset": config["dataset"]["name"], "model": config["model"]["name"]}


def figure_inputs(config: dict, fig: str) -> list[str]:
    """The files figure ``fig`` reads (the registry's contract, :class:`findeval.figures.Family`): every file its
    panels' lines list."""
    return sorted({f["path"] for panel in figure_panels(config, fig) for line in panel["lines"]
                   for f in line["files"]})


def data_path(config: dict, fig: str) -> str:
    """The table figure ``fig`` draws, written by its figure job (``results/<exp>/instability/<fig>.csv``)."""
    return paths.table(config["experiment"], "instability", fig)


# --------------------------------------------------------------------------- input functions of the rules


def instability_input(w) -> dict:
    d = source_chain(w.exp, int(w.late_k), w.hfind, w.seed)
    return {"ticket": paths.level_file(d, w.level, "ticket"), "mask": paths.level_file(d, w.level, "mask"),
            "copy_a": paths.level_file(d, w.level, "trained"),
            "copy_a_metrics": paths.level_file(d, w.level, "metrics"), "data": paths.data(w.exp)}


def random_eval_input(w, levels: int) -> dict:
    if w.rkind == "preserve_lpr":
        d = paths.variant_random_masks(w.exp, rewinding.variant_name("late", int(w.late_k)), w.hfind, w.seed)
    else:
        d = paths.variant_chain(w.exp, rewinding.variant_name("late", w.late_k), w.hfind, w.seed)
    return {**paths.per_level(d, 1, levels, "mask"), "reinit": paths.reinit(w.exp, w.seed), "data": paths.data(w.exp)}
