"""Early pruning (fig9) and the LPR through training (figA18, figA19), findeval.early: the planning half, the
job functions on tiny runs (k epochs per pruning iteration, exact and monotone masks, the LPR-through-training
job reproduces the find chain's level 0), the planned DAG, claim C5, and a tiny real run of the three figures."""

import copy
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import REPO, TINY, planned_jobs, read_yaml, snakemake, validated, write_config
from findeval import figures, masks
from findeval.a1 import jobs, plan
from findeval.claims import jobs as claims_jobs, plan as claims
from findeval.early import jobs as early_jobs, plan as early
from findeval.hparams import H, format_number
from findeval.io import load_checkpoint
from findeval.workflow import ConfigError


def _raw(**block) -> dict:
    raw = read_yaml(TINY)
    raw["training"] = {"epochs": 3, "milestones": [2], "gamma": 0.2}
    raw["early_pruning"] = block
    return raw


# --------------------------------------------------------------------------- planning


def test_prune_epochs_lr_find_and_h_eval(main_config):
    block, e = main_config["early_pruning"], main_config["training"]["epochs"]
    assert early.enabled(main_config)
    ks = early.prune_epochs(main_config)
    assert ks == sorted(set(block["epochs"])) and all(1 <= k < e for k in ks)
    lrs = block["lr_find"] or main_config["grids"]["lr"]["find"]
    assert [h.lr for h in early.hfinds(main_config)] == sorted(set(lrs))
    assert all(h.replace(lr=0.1) == plan.default_h(main_config).replace(lr=0.1) for h in early.hfinds(main_config))
    assert early.heval(main_config) == plan.default_h(main_config).replace(
        **{k: v for k, v in (block["h_eval"] or {}).items() if v is not None})
    # the block silent: the paper's epochs scaled, the LR find grid, the defaults
    cfg = copy.deepcopy(main_config)
    cfg["early_pruning"] = {"epochs": None, "lr_find": None, "h_eval": None}
    cfg["training"]["epochs"] = 12  # the paper's 20, 50, 70 of 110 scaled to 12 epochs
    assert early.prune_epochs(cfg) == [2, 5, 8]
    cfg["training"]["epochs"] = 110
    assert early.prune_epochs(cfg) == [20, 50, 70]
    assert [h.lr for h in early.hfinds(cfg)] == sorted(main_config["grids"]["lr"]["find"])
    assert early.heval(cfg) == plan.default_h(main_config)
    cfg = validated(_raw(epochs=[3], lr_find=[0.3], h_eval={"lr": 0.2}))
    with pytest.raises(ConfigError, match="not in 1..2"):
        early.check(cfg)
    cfg["early_pruning"]["epochs"] = [2, 1]
    assert early.prune_epochs(cfg) == [1, 2]
    assert [h.slug for h in early.hfinds(cfg)] == ["lr0.3_bs128_wd5e-4"]
    assert early.heval(cfg).slug == "lr0.2_bs128_wd5e-4"
    tiny = validated(read_yaml(TINY))
    assert not early.enabled(tiny) and not set(early.FIGURES) & set(figures.default_figures(tiny))
    assert not set(early.FIGURES) & {fig for fig, _ in figures.rules(tiny)}  # no early rules without the block
    assert not early.enabled(validated(_raw(enabled=False)))


def test_fig9_reads_early_runs_and_the_regular_curve_at_convergence(main_config):
    params = early.figure_params(main_config, "fig9")
    hfs, he = early.hfinds(main_config), early.heval(main_config)
    ks, e, n = early.prune_epochs(main_config), main_config["training"]["epochs"], main_config["pruning"]["levels"]
    exp = f"results/{main_config['experiment']}"
    assert len(params["panels"]) == len(hfs) > 1
    panel, hf = params["panels"][0], hfs[0]
    assert panel["hfind"] == hf.slug
    assert [ln["prune_epoch"] for ln in panel["lines"]] == [*ks, e]
    k = ks[1]
    files = {(f["seed"], f["level"]): f["path"] for f in panel["lines"][1]["files"]}
    assert files[(0, 0)] == f"{exp}/early/find/{hf.slug}/epoch{k}/seed0/level0/metrics.json"
    assert files[(1, 3)] == f"{exp}/early/eval/{hf.slug}/epoch{k}/{he.slug}/seed1/level3/metrics.json"
    conv = {(f["seed"], f["level"]): f["path"] for f in panel["lines"][-1]["files"]}
    assert conv[(0, 0)] == f"{exp}/find/{hf.slug}/seed0/level0/metrics.json"
    last = max(conv)  # the last seed of the default config, its last level
    assert last == (max(main_config["seeds"]), n) and conv[last] == (
        f"{exp}/eval/lottery/{hf.slug}/{he.slug}/seed{last[0]}/level{n}/metrics.json")
    assert f"-{100 * (1 - k / e):.0f}%" in panel["lines"][1]["label"]
    assert early.figure_inputs(main_config, "figA19") == sorted(
        f"{exp}/early/lpr_trajectory/{h.slug}/seed{s}.csv" for h in hfs for s in main_config["seeds"])


def test_the_planning_half_imports_no_torch():
    code = ("import sys; from findeval import early; "
            "bad = {'numpy', 'pandas', 'torch', 'matplotlib'} & set(sys.modules); assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


# --------------------------------------------------------------------------- jobs on a tiny run


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    d = tmp_path_factory.mktemp("early_jobs")
    cfg = validated(_raw())
    jobs.prepare_data(str(d / "dataset.npz"), name="digits")
    jobs.init(str(d / "init.pt"), str(d / "reinit.pt"), str(d / "arch.json"), model=cfg["model"], dataset="digits",
              seed=0)
    return d, cfg


def _run_chain(d, cfg, hf: H, k: int, n: int = 2) -> dict:
    base = d / f"early_{hf.slug}_k{k}"
    out = {"trained": {lv: str(base / f"level{lv}/trained.pt") for lv in range(n)},
           "metrics": {lv: str(base / f"level{lv}/metrics.json") for lv in range(n)},
           "masks_out": {lv: str(base / f"level{lv}/mask.h5") for lv in range(1, n + 1)},
           "tickets": {lv: str(base / f"level{lv}/ticket.pt") for lv in range(1, n + 1)}}
    early_jobs.early_chain(**out, init=str(d / "init.pt"), data=str(d / "dataset.npz"), h_find=hf, prune_epoch=k, seed=0,
                      fraction=cfg["pruning"]["fraction"], training=cfg["training"],
                      augment=cfg["dataset"]["augment"])
    return out


def test_early_chains_in_lock_step_agree_with_one_chain_at_a_time(prepared, tmp_path):
    """runtime.find_group: two early chains of one k (LR 0.05 and 0.2) as grouped networks write the files and
    records of their one-chain runs (plus group_size 2; each its own H and LR), masks with the schedule's exact
    counts, test accuracies within the grouped tolerance of tests/test_granularity.py."""
    d, cfg = prepared
    hs, k, p = [H(0.05, 128, 5e-4), H(0.2, 128, 5e-4)], 1, cfg["pruning"]["fraction"]
    alone = {h: _run_chain(d, cfg, h, k) for h in hs}

    def files(h):
        base = tmp_path / f"grouped_{h.slug}"
        return {"h_find": h, "trained": {lv: str(base / f"level{lv}/trained.pt") for lv in range(2)},
                "metrics": {lv: str(base / f"level{lv}/metrics.json") for lv in range(2)},
                "masks_out": {lv: str(base / f"level{lv}/mask.h5") for lv in range(1, 3)},
                "tickets": {lv: str(base / f"level{lv}/ticket.pt") for lv in range(1, 3)}}

    chains = [files(h) for h in hs]
    early_jobs.early_chains(chains, init=str(d / "init.pt"), data=str(d / "dataset.npz"), prune_epoch=k, seed=0,
                            fraction=p, training=cfg["training"], augment=cfg["dataset"]["augment"], group=2)
    deltas = []
    for h, c in zip(hs, chains):
        for lv in range(2):
            a = json.loads(open(alone[h]["metrics"][lv]).read())
            b = json.loads(open(c["metrics"][lv]).read())
            assert set(b) == set(a) | {"group_size"} and b["group_size"] == 2
            for key in ("kind", "role", "level", "seed", "seeds", "H_find", "epochs", "prune_epoch", "sparsity"):
                assert a[key] == b[key], (h, lv, key)
            assert [r["lr"] for r in b["history"]] == pytest.approx([r["lr"] for r in a["history"]])
            deltas.append(abs(a["test_accuracy"] - b["test_accuracy"]))
        for lv in (1, 2):
            mask, attrs = masks.load_mask(c["masks_out"][lv])
            assert masks.n_kept(mask) == masks.kept_schedule(masks.n_total(mask), p, lv)[lv]
            assert attrs["prune_epoch"] == k and attrs["level"] == lv
            ticket, _ = load_checkpoint(c["tickets"][lv])
            assert all(not ticket[name].numpy()[~keep].any() for name, keep in mask.items())  # exact zeros
    assert sum(deltas) / len(deltas) < 0.05 and max(deltas) < 0.2, deltas
    with pytest.raises(ValueError, match="same levels"):
        short = files(hs[0])
        short["metrics"].pop(1), short["trained"].pop(1), short["masks_out"].pop(2), short["tickets"].pop(2)
        early_jobs.early_chains([files(hs[1]), short], init=str(d / "init.pt"), data=str(d / "dataset.npz"),
                                prune_epoch=k, seed=0, fraction=p, training=cfg["training"],
                                augment=cfg["dataset"]["augment"], group=2)


def test_early_find_groups_plan_the_lr_find_chains_of_one_epoch():
    cfg = validated(_raw(epochs=[1, 2], lr_find=[0.05, 0.1, 0.2]))
    assert [[h.lr for h in g] for g in early.find_groups(cfg, 14)] == [[0.05, 0.1, 0.2]]
    assert [[h.lr for h in g] for g in early.find_groups(cfg, 2)] == [[0.05, 0.1]]  # 0.2 alone: its own job
    assert early.find_groups(cfg, 1) == early.find_groups(cfg, 0) == []
    assert early.find_groups(validated(read_yaml(TINY)), 14) == []  # no early_pruning block
    with pytest.raises(ValueError, match="runtime.find_group -1"):
        early.find_groups(cfg, -1)


def test_early_chain_trains_k_epochs_per_iteration_and_prunes_exactly(prepared):
    d, cfg = prepared
    hf, k, p = H(0.1, 128, 5e-4), 1, cfg["pruning"]["fraction"]
    out = _run_chain(d, cfg, hf, k)
    for lv, path in out["metrics"].items():
        m = json.loads(open(path).read())
        assert len(m["history"]) == k and m["epochs"] == k and m["prune_epoch"] == k and m["level"] == lv
        assert m["kind"] == "early" and m["H_find"] == hf.as_dict()
    parent, total = None, None
    for lv, path in out["masks_out"].items():
        mask, attrs = masks.load_mask(path)
        total = total or masks.n_total(mask)
        assert masks.n_kept(mask) == masks.kept_schedule(total, p, lv)[lv]
        assert attrs["level"] == lv and attrs["prune_epoch"] == k
        if parent is not None:
            masks.check_monotone(mask, parent)
        parent = mask
        ticket, _ = load_checkpoint(out["tickets"][lv])
        for name, keep in mask.items():
            assert not ticket[name].numpy()[~keep].any()
    # level 0 is the first k epochs of the regular dense run (same theta_0, data order and schedule)
    full = jobs.train_run(str(d / "regular0/metrics.json"), out_trained=str(d / "regular0/trained.pt"),
                          start=str(d / "init.pt"), mask=None, data=str(d / "dataset.npz"), kind="lottery", h_find=hf,
                          h_eval=hf, level=0, seed=0, training=cfg["training"], augment=cfg["dataset"]["augment"],
                          role="train_find")
    level0 = json.loads(open(out["metrics"][0]).read())["history"]
    assert [r["test_accuracy"] for r in level0] == [r["test_accuracy"] for r in full["history"][:k]]
    assert [r["train_loss"] for r in level0] == [r["train_loss"] for r in full["history"][:k]]


def test_lpr_trajectory_reproduces_the_find_level0_run(prepared):
    d, cfg = prepared
    hf, p = H(0.1, 128, 5e-4), cfg["pruning"]["fraction"]
    regular = d / "regular0/trained.pt"
    if not regular.exists():
        jobs.train_run(str(d / "regular0/metrics.json"), out_trained=str(regular), start=str(d / "init.pt"),
                       mask=None, data=str(d / "dataset.npz"), kind="lottery", h_find=hf, h_eval=hf, level=0, seed=0,
                       training=cfg["training"], augment=cfg["dataset"]["augment"], role="train_find")
    df = early_jobs.lpr_trajectory(str(d / "traj.csv"), init=str(d / "init.pt"), data=str(d / "dataset.npz"), h_find=hf,
                              seed=0, fraction=p, training=cfg["training"], augment=cfg["dataset"]["augment"],
                              out_trained=str(d / "traj_final.pt"))
    mine, _ = load_checkpoint(str(d / "traj_final.pt"))
    ref, _ = load_checkpoint(str(regular))
    assert set(mine) == set(ref)
    for name in ref:
        assert torch.equal(mine[name], ref[name]), name
    assert list(pd.read_csv(d / "traj.csv").columns) == early_jobs.TRAJECTORY_COLUMNS
    assert sorted(df["epoch"].unique()) == list(range(cfg["training"]["epochs"] + 1))
    # the final epoch's LPR is that of the regular mask M_1
    jobs.prune(str(d / "regular1_mask.h5"), trained=str(regular), parent_mask=None, fraction=p, level=1, seed=0,
               h_find=hf)
    m1, _ = masks.load_mask(str(d / "regular1_mask.h5"))
    last = df[df["epoch"] == df["epoch"].max()]
    assert np.allclose(last["ratio"].to_numpy(), list(masks.lpr(m1).values()))
    assert np.allclose(df["final_ratio"], df.groupby("layer_index")["ratio"].transform("last"))
    # the LPR at epoch k is that of the early chain's M_1 for k
    out = _run_chain(d, cfg, hf, 1)
    e1, _ = masks.load_mask(out["masks_out"][1])
    assert np.allclose(df[df["epoch"] == 1]["ratio"].to_numpy(), list(masks.lpr(e1).values()))


# --------------------------------------------------------------------------- claim C5


def test_claim_c5_reads_fig9(main_config):
    params = claims.settings(main_config)
    spec = params["fig9"]
    hfs, base, e = early.hfinds(main_config), plan.default_h(main_config), main_config["training"]["epochs"]
    assert base in hfs  # the default H_find's panel
    middle = min(early.prune_epochs(main_config), key=lambda k: (abs(k - e / 2), k))  # nearest half the schedule
    assert spec == {"panel": hfs.index(base), "hfind": base.slug, "heval": early.heval(main_config).slug,
                    "middle_epoch": middle, "epochs": e}
    assert claims.inputs(main_config)["fig9"] == [f"results/{main_config['experiment']}/early/fig9.csv"]
    level = params["level"]
    others = [k for k in early.prune_epochs(main_config) if k != middle]

    def table(delta):
        rows = []
        for k, acc in ((others[0], 0.5), (middle, 0.7 + delta), *((k, 0.7) for k in others[1:]), (e, 0.7)):
            rows += [{"panel": panel, "prune_epoch": k, "level": lv, "seed": s,
                      "test_accuracy": acc + 0.002 * (s - 2.5) * (1 + (k == middle)) +
                      (0.3 if panel != spec["panel"] else 0)}
                     for panel in range(len(hfs)) for lv in range(main_config["pruning"]["levels"] + 1)
                     for s in range(6)]  # claims_stats.MIN_SEEDS: a verdict needs 6 seeds
        return pd.DataFrame(rows)

    def c5(tables):
        t = claims_jobs.claims_table(tables, params)
        return t.set_index("claim_id").loc["C5"]

    r = c5({"fig9": table(0.05)})
    assert r["verdict"] == "reproduced" and r["effect"] == pytest.approx(5.0) and r["level"] == level
    assert c5({"fig9": table(0.0)})["verdict"] == "inconclusive"  # strict (improves): a tie does not count
    assert c5({"fig9": table(-0.05)})["verdict"] == "not reproduced"
    r = c5({})
    assert r["verdict"] == "not run" and "early-pruning" in r["detail"]


# --------------------------------------------------------------------------- the rules


def test_dry_run_plans_the_early_jobs(tmp_path):
    raw = _raw(epochs=[1, 2])
    write_config(tmp_path, raw)
    r = snakemake(tmp_path, "-n", *(f"results/tiny/figures/{fig}.pdf" for fig in ("fig9", "figA18", "figA19")),
                  "results/tiny/claims.csv", timeout=180)
    planned = planned_jobs(r.stdout)
    by_rule = {}
    for j in planned:
        by_rule.setdefault(j.rule, []).append(j)
    # 2 LR_find x 2 epochs x 1 seed chains and sweeps; 2 trajectories; the regular chains for the k = E curve
    assert len(by_rule["early_find_chain"]) == 4 and len(by_rule["early_eval_sweep"]) == 4
    assert len(by_rule["lpr_trajectory"]) == 2
    assert {j.wildcards["epoch"] for j in by_rule["early_find_chain"]} == {"1", "2"}
    assert {j.wildcards["heval"] for j in by_rule["early_eval_sweep"]} == {"lr0.1_bs128_wd5e-4"}
    chain = next(j for j in by_rule["early_find_chain"] if j.wildcards["epoch"] == "1")
    assert any(o.endswith("level1/trained.pt") for o in chain.output)
    assert not any(o.endswith("level2/trained.pt") for o in chain.output)  # level N is never trained
    assert any(o.endswith("level2/mask.h5") for o in chain.output)
    for fig in early.FIGURES:
        assert len(by_rule[fig]) == 1
    assert "results/tiny/early/fig9.csv" in r.stdout[r.stdout.index("rule claims:"):].split("\n\n")[0]
    assert "train_find" in by_rule  # the convergence curve: the regular pipeline's runs
    # runtime.find_group 2 (chain granularity): the two LR_find chains of each k are one early_find_group job
    write_config(tmp_path, {**raw, "runtime": {"granularity": "chain", "find_group": 2}})
    grouped = planned_jobs(snakemake(tmp_path, "-n", "results/tiny/figures/fig9.pdf", timeout=180).stdout)
    groups = [j for j in grouped if j.rule == "early_find_group_0"]
    assert {j.wildcards["epoch"] for j in groups} == {"1", "2"} and len(groups) == 2
    assert not any(j.rule == "early_find_chain" for j in grouped)
    assert sum(o.endswith("/metrics.json") for o in groups[0].output) == 2 * 2  # 2 chains x levels 0..N-1
    # without the block, nothing of this is planned and the default target has no early figure
    write_config(tmp_path, read_yaml(TINY))
    r = snakemake(tmp_path, "-n", timeout=180)
    assert "early_find_chain" not in r.stdout and "fig9" not in r.stdout


@pytest.mark.slow
def test_tiny_run_of_the_early_figures(early_run):
    """The three figures of conftest.early_config (H_find = H_eval: the convergence curve is the find chain itself),
    run once per session (tests/test_digest.py holds its outputs to a stored digest)."""
    tmp_path = early_run["wd"]
    for fig in early.FIGURES:
        for ext, magic in (("pdf", b"%PDF"), ("png", b"\x89PNG")):
            assert (tmp_path / f"results/tiny/figures/{fig}.{ext}").read_bytes()[:4] == magic
    t9 = pd.read_csv(tmp_path / "results/tiny/early/fig9.csv")
    assert set(t9["prune_epoch"]) == {1, 3} and set(t9["level"]) == {0, 1, 2}
    early_rows = t9[t9["prune_epoch"] == 1]
    assert (early_rows["find_epochs"] == early_rows["level"]).all()
    assert (early_rows["find_epochs_regular"] == 3 * early_rows["level"]).all()
    assert np.allclose(early_rows["compute_saved"], 2 / 3)
    t19 = pd.read_csv(tmp_path / "results/tiny/early/figA19.csv")
    assert set(t19["epoch"]) == {0, 1, 2, 3}
    assert (t19[t19["epoch"] == 3]["distance_pp"] == 0).all()


def test_figA18_panels_are_a_large_then_a_small_lr_find(main_config):
    """L315: (a) LR_find 0.5, (b) 0.05; unset: the largest and the smallest early-pruning LR_find."""
    def labels(cfg):
        return [ln["label"] for ln in early.figure_params(cfg, "figA18")["lines"]]

    given = (main_config["figures"].get("figA18") or {}).get("lr_find")
    own = [h.lr for h in early.hfinds(main_config)]
    expect = given or [max(own), min(own)]
    assert labels(main_config) == [f"LR_find = {format_number(v)}" for v in expect]
    # figures.figA18 silent: the largest, then the smallest early-pruning LR_find
    cfg = copy.deepcopy(main_config)
    cfg["figures"].pop("figA18", None)
    cfg["early_pruning"] = {"lr_find": [0.1, 0.02, 0.5]}
    assert labels(cfg) == ["LR_find = 0.5", "LR_find = 0.02"]
    cfg["figures"]["figA18"] = {"lr_find": [0.5, 0.05]}
    assert labels(cfg) == ["LR_find = 0.5", "LR_find = 0.05"]
    # figA18's own LRs get trajectory runs; figA19 keeps the early-pruning LRs
    assert any("lr0.05_" in p for p in early.figure_inputs(cfg, "figA18"))
    assert not any("lr0.05_" in p for p in early.figure_inputs(cfg, "figA19"))
    assert len(early.figure_params(cfg, "figA19")["lines"]) == 3
