"""The claims report: each qualitative claim of the paper, measured on *this* run, with a paired test over seeds
and a verdict.

It reads only what the pipeline computed: ``results/<exp>/summary.csv`` (:mod:`findeval.analysis`), the
tables the LPR figures write (``results/<exp>/lpr/{fig6,fig7,fig8,figA15,figA16}.csv``, :mod:`findeval.lpr_plots`),
fig4's table (``results/<exp>/rewinding/fig4.csv``, :mod:`findeval.rewinding_plots`), fig9's
(``results/<exp>/early/fig9.csv``, :mod:`findeval.early_plots`) and, when the config has a ``structured:`` block,
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

import itertools
import logging
import math
import os
import random
import re
from typing import Callable, NamedTuple

from . import paths
from .hparams import DIMENSIONS, LABELS, format_number

log = logging.getLogger("findeval")

#: Two-sided level of the t interval, and the level the verdicts' tests can be said to reach.
CI = 0.95
ALPHA = 0.05
#: Fewest common seeds for the t interval (df = n - 1 >= 1).
MIN_SEEDS_T = 2
#: Fewest seeds for the one-sided sign-flip test to be able to reach ALPHA (2^-n <= 0.05).
MIN_SEEDS_SIGNFLIP = 5
#: Seeds the report recommends (the power test runs at this number).
RECOMMENDED_SEEDS = 5
#: Exact sign-flip enumeration up to this many seeds; beyond, this many deterministic random patterns.
SIGNFLIP_EXACT_MAX = 16
SIGNFLIP_DRAWS = 2 ** 16
#: "Moderate sparsity" of the paper (Fig. 3: 70-90%): L* is the level nearest this sparsity.
TARGET_SPARSITY = 0.8
#: Structured pruning: the ratio of channels pruned nearest this one.
TARGET_RATIO = 0.5
#: Per-seed differences are rounded to this many decimals (far below a meaningful pp or decade of LR), so that
#: float noise cannot turn an exact tie into a sign.
DIGITS = 10
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
    from .a1 import plan

    n = plan.levels(config) if n is None else int(n)
    p = float(config["pruning"]["fraction"])
    return min(range(1, n + 1), key=lambda lv: (abs(sparsity_at(p, lv) - target), lv))


def moderate_ratio(ratios, target: float = TARGET_RATIO) -> float:
    return min((float(r) for r in ratios), key=lambda r: (abs(r - target), r))


def _end(values, which: str):
    return max(values) if which == "large" else min(values)


def _good_end(dim: str) -> str:
    return "small" if BAD_END[dim] == "large" else "large"


def declared_pair(finds: list, evals: list, dim: str) -> dict:
    """C3/C7's declared comparison on one hyperparameter, from the grids alone: the good find end with the good
    eval end (decoupled) against the coupled run at that H_eval. The good eval end is taken among the eval values
    that are also in the find grid (a coupled run needs both). ``{"why": reason}`` when the grids cannot give it."""
    f = _end(finds, _good_end(dim))
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
    from .regime import far_from_paper

    return [str(w) for w in far_from_paper(config)]


def _fig4_settings(config: dict, level_star: int) -> dict | None:
    from .rewinding import plan as rewinding
    from .a1 import plan

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
    from .lpr import plan as lpr
    from .a1 import plan
    from .structured import plan as splan

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
    from .early import plan as early
    from .a1 import plan

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
    from . import figures
    from .rewinding import plan as rewinding
    from .early import plan as early
    from .lpr import plan as lpr
    from .structured import plan as splan

    return {
        "summary": paths.summary(config["experiment"]),
        "fig6": lpr.data_path(config, "fig6"),
        "fig7": lpr.data_path(config, "fig7"),
        "fig8": lpr.data_path(config, "fig8"),
        "figA15": lpr.data_path(config, "figA15"),
        "figA16": lpr.data_path(config, "figA16"),
        "structured": [paths.structured_summary(config["experiment"])] if splan.enabled(config) else [],
        "fig9": [early.data_path(config, "fig9")] if early.enabled(config) else [],
        "fig4": [rewinding.data_path(config, "fig4")] if "fig4" in figures.default_figures(config) else [],
    }


def targets(config: dict) -> list[str]:
    from .a1 import plan

    return [paths.claims(config["experiment"]), *plan.figure_files(config, ["claims"])]


# =========================================================================== statistics (pure Python)


class NotRun(Exception):
    """A claim whose inputs this run does not have: the message is the reason."""


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny, qab, qap, qam = 1e-300, a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c if abs(1 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > tiny else tiny)
        c = 1 + aa / c if abs(1 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(lbeta) * _betacf(a, b, x) / a
    return 1 - math.exp(lbeta) * _betacf(b, a, 1 - x) / b


def t_cdf(x: float, df: float) -> float:
    """Student-t distribution function."""
    tail = 0.5 * _betainc(df / 2, 0.5, df / (df + x * x))
    return 1 - tail if x > 0 else tail


def t_ppf(q: float, df: float) -> float:
    """Student-t quantile (bisection on :func:`t_cdf`; 1e-12 absolute)."""
    if not 0 < q < 1:
        raise ValueError(f"quantile level {q} is not in (0, 1)")
    if q < 0.5:
        return -t_ppf(1 - q, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < q:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2


def sign_flip_p(diffs) -> float:
    """One-sided (paper's direction) p-value of the sign-flip test: the share of sign patterns whose mean
    difference is at least the observed one (exact up to SIGNFLIP_EXACT_MAX seeds)."""
    d = [float(x) for x in diffs]
    n = len(d)
    if not n:
        return math.nan
    obs = sum(d) - 1e-9 * max(1.0, sum(abs(x) for x in d))  # ">=" with room for float error
    if n <= SIGNFLIP_EXACT_MAX:
        hits = sum(1 for signs in itertools.product((1, -1), repeat=n)
                   if sum(s * x for s, x in zip(signs, d)) >= obs)
        return hits / 2 ** n
    rng = random.Random(0)
    hits = sum(1 for _ in range(SIGNFLIP_DRAWS) if sum(x if rng.random() < 0.5 else -x for x in d) >= obs)
    return (hits + 1) / (SIGNFLIP_DRAWS + 1)


def paired_test(diffs, ci: float = CI) -> dict:
    """Effect, t interval, sign-flip p-value and verdict of per-seed differences (positive: the paper's
    direction); the rules of the module docstring."""
    d = [round(float(x), DIGITS) for x in diffs]
    n = len(d)
    out = {"effect": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p_signflip": math.nan, "n_seeds": n,
           "verdict": "underpowered", "note": ""}
    if n == 0:
        out["note"] = "no seed"
        return out
    mean = sum(d) / n
    out.update(effect=round(mean, DIGITS), p_signflip=sign_flip_p(d))
    if n < MIN_SEEDS_T:
        out["note"] = f"{n} seed: no t interval (underpowered below {MIN_SEEDS_T} seeds)"
        return out
    var = sum((x - mean) ** 2 for x in d) / (n - 1)
    if len(set(d)) == 1:  # zero variance: the t interval is a point; the sign-flip test decides
        out.update(ci_low=d[0], ci_high=d[0])
        if d[0] == 0:
            out.update(verdict="inconclusive", note="every per-seed difference is 0")
        elif n >= MIN_SEEDS_SIGNFLIP:
            out.update(verdict="reproduced" if d[0] > 0 else "not reproduced",
                       note=f"zero variance: sign-flip test, p = 2^-{n}")
        else:
            out["note"] = (f"zero variance over {n} seeds: the sign-flip test needs {MIN_SEEDS_SIGNFLIP} to reach "
                           f"{ALPHA:.0%}")
        return out
    half = t_ppf((1 + float(ci)) / 2, n - 1) * math.sqrt(var / n)
    lo, hi = round(mean - half, DIGITS), round(mean + half, DIGITS)
    out.update(ci_low=lo, ci_high=hi, verdict=verdict(lo, hi))
    return out


def verdict(ci_low: float, ci_high: float) -> str:
    """``reproduced`` (``ci_low > 0``) / ``not reproduced`` (``ci_high < 0``) / ``inconclusive`` (the interval
    contains 0); a missing interval (NaN) is ``underpowered``."""
    if ci_low is None or ci_high is None or math.isnan(ci_low) or math.isnan(ci_high):
        return "underpowered"
    if ci_low > 0:
        return "reproduced"
    if ci_high < 0:
        return "not reproduced"
    return "inconclusive"


def common_seeds(per_seed: dict) -> list:
    """The seeds every condition of ``{condition: {seed: value}}`` has, sorted."""
    if not per_seed:
        raise NotRun("no conditions")
    seeds = sorted(set.intersection(*(set(v) for v in per_seed.values())))
    if not seeds:
        raise NotRun("the conditions share no seed")
    return seeds


def per_seed_effects(per_seed: dict, statistic: Callable[[dict], float]) -> tuple[list, list]:
    """(common seeds, the statistic on each seed's values ``{condition: value}``)."""
    seeds = common_seeds(per_seed)
    return seeds, [float(statistic({k: v[s] for k, v in per_seed.items()})) for s in seeds]


def condition_means(per_seed: dict, seeds) -> dict:
    return {k: sum(float(v[s]) for s in seeds) / len(seeds) for k, v in per_seed.items()}


# =========================================================================== the claims (pandas, lazily)


def _need(tables: dict, name: str, what: str):
    t = tables.get(name)
    if t is None:
        raise NotRun(f"{what} is not part of this run")
    return t


def _by_seed(df, value: str = "test_accuracy", scale: float = 1.0) -> dict:
    """{seed: value} of one condition's rows (one row per seed expected; duplicates are averaged)."""
    return {int(s): scale * float(v) for s, v in df.groupby("seed")[value].mean().items()}


def _pct(df) -> dict:
    return _by_seed(df, scale=100.0)


def _lottery_at(summary, level: int):
    return summary[(summary["kind"] == "lottery") & (summary["level"] == level)]


def _pair_rows(at, hf: str, he: str, where: str):
    rows = at[(at["hfind"] == hf) & (at["heval"] == he)]
    if rows.empty:
        raise NotRun(f"{where} has no run of H_find {hf}, H_eval {he}")
    return rows


def _declared_vs_coupled(at, d: dict, where: str) -> dict:
    """Per-seed accuracies (%) of a declared pair ``d`` (C3, C7): the decoupled run H_find -> H_eval and the coupled
    run at that H_eval, from the rows ``at``."""
    return {"decoupled": _pct(_pair_rows(at, d["hfind"], d["heval"], where)),
            "coupled": _pct(_pair_rows(at, d["heval"], d["heval"], where))}


def _diff(a, b):
    def stat(m):
        return m[a] - m[b]
    return stat


def _mean_of_diffs(pairs: list):
    """Mean over ``pairs`` of ``m[a] - m[b]`` (a declared average of paired differences)."""
    def stat(m):
        return sum(m[a] - m[b] for a, b in pairs) / len(pairs)
    return stat


def best_key(means: dict, keys, *, prefer_largest: bool):
    """The key of largest mean; among ties the largest (``prefer_largest``) or smallest key."""
    top = max(means[k] for k in keys)
    tied = sorted(k for k in keys if round(means[k], DIGITS) == round(top, DIGITS))
    return tied[-1] if prefer_largest else tied[0]


def claim_best_lr_find_below_dense(tables: dict, params: dict):
    level = params["level"]
    if len(params["lr_dense"]) < 2:
        raise NotRun("the LR find grid has one value")
    summary = _need(tables, "summary", "summary.csv")
    per_seed = {}
    dense0 = summary[(summary["kind"] == "lottery") & (summary["level"] == 0)]
    for lr, slug in params["lr_dense"]:
        rows = dense0[(dense0["hfind"] == slug) & (dense0["heval"] == slug)]
        if rows.empty:
            raise NotRun(f"summary.csv has no dense run (level 0) with H = {slug}")
        per_seed[("dense", lr)] = _pct(rows)
    at = _lottery_at(summary, level)
    for lf, le, hf, he in params["lr_pairs"]:
        per_seed[("pruned", lf, le)] = _pct(_pair_rows(at, hf, he, f"summary.csv at level {level}"))
    dense_lrs = [lr for lr, _ in params["lr_dense"]]
    finds = sorted({lf for lf, *_ in params["lr_pairs"]})

    def choose(m):
        best_dense = best_key(m, [("dense", lr) for lr in dense_lrs], prefer_largest=False)[1]
        per_find = {lf: max(m[k] for k in m if k[0] == "pruned" and k[1] == lf) for lf in finds}
        return best_dense, best_key(per_find, finds, prefer_largest=True), per_find

    def stat(m):
        best_dense, best_find, _ = choose(m)
        return math.log10(best_dense) - math.log10(best_find)

    def detail(m):
        best_dense, best_find, per_find = choose(m)
        return (f"best dense LR {format_number(best_dense)} ({m[('dense', best_dense)]:.1f}%), best LR_find "
                f"{format_number(best_find)} ({per_find[best_find]:.1f}% with its best LR_eval) at level {level}; "
                f"descriptive: an argmax on the means, no paired per-seed test without selection")

    return per_seed, {"statistic": stat, "detail": detail, "descriptive": True}


def _early(df, share: float) -> dict:
    """{seed: mean LPR (%) of the first ``ceil(share * n_layers)`` layers} of one line's rows of an LPR table."""
    n_layers = int(df["layer_index"].nunique())
    k = max(1, math.ceil(share * n_layers))
    early = df[df["layer_index"] < k]
    return {int(s): 100 * float(v) for s, v in early.groupby("seed")["ratio"].mean().items()}


def _lpr_rows(table, panel: int, label: str, level: int, what: str):
    rows = table[(table["panel"] == panel) & (table["panel_type"] == "lpr") & (table["line"] == label)
                 & (table["level"] == level)]
    if rows.empty:
        raise NotRun(f"{what} has no LPR rows for {label!r} at level {level}")
    return rows


def _acc_rows(table, panel: int, label: str, level: int, what: str):
    rows = table[(table["panel"] == panel) & (table["line"] == label) & (table["level"] == level)]
    if "panel_type" in rows:
        rows = rows[rows["panel_type"] == "accuracy"]
    if rows.empty:
        raise NotRun(f"{what} has no accuracy rows for {label!r} at level {level}")
    return rows


def claim_early_layers(dim: str):
    def claim(tables: dict, params: dict):
        spec = params["fig6"]["panels"][dim]
        lines = spec["lines"]
        if len(lines) < 2:
            raise NotRun(f"the {LABELS[dim]} find grid has one value")
        fig6 = _need(tables, "fig6", f"the fig6 table ({paths.table('<exp>', 'lpr', 'fig6')})")
        small, large = lines[0], lines[-1]
        level = params["fig6"]["level"]
        per_seed = {name: _early(_lpr_rows(fig6, spec["panel"], line["label"], level, "fig6.csv"),
                                 params["early_share"])
                    for name, line in (("small", small), ("large", large))}
        bad = BAD_END[dim]

        def detail(m):
            return (f"early-layer LPR {m['small']:.1f}% ({LABELS[dim]}_find = {format_number(small['value'])}) vs "
                    f"{m['large']:.1f}% ({LABELS[dim]}_find = {format_number(large['value'])}) at level {level}; "
                    f"direction of the text (L114), Fig. 8's caption (L124) and L25; Fig. 6's caption (L108) states "
                    f"the opposite")

        return per_seed, {"statistic": _diff(bad, _good_end(dim)), "detail": detail, "level": level}

    return claim


def claim_decoupled_beats_coupled(dim: str):
    def claim(tables: dict, params: dict):
        d = params["declared"][dim]
        if d is None or "find" not in d:
            raise NotRun(f"{LABELS[dim]} grids: " + (d or {}).get("why", "no declared pair"))
        level = params["level"]
        at = _lottery_at(_need(tables, "summary", "summary.csv"), level)
        per_seed = _declared_vs_coupled(at, d, f"summary.csv at level {level}")

        def detail(m):
            return (f"decoupled {d['hfind']} -> {d['heval']} {m['decoupled']:.1f}% vs coupled {d['heval']} "
                    f"{m['coupled']:.1f}% at level {level} (declared: good H_find end -> good H_eval end, L84)")

        return per_seed, {"statistic": _diff("decoupled", "coupled"), "detail": detail}

    return claim


def claim_match_good_beats_bad(dim: str):
    def claim(tables: dict, params: dict):
        spec = params["fig7"].get(dim)
        if spec is None:
            raise NotRun(f"fig7 has no {LABELS[dim]} panel (good and bad {LABELS[dim]}_find coincide)")
        fig7 = _need(tables, "fig7", f"the fig7 table ({paths.table('<exp>', 'lpr', 'fig7')})")
        level = params["level"]
        per_seed = {}
        for style in ("match-good", "match-bad"):
            rows = fig7[(fig7["panel"] == spec["panel"]) & (fig7["style"] == style) & (fig7["level"] == level)]
            if rows.empty:
                raise NotRun(f"fig7.csv has no {style}-LPR runs at level {level}")
            per_seed[style] = _pct(rows)

        def detail(m):
            g, b = format_number(spec["good"]), format_number(spec["bad"])
            return (f"match-good-LPR {m['match-good']:.1f}% ({LABELS[dim]}_find {b}, LPR of {g}) vs "
                    f"match-bad-LPR {m['match-bad']:.1f}% at level {level}")

        return per_seed, {"statistic": _diff("match-good", "match-bad"), "detail": detail}

    return claim


def claim_early_pruning(tables: dict, params: dict):
    spec = params.get("fig9")
    if spec is None:
        raise NotRun("this config has no early-pruning runs (no early_pruning: block; Fig. 9: masks from the "
                     "weights at a middle epoch)")
    fig9 = _need(tables, "fig9", f"the early-pruning table ({paths.table('<exp>', 'early', 'fig9')})")
    level = params["level"]
    at = fig9[(fig9["panel"] == spec["panel"]) & (fig9["level"] == level)]
    per_seed = {}
    for key, k in (("middle", spec["middle_epoch"]), ("convergence", spec["epochs"])):
        rows = at[at["prune_epoch"] == k]
        if rows.empty:
            raise NotRun(f"fig9.csv has no early-pruning runs pruned at epoch {k} at level {level}")
        per_seed[key] = _pct(rows)

    def detail(m):
        return (f"pruned at epoch {spec['middle_epoch']} {m['middle']:.1f}% vs at convergence (epoch "
                f"{spec['epochs']}) {m['convergence']:.1f}%, H_find {spec['hfind']}, H_eval {spec['heval']}, "
                f"level {level}; strict: improves, not merely matches")

    return per_seed, {"statistic": _diff("middle", "convergence"), "detail": detail}


def claim_wd0_lpr_spread(tables: dict, params: dict):
    f8 = params["fig8"]
    level = params["fig6"]["level"]
    if f8["default_wd"] == 0:
        raise NotRun("defaults.weight_decay is 0: fig6's LR_find panel already has WD_find = 0")
    if f8["panel"] is None:
        raise NotRun(f"fig8 has no LPR panel at fig6's level {level} (fig8 levels {f8['levels']})")
    fig6 = _need(tables, "fig6", f"the fig6 table ({paths.table('<exp>', 'lpr', 'fig6')})")
    fig8 = _need(tables, "fig8", f"the fig8 table ({paths.table('<exp>', 'lpr', 'fig8')})")
    lines6 = {line["value"]: line["label"] for line in params["fig6"]["panels"]["lr"]["lines"]}
    lines8 = {line["value"]: line["label"] for line in f8["lines"]}
    lrs = sorted(set(lines6) & set(lines8))
    if len(lrs) < 2:
        raise NotRun("fig6 and fig8 share fewer than two LR_find values")
    share = params["early_share"]
    per_seed = {}
    for lr in lrs:
        per_seed[("wd", lr)] = _early(_lpr_rows(fig6, params["fig6"]["panels"]["lr"]["panel"], lines6[lr], level,
                                                "fig6.csv"), share)
        per_seed[("wd0", lr)] = _early(_lpr_rows(fig8, f8["panel"], lines8[lr], level, "fig8.csv"), share)

    def spread(m, which):
        values = [m[(which, lr)] for lr in lrs]
        return max(values) - min(values)

    def stat(m):
        return spread(m, "wd") - spread(m, "wd0")

    def detail(m):
        return (f"early-layer LPR spread over LR_find {', '.join(map(format_number, lrs))} (means): "
                f"{spread(m, 'wd'):.1f} pp with WD_find = {format_number(f8['default_wd'])}, "
                f"{spread(m, 'wd0'):.1f} pp with WD_find = 0 at level {level}")

    return per_seed, {"statistic": stat, "detail": detail, "level": level}


def claim_structured(dim: str):
    def claim(tables: dict, params: dict):
        spec = params.get("structured")
        if spec is None:
            raise NotRun("structured pruning is off in this config (no structured: block)")
        d = spec["declared"][dim]
        if d is None or "find" not in d:
            raise NotRun(f"structured {LABELS[dim]} grids: " + (d or {}).get("why", "no declared pair"))
        ratio = spec["ratio"]
        table = _need(tables, "structured", f"the structured summary ({paths.structured_summary('<exp>')})")
        at = table[(table["kind"] == "finetune") & ((table["ratio"] - ratio).abs() < 1e-9)]
        per_seed = _declared_vs_coupled(at, d, f"the structured summary (fine-tuned, ratio {format_number(ratio)})")

        def detail(m):
            return (f"decoupled {d['hfind']} -> {d['heval']} {m['decoupled']:.1f}% vs coupled {d['heval']} "
                    f"{m['coupled']:.1f}% at ratio {format_number(ratio)}")

        return per_seed, {"statistic": _diff("decoupled", "coupled"), "detail": detail, "level": None,
                          "sparsity": ratio}

    return claim


def claim_below_random(baseline: str):
    """C8: the coupled ticket of fig1's largest LR against global random (or preserve LPR against global
    random) at the last level."""
    def claim(tables: dict, params: dict):
        h, level = params["fig1"]["h"], params["last_level"]
        summary = _need(tables, "summary", "summary.csv")
        at = summary[summary["level"] == level]
        gr = at[(at["kind"] == "global_random") & (at["heval"] == h)]
        if gr.empty:
            raise NotRun(f"summary.csv has no global random run with H_eval {h} at level {level}")
        if baseline == "lottery":
            other = _pair_rows(_lottery_at(summary, level), h, h, f"summary.csv at level {level}")
        else:
            other = at[(at["kind"] == "preserve_lpr") & (at["hfind"] == h) & (at["heval"] == h)]
            if other.empty:
                raise NotRun(f"summary.csv has no preserve-LPR run with H {h} at level {level}")
        per_seed = {"global random": _pct(gr), baseline: _pct(other)}

        def detail(m):
            return (f"global random {m['global random']:.1f}% vs {baseline.replace('_', ' ')} {m[baseline]:.1f}%, "
                    f"coupled H {h} (fig1's largest LR), last level {level}")

        return per_seed, {"statistic": _diff("global random", baseline), "detail": detail, "level": level}

    return claim


def _fig4(params: dict):
    spec = params.get("fig4")
    if spec is None:
        raise NotRun("fig4 is not planned (a one-epoch schedule has nothing to rewind to)")
    return spec


def claim_fig4_small_lr_find(variant: str):
    def claim(tables: dict, params: dict):
        spec = _fig4(params)
        lines = spec["panels"].get(variant, {}).get("lines") or []
        finds = sorted({ln["lr_find"] for ln in lines})
        if len(finds) < 2:
            raise NotRun(f"fig4's {variant} panel has fewer than two LR_find values")
        table = _need(tables, "fig4", f"the fig4 table ({paths.table('<exp>', 'rewinding', 'fig4')})")
        panel, level = spec["panels"][variant]["panel"], spec["level"]
        label = {(ln["lr_find"], ln["lr_eval"]): ln["label"] for ln in lines}
        evals = sorted({e for f, e in label if (min(finds), e) in label and (max(finds), e) in label})
        if not evals:
            raise NotRun(f"fig4's {variant} panel has no LR_eval with both the smallest and largest LR_find")
        per_seed, pairs = {}, []
        for e in evals:
            for f in (min(finds), max(finds)):
                per_seed[(f, e)] = _pct(_acc_rows(table, panel, label[(f, e)], level, "fig4.csv"))
            pairs.append(((min(finds), e), (max(finds), e)))

        def detail(m):
            parts = [f"LR_eval {format_number(e)}: {m[(min(finds), e)]:.1f}% (LR_find {format_number(min(finds))}) "
                     f"vs {m[(max(finds), e)]:.1f}% ({format_number(max(finds))})" for e in evals]
            return "; ".join(parts) + f" at level {level}"

        return per_seed, {"statistic": _mean_of_diffs(pairs), "detail": detail, "level": level}

    return claim


def claim_lr_rewinding_beats_weight_rewinding(tables: dict, params: dict):
    spec = _fig4(params)
    w, level = spec["weight"], spec["level"]
    lines = spec["panels"].get("lr_rewind", {}).get("lines") or []
    label = next((ln["label"] for ln in lines if ln["lr_find"] == w["lr_find"] and ln["lr_eval"] == w["lr_eval"]),
                 None)
    if label is None:
        raise NotRun(f"fig4's LR-rewinding panel has no line LR_find {format_number(w['lr_find'])} -> LR_eval "
                     f"{format_number(w['lr_eval'])}")
    table = _need(tables, "fig4", f"the fig4 table ({paths.table('<exp>', 'rewinding', 'fig4')})")
    summary = _need(tables, "summary", "summary.csv")
    per_seed = {"lr rewinding": _pct(_acc_rows(table, spec["panels"]["lr_rewind"]["panel"], label, level,
                                               "fig4.csv")),
                "weight rewinding": _pct(_pair_rows(_lottery_at(summary, level), w["hfind"], w["heval"],
                                                    f"summary.csv at level {level}"))}

    def detail(m):
        return (f"LR rewinding {m['lr rewinding']:.1f}% vs weight rewinding {m['weight rewinding']:.1f}%, "
                f"{w['hfind']} -> {w['heval']} at level {level}")

    return per_seed, {"statistic": _diff("lr rewinding", "weight rewinding"), "detail": detail, "level": level}


def _local_claim(tables: dict, params: dict, fig: str, panels: list, dim: str, winner: str):
    """acc(``winner`` end of the find grid) - acc(the other end), averaged over ``panels`` (local pruning)."""
    table = _need(tables, fig, f"the {fig} table ({paths.table('<exp>', 'lpr', fig)})")
    level = params["level"]
    per_seed, pairs = {}, []
    for spec in panels:
        lines = spec["lines"]
        if len(lines) < 2:
            raise NotRun(f"the {LABELS[dim]} find grid has one value")
        small, large = lines[0], lines[-1]
        win, lose = (large, small) if winner == "large" else (small, large)
        for line in (win, lose):
            per_seed[(spec["panel"], line["value"])] = _pct(_acc_rows(table, spec["panel"], line["label"], level,
                                                                      f"{fig}.csv"))
        pairs.append(((spec["panel"], win["value"]), (spec["panel"], lose["value"])))

    def detail(m):
        return "; ".join(f"panel {a[0]}: {LABELS[dim]}_find {format_number(a[1])} {m[a]:.1f}% vs "
                         f"{format_number(b[1])} {m[b]:.1f}%" for a, b in pairs) + f" at level {level}"

    return per_seed, {"statistic": _mean_of_diffs(pairs), "detail": detail}


def claim_local_lr(tables: dict, params: dict):
    if not params["figA15"]:
        raise NotRun("figA15 has no panel")
    return _local_claim(tables, params, "figA15", params["figA15"], "lr", "large")


def claim_local_opposite(dim: str):
    def claim(tables: dict, params: dict):
        return _local_claim(tables, params, "figA16", [params["figA16"][dim]], dim, BAD_END[dim])
    return claim


def claim_wd0_large_lr_better(tables: dict, params: dict):
    f8 = params["fig8"]
    lines = f8["accuracy_lines"]
    if len(lines) < 2:
        raise NotRun("fig8 has one LR_find value")
    table = _need(tables, "fig8", f"the fig8 table ({paths.table('<exp>', 'lpr', 'fig8')})")
    level = params["level"]
    small, large = lines[0], lines[-1]
    per_seed = {name: _pct(_acc_rows(table, f8["accuracy_panel"], line["label"], level, "fig8.csv"))
                for name, line in (("small", small), ("large", large))}

    def detail(m):
        return (f"WD_find = 0: LR_find {format_number(large['value'])} {m['large']:.1f}% vs "
                f"{format_number(small['value'])} {m['small']:.1f}% at level {level}")

    return per_seed, {"statistic": _diff("large", "small"), "detail": detail}


# =========================================================================== the table


class Claim(NamedTuple):
    """One claim of the paper: its row texts, the function that measures it (``fn(tables, params)``) and the
    tables it reads (keys of :func:`inputs`; :func:`evaluate` hands ``fn`` only these)."""

    id: str
    claim: str
    section: str
    quote: str
    paper_value: str
    unit: str
    definition: str
    fn: Callable
    tables: tuple[str, ...] = ()


class _Declared(dict):
    """The tables one claim declared; reading any other is a bug in the claim's record (KeyError)."""

    def __init__(self, tables: dict, spec: Claim):
        super().__init__({k: tables.get(k) for k in spec.tables})
        self.spec = spec

    def get(self, key, default=None):
        return self[key] if self[key] is not None else default

    def __missing__(self, key):
        raise KeyError(f"claim {self.spec.id} reads table {key!r}, not among its declared tables {self.spec.tables}")


_MOST = {"small": "smallest", "large": "largest"}
_LEVEL_STAR = "L* (the level nearest 80% sparsity)"
_EARLY = "early(H) = mean LPR (%) of the first third of the prunable layers (network order) of H_find = H's masks"
_GOOD_EVAL = {"lr": "larger LR_{eval}", "batch_size": "smaller BS_{eval}", "weight_decay": "larger WD_{eval}"}
_Q_C2 = ("the bad H_{find} values (large LR_{find}, small BS_{find}, and large WD_{find}) tend to prune the earlier "
         "layers much more")
_Q_C3 = "decoupled is better by about 3-4 percentage points around sparsity levels 70-90%"
_Q_C4 = "match-good-LPR (blue) substantially outperformed the match-bad-LPR (orange; Figure 7)"
_Q_C7 = ("The decoupled configuration can increase the top-1 accuracy by up to 2 percentage points at moderate "
         "sparsity levels.")
_Q_C9 = {"late": "The better LR_{find} for pruned models is the smaller one (blue is better than green, orange is "
                 "better than red)",
         "warmup": "The effect of LR_{find} is the same as well, although it is more subtle (Figure 4b).",
         "lr_rewind": "The better LR_{find} for pruned models is the smaller one (blue is better than green, orange "
                      "is better than red)"}
_VARIANT_NAMES = {"late": "late rewinding", "warmup": "LR warmup", "lr_rewind": "LR rewinding"}


def _c2(d):
    bad, good = BAD_END[d], _good_end(d)
    return Claim(f"C2-{LABELS[d]}", f"{bad} {LABELS[d]}_find prunes early layers more", "Sec. 3.4, Fig. 6 (L114)",
                 _Q_C2, "", "pp", f"early({_MOST[bad]} {LABELS[d]}_find) - early({_MOST[good]} {LABELS[d]}_find) of "
                 f"the find grid, at fig6's level; {_EARLY}", claim_early_layers(d), ("fig6",))


def _c3(d):
    return Claim(f"C3-{LABELS[d]}", f"decoupled beats coupled ({LABELS[d]}), moderate sparsity",
                 "Sec. 3.2, Fig. 3 (L86)", _Q_C3, "+3 to +4 pp", "pp",
                 f"acc({_MOST[_good_end(d)]} {LABELS[d]}_find -> {_MOST[BAD_END[d]]} {LABELS[d]}_eval) - acc(coupled "
                 f"at that {LABELS[d]}_eval), at {_LEVEL_STAR}; declared pair: L84's good H_find with its "
                 f"'{_GOOD_EVAL[d]}'", claim_decoupled_beats_coupled(d), ("summary",))


CLAIMS = [
    Claim("C1", "the best LR_find (pruned) is below the best dense LR", "Sec. 3.2, Figs. 1, 2 (L86)",
          "the good H_{find} values do not achieve the highest model accuracy", "", "decades of LR",
          "log10(best dense LR) - log10(best LR_find at L*) on the means; best dense LR = argmax of mean level-0 "
          "accuracy; best LR_find = argmax over LR_find of max over LR_eval; ties against the claim; descriptive",
          claim_best_lr_find_below_dense, ("summary",)),
    *[_c2(d) for d in DIMENSIONS],
    *[_c3(d) for d in DIMENSIONS],
    *[Claim(f"C4-{LABELS[d]}", f"match-good-LPR beats match-bad-LPR ({LABELS[d]})", "Sec. 3.4, Fig. 7 (L118)",
            _Q_C4, "", "pp", f"acc(match-good-LPR) - acc(match-bad-LPR) ({LABELS[d]} panel of fig7, same H_eval) at "
            f"{_LEVEL_STAR}", claim_match_good_beats_bad(d), ("fig7",)) for d in DIMENSIONS],
    Claim("C5", "early pruning at a middle epoch improves on pruning at convergence", "Sec. 3.5, Fig. 9 (L128)",
          "pruning at epochs 50 (orange) or 70 (green) is actually better than pruning at convergence (110 epochs, "
          "red)", "slight gain", "pp",
          f"acc(masks pruned at fig9's epoch nearest half the schedule) - acc(at convergence), same H_eval, fig9's "
          f"panel of the default H_find, at {_LEVEL_STAR}; strict (> 0)", claim_early_pruning, ("fig9",)),
    Claim("C6", "with WD_find = 0, LR_find barely moves the LPR", "Sec. 3.4, Fig. 8 (L120)",
          "when the weight decay is set to 0, the learning rate barely affects the LPR", "", "pp",
          f"spread(default WD_find) - spread(WD_find = 0) per seed, spread = max - min over LR_find of early(H) at "
          f"fig6's level; {_EARLY}", claim_wd0_lpr_spread, ("fig6", "fig8")),
    *[Claim(f"C7-{LABELS[d]}", f"structured: decoupled beats coupled ({LABELS[d]})", "Sec. 3.3, Fig. 5 (L100)",
            _Q_C7, "up to +2 pp", "pp", f"as C3 on the structured grids (fine-tuned runs) at the ratio of channels "
            f"pruned nearest 0.5", claim_structured(d), ("structured",)) for d in DIMENSIONS],
    Claim("C8-GR", "the coupled largest-LR ticket falls below global random at high sparsity",
          "Sec. 3.1, Fig. 1a (L40, L66)", "LR = 0.5 performed very poorly, even worse than the random baseline",
          "> 25 pp at 96-98%", "pp", "acc(global random) - acc(lottery), coupled H of fig1's largest LR, last level",
          claim_below_random("lottery"), ("summary",)),
    Claim("C8-PL", "preserve LPR of the largest-LR ticket falls below global random at high sparsity",
          "Sec. 3.1, Fig. 1a (L58, L66)",
          "the winning tickets (blue) and the random baseline with the same LPR as the winning ticket (green) are "
          "both worse than the global random baseline (orange) by over 25 percentage points at 96-98% sparsity",
          "> 25 pp at 96-98%", "pp", "acc(global random) - acc(preserve LPR), coupled H of fig1's largest LR, last "
          "level", claim_below_random("preserve_lpr"), ("summary",)),
    *[Claim(f"C9-{VARIANT_IDS[v]}", f"a smaller LR_find is better under {_VARIANT_NAMES[v]}",
            f"Sec. 3.3, Fig. 4{'abc'[i]} ({'L96' if v == 'warmup' else 'L82'})", _Q_C9[v], "", "pp",
            "acc(smallest LR_find) - acc(largest LR_find), mean over the panel's LR_eval values, at fig4's level "
            "nearest 80% sparsity", claim_fig4_small_lr_find(v), ("fig4",)) for i, v in enumerate(("late", "warmup",
                                                                                           "lr_rewind"))],
    Claim("C10", "LR rewinding to a high LR_eval beats weight rewinding", "Sec. 3.3, Fig. 4c (L98)",
          "taking a mask from a small LR_{find} and using learning rate rewinding to a high LR_{eval} improves "
          "accuracy by approximately 3 percentage points compared to weight rewinding (Figure 4c)", "about +3 pp",
          "pp", "acc(LR rewinding, smallest LR_find -> largest LR_eval) - acc(weight rewinding: the regular ticket, "
          "same pair), at fig4's level nearest 80% sparsity", claim_lr_rewinding_beats_weight_rewinding,
          ("fig4", "summary")),
    Claim("C11", "local pruning: a larger LR_find is better", "App., Fig. A15 (L301)",
          "For both values of LR_{eval} , we see that the larger the LR_{find} , the better the pruned models perform.",
          "", "pp", f"acc(largest LR_find) - acc(smallest LR_find), local masks, mean over figA15's LR_eval panels, "
          f"at {_LEVEL_STAR}", claim_local_lr, ("figA15",)),
    *[Claim(f"C12-{LABELS[d]}", f"local pruning: {BAD_END[d]} {LABELS[d]}_find is better (opposite of global)",
            "App., Fig. A16 (L305)", "While large BS_{find} and small WD_{find} performed well in global pruning, we "
            "see the opposite for local pruning.", "", "pp",
            f"acc({_MOST[BAD_END[d]]} {LABELS[d]}_find) - acc({_MOST[_good_end(d)]}), local masks, figA16's H_eval, "
            f"at {_LEVEL_STAR}", claim_local_opposite(d), ("figA16",)) for d in ("batch_size", "weight_decay")],
    Claim("C13", "with WD_find = 0, the larger LR_find does better", "Sec. 3.4, Fig. 8c (L124)",
          "the larger LR_{find} does better (c)", "", "pp",
          f"acc(largest LR_find) - acc(smallest LR_find), WD_find = 0, fig8's H_eval, at {_LEVEL_STAR}",
          claim_wd0_large_lr_better, ("fig8",)),
]


def evaluate(claim_id: str, tables: dict, params: dict) -> dict:
    """One row of the claims table."""
    spec = next(c for c in CLAIMS if c.id == claim_id)
    row = {"claim_id": spec.id, "claim": spec.claim, "section": spec.section, "quote": spec.quote,
           "paper_value": spec.paper_value, "effect": math.nan, "ci_low": math.nan, "ci_high": math.nan,
           "p_signflip": math.nan, "unit": spec.unit, "verdict": "not run", "n_seeds": 0, "level": params["level"],
           "sparsity": params["sparsity"], "detail": "", "definition": spec.definition,
           "regime_warnings": "; ".join(params.get("regime_warnings") or [])}
    try:
        per_seed, how = spec.fn(_Declared(tables, spec), params)
        seeds, diffs = per_seed_effects(per_seed, how["statistic"])
    except NotRun as reason:
        row["detail"] = f"not run: {reason}"
        return row
    if "level" in how:
        row["level"] = how["level"]
        row["sparsity"] = sparsity_at(params["fraction"], how["level"]) if how["level"] is not None else math.nan
    if "sparsity" in how:
        row["sparsity"] = how["sparsity"]
    means = condition_means(per_seed, seeds)
    detail = how["detail"](means)
    if how.get("descriptive"):
        row.update(effect=round(float(how["statistic"](means)), DIGITS), verdict="descriptive", n_seeds=len(seeds))
    else:
        res = paired_test(diffs, params.get("ci", CI))
        row.update({k: res[k] for k in ("effect", "ci_low", "ci_high", "p_signflip", "n_seeds", "verdict")})
        if res["note"]:
            detail += f"; {res['note']}"
    row["detail"] = f"{detail}; seeds {','.join(map(str, seeds))}"
    return row


def claims_table(tables: dict, params: dict):
    """The claims table from the pipeline's tables (DataFrames keyed as :data:`INPUTS`, or None / absent for a
    table this run does not have)."""
    import pandas as pd

    return pd.DataFrame([evaluate(c.id, tables, params) for c in CLAIMS], columns=COLUMNS)


def read_tables(files: dict) -> dict:
    """Read the input tables; a path that is None, empty or missing gives None (its claims are ``not run``)."""
    import pandas as pd

    tables = {}
    for name in INPUTS:
        path = files.get(name)
        if isinstance(path, (list, tuple)):
            path = path[0] if path else None
        tables[name] = pd.read_csv(path) if path and os.path.exists(path) else None
    return tables


def write_report(files: dict, params: dict, *, out_csv: str, pdf: str | None = None, png: str | None = None,
                 style: dict | None = None):
    """The claims job: read the tables, write ``claims.csv`` and (with ``pdf``/``png``) the figure."""
    from .io import atomic_path

    table = claims_table(read_tables(files), params)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    warnings = list(params.get("regime_warnings") or [])
    for w in warnings:
        log.warning("regime far from the paper's: %s", w)
    for _, r in table.iterrows():
        log.info("%s %s: %s (effect %.3g %s, 95%% t interval [%.3g, %.3g], sign-flip p %.3g, %d seeds) %s",
                 r["claim_id"], r["claim"], r["verdict"], r["effect"], r["unit"], r["ci_low"], r["ci_high"],
                 r["p_signflip"], r["n_seeds"], r["detail"])
    if pdf or png:
        from .claims_plot import draw_claims

        draw_claims(table, pdf=pdf, png=png, style=style, warnings=warnings,
                    title=f"claims of the paper on experiment '{params['experiment']}'")
    return table
