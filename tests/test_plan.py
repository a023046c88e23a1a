"""The run plan: the path layout (a public interface), the H_find set and which files each figure needs."""

import json
import re

import pytest

from findeval.a1 import plan
from findeval.hparams import DIMENSIONS, H

HF = H(0.05, 128, 5e-4)
HE = H(0.2, 128, 5e-4)
EVAL_LOTTERY = re.compile(r"^results/[^/]+/eval/lottery/(?P<hf>[^/]+)/(?P<he>[^/]+)/seed\d+/level\d+/metrics\.json$")


# --------------------------------------------------------------------------- path layout


def test_metrics_path_lottery_coupled_is_the_find_run(tiny_config):
    line = plan.Line("lottery", HF, HF)
    assert line.coupled
    assert plan.metrics_path(tiny_config, line, 0, 2) == "results/tiny/find/lr0.05_bs128_wd5e-4/seed0/level2/metrics.json"
    assert plan.find_dir(tiny_config, HF, 3, 1) == "results/tiny/find/lr0.05_bs128_wd5e-4/seed3/level1"


def test_metrics_path_lottery_decoupled(tiny_config):
    line = plan.Line("lottery", HF, HE)
    assert not line.coupled
    assert (plan.metrics_path(tiny_config, line, 1, 2)
            == "results/tiny/eval/lottery/lr0.05_bs128_wd5e-4/lr0.2_bs128_wd5e-4/seed1/level2/metrics.json")


def test_metrics_path_level0_is_the_dense_find_run(tiny_config):
    # the dense network has no mask: every lottery line of H_find starts at H_find's level-0 find run
    for line in (plan.Line("lottery", HF, HE), plan.Line("lottery", HF, HF)):
        assert plan.metrics_path(tiny_config, line, 0, 0) == "results/tiny/find/lr0.05_bs128_wd5e-4/seed0/level0/metrics.json"


def test_metrics_path_random_baselines(tiny_config):
    g = plan.Line("global_random", None, HE)
    p = plan.Line("preserve_lpr", HF, HE)
    assert plan.metrics_path(tiny_config, g, 0, 1) == "results/tiny/eval/global_random/lr0.2_bs128_wd5e-4/seed0/level1/metrics.json"
    assert (plan.metrics_path(tiny_config, p, 2, 3)
            == "results/tiny/eval/preserve_lpr/lr0.05_bs128_wd5e-4/lr0.2_bs128_wd5e-4/seed2/level3/metrics.json")
    for line in (g, p):
        with pytest.raises(ValueError):
            plan.metrics_path(tiny_config, line, 0, 0)


def test_metrics_path_unknown_kind(tiny_config):
    with pytest.raises(ValueError, match="lottery"):
        plan.metrics_path(tiny_config, plan.Line("magic", HF, HE), 0, 1)


def test_line_files_levels_and_seeds(tiny_config):
    cfg = {**tiny_config, "seeds": [0, 4]}
    lottery = plan.line_files(cfg, plan.Line("lottery", HF, HE))
    assert len(lottery) == 2 * (plan.levels(cfg) + 1)  # levels 0..N for each seed
    assert {f.split("/seed")[1].split("/")[0] for f in lottery} == {"0", "4"}
    rnd = plan.line_files(cfg, plan.Line("global_random", None, HE))
    assert len(rnd) == 2 * plan.levels(cfg)  # random baselines start at level 1
    assert not any("/level0/" in f for f in rnd)


def test_experiment_name_is_the_results_folder(tiny_config):
    cfg = {**tiny_config, "experiment": "other"}
    assert plan.exp_dir(cfg) == "results/other"
    assert all(f.startswith("results/other/") for f in plan.figure_inputs(cfg, "fig2"))


# --------------------------------------------------------------------------- H_find


def test_find_hs_of_config_yaml(main_config):
    hs = plan.find_hs(main_config)
    base = plan.default_h(main_config)
    assert len(hs) == 7 == len(set(hs)) == len({h.slug for h in hs})
    assert base in hs
    for h in hs:  # the defaults with at most one dimension moved along its find grid
        moved = [d for d in DIMENSIONS if getattr(h, d) != getattr(base, d)]
        assert len(moved) <= 1
        for d in moved:
            assert getattr(h, d) in main_config["grids"][d]["find"]
    for d in DIMENSIONS:
        for v in main_config["grids"][d]["find"]:
            assert base.replace(**{d: v}) in hs


def test_find_groups_are_the_grid_chains_sharing_a_batch_size(main_config):
    """runtime.find_group: the find grid's H_find sharing a batch size, chunked to at most G, singles left alone."""
    base = plan.default_h(main_config)
    groups = plan.find_groups(main_config, 14)
    assert len(groups) == 1 and all(h.batch_size == base.batch_size for h in groups[0])
    assert set(groups[0]) == {h for h in plan.find_hs(main_config) if h.batch_size == base.batch_size}
    assert len(groups[0]) == 5  # the defaults, 2 other LR, 2 other WD; the 2 other batch sizes are alone
    chunks = plan.find_groups(main_config, 2)
    assert [len(c) for c in chunks] == [2, 2] and sum(chunks, []) == groups[0][:4]  # the 5th would be alone
    assert plan.find_groups(main_config, 0) == plan.find_groups(main_config, 1) == []
    with pytest.raises(ValueError, match="runtime.find_group -1"):
        plan.find_groups(main_config, -1)


def test_find_groups_outside_the_grid_train_only_chains_a_figure_reads(main_config):
    """The H_find the LPR figures add beyond the grid (fig8's WD 0, figA15's LR 0.1) are groups of their own, and
    figA8/figA9's experiments group exactly the LR_find chains their lines use: no group holds a chain that no
    figure reads (a group job trains every chain it holds)."""
    from findeval.lpr import plan as lpr

    grid = set(plan.find_hs(main_config))
    extra = lpr.extra_find_hs(main_config)
    assert extra and not set(extra) & grid
    assert set(extra) == set(lpr.fig8_hs(main_config)) | set(lpr.figA15_hfinds(main_config)) - grid
    groups = lpr.extra_find_groups(main_config, 14)
    assert [len(g) for g in groups] == [4] and set(groups[0]) == set(extra)  # all at batch 64
    read = {}
    for fig in plan.other_figures(main_config):
        exp = plan.other_model_config(main_config, fig)["experiment"]
        read[exp] = {ln.hfind for ln in plan.figure_lines(main_config, fig) if ln.hfind is not None}
    others = plan.other_model_find_groups(main_config, 14)
    assert {exp for exp, _ in others} == set(read)
    for exp, hs in others:
        assert set(hs) == read[exp] and len({h.batch_size for h in hs}) == 1, exp
    assert plan.other_model_find_groups(main_config, 0) == lpr.extra_find_groups(main_config, 0) == []


def test_seed_groups_are_the_chains_alone_in_their_batch_size_across_replicates(main_config):
    """runtime.find_group: a find chain no group of its replicate holds (the small and the large batch size) is
    grouped with the same H_find of the other replicates, in chunks of at most G seeds; none at G 0 or 1."""
    import copy

    grouped = {h for g in plan.find_groups(main_config, 14) for h in g}
    lone = [h for h in plan.find_hs(main_config) if h not in grouped]
    groups = plan.seed_groups(main_config, 14)
    assert [h for h, _ in groups] == lone and len(lone) == 2
    assert {h.batch_size for h in lone} == set(main_config["grids"]["batch_size"]["find"]) - {
        plan.default_h(main_config).batch_size}
    assert all(seeds == list(main_config["seeds"]) for _, seeds in groups)
    chunks = plan.seed_groups(main_config, 4)  # 6 seeds: chunks of 4 and 2; the grid's 5 chains: 4 + 1 alone
    by_h = {}
    for h, seeds in chunks:
        by_h.setdefault(h, []).append(seeds)
    assert all(sum(v, []) == list(main_config["seeds"]) for v in by_h.values()), by_h
    assert len(by_h) == 3  # the fifth grid chain, alone in its chunk at G 4, too
    one_seed = copy.deepcopy(main_config)
    one_seed["seeds"] = [0]
    assert plan.seed_groups(one_seed, 14) == [] == plan.seed_groups(main_config, 1)


def test_lpr_find_groups_are_the_constrained_chains_sharing_a_batch_size(main_config):
    """runtime.find_group for the LPR-constrained chains: every chain the LPR figures train, grouped by its
    H_find's batch size (match-LPR and local alike), chunked to at most G; a chain alone in its batch size, and
    every chain at G 0 or 1, keeps its own lpr_find_chain job."""
    from findeval.hparams import H
    from findeval.lpr import plan as lpr

    chains = lpr.group_chains(main_config)
    assert len(chains) == 13  # fig7: 3 pairs x 2 match-LPR; figA15 / figA16: 7 local (the defaults shared)
    assert sum(c.startswith("find_matched/") for c in chains) == 6

    def bs(chain):
        return H.parse(lpr.chain_spec(chain)["hfind"]).batch_size

    groups = lpr.find_groups(main_config, 14)
    assert sorted(sum(groups, [])) == chains  # every chain has a batch-size partner here
    assert [len(g) for g in groups] == [2, 9, 2] and all(len({bs(c) for c in g}) == 1 for g in groups)
    assert [bs(g[0]) for g in groups] == [32, 64, 128]
    chunks = lpr.find_groups(main_config, 4)
    assert [len(g) for g in chunks] == [2, 4, 4, 2] and sum(chunks, []) == [c for c in sum(groups, [])
                                                                         if c != groups[1][-1]]  # the 9th alone
    assert lpr.find_groups(main_config, 0) == lpr.find_groups(main_config, 1) == []
    with pytest.raises(ValueError, match="runtime.find_group -1"):
        lpr.find_groups(main_config, -1)


def test_every_find_run_of_fig2_uses_a_find_h(main_config):
    hs = {h.slug for h in plan.find_hs(main_config)}
    used = {f.split("/find/")[1].split("/")[0] for f in plan.figure_inputs(main_config, "fig2") if "/find/" in f}
    assert used == hs


# --------------------------------------------------------------------------- figures


@pytest.mark.parametrize("fig", plan.FIGURES)
def test_every_figure_has_panels_and_inputs(main_config, fig):
    panels = plan.figure_panels(main_config, fig)
    assert panels
    for panel in panels:
        assert panel["lines"]
        assert panel["dim"] in DIMENSIONS
        for line in panel["lines"]:
            assert line.kind in plan.KINDS
            assert (line.hfind is None) == (line.kind == "global_random")
    inputs = plan.figure_inputs(main_config, fig)
    assert inputs and inputs == sorted(set(inputs))
    params = plan.figure_params(main_config, fig)
    assert json.loads(json.dumps(params)) == params  # plain values only (Snakemake params)
    assert len(params["panels"]) == len(panels)


@pytest.mark.parametrize("fig", plan.FIGURES)
def test_no_coupled_lottery_evaluation_is_planned(main_config, tiny_config, fig):
    """A lottery mask evaluated with H_eval == H_find is its find run: never an eval/lottery file."""
    for cfg in (main_config, tiny_config):
        for f in plan.figure_inputs(cfg, fig):
            m = EVAL_LOTTERY.match(f)
            if m:
                assert m["hf"] != m["he"], f


def test_coupled_lines_read_the_find_runs(main_config):
    coupled = [ln for ln in plan.figure_lines(main_config, "fig2") if ln.kind == "lottery" and ln.coupled]
    assert coupled
    for line in coupled:
        for f in plan.line_files(main_config, line):
            assert f.startswith(f"{plan.exp_dir(main_config)}/find/{line.hfind.slug}/"), f


def test_fig2_panels(main_config):
    panels = plan.figure_panels(main_config, "fig2")
    assert len(panels) == 6
    base = plan.default_h(main_config)
    assert [p["compare"] for p in panels] == ["find"] * 3 + ["eval"] * 3
    assert [p["dim"] for p in panels] == list(DIMENSIONS) * 2
    for p in panels:
        dim, const = p["dim"], p["constant"]
        assert const == base  # figures.fig2 unset: the defaults
        lottery = [ln for ln in p["lines"] if ln.kind == "lottery"]
        phase = p["compare"]
        assert [getattr(ln.hfind if phase == "find" else ln.heval, dim) for ln in lottery] == \
            main_config["grids"][dim][phase]
        for ln in lottery:  # the compared side moves along the grid, the other side is the constant
            assert (ln.heval if phase == "find" else ln.hfind) == const
        assert {(ln.kind, ln.hfind, ln.heval) for ln in p["lines"] if ln.kind != "lottery"} == {
            ("global_random", None, const), ("preserve_lpr", const, const)}


def test_fig2_input_count_of_config_yaml(main_config):
    """Counted from first principles: per dimension, the grid values other than the default give one decoupled
    line each (top row: H_find moves, bottom row: H_eval moves); one coupled line (the defaults)."""
    seeds, n = len(main_config["seeds"]), plan.levels(main_config)
    base = plan.default_h(main_config)
    for d in DIMENSIONS:  # precondition of the count below
        assert getattr(base, d) in main_config["grids"][d]["find"] and getattr(base, d) in main_config["grids"][d]["eval"]
    moved_find = sum(len(main_config["grids"][d]["find"]) - 1 for d in DIMENSIONS)
    moved_eval = sum(len(main_config["grids"][d]["eval"]) - 1 for d in DIMENSIONS)
    level0 = (1 + moved_find) * seeds  # dense find runs: one per H_find
    coupled = n * seeds  # defaults -> defaults, levels 1..N, read from the find runs
    decoupled = (moved_find + moved_eval) * n * seeds
    baselines = 2 * n * seeds  # global random + preserve LPR, both with the defaults
    assert len(plan.figure_inputs(main_config, "fig2")) == level0 + coupled + decoupled + baselines


def test_fig2_constant_overrides(tiny_config):
    cfg = {**tiny_config, "figures": {**tiny_config["figures"], "fig2": {"constant_eval": {"lr": 0.2},
                                                                          "constant_find": {"lr": 0.05}}}}
    panels = plan.figure_panels(cfg, "fig2")
    top_lr, bottom_lr = panels[0], panels[3]
    assert top_lr["constant"] == H(0.2, 128, 5e-4)
    assert all(ln.heval == H(0.2, 128, 5e-4) for ln in top_lr["lines"])
    assert bottom_lr["constant"] == H(0.05, 128, 5e-4)
    assert all(ln.hfind == H(0.05, 128, 5e-4) for ln in bottom_lr["lines"] if ln.kind != "global_random")
    assert panels[1]["constant"] == plan.default_h(cfg)  # other dimensions keep the defaults


def test_fig1_and_figA1_defaults(main_config):
    base = plan.default_h(main_config)
    assert plan.fig1_hs(main_config) == [base.replace(lr=max(main_config["grids"]["lr"]["find"])), base]
    a, b, c = plan.figA1_hs(main_config)
    assert a == base.replace(batch_size=min(main_config["grids"]["batch_size"]["find"]))
    assert b == base.replace(weight_decay=max(main_config["grids"]["weight_decay"]["find"]))
    assert c == base


def test_appendix_figures(main_config):
    for fig, (dim, style) in plan.APPENDIX_FIGURES.items():
        panels = plan.figure_panels(main_config, fig)
        pairs = len(main_config["grids"][dim]["find"]) * len(main_config["grids"][dim]["eval"])
        if style == "all":
            assert len(panels) == 1 and len(panels[0]["lines"]) == pairs
        else:
            assert len(panels) == len(main_config["grids"][dim]["find"]) + len(main_config["grids"][dim]["eval"])


def test_unknown_figure(main_config):
    with pytest.raises(ValueError, match="fig2"):
        plan.figure_panels(main_config, "fig9")


def test_all_inputs_is_the_union_of_figures(tiny_config):
    union = set()
    for fig in plan.FIGURES:
        union.update(plan.figure_inputs(tiny_config, fig))
    assert plan.all_inputs(tiny_config) == sorted(union)


def test_figure_params_do_not_depend_on_style(tiny_config):
    other = {**tiny_config, "figures": {**tiny_config["figures"], "style": {"dpi": 300}}}
    assert plan.figure_params(other, "fig2") == plan.figure_params(tiny_config, "fig2")
