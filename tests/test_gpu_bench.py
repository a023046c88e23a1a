"""benchmarks/gpu.py (the parts that benchmarks/gpu.sh runs) on the CPU: it imports, answers --help, refuses a
bad call, and its smallest part (chain: the pipeline's job functions, smoke sizes, digits) and the report run
as gpu.sh runs them (about 5 s of CPU)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

GPU = REPO / "benchmarks" / "gpu.py"
CPU_SMOKE = {"FINDEVAL_BENCH_DEVICE": "cpu", "FINDEVAL_BENCH_SMOKE": "1", "FINDEVAL_BENCH_CHAIN_DATA": "digits"}


def run(*args, env=None):
    return subprocess.run([sys.executable, str(GPU), *map(str, args)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": "", **(env or {})}, check=False)


def test_it_imports_without_running_anything(monkeypatch):
    monkeypatch.setenv("FINDEVAL_BENCH_DEVICE", "cpu")
    spec = importlib.util.spec_from_file_location("findeval_gpu_bench", GPU)
    gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu)
    assert gpu.PARTS == ("step", "chain", "epoch", "cudnn") and not gpu.CUDA
    assert gpu.f(1234.5) == "1,234" and gpu.pct(0.25) == "25.0%"


def test_help_and_usage():
    r = run("--help")
    assert r.returncode == 0 and "python benchmarks/gpu.py report WORK OUT" in r.stdout
    r = run("nonsense", "x")
    assert r.returncode == 2 and "usage" in r.stderr


@pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="the digits chain needs scikit-learn")
def test_chain_part_and_report_on_the_cpu(tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    r = run("chain", work, env=CPU_SMOKE)
    assert r.returncode == 0, r.stdout + r.stderr
    part = json.loads((work / "part_chain.json").read_text())
    assert part["done"] and not part["errors"], part["errors"]
    assert part["chain"]["ok"] and part["chain"]["pruned_nonzero_after_gpu_training"] == 0
    (work / "parts.tsv").write_text("chain 0 5\n")
    r = run("report", work, out, env=CPU_SMOKE)
    assert r.returncode == 0, r.stderr
    md = (out / "gpu_results.md").read_text()
    assert md.startswith("# findeval on one GPU (benchmarks/gpu.sh)") and "**SMOKE RUN" in md
    assert "| **all checks** | **PASS** |" in md and "chain rc=0 in 5 s" in md
    assert json.loads((out / "gpu_results.json").read_text())["parts"]["chain"]["chain"]["ok"]
