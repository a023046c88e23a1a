"""The claims report (findeval.claims): each claim computed from known synthetic tables (clearly for, clearly
against, noisy), the paired t interval and sign-flip test and their verdict rules, missing inputs give
`not run`, the files are written, and a dry run plans the `claims` rule. No training: a few seconds."""

import copy
import math
import zlib

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, TINY, planned_jobs, read_yaml, snakemake, validated, write_config
from findeval.claims import jobs as claims_jobs, plan as claims, stats as claims_stats
from findeval.hparams import H

SEEDS = [0, 1, 2, 3, 4, 5, 6]  # one more than claims_stats.MIN_SEEDS: the Bonferroni 'not reproduced' of C3 needs 7
N_LAYERS = 9


@pytest.fixture(scope="module")
def config() -> dict:
    """Three-value grids, seven seeds, five levels of p = 0.5 (L* = 2, 75% sparse; level 5 96.9%, C8's), a
    structured block, early pruning (figA18/figA19 of the two-epoch schedule, LR milestone 1) and the figA8/figA9
    stand-ins."""
    raw = read_yaml(TINY)
    raw["grids"] = {"lr": {"find": [0.05, 0.1, 0.5], "eval": [0.05, 0.1, 0.5]},
                    "batch_size": {"find": [64, 128, 256], "eval": [64, 128, 256]},
                    "weight_decay": {"find": [1e-4, 5e-4, 2.5e-3], "eval": [1e-4, 5e-4, 2.5e-3]}}
    raw["pruning"] = {"fraction": 0.5, "levels": 5}
    raw["seeds"] = SEEDS
    raw["structured"] = copy.deepcopy(read_yaml(REPO / "config.yaml")["structured"])
    raw["structured"]["seeds"] = SEEDS
    raw["early_pruning"] = {"epochs": [1]}
    raw["other_models"] = {
        "figA8": {"experiment": "tiny-a8", "lr": {"find": [0.02, 0.1, 0.5], "eval": [0.02, 0.1, 0.5]},
                  "constant_find": [0.1]},
        "figA9": {"experiment": "tiny-a9", "lr": {"find": [0.05, 0.2, 0.5], "eval": [0.5, 0.8]}, "constant_find": []}}
    return validated(raw)


@pytest.fixture(scope="module")
def params(config) -> dict:
    return claims.settings(config)


def _noise(seed: int) -> float:
    return 0.004 * (seed - 2)  # small, zero mean over SEEDS, shared by every condition of a seed


_JITTER = (-2, -1, 2, 2, -1, 0, 0)


def _jitter(seed: int) -> float:
    """Per-condition noise, zero mean over SEEDS (-2, -1, 2, 2, -1, 0, 0 thousandths): the per-seed differences of a
    claim vary, so its t interval is not degenerate."""
    return 0.001 * _JITTER[seed]


def _scale(*names) -> float:
    """A deterministic per-condition multiplier of the jitter (1 to 5.8), so that two conditions rarely share it."""
    return 1 + (zlib.crc32("|".join(map(str, names)).encode()) % 49) / 10


# --------------------------------------------------------------------------- synthetic tables


def _run_pairs(params: dict) -> set:
    pairs = {(hf, he) for _, _, hf, he in params["lr_pairs"]}
    for d in params["declared"].values():
        if d and "find" in d:
            pairs |= {(d["hfind"], d["heval"]), (d["heval"], d["heval"])}
            pairs |= {(slug, slug) for _, slug in d["coupled"]}
    for rows in params["fig2"].values():
        for key, spec in rows.items():
            if key == "every_eval":
                pairs |= {(hf, he) for _, good, bad, he in spec.get("evals", []) for hf in (good, bad)}
            elif "good" in spec:
                pairs |= {(spec["good"][1], spec["good"][2]), (spec["bad"][1], spec["bad"][2])}
    pairs |= {(h, h) for h in params["figA1"].values()}
    w = (params.get("fig4") or {}).get("weight")
    if w:
        pairs.add((w["hfind"], w["heval"]))
    pairs |= {(spec[h], spec["heval"]) for spec in params["fig7"].values() for h in ("hgood", "hbad")}
    return pairs


def summary_table(params: dict, acc, random_acc=None) -> pd.DataFrame:
    """Every run the claims read: ``acc(hfind, heval, level, seed)`` -> test accuracy (a fraction); with
    ``random_acc(kind, level, seed)``, fig1's random baselines too."""
    pairs = _run_pairs(params)
    rows = []
    for hf, he in sorted(pairs):
        for level in range(0, params["last_level"] + 1):
            if level == 0 and hf != he:
                continue
            for s in SEEDS:
                rows.append({"kind": "lottery", "level": level, "seed": s, "hfind": hf, "heval": he,
                             "coupled": hf == he, "sparsity": claims.sparsity_at(params["fraction"], level),
                             "test_accuracy": acc(hf, he, level, s), "diverged": False})
    for hf, he in sorted({(hf, hf) for hf, _ in pairs}):  # dense runs of every H_find
        rows += [{"kind": "lottery", "level": 0, "seed": s, "hfind": hf, "heval": he, "coupled": True,
                  "sparsity": 0.0, "test_accuracy": acc(hf, he, 0, s), "diverged": False} for s in SEEDS]
    if random_acc is not None:
        fig1 = {which: params["fig1"][which] for which in ("h", "h_moderate")}
        for which, h in {**fig1, **{f"figA1-{d}": h for d, h in params["figA1"].items()}}.items():
            for kind, hf in (("global_random", ""), ("preserve_lpr", h)):
                rows += [{"kind": kind, "level": lv, "seed": s, "hfind": hf, "heval": h, "coupled": False,
                          "sparsity": claims.sparsity_at(params["fraction"], lv),
                          "test_accuracy": random_acc(kind, which, acc(h, h, lv, s), s), "diverged": False}
                         for lv in range(1, params["last_level"] + 1) for s in SEEDS]
    return pd.DataFrame(rows).drop_duplicates(["kind", "hfind", "heval", "level", "seed"])


GRIDS = {"lr": [0.05, 0.1, 0.5], "batch_size": [64, 128, 256], "weight_decay": [1e-4, 5e-4, 2.5e-3]}


def _pos(dim: str, value: float, phase: str) -> float:
    """0 at one end of the fixture's grid, 1 at the good end of ``phase`` (find: small LR, large BS, small WD;
    eval: the other end), linear in the rank."""
    grid = GRIDS[dim]
    rank = (grid.index(value) / (len(grid) - 1) if value in grid
            else min(1.0, max(0.0, (value - grid[0]) / (grid[-1] - grid[0]))))
    good_small = (claims.BAD_END[dim] == "large") == (phase == "find")
    return 1 - rank if good_small else rank


def decoupled_acc(sign: float):
    """``sign`` 1: the paper's direction throughout (-1: the opposite). Pruned: 0.6 + sign * (5 pp per unit of
    find goodness of H_find and of eval goodness of H_eval; the coupled run at the largest LR 2 pp better at level
    1 and 15 pp worse from level 2); dense: larger LRs better (5 pp from the smallest to the largest). Plus seed noise
    shared by every condition and a per-condition jitter."""
    def acc(hf, he, level, seed):
        a, b = H.parse(hf), H.parse(he)
        j = _jitter(seed) * _scale(hf, he, level) + _noise(seed)
        if level == 0:
            return 0.8 + sign * 0.05 * _pos("lr", a.lr, "eval") + j
        good = sum(_pos(d, getattr(a, d), "find") + _pos(d, getattr(b, d), "eval") for d in GRIDS)
        coupled = hf == he
        top = coupled and a.lr == max(GRIDS["lr"])  # Fig. 1: best at level 1, fails from level 2
        return 0.6 + sign * (0.05 * good - 0.15 * (top and level >= 2) + 0.02 * (top and level == 1)) + j
    return acc


def random_acc(sign: float):
    """Relative to the coupled ticket of the same H (``lottery``): global random 8 pp above it at fig1's largest
    LR and 7 pp below it at the moderate LR; preserve LPR 4 pp above / 3 pp below (``sign`` -1: the opposite)."""
    offsets = {("global_random", "h"): 0.08, ("preserve_lpr", "h"): 0.04, ("global_random", "h_moderate"): -0.07,
               ("preserve_lpr", "h_moderate"): -0.03}
    for d in ("batch_size", "weight_decay"):  # figA1: global random 6 pp above the coupled small-BS / large-WD ticket
        offsets.update({("global_random", f"figA1-{d}"): 0.06, ("preserve_lpr", f"figA1-{d}"): 0.0})

    def acc(kind, which, lottery, seed):
        return lottery + sign * offsets[(kind, which)] + _jitter(seed) * _scale(kind, which)
    return acc


def lpr_table(params: dict, early: dict, *, fig: str = "fig6", panels: dict | None = None,
              level: int | None = None, jitter: bool = True) -> pd.DataFrame:
    """An LPR table: ``early[(panel, label)]`` is the pruning ratio of the first three of nine layers (the other
    layers are pruned 50%); with ``jitter``, the last line of each panel gets the per-condition jitter."""
    level = params["fig6"]["level"] if level is None else level
    last = {}
    for panel, label in early:
        last[panel] = label
    rows = []
    for (panel, label), ratio in early.items():
        for s in SEEDS:
            j = _jitter(s) if jitter and last[panel] == label else 0.0
            for i in range(N_LAYERS):
                rows.append({"figure": fig, "panel": panel, "panel_type": "lpr", "line": label, "style": None,
                             "seed": s, "level": level, "layer_index": i, "layer": f"l{i}.weight",
                             "ratio": (ratio + 0.002 * (s - 2) + j) if i < 3 else 0.5})
    return pd.DataFrame(rows)


def figA17_table(params: dict, bad_more: float) -> pd.DataFrame:
    """figA17: fig6's pattern at each of its levels, the bad end pruning early layers ``bad_more`` more."""
    frames = []
    for dim, specs in params["figA17"].items():
        for spec in specs:
            lines = spec["lines"]
            early = {}
            for i, line in enumerate(lines):
                t = i / max(1, len(lines) - 1)
                badness = 1 - t if claims.BAD_END[dim] == "small" else t
                early[(spec["panel"], line["label"])] = 0.3 + bad_more * badness
            frames.append(lpr_table(params, early, fig="figA17", level=spec["level"]))
    return pd.concat(frames, ignore_index=True)


def figA13_table(params: dict, sign: float) -> pd.DataFrame:
    """figA13: barriers (fractions of test error) 0.01 for the rewound small-LR ticket, + sign * 0.05 from theta_0,
    + sign * 0.08 for the large LR; two alphas per run."""
    spec = params["instability"]["a13"]
    rows = []
    for p, level in enumerate(spec["levels"]):
        for label, extra in ((spec["stable"], 0.0), (spec["init"], 0.05), (spec["large"], 0.08)):
            for s in SEEDS:
                barrier = 0.01 + sign * extra + _jitter(s) * _scale("a13", label, level)
                rows += [{"figure": "figA13", "panel": p, "line": label, "seed": s, "level": level, "late_epoch": 1,
                          "alpha": a, "test_error": 0.2, "test_accuracy": 0.8, "instability": barrier,
                          "sparsity": 0.5, "path": ""} for a in (0.0, 1.0)]
    return pd.DataFrame(rows)


def figA14_table(params: dict, sign: float) -> pd.DataFrame:
    """figA14: the late-rewinding ticket sign * 5 pp above its three random baselines (0.7, 0.69, 0.68)."""
    spec = params["instability"]["a14"]
    lines = [(spec["lottery"], 0.7 + sign * 0.05)] + [(b, 0.7 - 0.01 * i) for i, b in enumerate(spec["baselines"])]
    return pd.DataFrame([{"figure": "figA14", "panel": 0, "panel_type": "accuracy", "line": label, "style": None,
                          "seed": s, "level": lv, "test_accuracy": acc + _jitter(s) * _scale("figA14", label, lv)
                          + _noise(s), "diverged": False}
                         for label, acc in lines for lv in range(0, params["last_level"] + 1) for s in SEEDS])


def fig6_table(params: dict, bad_more: dict) -> pd.DataFrame:
    """fig6 with the bad end of each grid (large LR, small BS, large WD) pruning early layers ``bad_more[dim]``
    more than the good end (negative: less)."""
    early = {}
    for dim, spec in params["fig6"]["panels"].items():
        lines = spec["lines"]
        bad_first = claims.BAD_END[dim] == "small"
        for i, line in enumerate(lines):
            t = i / max(1, len(lines) - 1)  # 0 at the smallest value, 1 at the largest
            badness = 1 - t if bad_first else t
            early[(spec["panel"], line["label"])] = 0.3 + bad_more[dim] * badness
    return lpr_table(params, early)


def accuracy_rows(fig: str, panel: int, lines: list, acc_of, levels) -> list[dict]:
    """Accuracy rows of an LPR-style table: ``acc_of(i, n, seed)`` for the i-th of n lines."""
    return [{"figure": fig, "panel": panel, "panel_type": "accuracy", "line": line["label"], "style": None,
             "seed": s, "level": lv, "test_accuracy": acc_of(i, len(lines), s) + _noise(s), "diverged": False}
            for i, line in enumerate(lines) for lv in levels for s in SEEDS]


def _rising(sign: float, best: str = "large"):
    """Line i of n: 0.7 + sign * 5 pp at the ``best`` end (largest or smallest value), jitter on that line."""
    def acc(i, n, s):
        top = i == (n - 1 if best == "large" else 0)
        return 0.7 + (sign * 0.05 + _jitter(s)) * top
    return acc


def fig7_table(params: dict, good_minus_bad: float, regular=None) -> pd.DataFrame:
    """fig7's lines: the regular runs of the good and bad H_find at fig7's H_eval as ``regular(hfind, heval, level,
    seed)`` gives them (the summary's accuracy function, so that they are the summary's runs; default 0.6 plus the
    seed noise), match-bad-LPR equal to the regular bad run and match-good-LPR ``good_minus_bad`` above the regular
    good run (jittered). C4 = the regular gap + good_minus_bad; C22 and C23 = good_minus_bad."""
    regular = regular or (lambda hf, he, level, seed: 0.6 + _noise(seed))
    rows = []
    for dim, spec in params["fig7"].items():
        for level in range(0, params["last_level"] + 1):
            for s in SEEDS:
                good, bad = (regular(spec[h], spec["heval"], level, s) for h in ("hgood", "hbad"))
                for style, acc in (("match-good", good + good_minus_bad + _jitter(s)), ("match-bad", bad),
                                   ("regular-good", good), ("regular-bad", bad)):
                    rows.append({"figure": "fig7", "panel": spec["panel"], "panel_type": "accuracy", "line": style,
                                 "style": style, "seed": s, "level": level, "test_accuracy": acc, "diverged": False})
    return pd.DataFrame(rows)


def fig8_table(params: dict, spread: float, sign: float = 1.0, jitter: bool = False) -> pd.DataFrame:
    """fig8's LPR panel at fig6's level (the early-layer ratio moves by ``spread`` over the LR_find values) and
    its accuracy panel (the largest LR_find ``sign`` * 5 pp above the others)."""
    lines = params["fig8"]["lines"]
    early = {(params["fig8"]["panel"], line["label"]): 0.3 + spread * i / (len(lines) - 1)
             for i, line in enumerate(lines)}
    acc = accuracy_rows("fig8", params["fig8"]["accuracy_panel"], params["fig8"]["accuracy_lines"], _rising(sign),
                        range(0, params["last_level"] + 1))
    return pd.concat([lpr_table(params, early, fig="fig8", jitter=jitter), pd.DataFrame(acc)], ignore_index=True)


def fig4_table(params: dict, sign: float) -> pd.DataFrame:
    """fig4: every line 0.6 + sign * 0.3 (LR rewinding beats the regular ticket with sign 1, loses with -1), the
    smallest LR_find sign * 5 pp above the others in every panel, the LR-rewinding panel sign * 3 pp above the
    others (C10-late), its lines at the smaller LR_eval sign * 2 pp lower (C14)."""
    spec = params["fig4"]
    rows = []
    for variant, panel in spec["panels"].items():
        small = min(ln["lr_find"] for ln in panel["lines"])
        for ln in panel["lines"]:
            top = ln["lr_find"] == small
            low_eval = variant == "lr_rewind" and ln["lr_eval"] < max(x["lr_eval"] for x in panel["lines"])
            base = 0.6 + sign * (0.3 + 0.03 * (variant == "lr_rewind") - 0.02 * low_eval)
            rows += [{"figure": "fig4", "panel": panel["panel"], "panel_type": "accuracy", "line": ln["label"],
                      "style": None, "seed": s, "level": lv,
                      "test_accuracy": base + (sign * 0.05 + _jitter(s) * _scale(variant, ln["label"])) * top
                      + _noise(s), "diverged": False} for lv in range(0, params["last_level"] + 1) for s in SEEDS]
    return pd.DataFrame(rows)


def local_tables(params: dict, sign: float) -> dict:
    levels = range(0, params["last_level"] + 1)
    a15 = [r for p in params["figA15"] for r in accuracy_rows("figA15", p["panel"], p["lines"], _rising(sign), levels)]
    a16 = [r for dim, p in params["figA16"].items()
           for r in accuracy_rows("figA16", p["panel"], p["lines"], _rising(sign, claims.BAD_END[dim]), levels)]
    return {"figA15": pd.DataFrame(a15), "figA16": pd.DataFrame(a16)}


def structured_table(params: dict, sign: float) -> pd.DataFrame:
    """Fine-tuned runs: every decoupled run sign * 5 pp above the coupled ones (jittered), except at the largest
    ratio, where the coupled runs are sign * 5 pp above the decoupled ones (C24: L100's high sparsity)."""
    spec = params["structured"]
    runs = set()
    for d in spec["declared"].values():
        if d and "find" in d:
            runs |= {(d["hfind"], d["heval"]), *((slug, slug) for _, slug in d["coupled"])}
    for f5 in spec["fig5"].values():
        if "why" not in f5:
            runs |= {(slug, slug) for _, slug in f5["coupled"]} | {(hf, he) for _, _, hf, he in f5["decoupled"]}
    rows = []
    for hf, he in sorted(runs):
        for ratio in (0.2, 0.4, 0.6, 0.8):
            high = ratio == spec["high_ratio"]
            acc = 0.6 + sign * 0.05 * ((hf == he) == high)
            rows += [{"kind": "finetune", "hfind": hf, "heval": he, "coupled": hf == he, "seed": s,
                      "ratio": ratio, "test_accuracy": acc + _noise(s) + (_jitter(s) if hf != he else 0)}
                     for s in SEEDS]
    return pd.DataFrame(rows)


def other_model_table(params: dict, fig: str, sign: float) -> pd.DataFrame:
    """A stand-in's compared runs (C27: figA9, C28: figA8) as summary.csv rows: the declared "good" run sign * 5 pp
    above the "bad" one (jittered)."""
    spec = params["other_models"][fig]
    rows = []
    for name in ("good", "bad"):
        _, _, hf, he = spec[name]
        rows += [{"kind": "lottery", "level": spec["level"], "seed": s, "hfind": hf, "heval": he, "coupled": hf == he,
                  "sparsity": spec["sparsity"], "diverged": False,
                  "test_accuracy": 0.7 + _noise(s) + (sign * 0.05 + _jitter(s)) * (name == "good")} for s in SEEDS]
    return pd.DataFrame(rows)


def all_tables(params: dict, sign: float = 1.0) -> dict:
    """Every table, the paper's direction (``sign`` = 1) or the opposite (-1) throughout."""
    return {"summary": summary_table(params, decoupled_acc(sign), random_acc(sign)),
            "fig6": fig6_table(params, {d: sign * 0.3 for d in params["fig6"]["panels"]}),
            "fig7": fig7_table(params, sign * 0.08, decoupled_acc(sign)),
            "fig8": fig8_table(params, 0.4 - sign * 0.3, sign),  # fig6's LR spread is 0.3: 0.1 with sign 1, 0.7 with -1
            "structured": structured_table(params, sign),
            "fig4": fig4_table(params, sign),
            "figA17": figA17_table(params, sign * 0.2),
            "figA13": figA13_table(params, sign), "figA14": figA14_table(params, sign),
            **_trajectory_tables(params["lpr_trajectory"], sign),
            **{fig: other_model_table(params, fig, sign) for fig in ("figA8", "figA9")},
            **local_tables(params, sign)}


def row(table: pd.DataFrame, claim_id: str) -> pd.Series:
    return table.set_index("claim_id").loc[claim_id]


# --------------------------------------------------------------------------- verdicts and the paired test


@pytest.mark.parametrize("lo, hi, expected", [
    (0.1, 0.5, "reproduced"),
    (-0.5, -0.1, "not reproduced"),
    (-0.1, 0.5, "inconclusive"),
    (0.0, 0.5, "inconclusive"),    # the interval touches 0: not excluded
    (-0.2, 0.0, "inconclusive"),
    (math.nan, math.nan, "underpowered"),
])
def test_verdict_rules(lo, hi, expected):
    assert claims_stats.verdict(lo, hi) == expected


def test_paired_test_is_a_t_interval_of_the_per_seed_differences():
    d = [1.0, 2.0, 0.5, 1.5]
    res = claims_stats.paired_test(d)
    mean, sd = np.mean(d), np.std(d, ddof=1)
    half = 3.182446305284263 * sd / 2  # t_{0.975, 3} (scipy.stats.t.ppf), sqrt(4) = 2
    assert res["effect"] == pytest.approx(mean)
    assert res["ci_low"] == pytest.approx(mean - half, abs=1e-8)
    assert res["ci_high"] == pytest.approx(mean + half, abs=1e-8)
    assert res["verdict"] == "underpowered" and res["n_seeds"] == 4 and res["k_direction"] == 4  # 4 < MIN_SEEDS
    assert "4 of 4 seeds in the paper's direction" in res["note"] and "needs 6 seeds" in res["note"]
    assert res["p_signflip"] == pytest.approx(1 / 16)  # every difference positive: only the observed pattern
    assert res["p"] == pytest.approx(max(res["p_t"], 1 / 16))
    six = d + [1.2, 0.8]
    assert claims_stats.paired_test(six)["verdict"] == "reproduced"
    assert claims_stats.paired_test([-x for x in six])["verdict"] == "not reproduced"
    assert claims_stats.paired_test([1.0, -1.2, 0.3, 0.5, -0.4, 0.2])["verdict"] == "inconclusive"
    # the sign-flip p by hand: patterns of (1, -1, 3) with mean >= 1: (+,+,+) (+,-,+)... 4 of 8 have sum >= 3
    assert claims_stats.sign_flip_p([1.0, -1.0, 3.0]) == pytest.approx(3 / 8)


@pytest.mark.parametrize("q, df, expected", [(0.975, 1, 12.706204736174694), (0.975, 4, 2.7764451051977934),
                                             (0.95, 9, 1.8331129326536335), (0.025, 2, -4.302652729749464)])
def test_t_quantile_matches_scipy(q, df, expected):
    assert claims_stats.t_ppf(q, df) == pytest.approx(expected, rel=1e-9)


def test_underpowered_and_zero_variance_rules():
    one = claims_stats.paired_test([0.5])
    assert one["verdict"] == "underpowered" and one["effect"] == 0.5 and math.isnan(one["ci_low"])
    three = claims_stats.paired_test([2.0, 2.0, 2.0])
    assert three["verdict"] == "underpowered" and three["ci_low"] == three["ci_high"] == 2.0  # still shown
    # no discontinuity at zero variance: [2, 2, 2] and [2, 2, 2.0000001] read the same, at 3 and at 6 seeds
    assert claims_stats.paired_test([2.0, 2.0, 2.0000001])["verdict"] == "underpowered"
    five = claims_stats.paired_test([2.0] * 5)
    assert five["verdict"] == "underpowered" and five["p_signflip"] == pytest.approx(1 / 32)  # 1/32 > 2.5%
    six = claims_stats.paired_test([2.0] * 6)
    assert six["verdict"] == "reproduced" and six["p_signflip"] == pytest.approx(1 / 64)
    assert claims_stats.paired_test([2.0] * 5 + [2.0000001])["verdict"] == "reproduced"
    assert claims_stats.paired_test([-2.0] * 6)["verdict"] == "not reproduced"
    # one seed dragging the mean: the t interval is above 0 but the sign-flip test is not convinced
    dragged = claims_stats.paired_test([0.1, 0.1, 0.1, 0.1, -0.1, 30.0, 0.1, 0.1])
    assert dragged["verdict"] == "inconclusive" or dragged["ci_low"] <= 0
    zero = claims_stats.paired_test([0.0] * 6)
    assert zero["verdict"] == "inconclusive" and zero["ci_low"] == zero["ci_high"] == 0
    # float noise does not break a tie: 0.1 + 0.2 - 0.3 is 5.6e-17, rounded to 0
    assert claims_stats.paired_test([0.1 + 0.2 - 0.3, 0.0, 0.0, 0.0, 0.0, 0.0])["verdict"] == "inconclusive"
    with pytest.raises(claims_stats.NotRun, match="share no seed"):
        claims_stats.per_seed_effects({"a": {0: 1.0}, "b": {1: 0.5}}, lambda m: m["a"] - m["b"])
    seeds, diffs = claims_stats.per_seed_effects({"a": {0: 1.0, 1: 2.0, 9: 5.0}, "b": {0: 0.5, 1: 1.0}},
                                           lambda m: m["a"] - m["b"])
    assert seeds == [0, 1] and diffs == [0.5, 1.0]  # seed 9: only in a; paired per seed


def test_moderate_level_and_ratio(config, tiny_config, main_config):
    assert claims.moderate_level(main_config) == 7  # 1 - 0.8^7 = 79.0% (level 8: 83.2%)
    assert claims.moderate_level(tiny_config) == 2  # 75% (level 1: 50%)
    assert claims.moderate_level(config) == 2       # 75% is nearer 80% than 87.5%
    assert claims.moderate_ratio([0.2, 0.4, 0.6, 0.8]) == 0.4  # tie with 0.6: the lower
    assert claims.settings(main_config)["structured"]["ratio"] == 0.4
    assert claims.settings(tiny_config)["structured"] is None
    assert claims.inputs(tiny_config)["structured"] == []
    assert claims.inputs(main_config)["structured"] == ["results/digits/structured/summary.csv"]


def test_declared_pairs_follow_the_paper(params):
    """C3's pair: the good H_find end with the good H_eval end (L84), against the coupled run at that H_eval."""
    d = params["declared"]
    assert (d["lr"]["find"], d["lr"]["eval"]) == (0.05, 0.5)
    assert (d["batch_size"]["find"], d["batch_size"]["eval"]) == (256, 64)
    assert (d["weight_decay"]["find"], d["weight_decay"]["eval"]) == (1e-4, 2.5e-3)
    assert claims.declared_pair([0.05, 0.1], [0.1, 0.5], "lr") == {"find": 0.05, "eval": 0.1}  # 0.5: no coupled run
    assert claims.declared_pair([64, 256], [16, 64], "batch_size") == {"find": 256, "eval": 64}
    assert "share no value" in claims.declared_pair([0.05], [0.1, 0.5], "lr")["why"]
    assert "coincide" in claims.declared_pair([0.1], [0.1], "lr")["why"]


def test_settings_carry_regime_warnings(params, main_config):
    assert isinstance(params["regime_warnings"], list)
    assert claims.settings(main_config)["regime_warnings"] == claims.regime_warnings(main_config)


# --------------------------------------------------------------------------- each claim from a known table


def test_every_claim_reproduced_when_the_tables_say_so(params):
    table = claims_jobs.claims_table(all_tables(params, +1), params)
    assert list(table.columns) == claims.COLUMNS
    assert list(table["claim_id"]) == [c.id for c in claims_jobs.CLAIMS]
    assert table["claim_id"].is_unique
    assert table["quote"].str.len().min() > 20 and table["section"].str.contains("L").all()
    verdicts = dict(zip(table["claim_id"], table["verdict"]))
    assert verdicts.pop("C5") == "not run"  # no fig9 table
    assert verdicts.pop("C1") == "descriptive"
    assert set(verdicts.values()) == {"reproduced"}, table.loc[table["verdict"] != "reproduced",
                                                               ["claim_id", "verdict", "detail"]].to_string()
    assert (table.loc[table["claim_id"] != "C5", "n_seeds"] == len(SEEDS)).all()
    tested = table[~table["claim_id"].isin(["C1", "C5"])]
    assert (tested["ci_low"] < tested["ci_high"]).all()  # the jitter: no degenerate interval
    assert (tested["p_signflip"] == 1 / 128).all()  # every per-seed difference positive
    assert (tested["k_direction"] == "7 of 7").all() and tested["per_seed"].str.count(":").eq(7).all()
    # Holm: every tested row, and the primary family on its own (fewer rows: smaller adjusted p)
    assert tested["p_holm"].notna().all() and (tested["p_holm"] >= tested["p"]).all()
    prim = table[table["primary"]]
    assert set(prim["claim_id"].str.split("-").str[0]) == {"C2", "C3", "C4", "C8", "F2top", "F2bot"}
    assert (prim["p_holm_primary"] <= prim["p_holm"]).all()
    assert table.loc[~table["primary"], "p_holm_primary"].isna().all()
    assert math.isnan(row(table, "C1")["p_holm"])
    # the paper's magnitude: C8 (> 25 pp) is excluded by an effect of 8 pp, C3 (3 pp) is not by 13 pp
    assert bool(row(table, "C8-GR")["magnitude_excluded"])
    assert "magnitude (25 pp) is excluded" in row(table, "C8-GR")["detail"]
    assert not row(table, "C3-LR")["magnitude_excluded"] and math.isnan(row(table, "C2-LR")["paper_magnitude"])
    assert "collapsed" not in " ".join(table["detail"])
    # C3 (Fig. 3): declared pair 0.05 -> 0.5 (goodness 2 for LR + 2 for BS and WD) against the best coupled run (3)
    # (each seed's best coupled run takes that seed's largest jitter: a little below 5, never above)
    assert 4.5 < row(table, "C3-LR")["effect"] <= 5.0
    assert "each seed's best coupled" in row(table, "C3-LR")["detail"]
    assert row(table, "F2c-BS")["effect"] == pytest.approx(5.0)  # against the coupled run at BS_eval 64
    assert row(table, "F2c-LR")["effect"] == pytest.approx(20.0)  # the coupled run at LR 0.5 fails (Fig. 1a): -15
    assert row(table, "F2top-BS")["effect"] == pytest.approx(5.0)  # both decoupled at fig2's constant H_eval
    assert row(table, "F2bot-WD")["effect"] == pytest.approx(5.0)
    assert 4.5 < row(table, "C21-WD")["effect"] <= 5.0  # per seed the smallest over the three WD_eval
    assert row(table, "F1b-GR")["effect"] == pytest.approx(7.0) and row(table, "F1b-PL")["effect"] == pytest.approx(3.0)
    assert row(table, "F1-dense")["effect"] == pytest.approx(2.5) and row(table, "F1-dense")["level"] == 0
    assert row(table, "F1-low")["effect"] == pytest.approx(2.0) and row(table, "F1-low")["level"] == 1
    assert 4.5 < row(table, "C3-BS")["effect"] <= 5.0
    assert row(table, "C4-BS")["effect"] == pytest.approx(13.0)  # the regular gap (5 pp) + match-good's 8 pp
    for d in ("LR", "BS", "WD"):
        assert row(table, f"C22-{d}")["effect"] == pytest.approx(8.0)  # match-good 8 pp above the regular good run
        assert row(table, f"C23-{d}")["effect"] == pytest.approx(8.0)  # gaps 13 pp (constrained) and 5 pp (regular)
        assert row(table, f"C24-{d}")["effect"] == pytest.approx(5.0) and row(table, f"C24-{d}")["sparsity"] == 0.8
    assert 15.0 < row(table, "C25")["effect"] <= 16.2  # per seed the smallest of 0.8 * (20 pp +- jitter)
    assert 11.0 < row(table, "C26")["effect"] <= 12.2  # 0.8 A per epoch before the milestone, 0.2 A after
    assert row(table, "C27")["effect"] == pytest.approx(5.0) and row(table, "C27")["level"] == 5  # nearest 97%
    assert row(table, "C28")["effect"] == pytest.approx(5.0) and row(table, "C28")["level"] == params["level"]
    assert row(table, "C19")["effect"] == pytest.approx(10.0) and row(table, "C20")["effect"] == pytest.approx(20.0)
    assert row(table, "C2-WD")["effect"] == pytest.approx(30.0)
    assert row(table, "C6")["effect"] == pytest.approx(30.0 - 10.0)
    assert row(table, "C7-WD")["effect"] == pytest.approx(5.0)
    assert row(table, "C7-WD")["sparsity"] == 0.4  # the structured ratio
    assert row(table, "C8-GR")["effect"] == pytest.approx(8.0)  # global random 8 pp above the LR-0.5 ticket
    assert row(table, "C8-PL")["effect"] == pytest.approx(4.0)
    assert row(table, "C8-GR")["level"] == params["high_level"]["level"] == params["last_level"] == 5  # 96.9%
    assert 4.5 < row(table, "C9-late")["effect"] <= 5.0  # per seed the smaller of two jittered differences
    w = params["fig4"]["weight"]  # LR rewinding 0.6 + 0.3 + 0.03 + 0.05 vs the regular ticket of the same pair
    regular = np.mean([decoupled_acc(1.0)(w["hfind"], w["heval"], params["fig4"]["level"], s) - _noise(s)
                       for s in SEEDS])
    assert row(table, "C10")["effect"] == pytest.approx(98.0 - 100 * regular)
    assert row(table, "C10-late")["effect"] == pytest.approx(3.0)
    assert row(table, "C14")["effect"] == pytest.approx(2.0)
    assert row(table, "C15-BS")["effect"] == pytest.approx(6.0) and row(table, "C15-WD")["level"] == 5
    assert row(table, "C16-LR")["effect"] == pytest.approx(20.0) and math.isnan(row(table, "C16-LR")["level"])
    assert 4.5 < row(table, "C17-init")["effect"] <= 5.0 and 7.5 < row(table, "C17-LR")["effect"] <= 8.0  # minima
    assert 4.0 < row(table, "C18")["effect"] <= 5.0  # against each seed's best baseline
    assert row(table, "C11")["effect"] == pytest.approx(5.0)
    assert row(table, "C12-BS")["effect"] == pytest.approx(5.0)
    assert row(table, "C13")["effect"] == pytest.approx(5.0)
    assert row(table, "C3-LR")["level"] == params["level"] == 2
    assert row(table, "C3-LR")["paper_value"] == "+3 to +4 pp"
    assert "Fig. 6's caption (L108) states the opposite" in row(table, "C2-LR")["detail"]


def test_every_claim_not_reproduced_when_the_tables_say_the_opposite(params):
    table = claims_jobs.claims_table(all_tables(params, -1), params)
    verdicts = dict(zip(table["claim_id"], table["verdict"]))
    assert verdicts.pop("C5") == "not run"
    assert verdicts.pop("C1") == "descriptive"
    assert set(verdicts.values()) == {"not reproduced"}, table.loc[table["verdict"] != "not reproduced",
                                                                   ["claim_id", "verdict", "detail"]].to_string()
    assert row(table, "C2-LR")["effect"] == pytest.approx(-30.0)
    assert row(table, "C8-GR")["effect"] == pytest.approx(-8.0)
    assert row(table, "F1b-GR")["effect"] == pytest.approx(-7.0)
    w = params["fig4"]["weight"]
    regular = np.mean([decoupled_acc(-1.0)(w["hfind"], w["heval"], params["fig4"]["level"], s) - _noise(s)
                       for s in SEEDS])
    assert row(table, "C10")["effect"] == pytest.approx(22.0 - 100 * regular) and regular > 0.22


def test_best_lr_find_below_best_dense_lr(params):
    """Dense: LR 0.5 is best; pruned at L*: LR_find 0.05 (with LR_eval 0.5) is best -> log10(0.5 / 0.05) = 1.
    C1 is descriptive: an effect on the means, no interval."""
    def acc(hf, he, level, seed):
        lf, le = H.parse(hf).lr, H.parse(he).lr
        if level == 0:
            return 0.8 + 0.1 * (lf == 0.5) + _noise(seed)
        return 0.6 + 0.1 * (lf == 0.05) + 0.05 * (le == 0.5) + _noise(seed)

    table = claims_jobs.claims_table({"summary": summary_table(params, acc)}, params)
    r = row(table, "C1")
    assert r["effect"] == pytest.approx(1.0) and r["verdict"] == "descriptive" and math.isnan(r["ci_low"])
    assert "best dense LR 0.5" in r["detail"] and "best LR_find 0.05" in r["detail"]

    def flipped(hf, he, level, seed):  # dense best at 0.05, pruned best at LR_find 0.5
        lf = H.parse(hf).lr
        return (0.8 + 0.1 * (lf == 0.05) if level == 0 else 0.6 + 0.1 * (lf == 0.5)) + _noise(seed)

    r = row(claims_jobs.claims_table({"summary": summary_table(params, flipped)}, params), "C1")
    assert r["effect"] == pytest.approx(-1.0) and r["verdict"] == "descriptive"


def test_equal_best_lrs_give_a_zero_effect(params):
    def acc(hf, he, level, seed):
        return 0.7 + 0.1 * (H.parse(hf).lr == 0.1) + _noise(seed)

    r = row(claims_jobs.claims_table({"summary": summary_table(params, acc)}, params), "C1")
    assert r["effect"] == 0 and r["verdict"] == "descriptive"


def test_noisy_decoupled_vs_coupled_is_inconclusive(params):
    """The declared decoupled and coupled pairs have the same mean, seed-to-seed noise of +-4 pp."""
    d = params["declared"]["lr"]
    dec, cou = (d["hfind"], d["heval"]), (d["heval"], d["heval"])
    noisy = {dec: [0.80, 0.84, 0.76, 0.82, 0.78, 0.80, 0.80], cou: [0.82, 0.78, 0.80, 0.76, 0.84, 0.80, 0.80]}

    def acc(hf, he, level, seed):
        return noisy[(hf, he)][seed] if (hf, he) in noisy else 0.5 + _noise(seed)

    r = row(claims_jobs.claims_table({"summary": summary_table(params, acc)}, params), "C3-LR")
    assert r["effect"] == pytest.approx(0.0, abs=1e-9)
    assert r["ci_low"] < 0 < r["ci_high"] and r["verdict"] == "inconclusive"
    assert 0.4 < r["p_signflip"] < 0.7


def test_c3_ignores_better_undeclared_pairs(params):
    """A decoupled pair outside the declared one being far better does not make C3 reproduced (no max over
    pairs): the declared pair equals its coupled run."""
    d = params["declared"]["lr"]

    def acc(hf, he, level, seed):
        if (hf, he) == (d["hfind"], d["heval"]) or hf == he:
            return 0.7 + (_jitter(seed) if hf != he else 0) + _noise(seed)
        return 0.95 + _noise(seed)

    r = row(claims_jobs.claims_table({"summary": summary_table(params, acc)}, params), "C3-LR")
    assert r["effect"] == pytest.approx(0.0, abs=1e-9) and r["verdict"] == "inconclusive"


# --------------------------------------------------------------------------- not run


def test_missing_inputs_give_not_run(params):
    table = claims_jobs.claims_table({}, params)
    assert set(table["verdict"]) == {"not run"}
    assert table["effect"].isna().all() and table["ci_low"].isna().all()
    assert table["detail"].str.startswith("not run: ").all()
    assert "summary.csv is not part of this run" in row(table, "C3-LR")["detail"]
    assert "early-pruning" in row(table, "C5")["detail"]
    assert "fig4 table" in row(table, "C9-warmup")["detail"]
    assert "figA16 table" in row(table, "C12-WD")["detail"]
    # only the structured summary missing: every other claim still computed
    tables = all_tables(params)
    tables["structured"] = None
    part = claims_jobs.claims_table(tables, params)
    assert (part[part["claim_id"].str.startswith("C7")]["verdict"] == "not run").all()
    assert (part[part["claim_id"].str.startswith("C24")]["verdict"] == "not run").all()
    assert (part[~part["claim_id"].isin(["C1", "C5", "C7-LR", "C7-BS", "C7-WD", "C24-LR", "C24-BS", "C24-WD"])]
            ["verdict"] == "reproduced").all()
    assert "figA19 table" in row(table, "C25")["detail"] and "figA9 stand-in's runs" in row(table, "C27")["detail"]


def test_a_summary_without_the_level_gives_not_run(params):
    tables = all_tables(params)
    tables["summary"] = tables["summary"][tables["summary"]["level"] != params["level"]]
    r = row(claims_jobs.claims_table(tables, params), "C3-WD")
    assert r["verdict"] == "not run" and f"at level {params['level']}" in r["detail"]


def test_one_value_grids_and_no_structured_block_give_not_run(tiny_config):
    params = claims.settings(tiny_config)  # BS and WD grids have one value; no structured block; one seed
    table = claims_jobs.claims_table({}, params)
    assert "one value" in row(table, "C2-BS")["detail"]
    assert "fig7 has no BS panel" in row(table, "C4-BS")["detail"]
    assert "structured pruning is off" in row(table, "C7-LR")["detail"]
    assert "coincide" in row(table, "C3-BS")["detail"]
    summary = summary_table(params, decoupled_acc(1.0))
    one_seed = summary[summary["seed"] == 0]
    r = row(claims_jobs.claims_table({"summary": one_seed}, params), "C3-LR")  # one seed: an effect, no interval
    assert r["n_seeds"] == 1 and math.isnan(r["ci_low"]) and r["verdict"] == "underpowered"
    assert "no t interval" in r["detail"]


# --------------------------------------------------------------------------- files


def write_stand_in_metrics(root, params: dict, tables: dict) -> None:
    """The metrics.json of the stand-ins' compared runs (C27, C28) at the paths ``params`` lists, under ``root``,
    from their tables (:func:`other_model_table`)."""
    import json

    for fig in claims.METRICS_INPUTS:
        spec, df = params["other_models"][fig], tables[fig]
        names = [name for name in ("good", "bad") for _ in spec["seeds"]]
        seeds = [s for _ in ("good", "bad") for s in spec["seeds"]]
        for path, name, s in zip(spec["files"], names, seeds):
            _, _, hf, he = spec[name]
            acc = df[(df["hfind"] == hf) & (df["heval"] == he) & (df["seed"] == s)]["test_accuracy"].iloc[0]
            record = {"kind": "lottery", "level": spec["level"], "seed": s, "sparsity": spec["sparsity"],
                      "test_accuracy": float(acc), "H_find": vars(H.parse(hf)), "H_eval": vars(H.parse(he))}
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(json.dumps(record))


def test_write_report_reads_the_files_and_is_deterministic(tmp_path, params, monkeypatch):
    """Every input from its file; the stand-ins' metrics.json (which scripts/claims.py does not pass) from the paths
    in params."""
    paths = {}
    tables = all_tables(params)
    monkeypatch.chdir(tmp_path)  # the stand-ins' paths in params are relative, as in a Snakemake job
    write_stand_in_metrics(tmp_path, params, tables)
    for name, df in tables.items():
        if name in claims.METRICS_INPUTS:
            continue
        paths[name] = str(tmp_path / f"{name}.csv")
        df.to_csv(paths[name], index=False)
    paths["structured"] = [paths["structured"]]
    paths["fig4"] = [paths["fig4"]]
    paths["figA13"], paths["figA14"] = [paths["figA13"]], [paths["figA14"]]
    out = tmp_path / "out"
    table = claims_jobs.write_report(paths, params, out_csv=str(out / "claims.csv"), pdf=str(out / "claims.pdf"),
                                png=str(out / "claims.png"))
    first = (out / "claims.csv").read_bytes()
    assert (out / "claims.pdf").read_bytes()[:4] == b"%PDF"
    assert (out / "claims.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    back = pd.read_csv(out / "claims.csv")
    assert list(back.columns) == claims.COLUMNS and len(back) == len(claims_jobs.CLAIMS)
    assert set(back["verdict"]) <= set(claims.VERDICTS)
    assert (back["verdict"] == table["verdict"]).all()
    assert (table.loc[table["claim_id"].isin(["C27", "C28"]), "verdict"] == "reproduced").all()
    assert (table.loc[~table["claim_id"].isin(["C1", "C5"]), "verdict"] == "reproduced").all()
    claims_jobs.write_report(paths, params, out_csv=str(out / "claims.csv"))
    assert (out / "claims.csv").read_bytes() == first
    # a missing file: its claims are not run, the others are unchanged
    gone = dict(paths, fig7=str(tmp_path / "missing.csv"))
    t = claims_jobs.write_report(gone, params, out_csv=str(out / "c2.csv"))
    assert (t[t["claim_id"].str.startswith("C4")]["verdict"] == "not run").all()
    assert (t[t["claim_id"] == "C3-LR"]["verdict"] == "reproduced").all()


def test_the_planning_half_imports_no_numpy_or_pandas():
    import subprocess
    import sys

    code = ("import sys; from findeval import claims; "
            "bad = {'numpy', 'pandas', 'torch', 'matplotlib'} & set(sys.modules); assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


# --------------------------------------------------------------------------- the rule


def test_dry_run_plans_the_claims_rule(tmp_path, tiny_raw):
    write_config(tmp_path, tiny_raw)
    r = snakemake(tmp_path, "-n", timeout=180)
    jobs = [j for j in planned_jobs(r.stdout) if j.rule == "claims"]
    assert len(jobs) == 1, r.stdout[-3000:]
    assert sorted(jobs[0].output) == sorted(["results/tiny/claims.csv", "results/tiny/figures/claims.pdf",
                                               "results/tiny/figures/claims.png"])
    block = r.stdout[r.stdout.index("rule claims:"):].split("\n\n")[0]
    for path in ("results/tiny/summary.csv", "results/tiny/lpr/fig6.csv", "results/tiny/lpr/fig7.csv",
                 "results/tiny/lpr/fig8.csv"):
        assert path in block
    assert "structured" not in block  # no structured: block in tiny


@pytest.mark.slow
def test_the_claims_rule_runs_on_the_pipeline_tables(tmp_path, tiny_raw):
    """The rule and its script, alone (--allowed-rules claims), on synthetic tables at the paths the
    pipeline writes: claims.csv, claims.pdf and claims.png appear; an empty `structured` input is fine."""
    config = validated(tiny_raw)
    params = claims.settings(config)
    tables = {"summary": summary_table(params, decoupled_acc(1.0), random_acc(1.0)),
              "fig6": fig6_table(params, {d: 0.3 for d in params["fig6"]["panels"]}),
              "fig7": fig7_table(params, 0.05), "fig8": fig8_table(params, 0.1),
              "fig4": fig4_table(params, 1.0), "figA17": figA17_table(params, 0.2),
              "figA13": figA13_table(params, 1.0), "figA14": figA14_table(params, 1.0), **local_tables(params, 1.0)}
    for name, path in claims.inputs(config).items():
        if name in tables:
            path = path[0] if isinstance(path, list) else path
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            tables[name].to_csv(tmp_path / path, index=False)
    write_config(tmp_path, tiny_raw)
    snakemake(tmp_path, "results/tiny/figures/claims.pdf", "--allowed-rules", "claims", timeout=180)
    table = pd.read_csv(tmp_path / "results/tiny/claims.csv")
    assert (tmp_path / "results/tiny/figures/claims.png").stat().st_size > 0
    verdicts = dict(zip(table["claim_id"], table["verdict"]))
    assert set(table["verdict"]) <= set(claims.VERDICTS)
    assert verdicts["C3-LR"] == verdicts["C9-late"] == verdicts["C11"] == verdicts["C16-LR"] == "reproduced"  # 7 seeds
    assert verdicts["C8-GR"] == "not run" and "96-98%" in table.set_index("claim_id").loc["C8-GR", "detail"]
    assert verdicts["C3-BS"] == verdicts["C7-LR"] == verdicts["C5"] == "not run"
    assert "C6" in (tmp_path / "results/tiny/logs/claims.log").read_text()


def test_claims_are_typed_records_that_name_their_tables(params):
    """Each claim names the tables it reads (keys of claims.inputs); evaluate hands its function only those,
    so reading another is a KeyError, not a silent "not run"."""
    keys = set(claims.INPUTS)
    assert keys == {"summary", "fig6", "fig7", "fig8", "figA15", "figA16", "figA17", "figA13", "figA14", "figA18",
                    "figA19", "structured", "fig9", "fig4", "figA8", "figA9"}
    assert set(claims.METRICS_INPUTS) == {"figA8", "figA9"} <= keys
    assert all(c.tables and set(c.tables) <= keys for c in claims_jobs.CLAIMS)
    assert {t for c in claims_jobs.CLAIMS for t in c.tables} == keys
    spec = next(c for c in claims_jobs.CLAIMS if c.id == "C6")
    assert spec.tables == ("fig6", "fig8") and spec._fields[7:9] == ("fn", "tables")
    assert not spec.accuracy and not spec.primary and spec.magnitude is None
    declared = claims_jobs._Declared(all_tables(params, +1), spec)
    assert declared.get("fig6") is not None
    with pytest.raises(KeyError, match="C6 reads table 'summary'"):
        declared.get("summary")


def test_structured_declared_pairs_are_runs_the_structured_rules_plan(main_config):
    """C7's declared pairs are spelled with the structured block's own defaults (its LR, BS, WD), so they name
    runs that the structured rules write (the main defaults differ: a pair built on them is never run)."""
    from findeval.a1 import plan
    from findeval.structured import plan as splan

    spec = claims.settings(main_config)["structured"]
    assert splan.default_h(main_config) != plan.default_h(main_config)  # the case that went wrong
    for dim, d in spec["declared"].items():
        assert d and "find" in d, (dim, d)
        lines = splan._pairs(main_config, dim, splan.grid(main_config, dim, "find"), splan.grid(main_config, dim, "eval"))
        planned = {(ln.hfind.slug, ln.heval.slug) for ln in lines}
        assert (d["hfind"], d["heval"]) in planned, (dim, d, planned)
        assert (d["heval"], d["heval"]) in planned, (dim, d, planned)


def test_collapsed_runs_are_flagged_in_the_detail(params):
    """A run within 5 pp of chance (digits: 10%) is named in the row's detail; the claim is still computed."""
    d = params["declared"]["lr"]

    def acc(hf, he, level, seed):
        if (hf, he) == (d["heval"], d["heval"]) and seed == 3:
            return 0.12  # the coupled run of seed 3 at chance
        return decoupled_acc(1.0)(hf, he, level, seed)

    table = claims_jobs.claims_table({"summary": summary_table(params, acc)}, params)
    r = row(table, "F2c-LR")
    assert "collapsed runs (within 5 pp of chance, 10.0%): coupled seed 3 (12.0%)" in r["detail"]
    assert r["verdict"] == "reproduced" and r["per_seed"].split()[3].startswith("3:")
    assert "collapsed" not in row(table, "F2top-BS")["detail"]  # that run is not among its conditions
    assert "collapsed" not in row(table, "C2-LR")["detail"]  # LPR rows: no accuracy to compare with chance


def test_the_rule_and_its_script_pass_every_input_table():
    """Every table of claims.INPUTS is an input of the rule and reaches write_report (a table left out of either
    turns its claims into a silent 'not run'). The stand-ins' metrics files (METRICS_INPUTS) reach it through
    params.claims["other_models"], the same paths as the rule's inputs (scripts/claims.py does not pass them:
    test_write_report_reads_the_files_and_is_deterministic reads them that way)."""
    rule = (REPO / "rules" / "claims.smk").read_text()
    script = (REPO / "scripts" / "claims.py").read_text()
    for name in claims.INPUTS:
        assert f'{name}=CLAIMS_INPUTS["{name}"]' in rule, name
        if name in claims.METRICS_INPUTS and f"snakemake.input.{name}" not in script:
            assert "claims=claims.settings(config)" in rule
            continue
        assert f'"{name}": ' in script and f"snakemake.input.{name}" in script, name


def _trajectory_tables(spec: dict, sign: float) -> dict:
    """figA18 (per-layer ratios over 4 epochs; the large LR_find's layers after the first move 20 pp more with sign
    1, the small one's with sign -1) and figA19 over the schedule's epochs 0..E: per LR_find, a first-epoch distance
    A (the largest LR_find's sign * 10 pp above the others', 20 pp), then A * r^e (r = 0.2 with sign 1: decreasing,
    flattening; 1.5 with sign -1) and 0 at epoch E (by construction)."""
    a18, a19 = [], []
    for name, slug in (("large", spec["figA18"]["large"]), ("small", spec["figA18"]["small"])):
        for s in SEEDS:
            for layer in range(4):
                more = max(sign, 0.0) if name == "large" else max(-sign, 0.0)  # a range is never negative
                move = 0.05 + (0.2 * more if layer > 0 else 0.0) + _jitter(s) * _scale(name, layer)
                a18 += [{"hfind": slug, "seed": s, "epoch": e, "layer_index": layer, "ratio": 0.5 + move * e / 3,
                         "final_ratio": 0.5 + move, "figure": "figA18", "line": name} for e in range(4)]
    a19_spec = spec["figA19"]
    last, r = a19_spec["epochs"], (0.2 if sign > 0 else 1.5)
    for lr, slug in a19_spec["hfinds"]:
        top = slug == a19_spec["large"]
        for s in SEEDS:
            first = 20.0 + sign * 10 * top + 100 * _jitter(s) * _scale(slug)
            a19 += [{"figure": "figA19", "hfind": slug, "line": f"LR_find = {lr}", "seed": s, "epoch": e,
                     "distance_pp": 0.0 if e == last else first * r ** e} for e in range(last + 1)]
    return {"figA18": pd.DataFrame(a18), "figA19": pd.DataFrame(a19)}


def test_lpr_trajectory_claims(params):
    """C19 (figA19) and C20 (figA18) from known trajectories: the paper's direction, the opposite, not run."""
    spec = params["lpr_trajectory"]
    assert (spec["figA19"]["small"], spec["figA19"]["large"]) == ("lr0.05_bs128_wd5e-4", "lr0.5_bs128_wd5e-4")
    for sign, verdict in ((1.0, "reproduced"), (-1.0, "not reproduced")):
        table = claims_jobs.claims_table(_trajectory_tables(spec, sign), params)
        assert row(table, "C19")["verdict"] == row(table, "C20")["verdict"] == verdict
        assert row(table, "C19")["effect"] == pytest.approx(sign * 10.0)
        assert row(table, "C20")["effect"] == pytest.approx(sign * 20.0)
    one = dict(params, lpr_trajectory={"figA19": {"small": "a", "large": "a"}, "figA18": spec["figA18"]})
    assert "one LR_find" in row(claims_jobs.claims_table({}, one), "C19")["detail"]


def test_not_reproduced_of_a_per_seed_maximum_needs_one_member_at_bonferroni(params):
    """C3 against the best coupled run: reversed tables on 6 seeds are 'inconclusive' (one coupled run below the
    decoupled one at 2.5% / 3 needs the sign-flip p <= 0.83%: 7 seeds), on 7 seeds 'not reproduced'."""
    summary = summary_table(params, decoupled_acc(-1.0))
    six = row(claims_jobs.claims_table({"summary": summary[summary["seed"] < 6]}, params), "C3-LR")
    assert six["verdict"] == "inconclusive" and six["ci_high"] < 0
    assert "needs one of the 3 below 0 at 0.83% (Bonferroni)" in six["detail"]
    seven = row(claims_jobs.claims_table({"summary": summary}, params), "C3-LR")
    assert seven["verdict"] == "not reproduced" and "of 3 below 0 at 0.83% (Bonferroni)" in seven["detail"]
    assert row(claims_jobs.claims_table({"summary": summary[summary["seed"] < 6]}, params), "F2c-LR")["verdict"] \
        == "not reproduced"  # one comparison: no Bonferroni


def test_c5_says_when_fig9_is_not_at_the_paper_s_lr_eval(main_config):
    """fig9 evaluates at early_pruning.h_eval (config.yaml: LR 0.5, the paper's; null: the defaults, LR 0.2); where
    it is not the paper's LR_eval 0.5, its grid's largest, C5's detail says so."""
    import copy

    assert claims.settings(main_config)["fig9_lr"] == {"lr_eval": 0.5, "largest": 0.5}
    config = copy.deepcopy(main_config)
    config["early_pruning"]["h_eval"] = None
    params = claims.settings(config)
    assert params["fig9_lr"] == {"lr_eval": 0.2, "largest": 0.5}
    spec = params["fig9"]
    rows = [{"panel": spec["panel"], "prune_epoch": k, "level": params["level"], "seed": s,
             "test_accuracy": 0.7 + 0.01 * (k == spec["middle_epoch"]) + 0.001 * s * (k == spec["epochs"])}
            for k in (spec["middle_epoch"], spec["epochs"]) for s in SEEDS]
    r = row(claims_jobs.claims_table({"fig9": pd.DataFrame(rows)}, params), "C5")
    assert "fig9 evaluates at LR_eval 0.2, the paper at 0.5" in r["detail"] and r["n_seeds"] == len(SEEDS)


# --------------------------------------------------------------------------- C22-C28 and the 100%-pruned layers


def _seeds_below(tables: dict, n: int) -> dict:
    """``tables`` with only seeds 0..n-1 (every table of the fixture has a ``seed`` column)."""
    return {k: (v[v["seed"] < n] if v is not None else None) for k, v in tables.items()}


def test_fig7_against_the_regular_runs(params, main_config):
    """C22 (match-good-LPR vs the regular run of the good H_find) and C23 (the constrained gap vs the regular one):
    a planted 8 pp is reproduced at 6 seeds, a planted null (match-good-LPR = the regular good run, jitter only) is
    not; a constrained gap below the regular one is 'not reproduced' for C23; missing tables give 'not run'."""
    tables = {"summary": summary_table(params, decoupled_acc(1.0)), "fig7": fig7_table(params, 0.08, decoupled_acc(1.0))}
    table = claims_jobs.claims_table(_seeds_below(tables, 6), params)
    for d in ("LR", "BS", "WD"):
        assert row(table, f"C22-{d}")["verdict"] == row(table, f"C23-{d}")["verdict"] == "reproduced"
        assert row(table, f"C22-{d}")["n_seeds"] == 6
    assert "the regular run lr0.1_bs256_wd5e-4 -> lr0.1_bs128_wd5e-4" in row(table, "C22-BS")["detail"]
    assert "'inconclusive' is compatible with 'the entire change'" in row(table, "C23-LR")["detail"]
    null = claims_jobs.claims_table({**tables, "fig7": fig7_table(params, 0.0, decoupled_acc(1.0))}, params)
    for d in ("LR", "BS", "WD"):
        assert row(null, f"C22-{d}")["verdict"] == row(null, f"C23-{d}")["verdict"] == "inconclusive"
        assert row(null, f"C22-{d}")["effect"] == pytest.approx(0.0, abs=1e-9)
    part = claims_jobs.claims_table({**tables, "fig7": fig7_table(params, -0.03, decoupled_acc(1.0))}, params)
    assert row(part, "C23-WD")["verdict"] == "not reproduced"  # the LPR accounts for less than the whole gap
    assert row(part, "C23-WD")["effect"] == pytest.approx(-3.0)
    gone = claims_jobs.claims_table({"fig7": tables["fig7"]}, params)
    assert "summary.csv is not part of this run" in row(gone, "C22-LR")["detail"]
    assert "fig7 table" in row(claims_jobs.claims_table({"summary": tables["summary"]}, params), "C23-LR")["detail"]
    # the regular runs are fig7's green line: the same metrics files, at fig7's H_eval
    from findeval.a1 import plan as a1
    from findeval.lpr import plan as lpr

    spec, level = claims.settings(main_config)["fig7"], claims.moderate_level(main_config)
    for dim, s in spec.items():
        green = lpr.figure_panels(main_config, "fig7")[s["panel"]]["lines"][2]
        assert green["style"] == "regular-good" and s["heval"] == lpr.fig7_heval(main_config).slug
        files = {f["path"] for f in green["files"] if f["level"] == level}
        line = a1.Line("lottery", H.parse(s["hgood"]), H.parse(s["heval"]))
        assert files == {a1.metrics_path(main_config, line, seed, level) for seed in main_config["seeds"]}


def test_structured_coupled_runs_at_the_largest_ratio(params, tiny_config):
    """C24: fig5's coupled runs sign * 5 pp above its decoupled ones at the largest ratio: reproduced at 6 seeds,
    reversed not reproduced (one decoupled run below each seed's best coupled run at 2.5% / 2), no difference
    (jitter on the decoupled runs only) not; no structured block or table: not run."""
    spec = params["structured"]
    assert spec["high_ratio"] == 0.8 and [len(spec["fig5"]["lr"][k]) for k in ("coupled", "decoupled")] == [2, 2]
    for sign, n, verdict in ((1.0, 6, "reproduced"), (-1.0, 7, "not reproduced"), (0.0, 7, "inconclusive")):
        table = claims_jobs.claims_table({"structured": structured_table(params, sign)[lambda t: t["seed"] < n]},
                                         params)
        for d in ("LR", "BS", "WD"):
            r = row(table, f"C24-{d}")
            assert r["verdict"] == verdict and r["sparsity"] == 0.8, (d, sign, r["detail"])
            assert r["effect"] == pytest.approx(5.0 * sign, abs=0.3)
    assert "fig5's runs, at the largest ratio 0.8" in row(table, "C24-BS")["detail"]
    assert "structured summary" in row(claims_jobs.claims_table({}, params), "C24-LR")["detail"]
    assert "structured pruning is off" in row(claims_jobs.claims_table({}, claims.settings(tiny_config)),
                                              "C24-WD")["detail"]
    assert "no coupled run" in claims.fig5_runs(([0.1, 0.4], [0.2, 0.8]), H(0.1, 64, 5e-5), "lr")["why"]


def _figA19(spec: dict, distance) -> pd.DataFrame:
    """A figA19 table of ``distance(lr, epoch, seed)`` (pp) for every LR_find of ``spec`` over epochs 0..E."""
    return pd.DataFrame([{"figure": "figA19", "hfind": slug, "line": str(lr), "seed": s, "epoch": e,
                          "distance_pp": distance(lr, e, s)}
                         for lr, slug in spec["hfinds"] for s in SEEDS for e in range(spec["epochs"] + 1)])


def test_figA19_decrease_and_plateau(params):
    """C25 (the distance decreases) and C26 (it plateaus after the LR milestone): planted, reproduced at 6 seeds;
    a constant distance (C25) and a straight line to 0 (C26: the same drop per epoch before and after) are not;
    no milestone, too few epochs or no table: not run."""
    spec = params["lpr_trajectory"]["figA19"]
    assert (spec["epochs"], spec["milestone"]) == (2, 1) and len(spec["hfinds"]) == 3
    planted = _trajectory_tables(params["lpr_trajectory"], 1.0)
    table = claims_jobs.claims_table(_seeds_below(planted, 6), params)
    assert row(table, "C25")["verdict"] == row(table, "C26")["verdict"] == "reproduced"
    assert "the LR decays at epoch 1 (training.milestones)" in row(table, "C26")["detail"]
    assert "is 0 by construction" in row(table, "C25")["detail"]
    wobble = lambda s: 0.1 * _JITTER[s]  # noqa: E731  (zero mean over SEEDS)
    flat = _figA19(spec, lambda lr, e, s: 0.0 if e == spec["epochs"] else 5.0 + wobble(s) * (e == 0))
    line = _figA19(spec, lambda lr, e, s: (10.0 + wobble(s)) * (1 - e / spec["epochs"]))
    assert row(claims_jobs.claims_table({"figA19": flat}, params), "C25")["verdict"] == "inconclusive"
    r = row(claims_jobs.claims_table({"figA19": line}, params), "C26")
    assert r["verdict"] == "inconclusive" and r["effect"] == pytest.approx(0.0, abs=1e-9)
    cosine = copy.deepcopy(claims.trajectory_settings(_early_config(params)))
    assert cosine["figA19"]["milestone"] is None and "no milestone" in cosine["figA19"]["why_no_milestone"]
    p = dict(params, lpr_trajectory=cosine)
    assert "'cosine' with no milestone" in row(claims_jobs.claims_table(planted, p), "C26")["detail"]
    short = planted["figA19"][planted["figA19"]["epoch"] < 2]
    t = claims_jobs.claims_table({"figA19": short}, params)
    assert "records 2 epochs" in row(t, "C25")["detail"] and "not a recorded epoch" in row(t, "C26")["detail"]
    assert "figA19 table" in row(claims_jobs.claims_table({}, params), "C26")["detail"]


def _early_config(params) -> dict:
    """A config with early pruning and a cosine schedule (no milestone), for trajectory_settings."""
    raw = read_yaml(TINY)
    raw["training"] = {"epochs": 2, "schedule": "cosine"}
    raw["early_pruning"] = {"epochs": [1]}
    return validated(raw)


def test_stand_in_claims(params, tiny_config, main_config):
    """C27 (figA9: the smallest LR_find beats the largest at the largest LR_eval, level nearest 97%) and C28
    (figA8: at the middle LR_find, the largest LR_eval beats the middle one, at L*) from the stand-ins' runs:
    planted reproduced at 6 seeds, null not; not run without other_models (and no claims input then); the rule's
    inputs are the files in params."""
    a9, a8 = params["other_models"]["figA9"], params["other_models"]["figA8"]
    assert (a9["good"][:2], a9["bad"][:2], a9["level"]) == ([0.05, 0.8], [0.5, 0.8], 5)
    assert (a8["good"][:2], a8["bad"][:2], a8["level"]) == ([0.1, 0.5], [0.1, 0.1], params["level"])
    assert a9["files"][0] == "results/tiny-a9/eval/lottery/lr0.05_bs128_wd5e-4/lr0.8_bs128_wd5e-4/seed0/level5/metrics.json"
    assert a8["files"][-1] == f"results/tiny-a8/find/lr0.1_bs128_wd5e-4/seed6/level{params['level']}/metrics.json"
    for sign, verdict in ((1.0, "reproduced"), (0.0, "inconclusive")):
        tables = {fig: other_model_table(params, fig, sign)[lambda t: t["seed"] < 6] for fig in ("figA8", "figA9")}
        table = claims_jobs.claims_table(tables, params)
        assert row(table, "C27")["verdict"] == row(table, "C28")["verdict"] == verdict
    assert "tiny-a9: LR_find 0.05 -> LR_eval 0.8" in row(table, "C27")["detail"]
    assert "figA8 stand-in's runs (experiment tiny-a8," in row(claims_jobs.claims_table({}, params), "C28")["detail"]
    tiny = claims.settings(tiny_config)
    assert "other_models.figA9 is not set" in row(claims_jobs.claims_table({}, tiny), "C27")["detail"]
    assert claims.inputs(tiny_config)["figA8"] == claims.inputs(tiny_config)["figA9"] == []
    from findeval.a1 import plan as a1

    spec = claims.settings(main_config)["other_models"]
    for fig in ("figA8", "figA9"):
        assert claims.inputs(main_config)[fig] == spec[fig]["files"] and len(spec[fig]["files"]) == 12
        # the compared runs are among figA8/figA9's own files: the default target plans no job more for them
        assert set(spec[fig]["files"]) <= set(a1.figure_inputs(main_config, fig))
    assert spec["figA8"]["files"][0].startswith("results/digits-wide/")
    assert spec["figA9"]["level"] == 14  # the default's last level (95.6%) is the nearest 97%


def test_a_layer_pruned_to_100_percent_is_named(params):
    """An LPR table line (figA17, level L*) with one layer at ratio 1: the accuracy rows comparing that H_find's
    masks name it in their detail (verdicts unchanged); LPR rows do not; masks no LPR table covers are said to be
    unchecked."""
    tables = all_tables(params)
    a17 = tables["figA17"].copy()
    spec = next(s for s in params["figA17"]["lr"] if s["level"] == params["level"])
    label = spec["lines"][-1]["label"]  # LR_find 0.5
    hit = (a17["panel"] == spec["panel"]) & (a17["line"] == label) & (a17["seed"] == 3) & (a17["layer_index"] == 8)
    a17.loc[hit, "ratio"] = 1.0
    table = claims_jobs.claims_table({**tables, "figA17": a17}, params)
    note = "a layer pruned to 100% in the mask of: lr0.5_bs128_wd5e-4 seed 3 (l8.weight)"
    assert note in row(table, "C3-LR")["detail"] and note in row(table, "F2top-LR")["detail"]
    assert row(table, "C3-LR")["verdict"] == "reproduced"
    assert "100%" not in row(table, "C2-LR")["detail"] and "100%" not in row(table, "C3-BS")["detail"]
    assert "100%" not in row(table, "C8-GR")["detail"]  # level 5: that layer is not full there
    assert "not checked for lr0.05_bs128_wd0 at level 2" in row(table, "C13")["detail"]  # fig8: LPR at level 5 only
    assert claims_jobs.full_layers({}, params) == {}


def test_the_docs_row_counts_are_the_table_s():
    """docs/claims.md's counts of rows, tested rows and primary rows are those of CLAIMS (C1: descriptive)."""
    import re

    text = (REPO / "docs" / "claims.md").read_text()
    n, prim = len(claims_jobs.CLAIMS), sum(c.primary for c in claims_jobs.CLAIMS)
    m = re.search(r"The table has (\d+) rows: (\d+) tested \(C1 is descriptive\), (\d+) of them in the primary", text)
    assert m and tuple(map(int, m.groups())) == (n, n - 1, prim), m and m.groups()
    assert f"for all {n - 1} tested rows" in text and f"a row among all {n - 1} only from " in text
    assert f"for the {prim} primary rows" in text


def test_the_markdown_table_has_every_row_and_marks_the_primary_family(params):
    """markdown_table (the README's "What reproduces"): one row per claim, the primary family in bold, the
    verdict and the interval of the csv; primary_only keeps the primary rows alone."""
    table = claims_jobs.claims_table(all_tables(params, +1), params)
    text = claims_jobs.markdown_table(table)
    lines = text.strip().splitlines()[2:]
    assert len(lines) == len(table)
    for line, r in zip(lines, table.to_dict("records")):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == (f"**{r['claim_id']}**" if r["primary"] else r["claim_id"]) and cells[2] == r["verdict"]
        if r["verdict"] == "reproduced":
            assert f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]" in cells[3] and r["ci_low"] > 0
    primary = claims_jobs.markdown_table(table, primary_only=True).strip().splitlines()[2:]
    assert len(primary) == int(table["primary"].astype(bool).sum()) > 0
    assert all(line.startswith("| **") for line in primary)
