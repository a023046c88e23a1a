"""Figures A8 and A9 (Section 3.3, other models and datasets): the LR panels of Fig. 2 on a second experiment
derived from the main config (``other_models``), its runs under results/<its experiment>/.

Planning and config errors are checked on the config dicts; one small real run (tiny config, a ResNet-18 at
width 2 as the other model) checks that the jobs of figA8 train the other model, never touch the main
experiment, and that an edit of either experiment re-plans only that experiment's jobs.
"""

from __future__ import annotations

import copy
import json

import h5py
import pytest

from conftest import REPO, SCHEMA, TINY, planned_jobs, read_yaml, snakemake, validated, write_config
from findeval.a1 import plan
from findeval.hparams import H
from findeval.workflow import ConfigError, check_experiments, dataset_ready, validate_file

OTHER = {"model": {"name": "resnet18", "width": 2}, "caption": "a stand-in"}


def experiments(config: dict) -> dict:
    return check_experiments(config, lambda c: validate_file(c, str(SCHEMA)))


def tiny_with(**entries) -> dict:
    raw = read_yaml(TINY)
    raw["other_models"] = copy.deepcopy(entries)
    return raw


# --------------------------------------------------------------------------- planning


def test_default_config_has_two_stand_ins(main_config):
    exps = experiments(main_config)
    entries = main_config["other_models"]
    assert list(exps) == [main_config["experiment"], entries["figA8"]["experiment"], entries["figA9"]["experiment"]]
    wide, r18 = exps[entries["figA8"]["experiment"]], exps[entries["figA9"]["experiment"]]
    assert wide["model"] == entries["figA8"]["model"] != main_config["model"]
    assert wide["model"]["name"] == "resnet_cifar" and wide["model"]["width"] > main_config["model"]["width"]
    assert r18["model"] == entries["figA9"]["model"] and r18["model"]["name"] == "resnet18"
    for fig, derived in (("figA8", wide), ("figA9", r18)):  # what the entry does not set is the main experiment's
        for key in ("dataset", "training", "defaults", "seeds", "pruning", "runtime"):
            assert derived[key] == main_config[key], key
        bs = main_config["defaults"]["batch_size"]
        assert derived["grids"]["batch_size"] == {"find": [bs], "eval": [bs]}
        assert derived["grids"]["lr"] == entries[fig]["lr"]
    assert plan.other_figures(main_config) == ["figA8", "figA9"]
    for fig in ("figA8", "figA9"):
        exp = entries[fig]["experiment"]
        files = plan.figure_inputs(main_config, fig)
        assert files and all(f.startswith(f"results/{exp}/") for f in files)
        params = plan.figure_params(main_config, fig)
        assert params["experiment"] == exp and params["caption"].startswith("stand-in for ResNet-")


def test_figA8_panels_follow_the_paper(main_config):
    """(a)-(c): one panel per constant LR_eval of the entry (paper: 0.02, 0.1, 0.5), each with every LR_find
    and both random baselines; (d): constant_find (unset: defaults.lr) with every LR_eval."""
    entry = main_config["other_models"]["figA8"]
    finds, evals = sorted(entry["lr"]["find"]), sorted(entry["lr"]["eval"])
    const_find = entry.get("constant_find")
    const_find = [main_config["defaults"]["lr"]] if const_find is None else const_find
    panels = plan.figure_panels(main_config, "figA8")
    base = H(**main_config["defaults"])
    assert len(evals) == 3 and const_find  # the paper's four panels
    assert [(p["compare"], p["constant"].lr) for p in panels] == [
        *(("find", v) for v in evals), *(("eval", v) for v in const_find)]
    for p in panels[:len(evals)]:
        lottery = [ln for ln in p["lines"] if ln.kind == "lottery"]
        assert [ln.hfind.lr for ln in lottery] == finds
        assert {ln.heval for ln in lottery} == {p["constant"]}
        assert {ln.kind for ln in p["lines"]} == {"lottery", "global_random", "preserve_lpr"}
    for p in panels[len(evals):]:
        lottery = [ln for ln in p["lines"] if ln.kind == "lottery"]
        assert [ln.heval.lr for ln in lottery] == evals and {ln.hfind for ln in lottery} == {p["constant"]}
    assert all(ln.heval.batch_size == base.batch_size for p in panels for ln in p["lines"])


def test_figA9_has_the_two_constant_eval_panels(main_config):
    entry = main_config["other_models"]["figA9"]
    finds, evals = set(entry["lr"]["find"]), sorted(entry["lr"]["eval"])
    assert entry["constant_find"] == [] and len(evals) == 2  # as the paper: (a), (b) at a constant LR_eval
    panels = plan.figure_panels(main_config, "figA9")
    assert [(p["compare"], p["constant"].lr) for p in panels] == [("find", v) for v in evals]
    # every level of every seed of every curve, the dense level 0 of each lottery curve included
    n_levels, n_seeds = main_config["pruning"]["levels"], len(main_config["seeds"])
    lines = plan.figure_lines(main_config, "figA9")
    expected = set()
    for ln in lines:
        expected |= set(plan.line_files(plan.other_model_configs(main_config)["figA9"], ln))
    assert set(plan.figure_inputs(main_config, "figA9")) == expected
    n_lottery, n_random = len(finds) * len(evals), 2 * len(evals)
    assert sum(ln.kind == "lottery" for ln in lines) == n_lottery
    assert sum(ln.kind != "lottery" for ln in lines) == n_random
    # decoupled and random curves are evaluation runs (levels 1-L); coupled curves (LR_find = LR_eval) are find
    # runs (levels 0-L), and each LR_find never coupled here adds its dense level 0
    coupled = finds & set(evals)
    assert coupled  # the case the count below is about
    decoupled = n_lottery - len(coupled)
    assert len(expected) == (decoupled + n_random) * n_seeds * n_levels + (
        len(coupled) * (n_levels + 1) + len(finds - coupled)) * n_seeds


def test_an_entry_replaces_a_block_wholesale():
    config = validated(tiny_with(figA8={"model": {"name": "resnet18"}}))
    derived = experiments(config)["tiny-figa8"]
    assert derived["model"] == {"name": "resnet18"}  # no depth/width inherited from resnet_cifar
    assert derived["training"] == config["training"]


def test_the_main_experiments_name_reuses_its_runs():
    config = validated(tiny_with(figA8={"experiment": "tiny"}))
    assert list(experiments(config)) == ["tiny"]
    # the same files as Fig. 2's LR panels wherever the curves coincide
    assert set(plan.figure_inputs(config, "figA8")) & set(plan.figure_inputs(config, "fig2"))
    assert all(f.startswith("results/tiny/") for f in plan.figure_inputs(config, "figA8"))


def test_two_entries_may_share_an_experiment():
    config = validated(tiny_with(figA8={**OTHER, "experiment": "other"}, figA9={**OTHER, "experiment": "other"}))
    assert list(experiments(config)) == ["tiny", "other"]


def test_a_dataset_without_root_is_left_for_later():
    entry = {"dataset": {"name": "miniplaces", "root": None}, "model": {"name": "resnet18"}}
    config = validated(tiny_with(figA8=entry))
    derived = experiments(config)["tiny-figa8"]
    assert not dataset_ready(derived["dataset"]) and dataset_ready(config["dataset"])


@pytest.mark.parametrize("entry, match", [
    ({"model": {"name": "resnet_cifar", "depth": 10}}, r"other_models\.figA8: model\.depth.*6n\+2"),
    ({"model": {"name": "vgg"}}, r"(?s)other_models\.figA8:.*vgg"),
    ({"training": {"epochs": 3, "milestones": [5]}}, r"other_models\.figA8: training\.milestones"),
    ({"experiment": "tiny", **OTHER}, r"other_models\.figA8\.experiment: 'tiny' is already the main experiment's"),
    ({"constant_eval": [], "constant_find": []}, r"other_models\.figA8: .*no panel"),
    ({"dataset": {"name": "miniplaces", "root": "/nowhere/at/all"}}, r"other_models\.figA8: .*/nowhere/at/all"),
])
def test_bad_entries_name_the_entry(entry, match):
    config = validated(tiny_with(figA8=entry))
    with pytest.raises(ConfigError, match=match):
        experiments(config)


def test_two_entries_with_one_name_must_agree():
    config = validated(tiny_with(figA8={**OTHER, "experiment": "other"},
                                 figA9={"model": {"name": "resnet50"}, "experiment": "other"}))
    with pytest.raises(ConfigError, match=r"other_models\.figA9\.experiment: 'other' is already "
                                          r"other_models\.figA8's, whose model differ"):
        experiments(config)


@pytest.mark.parametrize("entry", [{"pruning": {"levels": 3}}, {"runtime": {"threads": 2}}, {"colour": "red"}])
def test_schema_rejects_what_an_entry_cannot_set(entry):
    with pytest.raises(Exception, match="Additional properties"):
        validated(tiny_with(figA8=entry))


def test_unset_figures_have_no_rule(tiny_config):
    assert plan.other_figures(tiny_config) == []
    with pytest.raises(KeyError):
        plan.figure_inputs(tiny_config, "figA8")


# --------------------------------------------------------------------------- Snakemake


def test_dry_run_plans_only_the_other_experiment(tmp_path):
    raw = tiny_with(figA8=OTHER, figA9={"dataset": {"name": "miniplaces", "root": None}})
    write_config(tmp_path, raw)
    out = snakemake(tmp_path, "-n", "results/tiny/figures/figA8.pdf").stdout
    jobs = planned_jobs(out)
    assert {j.rule for j in jobs} >= {"prepare_data", "init", "train_find", "train_eval", "figA8"}
    assert all(j.wildcards.get("exp", "tiny-figa8") == "tiny-figa8" for j in jobs), out
    # the default target draws figA8, but not figA9, whose dataset has no folder yet
    rules = {j.rule for j in planned_jobs(snakemake(tmp_path, "-n").stdout)}
    assert "figA8" in rules and "figA9" not in rules
    # asked for, figA9 stops at its data preparation, naming what is missing
    r = snakemake(tmp_path, "results/tiny/figures/figA9.pdf", check=False, timeout=300)
    assert r.returncode != 0
    assert "needs dataset.root" in r.stdout + r.stderr + "".join(
        p.read_text() for p in (tmp_path / "results").rglob("prepare_data.log"))
    assert not (tmp_path / "results/tiny/figures" / "figA9.pdf").exists()


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    wd = tmp_path_factory.mktemp("other_models")
    raw = tiny_with(figA8=OTHER)
    raw["runtime"] = {"granularity": "chain"}
    write_config(wd, raw)
    snakemake(wd, "results/tiny/figures/figA8.pdf", cores=2, timeout=900)
    return wd, raw


@pytest.mark.slow
def test_figA8_trains_the_other_model_and_nothing_of_the_main_one(ran):
    wd, raw = ran
    figures = wd / "results" / "tiny" / "figures"
    assert (figures / "figA8.pdf").stat().st_size > 0 and (figures / "figA8.png").stat().st_size > 0
    main_files = [p for p in (wd / "results" / "tiny").rglob("*")
                  if p.is_file() and "logs" not in p.parts and p.parent != figures]
    assert main_files == []  # only the figure (a figure of the main experiment) and its log
    config = validated(raw)
    assert all((wd / f).exists() for f in plan.figure_inputs(config, "figA8"))
    arch = json.loads((wd / "results/tiny-figa8/seed0/architecture.json").read_text())
    assert arch["model_spec"]["name"] == "resnet18" and arch["model_spec"]["width"] == 2
    assert "layer4.1.conv2.weight" in arch["prunable"]  # four stages: not the main experiment's resnet_cifar
    with h5py.File(wd / "results/tiny-figa8/find/lr0.1_bs128_wd5e-4/seed0/level1/mask.h5") as fh:
        names = []
        fh.visit(names.append)
    assert any("layer4" in n for n in names)


@pytest.mark.slow
def test_edits_replan_only_their_experiment(ran):
    wd, raw = ran
    try:
        other = copy.deepcopy(raw)
        other["other_models"]["figA8"]["model"]["width"] = 3
        write_config(wd, other)
        jobs = planned_jobs(snakemake(wd, "-n", "results/tiny/figures/figA8.pdf").stdout)
        assert {"init", "find_chain", "eval_sweep", "figA8"} <= {j.rule for j in jobs}
        assert all(j.wildcards.get("exp", "tiny-figa8") == "tiny-figa8" for j in jobs)
        assert "prepare_data" not in {j.rule for j in jobs}  # the data did not change
        main = copy.deepcopy(raw)
        main["grids"]["batch_size"]["eval"] = [128, 256]  # the main experiment's BS grid: figA8 varies the LR only
        write_config(wd, main)
        assert planned_jobs(snakemake(wd, "-n", "results/tiny/figures/figA8.pdf").stdout) == []
        edited = copy.deepcopy(raw)
        edited["other_models"]["figA8"]["caption"] = "another caption"
        write_config(wd, edited)
        assert {j.rule for j in planned_jobs(snakemake(wd, "-n", "results/tiny/figures/figA8.pdf").stdout)} == {"figA8"}
    finally:
        write_config(wd, raw)


def test_presets_set_the_papers_figA8_and_figA9():
    full = validated(read_yaml(REPO / "config" / "resnet50-tinyimagenet.yaml"))
    a8, a9 = plan.other_model_configs(full)["figA8"], plan.other_model_configs(full)["figA9"]
    assert (a8["experiment"], a8["dataset"]["name"], a8["model"]["name"]) == ("resnet50-miniplaces", "miniplaces",
                                                                           "resnet50")
    assert (a9["experiment"], a9["dataset"]["name"], a9["model"]["name"]) == ("resnet18-tinyimagenet",
                                                                           "tiny_imagenet", "resnet18")
    assert a8["grids"]["lr"] == {"find": [0.02, 0.1, 0.5], "eval": [0.02, 0.1, 0.5]}
    assert [p["constant"].lr for p in plan.figure_panels(full, "figA9")] == [0.5, 0.8]
    # the same experiments as the single-setting presets: a run of one serves the other
    for name, fig in (("resnet50-miniplaces", "figA8"), ("resnet18-tinyimagenet", "figA9")):
        single = validated(read_yaml(REPO / "config" / f"{name}.yaml"))
        derived = validated(plan.other_model_configs(full)[fig])
        for key in ("model", "training", "defaults", "seeds", "pruning", "runtime"):
            assert derived[key] == single[key], (name, key)
        assert plan.figure_panels(single, fig) == plan.figure_panels(full, fig)


# --------------------------------------------------------------------------- {exp}: each job's own settings

#: Builds the DAG of the targets given on the command line (Snakemake's API, in a process of its own) and prints
#: one JSON line per job: its rule, wildcards and the training-related params it would run with.
PARAMS_PROBE = r'''
import json, sys
from pathlib import Path
from snakemake.api import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings, SnakemakeApi
from snakemake.settings.enums import Quietness

snakefile, targets = sys.argv[1], set(sys.argv[2:])
with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
    wapi = api.workflow(resource_settings=ResourceSettings(cores=1), snakefile=Path(snakefile), workdir=Path("."),
                        config_settings=ConfigSettings(configfiles=[Path("config.yaml")]))
    wapi.dag(dag_settings=DAGSettings(targets=targets))
    wf = wapi._workflow
    wf.dag_settings = DAGSettings(targets=targets)
    wf._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True)
    wf._build_dag()
    for job in wf.dag.jobs:
        p = dict(job.params.items())
        # the main experiment's own rules write its name into their patterns: no {exp} wildcard
        exp = job.wildcards.get("exp") or job.output[0].split("/")[1]
        print("JOB " + json.dumps({"rule": job.rule.name, "exp": exp, "wildcards": dict(job.wildcards.items()),
                                   **{k: p[k] for k in ("training", "augment", "model", "dataset") if k in p}}))
'''

#: Loads the Snakefile (no DAG) and prints, for each path given on the command line, the rules that produce it.
PRODUCERS_PROBE = r'''
import json, sys
from pathlib import Path
from snakemake.api import ConfigSettings, OutputSettings, ResourceSettings, SnakemakeApi
from snakemake.settings.enums import Quietness

snakefile, targets = sys.argv[1], sys.argv[2:]
with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
    wapi = api.workflow(resource_settings=ResourceSettings(cores=1), snakefile=Path(snakefile), workdir=Path("."),
                        config_settings=ConfigSettings(configfiles=[Path("config.yaml")]))
    wf = wapi._workflow  # the Snakefile is parsed
    for t in targets:
        print("PRODUCERS " + json.dumps([t, sorted(r.name for r in wf.rules if r.is_producer(t))]))
'''

#: The second experiment: another model, schedule and augmentation than tests/data/tiny_structured.yaml's.
SECOND = {"experiment": "tiny-second", "caption": "the second experiment", "model": {"name": "resnet18", "width": 2},
          "training": {"epochs": 3, "milestones": [2], "gamma": 0.1},
          "dataset": {"name": "digits", "augment": {"crop_scale": [0.7, 1.0], "crop_ratio": [0.75, 1.3333333],
                                                    "flip": False}}}
H1, H2, HE = "lr0.05_bs128_wd5e-4", "lr0.1_bs128_wd5e-4", "lr0.2_bs128_wd5e-4"


def _family_targets(exp: str, chains: bool) -> list[str]:
    """One target per analysis rule family that trains (LPR, early pruning, rewinding, instability): the main
    experiment's own rules (figA8/figA9's experiments are the Algorithm A1 part of the config)."""
    r = f"results/{exp}"
    if chains:  # runtime.granularity: chain (rules/chains.smk)
        return [f"{r}/find_local/{H1}/seed0/level1/metrics.json", f"{r}/eval/local/{H1}/{HE}/seed0/level1/metrics.json",
                f"{r}/find_matched/{H1}/match-{H2}/seed0/level1/metrics.json"]
    return [f"{r}/find_local/{H1}/seed0/level1/metrics.json", f"{r}/eval/local/{H1}/{HE}/seed0/level1/metrics.json",
            f"{r}/find_matched/{H1}/match-{H2}/seed0/level1/metrics.json",
            f"{r}/early/eval/{H1}/epoch1/{HE}/seed0/level1/metrics.json",
            f"{r}/early/lpr_trajectory/{H1}/seed0.csv",
            f"{r}/late/k1/{H1}/seed0/level1/metrics.json", f"{r}/warmup/w25/{H1}/seed0/level1/metrics.json",
            f"{r}/lr_rewind/eval/{H1}/{HE}/seed0/level1/metrics.json",
            f"{r}/instability/k1/{H1}/seed0/level1/interpolation.json",
            f"{r}/late/k1/random_eval/preserve_mask/{H1}/{HE}/seed0/level1/metrics.json"]


def _a1_targets(exp: str) -> list[str]:
    """Algorithm A1 (the rules every experiment has): a lottery and a random-baseline evaluation."""
    r = f"results/{exp}"
    return [f"{r}/eval/lottery/{H1}/{HE}/seed0/level1/metrics.json",
            f"{r}/eval/global_random/{HE}/seed0/level1/metrics.json"]


def _probe(workdir, targets: list[str]) -> list[dict]:
    import subprocess
    import sys

    (workdir / "probe.py").write_text(PARAMS_PROBE)
    r = subprocess.run([sys.executable, "probe.py", str(REPO / "Snakefile"), *targets], cwd=workdir,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return [json.loads(line[4:]) for line in r.stdout.splitlines() if line.startswith("JOB ")]


#: the training rules of Algorithm A1 (every experiment) and of the analyses (the main experiment only)
A1_RULES = {False: {"train_find", "train_eval"}, True: {"find_chain", "eval_sweep"}}
TRAINING_RULES = {
    False: {"train_find_lpr", "train_eval_lpr", "early_find_chain", "early_eval_sweep", "lpr_trajectory",
            "late_theta", "late_chain", "warmup_chain", "lr_rewind_chain", "variant_eval_sweep", "instability",
            "late_random_eval_sweep"},
    True: {"lpr_find_chain", "lpr_eval_sweep"},
}


@pytest.mark.parametrize("chains", [False, True], ids=["per-level", "chain"])
def test_every_rule_family_trains_with_its_experiments_settings(tmp_path, chains):
    """Every training job gets its experiment's training schedule and augmentation: the A1 jobs of the second
    experiment (paper Figs. A8/A9, through other_models) its own, every family of the main experiment the main
    ones. The analysis families are the main experiment's only (their patterns carry its name, issue 15): no
    rule produces the second experiment's files of them."""
    raw = read_yaml(REPO / "tests" / "data" / "tiny_structured.yaml")
    raw["other_models"] = {"figA9": copy.deepcopy(SECOND)}
    raw["early_pruning"] = {"epochs": [1]}
    raw["runtime"] = {"granularity": "chain" if chains else "level"}
    write_config(tmp_path, raw)
    exps = experiments(validated(raw))
    main, second = exps["tiny"], exps["tiny-second"]
    assert main["training"] != second["training"] and main["dataset"]["augment"] != second["dataset"]["augment"]
    jobs = _probe(tmp_path, _family_targets("tiny", chains) + _a1_targets("tiny") + _a1_targets("tiny-second")
                  + ["results/tiny/structured/finetune/lr0.1_bs256_wd5e-5/lr0.2_bs256_wd5e-5/seed0/ratio0.3/"
                     "metrics.json"])
    seen = {(j["rule"], j["exp"]) for j in jobs if "training" in j}
    assert {rule for rule, e in seen if e == "tiny"} >= TRAINING_RULES[chains] | A1_RULES[chains]
    assert {rule for rule, e in seen if e == "tiny-second"} == A1_RULES[chains]
    for j in jobs:
        cfg = exps[j["exp"]]
        if "training" in j and not j["rule"].endswith("_structured"):
            assert j["training"] == cfg["training"], j["rule"]
            assert j["augment"] == cfg["dataset"]["augment"], j["rule"]
        if j["rule"] == "init":
            assert j["model"] == cfg["model"]
    assert {j["exp"] for j in jobs if j["rule"] == "init"} == {"tiny", "tiny-second"}
    structured = [j for j in jobs if j["rule"] in ("finetune_structured", "train_find_structured")]
    assert structured and all(j["training"] == main["structured"]["training"] for j in structured)
    assert {j["model"]["name"] for j in jobs if j["rule"] == "init_structured"} == {"resnet_cifar"}
    producers = _producers(tmp_path, _family_targets("tiny-second", chains) + _family_targets("tiny", chains))
    assert all(not producers[t] for t in _family_targets("tiny-second", chains)), producers
    assert all(producers[t] for t in _family_targets("tiny", chains)), producers


def _producers(workdir, targets: list[str]) -> dict:
    import subprocess
    import sys

    (workdir / "producers.py").write_text(PRODUCERS_PROBE)
    r = subprocess.run([sys.executable, "producers.py", str(REPO / "Snakefile"), *targets], cwd=workdir,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return dict(json.loads(line[10:]) for line in r.stdout.splitlines() if line.startswith("PRODUCERS "))


def test_structured_runs_of_an_experiment_without_a_structured_block_are_refused(tmp_path):
    raw = read_yaml(TINY)
    raw["other_models"] = {"figA9": copy.deepcopy(SECOND)}
    write_config(tmp_path, raw)
    (tmp_path / "probe.py").write_text(PARAMS_PROBE)
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "probe.py", str(REPO / "Snakefile"),
                        f"results/tiny-second/structured/find/{H2}/seed0/dense/metrics.json"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    # the structured rules are the main experiment's (its name is in their patterns): no rule for another's
    assert r.returncode != 0 and "No rule to produce results/tiny-second/structured/" in r.stdout + r.stderr
