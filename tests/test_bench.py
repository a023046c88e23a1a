"""The speed benchmark (benchmarks/bench.py) runs end to end on a tiny budget and reports every row.

No timing thresholds here: the speed targets are read off the benchmark's own table, never asserted by
timed tests (which would be flaky on shared machines).
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

from conftest import REPO

SPEC = importlib.util.spec_from_file_location("findeval_bench", REPO / "benchmarks" / "bench.py")
bench = importlib.util.module_from_spec(SPEC)
sys.modules[SPEC.name] = bench  # dataclasses look their module up there
SPEC.loader.exec_module(bench)

# Two jobs of a Snakemake 9 log, in its exact layout (from a real run), plus an unfinished one.
LOG = """\
Building DAG of jobs...
Provided cores: 2
Rules claiming more threads will be scaled down.
Select jobs to execute...
Execute 2 jobs...
[Sun Nov 22 03:19:33 2026]
localrule prune:
    input: results/x/find/lr0.1_bs64_wd5e-4/seed0/level0/trained.pt
    output: results/x/find/lr0.1_bs64_wd5e-4/seed0/level1/mask.h5
    log: results/x/logs/prune/lr0.1_bs64_wd5e-4/seed0/level1.log
    jobid: 7
    reason: Missing output files: results/x/find/lr0.1_bs64_wd5e-4/seed0/level1/mask.h5
    wildcards: exp=x, hfind=lr0.1_bs64_wd5e-4, seed=0, level=1
    resources: tmpdir=/tmp
[Sun Nov 22 03:19:34 2026]
rule rewind:
    output: results/x/find/lr0.1_bs64_wd5e-4/seed0/level1/ticket.pt
    jobid: 9
    resources: tmpdir=/tmp
[Sun Nov 22 03:19:36 2026]
Finished jobid: 7 (Rule: prune)
1 of 3 steps (33%) done
[Sun Nov 22 03:19:37 2026]
localrule train_find:
    output: results/x/find/lr0.1_bs64_wd5e-4/seed0/level0/trained.pt, results/x/find/lr0.1_bs64_wd5e-4/seed0/level0/metrics.json
    jobid: 5
[Sun Nov 22 03:19:37 2026]
localrule train_find:
    output: results/x/find/lr0.1_bs64_wd5e-4/seed0/level1/trained.pt
    jobid: 11
[Sun Nov 22 03:19:40 2026]
Finished jobid: 9 (Rule: rewind)
2 of 4 steps (50%) done
[Sun Nov 22 03:19:40 2026]
Finished jobid: 5 (Rule: train_find)
3 of 4 steps (75%) done
"""


def fake_results(root: Path) -> Path:
    """A results folder with two training jobs (benchmark records + metrics) and the run's Snakemake log."""
    results = root / "results" / "x"
    runs = {
        ("train_find", "lr0.1_bs64_wd5e-4/seed0/level0"): (3.5, 1.0),
        ("train_eval", "lottery/lr0.1_bs64_wd5e-4/lr0.02_bs64_wd5e-4/seed0/level1"): (4.0, 1.5),
    }
    for (rule, rel), (s, t) in runs.items():
        tsv = results / "benchmarks" / rule / f"{rel}.tsv"
        tsv.parent.mkdir(parents=True)
        tsv.write_text("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
                       f"{s}\t0:00:03\t544.91\t3187.56\t526.77\t534.77\t0.02\t0.05\t73.55\t2.72\n")
        stage = "find" if rule == "train_find" else "eval"
        metrics = results / stage / rel / "metrics.json"
        metrics.parent.mkdir(parents=True)
        metrics.write_text(json.dumps({"train_time_s": t, "test_accuracy": 0.9}))
    log = root / ".snakemake" / "log" / "2026-11-22T031930.916100.snakemake.log"
    log.parent.mkdir(parents=True)
    log.write_text(LOG)
    return results


def test_snakemake_log_and_results_breakdown(tmp_path):
    results = fake_results(tmp_path)
    parsed = bench.parse_snakemake_log(tmp_path / ".snakemake" / "log" / "2026-11-22T031930.916100.snakemake.log")
    assert parsed["cores"] == 2
    assert {j: (r, e - s) for j, (r, s, e) in parsed["jobs"].items()} == {7: ("prune", 3.0), 9: ("rewind", 6.0),
                                                                         5: ("train_find", 3.0)}
    assert parsed["last"] - parsed["first"] == 7.0
    assert parsed["outputs"][5][1].endswith("level0/metrics.json") and parsed["started"] == 4

    logs = bench.find_snakemake_logs(results)
    assert [p.name for p in logs] == ["2026-11-22T031930.916100.snakemake.log"]
    run = bench.run_breakdown(results, logs)
    assert run["compute_s"] == pytest.approx(2.5)
    assert run["train_jobs_wall_s"] == pytest.approx(7.5)
    assert run["all_jobs_wall_s"] == pytest.approx(7.5 + 3.0 + 6.0)
    assert run["rules"]["train_eval"] == {"jobs": 1, "wall_s": 4.0, "compute_s": 1.5, "source": "benchmark"}
    assert run["rules"]["prune"]["source"] == "log"
    assert run["elapsed_s"] == 7.0 and run["cores"] == 2
    # the elapsed share counts only the compute of the jobs the log ran (train_find level 0: 1.0 s): the
    # train_eval record of the results folder came from an invocation whose log is not there
    assert run["log_compute_s"] == pytest.approx(1.0) and run["core_s"] == 14.0
    shares = [r["ratio"] for r in bench.build_rows({"run": run})]
    assert shares == pytest.approx([2.5 / 7.5, 2.5 / 16.5, 1.0 / 14.0])


def test_core_count_and_elapsed_share_of_other_logs(tmp_path):
    """Issue 15 item 4: a `--cores 2` run read as "1 cores" and a compute share of 1.76. A log written with
    --quiet progress has no "Provided cores" line and no "Finished jobid" lines: the cores were taken as 1 and the
    elapsed span ended at the last job's *start*. Now the cores come from the header's command line, and the
    share is n/a when the log cannot give the span."""
    results = fake_results(tmp_path)
    quiet = tmp_path / ".snakemake" / "log" / "2026-11-22T031930.916100.snakemake.log"
    header = ("  Command: /venv/lib/python3.11/site-packages/snakemake/__main__.py --cores 2 --quiet progress\n"
              "Building DAG of jobs...\n")
    body = [line for line in LOG.splitlines(keepends=True)
            if not line.startswith(("Provided cores", "Finished jobid", "Rules claiming"))
            and "steps (" not in line]
    quiet.write_text(header + "".join(body))
    parsed = bench.parse_snakemake_log(quiet)
    assert (parsed["cores"], parsed["cores_from"], parsed["jobs"]) == (2, "command", {})
    run = bench.run_breakdown(results, [quiet])
    assert run["core_s"] is None and "no job end times" in run["elapsed_problems"][0]
    [row] = [r for r in bench.build_rows({"run": run}) if "elapsed x cores" in r["measure"]]
    assert row["ratio"] is None and row["met"] is None and "n/a" in row["measure"]
    # one core: Snakemake adds a note to the line, which the old pattern did not match
    one = tmp_path / "one.log"
    one.write_text(LOG.replace("Provided cores: 2", "Provided cores: 1 (use --cores to define parallelism)"))
    assert bench.parse_snakemake_log(one)["cores"] == 1
    assert bench._cores_of_command("snakemake -s Snakefile -j 4 all") == 4
    assert bench._cores_of_command("snakemake --cores=3") == 3
    assert bench._cores_of_command("snakemake --configfile c.yaml") is None
    # a cluster executor has no core count: no share either
    slurm = tmp_path / "slurm.log"
    slurm.write_text(LOG.replace("Provided cores: 2", "Provided remote nodes: 100"))
    assert bench.parse_snakemake_log(slurm)["remote"] is True
    assert bench.run_breakdown(results, [slurm])["core_s"] is None


def test_quick_benchmark_prints_every_row(tmp_path, capsys):
    results = fake_results(tmp_path)
    out = tmp_path / "table.md"
    assert bench.main(["--quick", "--results", str(results), "--out", str(out)]) == 0
    text = out.read_text()
    assert text in capsys.readouterr().out
    import torch

    machine = bench.machine()
    assert f"Machine: {machine['cpu']}, {machine['cores']} cores; torch {torch.__version__}" in text
    table = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    header, rows = table[0], table[1:]
    assert header.startswith("| measure | findeval | reference | ratio")
    expected = ["training step, images/s: resnet_cifar", "training step, images/s: resnet18",
                "roofline: one network's training step", "roofline: a grouped step of 2 networks",
                "masking cost", "per-job start-up, s", "per-job start-up share",
                "default train job: training+evaluation compute",
                "compute / wall time of the training jobs", "compute / wall time of all its jobs",
                "compute / (elapsed x cores)"]
    for name in expected:
        match = [r for r in rows if name in r]
        assert match, f"no row {name!r} in\n{text}"
        cells = [c.strip() for c in match[0].strip("|").split("|")]
        for cell in cells[1:3]:  # findeval and reference figures
            value = float(cell.replace(",", ""))
            assert value > 0 and math.isfinite(value), match[0]
    # the per-rule breakdown of the run
    assert "| prune | 1 | 3.0 | 0.0 | log |" in text
    assert "| train_find | 1 | 3.5 | 1.0 | benchmark |" in text


def test_find_group_records_count_every_chain_they_trained(tmp_path):
    """A find group's record (one job, several chains in lock-step) names only its seed: its compute is the sum
    of the train_time_s of every grouped find run of that seed (each run's share, the group's / G); the runs of
    a chain trained alone (group_size 1) stay with their own find_chain record."""
    results = tmp_path / "results" / "x"

    def record(rule, rel, s):
        tsv = results / "benchmarks" / rule / f"{rel}.tsv"
        tsv.parent.mkdir(parents=True, exist_ok=True)
        tsv.write_text(f"s\th:m:s\n{s}\t0:00:10\n")

    def run(slug, seed, level, t, group_size, bs):
        f = results / "find" / slug / f"seed{seed}" / f"level{level}" / "metrics.json"
        f.parent.mkdir(parents=True)
        f.write_text(json.dumps({"train_time_s": t, "group_size": group_size,
                                 "H_eval": {"lr": 0.1, "batch_size": bs, "weight_decay": 1e-3}}))

    for slug in ("lr0.05_bs64_wd1e-3", "lr0.2_bs64_wd1e-3"):
        for level in (0, 1):
            run(slug, 0, level, 2.0, 2, 64)
    for level in (0, 1):
        run("lr0.2_bs32_wd1e-3", 0, level, 5.0, 1, 32)
    record("find_group_0", "seed0", 9.0)
    record("find_chain", "lr0.2_bs32_wd1e-3/seed0", 11.0)
    out = bench.run_breakdown(results)
    assert out["rules"]["find_group"] == {"jobs": 1, "wall_s": 9.0, "compute_s": 8.0, "source": "benchmark"}
    assert out["rules"]["find_chain"]["compute_s"] == 10.0
    assert out["compute_s"] == 18.0 and out["missing_metrics"] == 0
    # its job in Snakemake's log is the same record's job, not a second entry (rule find_group_0 counted twice)
    log = tmp_path / "run.snakemake.log"
    log.write_text("Provided cores: 2\n[Fri Dec  4 22:59:55 2026]\nlocalrule find_group_0:\n    output: x\n"
                   "    jobid: 3\n[Fri Dec  4 23:00:04 2026]\nFinished jobid: 3 (Rule: find_group_0)\n")
    logged = bench.run_breakdown(results, [log])["rules"]
    assert "find_group_0" not in logged and logged["find_group"]["jobs"] == 1, logged
    # two groups of one seed (two batch sizes): each takes the chains of its own batch size, in group order
    for slug in ("lr0.05_bs128_wd1e-3", "lr0.2_bs128_wd1e-3"):
        for level in (0, 1):
            run(slug, 0, level, 3.0, 2, 128)
    record("find_group_1", "seed0", 13.0)
    members = bench.find_group_members(results, sorted((results / "benchmarks").glob("find_group_*/*.tsv")))
    by_group = {rec.parent.name: sorted({f.parts[-4] for f in files}) for rec, files in members.items()}
    assert by_group == {"find_group_0": ["lr0.05_bs64_wd1e-3", "lr0.2_bs64_wd1e-3"],
                        "find_group_1": ["lr0.05_bs128_wd1e-3", "lr0.2_bs128_wd1e-3"]}
    assert bench.run_breakdown(results)["rules"]["find_group"]["compute_s"] == 8.0 + 12.0


def test_lpr_find_group_records_count_every_lpr_chain_they_trained(tmp_path):
    """An LPR find group's record (rules lpr_find_group_<i>) takes the grouped runs of the LPR-constrained chains
    of its seed (find_local/, find_matched/), never the find chains', which belong to the find groups."""
    results = tmp_path / "results" / "x"

    def record(rule, rel, s):
        tsv = results / "benchmarks" / rule / f"{rel}.tsv"
        tsv.parent.mkdir(parents=True, exist_ok=True)
        tsv.write_text(f"s\th:m:s\n{s}\t0:00:10\n")

    def run(chain, level, t, bs):
        f = results / chain / "seed0" / f"level{level}" / "metrics.json"
        f.parent.mkdir(parents=True)
        f.write_text(json.dumps({"train_time_s": t, "group_size": 2,
                                 "H_find": {"lr": 0.1, "batch_size": bs, "weight_decay": 1e-3}}))

    for chain in ("find/lr0.05_bs64_wd1e-3", "find/lr0.2_bs64_wd1e-3"):
        run(chain, 1, 1.0, 64)
    for chain in ("find_local/lr0.05_bs64_wd1e-3", "find_matched/lr0.05_bs64_wd1e-3/match-lr0.2_bs64_wd1e-3"):
        run(chain, 1, 3.0, 64)
        run(chain, 2, 3.0, 64)
    record("find_group_0", "seed0", 3.0)
    record("lpr_find_group_0", "seed0", 14.0)
    out = bench.run_breakdown(results)
    assert out["rules"]["find_group"]["compute_s"] == 2.0
    assert out["rules"]["lpr_find_group"] == {"jobs": 1, "wall_s": 14.0, "compute_s": 12.0, "source": "benchmark"}
    assert out["compute_s"] == 14.0 and out["missing_metrics"] == 0
    assert bench.group_family("lpr_find_group_3") == "lpr_find_group" and bench.group_family("find_chain") is None
    # a rewinding group takes its variant chains' runs, not those of the variants' grouped evaluation sweeps
    for chain in ("late/k1/lr0.05_bs64_wd1e-3", "late/k1/lr0.2_bs64_wd1e-3", "late/k1/eval/lr0.05_bs64_wd1e-3/x"):
        run(chain, 1, 5.0, 64)
    record("rewinding_group_0", "seed0", 11.0)
    out = bench.run_breakdown(results)
    assert out["rules"]["rewinding_group"]["compute_s"] == 10.0 and out["missing_metrics"] == 0
    # a cross-replicate group (named by its H_find) takes that H_find's grouped runs of every seed
    for seed in (0, 1):
        f = results / "find" / "lr0.2_bs32_wd1e-3" / f"seed{seed}" / "level0" / "metrics.json"
        f.parent.mkdir(parents=True)
        f.write_text(json.dumps({"train_time_s": 4.0, "group_size": 2,
                                 "H_find": {"lr": 0.2, "batch_size": 32, "weight_decay": 1e-3}}))
    record("find_seeds_group_0", "lr0.2_bs32_wd1e-3", 9.0)
    out = bench.run_breakdown(results)
    assert out["rules"]["find_seeds_group"] == {"jobs": 1, "wall_s": 9.0, "compute_s": 8.0, "source": "benchmark"}
    assert out["rules"]["find_group"]["compute_s"] == 2.0 and out["missing_metrics"] == 0


def test_forward_macs_counts_convolutions_and_linear_layers():
    from torch import nn

    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(8, 10))
    # conv1: 4x8x8 outputs x 3*9; conv2 (groups 2): 8x4x4 outputs x 2*9; linear: 10 x 8
    assert bench.forward_macs(model, (3, 8, 8)) == 4 * 64 * 27 + 8 * 16 * 18 + 80
    assert bench.matmul_ceiling(64, 2) > 0
