"""The claims report: each qualitative claim of the paper, measured on *this* run, with a bootstrap interval
over seeds and a verdict.

It reads only what the pipeline computed: ``results/<exp>/summary.csv`` (:mod:`findeval.analysis`), the
tables the LPR figures write (``results/<exp>/lpr/fig6.csv``, ``fig7.csv``, ``fig8.csv``,
:mod:`findeval.lpr_plots`) and, when the config has a ``structured:`` block,
``results/<exp>/structured/summary.csv`` (:mod:`findeval.structured_plots`). A claim whose inputs are not part
of the configuration (no early-pruning runs, a one-value grid, structured pruning off) is reported as
``not run`` with the reason, never with a number.

Every claim is a statistic of the *per-condition means over seeds* (a condition: one line of a figure at one
level), oriented so that a positive ``effect`` is the paper's direction. Notation: ``L*`` is the level whose
sparsity ``1 - (1 - p)^L`` is nearest 80% (the paper's "moderate sparsity", 70-90%; ties: the lower level);
``acc`` is test accuracy in percent; ``early(H)`` is the unweighted mean, over the first third of the
prunable layers in network order (``ceil(n_layers / 3)`` layers), of the per-layer pruning ratio (LPR, in %)
of the mask found with H_find = H.

- **C1** best LR_find below the best dense LR: ``log10(best dense LR) - log10(best LR_find at L*)``, best dense
  LR = argmax over the LR find grid of mean dense (level 0) accuracy, best LR_find = argmax over LR_find of
  max over LR_eval of mean accuracy at L* (other hyperparameters at their defaults). Ties go against the claim
  (best dense LR: the smallest tied; best LR_find: the largest tied). Unit: decades of LR.
- **C2-LR / C2-BS / C2-WD** bad H_find prunes early layers more (fig6 table, level of fig6):
  ``early(large LR_find) - early(small LR_find)``, ``early(small BS_find) - early(large BS_find)``,
  ``early(large WD_find) - early(small WD_find)``, smallest and largest values of the find grid. Unit: pp.
- **C3-LR / -BS / -WD** best decoupled beats best coupled at moderate sparsity (summary, Fig. 3's lines):
  ``max over H_find != H_eval pairs of mean acc at L* - max over H_find == H_eval pairs``, pairs of the
  figA2-A7 grid of one hyperparameter. (The max over more decoupled pairs than coupled ones favours decoupled
  a little: a selection effect the paper's Fig. 3 shares.) Unit: pp.
- **C4-LR / -BS / -WD** match-good-LPR beats match-bad-LPR (fig7 table): ``acc(match-good-LPR) -
  acc(match-bad-LPR)`` at L*, same H_eval. Unit: pp.
- **C5** early pruning at a middle epoch is at least as good as at convergence (fig9 table, when the config has
  an ``early_pruning`` block): ``acc(pruned at k_mid) - acc(pruned at convergence)`` at L*, same H_eval, for
  fig9's panel of the default H_find (else its first panel); ``k_mid`` = the pruning epoch of fig9 nearest half
  the schedule (ties: the earlier). Unit: pp. ``not run`` without early-pruning runs.
- **C6** with WD_find = 0, LR_find barely moves the LPR: ``spread(default WD) - spread(WD = 0)``, spread =
  max - min over LR_find (values in both fig6's LR panel and fig8) of ``early(H)`` at fig6's level (fig6 and
  fig8 tables). Unit: pp.
- **C7-LR / -BS / -WD** structured: best decoupled beats best coupled (structured summary, fine-tuned runs):
  as C3 at the structured ratio nearest 0.5 of the channels (ties: the lower ratio), pairs of figA10-A12.

Bootstrap: resample the seeds common to the claim's conditions with replacement (``n_boot`` resamples, one
``numpy.random.default_rng(rng_seed)`` per claim, so the table is deterministic and the resamples are paired
across conditions), recompute the statistic on each resample's means; the interval is the outer order
statistics at ``(1 - ci) / 2`` and ``(1 + ci) / 2`` (numpy quantile methods ``lower`` / ``higher``).

Verdict (every claim here but C5 is strict, ``effect > 0``): ``reproduced`` when ``ci_low > 0``; ``not
reproduced`` when ``ci_high <= 0`` (no resample shows the claimed direction); ``inconclusive`` otherwise, and
with fewer than two seeds (no interval). A non-strict claim (``effect >= 0``, C5) is reproduced when
``ci_low >= 0`` and not reproduced when ``ci_high < 0``.

The planning half (:func:`settings`, :func:`inputs`) is pure Python on the config (the Snakefile imports it at
parse time: no numpy, pandas or file access); the rest imports numpy and pandas lazily.
"""

from __future__ import annotations

import logging
import math
import os

from .hparams import DIMENSIONS, LABELS, format_number

log = logging.getLogger("findeval")

#: Bootstrap resamples, RNG seed and interval of the report (not config keys: the schema has none for them).
N_BOOT = 2000
RNG_SEED = 0
CI = 0.95
#: "Moderate sparsity" of the paper (Fig. 3: 70-90%): L* is the level nearest this sparsity.
TARGET_SPARSITY = 0.8
#: Structured pruning: the ratio of channels pruned nearest this one.
TARGET_RATIO = 0.5
#: Effects are rounded to this many decimals (far below a meaningful pp or decade of LR), so that float noise
#: cannot turn an exact tie (effect 0) into a sign.
DIGITS = 10
#: Share of the prunable layers (network order) that are "early layers".
EARLY_SHARE = 1 / 3

VERDICTS = ("reproduced", "not reproduced", "inconclusive", "not run")
COLUMNS = ["claim_id", "claim", "source", "effect", "ci_low", "ci_high", "unit", "verdict", "n_seeds", "n_boot",
           "level", "sparsity", "detail", "definition"]
INPUTS = ("summary", "fig6", "fig7", "fig8", "structured", "fig9")
#: Direction of the paper's claim about early-layer LPR: the "bad" end of each find grid.
BAD_END = {"lr": "large", "batch_size": "small", "weight_decay": "large"}


# =========================================================================== planning (parse time)


def _opts(config: dict) -> dict:
    """``figures.claims`` when the schema has it (n_boot, rng_seed, level); the module constants otherwise."""
    return (config.get("figures") or {}).get("claims") or {}


def sparsity_at(fraction: float, level: int) -> float:
    return 1 - (1 - float(fraction)) ** int(level)


def moderate_level(config: dict, target: float = TARGET_SPARSITY) -> int:
    """L*: the level of 1..N whose sparsity is nearest ``target`` (ties: the lower level)."""
    from . import plan

    n, p = plan.levels(config), float(config["pruning"]["fraction"])
    return min(range(1, n + 1), key=lambda lv: (abs(sparsity_at(p, lv) - target), lv))


def moderate_ratio(ratios, target: float = TARGET_RATIO) -> float:
    return min((float(r) for r in ratios), key=lambda r: (abs(r - target), r))


def _pairs(lines) -> list[list[str]]:
    return [[ln.hfind.slug, ln.heval.slug] for ln in lines]


def _lpr_panel_lines(panel: dict, values: list) -> list[dict]:
    """Line labels of an LPR panel with the hyperparameter value each stands for (lines are in value order)."""
    labels = [line["label"] for line in panel["lines"]]
    if len(labels) != len(values):
        raise ValueError(f"LPR panel {panel['title']!r} has {len(labels)} lines for {len(values)} values")
    return [{"value": v, "label": lab} for v, lab in zip(values, labels)]


def settings(config: dict) -> dict:
    """Everything the claims job computes from, as plain values (Snakemake params)."""
    from . import lpr, plan
    from . import structured_plan as splan

    opts = _opts(config)
    level = int(opts.get("level") or moderate_level(config))
    fraction = float(config["pruning"]["fraction"])
    base = plan.default_h(config)
    lr_pairs = [[ln.hfind.lr, ln.heval.lr, ln.hfind.slug, ln.heval.slug] for ln in plan.all_pairs(config, "lr")]
    dense = [[v, base.replace(lr=v).slug] for v in sorted(set(plan.grid_values(config, "lr", "find")))]

    fig6_level = lpr.fig6_level(config)
    fig6_panels = lpr.figure_panels(config, "fig6")
    fig6 = {}
    for p, (dim, panel) in enumerate(zip(DIMENSIONS, fig6_panels)):
        fig6[dim] = {"panel": p, "lines": _lpr_panel_lines(panel, sorted(set(plan.grid_values(config, dim, "find"))))}

    fig7 = {p["dim"]: {"panel": i, "good": getattr(p["good"], p["dim"]), "bad": getattr(p["bad"], p["dim"])}
            for i, p in enumerate(lpr.fig7_pairs(config))}

    fig8_levels = lpr.fig8_levels(config)
    fig8 = {"levels": fig8_levels, "panel": None, "lines": [], "default_wd": base.weight_decay}
    if fig6_level in fig8_levels:
        p = fig8_levels.index(fig6_level)
        panel = lpr.figure_panels(config, "fig8")[p]
        fig8.update(panel=p, lines=_lpr_panel_lines(panel, [h.lr for h in lpr.fig8_hs(config)]))

    structured = None
    if splan.enabled(config):
        structured = {"ratio": moderate_ratio(splan.ratios(config)), "seeds": list(splan.settings(config)["seeds"]),
                      "pairs": {dim: _pairs(splan._pairs(config, dim, splan.grid(config, dim, "find"),
                                                         splan.grid(config, dim, "eval")))
                                for dim in DIMENSIONS}}

    return {
        "experiment": config["experiment"],
        "n_boot": int(opts.get("n_boot") or N_BOOT),
        "rng_seed": int(opts.get("rng_seed") if opts.get("rng_seed") is not None else RNG_SEED),
        "ci": float(opts.get("ci") or CI),
        "fraction": fraction,
        "level": level,
        "sparsity": sparsity_at(fraction, level),
        "early_share": EARLY_SHARE,
        "lr_dense": dense,
        "lr_pairs": lr_pairs,
        "pairs": {dim: _pairs(plan.all_pairs(config, dim)) for dim in DIMENSIONS},
        "fig6": {"level": fig6_level, "panels": fig6},
        "fig7": fig7,
        "fig8": fig8,
        "structured": structured,
        "fig9": early_settings(config),
    }


def early_settings(config: dict) -> dict | None:
    """C5's selection from fig9 (None without early-pruning runs): panel, H_find, middle and final epoch."""
    from . import early, plan

    if not early.enabled(config):
        return None
    hfinds, base = early.hfinds(config), plan.default_h(config)
    panel = hfinds.index(base) if base in hfinds else 0
    e = early.total_epochs(config)
    middle = min(early.prune_epochs(config), key=lambda k: (abs(k - e / 2), k))
    return {"panel": panel, "hfind": hfinds[panel].slug, "heval": early.heval(config).slug, "middle_epoch": middle,
            "epochs": e}


def inputs(config: dict) -> dict:
    """The files the claims job reads: ``structured`` (``fig9``) is an empty list when structured pruning (early
    pruning) is off."""
    from . import early, lpr, plan
    from . import structured_plan as splan

    exp = plan.exp_dir(config)
    return {
        "summary": f"{exp}/summary.csv",
        "fig6": lpr.data_path(config, "fig6"),
        "fig7": lpr.data_path(config, "fig7"),
        "fig8": lpr.data_path(config, "fig8"),
        "structured": [f"{splan.exp_dir(config)}/summary.csv"] if splan.enabled(config) else [],
        "fig9": [early.data_path(config, "fig9")] if early.enabled(config) else [],
    }


def targets(config: dict) -> list[str]:
    return [f"results/{config['experiment']}/claims.csv", "figures/claims.pdf", "figures/claims.png"]


# =========================================================================== statistics


class NotRun(Exception):
    """A claim whose inputs this run does not have: the message is the reason."""


def verdict(ci_low: float, ci_high: float, *, strict: bool = True) -> str:
    """``reproduced`` / ``not reproduced`` / ``inconclusive`` from an interval of an effect oriented so that the
    claim is ``effect > 0`` (``strict``) or ``effect >= 0``. A missing interval (NaN) is inconclusive."""
    if ci_low is None or ci_high is None or math.isnan(ci_low) or math.isnan(ci_high):
        return "inconclusive"
    if strict:
        if ci_low > 0:
            return "reproduced"
        if ci_high <= 0:
            return "not reproduced"
        return "inconclusive"
    if ci_low >= 0:
        return "reproduced"
    if ci_high < 0:
        return "not reproduced"
    return "inconclusive"


def seed_matrix(per_seed: dict) -> tuple[list, list, object]:
    """``{condition: {seed: value}}`` -> (conditions, seeds, array [condition, seed]) over the seeds every
    condition has (the bootstrap resamples them jointly: paired across conditions)."""
    import numpy as np

    if not per_seed:
        raise NotRun("no conditions")
    keys = list(per_seed)
    common = set.intersection(*(set(per_seed[k]) for k in keys))
    seeds = sorted(common)
    if not seeds:
        raise NotRun("the conditions share no seed")
    values = np.array([[float(per_seed[k][s]) for s in seeds] for k in keys], dtype=float)
    return keys, seeds, values


def bootstrap(per_seed: dict, statistic, *, n_boot: int = N_BOOT, rng_seed: int = RNG_SEED, ci: float = CI) -> dict:
    """Effect and percentile interval of ``statistic`` (``{condition: mean over seeds} -> float``) under
    resampling the seeds with replacement; deterministic for a given ``rng_seed``."""
    import numpy as np

    keys, seeds, values = seed_matrix(per_seed)
    n = len(seeds)
    effect = round(float(statistic(dict(zip(keys, values.mean(axis=1))))), DIGITS)
    out = {"effect": effect, "ci_low": math.nan, "ci_high": math.nan, "n_seeds": n, "n_boot": 0, "seeds": seeds}
    if n < 2:
        return out
    rng = np.random.default_rng(rng_seed)
    idx = rng.integers(0, n, size=(int(n_boot), n))
    means = values[:, idx].mean(axis=2)  # [condition, resample]
    boots = np.array([statistic(dict(zip(keys, means[:, b]))) for b in range(int(n_boot))], dtype=float)
    boots = np.round(boots[~np.isnan(boots)], DIGITS)
    if not len(boots):
        return out
    alpha = (1 - float(ci)) / 2
    out.update(ci_low=float(np.quantile(boots, alpha, method="lower")),
               ci_high=float(np.quantile(boots, 1 - alpha, method="higher")), n_boot=int(n_boot))
    return out


def _by_seed(df, value: str = "test_accuracy") -> dict:
    """{seed: value} of one condition's rows (one row per seed expected; duplicates are averaged)."""
    return {int(s): float(v) for s, v in df.groupby("seed")[value].mean().items()}


def best_key(means: dict, keys, *, prefer_largest: bool) -> object:
    """The key of largest mean; among ties the largest (``prefer_largest``) or smallest key."""
    top = max(means[k] for k in keys)
    tied = sorted(k for k in keys if means[k] == top)
    return tied[-1] if prefer_largest else tied[0]


# =========================================================================== the claims


def _need(tables: dict, name: str, what: str):
    t = tables.get(name)
    if t is None:
        raise NotRun(f"{what} is not part of this run")
    return t


def _lottery_at(summary, level: int):
    return summary[(summary["kind"] == "lottery") & (summary["level"] == level)]


def claim_best_lr_find_below_dense(tables: dict, params: dict) -> tuple[dict, dict]:
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
        per_seed[("dense", lr)] = _by_seed(rows)
    at = _lottery_at(summary, level)
    for lf, le, hf, he in params["lr_pairs"]:
        rows = at[(at["hfind"] == hf) & (at["heval"] == he)]
        if rows.empty:
            raise NotRun(f"summary.csv has no run of H_find {hf}, H_eval {he} at level {level}")
        per_seed[("pruned", lf, le)] = _by_seed(rows)
    dense_lrs = [lr for lr, _ in params["lr_dense"]]
    finds = sorted({lf for lf, *_ in params["lr_pairs"]})

    def choose(m):
        best_dense = best_key(m, [("dense", lr) for lr in dense_lrs], prefer_largest=False)[1]
        per_find = {lf: max(m[k] for k in m if k[0] == "pruned" and k[1] == lf) for lf in finds}
        best_find = best_key(per_find, finds, prefer_largest=True)
        return best_dense, best_find, per_find

    def stat(m):
        best_dense, best_find, _ = choose(m)
        return math.log10(best_dense) - math.log10(best_find)

    def detail(m):
        best_dense, best_find, per_find = choose(m)
        return (f"best dense LR {format_number(best_dense)} ({100 * m[('dense', best_dense)]:.1f}%), best LR_find "
                f"{format_number(best_find)} ({100 * per_find[best_find]:.1f}% with its best LR_eval) at level {level}")

    return per_seed, {"statistic": stat, "detail": detail}


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


def claim_early_layers(dim: str):
    def claim(tables: dict, params: dict):
        spec = params["fig6"]["panels"][dim]
        lines = spec["lines"]
        if len(lines) < 2:
            raise NotRun(f"the {LABELS[dim]} find grid has one value")
        fig6 = _need(tables, "fig6", "the fig6 table (results/<exp>/lpr/fig6.csv)")
        small, large = lines[0], lines[-1]
        level = params["fig6"]["level"]
        per_seed = {name: _early(_lpr_rows(fig6, spec["panel"], line["label"], level, "fig6.csv"),
                                 params["early_share"])
                    for name, line in (("small", small), ("large", large))}
        bad = BAD_END[dim]
        good = "small" if bad == "large" else "large"

        def stat(m):
            return m[bad] - m[good]

        def detail(m):
            return (f"early-layer LPR {m['small']:.1f}% ({LABELS[dim]}_find = {format_number(small['value'])}) vs "
                    f"{m['large']:.1f}% ({LABELS[dim]}_find = {format_number(large['value'])}) at level {level}")

        return per_seed, {"statistic": stat, "detail": detail, "level": level}

    return claim


def _best_pair_effect(pairs: list, where: str):
    decoupled = [tuple(p) for p in pairs if p[0] != p[1]]
    coupled = [tuple(p) for p in pairs if p[0] == p[1]]
    if not decoupled:
        raise NotRun(f"{where}: no decoupled pair (one-value grids)")
    if not coupled:
        raise NotRun(f"{where}: no coupled pair (the find and eval grids share no value)")

    def stat(m):
        return 100 * (max(m[k] for k in decoupled) - max(m[k] for k in coupled))

    def detail(m):
        d = best_key(m, decoupled, prefer_largest=False)
        c = best_key(m, coupled, prefer_largest=False)
        return (f"best decoupled {d[0]} -> {d[1]} ({100 * m[d]:.1f}%), best coupled {c[0]} ({100 * m[c]:.1f}%)")

    return stat, detail


def claim_decoupled_beats_coupled(dim: str):
    def claim(tables: dict, params: dict):
        level = params["level"]
        pairs = params["pairs"][dim]
        stat, detail = _best_pair_effect(pairs, f"{LABELS[dim]} grid")
        summary = _need(tables, "summary", "summary.csv")
        at = _lottery_at(summary, level)
        per_seed = {}
        for hf, he in pairs:
            rows = at[(at["hfind"] == hf) & (at["heval"] == he)]
            if rows.empty:
                raise NotRun(f"summary.csv has no run of H_find {hf}, H_eval {he} at level {level}")
            per_seed[(hf, he)] = _by_seed(rows)
        return per_seed, {"statistic": stat, "detail": detail}

    return claim


def claim_match_good_beats_bad(dim: str):
    def claim(tables: dict, params: dict):
        spec = params["fig7"].get(dim)
        if spec is None:
            raise NotRun(f"fig7 has no {LABELS[dim]} panel (good and bad {LABELS[dim]}_find coincide)")
        fig7 = _need(tables, "fig7", "the fig7 table (results/<exp>/lpr/fig7.csv)")
        level = params["level"]
        per_seed = {}
        for style in ("match-good", "match-bad"):
            rows = fig7[(fig7["panel"] == spec["panel"]) & (fig7["style"] == style) & (fig7["level"] == level)]
            if rows.empty:
                raise NotRun(f"fig7.csv has no {style}-LPR runs at level {level}")
            per_seed[style] = _by_seed(rows)

        def stat(m):
            return 100 * (m["match-good"] - m["match-bad"])

        def detail(m):
            g, b = format_number(spec["good"]), format_number(spec["bad"])
            return (f"match-good-LPR {100 * m['match-good']:.1f}% ({LABELS[dim]}_find {b}, LPR of {g}) vs "
                    f"match-bad-LPR {100 * m['match-bad']:.1f}% at level {level}")

        return per_seed, {"statistic": stat, "detail": detail}

    return claim


def claim_early_pruning(tables: dict, params: dict):
    spec = params.get("fig9")
    if spec is None:
        raise NotRun("this config has no early-pruning runs (no early_pruning: block; Fig. 9: masks from the "
                     "weights at a middle epoch)")
    fig9 = _need(tables, "fig9", "the early-pruning table (results/<exp>/early/fig9.csv)")
    level = params["level"]
    at = fig9[(fig9["panel"] == spec["panel"]) & (fig9["level"] == level)]
    per_seed = {}
    for key, k in (("middle", spec["middle_epoch"]), ("convergence", spec["epochs"])):
        rows = at[at["prune_epoch"] == k]
        if rows.empty:
            raise NotRun(f"fig9.csv has no early-pruning runs pruned at epoch {k} at level {level}")
        per_seed[key] = _by_seed(rows)

    def stat(m):
        return 100 * (m["middle"] - m["convergence"])

    def detail(m):
        return (f"pruned at epoch {spec['middle_epoch']} {100 * m['middle']:.1f}% vs at convergence (epoch "
                f"{spec['epochs']}) {100 * m['convergence']:.1f}%, H_find {spec['hfind']}, H_eval {spec['heval']}, "
                f"level {level}")

    return per_seed, {"statistic": stat, "detail": detail}


def claim_wd0_lpr_spread(tables: dict, params: dict):
    f8 = params["fig8"]
    level = params["fig6"]["level"]
    if f8["default_wd"] == 0:
        raise NotRun("defaults.weight_decay is 0: fig6's LR_find panel already has WD_find = 0")
    if f8["panel"] is None:
        raise NotRun(f"fig8 has no LPR panel at fig6's level {level} (fig8 levels {f8['levels']})")
    fig6 = _need(tables, "fig6", "the fig6 table (results/<exp>/lpr/fig6.csv)")
    fig8 = _need(tables, "fig8", "the fig8 table (results/<exp>/lpr/fig8.csv)")
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
        return (f"early-layer LPR spread over LR_find {', '.join(map(format_number, lrs))}: "
                f"{spread(m, 'wd'):.1f} pp with WD_find = {format_number(f8['default_wd'])}, "
                f"{spread(m, 'wd0'):.1f} pp with WD_find = 0 at level {level}")

    return per_seed, {"statistic": stat, "detail": detail, "level": level}


def claim_structured(dim: str):
    def claim(tables: dict, params: dict):
        spec = params.get("structured")
        if spec is None:
            raise NotRun("structured pruning is off in this config (no structured: block)")
        ratio = spec["ratio"]
        pairs = spec["pairs"][dim]
        stat, detail = _best_pair_effect(pairs, f"structured {LABELS[dim]} grid")
        table = _need(tables, "structured", "the structured summary (results/<exp>/structured/summary.csv)")
        at = table[(table["kind"] == "finetune") & ((table["ratio"] - ratio).abs() < 1e-9)]
        per_seed = {}
        for hf, he in pairs:
            rows = at[(at["hfind"] == hf) & (at["heval"] == he)]
            if rows.empty:
                raise NotRun(f"structured summary has no fine-tuned run of H_find {hf}, H_eval {he} at ratio "
                             f"{format_number(ratio)}")
            per_seed[(hf, he)] = _by_seed(rows)
        return per_seed, {"statistic": stat, "detail": lambda m: f"{detail(m)} at ratio {format_number(ratio)}",
                          "level": None, "sparsity": ratio}

    return claim


_MOST = {"small": "smallest", "large": "largest"}
_OTHER = {"small": "large", "large": "small"}
_LEVEL_STAR = "L* (the level nearest 80% sparsity)"
_EARLY = "early(H) = mean LPR (%) of the first third of the prunable layers (network order) of H_find = H's masks"

#: (claim_id, claim, source, unit, strict, definition, function) in the order of the report.
CLAIMS = [
    ("C1", "the best LR_find (pruned) is below the best dense LR", "Sec. 3.2, Figs. 1, 2", "decades of LR", True,
     "log10(best dense LR) - log10(best LR_find at L*); best dense LR = argmax over the LR find grid of mean level-0 "
     "accuracy; best LR_find = argmax over LR_find of max over LR_eval of mean accuracy at L*; ties against the claim",
     claim_best_lr_find_below_dense),
    *[(f"C2-{LABELS[d]}", f"{BAD_END[d]} {LABELS[d]}_find prunes early layers more", "Sec. 3.4, Fig. 6", "pp", True,
       f"early({_MOST[BAD_END[d]]} {LABELS[d]}_find) - early({_MOST[_OTHER[BAD_END[d]]]} "
       f"{LABELS[d]}_find) of the find grid, at fig6's level; {_EARLY}", claim_early_layers(d)) for d in DIMENSIONS],
    *[(f"C3-{LABELS[d]}", f"best decoupled beats best coupled ({LABELS[d]}), moderate sparsity", "Sec. 3.2, Fig. 3",
       "pp", True, f"max over H_find != H_eval of mean accuracy - max over H_find == H_eval, {LABELS[d]} pairs of "
       f"the find x eval grids, at {_LEVEL_STAR}", claim_decoupled_beats_coupled(d)) for d in DIMENSIONS],
    *[(f"C4-{LABELS[d]}", f"match-good-LPR beats match-bad-LPR ({LABELS[d]})", "Sec. 3.4, Fig. 7", "pp", True,
       f"mean accuracy of match-good-LPR - match-bad-LPR ({LABELS[d]} panel of fig7, same H_eval) at {_LEVEL_STAR}",
       claim_match_good_beats_bad(d)) for d in DIMENSIONS],
    ("C5", "early pruning at a middle epoch is at least as good as at convergence", "Sec. 3.5, Fig. 9", "pp", False,
     f"mean accuracy of masks pruned at a middle epoch (fig9's epoch nearest half the schedule) - at convergence, "
     f"same H_eval, fig9's panel of the default H_find, at {_LEVEL_STAR}",
     claim_early_pruning),
    ("C6", "with WD_find = 0, LR_find barely moves the LPR", "Sec. 3.4, Fig. 8", "pp", True,
     f"spread(default WD_find) - spread(WD_find = 0), spread = max - min over LR_find of early(H) at fig6's level; "
     f"{_EARLY}", claim_wd0_lpr_spread),
    *[(f"C7-{LABELS[d]}", f"structured: best decoupled beats best coupled ({LABELS[d]})", "Sec. 3.3, Fig. 5", "pp",
       True, f"max over H_find != H_eval of mean fine-tuned accuracy - max over H_find == H_eval, {LABELS[d]} pairs "
       f"of the structured grids, at the ratio of channels pruned nearest 0.5", claim_structured(d))
      for d in DIMENSIONS],
]


def evaluate(claim_id: str, tables: dict, params: dict) -> dict:
    """One row of the claims table."""
    spec = next(c for c in CLAIMS if c[0] == claim_id)
    _, text, source, unit, strict, definition, fn = spec
    row = {"claim_id": claim_id, "claim": text, "source": source, "effect": math.nan, "ci_low": math.nan,
           "ci_high": math.nan, "unit": unit, "verdict": "not run", "n_seeds": 0, "n_boot": 0,
           "level": params["level"], "sparsity": params["sparsity"], "detail": "", "definition": definition}
    try:
        per_seed, how = fn(tables, params)
        res = bootstrap(per_seed, how["statistic"], n_boot=params["n_boot"], rng_seed=params["rng_seed"],
                        ci=params["ci"])
    except NotRun as reason:
        row["detail"] = f"not run: {reason}"
        return row
    if "level" in how:
        row["level"] = how["level"]
        row["sparsity"] = sparsity_at(params["fraction"], how["level"]) if how["level"] is not None else math.nan
    if "sparsity" in how:
        row["sparsity"] = how["sparsity"]
    _, seeds, values = seed_matrix(per_seed)
    keys = list(per_seed)
    detail = how["detail"](dict(zip(keys, values.mean(axis=1))))
    if res["n_seeds"] < 2:
        detail += f"; {res['n_seeds']} seed: no bootstrap interval"
    row.update(effect=res["effect"], ci_low=res["ci_low"], ci_high=res["ci_high"], n_seeds=res["n_seeds"],
               n_boot=res["n_boot"], verdict=verdict(res["ci_low"], res["ci_high"], strict=strict),
               detail=f"{detail}; seeds {','.join(map(str, seeds))}")
    return row


def claims_table(tables: dict, params: dict):
    """The claims table from the pipeline's tables (``summary``, ``fig6``, ``fig7``, ``fig8``, ``structured``:
    DataFrames, or None for a table this run does not have)."""
    import pandas as pd

    rows = [evaluate(c[0], tables, params) for c in CLAIMS]
    return pd.DataFrame(rows, columns=COLUMNS)


def read_tables(paths: dict) -> dict:
    """Read the input tables; a path that is None, empty or missing gives None (its claims are ``not run``)."""
    import pandas as pd

    tables = {}
    for name in INPUTS:
        path = paths.get(name)
        if isinstance(path, (list, tuple)):
            path = path[0] if path else None
        tables[name] = pd.read_csv(path) if path and os.path.exists(path) else None
    return tables


def write_report(paths: dict, params: dict, *, out_csv: str, pdf: str | None = None, png: str | None = None,
                 style: dict | None = None):
    """The claims job: read the tables, write ``claims.csv`` and (with ``pdf``/``png``) the figure."""
    from .io import atomic_path

    table = claims_table(read_tables(paths), params)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    for _, r in table.iterrows():
        log.info("%s %s: %s (effect %.3g, CI [%.3g, %.3g] %s) %s", r["claim_id"], r["claim"], r["verdict"],
                 r["effect"], r["ci_low"], r["ci_high"], r["unit"], r["detail"])
    if pdf or png:
        from .claims_plot import draw_claims

        draw_claims(table, pdf=pdf, png=png, style=style, title=f"claims of the paper on experiment "
                                                                f"'{params['experiment']}'")
    return table
