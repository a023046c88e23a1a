"""Shared helpers of the findeval test suite.

Everything is located from this file (never from a hard-coded checkout path), Snakemake is always run as
``python -m snakemake`` of the interpreter running pytest, with a hard timeout, and torch stays on one
thread so the suite is light and deterministic on small machines.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
SCHEMA = REPO / "schemas" / "config.schema.yaml"
TEST_DATA = Path(__file__).resolve().parent / "data"
TINY = TEST_DATA / "tiny.yaml"

# keep every process of the suite (and the jobs Snakemake starts) on one BLAS/OpenMP thread
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def pytest_configure(config):
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a requirement
        pass


# --------------------------------------------------------------------------- configs


def read_yaml(path) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def validated(config: dict) -> dict:
    """A deep copy of ``config`` validated against the schema with its defaults filled in (as the Snakefile does)."""
    from findeval.workflow import validate_file

    config = copy.deepcopy(config)
    validate_file(config, str(SCHEMA))
    return config


@pytest.fixture
def tiny_raw() -> dict:
    return read_yaml(TINY)


@pytest.fixture
def tiny_config(tiny_raw) -> dict:
    return validated(tiny_raw)


@pytest.fixture(scope="session")
def main_config() -> dict:
    return validated(read_yaml(REPO / "config.yaml"))


def write_config(workdir: Path, config: dict) -> Path:
    path = Path(workdir) / "config.yaml"
    with open(path, "w") as fh:
        yaml.safe_dump(config, fh, sort_keys=False)
    return path


# --------------------------------------------------------------------------- snakemake CLI


def snakemake(workdir: Path, *args: str, timeout: float = 180, check: bool = True, cores: int = 1):
    """Run ``snakemake`` on the repository's Snakefile in ``workdir`` with ``workdir/config.yaml``.

    Returns the CompletedProcess; with ``check`` a non-zero exit fails the test with the full output.
    """
    cmd = [
        sys.executable, "-m", "snakemake",
        "-s", str(SNAKEFILE),
        "--directory", str(workdir),
        "--configfile", str(Path(workdir) / "config.yaml"),
        "--cores", str(cores),
        *args,
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=workdir)
    if check and r.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} exited {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}")
    return r


_JOB = re.compile(r"^(?:local)?rule (\w+):\s*$")
_WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")
_OUTPUT = re.compile(r"^\s+output: (.*)$")


class Job(dict):
    """One planned job: ``rule``, ``wildcards`` (dict) and ``output`` (list of paths)."""

    @property
    def rule(self):
        return self["rule"]

    @property
    def wildcards(self):
        return self["wildcards"]

    @property
    def output(self):
        return self["output"]


def planned_jobs(output: str) -> list[Job]:
    """Every job of a dry-run log: the ``rule NAME:`` / ``localrule NAME:`` blocks with their ``wildcards:``
    and ``output:`` lines."""
    jobs = []
    for line in output.splitlines():
        m = _JOB.match(line)
        if m:
            jobs.append(Job(rule=m.group(1), wildcards={}, output=[]))
            continue
        if not jobs:
            continue
        m = _WILDCARDS.match(line)
        if m:
            for part in m.group(1).split(", "):
                key, _, value = part.partition("=")
                jobs[-1]["wildcards"][key.strip()] = value.strip()
            continue
        m = _OUTPUT.match(line)
        if m:
            jobs[-1]["output"].extend(x.strip() for x in m.group(1).split(", ") if x.strip())
    return jobs


# --------------------------------------------------------------------------- the two granularity runs
# Real runs of tests/data/tiny.yaml in both runtime.granularity modes, once per test session: read by
# tests/test_granularity.py (level and chain agree) and tests/test_digest.py (both match a stored digest).

GRANULARITY_TARGETS = ("results/tiny/figures/fig2.pdf", "results/tiny/figures/fig7.pdf",
                       "results/tiny/figures/figA15.pdf")
TIMINGS = {"train_time_s", "wall_time_s"}


def tiny_granularity(granularity: str) -> dict:
    config = read_yaml(TINY)
    config["runtime"]["granularity"] = granularity
    return config


def result_files(wd: Path) -> dict:
    """The pipeline's data files (no logs or benchmark records), by path relative to results/."""
    root = Path(wd) / "results"
    return {str(p.relative_to(root)): p for p in root.rglob("*")
            if p.is_file() and p.suffix in {".pt", ".h5", ".json", ".npz", ".csv"}
            and not {"logs", "benchmarks"} & set(p.relative_to(root).parts)}


def without_timings(metrics: dict) -> dict:
    out = {k: v for k, v in metrics.items() if k not in TIMINGS}
    out["history"] = [{k: v for k, v in epoch.items() if k != "time_s"} for epoch in metrics.get("history", [])]
    return out


@pytest.fixture(scope="session")
def granularity_runs(tmp_path_factory):
    """``{"level": run, "chain": run}``, each ``{"wd", "log", "files"}`` (about a minute each on 2 cores)."""
    out = {}
    for granularity in ("level", "chain"):
        wd = tmp_path_factory.mktemp(granularity)
        write_config(wd, tiny_granularity(granularity))
        r = snakemake(wd, *GRANULARITY_TARGETS, cores=2, timeout=900)
        out[granularity] = {"wd": wd, "log": r.stdout + r.stderr, "files": result_files(wd)}
    return out


# --------------------------------------------------------------------------- the feature runs
# Real tiny runs of the analysis features, once per test session: early pruning and the LPR through training
# (fig9, figA18, figA19), the rewinding variants and the instability analysis (fig4, figA13, figA14), and the
# structured runs (fig5, figRethinking). Read by tests/test_early.py, test_rewinding.py and test_structured.py
# (their end-to-end checks) and by tests/test_digest.py (their outputs match tests/data/digest_features.json).

TINY_STRUCTURED = TEST_DATA / "tiny_structured.yaml"
EARLY_TARGETS = tuple(f"results/tiny/figures/{fig}.pdf" for fig in ("fig9", "figA18", "figA19"))
REWINDING_TARGETS = tuple(f"results/tiny/figures/{f}.{e}" for f in ("fig4", "figA13", "figA14") for e in ("pdf", "png"))
STRUCTURED_TARGETS = ("results/tiny/figures/fig5.pdf", "results/tiny/figures/figRethinking.pdf",
                      "results/tiny/structured/speed.csv", "results/tiny/structured/summary.csv")


def early_config() -> dict:
    """Three epochs, early pruning at epoch 1, one LR_find (H_find = H_eval: the convergence curve is the find
    chain itself), chain granularity."""
    raw = read_yaml(TINY)
    raw["training"] = {"epochs": 3, "milestones": [2], "gamma": 0.2}
    raw["early_pruning"] = {"epochs": [1], "lr_find": [0.1]}
    raw["runtime"] = {"granularity": "chain"}
    return raw


def rewinding_config() -> dict:
    """A one-level miniature of fig4, figA13 and figA14 (chain granularity)."""
    cfg = read_yaml(TINY)
    cfg["runtime"] = {"granularity": "chain"}
    cfg["pruning"]["levels"] = 1
    cfg["rewinding"] = {"lr_find": [0.1], "lr_eval": [0.2], "lr_rewind_eval": [0.2], "warmup_iters": 6}
    cfg["instability"] = {"alphas": 3}
    return cfg


def _feature_run(tmp_path_factory, name: str, config: dict, targets, *, cores: int, timeout: float) -> dict:
    wd = tmp_path_factory.mktemp(name)
    write_config(wd, config)
    r = snakemake(wd, *targets, cores=cores, timeout=timeout)
    return {"wd": wd, "log": r.stdout + r.stderr, "files": result_files(wd)}


@pytest.fixture(scope="session")
def early_run(tmp_path_factory):
    """``{"wd", "log", "files"}`` of the early-pruning figures on :func:`early_config` (read only: do not change
    its files)."""
    return _feature_run(tmp_path_factory, "early", early_config(), EARLY_TARGETS, cores=1, timeout=240)


@pytest.fixture(scope="session")
def rewinding_run(tmp_path_factory):
    """``{"wd", "log", "files"}`` of fig4, figA13 and figA14 on :func:`rewinding_config` (read only)."""
    return _feature_run(tmp_path_factory, "rewinding", rewinding_config(), REWINDING_TARGETS, cores=2, timeout=400)


@pytest.fixture(scope="session")
def structured_run(tmp_path_factory):
    """``{"wd", "log", "files"}`` of fig5, figRethinking, the speed table and the summary of
    tests/data/tiny_structured.yaml (read only)."""
    return _feature_run(tmp_path_factory, "structured", read_yaml(TINY_STRUCTURED), STRUCTURED_TARGETS, cores=2,
                        timeout=600)
