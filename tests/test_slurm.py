"""The tiny pipeline through profiles/slurm on a real single-node SLURM cluster (tests/slurm/cluster.sh).

The cluster is started once for the module (Debian's slurmctld, slurmd, munge, slurmdbd + MariaDB, so that
``sacct`` works) and stopped afterwards if this module started it. The workflow runs with a profile derived
from ``profiles/slurm/profile.yaml``: only the site placeholders (account, partition, GPU model) and the
sizes a 2-core test node can hold are replaced, plus a 2 s first status check. The node offers two counted
"fake" GPUs, so the profile's ``--gpus=<model>:1`` requests are scheduled for real.

Needs root and apt-get (or SLURM already installed): elsewhere the module is skipped with the reason.
Every snakemake call runs under a hard timeout: its whole process group is SIGKILLed at the deadline
($FINDEVAL_SLURM_TEST_TIMEOUT seconds, default 420). The workflows run at the same time: the tiny pipeline
through SLURM and locally, a failing one, and two of grouped sweeps (runtime granularity chain, group 2: one sbatch
job per sweep, one GPU, 2 networks), through SLURM and locally.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SNAKEFILE, TINY, read_yaml, write_config

pytestmark = pytest.mark.slow

CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
PROFILE = REPO / "profiles" / "slurm" / "profile.yaml"
TARGET = "results/tiny/figures/fig2.pdf"


def skip_reason() -> str | None:
    if os.name != "posix" or os.geteuid() != 0:
        return "needs root to install and start a local SLURM cluster (munge, slurmd, /etc/slurm)"
    if not shutil.which("apt-get") and not shutil.which("slurmctld"):
        return "needs apt-get (Debian/Ubuntu) to install SLURM, or SLURM installed"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install -r requirements.txt)"
    return None


@pytest.fixture(scope="module")
def cluster():
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    was_up = subprocess.run(["bash", str(CLUSTER), "status"], capture_output=True).returncode == 0
    r = subprocess.run(["bash", str(CLUSTER), "start"], capture_output=True, text=True, timeout=420)
    if r.returncode:
        pytest.fail(f"starting the local SLURM cluster failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    yield
    if not was_up:
        subprocess.run(["bash", str(CLUSTER), "stop"], capture_output=True, timeout=180)


def test_profile(dest: Path) -> Path:
    """profiles/slurm with the test cluster's site values; returns the profile folder."""
    profile = read_yaml(PROFILE)
    profile["default-resources"].update(slurm_account="testacct", slurm_partition="debug", mem_mb=1000)
    for resources in profile["set-resources"].values():
        if "gpu_model" in resources:
            resources["gpu_model"] = "fake"
        if resources.get("slurm_partition") == "<cpu-partition>":  # structured_speed: no GPU
            resources["slurm_partition"] = "debug"
            continue
        resources["cpus_per_gpu"] = 1  # 2 CPUs on the test node
        resources["mem_mb"] = "1000 * attempt"
    profile["set-threads"] = {rule: 1 for rule in profile["set-threads"]}
    profile.update({"slurm-init-seconds-before-status-checks": 2, "latency-wait": 5, "local-cores": 2})
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / "profile.yaml", "w") as fh:
        yaml.safe_dump(profile, fh, sort_keys=False)
    return dest


test_profile.__test__ = False  # a helper, not a test


def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    return [
        sys.executable, "-m", "snakemake",
        "-s", str(SNAKEFILE),
        "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"),
        *args,
    ]


class Run:
    """A snakemake process started in the background, in its own session, killed at its deadline."""

    def __init__(self, workdir: Path, cmd: list[str], timeout: float):
        self.workdir, self.timeout = workdir, timeout
        self.out = open(workdir / "snakemake.out", "w+")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, cwd=workdir, stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True, text=True)
        self.returncode = None
        self.elapsed = None
        self.log = ""

    def wait(self) -> "Run":
        if self.returncode is None:
            try:
                self.returncode = self.proc.wait(timeout=max(1.0, self.t0 + self.timeout - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                self.returncode = "timeout"
            self.elapsed = time.monotonic() - self.t0
            self.out.seek(0)
            self.log = self.out.read()
            self.out.close()
        return self


def config_in(workdir: Path, **changes) -> Path:
    workdir.mkdir(parents=True)
    config = read_yaml(TINY)
    config.update(changes)
    write_config(workdir, config)
    return workdir


#: Hard limit of each workflow (seconds). About 2 minutes on an idle 2-core machine; raise it on a loaded one.
TIMEOUT = float(os.environ.get("FINDEVAL_SLURM_TEST_TIMEOUT", 420))
FAIL_TARGET = "results/tinyfail/find/lr0.1_bs128_wd5e-4/seed0/level0/metrics.json"
#: Several trainings per GPU (issue 15 item 2): every evaluation sweep one job that trains G networks at once.
GROUP = 2
GROUPED_RUNTIME = {"granularity": "chain", "group": GROUP}
HSLUG = "lr0.1_bs128_wd5e-4"
#: Two sweeps of the tiny config's 2 levels (a lottery source, which needs its find chain, and the random baseline)
GROUPED_SWEEPS = {"lottery": f"results/tiny/eval/lottery/{HSLUG}/{HSLUG}/seed0",
                  "global_random": f"results/tiny/eval/global_random/{HSLUG}/seed0"}
GROUPED_TARGETS = [f"{d}/level2/metrics.json" for d in GROUPED_SWEEPS.values()]


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """Three workflows at once (the SLURM ones mostly wait on polling): the tiny pipeline through SLURM, the
    same locally, and a SLURM run whose training job fails (runtime.device cuda on a node without CUDA)."""
    import torch

    base = tmp_path_factory.mktemp("slurm").resolve()
    since = now_for_sacct()
    started = {}
    slurm = config_in(base / "slurm")
    started["slurm"] = Run(slurm, snakemake_cmd(slurm, "--workflow-profile", str(test_profile(slurm / "profile")),
                                                TARGET), timeout=TIMEOUT)
    local = config_in(base / "local")
    started["local"] = Run(local, snakemake_cmd(local, "--cores", "2", TARGET), timeout=TIMEOUT)
    if not torch.cuda.is_available():
        fail = config_in(base / "fail", experiment="tinyfail", runtime={"device": "cuda", "granularity": "level"})
        started["fail"] = Run(fail, snakemake_cmd(fail, "--workflow-profile", str(test_profile(fail / "profile")),
                                                  FAIL_TARGET), timeout=TIMEOUT)
    gslurm = config_in(base / "grouped_slurm", runtime=GROUPED_RUNTIME)
    started["grouped_slurm"] = Run(gslurm, snakemake_cmd(gslurm, "--workflow-profile",
                                                         str(test_profile(gslurm / "profile")), *GROUPED_TARGETS),
                                   timeout=TIMEOUT)
    glocal = config_in(base / "grouped_local", runtime=GROUPED_RUNTIME)
    started["grouped_local"] = Run(glocal, snakemake_cmd(glocal, "--cores", "2", *GROUPED_TARGETS), timeout=TIMEOUT)
    return {"since": since, **{k: r.wait() for k, r in started.items()}}


def sacct_jobs(workdir: Path, since: str, expected: int, wait: float = 20) -> list[dict]:
    """This workflow's SLURM jobs (by working directory), once ``expected`` of them are recorded."""
    fields = ["JobID", "JobName", "State", "Timelimit", "AllocTRES", "WorkDir", "Comment"]
    jobs = []
    deadline = time.monotonic() + wait
    while True:
        r = subprocess.run(
            ["sacct", "-X", "-P", "-n", "-S", since, "-o", ",".join(f"{f}%400" for f in fields)],
            capture_output=True, text=True, timeout=30,
        )
        assert r.returncode == 0, r.stderr
        rows = [dict(zip(fields, line.split("|"))) for line in r.stdout.splitlines() if line.strip()]
        jobs = [j for j in rows if Path(j["WorkDir"]) == workdir]
        if len(jobs) >= expected or time.monotonic() > deadline:
            return jobs
        time.sleep(1)


def rule_of(job: dict) -> str:
    """The rule name the plugin writes into the comment: rule_<name>_wildcards_<values>."""
    comment = job["Comment"]
    assert comment.startswith("rule_"), job
    return comment[len("rule_"):].partition("_wildcards_")[0]


def read_masks(root: Path) -> dict:
    import h5py
    import numpy as np

    masks = {}
    for path in sorted(root.glob("results/*/**/mask.h5")):
        with h5py.File(path) as f:
            masks[str(path.relative_to(root))] = {k: np.asarray(f[k][()]) for k in f.keys()}
    return masks


def read_accuracies(root: Path) -> dict:
    out = {}
    for path in sorted(root.glob("results/*/**/metrics.json")):
        m = json.loads(path.read_text())
        out[str(path.relative_to(root))] = (m["test_accuracy"], m["test_loss"], m["train_loss"])
    return out


def now_for_sacct() -> str:
    return (dt.datetime.now() - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")


def test_tiny_pipeline_on_slurm_equals_a_local_run(runs):
    run, local = runs["slurm"], runs["local"]
    assert run.returncode == 0, f"SLURM run: {run.returncode} after {run.elapsed:.0f}s\n{run.log[-30000:]}"
    assert local.returncode == 0, f"local run: {local.returncode} after {local.elapsed:.0f}s\n{local.log[-30000:]}"
    slurm_dir, local_dir = run.workdir, local.workdir
    assert (slurm_dir / TARGET).stat().st_size > 0
    assert "has been submitted with SLURM jobid" in run.log

    # every training job, and only those, went through sbatch, each with one GPU and the profile's runtime
    n_find = len(list(slurm_dir.glob("results/*/find/*/seed*/level*/metrics.json")))
    n_eval = len(list(slurm_dir.glob("results/*/eval/**/metrics.json")))
    assert n_find and n_eval
    jobs = sacct_jobs(slurm_dir, runs["since"], n_find + n_eval)
    rules = [rule_of(j) for j in jobs]
    assert sorted(rules) == sorted(["train_find"] * n_find + ["train_eval"] * n_eval), jobs
    assert {j["State"] for j in jobs} == {"COMPLETED"}, jobs
    assert all("gres/gpu=1" in j["AllocTRES"] for j in jobs), jobs
    assert {j["Timelimit"] for j in jobs} == {"03:00:00"}, jobs  # runtime "180 * attempt", attempt 1
    for cheap in ("prepare_data", "init", "prune", "rewind", "global_random_mask", "preserve_lpr_mask"):
        assert f"localrule {cheap}:" in run.log  # run on the submit host, not queued

    # the same config run locally gives the same masks and the same test accuracies
    slurm_masks, local_masks = read_masks(slurm_dir), read_masks(local_dir)
    assert slurm_masks and sorted(slurm_masks) == sorted(local_masks)
    for name, arrays in slurm_masks.items():
        assert sorted(arrays) == sorted(local_masks[name]), name
        for key, value in arrays.items():
            assert (value == local_masks[name][key]).all(), f"{name}:{key} differs"
    slurm_acc, local_acc = read_accuracies(slurm_dir), read_accuracies(local_dir)
    assert len(slurm_acc) == n_find + n_eval
    assert slurm_acc == local_acc


#: metrics.json keys that are timings (they differ between any two runs)
TIMINGS = {"train_time_s", "wall_time_s", "group_train_time_s"}


def without_timings(metrics: dict) -> dict:
    out = {k: v for k, v in metrics.items() if k not in TIMINGS}
    out["history"] = [{k: v for k, v in row.items() if k != "time_s"} for row in metrics["history"]]
    return out


def test_grouped_sweeps_on_slurm_one_job_per_gpu_equal_a_local_run(runs):
    """runtime {granularity: chain, group: 2} through profiles/slurm: each evaluation sweep goes out as ONE sbatch
    job with one GPU and the training block's runtime, whose process trains the sweep's 2 levels together as one
    grouped network (metrics.json: group_size 2 and one shared group time); the find chain is one job too, not
    grouped. Every output equals a local run of the same config (masks bit for bit, metrics but their timings)."""
    run, local = runs["grouped_slurm"], runs["grouped_local"]
    assert run.returncode == 0, f"SLURM run: {run.returncode} after {run.elapsed:.0f}s\n{run.log[-30000:]}"
    assert local.returncode == 0, f"local run: {local.returncode} after {local.elapsed:.0f}s\n{local.log[-30000:]}"
    d = run.workdir
    jobs = sacct_jobs(d, runs["since"], 1 + len(GROUPED_SWEEPS))
    assert sorted(rule_of(j) for j in jobs) == ["eval_sweep"] * len(GROUPED_SWEEPS) + ["find_chain"], jobs
    assert {j["State"] for j in jobs} == {"COMPLETED"}, jobs
    assert all("gres/gpu=1" in j["AllocTRES"] for j in jobs), jobs  # one GPU per job, whatever G
    assert {j["Timelimit"] for j in jobs} == {"03:00:00"}, jobs  # the training block's "180 * attempt"
    sweep_jobs = [j for j in jobs if rule_of(j) == "eval_sweep"]
    for source in GROUPED_SWEEPS:  # one sbatch job per sweep (not per level)
        assert sum(f"_{source}" in j["Comment"] for j in sweep_jobs) == 1, (source, sweep_jobs)
    for source, sweep in GROUPED_SWEEPS.items():
        records = [json.loads((d / sweep / f"level{lv}" / "metrics.json").read_text()) for lv in (1, 2)]
        assert [r["group_size"] for r in records] == [GROUP, GROUP], source
        assert len({r["train_time_s"] for r in records}) == 1, source  # each the group's time / G: trained at once
        assert [r["level"] for r in records] == [1, 2] and not any(r["diverged"] for r in records), source
        log = (d / "results/tiny/logs/eval_sweep" / Path(sweep).relative_to("results/tiny/eval")).with_suffix(".log")
        assert "level 1/2" in log.read_text() and "level 2/2" in log.read_text(), log
    find = json.loads((d / f"results/tiny/find/{HSLUG}/seed0/level1/metrics.json").read_text())
    assert "group_size" not in find  # find chains are never grouped
    for cheap in ("prepare_data", "init", "global_random_masks"):
        assert f"localrule {cheap}:" in run.log

    masks, local_masks = read_masks(d), read_masks(local.workdir)
    assert masks and sorted(masks) == sorted(local_masks)
    for name, arrays in masks.items():
        other = local_masks[name]
        assert sorted(arrays) == sorted(other) and all((v == other[k]).all() for k, v in arrays.items()), name
    mine = sorted(p.relative_to(d) for p in d.glob("results/*/**/metrics.json"))
    assert mine == sorted(p.relative_to(local.workdir) for p in local.workdir.glob("results/*/**/metrics.json"))
    assert len(mine) == 3 + 2 * len(GROUPED_SWEEPS)  # find levels 0-2, and each sweep's levels 1-2
    for rel in mine:
        a, b = (json.loads((w / rel).read_text()) for w in (d, local.workdir))
        assert without_timings(a) == without_timings(b), rel


def test_failing_job_fails_the_workflow_after_one_retry(runs):
    """A training job that raises ends the workflow with an error (not a hang), after the profile's one
    retry with twice the runtime."""
    if "fail" not in runs:
        pytest.skip("this machine has CUDA: runtime.device=cuda would not fail")
    run = runs["fail"]
    assert run.returncode not in (0, "timeout"), f"{run.returncode} after {run.elapsed:.0f}s\n{run.log[-30000:]}"
    assert not (run.workdir / FAIL_TARGET).exists()
    assert "FAILED" in run.log and "train_find" in run.log
    slurm_logs = "".join(p.read_text(errors="replace") for p in run.workdir.glob(".snakemake/slurm_logs/**/*.log"))
    assert "runtime.device is 'cuda' but no CUDA device is available" in slurm_logs + run.log

    jobs = sacct_jobs(run.workdir, runs["since"], 2)
    assert [rule_of(j) for j in jobs] == ["train_find", "train_find"], jobs
    assert [j["State"] for j in jobs] == ["FAILED", "FAILED"], jobs
    assert [j["Timelimit"] for j in jobs] == ["03:00:00", "06:00:00"], jobs  # runtime grows with attempt


def test_skipped_with_a_reason_without_root_or_apt(monkeypatch):
    """Where the cluster cannot be started, the module says why (pytest -rs shows it) instead of failing."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "needs root" in skip_reason()
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert "apt-get" in skip_reason()
