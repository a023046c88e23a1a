"""The paper's settings as presets (config/*.yaml, used with --configfile): they validate against the schema,
say what the paper says (A.1), and dry-run their whole DAG (every figure) with the dataset root pointed at a
folder of the standard layout. A preset replaces config.yaml rather than being merged into it."""

from __future__ import annotations

import copy
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import REPO, SNAKEFILE, read_yaml, validated
from findeval import plan
from findeval.workflow import ConfigError, check_config, dataset_ready

PRESETS = sorted((REPO / "config").glob("*.yaml"))
NAMES = [p.stem for p in PRESETS]

#: What A.1 and Section 2 state for each setting.
PAPER = {
    "resnet50-tinyimagenet": {"dataset": "tiny_imagenet", "model": "resnet50", "epochs": 110,
                              "milestones": [70, 85, 100], "gamma": 0.2},
    "resnet18-tinyimagenet": {"dataset": "tiny_imagenet", "model": "resnet18", "epochs": 110,
                              "milestones": [80, 100], "gamma": 0.1},
    "resnet50-miniplaces": {"dataset": "miniplaces", "model": "resnet50", "epochs": 120,
                            "milestones": [80, 110, 115], "gamma": 0.2},
}


def dataset_folder(name: str, root: Path) -> Path:
    """Empty files and folders in the standard layout: enough for the parse-time check (existence only)."""
    if name == "tiny_imagenet":
        base = root / "tiny-imagenet-200"
        dirs, files = ["train", "val/images"], ["wnids.txt", "val/val_annotations.txt"]
    else:
        base = root / "miniplaces"
        dirs, files = ["images/train", "images/val"], ["train.txt", "val.txt", "categories.txt"]
    for d in dirs:
        (base / d).mkdir(parents=True, exist_ok=True)
    for f in files:
        (base / f).touch()
    return base


def test_there_are_the_three_presets():
    assert set(PAPER) <= set(NAMES)


@pytest.mark.parametrize("path", PRESETS, ids=NAMES)
def test_preset_validates_and_has_the_paper_settings(path, tmp_path):
    raw = read_yaml(path)
    config = validated(raw)
    assert config["runtime"]["device"] == "auto"
    paper = PAPER.get(path.stem)
    if paper:
        assert config["dataset"]["name"] == paper["dataset"] and config["model"]["name"] == paper["model"]
        tr = config["training"]
        assert (tr["epochs"], tr["milestones"], tr["gamma"]) == (paper["epochs"], paper["milestones"],
                                                                paper["gamma"])
        assert tr["momentum"] == 0.9 and tr["schedule"] == "multistep"
        assert config["defaults"]["batch_size"] == 512 and config["defaults"]["weight_decay"] == 1e-4
        assert config["pruning"] == {"fraction": 0.2, "levels": 30}
        assert len(config["seeds"]) == 5
        assert config["dataset"]["augment"]["flip"] is True
    # the dataset root check: a clear error while the folder is missing, none once it has the layout
    missing = copy.deepcopy(config)
    missing["dataset"]["root"] = str(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="nowhere.*does not exist"):
        check_config(missing)
    config["dataset"]["root"] = str(dataset_folder(config["dataset"]["name"], tmp_path))
    check_config(config)


def test_resnet50_tinyimagenet_has_the_grids_of_figures_2_and_a2_a7():
    config = validated(read_yaml(REPO / "config" / "resnet50-tinyimagenet.yaml"))
    assert config["defaults"] == {"lr": 0.2, "batch_size": 512, "weight_decay": 1e-4}
    assert config["grids"] == {
        "lr": {"find": [0.05, 0.2, 0.5], "eval": [0.05, 0.2, 0.5]},
        "batch_size": {"find": [256, 512, 1024], "eval": [256, 512, 1024]},
        "weight_decay": {"find": [2e-5, 1e-4, 5e-4], "eval": [2e-5, 1e-4, 5e-4]},
    }
    # nine find-eval combinations per hyperparameter in Figs. A3, A5, A7
    for fig in ("figA3", "figA5", "figA7"):
        assert len(plan.figure_lines(config, fig)) == 9


def test_structured_settings_of_a1():
    config = validated(read_yaml(REPO / "config" / "resnet18-tinyimagenet.yaml"))
    s = config.get("structured")
    if s is None:
        pytest.skip("no structured block in the schema")
    tr = s["training"]
    assert (tr["epochs"], tr["schedule"], tr["warmup_epochs"], tr["nesterov"], tr["label_smoothing"]) == (
        200, "cosine", 5, True, 0.1)
    assert s["defaults"]["batch_size"] == 256 and s["defaults"]["weight_decay"] == 5e-5
    assert s["model"]["name"] == "resnet18"


def dry_run(preset: Path, workdir: Path) -> subprocess.CompletedProcess:
    """The whole DAG of ``preset`` as a user runs it: from a folder that also holds the default config.yaml."""
    config = read_yaml(preset)
    dataset_folder(config["dataset"]["name"], workdir / Path(config["dataset"]["root"]).parent)
    (workdir / "config.yaml").write_text((REPO / "config.yaml").read_text())
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir),
           "--configfile", str(preset), "-n", "--quiet", "rules", "--cores", "1"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=workdir)


def job_stats(output: str) -> dict:
    """The "Job stats" table of a dry run: {rule: count}."""
    lines = output[output.index("Job stats:"):].splitlines()[3:]
    counts = {}
    for line in lines:
        name, _, count = line.partition(" ")
        if name == "total" or not count.strip().isdigit():
            break
        counts[name] = int(count)
    return counts


@pytest.fixture(scope="module")
def dry_runs(tmp_path_factory):
    dirs = {p.stem: tmp_path_factory.mktemp(p.stem) for p in PRESETS}
    with ThreadPoolExecutor(2) as pool:
        futures = {p.stem: pool.submit(dry_run, p, dirs[p.stem]) for p in PRESETS}
        return {k: f.result() for k, f in futures.items()}


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_preset_dry_runs(dry_runs, name):
    r = dry_runs[name]
    assert r.returncode == 0, f"{r.stdout[-5000:]}\n{r.stderr[-5000:]}"
    counts = job_stats(r.stdout)
    config = validated(read_yaml(REPO / "config" / f"{name}.yaml"))
    n_h = len(plan.find_hs(config))
    levels, seeds = config["pruning"]["levels"], len(config["seeds"])
    # one find chain per H_find and seed (the LPR analyses may add find runs of their own)
    assert counts["prune"] >= n_h * seeds * levels and counts["train_find"] >= n_h * seeds * (levels + 1)
    # figA8/figA9's experiments (other_models) add theirs, once each, where their data folder is set
    ready = {fig: c for fig, c in plan.other_model_configs(config).items() if dataset_ready(c["dataset"])}
    names = {config["experiment"]} | {c["experiment"] for c in ready.values()}
    assert counts["prepare_data"] == len(names) and counts["init"] == seeds * len(names)
    for fig in (*plan.FIGURES, *ready):
        assert counts.get(fig) == 1, fig
    assert "Config file config.yaml is extended" not in r.stdout + r.stderr  # the preset replaced it
    # config.yaml's structured block (a digits miniature) must not leak into a preset without one
    assert any("structured" in rule for rule in counts) == ("structured" in config)
