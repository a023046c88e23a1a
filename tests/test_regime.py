"""The regime table (findeval.regime, rule regime): numbers against hand computations and against the code that
trains (training.train's step count and LR, data.prepare's digits split, models.build's convolutions, masks'
per-level counts), the paper's rows, far_from_paper's rule, and the rule on the tiny config and every preset."""

from __future__ import annotations

import copy
import csv
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, SNAKEFILE, read_yaml, snakemake, validated, write_config
from findeval import regime

PRESETS = sorted((REPO / "config").glob("*.yaml"))


def row_of(rows, **h):
    [row] = [r for r in rows if all(r[k] == v for k, v in h.items())]
    return row


def test_imports_without_torch_or_numpy():
    code = "import sys; import findeval.regime; print('torch' in sys.modules, 'numpy' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("test_fraction", [0.2, 0.1, 0.25, 0.5])
def test_digits_sizes_are_what_prepare_splits(test_fraction):
    from findeval import data

    x, y = data.load_digits_arrays()
    assert tuple(np.bincount(y)) == regime.DIGITS_CLASS_COUNTS
    tr, te = data.stratified_split(y, test_fraction, 0)
    sizes = regime.dataset_sizes({"name": "digits", "test_fraction": test_fraction})
    assert (sizes["n_train"], sizes["n_test"]) == (len(tr), len(te))
    if test_fraction == 0.2:
        assert (len(tr), len(te)) == (1438, 359)  # config.yaml's comment


def test_steps_per_epoch_by_hand():
    assert regime.steps_per_epoch(1438, 64) == 23      # 22 full batches + 30 images
    assert regime.steps_per_epoch(1438, 16) == 90      # 89 + 14
    assert regime.steps_per_epoch(1438, 256) == 6      # 5 + 158
    assert regime.steps_per_epoch(1438, 1437) == 1     # a last batch of one image is dropped
    assert regime.steps_per_epoch(1438, 4096) == 1     # bs = min(batch_size, n)
    assert regime.steps_per_epoch(100_000, 512) == 196


def test_steps_and_lr_are_what_train_uses():
    """A real (tiny) training: train() reports the same steps per epoch, and its last LR is regime's factor."""
    import torch

    from findeval import models, training
    from findeval.data import Data
    from findeval.hparams import H

    n = 9  # batch 4: 2 full batches, a last batch of one image dropped
    g = torch.Generator().manual_seed(0)
    d = Data(torch.randint(0, 255, (n, 1, 4, 4), dtype=torch.uint8, generator=g), torch.arange(n) % 2,
             torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]), torch.tensor([0.5]),
             torch.tensor([0.25]), 2)
    block = {"epochs": 3, "milestones": [1, 2], "gamma": 0.5, "warmup_iters": 3}
    model = models.init_model({"name": "resnet_cifar", "depth": 8, "width": 1, "num_classes": 2,
                               "in_channels": 1}, 0)
    h = H(0.1, 4, 1e-3)
    out = training.train(model, d, h, training.Schedule.from_config(block), data_seed=0,
                         augment=training.Augment(enabled=False))
    assert out["iterations_per_epoch"] == regime.steps_per_epoch(n, 4) == 2
    lrs = [row["lr"] for row in out["history"]]
    expected = [h.lr * regime.lr_factor(e, 1, 2, epochs=3, milestones=(1, 2), gamma=0.5, warmup_iters=3)
                for e in range(3)]
    assert lrs == expected  # bit for bit
    # and the same factors through Schedule.lr_factor for a cosine schedule with warmup
    s = training.Schedule(epochs=4, schedule="cosine", warmup_iters=5)
    assert [s.lr_factor(e, i, 3) for e in range(4) for i in range(3)] == [
        regime.lr_factor(e, i, 3, epochs=4, schedule="cosine", warmup_iters=5) for e in range(4) for i in range(3)]


def test_integrated_lr_by_hand():
    # 4 epochs of 3 steps, x0.5 at epochs 1 and 3: 3 * (1 + 0.5 + 0.5 + 0.25) = 6.75
    multistep = {"epochs": 4, "milestones": [1, 3], "gamma": 0.5}
    assert regime.factor_sum(multistep, 3) == pytest.approx(6.75, abs=1e-12)
    # warmup over 4 steps: the first three steps at 1/4, 2/4, 3/4, the fourth (epoch 1) at 1 * 0.5
    assert regime.factor_sum({**multistep, "warmup_iters": 4}, 3) == pytest.approx(1.5 + 1.5 + 1.5 + 0.75)
    # cosine, 1 epoch of 2 steps: factors 1 and 0.5 (1 + cos(pi/2)) / 2
    assert regime.factor_sum({"epochs": 1, "schedule": "cosine"}, 2) == pytest.approx(1.5)
    config = {"dataset": {"name": "digits"}, "model": {"name": "resnet_cifar", "depth": 8, "width": 1},
              "training": multistep, "defaults": {"lr": 0.2, "batch_size": 480, "weight_decay": 0.01},
              "grids": {d: {"find": [v], "eval": [v]} for d, v in (("lr", 0.2), ("batch_size", 480),
                                                                 ("weight_decay", 0.01))},
              "pruning": {"fraction": 0.5, "levels": 1}}
    [row] = regime.table(config, paper=False)
    assert (row["steps_per_epoch"], row["total_steps"]) == (3, 12)    # 1438 / 480: 2 full + 478
    assert row["integrated_lr"] == pytest.approx(0.2 * 6.75)
    assert row["integrated_decay"] == pytest.approx(0.2 * 0.01 * 6.75)
    assert row["eta_lambda_T"] == pytest.approx(0.2 * 0.01 * 12)
    # width 1: 9 + 2 * 9 + (18 + 36 + 2) + (72 + 144 + 8) = 307 weights; one level prunes round_half_up(153.5)
    assert row["prunable"] == 307 and row["final_sparsity"] == 154 / 307 and row["grids"].startswith("default")


def test_default_config(main_config):
    rows = regime.table(main_config, paper=False)
    from findeval.a1 import plan

    hs = {h.slug for h in plan.find_hs(main_config)}
    hs |= {plan.default_h(main_config).replace(**{d: v}).slug for d in main_config["grids"]
           for v in main_config["grids"][d]["eval"]}
    assert sorted(r["h"] for r in rows) == sorted(hs)  # every H of the grids, once
    lr = main_config["defaults"]["lr"]
    d = row_of(rows, lr=lr, batch_size=main_config["defaults"]["batch_size"],
               weight_decay=main_config["defaults"]["weight_decay"])
    n_test = regime.dataset_sizes(main_config["dataset"])["n_test"]
    assert d["accuracy_step_pp"] == pytest.approx(100 / n_test)
    tr = main_config["training"]
    # by hand: the factor of each epoch, times the steps per epoch
    per_epoch = sum(tr["gamma"] ** sum(e >= m for m in tr["milestones"]) for e in range(tr["epochs"]))
    assert d["integrated_lr"] == pytest.approx(lr * d["steps_per_epoch"] * per_epoch)
    assert d["total_steps"] == d["steps_per_epoch"] * tr["epochs"]


def test_default_numbers_the_issue_quotes():
    """Issue 12 measured the default of its day: 23 steps per epoch, 276 steps, eta*lambda*T 0.003 / 0.014 / 0.069."""
    config = validated(read_yaml(REPO / "config.yaml"))
    config.update(dataset={"name": "digits", "test_fraction": 0.2}, training={"epochs": 12, "milestones": [7, 9, 11]},
                  defaults={"lr": 0.1, "batch_size": 64, "weight_decay": 5e-4})
    config["grids"] = {"lr": {"find": [0.02, 0.1, 0.5], "eval": [0.02, 0.1, 0.5]},
                       "batch_size": {"find": [64], "eval": [64]}, "weight_decay": {"find": [5e-4], "eval": [5e-4]}}
    rows = regime.table(config, paper=False)
    assert [r["steps_per_epoch"] for r in rows] == [23] * 3 and rows[0]["total_steps"] == 276
    assert [round(r["eta_lambda_T"], 3) for r in rows] == [0.003, 0.014, 0.069]
    reasons = regime.far_from_paper(config)
    assert any("LR grid" in r and "16.8x smaller" in r for r in reasons), reasons


def test_paper_rows():
    rows = [r for r in regime.table(regime.PAPER) if r["source"] == "paper"]
    lr_rows = [row_of(rows, lr=lr, batch_size=512, weight_decay=1e-4) for lr in (0.05, 0.2, 0.5)]
    assert {r["steps_per_epoch"] for r in lr_rows} == {196} and lr_rows[0]["total_steps"] == 21_560
    # the issue's 0.11 / 0.43 / 1.07 count 195 steps per epoch (21,450); train() counts the partial batch
    assert [round(r["eta_lambda_T"] * 195 / 196, 2) for r in lr_rows] == [0.11, 0.43, 1.07]
    assert [r["eta_lambda_T"] for r in lr_rows] == pytest.approx([0.11, 0.43, 1.07], rel=0.02)
    # multistep x0.2 at 70/85/100: 70 + 15 * 0.2 + 15 * 0.04 + 10 * 0.008 = 73.68 epochs at the full LR
    assert lr_rows[1]["integrated_lr"] == pytest.approx(0.2 * 196 * 73.68)
    assert lr_rows[0]["final_sparsity"] == pytest.approx(1 - 0.8 ** 30, abs=1e-6)
    assert (lr_rows[0]["n_train"], lr_rows[0]["n_test"], lr_rows[0]["accuracy_step_pp"]) == (100_000, 10_000, 0.01)
    assert len(rows) == 7  # default + 2 more of each grid
    assert regime.far_from_paper(regime.PAPER) == []


@pytest.mark.parametrize("spec", [
    {"name": "resnet_cifar", "depth": 8, "width": 4, "in_channels": 1},
    {"name": "resnet_cifar", "depth": 14, "width": 3, "in_channels": 3},
    {"name": "resnet18", "width": 4, "in_channels": 3},
    {"name": "resnet50", "width": 4, "in_channels": 3},
], ids=lambda s: f"{s['name']}-{s.get('depth', '')}-w{s['width']}")
def test_conv_shapes_are_the_models(spec):
    from findeval import models

    model = models.build({**spec, "num_classes": 10})
    state = model.state_dict()
    expected = [(n, tuple(state[n].shape)) for n in models.prunable_names(model)]
    model_spec = {k: v for k, v in spec.items() if k != "in_channels"}
    assert regime.conv_shapes(model_spec, spec["in_channels"]) == expected
    config = {"dataset": {"name": "digits" if spec["in_channels"] == 1 else "cifar10"}, "model": model_spec,
              "pruning": {"fraction": 0.2, "levels": 3}}
    layers = regime.layer_rows(config)
    assert sum(r["prunable"] for r in layers) == models.count_parameters(model)["prunable"]


def test_pruning_counts_are_the_masks():
    from findeval import masks

    for total, p, levels in ((4804, 0.2, 14), (23_447_232, 0.2, 30), (1001, 0.5, 9), (37, 0.3, 5)):
        assert regime.kept_schedule(total, p, levels) == masks.kept_schedule(total, p, levels)


def test_layer_rows_with_a_real_mask(tmp_path, main_config):
    from findeval import masks

    config = {**main_config, "pruning": {"fraction": 0.5, "levels": 1}}
    shapes = regime.conv_shapes(config["model"], 1)
    rng = np.random.default_rng(0)
    mask = {n: rng.random(s) < 0.3 for n, s in shapes}
    path = tmp_path / "mask.h5"
    masks.save_mask(path, mask, kind="lottery", level=1, seed=0)
    kept = regime.mask_kept(str(path))
    rows = regime.layer_rows(config, mask=kept)
    assert [r["kept_mask"] for r in rows] == [int(m.sum()) for m in mask.values()]
    assert sum(r["kept_uniform"] for r in rows) == pytest.approx(sum(r["prunable"] for r in rows) / 2, abs=len(rows))
    with pytest.raises(ValueError, match="layers"):
        regime.layer_rows(config, mask={"conv1.weight": 3})


def test_far_from_paper_rule():
    close = copy.deepcopy(regime.PAPER)
    assert regime.far_from_paper(close) == []
    # 2.9x more decay everywhere: still close; 3.1x: the LR and BS and WD spans are flagged
    close["defaults"]["weight_decay"] = 2.9e-4
    close["grids"]["weight_decay"] = {"find": [5.8e-5, 2.9e-4, 1.45e-3], "eval": [5.8e-5, 2.9e-4, 1.45e-3]}
    assert regime.far_from_paper(close) == []
    far = copy.deepcopy(close)
    far["defaults"]["weight_decay"] = 3.1e-4
    far["grids"]["weight_decay"] = {"find": [6.2e-5, 3.1e-4, 1.55e-3], "eval": [6.2e-5, 3.1e-4, 1.55e-3]}
    reasons = regime.far_from_paper(far)
    assert len(reasons) == 3 and all("3.1x the paper's" in r for r in reasons), reasons
    # sparsity: 20 levels keep 1.15% (9.3x the paper's 0.12%); 28 keep 0.19% (1.6x): close
    few = copy.deepcopy(regime.PAPER)
    few["pruning"]["levels"] = 20
    assert [r for r in regime.far_from_paper(few) if r.startswith("sparsity range")]
    few["pruning"]["levels"] = 28
    assert regime.far_from_paper(few) == []
    # a dimension the config does not vary is far only outside the paper's span by > 3x
    one = copy.deepcopy(regime.PAPER)
    one["grids"]["batch_size"] = {"find": [512], "eval": [512]}
    one["grids"]["weight_decay"] = {"find": [1e-4], "eval": [1e-4]}
    assert regime.far_from_paper(one) == []
    one["grids"]["batch_size"] = {"find": [4096], "eval": [4096]}   # 25 steps/epoch: 0.0369, 3.9x below 0.144
    assert [r for r in regime.far_from_paper(one) if "one BS value" in r and "3.9" in r]
    # the test set: 179 digits (0.56 pp per image) is tiny, 359 (0.28 pp) is not
    digits = copy.deepcopy(regime.PAPER)
    digits["dataset"] = {"name": "digits", "test_fraction": 0.1}
    assert any(r.startswith("tiny test set: 179 images") for r in regime.far_from_paper(digits))
    digits["dataset"]["test_fraction"] = 0.2
    assert not any(r.startswith("tiny test set") for r in regime.far_from_paper(digits))


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_rule_on_the_tiny_config(tmp_path, tiny_raw):
    write_config(tmp_path, tiny_raw)
    snakemake(tmp_path, "results/tiny/regime.csv")
    rows = read_csv(tmp_path / "results/tiny/regime.csv")
    config = validated(tiny_raw)
    expected = regime.table(config)
    assert [r["h"] for r in rows] == [r["h"] for r in expected] and list(rows[0]) == list(regime.COLUMNS)
    assert [float(r["integrated_decay"]) for r in rows] == [r["integrated_decay"] for r in expected]
    assert {r["source"] for r in rows} == {"config", "paper"}
    layers = read_csv(tmp_path / "results/tiny/regime_layers.csv")
    assert sum(int(r["prunable"]) for r in layers if r["source"] == "config") == 4804
    log = (tmp_path / "results/tiny/logs/regime.log").read_text()
    assert "lr0.05_bs128_wd5e-4" in log and "layer3.0.conv2.weight" in log
    for reason in regime.far_from_paper(config):
        assert reason in log


def regime_run(preset: Path, workdir: Path) -> subprocess.CompletedProcess:
    """The regime tables of every experiment of ``preset``, with no dataset present (an empty folder of the
    standard layout stands in for dataset.root: the parse-time check looks for it)."""
    from test_presets import dataset_folder

    config = read_yaml(preset)
    dataset_folder(config["dataset"]["name"], workdir / Path(config["dataset"]["root"]).parent)
    names = [config["experiment"]] + [v.get("experiment") for v in (config.get("other_models") or {}).values()]
    targets = sorted({f"results/{n}/regime.csv" for n in names if n})
    cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir),
           "--configfile", str(preset), "--cores", "1", *targets]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=workdir), targets


def test_rule_on_every_preset_without_its_data(tmp_path_factory):
    dirs = {p.stem: tmp_path_factory.mktemp(p.stem) for p in PRESETS}
    with ThreadPoolExecutor(2) as pool:
        runs = {p.stem: pool.submit(regime_run, p, dirs[p.stem]) for p in PRESETS}
        runs = {k: f.result() for k, f in runs.items()}
    for name, (r, targets) in runs.items():
        assert r.returncode == 0, f"{name}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        config = validated(read_yaml(REPO / "config" / f"{name}.yaml"))
        for target in targets:
            rows = read_csv(dirs[name] / target)
            assert rows and {r["source"] for r in rows} == {"config", "paper"}, target
        main = read_csv(dirs[name] / f"results/{config['experiment']}/regime.csv")
        assert [r["h"] for r in main if r["source"] == "config"] == [r["h"] for r in regime.table(config, paper=False)]
        assert not list(dirs[name].glob("results/*/dataset.npz"))  # nothing was prepared
