"""The claims report (findeval.claims): each claim computed from known synthetic tables (clearly for, clearly
against, noisy), the bootstrap is deterministic, missing inputs give `not run`, the files are written, and a
dry run plans the `claims` rule. No training: a few seconds."""

import copy
import math

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, TINY, planned_jobs, read_yaml, snakemake, validated, write_config
from findeval import claims
from findeval.hparams import H

SEEDS = [0, 1, 2, 3, 4]
N_LAYERS = 9


@pytest.fixture(scope="module")
def config() -> dict:
    """Three-value grids, five seeds, four levels of p = 0.5 (L* = 2, 75% sparse) and a structured block."""
    raw = read_yaml(TINY)
    raw["grids"] = {"lr": {"find": [0.05, 0.1, 0.5], "eval": [0.05, 0.1, 0.5]},
                    "batch_size": {"find": [64, 128, 256], "eval": [64, 128, 256]},
                    "weight_decay": {"find": [1e-4, 5e-4, 2.5e-3], "eval": [1e-4, 5e-4, 2.5e-3]}}
    raw["pruning"] = {"fraction": 0.5, "levels": 4}
    raw["seeds"] = SEEDS
    raw["structured"] = copy.deepcopy(read_yaml(REPO / "config.yaml")["structured"])
    raw["structured"]["seeds"] = SEEDS
    return validated(raw)


@pytest.fixture(scope="module")
def params(config) -> dict:
    return claims.settings(config)


def _noise(seed: int) -> float:
    return 0.004 * (seed - 2)  # small, zero mean over SEEDS


# --------------------------------------------------------------------------- synthetic tables


def summary_table(params: dict, acc) -> pd.DataFrame:
    """Every lottery run the claims read: ``acc(hfind, heval, level, seed)`` -> test accuracy (a fraction)."""
    pairs = {tuple(p) for dim_pairs in params["pairs"].values() for p in dim_pairs}
    pairs |= {(hf, he) for _, _, hf, he in params["lr_pairs"]}
    rows = []
    for hf, he in sorted(pairs):
        for level in range(0, 5):
            if level == 0 and hf != he:
                continue
            for s in SEEDS:
                rows.append({"kind": "lottery", "level": level, "seed": s, "hfind": hf, "heval": he,
                             "coupled": hf == he, "sparsity": claims.sparsity_at(0.5, level),
                             "test_accuracy": acc(hf, he, level, s), "diverged": False})
    for hf, he in sorted({(hf, hf) for hf, _ in pairs}):  # dense runs of every H_find
        rows += [{"kind": "lottery", "level": 0, "seed": s, "hfind": hf, "heval": he, "coupled": True,
                  "sparsity": 0.0, "test_accuracy": acc(hf, he, 0, s), "diverged": False} for s in SEEDS]
    return pd.DataFrame(rows).drop_duplicates(["hfind", "heval", "level", "seed"])


def decoupled_acc(sign: float):
    """Decoupled pairs ``sign`` * 10 pp better than coupled ones at every level (plus small seed noise); with
    ``sign`` 1 the dense model is best at the largest LR, the pruned ones at the smallest LR_find (-1: the
    opposite)."""
    dense_best, find_best = (0.5, 0.05) if sign > 0 else (0.05, 0.5)

    def acc(hf, he, level, seed):
        lr = H.parse(hf).lr
        if level == 0:
            return 0.8 + 0.05 * (lr == dense_best) + _noise(seed)
        return (0.7 if hf == he else 0.7 + sign * 0.1) + 0.02 * (lr == find_best) + _noise(seed)
    return acc


def lpr_table(params: dict, early: dict, *, fig: str = "fig6", panels: dict | None = None,
              level: int | None = None) -> pd.DataFrame:
    """An LPR table: ``early[(panel, label)]`` is the pruning ratio of the first three of nine layers (the other
    layers are pruned 50%)."""
    level = params["fig6"]["level"] if level is None else level
    rows = []
    for (panel, label), ratio in early.items():
        for s in SEEDS:
            for i in range(N_LAYERS):
                rows.append({"figure": fig, "panel": panel, "panel_type": "lpr", "line": label, "style": None,
                             "seed": s, "level": level, "layer_index": i, "layer": f"l{i}.weight",
                             "ratio": (ratio + 0.002 * (s - 2)) if i < 3 else 0.5})
    return pd.DataFrame(rows)


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


def fig7_table(params: dict, good_minus_bad: float) -> pd.DataFrame:
    rows = []
    for dim, spec in params["fig7"].items():
        for style, acc in (("match-good", 0.7 + good_minus_bad), ("match-bad", 0.7), ("regular-good", 0.7),
                           ("regular-bad", 0.6)):
            for level in range(0, 5):
                rows += [{"figure": "fig7", "panel": spec["panel"], "panel_type": "accuracy", "line": style,
                          "style": style, "seed": s, "level": level, "test_accuracy": acc + _noise(s),
                          "diverged": False} for s in SEEDS]
    return pd.DataFrame(rows)


def fig8_table(params: dict, spread: float) -> pd.DataFrame:
    """fig8's LPR panel at fig6's level: the early-layer ratio moves by ``spread`` over the LR_find values."""
    lines = params["fig8"]["lines"]
    early = {(params["fig8"]["panel"], line["label"]): 0.3 + spread * i / (len(lines) - 1)
             for i, line in enumerate(lines)}
    return lpr_table(params, early, fig="fig8")


def structured_table(params: dict, sign: float) -> pd.DataFrame:
    spec = params["structured"]
    rows = []
    for dim_pairs in spec["pairs"].values():
        for hf, he in dim_pairs:
            for ratio in (0.2, 0.4, 0.6, 0.8):
                acc = 0.6 if hf == he else 0.6 + sign * 0.05
                rows += [{"kind": "finetune", "hfind": hf, "heval": he, "coupled": hf == he, "seed": s,
                          "ratio": ratio, "test_accuracy": acc + _noise(s)} for s in SEEDS]
    return pd.DataFrame(rows).drop_duplicates(["hfind", "heval", "ratio", "seed"])


def all_tables(params: dict, sign: float = 1.0) -> dict:
    """Every table, the paper's direction (``sign`` = 1) or the opposite (-1) throughout."""
    return {"summary": summary_table(params, decoupled_acc(sign)),
            "fig6": fig6_table(params, {d: sign * 0.3 for d in params["fig6"]["panels"]}),
            "fig7": fig7_table(params, sign * 0.08),
            "fig8": fig8_table(params, 0.4 - sign * 0.3),  # fig6's LR spread is 0.3: 0.1 with sign 1, 0.7 with -1
            "structured": structured_table(params, sign)}


def row(table: pd.DataFrame, claim_id: str) -> pd.Series:
    return table.set_index("claim_id").loc[claim_id]


# --------------------------------------------------------------------------- verdicts and the bootstrap


@pytest.mark.parametrize("lo, hi, strict, expected", [
    (0.1, 0.5, True, "reproduced"),
    (-0.5, -0.1, True, "not reproduced"),
    (-0.1, 0.5, True, "inconclusive"),
    (0.0, 0.0, True, "not reproduced"),   # "effect > 0" fails in every resample
    (0.0, 0.5, True, "inconclusive"),
    (0.0, 0.5, False, "reproduced"),      # "effect >= 0"
    (-0.2, 0.0, False, "inconclusive"),
    (-0.2, -0.1, False, "not reproduced"),
    (math.nan, math.nan, True, "inconclusive"),
])
def test_verdict_rules(lo, hi, strict, expected):
    assert claims.verdict(lo, hi, strict=strict) == expected


def test_bootstrap_is_a_deterministic_paired_percentile_interval():
    per_seed = {"a": {0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0}, "b": {0: 0.5, 1: 1.0, 2: 2.5, 3: 3.0, 9: 100.0}}

    def diff(m):
        return m["a"] - m["b"]

    res = claims.bootstrap(per_seed, diff, n_boot=500, rng_seed=7, ci=0.9)
    assert res == claims.bootstrap(per_seed, diff, n_boot=500, rng_seed=7, ci=0.9)
    assert res["seeds"] == [0, 1, 2, 3] and res["n_seeds"] == 4 and res["n_boot"] == 500  # seed 9: only in b
    assert res["effect"] == pytest.approx(2.5 - 1.75)
    # the same computation by hand: resample seed indices, paired across conditions
    a, b = np.array([1.0, 2, 3, 4]), np.array([0.5, 1.0, 2.5, 3.0])
    idx = np.random.default_rng(7).integers(0, 4, size=(500, 4))
    boots = a[idx].mean(axis=1) - b[idx].mean(axis=1)
    assert res["ci_low"] == pytest.approx(np.quantile(boots, 0.05, method="lower"))
    assert res["ci_high"] == pytest.approx(np.quantile(boots, 0.95, method="higher"))
    assert res["ci_low"] <= res["effect"] <= res["ci_high"]
    assert res["ci_low"] > 0  # b is below a on every seed
    one = claims.bootstrap({"a": {0: 1.0}, "b": {0: 0.5}}, diff)
    assert one["effect"] == 0.5 and math.isnan(one["ci_low"]) and one["n_boot"] == 0
    with pytest.raises(claims.NotRun, match="share no seed"):
        claims.bootstrap({"a": {0: 1.0}, "b": {1: 0.5}}, diff)


def test_moderate_level_and_ratio(config, tiny_config, main_config):
    assert claims.moderate_level(main_config) == 7  # 1 - 0.8^7 = 79.0% (level 8: 83.2%)
    assert claims.moderate_level(tiny_config) == 2  # 75% (level 1: 50%)
    assert claims.moderate_level(config) == 2       # 75% is nearer 80% than 87.5%
    assert claims.moderate_ratio([0.2, 0.4, 0.6, 0.8]) == 0.4  # tie with 0.6: the lower
    assert claims.settings(main_config)["structured"]["ratio"] == 0.4
    assert claims.settings(tiny_config)["structured"] is None
    assert claims.inputs(tiny_config)["structured"] == []
    assert claims.inputs(main_config)["structured"] == ["results/digits/structured/summary.csv"]


# --------------------------------------------------------------------------- each claim from a known table


def test_every_claim_reproduced_when_the_tables_say_so(params):
    table = claims.claims_table(all_tables(params, +1), params)
    assert list(table.columns) == claims.COLUMNS
    assert list(table["claim_id"]) == [c[0] for c in claims.CLAIMS]
    verdicts = dict(zip(table["claim_id"], table["verdict"]))
    assert verdicts.pop("C5") == "not run"
    assert set(verdicts.values()) == {"reproduced"}, table[["claim_id", "verdict", "detail"]]
    assert (table.loc[table["claim_id"] != "C5", "n_seeds"] == len(SEEDS)).all()
    assert row(table, "C3-LR")["effect"] == pytest.approx(10.0)   # pp
    assert row(table, "C4-BS")["effect"] == pytest.approx(8.0)
    assert row(table, "C2-WD")["effect"] == pytest.approx(30.0)
    assert row(table, "C6")["effect"] == pytest.approx(30.0 - 10.0)
    assert row(table, "C7-WD")["effect"] == pytest.approx(5.0)
    assert row(table, "C7-WD")["sparsity"] == 0.4  # the structured ratio
    assert row(table, "C3-LR")["level"] == params["level"] == 2


def test_every_claim_not_reproduced_when_the_tables_say_the_opposite(params):
    table = claims.claims_table(all_tables(params, -1), params)
    verdicts = dict(zip(table["claim_id"], table["verdict"]))
    assert verdicts.pop("C5") == "not run"
    assert set(verdicts.values()) == {"not reproduced"}, table[["claim_id", "verdict", "detail"]]
    assert row(table, "C3-BS")["effect"] == pytest.approx(-10.0)
    assert row(table, "C2-LR")["effect"] == pytest.approx(-30.0)


def test_best_lr_find_below_best_dense_lr(params):
    """Dense: LR 0.5 is best; pruned at L*: LR_find 0.05 (with LR_eval 0.5) is best -> log10(0.5 / 0.05) = 1."""
    def acc(hf, he, level, seed):
        lf, le = H.parse(hf).lr, H.parse(he).lr
        if level == 0:
            return 0.8 + 0.1 * (lf == 0.5) + _noise(seed)
        return 0.6 + 0.1 * (lf == 0.05) + 0.05 * (le == 0.5) + _noise(seed)

    table = claims.claims_table({"summary": summary_table(params, acc)}, params)
    r = row(table, "C1")
    assert r["effect"] == pytest.approx(1.0) and r["verdict"] == "reproduced"
    assert "best dense LR 0.5" in r["detail"] and "best LR_find 0.05" in r["detail"]

    def flipped(hf, he, level, seed):  # dense best at 0.05, pruned best at LR_find 0.5
        lf = H.parse(hf).lr
        return (0.8 + 0.1 * (lf == 0.05) if level == 0 else 0.6 + 0.1 * (lf == 0.5)) + _noise(seed)

    r = row(claims.claims_table({"summary": summary_table(params, flipped)}, params), "C1")
    assert r["effect"] == pytest.approx(-1.0) and r["verdict"] == "not reproduced"


def test_equal_best_lrs_are_not_reproduced(params):
    """The same LR is best dense and pruned: effect 0 in every resample -> the strict claim fails."""
    def acc(hf, he, level, seed):
        return 0.7 + 0.1 * (H.parse(hf).lr == 0.1) + _noise(seed)

    r = row(claims.claims_table({"summary": summary_table(params, acc)}, params), "C1")
    assert r["effect"] == 0 and r["ci_low"] == r["ci_high"] == 0 and r["verdict"] == "not reproduced"


def test_noisy_decoupled_vs_coupled_is_inconclusive(params):
    """Best decoupled and best coupled pair have the same mean, seed-to-seed noise of +-4 pp."""
    top_d = tuple(params["pairs"]["lr"][1])  # lr0.05 -> lr0.1
    top_c = tuple(params["pairs"]["lr"][0])  # lr0.05 -> lr0.05
    noisy = {top_d: [0.80, 0.84, 0.76, 0.82, 0.78], top_c: [0.82, 0.78, 0.80, 0.76, 0.84]}

    def acc(hf, he, level, seed):
        return noisy[(hf, he)][seed] if (hf, he) in noisy else 0.5 + _noise(seed)

    r = row(claims.claims_table({"summary": summary_table(params, acc)}, params), "C3-LR")
    assert r["effect"] == pytest.approx(0.0, abs=1e-9)
    assert r["ci_low"] < 0 < r["ci_high"] and r["verdict"] == "inconclusive"


# --------------------------------------------------------------------------- not run


def test_missing_inputs_give_not_run(params):
    table = claims.claims_table({}, params)
    assert set(table["verdict"]) == {"not run"}
    assert table["effect"].isna().all() and table["ci_low"].isna().all()
    assert table["detail"].str.startswith("not run: ").all()
    assert "summary.csv is not part of this run" in row(table, "C3-LR")["detail"]
    assert "early-pruning" in row(table, "C5")["detail"]
    # only the structured summary missing: every other claim still computed
    tables = all_tables(params)
    tables["structured"] = None
    part = claims.claims_table(tables, params)
    assert (part[part["claim_id"].str.startswith("C7")]["verdict"] == "not run").all()
    assert (part[~part["claim_id"].isin(["C5", "C7-LR", "C7-BS", "C7-WD"])]["verdict"] == "reproduced").all()


def test_a_summary_without_the_level_gives_not_run(params):
    tables = all_tables(params)
    tables["summary"] = tables["summary"][tables["summary"]["level"] != params["level"]]
    r = row(claims.claims_table(tables, params), "C3-WD")
    assert r["verdict"] == "not run" and f"at level {params['level']}" in r["detail"]


def test_one_value_grids_and_no_structured_block_give_not_run(tiny_config):
    params = claims.settings(tiny_config)  # BS and WD grids have one value; no structured block; one seed
    table = claims.claims_table({}, params)
    assert "one value" in row(table, "C2-BS")["detail"]
    assert "fig7 has no BS panel" in row(table, "C4-BS")["detail"]
    assert "structured pruning is off" in row(table, "C7-LR")["detail"]
    summary = summary_table(params, decoupled_acc(1.0))
    one_seed = summary[summary["seed"] == 0]
    t = claims.claims_table({"summary": one_seed}, params)
    assert "no decoupled pair" in row(t, "C3-BS")["detail"]
    r = row(t, "C3-LR")  # one seed: an effect but no interval
    assert r["n_seeds"] == 1 and math.isnan(r["ci_low"]) and r["verdict"] == "inconclusive"
    assert "no bootstrap interval" in r["detail"]


# --------------------------------------------------------------------------- files


def test_write_report_reads_the_files_and_is_deterministic(tmp_path, params):
    paths = {}
    for name, df in all_tables(params).items():
        paths[name] = str(tmp_path / f"{name}.csv")
        df.to_csv(paths[name], index=False)
    paths["structured"] = [paths["structured"]]
    out = tmp_path / "out"
    table = claims.write_report(paths, params, out_csv=str(out / "claims.csv"), pdf=str(out / "claims.pdf"),
                                png=str(out / "claims.png"))
    first = (out / "claims.csv").read_bytes()
    assert (out / "claims.pdf").read_bytes()[:4] == b"%PDF"
    assert (out / "claims.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    back = pd.read_csv(out / "claims.csv")
    assert list(back.columns) == claims.COLUMNS and len(back) == len(claims.CLAIMS)
    assert set(back["verdict"]) <= set(claims.VERDICTS)
    assert (back["verdict"] == table["verdict"]).all()
    claims.write_report(paths, params, out_csv=str(out / "claims.csv"))
    assert (out / "claims.csv").read_bytes() == first
    # a missing file: its claims are not run, the others are unchanged
    gone = dict(paths, fig7=str(tmp_path / "missing.csv"))
    t = claims.write_report(gone, params, out_csv=str(out / "c2.csv"))
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
    assert sorted(jobs[0].output) == sorted(["results/tiny/claims.csv", "figures/claims.pdf", "figures/claims.png"])
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
    tables = {"summary": summary_table(params, decoupled_acc(1.0)),
              "fig6": fig6_table(params, {d: 0.3 for d in params["fig6"]["panels"]}),
              "fig7": fig7_table(params, 0.05), "fig8": fig8_table(params, 0.1)}
    for name, path in claims.inputs(config).items():
        if name in tables:
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            tables[name].to_csv(tmp_path / path, index=False)
    write_config(tmp_path, tiny_raw)
    snakemake(tmp_path, "figures/claims.pdf", "--allowed-rules", "claims", timeout=180)
    table = pd.read_csv(tmp_path / "results/tiny/claims.csv")
    assert (tmp_path / "figures/claims.png").stat().st_size > 0
    verdicts = dict(zip(table["claim_id"], table["verdict"]))
    assert verdicts["C3-LR"] == verdicts["C4-LR"] == verdicts["C6"] == "reproduced"
    assert verdicts["C3-BS"] == verdicts["C7-LR"] == verdicts["C5"] == "not run"
    assert "C6" in (tmp_path / "results/tiny/logs/claims.log").read_text()
