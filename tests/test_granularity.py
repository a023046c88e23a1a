"""runtime.granularity: "chain" (one job per find chain / evaluation sweep, the default) and "level" (one job
per step) write the same files with the same contents, and chain mode keeps the partial re-runs.

Two real runs of tests/data/tiny.yaml (fig2, fig7 and figA15: find chains, evaluations, random baselines,
match-LPR and local chains), about a minute each on 2 cores.
"""

import json
import re
from pathlib import Path

import pytest

from conftest import REPO, TINY, planned_jobs, read_yaml, snakemake, write_config

pytestmark = pytest.mark.slow

TARGETS = ("figures/fig2.pdf", "figures/fig7.pdf", "figures/figA15.pdf")
TIMINGS = {"train_time_s", "wall_time_s"}


def tiny(granularity: str) -> dict:
    config = read_yaml(TINY)
    config["runtime"]["granularity"] = granularity
    return config


def result_files(wd: Path) -> dict:
    """The pipeline's data files (no logs or benchmark records), by path relative to results/."""
    root = wd / "results"
    return {str(p.relative_to(root)): p for p in root.rglob("*")
            if p.is_file() and p.suffix in {".pt", ".h5", ".json", ".npz", ".csv"}
            and not {"logs", "benchmarks"} & set(p.relative_to(root).parts)}


def without_timings(metrics: dict) -> dict:
    out = {k: v for k, v in metrics.items() if k not in TIMINGS}
    out["history"] = [{k: v for k, v in epoch.items() if k != "time_s"} for epoch in metrics.get("history", [])]
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for granularity in ("level", "chain"):
        wd = tmp_path_factory.mktemp(granularity)
        write_config(wd, tiny(granularity))
        r = snakemake(wd, *TARGETS, cores=2, timeout=900)
        out[granularity] = {"wd": wd, "log": r.stdout + r.stderr, "files": result_files(wd)}
    return out


def test_both_granularities_write_the_same_files(runs):
    """Chain mode writes every file of level mode; its only extras are the trainings of a chain's last mask
    (a chain job trains every level it prunes; level mode trains a mask only where a figure needs it)."""
    level, chain = runs["level"]["files"], runs["chain"]["files"]
    assert set(level) <= set(chain)
    assert sum(name.endswith("mask.h5") for name in level) >= 10
    last = re.compile(r"tiny/find(_local|_matched)?/.+/seed\d+/level2/(trained\.pt|metrics\.json)")
    extra = sorted(set(chain) - set(level))
    assert all(last.fullmatch(name) for name in extra), extra


def test_masks_and_weights_are_byte_identical(runs):
    level, chain = runs["level"]["files"], runs["chain"]["files"]
    binary = [name for name in level if name.endswith((".h5", ".pt", ".npz"))]
    assert any("find_matched" in n for n in binary) and any("find_local" in n for n in binary)
    different = [name for name in binary if level[name].read_bytes() != chain[name].read_bytes()]
    assert not different, different


def test_metrics_are_identical_but_for_timings(runs):
    level, chain = runs["level"]["files"], runs["chain"]["files"]
    names = [name for name in level if name.endswith("metrics.json")]
    assert len(names) >= 20
    for name in names:
        a, b = (json.loads(p[name].read_text()) for p in (level, chain))
        assert without_timings(a) == without_timings(b), name
        assert a["role"] in {"train_find", "train_eval", "train_find_lpr", "train_eval_lpr"}


def test_chain_mode_starts_far_fewer_jobs(runs):
    assert "rule find_chain:" in runs["chain"]["log"] and "rule train_find:" not in runs["chain"]["log"]
    assert "rule train_find:" in runs["level"]["log"] and "rule find_chain:" not in runs["level"]["log"]


def test_default_config_plans_ten_times_fewer_jobs(tmp_path):
    counts = {}
    for granularity in ("level", "chain"):
        config = read_yaml(REPO / "config.yaml")
        config.setdefault("runtime", {})["granularity"] = granularity
        wd = tmp_path / granularity
        wd.mkdir()
        write_config(wd, config)
        r = snakemake(wd, "-n", "figures/fig2.pdf", timeout=300)
        counts[granularity] = len(planned_jobs(r.stdout))
    assert counts["chain"] * 8 < counts["level"], counts


def test_chain_mode_reruns_only_what_an_added_heval_needs(runs, tmp_path):
    """Adding an LR_eval value plans only the new evaluation sweeps, their figures and nothing upstream."""
    wd = runs["chain"]["wd"]
    config = tiny("chain")
    config["grids"]["lr"]["eval"] = [*config["grids"]["lr"]["eval"], 0.4]
    write_config(wd, config)
    try:
        r = snakemake(wd, "-n", "figures/fig2.pdf", timeout=180)
    finally:
        write_config(wd, tiny("chain"))
    jobs = planned_jobs(r.stdout)
    rules = {j.rule for j in jobs}
    assert "eval_sweep" in rules
    assert not rules & {"find_chain", "init", "prepare_data", "global_random_masks", "preserve_lpr_masks"}, rules
    assert all("lr0.4_" in j.wildcards["heval"] for j in jobs if j.rule == "eval_sweep")
