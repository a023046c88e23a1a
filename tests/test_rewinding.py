"""Rewinding variants (findeval.rewinding.plan, Fig. 4) and the instability analysis
(findeval.rewinding.instability_plan, Figs. A13 and A14):
late rewinding resumes the schedule at epoch k from theta_k * M, learning-rate rewinding starts
from the previous level's trained weights * M, warmup sits in H_find only, the interpolation's endpoints are
the two copies, what the figures plan, and a tiny end-to-end run of fig4, figA13 and figA14."""

import copy
import json

import numpy as np
import pytest
import torch

from conftest import REWINDING_TARGETS, TINY, planned_jobs, read_yaml, snakemake, validated, write_config
from findeval import masks, models, runs, training as tr
from findeval.a1 import jobs, plan
from findeval.hparams import H, derive_seed, run_seeds
from findeval.io import load_checkpoint, read_json
from findeval.rewinding import instability_jobs
from findeval.rewinding import instability_plan as instability
from findeval.rewinding import jobs as rewinding_jobs
from findeval.rewinding import plan as rewinding
from findeval.workflow import ConfigError

TRAINING = {"epochs": 2, "milestones": [1], "gamma": 0.2}
AUGMENT = {"crop_scale": [0.5, 1.0], "crop_ratio": [0.75, 1.3333333], "flip": False}
MODEL = {"name": "resnet_cifar", "depth": 8, "width": 4}
HF = H(0.1, 128, 5e-4)
SEED = 0


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Prepared digits, theta_0 of replicate 0 and the regular dense (level 0) run with HF."""
    d = tmp_path_factory.mktemp("rewinding")
    data = str(d / "dataset.npz")
    jobs.prepare_data(data, name="digits")
    jobs.init(str(d / "init.pt"), str(d / "reinit.pt"), str(d / "arch.json"), model=MODEL, dataset="digits", seed=SEED)
    (d / "dense").mkdir()
    jobs.train_run(str(d / "dense/metrics.json"), out_trained=str(d / "dense/trained.pt"), start=str(d / "init.pt"),
                   mask=None, data=data, kind="lottery", h_find=HF, h_eval=HF, level=0, seed=SEED,
                   training=TRAINING, augment=AUGMENT, role="train_find")
    return d


def _chain(d, variant, levels=2, **kw):
    out = d / variant
    out.mkdir(exist_ok=True)
    files = {name: {lv: str(out / f"{name}{lv}.{ext}") for lv in range(1, levels + 1)}
             for name, ext in (("mask", "h5"), ("ticket", "pt"), ("trained", "pt"), ("metrics", "json"))}
    if variant == "warmup":
        files["trained"][0], files["metrics"][0] = str(out / "trained0.pt"), str(out / "metrics0.json")
    rewinding_jobs.variant_chain(variant=variant, trained=files["trained"], metrics=files["metrics"],
                            masks_out=files["mask"], tickets=files["ticket"], data=str(d / "dataset.npz"), h_find=HF,
                            seed=SEED, fraction=0.5, training=TRAINING, augment=AUGMENT, **kw)
    return files


def _state(path):
    return load_checkpoint(path, require_finite=False)[0]


def _assert_ticket(ticket, start, mask_path):
    m, _ = masks.load_mask(mask_path)
    expected = masks.apply_mask(_state(start), m)
    got = _state(ticket)
    assert set(got) == set(expected)
    for k in got:
        assert torch.equal(got[k], expected[k]), k


# --------------------------------------------------------------------------- late rewinding


def test_theta_k_is_the_dense_run_after_k_epochs(base):
    """theta_k (late_theta) is bit for bit the regular dense run's weights after epoch k."""
    rewinding_jobs.late_theta(str(base / "theta1.pt"), init=str(base / "init.pt"), data=str(base / "dataset.npz"),
                         h_find=HF, seed=SEED, late_epoch=1, training=TRAINING, augment=AUGMENT)
    state, meta = load_checkpoint(str(base / "init.pt"))
    model = models.build(meta["model_spec"])
    models.load_state(model, state)
    snap = {}
    tr.train(model, runs.load_data(str(base / "dataset.npz"), "cpu"), HF, tr.Schedule.from_config(TRAINING),
             data_seed=run_seeds(SEED)["data"], augment=tr.Augment.from_config(AUGMENT),
             on_epoch_end=lambda e, m: snap.setdefault(e, {k: v.clone() for k, v in m.state_dict().items()}))
    theta, tmeta = load_checkpoint(str(base / "theta1.pt"))
    assert tmeta["epoch"] == 1 and len(tmeta["history"]) == 1
    for k, v in theta.items():
        assert torch.equal(v, snap[1][k]), k


def test_late_rewinding_resumes_schedule_at_k_from_theta_k_times_mask(base):
    if not (base / "theta1.pt").exists():
        test_theta_k_is_the_dense_run_after_k_epochs(base)
    files = _chain(base, "late", dense=str(base / "dense/trained.pt"), theta=str(base / "theta1.pt"), late_epoch=1)
    sched = tr.Schedule.from_config(TRAINING)
    for lv in (1, 2):
        _assert_ticket(files["ticket"][lv], base / "theta1.pt", files["mask"][lv])  # theta_k * M_L exactly
        m = read_json(files["metrics"][lv])
        assert m["first_epoch"] == 1 and m["variant"] == "late"
        assert [h["epoch"] for h in m["history"]] == [2]  # epochs k+1..E
        iters = m["iterations_per_epoch"]
        assert m["history"][0]["lr"] == pytest.approx(HF.lr * sched.lr_factor(1, iters - 1, iters))
        assert m["history"][0]["lr"] == pytest.approx(HF.lr * 0.2)  # after the milestone at epoch 1
        assert m["seeds"]["data"] == run_seeds(SEED)["data"]
    # M_1 comes from the regular dense run, M_2 from the late chain's level-1 training
    dense_mask = masks.global_magnitude_prune(
        {k: v.numpy() for k, v in _state(base / "dense/trained.pt").items()}, None, 0.5)
    m1, _ = masks.load_mask(files["mask"][1])
    assert all(np.array_equal(m1[k], dense_mask[k]) for k in m1)
    m2, _ = masks.load_mask(files["mask"][2])
    assert masks.sparsity(m2) == pytest.approx(0.75, abs=1e-3)
    # an evaluation with another H trains the same ticket from epoch k
    out = {1: str(base / "late/eval1.json")}
    he = HF.replace(lr=0.2)
    rewinding_jobs.variant_eval_sweep(vdir="late/k1", metrics=out, starts={1: files["ticket"][1]},
                                 masks_in={1: files["mask"][1]}, data=str(base / "dataset.npz"), h_find=HF, h_eval=he,
                                 seed=SEED, training=TRAINING, augment=AUGMENT)
    e = read_json(out[1])
    assert e["first_epoch"] == 1 and [h["epoch"] for h in e["history"]] == [2]
    assert e["H_eval"]["lr"] == 0.2 and e["history"][0]["lr"] == pytest.approx(0.2 * 0.2)


# --------------------------------------------------------------------------- LR rewinding and warmup


def test_lr_rewinding_starts_from_previous_trained_times_mask(base):
    files = _chain(base, "lr_rewind", dense=str(base / "dense/trained.pt"))
    _assert_ticket(files["ticket"][1], base / "dense/trained.pt", files["mask"][1])
    _assert_ticket(files["ticket"][2], files["trained"][1], files["mask"][2])
    for lv in (1, 2):
        m = read_json(files["metrics"][lv])
        assert m["first_epoch"] == 0 and [h["epoch"] for h in m["history"]] == [1, 2]  # the whole schedule
        assert m["history"][0]["lr"] == pytest.approx(HF.lr)


def test_warmup_in_find_runs_only(base):
    files = _chain(base, "warmup", init=str(base / "init.pt"), warmup_iters=30)
    m0 = read_json(files["metrics"][0])
    assert m0["warmup_iters"] == 30 and m0["level"] == 0
    iters = m0["iterations_per_epoch"]
    assert m0["history"][0]["lr"] == pytest.approx(HF.lr * iters / 30)  # still warming up at the end of epoch 1
    _assert_ticket(files["ticket"][1], base / "init.pt", files["mask"][1])  # rewinds to theta_0
    out = {1: str(base / "warmup/eval1.json")}
    rewinding_jobs.variant_eval_sweep(vdir="warmup/w30", metrics=out, starts={1: files["ticket"][1]},
                                 masks_in={1: files["mask"][1]}, data=str(base / "dataset.npz"), h_find=HF, h_eval=HF,
                                 seed=SEED, training=TRAINING, augment=AUGMENT)
    e = read_json(out[1])
    assert e["warmup_iters"] == 0 and e["history"][0]["lr"] == pytest.approx(HF.lr)


@pytest.mark.parametrize("variant", rewinding.VARIANTS)
def test_variant_chains_in_lock_step_agree_with_one_chain_at_a_time(base, tmp_path, variant):
    """runtime.find_group (rules rewinding_group_<i>): two chains of one variant (LR 0.1 and 0.2) as grouped
    networks write the files and records of their one-chain runs (plus group_size 2), tickets that are exactly
    their rewind target times the mask, masks with the schedule's counts, accuracies within the grouped
    tolerance of tests/test_granularity.py."""
    h2 = HF.replace(lr=0.2)
    data = str(base / "dataset.npz")
    dense = {HF: str(base / "dense/trained.pt"), h2: str(tmp_path / "dense2/trained.pt")}
    jobs.train_run(str(tmp_path / "dense2/metrics.json"), out_trained=dense[h2], start=str(base / "init.pt"),
                   mask=None, data=data, kind="lottery", h_find=h2, h_eval=h2, level=0, seed=SEED, training=TRAINING,
                   augment=AUGMENT, role="train_find")
    theta = {}
    for h in (HF, h2):
        theta[h] = str(tmp_path / f"theta_{h.slug}.pt")
        rewinding_jobs.late_theta(theta[h], init=str(base / "init.pt"), data=data, h_find=h, seed=SEED, late_epoch=1,
                                  training=TRAINING, augment=AUGMENT)
    kw = {"late": {"late_epoch": 1}, "warmup": {"init": str(base / "init.pt"), "warmup_iters": 30},
          "lr_rewind": {}}[variant]

    def files(root, h):
        out = tmp_path / root / h.slug
        out.mkdir(parents=True)
        f = {name: {lv: str(out / f"{name}{lv}.{ext}") for lv in (1, 2)}
             for name, ext in (("masks_out", "h5"), ("tickets", "pt"), ("trained", "pt"), ("metrics", "json"))}
        if variant == "warmup":
            f["trained"][0], f["metrics"][0] = str(out / "trained0.pt"), str(out / "metrics0.json")
        return {"h_find": h, **f, "dense": dense[h] if variant != "warmup" else None,
                "theta": theta[h] if variant == "late" else None}

    common = dict(variant=variant, data=data, seed=SEED, fraction=0.5, training=TRAINING, augment=AUGMENT, **kw)
    alone = [files("alone", h) for h in (HF, h2)]
    for c in alone:
        rewinding_jobs.variant_chains([c], **common)
    grouped = [files("grouped", h) for h in (HF, h2)]
    rewinding_jobs.variant_chains(grouped, group=2, **common)
    deltas = []
    for a, b in zip(alone, grouped):
        for lv in b["metrics"]:
            ma, mb = read_json(a["metrics"][lv]), read_json(b["metrics"][lv])
            assert set(mb) == set(ma) | {"group_size"} and mb["group_size"] == 2
            for key in ("kind", "role", "variant", "level", "seeds", "H_find", "H_eval", "first_epoch",
                        "warmup_iters", "sparsity"):
                assert ma[key] == mb[key], (variant, lv, key)
            deltas.append(abs(ma["test_accuracy"] - mb["test_accuracy"]))
        for lv in (1, 2):
            target = {"late": b["theta"], "warmup": str(base / "init.pt"),
                      "lr_rewind": b["dense"] if lv == 1 else b["trained"][1]}[variant]
            _assert_ticket(b["tickets"][lv], target, b["masks_out"][lv])
            m, _ = masks.load_mask(b["masks_out"][lv])
            assert masks.sparsity(m) == pytest.approx(1 - 0.5 ** lv, abs=1e-3)
    assert sum(deltas) / len(deltas) < 0.05 and max(deltas) < 0.2, deltas


def test_rewinding_find_groups_are_fig4s_chains_per_variant(main_config):
    groups = rewinding.find_groups(main_config, 14)
    s = rewinding.settings(main_config)
    assert [g["variant"] for g in groups] == list(rewinding.VARIANTS)
    for g in groups:
        assert [h.lr for h in g["hs"]] == s["lr_find"] and g["vdir"] == rewinding.variant_dir(main_config, g["variant"])
    assert rewinding.find_groups(main_config, 0) == rewinding.find_groups(main_config, 1) == []
    with pytest.raises(ValueError, match="runtime.find_group -1"):
        rewinding.find_groups(main_config, -1)


# --------------------------------------------------------------------------- instability


def test_interpolation_endpoints_are_the_copies(base):
    """alpha 0 and 1 give exactly copy A and copy B (weights), and their accuracy with BN recomputed."""
    d = base / "inst"
    d.mkdir()
    m1 = masks.global_magnitude_prune({k: v.numpy() for k, v in _state(base / "dense/trained.pt").items()}, None,
                                      0.5)
    masks.save_mask(d / "mask.h5", m1, kind="lottery", level=1, seed=SEED, h_find=HF, fraction=0.5, seeds={})
    jobs.rewind(str(d / "ticket.pt"), start=str(base / "init.pt"), mask=str(d / "mask.h5"))
    rewinding_jobs.train_variant(str(d / "a.json"), out_trained=str(d / "a.pt"), start=str(d / "ticket.pt"),
                            mask=str(d / "mask.h5"), data=str(base / "dataset.npz"), variant="lottery", h_find=HF,
                            h_eval=HF, level=1, seed=SEED, training=TRAINING, augment=AUGMENT, role="train_find")
    r = instability_jobs.instability(str(d / "interp.json"), ticket=str(d / "ticket.pt"), mask=str(d / "mask.h5"),
                                copy_a=str(d / "a.pt"), copy_a_metrics=str(d / "a.json"),
                                data=str(base / "dataset.npz"), h=HF, seed=SEED, level=1, late_epoch=0, alphas=5,
                                training=TRAINING, augment=AUGMENT, out_copy_b=str(d / "b.pt"))
    a, b = _state(d / "a.pt"), _state(d / "b.pt")
    assert r["data_seeds"] == {"copy_a": run_seeds(SEED)["data"], "copy_b": derive_seed(SEED, "data", "instability",
                                                                                         "copy_b")}
    assert r["data_seeds"]["copy_a"] != r["data_seeds"]["copy_b"]
    assert any(not torch.equal(a[k], b[k]) for k in a)  # other SGD noise, other weights
    for k in a:
        assert torch.equal(instability_jobs.interpolate_state(a, b, 0.0)[k], a[k])
        assert torch.equal(instability_jobs.interpolate_state(a, b, 1.0)[k], b[k])
    mid = instability_jobs.interpolate_state(a, b, 0.5)
    assert all(not mid[k][~torch.as_tensor(m1[k])].any() for k in m1)  # pruned weights stay zero
    data = runs.load_data(str(base / "dataset.npz"), "cpu")
    model = models.build(load_checkpoint(str(d / "a.pt"))[1]["model_spec"])
    ends = [instability_jobs.evaluate_bn(model, s, data) for s in (a, b)]
    pts = r["interpolation"]
    assert [p["alpha"] for p in pts] == [0, 0.25, 0.5, 0.75, 1]
    assert pts[0]["test_accuracy"] == ends[0]["accuracy"] and pts[0]["test_loss"] == pytest.approx(ends[0]["loss"])
    assert pts[-1]["test_accuracy"] == ends[1]["accuracy"]
    assert r["copy_a_test_accuracy"] == read_json(d / "a.json")["test_accuracy"]
    assert r["endpoints_without_bn_recompute"]["a"] == r["copy_a_test_accuracy"]


def test_recompute_bn_uses_training_statistics(base):
    """After the recomputation, a BN layer's running mean is the mean of its inputs over the training images."""
    state, meta = load_checkpoint(str(base / "dense/trained.pt"))
    model = models.build(meta["model_spec"])
    models.load_state(model, state)
    data = runs.load_data(str(base / "dataset.npz"), "cpu")
    seen = []
    hook = model.bn1.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach()))
    instability_jobs.recompute_bn(model, data, batch_size=len(data.y_train))  # one batch: the exact mean
    hook.remove()
    assert len(seen) == 1
    assert torch.allclose(model.bn1.running_mean, seen[0].mean(dim=(0, 2, 3)), atol=1e-5)


# --------------------------------------------------------------------------- planning


def test_default_settings_and_paths(main_config):
    s = rewinding.settings(main_config)
    block = main_config["rewinding"]
    assert (s["late_epoch"], s["warmup_iters"], s["warmup_in_eval"]) == (
        block["late_epoch"], block["warmup_iters"], block["warmup_in_eval"])
    silent = copy.deepcopy(main_config)
    for key in ("late_epoch", "warmup_iters", "warmup_in_eval"):
        del silent["rewinding"][key]
    t = rewinding.settings(silent)  # unset: rewind to epoch 1; 25 warmup iterations of H_find only
    assert (t["late_epoch"], t["warmup_iters"], t["warmup_in_eval"]) == (1, 25, False)
    # Fig. 4 (L82): two LR_find x two LR_eval per panel, unstated: defaults.lr and the grid's largest
    find, evals = sorted(set(main_config["grids"]["lr"]["find"])), sorted(set(main_config["grids"]["lr"]["eval"]))
    centre = main_config["defaults"]["lr"]
    assert s["lr_find"] == [centre if centre in find[:-1] else find[-2], find[-1]]
    assert s["lr_eval"] == s["lr_rewind_eval"] == [centre if centre in evals[:-1] else evals[-2], evals[-1]]
    assert [len(p["lines"]) for p in rewinding.figure_panels(main_config)] == [4, 4, 4]
    assert s["levels"] == main_config["pruning"]["levels"]
    i = instability.settings(main_config)
    small_large = main_config["instability"]["lr"] or [min(find), centre]  # unset: the paper's 0.05, 0.2
    n = s["levels"]
    lv = main_config["instability"]["levels"] or sorted({min(3, n), min(6, n)})  # unset: 48.8%, 73.8% pruned
    alphas = main_config["instability"]["alphas"]
    assert (i["lr_small"], i["lr_large"], i["levels"], i["alphas"]) == (*small_large, lv, alphas)
    base = plan.default_h(main_config)
    h, he = base.replace(lr=min(find)), base.replace(lr=max(evals))
    assert h != he
    k, w, exp = s["late_epoch"], s["warmup_iters"], f"results/{main_config['experiment']}"
    mp = rewinding.metrics_path
    assert mp(main_config, "late", h, he, 0, 0) == plan.metrics_path(main_config, plan.Line("lottery", h, h), 0, 0)
    assert mp(main_config, "late", h, h, 1, 3) == f"{exp}/late/k{k}/{h.slug}/seed1/level3/metrics.json"
    late_eval = f"{exp}/late/k{k}/eval/{h.slug}/{he.slug}/seed1/level3/metrics.json"
    assert mp(main_config, "late", h, he, 1, 3) == late_eval
    # warmup: the dense point is its own run, and the coupled evaluation (no warmup) is not the find run
    assert mp(main_config, "warmup", h, h, 0, 0) == f"{exp}/warmup/w{w}/{h.slug}/seed0/level0/metrics.json"
    warm_eval = f"{exp}/warmup/w{w}/eval/{h.slug}/{h.slug}/seed0/level2/metrics.json"
    assert mp(main_config, "warmup", h, h, 0, 2) == warm_eval
    assert mp(main_config, "lr_rewind", h, h, 0, 2) == f"{exp}/lr_rewind/{h.slug}/seed0/level2/metrics.json"
    assert rewinding.parse_variant("late/k3") == {"variant": "late", "late_epoch": 3, "warmup_iters": None}
    lines = [ln["label"] for ln in instability.figure_panels(main_config, "figA14")[0]["lines"]]
    assert lines == [f"lottery ticket, late rewinding to epoch {k}", "global random", "preserve LPR", "preserve mask"]


def test_two_values_of_a_grid():
    assert rewinding.two_values([0.05, 0.2, 0.5], 0.2) == [0.2, 0.5]
    assert rewinding.two_values([0.5, 0.05, 0.2], 0.5) == [0.2, 0.5]  # the centre is the largest: the next one
    assert rewinding.two_values([0.05, 0.2, 0.5], 0.1) == [0.2, 0.5]  # not in the grid: the two largest
    assert rewinding.two_values([0.1], 0.1) == [0.1]


def test_fig4_marks_its_readings(main_config):
    params = rewinding.figure_params(main_config)
    titles = [p["title"] for p in params["panels"]]
    assert "theta_k of H_find's dense run" in titles[0] and "H_eval without warmup" in titles[1]
    assert "without warmup" in params["note"] and "dense run" in params["note"]
    warm = {**main_config, "rewinding": {**main_config["rewinding"], "warmup_in_eval": True}}
    assert "without warmup" not in rewinding.figure_params(warm)["panels"][1]["title"]


def test_bad_settings(tiny_raw):
    for block, key, value, msg in (("rewinding", "late_epoch", 2, "late_epoch"), ("rewinding", "levels", 3, "levels"),
                                   ("instability", "levels", [3], "instability.levels")):
        cfg = validated({**copy.deepcopy(tiny_raw), block: {key: value}})
        with pytest.raises(ConfigError, match=msg):
            instability.settings(cfg)


def test_dry_run_plans_the_figures(tmp_path):
    write_config(tmp_path, read_yaml(TINY))
    r = snakemake(tmp_path, "-n", "results/tiny/figures/fig4.pdf", "results/tiny/figures/figA13.pdf", "results/tiny/figures/figA14.pdf")
    rules = {j.rule for j in planned_jobs(r.stdout)}
    assert {"late_theta", "late_chain", "warmup_chain", "lr_rewind_chain", "variant_eval_sweep", "instability",
            "late_preserve_lpr_masks", "late_random_eval_sweep", "fig4", "figA13", "figA14"} <= rules
    out = {o for j in planned_jobs(r.stdout) for o in j.output}
    assert "results/tiny/late/k1/lr0.05_bs128_wd5e-4/seed0/theta_k.pt" in out
    assert "results/tiny/instability/k0/lr0.05_bs128_wd5e-4/seed0/level2/interpolation.json" in out
    # runtime.find_group 2 (chain granularity): each variant's two LR_find chains are one rewinding_group job
    cfg = read_yaml(TINY)
    cfg["runtime"] = {"granularity": "chain", "find_group": 2}
    write_config(tmp_path, cfg)
    r = snakemake(tmp_path, "-n", "results/tiny/figures/fig4.pdf", "results/tiny/figures/figA13.pdf")
    by_rule = {}
    for j in planned_jobs(r.stdout):
        by_rule.setdefault(j.rule, []).append(j)
    assert {f"rewinding_group_{i}" for i in range(3)} <= set(by_rule), sorted(by_rule)
    assert not {"late_chain", "warmup_chain", "lr_rewind_chain"} & set(by_rule), sorted(by_rule)
    assert sum(o.endswith("metrics.json") for o in by_rule["rewinding_group_1"][0].output) == 2 * 3  # warmup: 0..2


# --------------------------------------------------------------------------- end to end


def test_e2e_tiny_figures(rewinding_run):
    """The three figure targets, for real, on a one-level miniature (conftest.rewinding_config, chain granularity;
    run once per session, tests/test_digest.py holds its outputs to a stored digest)."""
    tmp_path = rewinding_run["wd"]
    targets = REWINDING_TARGETS
    for t in targets:
        assert (tmp_path / t).stat().st_size > 1000
    import pandas as pd

    t4 = pd.read_csv(tmp_path / "results/tiny/rewinding/fig4.csv")
    assert set(t4["panel"]) == {0, 1, 2} and set(t4["level"]) == {0, 1} and not t4["test_accuracy"].isna().any()
    t13 = pd.read_csv(tmp_path / "results/tiny/instability/figA13.csv")
    assert sorted(set(t13["alpha"])) == [0, 0.5, 1] and set(t13["late_epoch"]) == {0, 1}
    t14 = pd.read_csv(tmp_path / "results/tiny/instability/figA14.csv")
    assert set(t14["line"]) == {"lottery ticket, late rewinding to epoch 1", "global random", "preserve LPR",
                                "preserve mask"}
    j = json.loads((tmp_path / "results/tiny/instability/k1/lr0.1_bs128_wd5e-4/seed0/level1/interpolation.json")
                   .read_text())
    assert j["copy_a_test_accuracy"] == json.loads(
        (tmp_path / "results/tiny/late/k1/lr0.1_bs128_wd5e-4/seed0/level1/metrics.json").read_text())["test_accuracy"]
