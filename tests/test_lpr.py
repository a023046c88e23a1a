"""LPR analyses (findeval.lpr): match-LPR and local pruning hit their per-layer counts exactly, what each LPR
figure reads, and a tiny end-to-end run of fig6, fig7 and figA15 (about a minute on 2 cores)."""

import copy
import json
import re

import numpy as np
import pandas as pd
import pytest

from conftest import TINY, read_yaml, snakemake, validated, write_config
from findeval import masks
from findeval.a1 import plan
from findeval.hparams import H
from findeval.lpr import jobs as lpr_jobs, plan as lpr
from findeval.workflow import ConfigError

SHAPES = {"conv1.weight": (4, 1, 3, 3), "layer1.conv.weight": (6, 4, 3, 3), "layer2.conv.weight": (8, 6, 3, 3),
          "layer2.shortcut.weight": (8, 4, 1, 1)}


def _weights(seed: int, scales=(5.0, 1.0, 0.2, 2.0)) -> dict:
    """Random weights with very different magnitudes per layer, so global pruning is far from uniform."""
    rng = np.random.default_rng(seed)
    return {name: (rng.standard_normal(shape) * s).astype(np.float32)
            for (name, shape), s in zip(SHAPES.items(), scales)}


def _counts(mask) -> dict:
    return {name: int(m.sum()) for name, m in mask.items()}


def _largest_kept(weights, parent, child) -> None:
    """Within every layer the child keeps the weights of largest |w| among those the parent keeps."""
    for name in parent:
        w = np.abs(weights[name])
        kept, dropped = w[child[name]], w[parent[name] & ~child[name]]
        if kept.size and dropped.size:
            assert kept.min() >= dropped.max(), name


# --------------------------------------------------------------------------- pruning


def test_match_lpr_hits_every_layer_count_exactly():
    """A chain matched to a reference chain of other weights: at every level each layer keeps exactly the
    reference's count, chosen by this chain's magnitudes, monotone."""
    p, levels = 0.2, 6
    ref = mine = masks.ones_like(SHAPES)
    for level in range(1, levels + 1):
        ref = masks.global_magnitude_prune(_weights(100 + level, scales=(0.1, 3.0, 1.0, 0.5)), ref, p)
        w = _weights(level)
        child = lpr_jobs.prune_match_lpr(w, mine, ref)
        assert _counts(child) == _counts(ref)
        assert _counts(child) != _counts(masks.global_magnitude_prune(w, mine, p))  # not what global pruning gives
        masks.check_monotone(child, mine)
        _largest_kept(w, mine, child)
        mine = child
    assert masks.lpr(mine) == masks.lpr(ref)


def test_match_lpr_refuses_a_reference_that_keeps_more():
    parent = masks.global_magnitude_prune(_weights(1), None, 0.5)
    dense = masks.ones_like(SHAPES)
    with pytest.raises(masks.MaskError, match="keeps more weights"):
        lpr_jobs.prune_match_lpr(_weights(2), parent, dense)
    other = {k.replace("conv1", "stem"): v for k, v in dense.items()}
    with pytest.raises(masks.MaskError, match="not masks of the same network"):
        lpr_jobs.prune_match_lpr(_weights(2), parent, other)


def test_local_pruning_gives_equal_ratios():
    """Each layer of n weights keeps exactly kept_schedule(n, p, L)[L] after L levels: the per-layer
    round_half_up of p of its remaining weights, so all layers have the same ratio up to that rounding."""
    p, levels = 0.2, 8
    mask = masks.ones_like(SHAPES)
    for level in range(1, levels + 1):
        w = _weights(level)
        child = lpr_jobs.prune_local(w, mask, p)
        masks.check_monotone(child, mask)
        _largest_kept(w, mask, child)
        for name, m in child.items():
            assert int(m.sum()) == masks.kept_schedule(m.size, p, level)[level], (name, level)
            assert abs(1 - m.mean() - (1 - (1 - p) ** level)) <= level / m.size
        mask = child
    ratios = masks.lpr(mask)
    assert max(ratios.values()) - min(ratios.values()) < 0.05
    # exact: with p = 1/2 and layer sizes divisible by 2**L, every ratio is exactly 1 - 2**-L
    mask = masks.ones_like({"a.weight": (8, 4, 1, 1), "b.weight": (16, 8, 1, 1)})
    for level in range(1, 4):
        mask = lpr_jobs.prune_local({k: np.random.default_rng(level).standard_normal(v.shape) for k, v in mask.items()},
                               mask, 0.5)
        assert set(masks.lpr(mask).values()) == {1 - 0.5 ** level}


# --------------------------------------------------------------------------- planning


def _silent(config: dict, *figs: str) -> dict:
    """``config`` without its ``figures.<fig>`` settings: what the code chooses when the config says nothing."""
    cfg = copy.deepcopy(config)
    for fig in figs:
        cfg["figures"].pop(fig, None)
    return cfg


def test_default_figure_settings(main_config):
    n = plan.levels(main_config)
    figures = main_config["figures"]
    cfg = _silent(main_config, "fig6", "figA17", "fig7", "fig8")
    assert lpr.fig6_level(cfg) == min(5, n)
    assert lpr.figA17_levels(cfg) == sorted({1, n // 2, n})
    assert lpr.fig8_levels(cfg) == sorted({min(5, n), min(10, n)})
    assert lpr.fig8_levels(main_config) == ((figures.get("fig8") or {}).get("levels") or lpr.fig8_levels(cfg))
    lr, bs, wd = (main_config["grids"][d]["find"] for d in ("lr", "batch_size", "weight_decay"))
    grid_rule = {"lr": (min(lr), max(lr)), "batch_size": (max(bs), min(bs)), "weight_decay": (min(wd), max(wd))}
    # silent: good = smallest LR, largest BS, smallest WD of the find grid; bad = the opposite
    pairs = {p["dim"]: (getattr(p["good"], p["dim"]), getattr(p["bad"], p["dim"])) for p in lpr.fig7_pairs(cfg)}
    assert pairs == grid_rule
    # the config's figures.fig7.good/bad where set, the grid rule for the rest
    given = figures.get("fig7") or {}
    pairs = {p["dim"]: (getattr(p["good"], p["dim"]), getattr(p["bad"], p["dim"]))
             for p in lpr.fig7_pairs(main_config)}
    assert pairs == {d: ((given.get("good") or {}).get(d, g), (given.get("bad") or {}).get(d, b))
                     for d, (g, b) in grid_rule.items()}
    for p in lpr.fig7_pairs(main_config):  # one hyperparameter moved off the defaults per panel
        base = plan.default_h(main_config)
        assert p["good"] == base.replace(**{p["dim"]: getattr(p["good"], p["dim"])})
        assert p["bad"] == base.replace(**{p["dim"]: getattr(p["bad"], p["dim"])})
    assert all(h.weight_decay == 0 for h in lpr.fig8_hs(main_config))


def test_config_keys_and_bad_levels(tiny_config):
    cfg = copy.deepcopy(tiny_config)
    cfg["figures"].update(fig6={"level": 1}, fig7={"good": {"lr": 0.1}, "bad": {"lr": 0.05}, "h_eval": {"lr": 0.2}})
    assert lpr.fig6_level(cfg) == 1
    (pair,) = lpr.fig7_pairs(cfg)  # tiny's BS and WD grids have one value: no panel for them
    assert (pair["good"].lr, pair["bad"].lr) == (0.1, 0.05) and lpr.fig7_heval(cfg).lr == 0.2
    cfg["figures"]["fig6"] = {"level": 3}
    with pytest.raises(ConfigError, match=r"figures\.fig6\.level: level 3 does not exist; pruning\.levels = 2"):
        lpr.figure_inputs(cfg, "fig6")
    raw = read_yaml(TINY)
    raw["figures"] = {"fig7": {"typo": 1}}
    with pytest.raises(Exception, match="typo"):
        validated(raw)


def test_lpr_figures_read_only_find_chain_masks(main_config):
    """fig6 and figA17 read the regular find chains' mask files, nothing that needs more training."""
    for fig in ("fig6", "figA17"):
        files = lpr.figure_inputs(main_config, fig)
        assert files and all(re.fullmatch(r"results/digits/find/[^/]+/seed\d+/level\d+/mask\.h5", f) for f in files)
    n_h = sum(len(main_config["grids"][d]["find"]) for d in ("lr", "batch_size", "weight_decay"))
    assert len(lpr.figure_inputs(main_config, "fig6")) <= n_h * len(main_config["seeds"])


def test_chain_paths_and_coupled_evaluations(tiny_config):
    hf, hr, he = H(0.1, 128, 5e-4), H(0.05, 128, 5e-4), H(0.2, 128, 5e-4)
    d = "results/tiny/find_matched/lr0.1_bs128_wd5e-4/match-lr0.05_bs128_wd5e-4/seed0/level2"
    assert lpr.chain_metrics_path(tiny_config, "match_lpr", hf, hf, 0, 2, hr) == f"{d}/metrics.json"
    assert lpr.chain_metrics_path(tiny_config, "match_lpr", hf, he, 0, 2, hr) == (
        "results/tiny/eval/matched/lr0.1_bs128_wd5e-4/match-lr0.05_bs128_wd5e-4/lr0.2_bs128_wd5e-4/seed0/level2/"
        "metrics.json")
    assert lpr.chain_metrics_path(tiny_config, "local", hf, he, 1, 0) == (
        "results/tiny/find/lr0.1_bs128_wd5e-4/seed1/level0/metrics.json")
    assert lpr.chain_spec(d.rsplit("/seed", 1)[0].removeprefix("results/tiny/")) == {
        "constraint": "match_lpr", "hfind": hf.slug, "href": hr.slug}
    assert lpr.chain_spec("local/lr0.1_bs128_wd5e-4")["constraint"] == "local"


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    wd = tmp_path_factory.mktemp("lpr")
    raw = read_yaml(TINY)
    raw["figures"] = {"figA15": {"lr_eval": [0.1]}}  # one panel: the local chain of LR 0.1 is its own evaluation
    write_config(wd, raw)
    r = snakemake(wd, "results/tiny/figures/fig6.pdf", "results/tiny/figures/fig7.pdf", "results/tiny/figures/figA15.pdf", cores=2, timeout=480)
    return {"wd": wd, "config": validated(raw), "out": r.stdout + r.stderr}


@pytest.mark.slow
def test_e2e_figures_and_tables_exist(run):
    wd = run["wd"]
    for fig in ("fig6", "fig7", "figA15"):
        assert (wd / "results/tiny/figures" / f"{fig}.pdf").read_bytes()[:5] == b"%PDF-"
        assert (wd / "results/tiny/figures" / f"{fig}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (wd / "results" / "tiny" / "lpr" / f"{fig}.csv").is_file()
    assert not (wd / "results/tiny/figures" / "fig8.pdf").exists()


@pytest.mark.slow
def test_e2e_fig6_values_are_the_masks_ratios(run):
    """Every number of fig6 equals the pruned share of its layer in the mask file's boolean datasets."""
    wd, cfg = run["wd"], run["config"]
    table = pd.read_csv(wd / "results" / "tiny" / "lpr" / "fig6.csv")
    level = lpr.fig6_level(cfg)
    assert set(table["level"]) == {level}
    files = lpr.figure_inputs(cfg, "fig6")
    assert sorted(set(table["path"])) == files
    drawn = [f for panel in lpr.figure_panels(cfg, "fig6") for line in panel["lines"] for f in line["files"]]
    n = 0
    for (_, path), rows in table.groupby(["panel", "path"]):
        mask, _ = masks.load_mask(wd / path)
        assert list(rows.sort_values("layer_index")["layer"]) == list(mask)
        for row in rows.itertuples():
            m = mask[row.layer]
            assert row.pruned == m.size - int(m.sum()) and row.total == m.size
            assert row.ratio == pytest.approx(1 - m.sum() / m.size, abs=1e-12)
            n += 1
    assert n == len(table) == len(drawn) * 9  # 9 prunable tensors of resnet_cifar depth 8


@pytest.mark.slow
def test_e2e_matched_chain_hits_the_reference_counts(run):
    wd, cfg = run["wd"], run["config"]
    (pair,) = lpr.fig7_pairs(cfg)
    for hfind, href in ((pair["bad"], pair["good"]), (pair["good"], pair["bad"])):
        prev = None
        for level in range(1, plan.levels(cfg) + 1):
            d = wd / lpr.chain_dir("tiny", "match_lpr", hfind.slug, 0, level, href.slug)
            mine, attrs = masks.load_mask(d / "mask.h5")
            ref, _ = masks.load_mask(wd / lpr.mask_path(cfg, href, 0, level))
            regular, _ = masks.load_mask(wd / lpr.mask_path(cfg, hfind, 0, level))
            assert _counts(mine) == _counts(ref) != _counts(regular)
            assert attrs["kind"] == "match_lpr" and json.loads(attrs["H_ref"]) == href.as_dict()
            if prev is not None:
                masks.check_monotone(mine, prev)
            prev = mine
            metrics = json.loads((d / "metrics.json").read_text()) if (d / "metrics.json").exists() else None
            if metrics:
                assert metrics["kind"] == "match_lpr" and metrics["H_find"] == hfind.as_dict()
                assert metrics["zero_fraction"] == pytest.approx(masks.sparsity(mine))


@pytest.mark.slow
def test_e2e_fig7_and_figA15_draw_every_level(run):
    wd, cfg = run["wd"], run["config"]
    n = plan.levels(cfg)
    fig7 = pd.read_csv(wd / "results" / "tiny" / "lpr" / "fig7.csv")
    # the paper's three lines (L112); figures.fig7.regular_bad adds the fourth
    assert set(fig7["style"]) == {"match-good", "match-bad", "regular-good"}
    for _, rows in fig7.groupby("line"):
        assert sorted(rows["level"]) == list(range(n + 1))
        assert rows["test_accuracy"].between(0, 1).all()
    local = pd.read_csv(wd / "results" / "tiny" / "lpr" / "figA15.csv")
    assert len(set(local["line"])) == len(cfg["grids"]["lr"]["find"])
    for path in local.loc[local["level"] > 0, "path"]:
        m = json.loads((wd / path).read_text())
        assert m["kind"] == "local" and m["H_eval"]["lr"] == 0.1
        # eval/local/<H_find>/<H_eval>/seed/level/metrics.json, or find_local/<H_find>/seed/level/metrics.json
        mask_file = re.sub(r"/eval/local/([^/]+)/[^/]+/", r"/find_local/\1/", path).replace("metrics.json", "mask.h5")
        mask, attrs = masks.load_mask(wd / mask_file)
        assert attrs["kind"] == "local"
        for arr in mask.values():
            assert int(arr.sum()) == masks.kept_schedule(arr.size, cfg["pruning"]["fraction"], m["level"])[m["level"]]


def test_fig7_draws_the_papers_three_lines_and_the_fourth_on_request(main_config):
    """Caption L112: match-good-LPR, match-bad-LPR and the regular good run; "regular, bad" is optional."""
    styles = [[ln["style"] for ln in p["lines"]] for p in lpr.figure_panels(main_config, "fig7")]
    assert styles and all(s == ["match-good", "match-bad", "regular-good"] for s in styles)
    cfg = copy.deepcopy(main_config)
    cfg["figures"]["fig7"] = {**cfg["figures"].get("fig7", {}), "regular_bad": True,
                              "good": {"lr": sorted(cfg["grids"]["lr"]["find"])[1]}}
    panels = lpr.figure_panels(cfg, "fig7")
    assert all(p["lines"][-1]["style"] == "regular-bad" for p in panels)
    lr = next(p for p in lpr.fig7_pairs(cfg) if p["dim"] == "lr")
    assert lr["good"].lr == sorted(cfg["grids"]["lr"]["find"])[1]  # explicit, as the paper's 0.2 (L116)
    assert "D4" in lpr.figure_params(cfg, "fig7")["note"] and "D1" in lpr.figure_params(cfg, "fig6")["note"]


def test_figA15_lr_find_is_a_setting(main_config):
    grid = sorted(set(main_config["grids"]["lr"]["find"]))
    given = (main_config["figures"].get("figA15") or {}).get("lr_find")
    assert [h.lr for h in lpr.figA15_hfinds(main_config)] == sorted(set(given or grid))
    assert [h.lr for h in lpr.figA15_hfinds(_silent(main_config, "figA15"))] == grid  # silent: the LR find grid
    cfg = copy.deepcopy(main_config)
    cfg["figures"]["figA15"] = {"lr_find": [0.5, 0.02, 0.2]}  # neither the grid nor the default config's
    panels = lpr.figure_panels(cfg, "figA15")
    assert all([ln["label"] for ln in p["lines"]] == ["LR_find = 0.02", "LR_find = 0.2", "LR_find = 0.5"]
               for p in panels)