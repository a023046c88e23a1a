"""The Snakemake workflow through its CLI: lint and format, config errors stopping before any job, and which
jobs re-run after a config edit (dry runs on touched outputs: nothing is trained here)."""

import copy
import subprocess
import sys

import pytest

from conftest import REPO, planned_jobs, read_yaml, snakemake, validated, write_config, TINY
from findeval.a1 import plan
from findeval.workflow import ConfigError, check_config

FIGURE_RULES = set(plan.FIGURES)
NOTHING = "Nothing to be done"


def is_consumer(job) -> bool:
    """A job that only draws or tabulates runs: ``all``, a figure (outputs under results/tiny/figures/), an
    aggregate (.csv)."""
    return job.rule == "all" or (bool(job.output) and (
        any(o.startswith("results/tiny/figures/") for o in job.output)
        or all(o.endswith(".csv") for o in job.output)))


# --------------------------------------------------------------------------- check_config (in process)


def test_check_config_accepts_the_shipped_configs(main_config, tiny_config):
    check_config(main_config)
    check_config(tiny_config)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda c: c["model"].update(depth=10), r"model\.depth.*6n\+2"),
        (lambda c: c["model"].update(name="resnet18", depth=8), r"model\.depth.*resnet18"),
        (lambda c: c["training"].update(epochs=2, milestones=[1, 2]), r"training\.milestones.*\[2\]"),
        (lambda c: c["training"].update(epochs=5, milestones=[3, 1]), r"training\.milestones must be increasing"),
        (lambda c: c["grids"]["lr"].update(eval=[0.1, -1.0]), r"grids\.lr\.eval: lr must be > 0"),
        (lambda c: c["grids"]["batch_size"].update(find=[0]), r"grids\.batch_size\.find"),
        (lambda c: c["defaults"].update(weight_decay=-1), r"defaults: weight_decay"),
        (lambda c: c["dataset"].update(name="cifar10", root=None), r"dataset\.root must be set.*cifar-10-batches-py"),
        (lambda c: c.update(seeds=[]), r"seeds"),
    ],
)
def test_check_config_errors(tiny_config, edit, match):
    cfg = copy.deepcopy(tiny_config)
    edit(cfg)
    with pytest.raises(ConfigError, match=match):
        check_config(cfg)


def test_check_config_cifar_root(tiny_config, tmp_path):
    cfg = copy.deepcopy(tiny_config)
    cfg["dataset"].update(name="cifar10", root=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=str(tmp_path / "nowhere")):
        check_config(cfg)
    cfg["dataset"]["root"] = str(tmp_path)  # exists, but holds no CIFAR batches
    with pytest.raises(ConfigError, match="cifar-10-batches-py/data_batch_1"):
        check_config(cfg)
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"")
    check_config(cfg)


def test_schema_fills_defaults(tiny_raw):
    cfg = validated(tiny_raw)
    assert cfg["pruning"]["fraction"] == 0.5  # given
    assert cfg["dataset"]["test_fraction"] == 0.2 and cfg["dataset"]["root"] is None
    assert cfg["runtime"] == {"device": "cpu", "threads": 1, "granularity": "level", "precision": "fp32",
                              "channels_last": False, "group": 0, "find_group": 0}  # 0: level by level, one
    # job per find chain
    assert cfg["figures"]["style"]["dpi"] == 150
    assert cfg["figures"]["fig2"] == {"constant_eval": None, "constant_find": None}


# --------------------------------------------------------------------------- lint and format


LINT_CONFIGS = ["tiny", "config.yaml", *sorted(p.name for p in (REPO / "config").glob("*.yaml"))]


@pytest.mark.parametrize("which", LINT_CONFIGS)
def test_snakemake_lint(tmp_path, which):
    """`snakemake --lint` is clean on the tiny config, the default config.yaml and every preset (with its
    dataset root pointed at empty folders of the standard layout)."""
    from test_presets import dataset_folder

    if which == "tiny":
        config = write_config(tmp_path, read_yaml(TINY))
    elif which == "config.yaml":
        config = REPO / "config.yaml"
    else:
        config = REPO / "config" / which
        (tmp_path / "data").mkdir()
        dataset_folder("tiny_imagenet", tmp_path / "data")
        dataset_folder("miniplaces", tmp_path / "data")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(config), "--lint"]
    r = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Lints for" not in r.stdout + r.stderr, r.stdout + r.stderr
    assert "Congratulations" in r.stdout + r.stderr
    assert not (tmp_path / "results").exists()


def test_snakefmt_check():
    cmd = [sys.executable, "-m", "snakefmt", "--check", "Snakefile", "rules/"]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)  # uses [tool.snakefmt]
    if r.returncode != 0:
        diff = subprocess.run([*cmd[:3], "--compact-diff", *cmd[4:]], cwd=REPO, capture_output=True, text=True,
                              timeout=120)
        pytest.fail(f"snakefmt --check exited {r.returncode} (run `snakefmt Snakefile rules/`):\n"
                    f"{r.stderr}{diff.stdout}{diff.stderr}")


# --------------------------------------------------------------------------- bad input stops before any job


def _break(edit):
    cfg = read_yaml(TINY)
    edit(cfg)
    return cfg


@pytest.mark.parametrize(
    "edit, needles",
    [
        (lambda c: c.update(bogus=1), ["bogus: unknown key"]),
        (lambda c: c["training"].update(typo_epochs=3), ["training.typo_epochs: unknown key; did you mean 'epochs'?"]),
        (lambda c: c["training"].update(epochs="ten"), ["training.epochs: 'ten' is not a number"]),
        (lambda c: c["grids"]["lr"].update(eval=[0.1, -0.2]), ["-0.2", "grids.lr.eval"]),
        (lambda c: c["pruning"].update(fraction=1.5), ["1.5", "pruning.fraction", "allowed: > 0 and < 1"]),
        (lambda c: c["dataset"].update(name="mnist"), ["'mnist'", "dataset.name", "digits", "cifar10",
                                                        "cifar100"]),
        (lambda c: c["model"].update(name="vgg16"), ["'vgg16'", "model.name", "resnet_cifar", "resnet18",
                                                      "resnet50"]),
        (lambda c: c["model"].update(depth=10), ["model.depth", "6n+2"]),
        (lambda c: c.update(seeds=[0, 0]), ["seeds: 0 is listed twice"]),
    ],
    ids=["unknown-key", "unknown-nested-key", "epochs-string", "negative-lr", "fraction-1.5", "unknown-dataset",
         "unknown-model", "bad-depth", "duplicate-seed"],
)
def test_bad_config_stops_before_any_job(tmp_path, edit, needles):
    write_config(tmp_path, _break(edit))
    # a real run (not -n) of a cheap target: if the config were accepted, results/ would appear
    r = snakemake(tmp_path, "results/tiny/dataset.npz", check=False, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    for needle in needles:
        assert needle in out, f"{needle!r} not in:\n{out}"
    assert not (tmp_path / "results").exists()
    assert not (tmp_path / "figures").exists()


def test_missing_dataset_root_names_the_path(tmp_path):
    missing = tmp_path / "no" / "such" / "cifar"
    write_config(tmp_path, _break(lambda c: c["dataset"].update(name="cifar10", root=str(missing))))
    r = snakemake(tmp_path, "results/tiny/dataset.npz", check=False, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert str(missing) in out and "dataset.root" in out
    assert not (tmp_path / "results").exists()


# --------------------------------------------------------------------------- partial re-runs (dry runs)


@pytest.fixture(scope="module")
def touched(tmp_path_factory):
    """A work folder whose outputs (of the default target: every figure and the summary) all exist, with
    Snakemake's provenance recorded by ``--touch -F``: the state after a complete run, without training."""
    wd = tmp_path_factory.mktemp("touched")
    cfg = read_yaml(TINY)
    write_config(wd, cfg)
    summary = snakemake(wd, "-n", "--summary").stdout
    outputs = [line.split("\t")[0] for line in summary.splitlines()[1:] if line.strip()]
    assert any(o.startswith("results/tiny/find/") for o in outputs)
    assert "results/tiny/figures/fig2.pdf" in outputs and not any(o.startswith("figures/") for o in outputs)
    for o in outputs:
        (wd / o).parent.mkdir(parents=True, exist_ok=True)
        (wd / o).touch()
    snakemake(wd, "--touch", "-F", timeout=300)
    r = snakemake(wd, "-n")
    assert NOTHING in r.stdout + r.stderr
    return wd, cfg


@pytest.fixture
def edited(touched):
    """Yields ``edit(cfg_change) -> dry-run output``; restores the original config afterwards."""
    wd, cfg = touched

    def run(change, *targets):
        new = copy.deepcopy(cfg)
        change(new)
        write_config(wd, new)
        r = snakemake(wd, "-n", *targets)
        return r.stdout + r.stderr

    yield run
    write_config(wd, cfg)


def test_nothing_to_do_after_touch(touched):
    wd, _ = touched
    r = snakemake(wd, "-n", "results/tiny/figures/fig2.pdf")
    assert NOTHING in r.stdout + r.stderr
    assert planned_jobs(r.stdout + r.stderr) == []


def _metrics_of(jobs, rule):
    return {o for j in jobs if j.rule == rule for o in j.output if o.endswith("metrics.json")}


def test_new_eval_value_reruns_only_evaluations_fig2(touched, edited):
    """Changing one H_eval grid value plans only train_eval jobs (and figure 2), no find-side job."""
    _, cfg = touched
    out = edited(lambda c: c["grids"]["lr"].update(eval=[0.1, 0.3]), "results/tiny/figures/fig2.pdf")
    jobs = planned_jobs(out)
    assert {j.rule for j in jobs} == {"train_eval", "fig2"}, out
    new = copy.deepcopy(cfg)
    new["grids"]["lr"]["eval"] = [0.1, 0.3]
    expected = set(plan.figure_inputs(validated(new), "fig2")) - set(plan.figure_inputs(validated(cfg), "fig2"))
    assert expected and _metrics_of(jobs, "train_eval") == expected
    assert all(j.wildcards["heval"] == "lr0.3_bs128_wd5e-4" for j in jobs if j.rule == "train_eval")


def test_new_eval_value_reruns_no_existing_find_chain(touched, edited):
    """On the default target: no job of an existing chain, no init/prepare_data/global mask. Besides the new
    evaluations, the only new training jobs are those that use the new value itself (e.g. the appendix panels'
    preserve-LPR baseline, whose H_find is the panel's H_eval: random baselines use H_find = H_eval)."""
    new_h = "lr0.3_bs128_wd5e-4"
    jobs = planned_jobs(edited(lambda c: c["grids"]["lr"].update(eval=[0.1, 0.3])))
    rules = {j.rule for j in jobs}
    assert "train_eval" in rules
    assert not rules & {"prepare_data", "init", "global_random_mask"}, rules
    for j in jobs:
        if not is_consumer(j):
            assert any(new_h in v for v in j.wildcards.values()), j


def test_new_seed_reruns_only_that_seed(touched, edited):
    jobs = planned_jobs(edited(lambda c: c.update(seeds=[0, 1])))
    assert jobs
    rules = {j.rule for j in jobs}
    assert {"init", "train_find", "prune", "rewind", "train_eval", "global_random_mask", "preserve_lpr_mask"} <= rules
    assert "prepare_data" not in rules
    for j in jobs:
        if not is_consumer(j):
            assert j.wildcards.get("seed") == "1", j
    assert FIGURE_RULES | {"aggregate"} <= rules


def test_plotting_option_reruns_only_figures(touched, edited):
    out = edited(lambda c: c.setdefault("figures", {}).setdefault("style", {}).update(dpi=100))
    jobs = planned_jobs(out)
    assert FIGURE_RULES | {"all"} <= {j.rule for j in jobs}, out
    assert all(j.rule == "all" or any(o.startswith("results/tiny/figures/") for o in j.output) for j in jobs), \
        out
    assert "aggregate" not in {j.rule for j in jobs}
    assert "Params have changed" in out


def test_one_figures_option_reruns_only_that_figure(touched, edited):
    out = edited(lambda c: c.setdefault("figures", {}).update(fig1={"lr": [0.1]}))
    rules = {j.rule for j in planned_jobs(out)}
    assert rules == {"fig1", "all"}, out  # fig1's runs all exist: only its drawing changes


def test_training_option_reruns_training_but_not_data_or_init(touched, edited):
    jobs = planned_jobs(edited(lambda c: c["training"].update(epochs=3), "results/tiny/figures/fig2.pdf"))
    rules = {j.rule for j in jobs}
    assert {"train_find", "prune", "rewind", "train_eval", "preserve_lpr_mask", "fig2"} <= rules
    assert not rules & {"prepare_data", "init", "global_random_mask"}, rules


def test_unrelated_runtime_option_changes_nothing(touched, edited):
    out = edited(lambda c: c.setdefault("runtime", {}).update(threads=2), "results/tiny/figures/fig2.pdf")
    assert planned_jobs(out) == [] and NOTHING in out
