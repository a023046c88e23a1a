"""The claims report: each qualitative claim of the paper, measured on *this* run, with a paired test over seeds
and a verdict.

It reads only what the pipeline computed: ``results/<exp>/summary.csv`` (:mod:`findeval.analysis`), the
tables the LPR figures write (``results/<exp>/lpr/{fig6,fig7,fig8,figA15,figA16}.csv``, :mod:`findeval.lpr.plots`),
fig4's table (``results/<exp>/rewinding/fig4.csv``, :mod:`findeval.rewinding.plots`), fig9's
(``results/<exp>/early/fig9.csv``, :mod:`findeval.early.plots`) and, when the config has a ``structured:`` block,
``results/<exp>/structured/summary.csv``. A claim whose inputs are not part of the configuration (no
early-pruning runs, a one-value grid, structured pruning off, a table no rule writes) is reported as
``not run`` with the reason, never with a number.

Each row keeps the claim's id, the paper's verbatim quote and its section (line numbers of the paper's text
file), and the paper's own number where it gives one (``paper_value``).

Statistics (paired over seeds)
------------------------------
Every claim is a *declared* comparison: the conditions it compares are fixed by the config before any result
is read (grid ends named by the paper, never "the best of" the measured ones). For each seed that every
condition of the claim has (the seeds are the replicates: one seed shares theta_0 and data order across the
conditions, so the conditions of one seed are paired), the claim's statistic is computed on that seed's values
alone, giving one per-seed difference ``d_s``, oriented so that ``d_s > 0`` is the paper's direction.

- ``effect`` = the mean of the ``d_s`` (for a difference of two conditions: the difference of their means).
- ``ci_low``, ``ci_high``: the two-sided 95% Student-t interval of the mean, ``mean -+ t_{0.975, n-1} sd / sqrt(n)``
  (``sd`` with ``n - 1`` in the denominator), ``n`` = the number of common seeds (``n_seeds``).
- ``p_signflip``: the exact randomisation p-value of the sign-flip test, one-sided in the paper's direction:
  the share of the ``2^n`` sign patterns ``(+-d_1, ..., +-d_n)`` whose mean is ``>=`` the observed mean
  (exact enumeration up to 16 seeds, 2^16 deterministic random patterns beyond). It needs ``n >= 5`` to be able
  to reach 5% (``2^-5 = 3.1%``; ``2^-4 = 6.25%``).
- The per-seed differences are rounded to 10 decimals, so that float noise cannot turn an exact tie into a sign.

Verdicts (every claim is strict: ``effect > 0``):

- ``reproduced``: ``ci_low > 0`` (the interval excludes 0 on the paper's side);
- ``not reproduced``: ``ci_high < 0`` (it excludes 0 on the other side);
- ``inconclusive``: the interval contains 0 (including every ``d_s`` exactly 0);
- ``underpowered``: fewer than 2 common seeds (no t interval: the test can never reach 5%). Zero variance
  (every ``d_s`` equal and non-zero: the t interval degenerates to a point) falls back on the sign-flip test:
  ``reproduced`` / ``not reproduced`` (by the sign) when ``n >= 5`` (p = 2^-n <= 3.1%), ``underpowered`` with
  fewer seeds (p >= 6.25% whatever the data);
- ``descriptive``: C1 only (an argmax over conditions has no paired per-seed statistic without selecting on the
  seeds it tests): the effect is computed on the means, with no interval and no verdict;
- ``not run``: the claim's inputs are absent (reason in ``detail``).

A one-sided reading of the 95% two-sided interval: ``reproduced`` is a one-sided t test at 2.5%. At 5 seeds an
effect of 2 standard deviations of the per-seed difference is detected with the power measured in
``tests/test_claims_stats.py`` (see ``/work/notes/stats.md``).

Declared comparisons (notation: ``L*`` is the level whose sparsity ``1 - (1 - p)^L`` is nearest 80%, the paper's
"moderate sparsity" 70-90%, ties: the lower level; ``acc`` is test accuracy in percent; the "good" end of a find
grid is the smallest LR, the largest BS, the smallest WD, the "bad" end the opposite (L84, L114); ``early(H)`` is
the mean, over the first third of the prunable layers in network order, of the per-layer pruning ratio in %):

- **C1** (descriptive) best LR_find below the best dense LR: ``log10(best dense LR) - log10(best LR_find at L*)``
  on the means (best LR_find: max over LR_eval), ties against the claim.
- **C2-LR/-BS/-WD** (text L114, Fig. 8 caption L124, L25; Fig. 6's caption L108 says the opposite):
  ``early(bad end) - early(good end)`` at fig6's level.
- **C3-LR/-BS/-WD** (L86, L84) decoupled beats coupled: ``acc(good find end -> good eval end) - acc(good eval end
  -> good eval end)`` at L*, the good eval end being the paper's "good H_eval" (L84: larger LR_eval, smaller
  BS_eval, larger WD_eval) among the eval values that are also find values (the coupled run needs one), i.e.
  the pair the paper names as best against the coupled run at the same H_eval. Chosen from the grids alone.
- **C4-LR/-BS/-WD** (L118) ``acc(match-good-LPR) - acc(match-bad-LPR)`` at L* (fig7, same H_eval).
- **C5** (L128) strict: ``acc(pruned at the middle epoch) - acc(pruned at convergence)`` at L* (fig9, the default
  H_find's panel; the middle epoch: fig9's nearest half the schedule, ties: the earlier).
- **C6** (L120) ``spread(default WD_find) - spread(WD_find = 0)``, spread = max - min over LR_find of ``early(H)``
  per seed (fig6, fig8).
- **C7-LR/-BS/-WD** (L100) structured: as C3 on the fine-tuned runs at the ratio of channels nearest 0.5.
- **C8-GR / C8-PL** (Sec. 3.1, L40, L66) the coupled ticket of fig1's largest LR at the last level:
  ``acc(global random) - acc(lottery)`` and ``acc(global random) - acc(preserve LPR)``, same H (summary).
- **C9-late / -warmup / -lrrw** (Fig. 4, L82, L96): per variant, ``acc(smallest LR_find) - acc(largest LR_find)``
  averaged over the panel's LR_eval values, at fig4's level nearest 80% (fig4 table).
- **C10** (L98) ``acc(LR rewinding, smallest LR_find -> largest LR_eval) - acc(weight rewinding, the same pair)``
  (fig4 table and summary), same level as C9.
- **C11** (Fig. A15, L301) local pruning: ``acc(largest LR_find) - acc(smallest LR_find)`` averaged over
  figA15's LR_eval panels, at L*.
- **C12-BS / -WD** (Fig. A16, L305) local pruning, the opposite of global: ``acc(small BS_find) - acc(large)``,
  ``acc(large WD_find) - acc(small)`` at L* (figA16).
- **C13** (Fig. 8c, L124) with WD_find = 0: ``acc(largest LR_find) - acc(smallest LR_find)`` at L* (fig8's
  accuracy panel).

``regime_warnings`` (from :func:`findeval.regime.far_from_paper` when that module exists) says why this config's
training regime is far from the paper's; the report writes them in a column, the log and the figure.

The planning half (:func:`settings`, :func:`inputs`) is pure Python on the config (the Snakefile imports it at
parse time: no numpy, pandas or file access); the statistics are pure Python too; reading the tables imports
pandas lazily.
"""

from __future__ import annotations

import logging
import re

from .. import paths
from ..hparams import DIMENSIONS, LABELS, format_number
from .stats import CI

log = logging.getLogger("findeval")

#: Seeds the report recommends (the power test runs at this number).
RECOMMENDED_SEEDS = 5
#: "Moderate sparsity" of the paper (Fig. 3: 70-90%): L* is the level nearest this sparsity.
TARGET_SPARSITY = 0.8
#: Structured pruning: the ratio of channels pruned nearest this one.
TARGET_RATIO = 0.5
#: Share of the prunable layers (network order) that are "early layers".
EARLY_SHARE = 1 / 3

VERDICTS = ("reproduced", "not reproduced", "inconclusive", "underpowered", "descriptive", "not run")
COLUMNS = ["claim_id", "claim", "section", "quote", "paper_value", "effect", "ci_low", "ci_high", "p_signflip",
           "unit", "verdict", "n_seeds", "level", "sparsity", "detail", "definition", "regime_warnings"]
INPUTS = ("summary", "fig6", "fig7", "fig8", "structured", "fig9", "fig4", "figA15", "figA16")
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
    from ..a1 import plan

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
    from ..regime import far_from_paper

    return [str(w) for w in far_from_paper(config)]


def _fig4_settings(config: dict, level_star: int) -> dict | None:
    from ..rewinding import plan as rewinding
    from ..a1 import plan

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


def settings(config: dict) -> dict:
    """Everything the claims job computes from, as plain values (Snakemake params)."""
    from ..lpr import plan as lpr
    from ..a1 import plan
    from ..structured import plan as splan

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

    fig7 = {p["dim"]: {"panel": i, "good": getattr(p["good"], p["dim"]), "bad": getattr(p["bad"], p["dim"])}
            for i, p in enumerate(lpr.fig7_pairs(config))}

    fig8_levels = lpr.fig8_levels(config)
    fig8_panels = lpr.figure_panels(config, "fig8")
    fig8_lrs = [h.lr for h in lpr.fig8_hs(config)]
    fig8 = {"levels": fig8_levels, "panel": None, "lines": [], "default_wd": base.weight_decay,
            "accuracy_panel": len(fig8_levels), "accuracy_lines": _lpr_panel_lines(fig8_panels[-1], fig8_lrs)}
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
            sdecl[dim] = d
        structured = {"ratio": moderate_ratio(splan.ratios(config)), "seeds": list(splan.settings(config)["seeds"]),
                      "declared": sdecl}

    fig1_h = plan.fig1_hs(config)[0]
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
        "fig1": {"h": fig1_h.slug, "lr": fig1_h.lr},
        "fig6": {"level": fig6_level, "panels": fig6},
        "fig7": fig7,
        "fig8": fig8,
        "fig4": _fig4_settings(config, level),
        "figA15": figA15,
        "figA16": figA16,
        "structured": structured,
        "fig9": early_settings(config),
        "regime_warnings": regime_warnings(config),
    }


def early_settings(config: dict) -> dict | None:
    """C5's selection from fig9 (None without early-pruning runs): panel, H_find, middle and final epoch."""
    from ..early import plan as early
    from ..a1 import plan

    if not early.enabled(config):
        return None
    hfinds, base = early.hfinds(config), plan.default_h(config)
    panel = hfinds.index(base) if base in hfinds else 0
    e = early.total_epochs(config)
    middle = min(early.prune_epochs(config), key=lambda k: (abs(k - e / 2), k))
    return {"panel": panel, "hfind": hfinds[panel].slug, "heval": early.heval(config).slug, "middle_epoch": middle,
            "epochs": e}


def inputs(config: dict) -> dict:
    """The files the claims job reads: ``structured``, ``fig9`` and ``fig4`` are lists, empty when structured
    pruning, early pruning or rewinding (a one-epoch schedule) is off."""
    from ..rewinding import plan as rewinding
    from ..early import plan as early
    from ..lpr import plan as lpr
    from ..structured import plan as splan

    return {
        "summary": paths.summary(config["experiment"]),
        "fig6": lpr.data_path(config, "fig6"),
        "fig7": lpr.data_path(config, "fig7"),
        "fig8": lpr.data_path(config, "fig8"),
        "figA15": lpr.data_path(config, "figA15"),
        "figA16": lpr.data_path(config, "figA16"),
        "structured": [paths.structured_summary(config["experiment"])] if splan.enabled(config) else [],
        "fig9": [early.data_path(config, "fig9")] if early.enabled(config) else [],
        # fig4 is in the default target when there is a late rewinding point (findeval.figures: the rewinding family)
        "fig4": [rewinding.data_path(config, "fig4")] if rewinding.settings(config)["late_epoch"] is not None else [],
    }


def targets(config: dict) -> list[str]:
    from ..a1 import plan

    return [paths.claims(config["experiment"]), *plan.figure_files(config, ["claims"])]
