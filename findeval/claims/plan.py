"""The claims report: each qualitative claim of the paper, measured on *this* run, with a paired test over seeds
and a verdict.

It reads only what the pipeline computed: ``results/<exp>/summary.csv`` (:mod:`findeval.analysis`), the
tables the LPR figures write (``results/<exp>/lpr/{fig6,fig7,fig8,figA15,figA16}.csv``, :mod:`findeval.lpr.plots`),
fig4's table (``results/<exp>/rewinding/fig4.csv``, :mod:`findeval.rewinding.plots`), figA13's and figA14's
(``results/<exp>/instability/``), figA17's (``results/<exp>/lpr/figA17.csv``), fig9's
(``results/<exp>/early/fig9.csv``, :mod:`findeval.early.plots`) and, when the config has a ``structured:`` block,
``results/<exp>/structured/summary.csv``. A claim whose inputs are not part of the configuration (no
early-pruning runs, a one-value grid, structured pruning off, a table no rule writes) is reported as
``not run`` with the reason, never with a number.

Each row keeps the claim's id, the paper's verbatim quote and its section (line numbers of the paper's text
file), and the paper's own number where it gives one (``paper_value``).

Statistics (paired over seeds)
------------------------------
Every claim is a *declared* comparison: the conditions it compares are fixed by the config before any result
is read (grid ends named by the paper, never "the best of" the measured ones; where the paper compares with "the
best" of a set, C3 and C7, the statistic is taken against each seed's best of that set, a per-seed maximum,
and where it says "for each", C9, C11, C16, a per-seed minimum: intersection-union comparisons, conservative for
``reproduced``; their ``not reproduced`` needs one of the K pairwise differences below 0 at 2.5% / K,
Bonferroni). For each seed that every
condition of the claim has (the seeds are the replicates: one seed shares theta_0 and data order across the
conditions, so the conditions of one seed are paired), the claim's statistic is computed on that seed's values
alone, giving one per-seed difference ``d_s``, oriented so that ``d_s > 0`` is the paper's direction.

- ``effect`` = the mean of the ``d_s`` (for a difference of two conditions: the difference of their means).
- ``ci_low``, ``ci_high``: the two-sided 95% Student-t interval of the mean, ``mean -+ t_{0.975, n-1} sd / sqrt(n)``
  (``sd`` with ``n - 1`` in the denominator), ``n`` = the number of common seeds (``n_seeds``).
- ``p_signflip``: the exact randomisation p-value of the sign-flip test, one-sided in the paper's direction:
  the share of the ``2^n`` sign patterns ``(+-d_1, ..., +-d_n)`` whose mean is ``>=`` the observed mean
  (exact enumeration up to 16 seeds, 2^16 deterministic random patterns beyond). Its smallest value is
  ``2^-n``: it needs ``n >= 6`` to reach 2.5% (``2^-5 = 3.1%``, ``2^-6 = 1.6%``).
- The per-seed differences are rounded to 10 decimals, so that float noise cannot turn an exact tie into a sign.

Verdicts: one rule, one alpha (:mod:`findeval.claims.stats`; every claim is strict, ``effect > 0``):

- ``reproduced``: at least ``stats.MIN_SEEDS`` (6) common seeds, the 95% t interval above 0 **and** the exact
  one-sided sign-flip p <= 2.5%; ``not reproduced``: the mirror image; ``inconclusive``: otherwise (not "does not
  reproduce": the test may lack power); ``underpowered``: fewer than 6 seeds (at 5 the sign-flip p cannot go below
  1/32 = 3.1%), the effect, interval and ``k_direction`` ("k of n" seeds in the paper's direction) still shown.
  Zero variance is no special case (the interval is a point);
- ``descriptive``: C1 only (an argmax over conditions has no paired per-seed statistic without selecting on the
  seeds it tests): the effect is computed on the means, with no interval and no verdict;
- ``not run``: the claim's inputs are absent (reason in ``detail``).

Further columns: ``p`` = max(one-sided t p, sign-flip p) (``p <= 2.5%`` exactly when both tests reject);
``p_holm``: Holm over every tested row (``p`` not NaN); ``p_holm_primary``: Holm within the declared primary family
(``primary``: C2, C3, C4, C8, F2top, F2bot: the claims of Secs. 3.1, 3.2 and 3.4); ``paper_magnitude`` and
``magnitude_excluded`` (the same rule on ``d - magnitude``: the paper's number is excluded, the effect is
smaller); ``per_seed`` (``seed:difference``); runs within ``COLLAPSE_PP`` (5 pp) of chance are named in
``detail``. ``docs/claims.md`` states the rule and the calibration measured in ``tests/test_claims_stats.py``.

Declared comparisons (notation: ``L*`` is the level whose sparsity ``1 - (1 - p)^L`` is nearest 80%, the paper's
"moderate sparsity" 70-90%, ties: the lower level; ``acc`` is test accuracy in percent; the "good" end of a find
grid is the smallest LR, the largest BS, the smallest WD, the "bad" end the opposite (L84, L114); ``early(H)`` is
the mean, over the first third of the prunable layers in network order, of the per-layer pruning ratio in %):

- **C1** (descriptive) best LR_find below the best dense LR: ``log10(best dense LR) - log10(best LR_find at L*)``
  on the means (best LR_find: max over LR_eval), ties against the claim.
- **C2-LR/-BS/-WD** (text L114, Fig. 8 caption L124, L25; Fig. 6's caption L108 says the opposite):
  ``early(bad end) - early(good end)`` at fig6's level.
- **C3-LR/-BS/-WD** (Fig. 3, L78, L86) decoupled beats coupled: ``acc(good find end -> good eval end) - max_k
  acc(coupled run k)`` per seed over every coupled run of the grid (Fig. 3 compares with the best coupled run; the
  per-seed maximum makes it an intersection-union comparison), at L*; the good eval end is the paper's "good
  H_eval" (L84: larger LR_eval, smaller BS_eval, larger WD_eval) among the eval values that are also find values.
  Chosen from the grids alone. **F2c-LR/-BS/-WD**: the same pair against the coupled run at its H_eval only (Fig.
  2's top row at one H_eval; C3 before issue 22).
- **F2top-LR/-BS/-WD** (Fig. 2a-c, L64, L84): at fig2's constant H_eval, ``acc(good find end) - acc(bad find
  end)``; **F2bot-LR/-BS/-WD** (Fig. 2d-f, L84): at fig2's constant H_find, ``acc(larger LR / smaller BS / larger
  WD eval end) - acc(the other end)``; at L*.
- **C21-LR/-BS/-WD** (Figs. A2, A4, A6, L245, L253, L261): Fig. 2's top row at every H_eval of the eval grid,
  per seed the minimum.
- **F1b-GR / F1b-PL** (Fig. 1b, L68): ``acc(lottery) - acc(global random / preserve LPR)``, coupled H of fig1's
  moderate LR, last level. **F1-dense** (L66, L68): ``acc(dense, fig1's largest LR) - acc(dense, moderate LR)``;
  **F1-low** (L68): the same coupled tickets at level 1.
- **C4-LR/-BS/-WD** (L118) ``acc(match-good-LPR) - acc(match-bad-LPR)`` at L* (fig7, same H_eval).
- **C5** (L128) strict: ``acc(pruned at the middle epoch) - acc(pruned at convergence)`` at L* (fig9, the default
  H_find's panel; the middle epoch: fig9's nearest half the schedule, ties: the earlier).
- **C6** (L120) ``spread(default WD_find) - spread(WD_find = 0)``, spread = max - min over LR_find of ``early(H)``
  per seed (fig6, fig8).
- **C7-LR/-BS/-WD** (L100) structured: as C3 on the fine-tuned runs at the ratio of channels nearest 0.5.
- **C8-GR / C8-PL** (Sec. 3.1, L40, L66) the coupled ticket of fig1's largest LR at the level nearest 97% among
  those within 96-98% (``not run`` where the config has none): ``acc(global random) - acc(lottery)`` and
  ``acc(global random) - acc(preserve LPR)``, same H (summary); the paper's magnitude 25 pp.
- **C9-late / -warmup / -lrrw** (Fig. 4, L82, L96): per variant, ``acc(smallest LR_find) - acc(largest LR_find)``,
  per seed the minimum over the panel's LR_eval values ("for each"), at fig4's level nearest 80% (fig4 table).
- **C10** (L98) ``acc(LR rewinding, smallest LR_find -> largest LR_eval) - acc(weight rewinding to theta_0: the
  regular ticket of the same pair)`` (fig4 table and summary); **C10-late**: against fig4a's late rewinding of the
  same pair (Renda et al.'s weight rewinding); same level as C9; the paper's magnitude 3 pp.
- **C11** (Fig. A15, L301) local pruning: ``acc(largest LR_find) - acc(smallest LR_find)``, per seed the minimum
  over figA15's LR_eval panels, at L*.
- **C12-BS / -WD** (Fig. A16, L305) local pruning, the opposite of global: ``acc(small BS_find) - acc(large)``,
  ``acc(large WD_find) - acc(small)`` at L* (figA16).
- **C13** (Fig. 8c, L124) with WD_find = 0: ``acc(largest LR_find) - acc(smallest LR_find)`` at L* (fig8's
  accuracy panel).
- **C14** (L98) ``acc(LR rewinding to the largest LR_eval) - acc(to the smallest)``, smallest LR_find (fig4).
- **C15-BS / -WD** (Fig. A1, L66, L241) ``acc(global random) - acc(lottery)``, coupled H of figA1's small BS /
  large WD, at C8's level.
- **C16-LR/-BS/-WD** (Fig. A17, L114) C2 at every level of figA17: per seed the minimum over its levels.
- **C19** (Fig. A19, L319) ``distance(largest LR_find) - distance(smallest)`` at figA19's first epoch (the mean
  over layers of |LPR(n) - final LPR|, pp). **C20** (Fig. A18, L134, L315) the LPR's movement over training
  (per layer max - min over epochs, mean over the layers after the first, pp): largest LR_find - smallest.
- **C17-init / C17-LR** (Fig. A13, L96, L293) the error barrier (pp) of the small-LR ticket from theta_0, or of the
  large-LR ticket from epoch k, minus that of the small-LR ticket from epoch k; per seed the minimum over levels.
- **C18** (Fig. A14, L297) ``acc(late-rewinding ticket) - max(global random, preserve LPR, preserve mask)`` per
  seed, at fig4's level.

``regime_warnings`` (from :func:`findeval.regime.far_from_paper` when that module exists) says why this config's
training regime is far from the paper's; the report writes them in a column, the log and the figure.

The planning half (:func:`settings`, :func:`inputs`) is pure Python on the config (the Snakefile imports it at
parse time: no numpy, pandas or file access); the statistics are pure Python too; reading the tables imports
pandas lazily.
"""

from __future__ import annotations

import logging
import re

from .. import datasets, paths
from ..a1 import plan
from ..early import plan as early
from ..hparams import DIMENSIONS, LABELS, format_number
from ..lpr import plan as lpr
from ..regime import far_from_paper
from ..rewinding import instability_plan as inst
from ..rewinding import plan as rewinding
from ..structured import plan as splan
from .stats import CI, MIN_SEEDS

log = logging.getLogger("findeval")

#: Seeds the report recommends: the fewest at which the verdict rule can reach its alpha (stats.MIN_SEEDS).
RECOMMENDED_SEEDS = MIN_SEEDS
#: C8 (Fig. 1a, L66: "at 96-98% sparsity"): the level nearest this sparsity, among those within HIGH_RANGE.
HIGH_SPARSITY = 0.97
HIGH_RANGE = (0.96, 0.98)
#: A run within this many points of chance accuracy is flagged as collapsed in the row's detail.
COLLAPSE_PP = 5.0
#: "Moderate sparsity" of the paper (Fig. 3: 70-90%): L* is the level nearest this sparsity.
TARGET_SPARSITY = 0.8
#: Structured pruning: the ratio of channels pruned nearest this one.
TARGET_RATIO = 0.5
#: Share of the prunable layers (network order) that are "early layers".
EARLY_SHARE = 1 / 3

VERDICTS = ("reproduced", "not reproduced", "inconclusive", "underpowered", "descriptive", "not run")
COLUMNS = ["claim_id", "claim", "section", "quote", "paper_value", "effect", "ci_low", "ci_high", "p_signflip",
           "unit", "verdict", "n_seeds", "level", "sparsity", "detail", "definition", "regime_warnings",
           "primary", "p", "p_holm", "p_holm_primary", "k_direction", "per_seed", "paper_magnitude",
           "magnitude_excluded"]
INPUTS = ("summary", "fig6", "fig7", "fig8", "structured", "fig9", "fig4", "figA15", "figA16", "figA17", "figA13",
          "figA14", "figA18", "figA19", "figA8", "figA9")
#: Inputs that are lists of metrics.json files of another experiment (figA8/figA9's stand-ins), read into a table
#: of summary.csv's columns (:func:`findeval.analysis.load_metrics`) by the claims job.
METRICS_INPUTS = ("figA8", "figA9")
#: Direction of the paper's claims: the "bad" end of each find grid (L84, L114), which is also the "good"
#: H_eval end (L84: larger LR_eval, smaller BS_eval, larger WD_eval).
BAD_END = {"lr": "large", "batch_size": "small", "weight_decay": "large"}
VARIANT_IDS = {"late": "late", "warmup": "warmup", "lr_rewind": "lrrw"}


# =========================================================================== planning (parse time)


def _opts(config: dict) -> dict:
    """``figures.claims`` when the schema has it (level, ci); the module constants otherwise."""
    return (config.get("figures") or {}).get("claims") or {}


def sparsity_at(fraction: float, level: int) -> float:
    return 1 - (1 - float(fraction)) ** int(level)


def moderate_level(config: dict, target: float = TARGET_SPARSITY, n: int | None = None) -> int:
    """L*: the level of 1..n (default: every level) whose sparsity is nearest ``target`` (ties: the lower)."""
    n = plan.levels(config) if n is None else int(n)
    p = float(config["pruning"]["fraction"])
    return min(range(1, n + 1), key=lambda lv: (abs(sparsity_at(p, lv) - target), lv))


def moderate_ratio(ratios, target: float = TARGET_RATIO) -> float:
    return min((float(r) for r in ratios), key=lambda r: (abs(r - target), r))


def _end(values, which: str):
    return max(values) if which == "large" else min(values)


def good_end(dim: str) -> str:
    return "small" if BAD_END[dim] == "large" else "large"


def declared_pair(finds: list, evals: list, dim: str) -> dict:
    """C3/C7's declared comparison on one hyperparameter, from the grids alone: the good find end with the good
    eval end (decoupled) against the coupled run at that H_eval. The good eval end is taken among the eval values
    that are also in the find grid (a coupled run needs both). ``{"why": reason}`` when the grids cannot give it."""
    f = _end(finds, good_end(dim))
    both = [v for v in evals if v in finds]
    if not both:
        return {"why": f"the {LABELS[dim]} find and eval grids share no value: no coupled run"}
    e = _end(both, BAD_END[dim])
    if f == e:
        return {"why": f"the good {LABELS[dim]}_find and the good {LABELS[dim]}_eval coincide ({format_number(f)})"}
    return {"find": f, "eval": e}


def _lpr_panel_lines(panel: dict, values: list) -> list[dict]:
    """Line labels of a panel with the hyperparameter value each stands for (lines are in value order)."""
    labels = [line["label"] for line in panel["lines"]]
    if len(labels) != len(values):
        raise ValueError(f"panel {panel['title']!r} has {len(labels)} lines for {len(values)} values")
    return [{"value": v, "label": lab} for v, lab in zip(values, labels)]


_FIG4_LABEL = re.compile(r"LR_find = ([0-9.eE+-]+), LR_eval = ([0-9.eE+-]+)")


def regime_warnings(config: dict) -> list[str]:
    """:func:`findeval.regime.far_from_paper`: why this config's training regime is far from the paper's."""
    return [str(w) for w in far_from_paper(config)]


def _fig4_settings(config: dict, level_star: int) -> dict | None:
    s = rewinding.settings(config)
    if s["late_epoch"] is None:
        return None
    level = moderate_level(config, n=s["levels"])
    base = plan.default_h(config)
    panels = {}
    for p, (variant, panel) in enumerate(zip(rewinding.VARIANTS, rewinding.figure_panels(config))):
        lines = []
        for line in panel["lines"]:
            m = _FIG4_LABEL.search(line["label"])
            if m:
                lines.append({"lr_find": float(m.group(1)), "lr_eval": float(m.group(2)), "label": line["label"]})
        panels[variant] = {"panel": p, "lines": lines}
    lr_f, lr_e = min(s["lr_find"]), max(s["lr_rewind_eval"])
    weight = {"lr_find": lr_f, "lr_eval": lr_e, "hfind": base.replace(lr=lr_f).slug,
              "heval": base.replace(lr=lr_e).slug}
    return {"level": level, "panels": panels, "weight": weight}


def instability_settings(config: dict) -> dict | None:
    """C17/C18's lines of figA13 (per level) and figA14 (at fig4's level), None without late rewinding."""
    rw = rewinding.settings(config)
    if rw["late_epoch"] is None:
        return None
    s = inst.settings(config)
    a13 = [ln["label"] for ln in inst.a13_lines(config)]
    a14 = [ln["label"] for ln in inst.figure_panels(config, "figA14")[0]["lines"]]
    return {"a13": {"levels": list(s["levels"]), "stable": a13[0], "init": a13[1], "large": a13[2],
                    "lr_small": s["lr_small"], "lr_large": s["lr_large"], "k": s["late_epoch"]},
            "a14": {"level": moderate_level(config, n=rw["levels"]), "lottery": a14[0], "baselines": a14[1:]}}


def settings(config: dict) -> dict:
    """Everything the claims job computes from, as plain values (Snakemake params)."""
    opts = _opts(config)
    level = int(opts.get("level") or moderate_level(config))
    fraction = float(config["pruning"]["fraction"])
    base = plan.default_h(config)
    lr_pairs = [[ln.hfind.lr, ln.heval.lr, ln.hfind.slug, ln.heval.slug] for ln in plan.all_pairs(config, "lr")]
    dense = [[v, base.replace(lr=v).slug] for v in sorted(set(plan.grid_values(config, "lr", "find")))]

    fig6_level = lpr.fig6_level(config)
    fig6 = {}
    for p, (dim, panel) in enumerate(zip(DIMENSIONS, lpr.figure_panels(config, "fig6"))):
        fig6[dim] = {"panel": p, "lines": _lpr_panel_lines(panel, sorted(set(plan.grid_values(config, dim, "find"))))}

    fig7_heval = lpr.fig7_heval(config).slug  # every line of fig7, the regular (green) one included
    fig7 = {p["dim"]: {"panel": i, "good": getattr(p["good"], p["dim"]), "bad": getattr(p["bad"], p["dim"]),
                       "hgood": p["good"].slug, "hbad": p["bad"].slug, "heval": fig7_heval}
            for i, p in enumerate(lpr.fig7_pairs(config))}

    fig8_levels = lpr.fig8_levels(config)
    fig8_panels = lpr.figure_panels(config, "fig8")
    fig8_lrs = [h.lr for h in lpr.fig8_hs(config)]
    fig8 = {"levels": fig8_levels, "panel": None, "lines": [], "default_wd": base.weight_decay,
            "accuracy_panel": len(fig8_levels), "accuracy_lines": _lpr_panel_lines(fig8_panels[-1], fig8_lrs),
            "accuracy_hfinds": [h.slug for h in lpr.fig8_hs(config)]}
    if fig6_level in fig8_levels:
        p = fig8_levels.index(fig6_level)
        fig8.update(panel=p, lines=_lpr_panel_lines(fig8_panels[p], fig8_lrs))

    lr_finds = ([h.lr for h in lpr.figA15_hfinds(config)] if hasattr(lpr, "figA15_hfinds")
                else sorted(set(plan.grid_values(config, "lr", "find"))))
    figA15 = [{"panel": p, "lines": _lpr_panel_lines(panel, lr_finds)}
              for p, panel in enumerate(lpr.figure_panels(config, "figA15"))]
    figA16 = {dim: {"panel": p, "lines": _lpr_panel_lines(panel, sorted(set(plan.grid_values(config, dim, "find"))))}
              for p, (dim, panel) in enumerate(zip(("batch_size", "weight_decay"),
                                                   lpr.figure_panels(config, "figA16")))}

    a17_levels = lpr.figA17_levels(config)
    a17_panels = lpr.figure_panels(config, "figA17")
    figA17 = {dim: [] for dim in DIMENSIONS}
    for i, lv in enumerate(a17_levels):
        for j, dim in enumerate(DIMENSIONS):
            p = i * len(DIMENSIONS) + j
            figA17[dim].append({"panel": p, "level": lv, "lines": _lpr_panel_lines(
                a17_panels[p], sorted(set(plan.grid_values(config, dim, "find"))))})

    declared = {}
    for dim in DIMENSIONS:
        d = declared_pair(plan.grid_values(config, dim, "find"), plan.grid_values(config, dim, "eval"), dim)
        if d and "find" in d:
            d.update(hfind=base.replace(**{dim: d["find"]}).slug, heval=base.replace(**{dim: d["eval"]}).slug)
        declared[dim] = d

    structured = None
    if splan.enabled(config):
        sdecl, sbase = {}, splan.default_h(config)  # the structured block's own defaults, not the main ones
        for dim in DIMENSIONS:
            d = declared_pair(splan.grid(config, dim, "find"), splan.grid(config, dim, "eval"), dim)
            if d and "find" in d:
                d.update(hfind=sbase.replace(**{dim: d["find"]}).slug, heval=sbase.replace(**{dim: d["eval"]}).slug)
                d["coupled"] = [[v, sbase.replace(**{dim: v}).slug] for v in splan.grid(config, dim, "find")
                                if v in splan.grid(config, dim, "eval")]
            sdecl[dim] = d
        structured = {"ratio": moderate_ratio(splan.ratios(config)), "seeds": list(splan.settings(config)["seeds"]),
                      "declared": sdecl, "high_ratio": max(splan.ratios(config)),
                      "fig5": {dim: fig5_runs(splan.fig5_values(config, dim), sbase, dim) for dim in DIMENSIONS}}

    fig1 = plan.fig1_hs(config)
    fig1_h = fig1[0]
    base_slugs = {dim: [[v, base.replace(**{dim: v}).slug] for v in plan.grid_values(config, dim, "find")
                        if v in plan.grid_values(config, dim, "eval")] for dim in DIMENSIONS}
    for dim, d in declared.items():
        if d and "find" in d:
            d["coupled"] = base_slugs[dim]

    return {
        "experiment": config["experiment"],
        "ci": float(opts.get("ci") or CI),
        "fraction": fraction,
        "level": level,
        "last_level": plan.levels(config),
        "sparsity": sparsity_at(fraction, level),
        "early_share": EARLY_SHARE,
        "lr_dense": dense,
        "lr_pairs": lr_pairs,
        "declared": declared,
        "fig1": {"h": fig1_h.slug, "lr": fig1_h.lr, "h_moderate": fig1[-1].slug, "lr_moderate": fig1[-1].lr},
        "high_level": high_level(config),
        "fig2": fig2_settings(config),
        "chance": 100.0 / datasets.REGISTRY[config["dataset"]["name"]].num_classes,
        "collapse_pp": COLLAPSE_PP,
        "fig6": {"level": fig6_level, "panels": fig6},
        "fig7": fig7,
        "fig8": fig8,
        "fig4": _fig4_settings(config, level),
        "figA15": figA15,
        "figA16": figA16,
        "figA17": figA17,
        "instability": instability_settings(config),
        "figA1": {"batch_size": plan.figA1_hs(config)[0].slug, "weight_decay": plan.figA1_hs(config)[1].slug},
        "structured": structured,
        "fig9": early_settings(config),
        "fig9_lr": fig9_lr_eval(config),
        "lpr_trajectory": trajectory_settings(config),
        "other_models": other_model_settings(config),
        "lpr_masks": lpr_mask_lines(config, {"level": fig6_level, "panels": fig6}, figA17, fig8_panels, fig8_levels),
        "regime_warnings": regime_warnings(config),
    }


def fig5_runs(values: tuple[list, list], base, dim: str) -> dict:
    """C24's runs of one hyperparameter: fig5's two H_find by two H_eval (L94: the figure of L100's claim), split
    into the coupled runs (H_find = H_eval) and the decoupled ones, ``[value(s), slug(s)]``; ``{"why": ...}`` when
    fig5 has no run of one kind."""
    finds, evals = values
    coupled = [[v, base.replace(**{dim: v}).slug] for v in finds if v in evals]
    decoupled = [[f, e, base.replace(**{dim: f}).slug, base.replace(**{dim: e}).slug]
                 for f in finds for e in evals if f != e]
    if not coupled or not decoupled:
        return {"why": f"fig5's {LABELS[dim]} runs have no {'coupled' if not coupled else 'decoupled'} run "
                       f"(H_find {[format_number(v) for v in finds]}, H_eval {[format_number(v) for v in evals]})"}
    return {"coupled": coupled, "decoupled": decoupled}


def lpr_mask_lines(config: dict, fig6: dict, figA17: dict, fig8_panels: list, fig8_levels: list) -> list[list]:
    """The lines of the LPR tables (fig6, figA17, fig8; from the panels :func:`settings` already planned) as
    ``[table, panel, label, H_find slug, level]``: the per-layer pruning ratios of the regular masks of that
    H_find at that level, which the collapse check of the accuracy rows reads (a compared mask with a layer pruned
    to 100% is named in the row's detail)."""
    base = plan.default_h(config)
    out = [["fig6", spec["panel"], line["label"], base.replace(**{dim: line["value"]}).slug, fig6["level"]]
           for dim, spec in fig6["panels"].items() for line in spec["lines"]]
    out += [["figA17", spec["panel"], line["label"], base.replace(**{dim: line["value"]}).slug, spec["level"]]
            for dim, specs in figA17.items() for spec in specs for line in spec["lines"]]
    for p, lv in enumerate(fig8_levels):
        labels = [line["label"] for line in fig8_panels[p]["lines"]]
        out += [["fig8", p, label, h.slug, lv] for label, h in zip(labels, lpr.fig8_hs(config))]
    return out


def other_model_settings(config: dict) -> dict:
    """C27 (figA9) and C28 (figA8): each stand-in's declared comparison, the metrics files of its runs and its
    level, or ``{"why": ...}`` where ``other_models`` does not set the figure (or its data is not there to
    prepare: the figure is then not in the default target, and its runs are not planned for the claims either).
    The stand-ins share the main experiment's pruning schedule (:data:`findeval.a1.plan.OTHER_MODEL_BLOCKS`)."""
    out = {}
    for fig in plan.OTHER_FIGURES:
        if fig not in plan.other_figures(config):
            out[fig] = {"why": f"other_models.{fig} is not set in this config (the {fig} stand-in is not run)"}
            continue
        runs = plan.other_model_config(config, fig)
        if not datasets.dataset_ready(runs["dataset"]):
            out[fig] = {"why": f"other_models.{fig}'s dataset ({runs['dataset']['name']}) has no files here "
                               f"(dataset.root): {fig} is not in the default target"}
            continue
        base = plan.default_h(runs)
        finds = sorted(set(plan.grid_values(runs, "lr", "find")))
        evals = sorted(set(plan.grid_values(runs, "lr", "eval")))
        if fig == "figA9":  # L275: at LR_eval 0.5 and 0.8, LR_find 0.05 and 0.2 beat 0.8: smallest vs largest
            if len(finds) < 2:
                out[fig] = {"why": f"other_models.{fig}'s LR_find grid has one value"}
                continue
            level = moderate_level(runs, HIGH_SPARSITY)
            pairs = {"good": (finds[0], evals[-1]), "bad": (finds[-1], evals[-1])}
        else:  # L271 (A8d): at LR_find 0.1, the middle of its grid, LR_eval 0.5 (the largest) beats 0.1 (the middle)
            middle = evals[(len(evals) - 1) // 2]
            if middle == evals[-1]:
                out[fig] = {"why": f"other_models.{fig}'s LR_eval grid has one value"}
                continue
            level = moderate_level(runs)
            f = finds[(len(finds) - 1) // 2]
            pairs = {"good": (f, evals[-1]), "bad": (f, middle)}
        spec = {"experiment": runs["experiment"], "level": level, "seeds": list(runs["seeds"]),
                "sparsity": sparsity_at(runs["pruning"]["fraction"], level), "files": []}
        for name, (f, e) in pairs.items():
            line = plan.Line("lottery", base.replace(lr=f), base.replace(lr=e))
            spec[name] = [f, e, line.hfind.slug, line.heval.slug]
            spec["files"] += [plan.metrics_path(runs, line, s, level) for s in runs["seeds"]]
        out[fig] = spec
    return out


def high_level(config: dict) -> dict:
    """C8's level: the level nearest HIGH_SPARSITY (97%) among those within HIGH_RANGE (96-98%, L66), or the
    reason there is none (``{"level": None, "why": ...}``)."""
    p, n = float(config["pruning"]["fraction"]), plan.levels(config)
    inside = [lv for lv in range(1, n + 1) if HIGH_RANGE[0] - 1e-12 <= sparsity_at(p, lv) <= HIGH_RANGE[1] + 1e-12]
    if not inside:
        last = sparsity_at(p, n)
        where = "does not reach" if last < HIGH_RANGE[0] else "has no level within"
        return {"level": None, "why": (f"the config {where} the paper's 96-98% sparsity (last level {n}: "
                                       f"{100 * last:.1f}%; pruning.levels / pruning.fraction)")}
    return {"level": min(inside, key=lambda lv: (abs(sparsity_at(p, lv) - HIGH_SPARSITY), lv)), "why": ""}


def fig2_settings(config: dict) -> dict:
    """Fig. 2's declared comparisons per hyperparameter: the top row (fig2's constant H_eval; the good end of the
    find grid against the bad end, L84) and the bottom row (fig2's constant H_find; the good end of the eval
    grid, larger LR / smaller BS / larger WD, against the other end). Slugs of the runs compared."""
    out = {}
    for panel in plan.fig2_panels(config):
        dim, lines = panel["dim"], [ln for ln in panel["lines"] if ln.kind == "lottery"]
        if panel["compare"] == "find":
            values = sorted({getattr(ln.hfind, dim) for ln in lines})
            good, bad = _end(values, good_end(dim)), _end(values, BAD_END[dim])
            by = {getattr(ln.hfind, dim): ln for ln in lines}
        else:
            values = sorted({getattr(ln.heval, dim) for ln in lines})
            good, bad = _end(values, BAD_END[dim]), _end(values, good_end(dim))  # good eval end = the bad find end
            by = {getattr(ln.heval, dim): ln for ln in lines}
        if good == bad:
            spec = {"why": f"the {LABELS[dim]} {panel['compare']} grid has one value"}
        else:
            spec = {"good": [good, by[good].hfind.slug, by[good].heval.slug],
                    "bad": [bad, by[bad].hfind.slug, by[bad].heval.slug],
                    "constant": panel["constant"].slug}
        out.setdefault(dim, {})["top" if panel["compare"] == "find" else "bottom"] = spec
    base = plan.default_h(config)
    for dim in DIMENSIONS:  # Figs. A2, A4, A6: the top row at every H_eval of the grid
        finds = sorted(set(plan.grid_values(config, dim, "find")))
        good, bad = _end(finds, good_end(dim)), _end(finds, BAD_END[dim])
        if good == bad:
            out[dim]["every_eval"] = {"why": f"the {LABELS[dim]} find grid has one value"}
            continue
        out[dim]["every_eval"] = {"good": good, "bad": bad, "evals": [
            [e, base.replace(**{dim: good}).slug, base.replace(**{dim: bad}).slug, base.replace(**{dim: e}).slug]
            for e in sorted(set(plan.grid_values(config, dim, "eval")))]}
    return out


def early_settings(config: dict) -> dict | None:
    """C5's selection from fig9 (None without early-pruning runs): panel, H_find, middle and final epoch."""
    if not early.enabled(config):
        return None
    hfinds, base = early.hfinds(config), plan.default_h(config)
    panel = hfinds.index(base) if base in hfinds else 0
    e = early.total_epochs(config)
    middle = min(early.prune_epochs(config), key=lambda k: (abs(k - e / 2), k))
    return {"panel": panel, "hfind": hfinds[panel].slug, "heval": early.heval(config).slug, "middle_epoch": middle,
            "epochs": e}


def fig9_lr_eval(config: dict) -> dict | None:
    """fig9's LR_eval and the largest of the LR eval grid (the paper evaluates fig9 at 0.5, its grid's largest)."""
    if not early.enabled(config):
        return None
    return {"lr_eval": early.heval(config).lr, "largest": max(plan.grid_values(config, "lr", "eval"))}


def trajectory_settings(config: dict) -> dict | None:
    """C19/C20's H_find (slugs) of figA19 (the smallest and largest early-pruning LR_find) and figA18 (its
    panels' LR_find), None without early-pruning runs."""
    if not early.enabled(config):
        return None
    a19 = sorted(early.hfinds(config), key=lambda h: h.lr)
    a18 = sorted(early.figA18_hfinds(config), key=lambda h: h.lr)
    tr = config["training"]
    milestones = list(tr.get("milestones") or []) if tr.get("schedule", "multistep") == "multistep" else []
    why = "" if milestones else (f"training.schedule is {tr.get('schedule')!r} with no milestone: no epoch at which "
                                 f"the LR decays (L319: 'around epoch 70, which is when the learning rate decays')")
    return {"figA19": {"small": a19[0].slug, "large": a19[-1].slug, "hfinds": [[h.lr, h.slug] for h in a19],
                       "epochs": early.total_epochs(config), "milestone": milestones[0] if milestones else None,
                       "why_no_milestone": why},
            "figA18": {"small": a18[0].slug, "large": a18[-1].slug}}


def inputs(config: dict) -> dict:
    """The files the claims job reads: ``structured``, ``fig9`` and ``fig4`` are lists, empty when structured
    pruning, early pruning or rewinding (a one-epoch schedule) is off."""
    late = rewinding.settings(config)["late_epoch"] is not None
    return {
        "summary": paths.summary(config["experiment"]),
        "fig6": lpr.data_path(config, "fig6"),
        "fig7": lpr.data_path(config, "fig7"),
        "fig8": lpr.data_path(config, "fig8"),
        "figA15": lpr.data_path(config, "figA15"),
        "figA16": lpr.data_path(config, "figA16"),
        "figA17": lpr.data_path(config, "figA17"),
        "structured": [paths.structured_summary(config["experiment"])] if splan.enabled(config) else [],
        "fig9": [early.data_path(config, "fig9")] if early.enabled(config) else [],
        **{fig: [early.data_path(config, fig)] if early.enabled(config) else [] for fig in ("figA18", "figA19")},
        # fig4, figA13 and figA14 are in the default target when there is a late rewinding point (findeval.figures:
        # the rewinding and instability families)
        "fig4": [rewinding.data_path(config, "fig4")] if late else [],
        **{fig: [inst.data_path(config, fig)] if late else [] for fig in ("figA13", "figA14")},
        # C27/C28: the metrics files of the stand-ins' compared runs (no rule writes a summary.csv of figA8/figA9's
        # experiments; these runs are also figA8/figA9's, so the default target plans no job more for them)
        **{fig: list(spec.get("files") or []) for fig, spec in other_model_settings(config).items()},
    }


def targets(config: dict) -> list[str]:
    return [paths.claims(config["experiment"]), *plan.figure_files(config, ["claims"])]
