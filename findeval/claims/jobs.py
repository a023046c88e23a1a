"""The paper's claims, job time: each claim's effect from the figure tables, its test and verdict, and the claims
table and figure (the planning is :mod:`findeval.claims.plan`, the statistics :mod:`findeval.claims.stats`)."""

from __future__ import annotations

import logging
import math
import os
from typing import Callable, NamedTuple

import pandas as pd

from .. import paths
from ..hparams import DIMENSIONS, LABELS, format_number
from ..io import atomic_path
from .plan import BAD_END, COLUMNS, INPUTS, METRICS_INPUTS, VARIANT_IDS, good_end, sparsity_at
from .plots import draw_claims
from .stats import CI, DIGITS, NotRun, alpha_of, condition_means, holm, magnitude_excluded, min_seeds_holm, \
    paired_test, per_seed_effects

log = logging.getLogger("findeval")


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


def _min_of_diffs(pairs: list):
    """Per seed, the smallest of ``m[a] - m[b]`` over ``pairs``: the claim "for each" of them (an
    intersection-union comparison: positive only where every pair is)."""
    def stat(m):
        return min(m[a] - m[b] for a, b in pairs)
    return stat


def _members(pairs: list) -> list:
    """The pairwise statistics ``m[a] - m[b]`` behind a per-seed minimum or maximum (``members`` of a claim):
    ``not reproduced`` needs one of them below 0 at ALPHA / len(pairs) (:func:`evaluate`)."""
    return [_diff(a, b) for a, b in pairs]


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

        return per_seed, {"statistic": _diff(bad, good_end(dim)), "detail": detail, "level": level}

    return claim


def claim_early_layers_each_level(dim: str):
    """C16 (L114, Fig. A17): C2's difference at each of figA17's levels (per seed, the smallest of them)."""
    def claim(tables: dict, params: dict):
        specs = params["figA17"][dim]
        if not specs or len(specs[0]["lines"]) < 2:
            raise NotRun(f"the {LABELS[dim]} find grid has one value" if specs else "figA17 has no panel")
        table = _need(tables, "figA17", f"the figA17 table ({paths.table('<exp>', 'lpr', 'figA17')})")
        per_seed, pairs = {}, []
        for spec in specs:
            small, large = spec["lines"][0], spec["lines"][-1]
            for name, line in (("small", small), ("large", large)):
                per_seed[(spec["level"], name)] = _early(_lpr_rows(table, spec["panel"], line["label"], spec["level"],
                                                                   "figA17.csv"), params["early_share"])
            pairs.append(((spec["level"], BAD_END[dim]), (spec["level"], good_end(dim))))

        def detail(m):
            return "; ".join(f"level {a[0]}: early-layer LPR {m[a]:.1f}% ({BAD_END[dim]} {LABELS[dim]}_find) vs "
                             f"{m[b]:.1f}%" for a, b in pairs)

        return per_seed, {"statistic": _min_of_diffs(pairs), "detail": detail, "level": None,
                          "sparsity": math.nan, "members": _members(pairs)}

    return claim


def claim_decoupled_beats_coupled(dim: str):
    """C3 (Fig. 3, L78, L86): the declared decoupled pair against every coupled run of the grid, per seed against
    that seed's best coupled run (intersection-union: positive only where it beats each of them)."""
    def claim(tables: dict, params: dict):
        d = params["declared"][dim]
        if d is None or "find" not in d:
            raise NotRun(f"{LABELS[dim]} grids: " + (d or {}).get("why", "no declared pair"))
        level = params["level"]
        at = _lottery_at(_need(tables, "summary", "summary.csv"), level)
        where = f"summary.csv at level {level}"
        per_seed = {"decoupled": _pct(_pair_rows(at, d["hfind"], d["heval"], where))}
        coupled = [(v, slug) for v, slug in d["coupled"]]
        for v, slug in coupled:
            per_seed[("coupled", v)] = _pct(_pair_rows(at, slug, slug, where))

        def stat(m):
            return m["decoupled"] - max(m[("coupled", v)] for v, _ in coupled)

        def detail(m):
            parts = ", ".join(f"{format_number(v)} {m[('coupled', v)]:.1f}%" for v, _ in coupled)
            return (f"decoupled {d['hfind']} -> {d['heval']} {m['decoupled']:.1f}% vs each seed's best coupled "
                    f"{LABELS[dim]} run (coupled means: {parts}) at level {level}; declared pair: the good "
                    f"{LABELS[dim]}_find end with the good {LABELS[dim]}_eval end (L84)")

        return per_seed, {"statistic": stat, "detail": detail,
                          "members": _members([("decoupled", ("coupled", v)) for v, _ in coupled]),
                          "masks": [(d["hfind"], level)] + [(slug, level) for _, slug in coupled]}

    return claim


def claim_coupled_at_good_eval(dim: str):
    """Fig. 2's top row at one H_eval (the comparison C3 made before issue 22): the declared decoupled pair
    against the coupled run at its H_eval."""
    def claim(tables: dict, params: dict):
        d = params["declared"][dim]
        if d is None or "find" not in d:
            raise NotRun(f"{LABELS[dim]} grids: " + (d or {}).get("why", "no declared pair"))
        level = params["level"]
        at = _lottery_at(_need(tables, "summary", "summary.csv"), level)
        per_seed = _declared_vs_coupled(at, d, f"summary.csv at level {level}")

        def detail(m):
            return (f"at H_eval {d['heval']}: H_find {d['hfind']} {m['decoupled']:.1f}% vs H_find = H_eval (coupled) "
                    f"{m['coupled']:.1f}% at level {level}")

        return per_seed, {"statistic": _diff("decoupled", "coupled"), "detail": detail,
                          "masks": [(d["hfind"], level), (d["heval"], level)]}

    return claim


def claim_fig2_row(dim: str, row: str):
    """Fig. 2's top row (fig2's constant H_eval: good H_find end - bad end) or bottom row (fig2's constant H_find:
    larger LR_eval / smaller BS_eval / larger WD_eval - the other end), at L*."""
    def claim(tables: dict, params: dict):
        spec = params["fig2"][dim][row]
        if "why" in spec:
            raise NotRun(spec["why"])
        level = params["level"]
        at = _lottery_at(_need(tables, "summary", "summary.csv"), level)
        where = f"summary.csv at level {level}"
        per_seed = {"good": _pct(_pair_rows(at, spec["good"][1], spec["good"][2], where)),
                    "bad": _pct(_pair_rows(at, spec["bad"][1], spec["bad"][2], where))}
        phase = "find" if row == "top" else "eval"
        fixed = "H_eval" if row == "top" else "H_find"

        def detail(m):
            return (f"{fixed} {spec['constant']} (fig2's): {LABELS[dim]}_{phase} {format_number(spec['good'][0])} "
                    f"{m['good']:.1f}% vs {format_number(spec['bad'][0])} {m['bad']:.1f}% at level {level}")

        return per_seed, {"statistic": _diff("good", "bad"), "detail": detail,
                          "masks": [(spec["good"][1], level), (spec["bad"][1], level)]}

    return claim


def _fig7_spec(params: dict, dim: str) -> dict:
    spec = params["fig7"].get(dim)
    if spec is None:
        raise NotRun(f"fig7 has no {LABELS[dim]} panel (good and bad {LABELS[dim]}_find coincide)")
    return spec


def _fig7_runs(tables: dict, spec: dict, level: int, styles) -> dict:
    """Per-seed accuracies (%) of fig7's lines ``styles`` (match-good, match-bad) in ``spec``'s panel at ``level``."""
    fig7 = _need(tables, "fig7", f"the fig7 table ({paths.table('<exp>', 'lpr', 'fig7')})")
    per_seed = {}
    for style in styles:
        rows = fig7[(fig7["panel"] == spec["panel"]) & (fig7["style"] == style) & (fig7["level"] == level)]
        if rows.empty:
            raise NotRun(f"fig7.csv has no {style}-LPR runs at level {level}")
        per_seed[style] = _pct(rows)
    return per_seed


def _fig7_regular(tables: dict, spec: dict, level: int, which) -> dict:
    """Per-seed accuracies (%) of the regular lottery runs of the good / bad H_find (``which``) at fig7's H_eval
    (summary.csv: the same runs as fig7's green line, whose H_eval is fig7's by construction)."""
    at = _lottery_at(_need(tables, "summary", "summary.csv"), level)
    return {f"regular-{w}": _pct(_pair_rows(at, spec[f"h{w}"], spec["heval"], f"summary.csv at level {level}"))
            for w in which}


def claim_match_good_beats_bad(dim: str):
    def claim(tables: dict, params: dict):
        spec = _fig7_spec(params, dim)
        level = params["level"]
        per_seed = _fig7_runs(tables, spec, level, ("match-good", "match-bad"))

        def detail(m):
            g, b = format_number(spec["good"]), format_number(spec["bad"])
            return (f"match-good-LPR {m['match-good']:.1f}% ({LABELS[dim]}_find {b}, LPR of {g}) vs "
                    f"match-bad-LPR {m['match-bad']:.1f}% at level {level}")

        return per_seed, {"statistic": _diff("match-good", "match-bad"), "detail": detail,
                          "masks": [(spec["hgood"], level), (spec["hbad"], level)]}

    return claim


def claim_match_good_beats_regular(dim: str):
    """C22 (L118, Fig. 7's green line): match-good-LPR (the bad H_find pruned to the good H_find's LPR) against the
    regular run of the good H_find, both at fig7's H_eval, at L*."""
    def claim(tables: dict, params: dict):
        spec = _fig7_spec(params, dim)
        level = params["level"]
        per_seed = {**_fig7_runs(tables, spec, level, ("match-good",)), **_fig7_regular(tables, spec, level, ("good",))}

        def detail(m):
            g, b = format_number(spec["good"]), format_number(spec["bad"])
            return (f"match-good-LPR {m['match-good']:.1f}% ({LABELS[dim]}_find {b}, LPR of {g}) vs the regular run "
                    f"{spec['hgood']} -> {spec['heval']} {m['regular-good']:.1f}% (fig7's H_eval) at level {level}")

        return per_seed, {"statistic": _diff("match-good", "regular-good"), "detail": detail,
                          "masks": [(spec["hgood"], level)]}

    return claim


def claim_lpr_accounts_for_the_gap(dim: str):
    """C23 (L118, "we were able to account for the entire change in performance"): the gap of the LPR-constrained
    runs (match-good - match-bad) minus the gap of the regular runs (good H_find - bad H_find), all at fig7's
    H_eval, at L*."""
    def claim(tables: dict, params: dict):
        spec = _fig7_spec(params, dim)
        level = params["level"]
        per_seed = {**_fig7_runs(tables, spec, level, ("match-good", "match-bad")),
                    **_fig7_regular(tables, spec, level, ("good", "bad"))}

        def gaps(m):
            return m["match-good"] - m["match-bad"], m["regular-good"] - m["regular-bad"]

        def stat(m):
            constrained, regular = gaps(m)
            return constrained - regular

        def detail(m):
            constrained, regular = gaps(m)
            return (f"constrained gap (match-good - match-bad LPR) {constrained:.1f} pp vs regular gap ({spec['hgood']} "
                    f"- {spec['hbad']}, H_eval {spec['heval']}) {regular:.1f} pp at level {level}; 'reproduced': the "
                    f"constrained gap exceeds the regular one; 'inconclusive' is compatible with 'the entire change' "
                    f"(equal gaps); 'not reproduced': the LPR accounts for less than the whole gap")

        return per_seed, {"statistic": stat, "detail": detail,
                          "masks": [(spec["hgood"], level), (spec["hbad"], level)]}

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

    lr_note, lr = "", params.get("fig9_lr")
    if lr and lr["lr_eval"] != lr["largest"]:
        lr_note = (f"; fig9 evaluates at LR_eval {format_number(lr['lr_eval'])}, the paper at 0.5, the largest of "
                   f"its grid (here {format_number(lr['largest'])}: early_pruning.h_eval.lr)")

    def detail(m):
        return (f"pruned at epoch {spec['middle_epoch']} {m['middle']:.1f}% vs at convergence (epoch "
                f"{spec['epochs']}) {m['convergence']:.1f}%, H_find {spec['hfind']}, H_eval {spec['heval']}, "
                f"level {level}; strict: improves, not merely matches{lr_note}")

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
        where = f"the structured summary (fine-tuned, ratio {format_number(ratio)})"
        per_seed = {"decoupled": _pct(_pair_rows(at, d["hfind"], d["heval"], where))}
        coupled = [(v, slug) for v, slug in d["coupled"]]
        for v, slug in coupled:
            per_seed[("coupled", v)] = _pct(_pair_rows(at, slug, slug, where))

        def stat(m):
            return m["decoupled"] - max(m[("coupled", v)] for v, _ in coupled)

        def detail(m):
            parts = ", ".join(f"{format_number(v)} {m[('coupled', v)]:.1f}%" for v, _ in coupled)
            return (f"decoupled {d['hfind']} -> {d['heval']} {m['decoupled']:.1f}% vs each seed's best coupled run "
                    f"(coupled means: {parts}) at ratio {format_number(ratio)}")

        return per_seed, {"statistic": stat, "detail": detail, "level": None, "sparsity": ratio,
                          "members": _members([("decoupled", ("coupled", v)) for v, _ in coupled])}

    return claim


def claim_structured_coupled_high(dim: str):
    """C24 (L100): at the largest ratio of channels pruned, each seed's best coupled run of fig5 against its best
    decoupled run of fig5 (both per-seed maxima). ``not reproduced`` needs one decoupled run below each seed's best
    coupled run at ALPHA / K (the K decoupled runs: Bonferroni, :func:`_union_verdict`)."""
    def claim(tables: dict, params: dict):
        spec = params.get("structured")
        if spec is None:
            raise NotRun("structured pruning is off in this config (no structured: block)")
        runs = spec["fig5"][dim]
        if "why" in runs:
            raise NotRun(runs["why"])
        ratio = spec["high_ratio"]
        table = _need(tables, "structured", f"the structured summary ({paths.structured_summary('<exp>')})")
        at = table[(table["kind"] == "finetune") & ((table["ratio"] - ratio).abs() < 1e-9)]
        where = f"the structured summary (fine-tuned, ratio {format_number(ratio)})"
        coupled = [("coupled", v) for v, _ in runs["coupled"]]
        decoupled = [("decoupled", f, e) for f, e, _, _ in runs["decoupled"]]
        per_seed = {key: _pct(_pair_rows(at, slug, slug, where)) for key, (_, slug) in zip(coupled, runs["coupled"])}
        per_seed.update({key: _pct(_pair_rows(at, hf, he, where))
                         for key, (_, _, hf, he) in zip(decoupled, runs["decoupled"])})

        def best_coupled(m):
            return max(m[k] for k in coupled)

        def stat(m):
            return best_coupled(m) - max(m[k] for k in decoupled)

        def member(k):
            return lambda m: best_coupled(m) - m[k]

        def detail(m):
            c = ", ".join(f"{format_number(k[1])} {m[k]:.1f}%" for k in coupled)
            d = ", ".join(f"{format_number(k[1])} -> {format_number(k[2])} {m[k]:.1f}%" for k in decoupled)
            return (f"{LABELS[dim]}: each seed's best coupled run (means: {c}) vs its best decoupled run (means: {d}), "
                    f"fig5's runs, at the largest ratio {format_number(ratio)}")

        return per_seed, {"statistic": stat, "detail": detail, "level": None, "sparsity": ratio,
                          "members": [member(k) for k in decoupled]}

    return claim


def _random_baselines(summary, h: str, level: int, baseline: str, where: str) -> dict:
    at = summary[summary["level"] == level]
    gr = at[(at["kind"] == "global_random") & (at["heval"] == h)]
    if gr.empty:
        raise NotRun(f"summary.csv has no global random run with H_eval {h} at level {level}")
    if baseline == "lottery":
        other = _pair_rows(_lottery_at(summary, level), h, h, where)
    else:
        other = at[(at["kind"] == "preserve_lpr") & (at["hfind"] == h) & (at["heval"] == h)]
        if other.empty:
            raise NotRun(f"summary.csv has no preserve-LPR run with H {h} at level {level}")
    return {"global random": _pct(gr), baseline: _pct(other)}


def claim_below_random(baseline: str):
    """C8: the coupled ticket of fig1's largest LR (or preserve LPR) against global random at the level nearest
    97% sparsity (L66: 96-98%)."""
    def claim(tables: dict, params: dict):
        high = params["high_level"]
        if high["level"] is None:
            raise NotRun(high["why"])
        h, level = params["fig1"]["h"], high["level"]
        summary = _need(tables, "summary", "summary.csv")
        per_seed = _random_baselines(summary, h, level, baseline, f"summary.csv at level {level}")

        def detail(m):
            return (f"global random {m['global random']:.1f}% vs {baseline.replace('_', ' ')} {m[baseline]:.1f}%, "
                    f"coupled H {h} (fig1's largest LR), level {level} (nearest 97%)")

        return per_seed, {"statistic": _diff("global random", baseline), "detail": detail, "level": level,
                          "masks": [(h, level)]}

    return claim


def claim_fig1b(baseline: str):
    """Fig. 1b (L68): the coupled ticket of fig1's moderate LR beats global random (and preserve LPR) at the
    last level (the paper states no range; the last level is where Fig. 1a fails)."""
    def claim(tables: dict, params: dict):
        h, level = params["fig1"]["h_moderate"], params["last_level"]
        if h == params["fig1"]["h"]:
            raise NotRun("fig1 has one LR")
        summary = _need(tables, "summary", "summary.csv")
        per_seed = _random_baselines(summary, h, level, baseline, f"summary.csv at level {level}")
        other = "global random" if baseline == "lottery" else baseline

        def detail(m):
            return (f"lottery {m['lottery']:.1f}% vs {other} {m[other]:.1f}%, coupled H {h} (fig1's moderate LR), "
                    f"last level {level}")

        if baseline == "lottery":
            return per_seed, {"statistic": _diff("lottery", "global random"), "detail": detail, "level": level,
                              "masks": [(h, level)]}
        lot = _pair_rows(_lottery_at(summary, level), h, h, f"summary.csv at level {level}")
        per_seed = {"lottery": _pct(lot), baseline: per_seed[baseline]}
        return per_seed, {"statistic": _diff("lottery", baseline), "detail": detail, "level": level,
                          "masks": [(h, level)]}

    return claim


def claim_figA1(dim: str):
    """C15 (L66, L241, Fig. A1): the coupled ticket of figA1's small BS (large WD) against global random at C8's
    level."""
    def claim(tables: dict, params: dict):
        high = params["high_level"]
        if high["level"] is None:
            raise NotRun(high["why"])
        h, level = params["figA1"][dim], high["level"]
        summary = _need(tables, "summary", "summary.csv")
        per_seed = _random_baselines(summary, h, level, "lottery", f"summary.csv at level {level}")

        def detail(m):
            return (f"global random {m['global random']:.1f}% vs lottery {m['lottery']:.1f}%, coupled H {h} "
                    f"(figA1's), level {level} (nearest 97%)")

        return per_seed, {"statistic": _diff("global random", "lottery"), "detail": detail, "level": level,
                          "masks": [(h, level)]}

    return claim


def claim_every_eval(dim: str):
    """C21 (Figs. A2, A4, A6; L245, L253, L261): at every H_eval of the eval grid, the good H_find end beats the
    bad end; per seed the smallest difference over the H_eval (at L*)."""
    def claim(tables: dict, params: dict):
        spec = params["fig2"][dim]["every_eval"]
        if "why" in spec:
            raise NotRun(spec["why"])
        level = params["level"]
        at = _lottery_at(_need(tables, "summary", "summary.csv"), level)
        where = f"summary.csv at level {level}"
        per_seed, pairs = {}, []
        for e, good, bad, he in spec["evals"]:
            per_seed[(e, "good")] = _pct(_pair_rows(at, good, he, where))
            per_seed[(e, "bad")] = _pct(_pair_rows(at, bad, he, where))
            pairs.append(((e, "good"), (e, "bad")))

        def detail(m):
            return "; ".join(f"{LABELS[dim]}_eval {format_number(a[0])}: {LABELS[dim]}_find "
                             f"{format_number(spec['good'])} {m[a]:.1f}% vs {format_number(spec['bad'])} {m[b]:.1f}%"
                             for a, b in pairs) + f" at level {level}"

        return per_seed, {"statistic": _min_of_diffs(pairs), "detail": detail, "members": _members(pairs),
                          "masks": [(slug, level) for _, good, bad, _ in spec["evals"] for slug in (good, bad)]}

    return claim


def claim_fig1_lr(level: int):
    """The coupled run of fig1's largest LR against its moderate LR at ``level``: F1-dense (level 0; L66, L68: the
    unpruned model is best at the largest LR, 0.5 over 0.2: 52.5% vs 48.9%) and F1-low (level 1; L68: the
    moderate-LR ticket is worse at low sparsity too)."""
    def claim(tables: dict, params: dict):
        hi, lo = params["fig1"]["h"], params["fig1"]["h_moderate"]
        if hi == lo:
            raise NotRun("fig1 has one LR")
        at = _lottery_at(_need(tables, "summary", "summary.csv"), level)
        where = f"summary.csv at level {level}"
        per_seed = {"large": _pct(_pair_rows(at, hi, hi, where)), "moderate": _pct(_pair_rows(at, lo, lo, where))}
        what = "dense (level 0) LR" if level == 0 else f"level {level}: coupled LR"

        def detail(m):
            return (f"{what} {format_number(params['fig1']['lr'])} {m['large']:.1f}% vs "
                    f"{format_number(params['fig1']['lr_moderate'])} {m['moderate']:.1f}%")

        return per_seed, {"statistic": _diff("large", "moderate"), "detail": detail, "level": level,
                          "masks": [(hi, level), (lo, level)] if level > 0 else []}

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

        return per_seed, {"statistic": _min_of_diffs(pairs), "detail": detail, "level": level,
                          "members": _members(pairs)}

    return claim


def _instability(params: dict) -> dict:
    spec = params.get("instability")
    if spec is None:
        raise NotRun("figA13 and figA14 are not planned (a one-epoch schedule has nothing to rewind to)")
    return spec


def claim_stability(which: str):
    """C17 (L96, L293, Fig. A13): the error barrier of the small-LR ticket rewound to epoch k against the same
    ticket from theta_0 (``which`` "init") or the large-LR ticket from epoch k ("lr"); per seed the smallest
    difference over figA13's levels (pp of test error; positive: the rewound small-LR ticket is more stable)."""
    def claim(tables: dict, params: dict):
        spec = _instability(params)["a13"]
        table = _need(tables, "figA13", f"the figA13 table ({paths.table('<exp>', 'instability', 'figA13')})")
        other = spec["init"] if which == "init" else spec["large"]
        per_seed, pairs = {}, []
        for p, level in enumerate(spec["levels"]):
            for name, label in (("other", other), ("stable", spec["stable"])):
                rows = table[(table["panel"] == p) & (table["line"] == label) & (table["level"] == level)]
                if rows.empty:
                    raise NotRun(f"figA13.csv has no rows for {label!r} at level {level}")
                per_seed[(level, name)] = _by_seed(rows, "instability", 100.0)
            pairs.append(((level, "other"), (level, "stable")))

        def detail(m):
            return "; ".join(f"level {a[0]}: barrier {m[a]:.2f} pp ({other}) vs {m[b]:.2f} pp ({spec['stable']})"
                             for a, b in pairs)

        return per_seed, {"statistic": _min_of_diffs(pairs), "detail": detail, "level": None, "sparsity": math.nan,
                          "members": _members(pairs)}

    return claim


def claim_figA14(tables: dict, params: dict):
    """C18 (L297, Fig. A14): the late-rewinding ticket against each seed's best random baseline (global random,
    preserve LPR, preserve mask), at fig4's level."""
    spec = _instability(params)["a14"]
    table = _need(tables, "figA14", f"the figA14 table ({paths.table('<exp>', 'instability', 'figA14')})")
    level = spec["level"]
    per_seed = {"lottery": _pct(_acc_rows(table, 0, spec["lottery"], level, "figA14.csv"))}
    for b in spec["baselines"]:
        per_seed[b] = _pct(_acc_rows(table, 0, b, level, "figA14.csv"))

    def stat(m):
        return m["lottery"] - max(m[b] for b in spec["baselines"])

    def detail(m):
        return (f"{spec['lottery']} {m['lottery']:.1f}% vs " + ", ".join(f"{b} {m[b]:.1f}%" for b in spec["baselines"])
                + f" at level {level}")

    return per_seed, {"statistic": stat, "detail": detail, "level": level,
                      "members": _members([("lottery", b) for b in spec["baselines"]])}


def _trajectory(params: dict, fig: str) -> dict:
    spec = params.get("lpr_trajectory")
    if spec is None:
        raise NotRun("this config has no early-pruning runs (no early_pruning: block): figA18 and figA19 are off")
    spec = spec[fig]
    if spec["small"] == spec["large"]:
        raise NotRun(f"{fig} has one LR_find")
    return spec


def claim_distance_start(tables: dict, params: dict):
    """C19 (L319): at figA19's first epoch, the larger LR_find's LPR is further from its final LPR."""
    spec = _trajectory(params, "figA19")
    table = _need(tables, "figA19", f"the figA19 table ({paths.table('<exp>', 'early', 'figA19')})")
    first = int(table["epoch"].min())
    at = table[table["epoch"] == first]
    per_seed = {}
    for name in ("large", "small"):
        rows = at[at["hfind"] == spec[name]]
        if rows.empty:
            raise NotRun(f"figA19.csv has no rows of H_find {spec[name]} at epoch {first}")
        per_seed[name] = _by_seed(rows, "distance_pp")

    def detail(m):
        return (f"epoch {first}: distance to the final LPR {m['large']:.1f} pp ({spec['large']}) vs {m['small']:.1f} "
                f"pp ({spec['small']})")

    return per_seed, {"statistic": _diff("large", "small"), "detail": detail, "level": 1}


def claim_lpr_movement(tables: dict, params: dict):
    """C20 (L134, L315): the per-layer LPR moves more over training with the larger LR_find (the first layer
    excepted, as the paper)."""
    spec = _trajectory(params, "figA18")
    table = _need(tables, "figA18", f"the figA18 table ({paths.table('<exp>', 'early', 'figA18')})")
    per_seed = {}
    for name in ("large", "small"):
        rows = table[(table["hfind"] == spec[name]) & (table["layer_index"] > 0)]
        if rows.empty:
            raise NotRun(f"figA18.csv has no rows of H_find {spec[name]}")
        span = rows.groupby(["seed", "layer_index"])["ratio"].agg(lambda r: 100 * (r.max() - r.min()))
        per_seed[name] = {int(s): float(v) for s, v in span.groupby(level=0).mean().items()}

    def detail(m):
        return (f"mean over layers 2.. of the LPR's range over epochs: {m['large']:.1f} pp ({spec['large']}) vs "
                f"{m['small']:.1f} pp ({spec['small']})")

    return per_seed, {"statistic": _diff("large", "small"), "detail": detail, "level": 1}


def _figA19(tables: dict, params: dict):
    """figA19's settings and table, and its recorded epochs (per LR_find, the first one is initialisation)."""
    spec = params.get("lpr_trajectory")
    if spec is None:
        raise NotRun("this config has no early-pruning runs (no early_pruning: block): figA19 is off")
    spec = spec["figA19"]
    table = _need(tables, "figA19", f"the figA19 table ({paths.table('<exp>', 'early', 'figA19')})")
    return spec, table, sorted(int(e) for e in table["epoch"].unique())


def _distances(table, spec: dict, epochs) -> dict:
    """Per-seed distances (pp) ``{(LR_find, epoch): {seed: distance}}`` of every LR_find of figA19 at ``epochs``."""
    per_seed = {}
    for lr, slug in spec["hfinds"]:
        for e in epochs:
            rows = table[(table["hfind"] == slug) & (table["epoch"] == e)]
            if rows.empty:
                raise NotRun(f"figA19.csv has no rows of H_find {slug} at epoch {e}")
            per_seed[(lr, e)] = _by_seed(rows, "distance_pp")
    return per_seed


def claim_distance_decreases(tables: dict, params: dict):
    """C25 (L134: "decreases quickly"): per LR_find of figA19, the distance at its first recorded epoch minus at
    the last epoch before the final one (at the final epoch the distance is 0 by construction: the final LPR is
    that epoch's); per seed the minimum over figA19's LR_find ("all LR_find values")."""
    spec, table, epochs = _figA19(tables, params)
    if len(epochs) < 3:
        raise NotRun(f"figA19.csv records {len(epochs)} epochs: the distance needs a first epoch, one before the final "
                     f"one (at which it is 0 by construction) and the final one")
    first, end = epochs[0], epochs[-2]
    per_seed = _distances(table, spec, (first, end))
    pairs = [((lr, first), (lr, end)) for lr, _ in spec["hfinds"]]

    def detail(m):
        return "; ".join(f"LR_find {format_number(a[0])}: {m[a]:.2f} pp at epoch {first} vs {m[b]:.2f} pp at epoch "
                         f"{end}" for a, b in pairs) + f" (epoch {epochs[-1]}, the final one, is 0 by construction)"

    return per_seed, {"statistic": _min_of_diffs(pairs), "detail": detail, "level": 1, "members": _members(pairs)}


def claim_distance_plateaus(tables: dict, params: dict):
    """C26 (L134, L319: plateaus "around epoch 70, which is when the learning rate decays"): per LR_find of figA19,
    the mean drop of the distance per epoch before the schedule's first milestone m minus the mean drop per epoch
    after it, ``(D(first) - D(m)) / (m - first) - (D(m) - D(last)) / (last - m)``; per seed the minimum over
    figA19's LR_find."""
    spec, table, epochs = _figA19(tables, params)
    m_ = spec.get("milestone")
    if m_ is None:
        raise NotRun(spec.get("why_no_milestone") or "the schedule has no milestone")
    first, last = epochs[0], epochs[-1]
    if not first < m_ < last or m_ not in epochs:
        raise NotRun(f"the first LR milestone (epoch {m_}) is not a recorded epoch strictly between figA19's first "
                     f"({first}) and last ({last})")
    per_seed = _distances(table, spec, (first, m_, last))

    def rates(m, lr):
        return (m[(lr, first)] - m[(lr, m_)]) / (m_ - first), (m[(lr, m_)] - m[(lr, last)]) / (last - m_)

    def member(lr):
        def stat(m):
            before, after = rates(m, lr)
            return before - after
        return stat

    members = [member(lr) for lr, _ in spec["hfinds"]]

    def detail(m):
        parts = []
        for lr, _ in spec["hfinds"]:
            before, after = rates(m, lr)
            parts.append(f"LR_find {format_number(lr)}: {before:.2f} pp per epoch over epochs {first}-{m_} vs "
                         f"{after:.2f} after (to {last})")
        return "; ".join(parts) + f"; the LR decays at epoch {m_} (training.milestones)"

    return per_seed, {"statistic": lambda m: min(f(m) for f in members), "detail": detail, "level": 1,
                      "members": members}


def claim_other_model(fig: str):
    """C27 (figA9, L275) and C28 (figA8, L271): a declared pair of LR runs of a stand-in experiment
    (:func:`findeval.claims.plan.other_model_settings`), from the metrics of its runs."""
    def claim(tables: dict, params: dict):
        spec = (params.get("other_models") or {}).get(fig) or {"why": f"other_models.{fig} is not planned"}
        if "why" in spec:
            raise NotRun(spec["why"])
        level = spec["level"]
        table = _need(tables, fig, f"the {fig} stand-in's runs (experiment {spec['experiment']}, their metrics.json)")
        at = _lottery_at(table, level)
        where = f"{spec['experiment']}'s runs at level {level}"
        per_seed = {w: _pct(_pair_rows(at, spec[w][2], spec[w][3], where)) for w in ("good", "bad")}

        def detail(m):
            g, b = spec["good"], spec["bad"]
            return (f"{spec['experiment']}: LR_find {format_number(g[0])} -> LR_eval {format_number(g[1])} "
                    f"{m['good']:.1f}% vs LR_find {format_number(b[0])} -> LR_eval {format_number(b[1])} "
                    f"{m['bad']:.1f}% at level {level} ({100 * spec['sparsity']:.1f}% sparse)")

        return per_seed, {"statistic": _diff("good", "bad"), "detail": detail, "level": level}

    return claim


def claim_lr_rewinding_high_eval(tables: dict, params: dict):
    """C14 (L98): LR rewinding to the largest LR_eval beats rewinding to the smallest (fine-tuning is LR rewinding
    with a smaller, worse LR_eval), at the smallest LR_find of fig4's LR-rewinding panel."""
    spec = _fig4(params)
    lines = spec["panels"].get("lr_rewind", {}).get("lines") or []
    lf = min((ln["lr_find"] for ln in lines), default=None)
    evals = sorted({ln["lr_eval"] for ln in lines if ln["lr_find"] == lf})
    if len(evals) < 2:
        raise NotRun("fig4's LR-rewinding panel has fewer than two LR_eval values")
    table = _need(tables, "fig4", f"the fig4 table ({paths.table('<exp>', 'rewinding', 'fig4')})")
    label = {ln["lr_eval"]: ln["label"] for ln in lines if ln["lr_find"] == lf}
    panel, level = spec["panels"]["lr_rewind"]["panel"], spec["level"]
    per_seed = {name: _pct(_acc_rows(table, panel, label[e], level, "fig4.csv"))
                for name, e in (("high", evals[-1]), ("low", evals[0]))}

    def detail(m):
        return (f"LR rewinding, LR_find {format_number(lf)}: LR_eval {format_number(evals[-1])} {m['high']:.1f}% vs "
                f"{format_number(evals[0])} {m['low']:.1f}% at level {level}")

    return per_seed, {"statistic": _diff("high", "low"), "detail": detail, "level": level}


def claim_lr_rewinding_beats_weight_rewinding(against: str):
    """C10 (L98): LR rewinding (smallest LR_find -> largest LR_eval) against weight rewinding of the same pair:
    ``against`` "theta0" (the regular ticket, weights rewound to initialisation: summary.csv) or "late" (Fig. 4a's
    late rewinding, weights rewound to an early epoch, as in Renda et al.: fig4's late panel). The paper does
    not say which; the table reports both."""
    def claim(tables: dict, params: dict):
        spec = _fig4(params)
        w, level = spec["weight"], spec["level"]

        def line_of(variant):
            lines = spec["panels"].get(variant, {}).get("lines") or []
            label = next((ln["label"] for ln in lines
                          if ln["lr_find"] == w["lr_find"] and ln["lr_eval"] == w["lr_eval"]), None)
            if label is None:
                raise NotRun(f"fig4's {variant} panel has no line LR_find {format_number(w['lr_find'])} -> LR_eval "
                             f"{format_number(w['lr_eval'])}")
            return spec["panels"][variant]["panel"], label

        table = _need(tables, "fig4", f"the fig4 table ({paths.table('<exp>', 'rewinding', 'fig4')})")
        panel, label = line_of("lr_rewind")
        per_seed = {"lr rewinding": _pct(_acc_rows(table, panel, label, level, "fig4.csv"))}
        if against == "theta0":
            summary = _need(tables, "summary", "summary.csv")
            per_seed["weight rewinding"] = _pct(_pair_rows(_lottery_at(summary, level), w["hfind"], w["heval"],
                                                           f"summary.csv at level {level}"))
            what = "weight rewinding to theta_0 (the regular ticket)"
        else:
            lpanel, llabel = line_of("late")
            per_seed["weight rewinding"] = _pct(_acc_rows(table, lpanel, llabel, level, "fig4.csv"))
            what = "late weight rewinding (fig4a)"

        def detail(m):
            return (f"LR rewinding {m['lr rewinding']:.1f}% vs {what} {m['weight rewinding']:.1f}%, "
                    f"{w['hfind']} -> {w['heval']} at level {level}")

        return per_seed, {"statistic": _diff("lr rewinding", "weight rewinding"), "detail": detail, "level": level}

    return claim


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

    return per_seed, {"statistic": _min_of_diffs(pairs), "detail": detail, "members": _members(pairs)}


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

    hs = f8.get("accuracy_hfinds") or []
    return per_seed, {"statistic": _diff("large", "small"), "detail": detail,
                      "masks": [(hs[0], level), (hs[-1], level)] if len(hs) == len(lines) else []}


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
    #: The paper's magnitude in the row's unit (the effect it states), for ``magnitude_excluded``; None if none.
    magnitude: float | None = None
    #: In the declared primary family (Secs. 3.1, 3.2, 3.4: C2, C3, C4, C8, Fig. 2's rows), adjusted on its own.
    primary: bool = False
    #: The compared values are accuracies (%): runs within ``collapse_pp`` of chance are flagged.
    accuracy: bool = True


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
_Q_F2TOP = ("it is better to find masks with a smaller LR_{find} (0.2 is slightly better than 0.05, but both are "
            "significantly better than 0.5), larger BS_{find} , and smaller WD_{find}")
_Q_F2BOT = ("given a constant H_{find} , the best performance is obtained by a larger LR_{eval} , smaller BS_{eval} , "
            "and larger WD_{eval}")
_Q_F1B = ("dropping the LR from 0.5 to 0.2 resulted in winning tickets that substantially outperform the global "
          "random baseline and are somewhat better than the random baseline with the same LPR as the winning ticket")
_A_FIG = {"lr": "A2", "batch_size": "A4", "weight_decay": "A6"}
_A_LINE = {"lr": "L245", "batch_size": "L253", "weight_decay": "L261"}
_A_QUOTE = {"lr": "0.1 does the best, followed closely by 0.2 then 0.05, and everything is significantly better than "
                  "0.5", "batch_size": "showing that larger is better", "weight_decay": "showing that smaller is better"}
_Q_C22 = ("the match-good-LPR does even better than the regular pruning runs with good H_{find} from Section 3.1 "
          "(green)")
_Q_C23 = ("By constraining LPR, we were able to account for the entire change in performance present in the "
          "decoupled find-eval phenomenon")
_Q_C24 = "Coupled hyperparameters were often best at high sparsity levels"
_Q_C25 = ("the distance between the early mask's LPR and the actual mask's LPR decreases quickly and plateaus, likely "
          "due to the learning rate decay (Figure A19)")
_Q_C26 = "all LR_{find} values start to plateau around epoch 70, which is when the learning rate decays."
_Q_C27 = ("LR_{find} of 0.05 and 0.2 are very similar and both perform significantly better than LR_{find} = 0.8, "
          "despite 0.8 performing the best on the unpruned model.")
_Q_C28 = ("in (d) we compare the different values of LR_{eval} , all with $LR_{find} = 0.1$, to demonstrate that the "
          "best LR_{eval} is 0.5, until very high sparsity levels where 0.1 becomes better.")
_VARIANT_NAMES = {"late": "late rewinding", "warmup": "LR warmup", "lr_rewind": "LR rewinding"}


def _c2(d):
    bad, good = BAD_END[d], good_end(d)
    return Claim(f"C2-{LABELS[d]}", f"{bad} {LABELS[d]}_find prunes early layers more", "Sec. 3.4, Fig. 6 (L114)",
                 _Q_C2, "", "pp", f"early({_MOST[bad]} {LABELS[d]}_find) - early({_MOST[good]} {LABELS[d]}_find) of "
                 f"the find grid, at fig6's level; {_EARLY}", claim_early_layers(d), ("fig6",), primary=True,
                 accuracy=False)


def _c3(d):
    return Claim(f"C3-{LABELS[d]}", f"decoupled beats every coupled run ({LABELS[d]}), moderate sparsity",
                 "Sec. 3.2, Fig. 3 (L78, L86)", _Q_C3, "+3 to +4 pp", "pp",
                 f"acc({_MOST[good_end(d)]} {LABELS[d]}_find -> {_MOST[BAD_END[d]]} {LABELS[d]}_eval) - max over the "
                 f"coupled runs of the {LABELS[d]} grid of acc(coupled), per seed (intersection-union: Fig. 3 compares "
                 f"with the best coupled run), at {_LEVEL_STAR}; declared pair: L84's good H_find with its "
                 f"'{_GOOD_EVAL[d]}' (chosen from the grids, not the results)", claim_decoupled_beats_coupled(d),
                 ("summary",), magnitude=3.0, primary=True)


def _f2c(d):
    return Claim(f"F2c-{LABELS[d]}", f"at the good {LABELS[d]}_eval, the good {LABELS[d]}_find beats the coupled run",
                 "Sec. 3.2, Fig. 2 top row at one H_eval (L84)", _Q_F2TOP, "", "pp",
                 f"acc({_MOST[good_end(d)]} {LABELS[d]}_find -> {_MOST[BAD_END[d]]} {LABELS[d]}_eval) - acc(coupled at "
                 f"that {LABELS[d]}_eval), at {_LEVEL_STAR} (C3's comparison before issue 22)",
                 claim_coupled_at_good_eval(d), ("summary",))


def _f2(d, row):
    if row == "top":
        return Claim(f"F2top-{LABELS[d]}", f"at fig2's H_eval, the {_MOST[good_end(d)]} {LABELS[d]}_find beats the "
                     f"{_MOST[BAD_END[d]]}", "Sec. 3.2, Fig. 2a-c (L64, L84)", _Q_F2TOP, "", "pp",
                     f"acc({_MOST[good_end(d)]} {LABELS[d]}_find) - acc({_MOST[BAD_END[d]]} {LABELS[d]}_find), fig2's "
                     f"constant H_eval (figures.fig2.constant_eval), at {_LEVEL_STAR}", claim_fig2_row(d, "top"),
                     ("summary",), primary=True)
    return Claim(f"F2bot-{LABELS[d]}", f"at fig2's H_find, the {_GOOD_EVAL[d]} is better", "Sec. 3.2, Fig. 2d-f (L64, "
                 "L84)", _Q_F2BOT, "", "pp", f"acc({_GOOD_EVAL[d].replace('er ', 'est ')}) - acc(the other end of the "
                 f"{LABELS[d]} eval grid), fig2's constant H_find (figures.fig2.constant_find), at {_LEVEL_STAR}",
                 claim_fig2_row(d, "bottom"), ("summary",), primary=True)


CLAIMS = [
    Claim("C1", "the best LR_find (pruned) is below the best dense LR", "Sec. 3.2, Figs. 1, 2 (L86)",
          "the good H_{find} values do not achieve the highest model accuracy", "", "decades of LR",
          "log10(best dense LR) - log10(best LR_find at L*) on the means; best dense LR = argmax of mean level-0 "
          "accuracy; best LR_find = argmax over LR_find of max over LR_eval; ties against the claim; descriptive",
          claim_best_lr_find_below_dense, ("summary",)),
    *[_c2(d) for d in DIMENSIONS],
    *[_c3(d) for d in DIMENSIONS],
    *[_f2(d, "top") for d in DIMENSIONS],
    *[_f2(d, "bottom") for d in DIMENSIONS],
    *[_f2c(d) for d in DIMENSIONS],
    *[Claim(f"C4-{LABELS[d]}", f"match-good-LPR beats match-bad-LPR ({LABELS[d]})", "Sec. 3.4, Fig. 7 (L118)",
            _Q_C4, "", "pp", f"acc(match-good-LPR) - acc(match-bad-LPR) ({LABELS[d]} panel of fig7, same H_eval) at "
            f"{_LEVEL_STAR}", claim_match_good_beats_bad(d), ("fig7",), primary=True) for d in DIMENSIONS],
    Claim("C5", "early pruning at a middle epoch improves on pruning at convergence", "Sec. 3.5, Fig. 9 (L128)",
          "pruning at epochs 50 (orange) or 70 (green) is actually better than pruning at convergence (110 epochs, "
          "red)", "slight gain", "pp",
          f"acc(masks pruned at fig9's epoch nearest half the schedule) - acc(at convergence), same H_eval, fig9's "
          f"panel of the default H_find, at {_LEVEL_STAR}; strict (> 0)", claim_early_pruning, ("fig9",)),
    Claim("C6", "with WD_find = 0, LR_find barely moves the LPR", "Sec. 3.4, Fig. 8 (L120)",
          "when the weight decay is set to 0, the learning rate barely affects the LPR", "", "pp",
          f"spread(default WD_find) - spread(WD_find = 0) per seed, spread = max - min over LR_find of early(H) at "
          f"fig6's level; {_EARLY}", claim_wd0_lpr_spread, ("fig6", "fig8"), accuracy=False),
    *[Claim(f"C7-{LABELS[d]}", f"structured: decoupled beats coupled ({LABELS[d]})", "Sec. 3.3, Fig. 5 (L100)",
            _Q_C7, "up to +2 pp", "pp", f"as C3 on the structured grids (fine-tuned runs: the declared pair against "
            f"each seed's best coupled run) at the ratio of channels pruned nearest 0.5", claim_structured(d),
            ("structured",)) for d in DIMENSIONS],
    Claim("C8-GR", "the coupled largest-LR ticket falls below global random at high sparsity",
          "Sec. 3.1, Fig. 1a (L40, L66)", "LR = 0.5 performed very poorly, even worse than the random baseline",
          "> 25 pp at 96-98%", "pp", "acc(global random) - acc(lottery), coupled H of fig1's largest LR, at the level "
          "nearest 97% within 96-98% ('not run' where the config does not reach it)",
          claim_below_random("lottery"), ("summary",), magnitude=25.0, primary=True),
    Claim("C8-PL", "preserve LPR of the largest-LR ticket falls below global random at high sparsity",
          "Sec. 3.1, Fig. 1a (L58, L66)",
          "the winning tickets (blue) and the random baseline with the same LPR as the winning ticket (green) are "
          "both worse than the global random baseline (orange) by over 25 percentage points at 96-98% sparsity",
          "> 25 pp at 96-98%", "pp", "acc(global random) - acc(preserve LPR), coupled H of fig1's largest LR, at the "
          "level nearest 97% within 96-98%", claim_below_random("preserve_lpr"), ("summary",), magnitude=25.0,
          primary=True),
    Claim("F1b-GR", "the coupled moderate-LR ticket beats global random", "Sec. 3.1, Fig. 1b (L68)", _Q_F1B, "",
          "pp", "acc(lottery) - acc(global random), coupled H of fig1's moderate LR (the defaults), last level",
          claim_fig1b("lottery"), ("summary",)),
    Claim("F1b-PL", "the coupled moderate-LR ticket beats preserve LPR", "Sec. 3.1, Fig. 1b (L68)", _Q_F1B, "",
          "pp", "acc(lottery) - acc(preserve LPR), coupled H of fig1's moderate LR (the defaults), last level",
          claim_fig1b("preserve_lpr"), ("summary",)),
    Claim("F1-dense", "the unpruned model is best at the largest LR", "Sec. 3.1, Fig. 1 (L66, L68)",
          "the unpruned model performs the best at LR = 0.5", "+3.6 pp (52.5% vs 48.9%)", "pp",
          "acc(dense, fig1's largest LR) - acc(dense, fig1's moderate LR), level 0, coupled", claim_fig1_lr(0),
          ("summary",), magnitude=3.6),
    Claim("F1-low", "at low sparsity the largest-LR ticket is still better", "Sec. 3.1, Fig. 1 (L68)",
          "The accuracy is decreased for low sparsity pruned networks as well.", "", "pp",
          "acc(lottery, fig1's largest LR) - acc(lottery, moderate LR), coupled, level 1 (the lowest sparsity)",
          claim_fig1_lr(1), ("summary",)),
    *[Claim(f"C9-{VARIANT_IDS[v]}", f"a smaller LR_find is better under {_VARIANT_NAMES[v]}",
            f"Sec. 3.3, Fig. 4{'abc'[i]} ({'L96' if v == 'warmup' else 'L82'})", _Q_C9[v], "", "pp",
            "acc(smallest LR_find) - acc(largest LR_find), per seed the minimum over the panel's LR_eval values "
            "(the claim holds for each), at fig4's level nearest 80% sparsity", claim_fig4_small_lr_find(v),
            ("fig4",)) for i, v in enumerate(("late", "warmup", "lr_rewind"))],
    Claim("C10", "LR rewinding to a high LR_eval beats weight rewinding", "Sec. 3.3, Fig. 4c (L98)",
          "taking a mask from a small LR_{find} and using learning rate rewinding to a high LR_{eval} improves "
          "accuracy by approximately 3 percentage points compared to weight rewinding (Figure 4c)", "about +3 pp",
          "pp", "acc(LR rewinding, smallest LR_find -> largest LR_eval) - acc(weight rewinding to theta_0: the "
          "regular ticket, same pair), at fig4's level nearest 80% sparsity",
          claim_lr_rewinding_beats_weight_rewinding("theta0"), ("fig4", "summary"), magnitude=3.0),
    Claim("C10-late", "LR rewinding to a high LR_eval beats late weight rewinding", "Sec. 3.3, Fig. 4c (L98)",
          "taking a mask from a small LR_{find} and using learning rate rewinding to a high LR_{eval} improves "
          "accuracy by approximately 3 percentage points compared to weight rewinding (Figure 4c)", "about +3 pp",
          "pp", "acc(LR rewinding, smallest LR_find -> largest LR_eval) - acc(late weight rewinding, fig4a's line of "
          "the same pair), at fig4's level nearest 80% sparsity", claim_lr_rewinding_beats_weight_rewinding("late"),
          ("fig4",), magnitude=3.0),
    Claim("C11", "local pruning: a larger LR_find is better", "App., Fig. A15 (L301)",
          "For both values of LR_{eval} , we see that the larger the LR_{find} , the better the pruned models perform.",
          "", "pp", f"acc(largest LR_find) - acc(smallest LR_find), local masks, per seed the minimum over figA15's "
          f"LR_eval panels (the claim holds for both), "
          f"at {_LEVEL_STAR}", claim_local_lr, ("figA15",)),
    *[Claim(f"C12-{LABELS[d]}", f"local pruning: {BAD_END[d]} {LABELS[d]}_find is better (opposite of global)",
            "App., Fig. A16 (L305)", "While large BS_{find} and small WD_{find} performed well in global pruning, we "
            "see the opposite for local pruning.", "", "pp",
            f"acc({_MOST[BAD_END[d]]} {LABELS[d]}_find) - acc({_MOST[good_end(d)]}), local masks, figA16's H_eval, "
            f"at {_LEVEL_STAR}", claim_local_opposite(d), ("figA16",)) for d in ("batch_size", "weight_decay")],
    Claim("C13", "with WD_find = 0, the larger LR_find does better", "Sec. 3.4, Fig. 8c (L124)",
          "the larger LR_{find} does better (c)", "", "pp",
          f"acc(largest LR_find) - acc(smallest LR_find), WD_find = 0, fig8's H_eval, at {_LEVEL_STAR}",
          claim_wd0_large_lr_better, ("fig8",)),
    Claim("C14", "LR rewinding to a high LR_eval beats rewinding to a low one", "Sec. 3.3, Fig. 4c (L98)",
          "fine-tuning is effectively the same as learning rate rewinding but with a smaller and worse LR_{eval}",
          "", "pp", "acc(LR rewinding, smallest LR_find -> largest LR_eval) - acc(same, smallest LR_eval), fig4's "
          "LR-rewinding panel, at fig4's level nearest 80% sparsity", claim_lr_rewinding_high_eval, ("fig4",)),
    *[Claim(f"C15-{LABELS[d]}", f"the coupled {'small-BS' if d == 'batch_size' else 'large-WD'} ticket falls below "
            f"global random at high sparsity", "Sec. 3.1, Fig. A1 (L66, L241)",
            "This failure also arises for reasonable values of batch size and weight decay (Figure A1).", "", "pp",
            f"acc(global random) - acc(lottery), coupled H of figA1's "
            f"{'smallest BS' if d == 'batch_size' else 'largest WD'}, at C8's level (nearest 97% within 96-98%)",
            claim_figA1(d), ("summary",))
      for d in ("batch_size", "weight_decay")],
    *[Claim(f"C16-{LABELS[d]}", f"C2 at every level of Fig. A17 ({LABELS[d]})", "Sec. 3.4, Fig. A17 (L114)",
            "This imbalance was consistent across different sparsity levels (Figure A17).", "", "pp",
            f"per seed the smallest over figA17's levels of early({_MOST[BAD_END[d]]} {LABELS[d]}_find) - "
            f"early({_MOST[good_end(d)]}); {_EARLY}", claim_early_layers_each_level(d), ("figA17",), accuracy=False)
      for d in DIMENSIONS],
    Claim("C17-init", "the late-rewound small-LR ticket is more stable than the same ticket from theta_0",
          "Sec. 3.3, Fig. A13 (L96, L293)", "LR = 0.05 without late rewinding (orange) and a larger LR = 0.2 from 2 "
          "epochs (green) both are not stable.", "", "pp of error",
          "barrier(small LR, rewound to theta_0) - barrier(small LR, rewound to epoch k), barrier = highest test "
          "error on the linear path between two copies minus the mean of its ends; per seed the minimum over figA13's "
          "levels", claim_stability("init"), ("figA13",), accuracy=False),
    Claim("C17-LR", "the late-rewound small-LR ticket is more stable than the large-LR one",
          "Sec. 3.3, Fig. A13 (L96, L293)", "this was only true for small learning rates (Figures A13, A14)", "",
          "pp of error", "barrier(large LR, epoch k) - barrier(small LR, epoch k); per seed the minimum over figA13's "
          "levels", claim_stability("lr"), ("figA13",), accuracy=False),
    Claim("C18", "the late-rewinding ticket beats every random baseline", "App., Fig. A14 (L297)",
          "The winning ticket does significantly better than all random baselines, including \"preserve mask\"",
          "", "pp", "acc(late-rewinding ticket, small LR) - each seed's best of global random, preserve LPR and "
          "preserve mask, at fig4's level nearest 80% sparsity", claim_figA14, ("figA14",)),
    Claim("C19", "a smaller LR_find starts nearer its final LPR", "Sec. 3.5, Fig. A19 (L134, L319)",
          "Smaller LR_{find} values start with much smaller distances", "", "pp",
          "distance(largest LR_find) - distance(smallest) at figA19's first epoch; distance = mean over layers of "
          "|LPR(epoch) - final LPR|, first pruning iteration", claim_distance_start, ("figA19",), accuracy=False),
    Claim("C20", "with a high LR_find the LPR moves more during training", "Sec. 3.5, Fig. A18 (L134, L315)",
          "For a high LR_{find}, LPR changes dramatically over training, while a low LR_{find} leads to stable LPR "
          "throughout training, with the exception of the first layer (Figure A18).", "", "pp",
          "movement(largest LR_find of figA18) - movement(smallest); movement = mean over the layers after the first "
          "of (max - min over epochs of the layer's pruning ratio)", claim_lpr_movement, ("figA18",),
          accuracy=False),
    *[Claim(f"C21-{LABELS[d]}", f"at every {LABELS[d]}_eval, the {_MOST[good_end(d)]} {LABELS[d]}_find beats the "
            f"{_MOST[BAD_END[d]]}", f"App., Fig. {_A_FIG[d]} ({_A_LINE[d]})", _A_QUOTE[d], "", "pp",
            f"acc({_MOST[good_end(d)]} {LABELS[d]}_find) - acc({_MOST[BAD_END[d]]} {LABELS[d]}_find) at each "
            f"{LABELS[d]}_eval of the eval grid, per seed the minimum, at {_LEVEL_STAR}", claim_every_eval(d),
            ("summary",)) for d in DIMENSIONS],
    *[Claim(f"C22-{LABELS[d]}", f"match-good-LPR beats the regular run of the good {LABELS[d]}_find",
            "Sec. 3.4, Fig. 7 (L118)", _Q_C22, "", "pp",
            f"acc(match-good-LPR: fig7's bad {LABELS[d]}_find pruned to the good one's LPR) - acc(the regular run of "
            f"fig7's good {LABELS[d]}_find, fig7's green line), both at fig7's H_eval, at {_LEVEL_STAR}",
            claim_match_good_beats_regular(d), ("fig7", "summary")) for d in DIMENSIONS],
    *[Claim(f"C23-{LABELS[d]}", f"constraining the LPR accounts for the whole gap of the {LABELS[d]}_find ends",
            "Sec. 3.4, Fig. 7 (L118)", _Q_C23, "", "pp",
            f"(acc(match-good-LPR) - acc(match-bad-LPR)) - (acc(regular, fig7's good {LABELS[d]}_find) - acc(regular, "
            f"its bad {LABELS[d]}_find)), all at fig7's H_eval, at {_LEVEL_STAR}; 'reproduced': the constrained gap "
            f"exceeds the regular one ('inconclusive' is compatible with the paper's 'entire': equal gaps)",
            claim_lpr_accounts_for_the_gap(d), ("fig7", "summary")) for d in DIMENSIONS],
    *[Claim(f"C24-{LABELS[d]}", f"structured: a coupled run is best at high sparsity ({LABELS[d]})",
            "Sec. 3.3, Fig. 5 (L100)", _Q_C24, "", "pp",
            f"max over fig5's coupled {LABELS[d]} runs of acc - max over its decoupled runs, per seed (fine-tuned "
            f"runs), at the largest ratio of channels pruned; 'not reproduced' needs one decoupled run below each "
            f"seed's best coupled run at 2.5% / K", claim_structured_coupled_high(d), ("structured",))
      for d in DIMENSIONS],
    Claim("C25", "the distance to the final LPR decreases during training", "Sec. 3.5, Fig. A19 (L134)", _Q_C25, "",
          "pp", "per LR_find of figA19: distance at its first epoch (initialisation) - distance at the epoch before "
          "the final one (at the final epoch it is 0 by construction), per seed the minimum over figA19's LR_find; "
          "distance = mean over layers of |LPR(epoch) - final LPR|, first pruning iteration", claim_distance_decreases,
          ("figA19",), accuracy=False),
    Claim("C26", "the distance to the final LPR plateaus after the LR decay", "Sec. 3.5, Fig. A19 (L134, L319)",
          _Q_C26, "around epoch 70 of 110", "pp per epoch",
          "per LR_find of figA19: mean drop of the distance per epoch before the first LR milestone m minus after it, "
          "(D(first) - D(m)) / (m - first) - (D(m) - D(last)) / (last - m), per seed the minimum over figA19's "
          "LR_find; m = training.milestones[0] ('not run' without a multistep schedule)", claim_distance_plateaus,
          ("figA19",), accuracy=False),
    Claim("C27", "other model (figA9 stand-in): the smallest LR_find beats the largest", "App., Fig. A9 (L275)",
          _Q_C27, "", "pp", "acc(smallest LR_find) - acc(largest LR_find) at the largest LR_eval of the figA9 "
          "stand-in's grid (its own experiment's runs), at its level nearest 97% sparsity (the main pruning "
          "schedule: the last level where it stops short of 97%)", claim_other_model("figA9"), ("figA9",)),
    Claim("C28", "other model (figA8 stand-in): at the middle LR_find, the largest LR_eval beats the middle one",
          "App., Fig. A8d (L271)", _Q_C28, "", "pp", "acc(largest LR_eval) - acc(the middle LR_eval of its grid) at "
          "the middle LR_find of the figA8 stand-in's grid (the paper's 0.1 of {0.02, 0.1, 0.5}), at L* (the level "
          "nearest 80% sparsity; the paper: best 'until very high sparsity levels')", claim_other_model("figA8"),
          ("figA8",)),
]


def _collapsed(per_seed: dict, seeds, chance: float, within: float) -> list[str]:
    """The runs (condition, seed) whose accuracy (%) is within ``within`` points of chance."""
    out = []
    for cond, values in per_seed.items():
        for s in seeds:
            if abs(float(values[s]) - chance) <= within:
                name = " ".join(map(str, cond)) if isinstance(cond, tuple) else str(cond)
                out.append(f"{name} seed {s} ({float(values[s]):.1f}%)")
    return out


#: A layer whose pruning ratio is at least this is "pruned to 100%" (float noise of a ratio of integer counts).
FULL_RATIO = 1 - 1e-9


def full_layers(tables: dict, params: dict) -> dict:
    """``{(H_find slug, level): {seed: [layers pruned to 100%]}}`` of every regular mask the LPR tables (fig6,
    figA17, fig8: ``params["lpr_masks"]``) give per-layer ratios of; a mask they cover with no such layer maps
    to ``{}``."""
    out = {}
    for name, panel, label, slug, level in params.get("lpr_masks") or []:
        t = tables.get(name)
        if t is None or "ratio" not in t:
            continue
        rows = t[(t["panel"] == panel) & (t["line"] == label) & (t["level"] == level)]
        if "panel_type" in rows:
            rows = rows[rows["panel_type"] == "lpr"]
        if rows.empty:
            continue
        entry = out.setdefault((slug, int(level)), {})
        full = rows[rows["ratio"] >= FULL_RATIO]
        for s, layers in full.groupby("seed")["layer"]:
            entry.setdefault(int(s), set()).update(str(x) for x in layers)
    return out


def _layer_collapse(masks, seeds, full: dict) -> str:
    """The detail note on the masks of a row's conditions (``(H_find slug, level)``): those with a layer pruned to
    100% in one of the row's seeds, and those no LPR table covers (not checked)."""
    hit, unchecked = [], []
    for slug, level in dict.fromkeys((m[0], int(m[1])) for m in masks):
        if (slug, level) not in full:
            unchecked.append(f"{slug} at level {level}")
            continue
        for s in seeds:
            layers = full[(slug, level)].get(int(s))
            if layers:
                hit.append(f"{slug} seed {s} ({', '.join(sorted(layers))})")
    note = ""
    if hit:
        note += f"; a layer pruned to 100% in the mask of: {', '.join(hit)}"
    if unchecked:
        note += f"; 100%-pruned layers not checked for {', '.join(unchecked)} (no LPR table of that mask)"
    return note


def _union_verdict(res: dict, per_seed: dict, members: list, ci: float) -> tuple[str, str]:
    """The verdict of a per-seed minimum / maximum statistic: ``reproduced`` as the rule says (the claim against
    every member: intersection-union, valid as it stands); ``not reproduced`` only where one member's own paired
    difference is ``not reproduced`` at ALPHA / K (Bonferroni over the K members: the per-seed extreme of noisy
    runs is biased against the claim, so its own interval cannot say so)."""
    k = len(members)
    alpha_k = alpha_of(ci) / k
    if res["verdict"] in ("reproduced", "underpowered"):
        return res["verdict"], ""
    for i, stat in enumerate(members):
        _, d = per_seed_effects(per_seed, stat)
        if paired_test(d, 1 - 2 * alpha_k)["verdict"] == "not reproduced":
            return "not reproduced", f"member {i + 1} of {k} below 0 at {alpha_k:.2%} (Bonferroni)"
    return "inconclusive", f"'not reproduced' needs one of the {k} below 0 at {alpha_k:.2%} (Bonferroni)"


def evaluate(claim_id: str, tables: dict, params: dict, full: dict | None = None) -> dict:
    """One row of the claims table (``p_holm`` and ``p_holm_primary`` are filled by :func:`claims_table`);
    ``full``: :func:`full_layers` of ``tables`` (computed here when not given)."""
    spec = next(c for c in CLAIMS if c.id == claim_id)
    row = {"claim_id": spec.id, "claim": spec.claim, "section": spec.section, "quote": spec.quote,
           "paper_value": spec.paper_value, "effect": math.nan, "ci_low": math.nan, "ci_high": math.nan,
           "p_signflip": math.nan, "unit": spec.unit, "verdict": "not run", "n_seeds": 0, "level": params["level"],
           "sparsity": params["sparsity"], "detail": "", "definition": spec.definition,
           "regime_warnings": "; ".join(params.get("regime_warnings") or []), "primary": spec.primary,
           "p": math.nan, "p_holm": math.nan, "p_holm_primary": math.nan, "k_direction": "", "per_seed": "",
           "paper_magnitude": math.nan if spec.magnitude is None else spec.magnitude, "magnitude_excluded": False}
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
    ci = params.get("ci", CI)
    if how.get("descriptive"):
        row.update(effect=round(float(how["statistic"](means)), DIGITS), verdict="descriptive", n_seeds=len(seeds))
    else:
        res = paired_test(diffs, ci)
        members = how.get("members") or []
        if len(members) > 1:
            res["verdict"], note = _union_verdict(res, per_seed, members, ci)
            if note:
                res["note"] = f"{res['note']}; {note}" if res["note"] else note
        row.update({k: res[k] for k in ("effect", "ci_low", "ci_high", "p_signflip", "n_seeds", "verdict", "p")})
        row["k_direction"] = f"{res['k_direction']} of {res['n_seeds']}"
        row["per_seed"] = " ".join(f"{s}:{round(x, DIGITS):.4g}" for s, x in zip(seeds, diffs))
        if res["note"]:
            detail += f"; {res['note']}"
        if spec.magnitude is not None and magnitude_excluded(diffs, spec.magnitude, ci):
            row["magnitude_excluded"] = True
            detail += f"; the paper's magnitude ({format_number(spec.magnitude)} {spec.unit}) is excluded"
    if spec.accuracy and params.get("chance") is not None:
        gone = _collapsed(per_seed, seeds, float(params["chance"]), float(params.get("collapse_pp", 5.0)))
        if gone:
            detail += (f"; collapsed runs (within {format_number(params.get('collapse_pp', 5.0))} pp of chance, "
                       f"{float(params['chance']):.1f}%): {', '.join(gone)}")
    if spec.accuracy and how.get("masks"):
        detail += _layer_collapse(how["masks"], seeds, full_layers(tables, params) if full is None else full)
    row["detail"] = f"{detail}; seeds {','.join(map(str, seeds))}"
    return row


def adjust(table):
    """Holm's adjustment of the rows' one-sided ``p`` over every tested row (``p_holm``) and, on its own, over
    the declared primary family (``p_holm_primary``); untested rows (not run, descriptive) stay NaN."""
    table = table.copy()
    table["p_holm"] = holm(table["p"].tolist())
    prim = table["primary"].astype(bool)
    table["p_holm_primary"] = math.nan
    if prim.any():
        table.loc[prim, "p_holm_primary"] = holm(table.loc[prim, "p"].tolist())
    return table


def claims_table(tables: dict, params: dict):
    """The claims table from the pipeline's tables (DataFrames keyed as :data:`INPUTS`, or None / absent for a
    table this run does not have)."""
    full = full_layers(tables, params)
    return adjust(pd.DataFrame([evaluate(c.id, tables, params, full) for c in CLAIMS], columns=COLUMNS))


def summary_line(table, alpha: float) -> str:
    """What the table's size means under no effect: tested rows, the expected number of false ``reproduced``
    (at most ``alpha`` per row), and how many rows survive Holm (all rows; the primary family)."""
    tested = table["p"].notna()
    n, n_prim = int(tested.sum()), int((tested & table["primary"].astype(bool)).sum())
    rep = int((table["verdict"] == "reproduced").sum())
    holm_all = int(((table["verdict"] == "reproduced") & (table["p_holm"] <= alpha)).sum())
    holm_prim = int(((table["verdict"] == "reproduced") & (table["p_holm_primary"] <= alpha)).sum())
    return (f"{n} tested rows ({n_prim} primary): under no effect at most {n * alpha:.2g} false 'reproduced' expected "
            f"({n_prim * alpha:.2g} primary); {rep} reproduced, {holm_all} with Holm over all tested rows, "
            f"{holm_prim} with Holm over the primary family (one-sided {alpha:.1%}; Holm can pass a row from "
            f"{min_seeds_holm(n_prim, alpha)} seeds in the primary family, {min_seeds_holm(n, alpha)} over all rows)")


def _num(x, fmt: str) -> str:
    return "" if x is None or x != x else format(x, fmt)


def markdown_table(table, *, primary_only: bool = False) -> str:
    """The claims table (``claims.csv`` as read by pandas) as a Markdown table, one row per claim: id (**bold** in
    the primary family), claim, verdict, effect with its 95% interval and unit, seeds in the paper's direction
    ("k of n"), p and the two Holm columns. What the README's "What reproduces" shows (``primary_only``: the
    primary family alone)."""
    rows = table[table["primary"].astype(bool)] if primary_only else table
    out = ["| id | claim | verdict | effect [95% interval] | seeds in the paper's direction | p | p Holm (all / primary) |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows.to_dict("records"):
        cid = f"**{r['claim_id']}**" if bool(r["primary"]) else r["claim_id"]
        unit = "" if r.get("unit") != r.get("unit") or not r.get("unit") else f" {r['unit']}"
        effect = _num(r.get("effect"), "+.2f")
        if effect and r.get("ci_low") == r.get("ci_low") and r.get("ci_low") is not None:
            effect += f" [{_num(r['ci_low'], '+.2f')}, {_num(r['ci_high'], '+.2f')}]"
        k = r.get("k_direction")
        k = "" if k is None or k != k else str(k)
        holm = " / ".join(_num(r.get(c), ".3f") or "-" for c in ("p_holm", "p_holm_primary")) \
            if r.get("p") == r.get("p") and r.get("p") is not None else ""
        out.append(f"| {cid} | {r['claim']} | {r['verdict']} | {effect}{unit if effect else ''} | {k} | "
                   f"{_num(r.get('p'), '.3f')} | {holm} |")
    return "\n".join(out) + "\n"


def read_tables(files: dict) -> dict:
    """Read the input tables; a path that is None, empty or missing gives None (its claims are ``not run``).
    :data:`METRICS_INPUTS` are lists of metrics.json files, read into one table of summary.csv's columns (the files
    that exist; None when none does)."""
    from .. import analysis

    tables = {}
    for name in INPUTS:
        path = files.get(name)
        if name in METRICS_INPUTS:
            found = [p for p in ([path] if isinstance(path, str) else list(path or [])) if os.path.exists(p)]
            tables[name] = analysis.load_metrics(found) if found else None
            continue
        if isinstance(path, (list, tuple)):
            path = path[0] if path else None
        tables[name] = pd.read_csv(path) if path and os.path.exists(path) else None
    return tables


def write_report(files: dict, params: dict, *, out_csv: str, pdf: str | None = None, png: str | None = None,
                 style: dict | None = None):
    """The claims job: read the tables, write ``claims.csv`` and (with ``pdf``/``png``) the figure. The stand-ins'
    metrics files (:data:`METRICS_INPUTS`) are the rule's inputs; where ``files`` does not name them
    (``scripts/claims.py`` passes the tables of :data:`INPUTS` before them), they are taken from
    ``params["other_models"]``, which lists the same paths (:func:`findeval.claims.plan.inputs`)."""
    others = params.get("other_models") or {}
    files = {**{name: list((others.get(name) or {}).get("files") or []) for name in METRICS_INPUTS}, **files}
    table = claims_table(read_tables(files), params)
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    warnings = list(params.get("regime_warnings") or [])
    for w in warnings:
        log.warning("regime far from the paper's: %s", w)
    for _, r in table.iterrows():
        log.info("%s %s: %s (effect %.3g %s, 95%% t interval [%.3g, %.3g], sign-flip p %.3g, p %.3g, Holm %.3g, "
                 "%d seeds) %s", r["claim_id"], r["claim"], r["verdict"], r["effect"], r["unit"], r["ci_low"],
                 r["ci_high"], r["p_signflip"], r["p"], r["p_holm"], r["n_seeds"], r["detail"])
    alpha = alpha_of(params.get("ci", CI))
    log.info("%s", summary_line(table, alpha))
    if pdf or png:
        draw_claims(table, pdf=pdf, png=png, style=style, warnings=warnings, alpha=alpha,
                    title=f"claims of the paper on experiment '{params['experiment']}'",
                    subtitle=summary_line(table, alpha))
    return table
