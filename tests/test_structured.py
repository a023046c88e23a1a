"""Structured pruning (Algorithm A2) and Rethinking's Scratch-E / Scratch-B: channel groups, the global cut,
the narrow network, FLOPs / parameter counts, the Scratch-B budget, the plan and a tiny end-to-end run."""

import copy
import csv
import json
import math

import pytest
import torch

from conftest import STRUCTURED_TARGETS, TEST_DATA, read_yaml, validated
from findeval import figures, models, regime
from findeval.hparams import H
from findeval.io import load_checkpoint
from findeval.structured import jobs as structured_jobs, plan as splan

TINY_STRUCTURED = TEST_DATA / "tiny_structured.yaml"


def spec(name="resnet_cifar", **kw):
    base = {"resnet_cifar": {"depth": 8, "width": 4}, "resnet18": {"width": 2}, "resnet50": {"width": 2}}[name]
    return {"name": name, **base, "in_channels": 3, "num_classes": 10, **kw}


def randomized(model, seed=0):
    """A state dict with random BN scales, shifts and running statistics (as after training)."""
    g = torch.Generator().manual_seed(seed)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            n = mod.num_features
            state[f"{name}.weight"] = torch.randn(n, generator=g)
            state[f"{name}.bias"] = torch.randn(n, generator=g)
            state[f"{name}.running_mean"] = 0.5 * torch.randn(n, generator=g)
            state[f"{name}.running_var"] = 0.5 + torch.rand(n, generator=g)
    return state


# --------------------------------------------------------------------------- channel groups


def test_groups_of_resnet_cifar():
    topo = structured_jobs.topology(models.build(spec(depth=14)))
    assert topo.groups["stream0"] == ("bn1", "layer1.0.bn2", "layer1.1.bn2")
    assert topo.groups["stream1"] == ("layer2.0.downsample.1", "layer2.0.bn2", "layer2.1.bn2")
    assert topo.groups["stream2"] == ("layer3.0.downsample.1", "layer3.0.bn2", "layer3.1.bn2")
    singles = [g for g, bns in topo.groups.items() if len(bns) == 1]
    assert sorted(singles) == sorted(f"layer{i}.{j}.bn1" for i in (1, 2, 3) for j in (0, 1))
    assert topo.fc_in == "stream2"
    assert topo.convs["layer2.0.conv1"] == ("stream0", "layer2.0.bn1")
    assert topo.convs["layer2.0.downsample.0"] == ("stream0", "layer2.0.downsample.1")
    assert topo.convs["layer2.0.conv2"] == ("layer2.0.bn1", "layer2.0.bn2")
    assert topo.convs["conv1"] == (None, "bn1")


def test_groups_of_resnet50_stem_is_not_residual():
    topo = structured_jobs.topology(models.build(spec("resnet50")))
    assert topo.groups["stream0"] == ("bn1",)  # stage 1 starts with a downsample: the stem is not summed
    assert topo.groups["stream1"] == ("layer1.0.downsample.1", "layer1.0.bn3", "layer1.1.bn3", "layer1.2.bn3")
    assert len(topo.groups["stream3"]) == 1 + 6
    assert topo.convs["layer1.0.conv3"] == ("layer1.0.bn2", "layer1.0.bn3")
    assert sum(len(b) for b in topo.groups.values()) == sum(
        isinstance(m, torch.nn.BatchNorm2d) for m in models.build(spec("resnet50")).modules())


def test_residual_tied_channels_are_scored_by_their_sum_and_kept_or_removed_together():
    model = models.build(spec(width=4))
    topo = structured_jobs.topology(model)
    state = model.state_dict()
    for bn in topo.bn_group:
        state[f"{bn}.weight"] = torch.full_like(state[f"{bn}.weight"], 10.0)  # everything else: keep
    # stream0 = (bn1, layer1.0.bn2). Channel 0: tiny in bn1, large in bn2 -> sum 3.01: kept.
    # Channel 1: 0.4 + 0.4 = 0.8: pruned although neither BN alone is the smallest gamma of the network.
    # layer1.0.bn1 channel 2: 0.5 (a single-BN group) lies between them.
    state["bn1.weight"][:2] = torch.tensor([0.01, 0.4])
    state["layer1.0.bn2.weight"][:2] = torch.tensor([3.0, 0.4])
    state["layer1.0.bn1.weight"][2] = 0.5
    state["layer2.0.bn1.weight"][3] = 2.0
    scores = structured_jobs.group_scores(state, topo)
    assert scores["stream0"][:2].tolist() == pytest.approx([3.01, 0.8])
    total = sum(len(s) for s in scores.values())
    kept, info = structured_jobs.select_channels(scores, 2.5 / total)  # round_half_up(2.5) = 3 channels
    assert info["pruned"] == 3
    removed = {(g, c) for g, s in scores.items() for c in range(len(s)) if c not in kept[g]}
    assert removed == {("stream0", 1), ("layer1.0.bn1", 2), ("layer2.0.bn1", 3)}
    assert 0 in kept["stream0"]
    # in the narrow net every BN of the group holds the same kept channels of its wide counterpart
    narrow = structured_jobs.narrow_state(state, topo, kept)
    for bn in topo.groups["stream0"]:
        assert torch.equal(narrow[f"{bn}.weight"], state[f"{bn}.weight"][kept["stream0"]])
        assert len(narrow[f"{bn}.weight"]) == len(kept["stream0"]) == 3
    assert narrow["layer1.0.conv1.weight"].shape == (3, 3, 3, 3)  # in: stream0's 3 channels, out: bn1's 3
    assert narrow["layer2.0.conv1.weight"].shape == (7, 3, 3, 3)
    assert narrow["layer2.0.downsample.0.weight"].shape == (8, 3, 1, 1)


def test_selection_removes_exactly_round_half_up_and_breaks_ties_by_network_order():
    scores = {"a": torch.tensor([1.0, 1.0, 5.0]), "b": torch.tensor([1.0, 9.0]), "c": torch.tensor([0.5, 2.0])}
    kept, info = structured_jobs.select_channels(scores, 0.5)  # 7 channels -> round_half_up(3.5) = 4
    assert info["requested"] == info["pruned"] == 4
    # candidates: c0 (0.5), then the ties at 1.0 in order a0, a1, b0
    assert kept == {"a": [2], "b": [1], "c": [1]}
    kept, _ = structured_jobs.select_channels(scores, 0.3)  # round_half_up(2.1) = 2: c0 and a0
    assert kept == {"a": [1, 2], "b": [0, 1], "c": [1]}
    with pytest.raises(structured_jobs.StructuredError):
        structured_jobs.select_channels(scores, 1.0)


@pytest.mark.parametrize("name", ["resnet_cifar", "resnet18", "resnet50"])
def test_no_layer_is_emptied_even_at_ratio_099(name):
    model = models.build(spec(name))
    topo = structured_jobs.topology(model)
    state = randomized(model, 3)
    kept, info = structured_jobs.select_channels(structured_jobs.group_scores(state, topo), 0.99)
    assert info["capped"] and info["pruned"] == info["total"] - len(topo.groups)
    assert all(len(k) == 1 for k in kept.values())
    scores = structured_jobs.group_scores(state, topo)
    for g, k in kept.items():  # the one survivor is the group's best channel
        assert k == [int(torch.argmax(scores[g]))]
    narrow = structured_jobs.build({**spec(name), "channels": {g: len(k) for g, k in kept.items()}})
    models.load_state(narrow, structured_jobs.narrow_state(state, topo, kept))
    for mod in narrow.modules():
        if isinstance(mod, torch.nn.Conv2d):
            assert mod.in_channels >= 1 and mod.out_channels >= 1
    assert narrow.eval()(torch.randn(2, 3, 8, 8)).shape == (2, 10)
    with pytest.raises(structured_jobs.StructuredError, match="allowed 1"):
        structured_jobs.build({**spec(name), "channels": {g: 0 for g in kept}})


# --------------------------------------------------------------------------- the narrow network


@pytest.mark.parametrize("name", ["resnet_cifar", "resnet18", "resnet50"])
def test_narrow_network_equals_wide_network_with_pruned_channels_zeroed(name):
    wide = models.build(spec(name))
    topo = structured_jobs.topology(wide)
    state = randomized(wide, 1)
    kept, _ = structured_jobs.select_channels(structured_jobs.group_scores(state, topo), 0.5)
    narrow = structured_jobs.build({**spec(name), "channels": {g: len(k) for g, k in kept.items()}})
    models.load_state(narrow, structured_jobs.narrow_state(state, topo, kept))
    assert sum(p.numel() for p in narrow.parameters()) < sum(p.numel() for p in wide.parameters())
    x = torch.randn(5, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    wide.load_state_dict(structured_jobs.zero_pruned_channels(state, topo, kept))  # gamma = beta = 0: output exactly 0
    with torch.no_grad():
        y_narrow, y_wide = narrow.eval()(x), wide.eval()(x)
    assert torch.allclose(y_narrow, y_wide, atol=1e-5, rtol=1e-4), (y_narrow - y_wide).abs().max()
    # zeroing gamma alone leaves relu(beta) flowing through the pruned channels: not the same network
    wide.load_state_dict(structured_jobs.zero_pruned_channels(state, topo, kept, beta=False))
    with torch.no_grad():
        assert (wide.eval()(x) - y_narrow).abs().max() > 1e-2


def test_narrow_state_rejects_unknown_entries():
    model = models.build(spec())
    topo = structured_jobs.topology(model)
    state = {**model.state_dict(), "extra.weight": torch.zeros(1)}
    kept = {g: list(range(n)) for g, n in topo.sizes(model).items()}
    with pytest.raises(structured_jobs.StructuredError, match="extra.weight"):
        structured_jobs.narrow_state(state, topo, kept)


# --------------------------------------------------------------------------- counting


def test_flops_and_params_match_a_hand_count():
    """resnet_cifar-8, width 2, one 4x4 grey image: stages at 4x4, 2x2 and 1x1."""
    model = models.build({"name": "resnet_cifar", "depth": 8, "width": 2, "in_channels": 1, "num_classes": 10})
    c = structured_jobs.count(model, (1, 4, 4))
    hand_flops = {
        "conv1": 16 * 2 * 1 * 9, "bn1": 2 * 16,
        "layer1.0.conv1": 16 * 2 * 2 * 9, "layer1.0.bn1": 32, "layer1.0.conv2": 16 * 2 * 2 * 9, "layer1.0.bn2": 32,
        "layer2.0.conv1": 4 * 4 * 2 * 9, "layer2.0.bn1": 16, "layer2.0.conv2": 4 * 4 * 4 * 9, "layer2.0.bn2": 16,
        "layer2.0.downsample.0": 4 * 4 * 2, "layer2.0.downsample.1": 16,
        "layer3.0.conv1": 1 * 8 * 4 * 9, "layer3.0.bn1": 8, "layer3.0.conv2": 1 * 8 * 8 * 9, "layer3.0.bn2": 8,
        "layer3.0.downsample.0": 8 * 4, "layer3.0.downsample.1": 8,
        "fc": 8 * 10,
    }
    assert c["layer_flops"] == hand_flops
    assert c["flops"] == 3480 == sum(hand_flops.values())
    hand_params = (18 + 4) + (36 + 4 + 36 + 4) + (72 + 8 + 144 + 8 + 8 + 8) + (288 + 16 + 576 + 16 + 32 + 16) + 90
    assert c["params"] == hand_params == 1384
    # a narrow version: stream0 1 channel, layer1.0.bn1 2, stream1 3, layer2.0.bn1 1, stream2 5, layer3.0.bn1 4
    narrow = structured_jobs.build({"name": "resnet_cifar", "depth": 8, "width": 2, "in_channels": 1, "num_classes": 10,
                       "channels": {"stream0": 1, "layer1.0.bn1": 2, "stream1": 3, "layer2.0.bn1": 1,
                                    "stream2": 5, "layer3.0.bn1": 4}})
    n = structured_jobs.count(narrow, (1, 4, 4))
    assert n["flops"] == (16 * 1 * 9 + 16 + 16 * 2 * 9 + 32 + 16 * 2 * 9 + 16
                          + 4 * 1 * 9 + 4 + 4 * 3 * 9 + 12 + 4 * 3 + 12
                          + 4 * 3 * 9 + 4 + 5 * 4 * 9 + 5 + 5 * 3 + 5 + 5 * 10)
    assert n["params"] == (9 + 2 + 18 + 4 + 18 + 2 + 9 + 2 + 27 + 6 + 3 + 6
                           + 108 + 8 + 180 + 10 + 15 + 10 + 50 + 10)


# --------------------------------------------------------------------------- training budgets


def test_scratch_b_epochs_follow_the_flops_ratio():
    tr = {"epochs": 12, "milestones": [6, 9], "warmup_epochs": 1, "schedule": "multistep"}
    b = structured_jobs.scratch_b_training(tr, flops_dense=1000, flops_pruned=300)
    assert b["epochs"] == 40 == math.floor(12 * 1000 / 300)
    assert b["milestones"] == [20, 30]  # same relative positions (6/12, 9/12)
    assert b["warmup_epochs"] == 1 and tr["epochs"] == 12  # warmup unchanged, input untouched
    assert structured_jobs.scratch_b_training(tr, 1000, 1000)["epochs"] == 12
    assert structured_jobs.scratch_b_training({"epochs": 7}, 10, 3)["epochs"] == 23  # floor(23.33)
    with pytest.raises(structured_jobs.StructuredError):
        structured_jobs.scratch_b_training(tr, 100, 200)


def test_schedule_converts_warmup_epochs_to_iterations():
    s = structured_jobs.schedule({"epochs": 4, "warmup_epochs": 2, "label_smoothing": 0.1}, iters=6)
    assert (s.warmup_iters, s.schedule, s.nesterov, s.label_smoothing) == (12, "cosine", True, 0.1)
    assert regime.steps_per_epoch(1438, 256) == 6 and regime.steps_per_epoch(1437, 1436) == 1
    assert regime.steps_per_epoch(1438, 64) == 23 and regime.steps_per_epoch(10, 100) == 1


# --------------------------------------------------------------------------- plan


@pytest.fixture
def structured_config():
    return validated(read_yaml(TINY_STRUCTURED))


def test_paths_and_lines(structured_config):
    cfg = structured_config
    hf, he = H(0.1, 256, 5e-5), H(0.2, 256, 5e-5)
    ln = splan.Line("finetune", hf, he)
    assert splan.metrics_path(cfg, ln, 0, 0.3) == (
        "results/tiny/structured/finetune/lr0.1_bs256_wd5e-5/lr0.2_bs256_wd5e-5/seed0/ratio0.3/metrics.json")
    assert splan.metrics_path(cfg, ln, 0, 0) == (
        "results/tiny/structured/find/lr0.1_bs256_wd5e-5/seed0/dense/metrics.json")
    assert splan.metrics_path(cfg, splan.Line("scratch_b", hf, he), 1, 0.6).startswith(
        "results/tiny/structured/scratch_b/lr0.1_bs256_wd5e-5/lr0.2_bs256_wd5e-5/seed1/ratio0.6/")
    assert splan.line_files(cfg, ln)[0].endswith("/dense/metrics.json") and len(splan.line_files(cfg, ln)) == 3
    with pytest.raises(ValueError):
        splan.metrics_path(cfg, splan.Line("scratch_e", hf, he), 0, 0)


def test_fig5_is_two_find_by_two_eval(structured_config):
    cfg = copy.deepcopy(structured_config)
    cfg["structured"]["grids"]["batch_size"] = {"find": [64, 128, 256], "eval": [256, 32]}
    panels = splan.figure_panels(cfg, "fig5")
    # the paper's 3 panels (L94) and 6 per appendix figure (L279-L287): one x axis, channels pruned
    assert [(p["row"], p["col"], p["x"]) for p in panels] == [(0, c, "channels") for c in range(3)]
    bs = panels[1]["lines"]
    assert {(ln.hfind.batch_size, ln.heval.batch_size) for ln in bs} == {(64, 32), (64, 256), (256, 32), (256, 256)}
    a11 = splan.figure_panels(cfg, "figA11")
    assert len(a11) == 2 + 3  # per H_eval + per H_find
    assert sum(len(p["lines"]) for p in a11 if p["x"] == "channels" and p["compare"] == "find") == 6
    # the parameters axis is optional: a second row set of the same runs
    cfg["structured"]["figures"] = {"params_axis": True}
    both = splan.figure_panels(cfg, "fig5")
    assert [(p["row"], p["col"], p["x"]) for p in both] == [
        (r, c, x) for r, x in enumerate(splan.X_AXES) for c in range(3)]
    assert len(splan.figure_panels(cfg, "figA11")) == 2 * (2 + 3)
    # fig5's two values per phase, given explicitly
    cfg["structured"]["figures"]["fig5"] = {"batch_size": {"find": [128, 256], "eval": [32, 256]}}
    lines = splan.figure_panels(cfg, "fig5")[1]["lines"]
    assert {(ln.hfind.batch_size, ln.heval.batch_size) for ln in lines} == {(128, 32), (128, 256), (256, 32),
                                                                           (256, 256)}
    assert "A10-A12" in splan.figure_params(cfg, "fig5")["note"]
    params = splan.figure_params(cfg, "figRethinking")
    assert json.loads(json.dumps(params)) == params
    kinds = {ln[0] for p in params["panels"] for ln in p["lines"]}
    assert kinds == {"finetune", "scratch_e", "scratch_b"}
    hf, hevals = splan.rethinking_hs(cfg)
    assert hf == H(0.1, 256, 5e-5) and hevals == [hf, hf.replace(lr=0.2)]


def test_structured_block_is_optional(tiny_config, main_config):
    assert not splan.enabled(tiny_config)
    assert splan.figure_inputs(tiny_config, "fig5") == [] and splan.targets(tiny_config) == []
    assert splan.enabled(main_config) and len(splan.targets(main_config)) == 2  # the speed table and the summary
    assert set(splan.FIGURES) <= set(figures.default_figures(main_config))
    assert not set(splan.FIGURES) & set(figures.default_figures(tiny_config))
    off = {**main_config, "structured": {**main_config["structured"], "enabled": False}}
    assert splan.all_inputs(off) == [] and splan.speed_inputs(off) == {}


@pytest.mark.parametrize("change, match", [
    ({"training": {"epochs": 2, "milestones": [2]}}, "milestones"),
    ({"training": {"epochs": 2, "warmup_epochs": 3}}, "warmup_epochs"),
    ({"ratios": [0.5, 0.50]}, "ratios"),
])
def test_bad_structured_settings_are_named(structured_config, change, match):
    cfg = copy.deepcopy(structured_config)
    cfg["structured"].update(change)
    with pytest.raises(splan.StructuredConfigError, match=match):
        splan.check(cfg)


def test_schema_rejects_a_ratio_of_one():
    raw = read_yaml(TINY_STRUCTURED)
    raw["structured"]["ratios"] = [0.5, 1.0]
    with pytest.raises(Exception, match="1.0"):
        validated(raw)


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_tiny_structured_pipeline(structured_run):
    """fig5, figRethinking, the speed table and the summary from a tiny config, with Snakemake (run once per
    session: tests/test_digest.py holds its outputs to a stored digest)."""
    tmp_path = structured_run["wd"]
    targets = list(STRUCTURED_TARGETS)
    for t in targets + ["results/tiny/figures/fig5.png", "results/tiny/figures/figRethinking.png"]:
        assert (tmp_path / t).stat().st_size > 0, t
    base = tmp_path / "results/tiny/structured"
    hf = "lr0.1_bs256_wd5e-5"
    # the pruned network is physically narrower, stored as a plain state dict
    state, meta = load_checkpoint(base / f"find/{hf}/seed0/ratio0.6/pruned.pt")
    report = json.loads((base / f"find/{hf}/seed0/ratio0.6/channels.json").read_text())
    assert meta["model_spec"]["channels"] == {g["name"]: g["kept"] for g in report["groups"]}
    assert all(g["kept"] >= 1 for g in report["groups"])
    assert report["channels"]["pruned"] == round(0.6 * report["channels"]["total"])
    assert state["bn1.weight"].numel() == report["groups"][0]["kept"]
    assert sum(g["kept"] for g in report["groups"]) == report["channels"]["total"] - report["channels"]["pruned"]
    assert report["params"] < report["params_dense"] and report["flops"] < report["flops_dense"]
    # Scratch-E: E epochs; Scratch-B: floor(E * FLOPs_dense / FLOPs_pruned)
    he = "lr0.2_bs256_wd5e-5"
    e = json.loads((base / f"scratch_e/{hf}/{he}/seed0/ratio0.6/metrics.json").read_text())
    b = json.loads((base / f"scratch_b/{hf}/{he}/seed0/ratio0.6/metrics.json").read_text())
    f = json.loads((base / f"finetune/{hf}/{he}/seed0/ratio0.6/metrics.json").read_text())
    assert e["epochs"] == f["epochs"] == 2 and len(e["history"]) == 2
    assert b["epochs"] == 2 * report["flops_dense"] // report["flops"] > 2 and len(b["history"]) == b["epochs"]
    assert e["seeds"]["init"] == b["seeds"]["init"] != f["seeds"]["init"]
    assert f["warmup_iters"] == f["iterations_per_epoch"] == 6  # 1 warmup epoch of 1438 images at batch 256
    assert f["H_eval"]["lr"] == 0.2 and f["H_find"]["lr"] == 0.1 and f["kind"] == "finetune"
    with open(base / "speed.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["model"] for r in rows] == ["dense", "pruned 0.3", "pruned 0.6"]
    assert float(rows[0]["speedup"]) == float(rows[0]["cpu_speedup"]) == 1.0
    assert all(float(r["images_per_s"]) > 0 and float(r["images_per_cpu_s"]) > 0 for r in rows)
    assert float(rows[2]["flops_speedup"]) == pytest.approx(int(rows[0]["flops"]) / int(rows[2]["flops"]))
    assert int(rows[2]["flops"]) < int(rows[1]["flops"]) < int(rows[0]["flops"])
    summary = (base / "summary.csv").read_text().splitlines()
    assert len(summary) == 1 + 2 + 4 * 2 + 2 * 2 * 2  # header, dense x2, finetune 4 pairs x 2 ratios, scratch
