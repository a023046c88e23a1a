"""runtime.granularity: "chain" (one job per find chain / evaluation sweep, the default) and "level" (one job
per step) write the same files with the same contents, and chain mode keeps the partial re-runs.

Two real runs of tests/data/tiny.yaml (fig2, fig7 and figA15: find chains, evaluations, random baselines,
match-LPR and local chains), about a minute each on 2 cores; a third, chain mode with runtime.group: 4
(grouped sweeps), is compared with the chain run of group 0.
"""

import json
import re

import pytest

from conftest import (GRANULARITY_TARGETS, REPO, planned_jobs, read_yaml, result_files, snakemake, tiny_granularity,
                      without_timings, write_config)

pytestmark = pytest.mark.slow

TARGETS = GRANULARITY_TARGETS
tiny = tiny_granularity


@pytest.fixture(scope="module")
def runs(granularity_runs):
    """The session's two runs (conftest.granularity_runs, shared with tests/test_digest.py)."""
    return granularity_runs


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
        assert "group_size" not in b, name  # runtime.group 0 (the default): both use training.train


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
        r = snakemake(wd, "-n", f"results/{config['experiment']}/figures/fig2.pdf", timeout=300)
        counts[granularity] = len(planned_jobs(r.stdout))
    assert counts["chain"] * 8 < counts["level"], counts


def test_chain_mode_reruns_only_what_an_added_heval_needs(runs, tmp_path):
    """Adding an LR_eval value plans only the new evaluation sweeps, their figures and nothing upstream."""
    wd = runs["chain"]["wd"]
    config = tiny("chain")
    config["grids"]["lr"]["eval"] = [*config["grids"]["lr"]["eval"], 0.4]
    write_config(wd, config)
    try:
        r = snakemake(wd, "-n", "results/tiny/figures/fig2.pdf", timeout=180)
    finally:
        write_config(wd, tiny("chain"))
    jobs = planned_jobs(r.stdout)
    rules = {j.rule for j in jobs}
    assert "eval_sweep" in rules
    assert not rules & {"find_chain", "init", "prepare_data", "global_random_masks", "preserve_lpr_masks"}, rules
    assert all("lr0.4_" in j.wildcards["heval"] for j in jobs if j.rule == "eval_sweep")


# --------------------------------------------------------------------------- runtime.group (grouped sweeps)

#: Sweep rules of the tiny targets; changing runtime.group may re-run them and what reads their metrics
#: (aggregate, figures), never what is upstream of them.
SWEEPS = {"eval_sweep", "lpr_eval_sweep"}
UPSTREAM = {"prepare_data", "init", "find_chain", "global_random_masks", "preserve_lpr_masks", "lpr_find_chain"}
#: Tolerance of the grouped sweeps' test accuracies against group 0's (float-level differences, amplified
#: over the tiny config's 2 epochs): mean |delta| over all evaluation runs, and that of any one run.
MEAN_ACC_TOL, MAX_ACC_TOL = 0.05, 0.2


def tiny_grouped(group: int) -> dict:
    config = tiny("chain")
    config["runtime"]["group"] = group
    return config


@pytest.fixture(scope="module")
def grouped_run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("grouped")
    write_config(wd, tiny_grouped(4))
    r = snakemake(wd, *TARGETS, cores=2, timeout=900)
    return {"wd": wd, "log": r.stdout + r.stderr, "files": result_files(wd)}


def test_grouped_run_writes_every_file_of_the_default(runs, grouped_run):
    chain, grp = runs["chain"]["files"], grouped_run["files"]
    assert set(grp) == set(chain)
    assert not list(grouped_run["wd"].rglob("*resume.pt"))  # resume files removed once a group is written


def test_grouped_run_keeps_find_chains_and_masks_byte_identical(runs, grouped_run):
    """Find chains are not grouped: their weights, masks and tickets are the bytes of group 0."""
    chain, grp = runs["chain"]["files"], grouped_run["files"]
    binary = [n for n in chain if n.endswith((".h5", ".pt", ".npz"))]
    assert any("find_local" in n for n in binary) and any("/find/" in n for n in binary)
    assert [n for n in binary if chain[n].read_bytes() != grp[n].read_bytes()] == []
    finds = [n for n in chain if n.endswith("metrics.json") and "/eval/" not in n]
    assert len(finds) >= 10
    for name in finds:
        a, b = (json.loads(p[name].read_text()) for p in (chain, grp))
        assert without_timings(a) == without_timings(b), name


def test_grouped_sweeps_agree_with_group_0_within_tolerance(runs, grouped_run):
    """Evaluation runs: same settings and keys (+ group_size), accuracy within the tolerance."""
    chain, grp = runs["chain"]["files"], grouped_run["files"]
    evals = [n for n in chain if n.endswith("metrics.json") and "/eval/" in n]
    assert len(evals) >= 12
    deltas, roles = [], set()
    for name in evals:
        a, b = (json.loads(p[name].read_text()) for p in (chain, grp))
        assert set(b) == set(a) | {"group_size"}, name
        assert b["group_size"] == 2, name  # tiny: 2 levels per sweep, runtime.group 4 -> one group
        for key in ("kind", "role", "level", "seed", "seeds", "H_find", "H_eval", "epochs", "sparsity",
                    "zero_fraction", "diverged", "epochs_completed", "iterations_per_epoch", "model",
                    "constraint", "H_ref"):
            assert a.get(key) == b.get(key), (name, key)
        # the grouped path really ran: float-level differences
        assert without_timings(b)["history"] != without_timings(a)["history"], name
        roles.add(b["role"])
        deltas.append(abs(a["test_accuracy"] - b["test_accuracy"]))
    assert roles == {"train_eval", "train_eval_lpr"}
    assert sum(deltas) / len(deltas) < MEAN_ACC_TOL, deltas
    assert max(deltas) < MAX_ACC_TOL, deltas


def test_changing_group_reruns_only_the_sweeps(grouped_run):
    """runtime.group reaches the sweep jobs through params: 4 -> 0 (and 4 -> 2) plans the sweeps and what
    reads their metrics, nothing upstream; an unchanged config plans nothing."""
    wd = grouped_run["wd"]
    assert planned_jobs(snakemake(wd, "-n", *TARGETS, timeout=180).stdout) == []
    try:
        for group in (0, 2):
            write_config(wd, tiny_grouped(group))
            jobs = planned_jobs(snakemake(wd, "-n", *TARGETS, timeout=180).stdout)
            rules = {j.rule for j in jobs}
            assert SWEEPS <= rules and not rules & UPSTREAM, (group, rules)
            assert sum(j.rule in SWEEPS for j in jobs) == 8, group  # every sweep: 2 LR_eval x (2 lottery +
            # global random + preserve-LPR), and 4 LPR-constrained chains x 1 H_eval
    finally:
        write_config(wd, tiny_grouped(4))


# --------------------------------------------------------------------------- runtime.find_group (find chains in lock-step)

FIG2 = "results/tiny/figures/fig2.pdf"


def tiny_find_grouped(find_group: int) -> dict:
    config = tiny("chain")
    config["runtime"]["find_group"] = find_group
    return config


@pytest.fixture(scope="module")
def find_grouped_run(tmp_path_factory):
    """fig2, fig7 and figA15 of the tiny config with runtime.find_group 2: its two H_find (LR 0.05 and 0.1, batch
    128) are one job, and its four LPR-constrained chains (match-LPR and local of each, batch 128) two."""
    wd = tmp_path_factory.mktemp("find_grouped")
    write_config(wd, tiny_find_grouped(2))
    r = snakemake(wd, *TARGETS, cores=2, timeout=900)
    return {"wd": wd, "log": r.stdout + r.stderr, "files": result_files(wd)}


def _mask(path):
    import numpy as np

    from findeval import masks

    m, _ = masks.load_mask(str(path))
    return np.concatenate([m[k].ravel() for k in sorted(m)])


def test_find_group_trains_the_chains_of_a_replicate_together(runs, find_grouped_run):
    """One find_group job for the two chains (no find_chain job); every find run records group_size 2 and its own
    H and LR schedule; the same files as the one-chain jobs; accuracies within the grouped sweeps' tolerance;
    masks with the exact counts of the schedule, nearly the same weights (float-level differences can only swap
    weights of almost equal magnitude)."""
    log, grp, chain = find_grouped_run["log"], find_grouped_run["files"], runs["chain"]["files"]
    assert "rule find_group_0:" in log and "rule find_chain:" not in log
    finds = sorted(n for n in grp if "/find/" in n)
    assert len(finds) == 2 * (3 * 2 + 2 * 2) and set(finds) <= set(chain)  # 2 H x (3 levels x 2 + 2 levels x 2)
    deltas = []
    for name in (n for n in finds if n.endswith("metrics.json")):
        a, b = (json.loads(p[name].read_text()) for p in (chain, grp))
        assert set(b) == set(a) | {"group_size"} and b["group_size"] == 2, name
        for key in ("kind", "role", "level", "seed", "seeds", "H_find", "H_eval", "sparsity", "epochs_completed"):
            assert a[key] == b[key], (name, key)
        assert [r["lr"] for r in b["history"]] == pytest.approx([r["lr"] for r in a["history"]]), name
        assert without_timings(b)["history"] != without_timings(a)["history"], name  # the grouped path ran
        deltas.append(abs(a["test_accuracy"] - b["test_accuracy"]))
    assert sum(deltas) / len(deltas) < MEAN_ACC_TOL and max(deltas) < MAX_ACC_TOL, deltas
    for name in (n for n in finds if n.endswith("mask.h5")):
        a, b = _mask(chain[name]), _mask(grp[name])
        assert a.sum() == b.sum(), name
        assert (a == b).mean() > 0.9, (name, (a == b).mean())
    assert not list(find_grouped_run["wd"].rglob("*resume.pt"))


def test_find_group_trains_the_lpr_chains_of_a_replicate_together(runs, find_grouped_run):
    """The LPR-constrained chains in lock-step (rules lpr_find_group_<i>, no lpr_find_chain job): the files of the
    one-chain jobs, records with group_size 2 and their own constraint and H_ref, per-layer counts of the
    constraint exactly met, accuracies within the grouped tolerance."""
    from findeval import masks
    from findeval.lpr import jobs as lpr_jobs

    log, grp, chain = find_grouped_run["log"], find_grouped_run["files"], runs["chain"]["files"]
    assert "rule lpr_find_group_0:" in log and "rule lpr_find_group_1:" in log
    assert "rule lpr_find_chain:" not in log
    lprs = sorted(n for n in grp if "/find_local/" in n or "/find_matched/" in n)
    assert len(lprs) == 4 * 2 * 4 and set(lprs) <= set(chain)  # 4 chains x 2 levels x (mask, ticket, trained, metrics)
    deltas = []
    for name in (n for n in lprs if n.endswith("metrics.json")):
        a, b = (json.loads(p[name].read_text()) for p in (chain, grp))
        assert set(b) == set(a) | {"group_size"} and b["group_size"] == 2, name
        for key in ("kind", "role", "level", "seed", "seeds", "H_find", "H_eval", "constraint", "H_ref", "sparsity"):
            assert a[key] == b[key], (name, key)
        assert without_timings(b)["history"] != without_timings(a)["history"], name  # the grouped path ran
        deltas.append(abs(a["test_accuracy"] - b["test_accuracy"]))
    assert sum(deltas) / len(deltas) < MEAN_ACC_TOL and max(deltas) < MAX_ACC_TOL, deltas
    for name in (n for n in lprs if n.endswith("mask.h5")):
        a, _ = masks.load_mask(str(chain[name]))
        b, attrs = masks.load_mask(str(grp[name]))
        # the constraint's per-layer counts are exact whatever the weights: match-LPR hits the reference's
        # (the grouped find chain's mask of the same level), local its own schedule
        if "/find_matched/" in name:
            ref_slug = name.split("/match-")[1].split("/")[0]
            ref, _ = masks.load_mask(str(grp[f"tiny/find/{ref_slug}/seed0/level{attrs['level']}/mask.h5"]))
            lpr_jobs.check_counts(b, lpr_jobs.matched_kept(ref))
        else:
            assert {k: int(v.sum()) for k, v in b.items()} == {k: int(v.sum()) for k, v in a.items()}, name
    assert not list(find_grouped_run["wd"].rglob("*resume.pt"))


def test_a_chain_alone_in_its_batch_size_is_grouped_across_seeds(tmp_path):
    """A find chain that no group of its own replicate holds (here batch 64 beside the grid's batch 128) is one
    find_seeds_group job for both seeds, each network on its own theta_0 and data order: the files of the
    one-chain jobs, records with group_size 2 and their own seeds, masks with the schedule's exact counts,
    accuracies within the grouped tolerance; with find_group 0 each seed has its find_chain job."""
    def config(find_group):
        cfg = tiny_find_grouped(find_group)
        cfg["seeds"] = [0, 1]
        cfg["grids"]["batch_size"]["find"] = [64, 128]
        return cfg

    lone = "lr0.1_bs64_wd5e-4"
    targets = [f"results/tiny/find/{lone}/seed{s}/level2/mask.h5" for s in (0, 1)]
    out = {}
    for f in (0, 2):
        wd = tmp_path / f"f{f}"
        wd.mkdir()
        write_config(wd, config(f))
        r = snakemake(wd, *targets, cores=2, timeout=600)
        out[f] = {"log": r.stdout + r.stderr, "files": result_files(wd)}
    assert "rule find_seeds_group_0:" in out[2]["log"] and "rule find_chain:" not in out[2]["log"]
    assert out[0]["log"].count("rule find_chain:") == 2
    names = sorted(n for n in out[0]["files"] if f"/find/{lone}/" in n)
    assert len(names) == 2 * (3 * 2 + 2 * 2) and set(names) <= set(out[2]["files"])
    deltas = []
    for name in (n for n in names if n.endswith("metrics.json")):
        a, b = (json.loads(out[f]["files"][name].read_text()) for f in (0, 2))
        assert set(b) == set(a) | {"group_size"} and b["group_size"] == 2, name
        for key in ("kind", "role", "level", "seed", "seeds", "H_find", "sparsity", "epochs_completed"):
            assert a[key] == b[key], (name, key)
        deltas.append(abs(a["test_accuracy"] - b["test_accuracy"]))
    assert sum(deltas) / len(deltas) < MEAN_ACC_TOL and max(deltas) < MAX_ACC_TOL, deltas
    for name in (n for n in names if n.endswith("mask.h5")):
        a, b = _mask(out[0]["files"][name]), _mask(out[2]["files"][name])
        assert a.sum() == b.sum() and (a == b).mean() > 0.9, name
    # the two seeds' chains differ (their own theta_0 and data order), as they do one at a time
    m0, m1 = (_mask(out[2]["files"][f"tiny/find/{lone}/seed{s}/level2/mask.h5"]) for s in (0, 1))
    assert (m0 != m1).any()


def test_changing_find_group_reruns_the_find_chains_and_what_uses_them(find_grouped_run):
    wd = find_grouped_run["wd"]
    assert planned_jobs(snakemake(wd, "-n", *TARGETS, timeout=180).stdout) == []
    try:
        write_config(wd, tiny_find_grouped(0))
        rules = {j.rule for j in planned_jobs(snakemake(wd, "-n", *TARGETS, timeout=180).stdout)}
        assert {"find_chain", "eval_sweep", "lpr_find_chain", "lpr_eval_sweep", "fig2", "fig7"} <= rules, rules
        assert not rules & {"prepare_data", "init"}, rules
    finally:
        write_config(wd, tiny_find_grouped(2))
