"""benchmarks/gpu.py (the parts that benchmarks/gpu.sh runs) on the CPU: it imports, answers --help, refuses a
bad call, and its smallest part (chain: the pipeline's job functions, smoke sizes, digits), the pack part (several
trainings per device: grouped and as processes, smoke sizes) and the report run as gpu.sh runs them (about 5 s of
CPU each); the pack section's arithmetic (ratios to today, targets met or not) on figures written by hand."""

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
    assert gpu.PARTS == ("step", "chain", "epoch", "cudnn", "pack") and not gpu.CUDA
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


def load_bench(monkeypatch):
    monkeypatch.setenv("FINDEVAL_BENCH_DEVICE", "cpu")
    spec = importlib.util.spec_from_file_location("findeval_gpu_bench", GPU)
    gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu)
    return gpu


def test_pack_part_and_report_on_the_cpu(tmp_path):
    """The pack part at smoke sizes (G = 1, 2): today's single training, G grouped networks in one process and G
    worker processes, for both models; every packed run trains G networks of the given images with the masks
    holding; the report has one row per model, packing and G, with the targets."""
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    r = run("pack", work, env=CPU_SMOKE)
    assert r.returncode == 0, r.stdout + r.stderr
    part = json.loads((work / "part_pack.json").read_text())
    assert part["done"] and not part["errors"], part["errors"]
    settings = part["pack_settings"]
    assert settings["groups"] == [1, 2] and settings["targets"] == {"resnet18": 2.0, "resnet50": 1.5}
    n = settings["images_per_network"]
    for name in ("resnet18", "resnet50"):
        res = part["pack"][name]
        assert res["single"]["network_ips"] > 0 and res["single"]["images_per_network"] == n
        assert res["single"]["busy"] is None and "CPU" in res["single"]["busy_note"]
        for strategy in ("grouped", "processes"):
            assert sorted(res[strategy]) == ["1", "2"], (name, strategy)
            for g, v in res[strategy].items():
                assert "error" not in v, (name, strategy, g, v)
                assert v["images_per_network"] == n and v["network_ips"] > 0, (name, strategy, g)
                assert v["pruned_nonzero"] == 0, (name, strategy, g)
                # wall_s is rounded to 0.1 ms: at smoke sizes (a few ms) that rounding alone exceeds 1e-3
                assert v["network_ips"] == pytest.approx(int(g) * n / v["wall_s"], rel=max(1e-3, 1e-4 / v["wall_s"]))
        assert len(res["processes"]["2"]["per_process_wall_s"]) == 2
    (work / "parts.tsv").write_text("pack 0 9\n")
    r = run("report", work, out, env=CPU_SMOKE)
    assert r.returncode == 0, r.stderr
    md = (out / "gpu_results.md").read_text()
    assert "## Issue 15 item 2: several trainings per GPU" in md and "pack rc=0 in 9 s" in md
    rows = [line for line in md.splitlines() if line.startswith(("| resnet18 |", "| resnet50 |"))]
    assert len(rows) == 2 * (1 + 2 * 2), rows
    assert sum("| 2.0x" in row for row in rows) == 5 and sum("| 1.5x" in row for row in rows) == 5
    assert any(line.startswith("- resnet18: best ") for line in md.splitlines())


def test_pack_report_ratios_and_targets(monkeypatch):
    """report_pack on figures written by hand: x today = network images/s over train()'s at G = 1, trainings per
    GPU-hour = 3600 x images/s / (110 x 100,000), a target met or not, an out-of-memory G shown as such."""
    gpu = load_bench(monkeypatch)
    assert gpu.trainings_per_gpu_hour(11000.0) == pytest.approx(3.6)
    pk = {"pack_settings": {"batch": 512, "images_per_network": 6144, "groups": [1, 2, 8], "image_size": 64,
                            "width": 64, "run": "110 epochs x 100000 images"},
          "pack": {"resnet18": {"single": {"network_ips": 11000.0, "busy": 0.9},
                                "grouped": {"2": {"network_ips": 24200.0, "busy": 0.97, "max_memory_gib": 30.0}},
                                "processes": {"2": {"network_ips": 12100.0}}},
                   "resnet50": {"single": {"network_ips": 4000.0},
                                "grouped": {"8": {"error": "out of memory"}},
                                "processes": {"2": {"network_ips": 5000.0}}}}}
    lines = gpu.report_pack(pk)
    rows = {tuple(c.strip() for c in line.split("|")[1:4]): line for line in lines if line.startswith("| resnet")}
    assert "| 2.2 | 2.0x met | 97.0% | 30 |" in rows[("resnet18", "grouped", "2")]
    assert "| 3.6 |" in rows[("resnet18", "today (train())", "1")]
    assert "| 1.1 | 2.0x not met |" in rows[("resnet18", "processes", "2")]
    assert "| 1.25 | 1.5x not met |" in rows[("resnet50", "processes", "2")]
    assert "out of memory" in rows[("resnet50", "grouped", "8")]
    assert "- resnet18: best grouped at G = 2: 2.2x today's trainings per GPU-hour (target 2.0x: met)." in lines
    assert "- resnet50: best processes at G = 2: 1.25x today's trainings per GPU-hour (target 1.5x: not met)." in lines
    assert gpu.report_pack({}) == ["## Issue 15 item 2: several trainings per GPU", "", "Not run (part pack).", ""]
