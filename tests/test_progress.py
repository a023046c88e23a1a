"""python -m findeval.progress against a recorded run (issue 24, item 3): it counts the experiments of the given
config only, and its estimate includes the jobs without benchmark records (their process start-up and seconds of
work), timed from the Snakemake log.

tests/data/progress_run/ is a real run of tests/data/tiny.yaml in `granularity: level` (its three fig2/fig7/figA15
targets, 52 jobs), copied while it ran, after 24 jobs had finished (13 training jobs with benchmark records, 11
cheap ones: data, init, masks, pruning, rewinding), on the loaded 2-core development machine: its benchmark
records, metrics.json files and Snakemake log (the work folder's paths replaced by RUN). The tests copy it into a
work folder and put a second experiment beside it, which must not be counted.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

RUN = Path(__file__).resolve().parent / "data" / "progress_run"
LOG = "2026-12-04T194711.057900.snakemake.log"


def _recorded(tmp_path: Path, *, foreign: bool = True) -> Path:
    """The recorded run in a work folder; with ``foreign`` an experiment 'other' beside it (the same records, 100x
    slower, and a log of its jobs), as a finished run of another config leaves it."""
    wd = tmp_path / "run"
    shutil.copytree(RUN, wd)
    (wd / ".snakemake" / "log").mkdir(parents=True)
    text = (wd / "snakemake.log").read_text()
    (wd / "snakemake.log").rename(wd / ".snakemake" / "log" / LOG)
    if foreign:
        shutil.copytree(wd / "results" / "tiny", wd / "results" / "other")
        for tsv in (wd / "results" / "other" / "benchmarks").rglob("*.tsv"):
            rows = list(csv.reader(open(tsv), delimiter="\t"))
            rows[1][0] = str(float(rows[1][0]) * 100)
            with open(tsv, "w", newline="") as fh:
                csv.writer(fh, delimiter="\t").writerows(rows)
        (wd / ".snakemake" / "log" / "2026-12-03T100000.000000.snakemake.log").write_text(
            text.replace("results/tiny/", "results/other/"))
    return wd


def _records(wd: Path, exp: str) -> dict[str, list[float]]:
    """The benchmark seconds per rule, read with csv (independently of findeval.progress)."""
    out: dict[str, list[float]] = {}
    for tsv in (wd / "results" / exp / "benchmarks").rglob("*.tsv"):
        rule = tsv.relative_to(wd / "results" / exp / "benchmarks").parts[0]
        row = next(csv.DictReader(open(tsv), delimiter="\t"))
        out.setdefault(rule, []).append(float(row["s"]))
    return out


def _mean(xs):
    return sum(xs) / len(xs)


def test_progress_counts_the_experiments_of_the_config_only(tmp_path):
    from findeval import progress

    wd = _recorded(tmp_path)
    exps = progress.experiments(str(wd))
    assert exps == ["tiny"]  # config.yaml of the work folder; no other_models
    records = _records(wd, "tiny")
    assert sum(map(len, records.values())) == 13
    done = progress.done_jobs(str(wd), exps)
    assert {k: sorted(v) for k, v in done.items()} == {k: sorted(v) for k, v in records.items()}
    everything = progress.done_jobs(str(wd))  # the old count: every experiment under results/
    assert len(everything["train_find"]) == 2 * len(done["train_find"])
    assert progress.finished_runs(str(wd), exps)[0] == 13 and progress.finished_runs(str(wd))[0] == 26
    timed = progress.timed_jobs(str(wd), exps, skip=set(done))
    assert sum(map(len, timed.values())) == 11  # the 11 finished jobs without records, of tiny only
    assert set(timed) == {"prepare_data", "init", "global_random_mask", "prune", "prune_local", "prune_match_lpr",
                          "rewind"}
    assert len(progress.timed_jobs(str(wd), None, skip=set(done))["prune_local"]) == 8  # both logs


def test_progress_estimate_includes_the_start_up_of_jobs_without_records(tmp_path):
    """The estimate counts the cheap jobs at their logged times (their rule's, else the mean of the cheap rules'),
    where it used to count them as free: on this recorded run 1.8x the old estimate."""
    from findeval import progress

    wd = _recorded(tmp_path)
    exps = ["tiny"]
    done = progress.done_jobs(str(wd), exps)
    timed = progress.timed_jobs(str(wd), exps, skip=set(done))
    remaining = {"train_find": 2, "train_eval": 5, "prune": 3, "rewind": 3, "fig2": 1, "all": 1}
    records = _records(wd, "tiny")
    cheap = [s for secs in timed.values() for s in secs]
    expected = (2 * _mean(records["train_find"]) + 5 * _mean(records["train_eval"]) + 3 * _mean(timed["prune"])
                + 3 * _mean(timed["rewind"]) + 1 * _mean(cheap)) / 2
    old = (2 * _mean(records["train_find"]) + 5 * _mean(records["train_eval"])) / 2
    text = progress.report(remaining, done, progress.finished_runs(str(wd), exps), 2, timed)
    line = next(line for line in text.splitlines() if line.startswith("estimated time left:"))
    assert line == (f"estimated time left: {progress.format_duration(expected)} at 2 job(s) at a time "
                    "(from 13 benchmark records and 11 jobs timed in the Snakemake logs)"), text
    assert line.startswith("estimated time left: 2 min 09 s")  # the recorded numbers
    assert expected / old > 1.7
    rows = {r.split()[0]: r.split()[1:] for r in text.splitlines()[1:] if r and r.split()[0] in remaining}
    assert rows["prune"][:3] == ["1", "3", "20.0"] and rows["fig2"][2] == f"{_mean(cheap):.1f}"
    # without the logs, the cheap jobs cannot be timed and the estimate says so
    old_text = progress.report(remaining, done, progress.finished_runs(str(wd), exps), 2)
    assert f"estimated time left: {progress.format_duration(old)} at 2 job(s)" in old_text
    assert "their start-up not counted" in old_text


def test_progress_command_on_the_recorded_run(tmp_path):
    """The command in the recorded run's folder beside another experiment's records: the dry run's remaining jobs,
    tiny's records only, the logged jobs counted."""
    wd = _recorded(tmp_path)
    cmd = [sys.executable, "-m", "findeval.progress", "--directory", str(wd), "--cores", "2"]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("experiments: tiny\n"), r.stdout
    rows = {line.split()[0]: line.split()[1:] for line in r.stdout.splitlines()[1:] if line.strip()}
    assert rows["train_find"][0] == "3" and int(rows["train_find"][1]) > 0  # not the 6 of both experiments
    assert rows["prune"][0] == "1"
    assert "finished training runs: 13 (metrics.json)" in r.stdout
    assert "and 11 jobs timed in the Snakemake logs" in r.stdout
    # a config file that is not there is an error naming it
    r = subprocess.run(cmd + ["--configfile", str(wd / "nope.yaml")], cwd=REPO, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 1 and "no config file" in r.stderr and "nope.yaml" in r.stderr, r.stderr
