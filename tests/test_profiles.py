"""The workflow profiles (profiles/slurm, profiles/local-gpu, the auto-loaded profiles/default) parse, name only
existing rules, and give the training jobs the resources docs/scale.md promises. Cheap: dry runs only (the real
SLURM run is test_slurm.py)."""

from __future__ import annotations

import re

import pytest

from conftest import REPO, SNAKEFILE, planned_jobs, read_yaml, snakemake, write_config

PROFILES = sorted(REPO.glob("profiles/*/profile.yaml"))
SLURM = REPO / "profiles" / "slurm" / "profile.yaml"
LOCAL_GPU = REPO / "profiles" / "local-gpu" / "profile.yaml"
TRAINING = ("train_find", "train_eval")
CHEAP = ("prepare_data", "init", "prune", "rewind", "global_random_mask", "preserve_lpr_mask", "aggregate")
CHAIN_TRAINING = ("find_chain", "eval_sweep", "lpr_find_chain", "lpr_eval_sweep")
CHAIN_CHEAP = ("global_random_masks", "preserve_lpr_masks")
PLACEHOLDERS = ("<account>", "<gpu-partition>", "<gpu-model>", "<cpu-partition>")
#: training rules of the structured block (rules/structured.smk), and its CPU benchmark
STRUCTURED_TRAINING = ("train_find_structured", "finetune_structured", "scratch_e", "scratch_b")


def list_rules(wd, granularity: str) -> set:
    config = read_yaml(REPO / "tests" / "data" / "tiny.yaml")
    config["runtime"]["granularity"] = granularity
    write_config(wd, config)
    r = snakemake(wd, "--list-rules", timeout=120)
    return {line.strip() for line in r.stdout.splitlines() if re.fullmatch(r"\s*\w+\s*", line)}


@pytest.fixture(scope="module")
def rules(tmp_path_factory, request):
    """The rules of both granularities (runtime.granularity level and chain)."""
    wd = tmp_path_factory.mktemp("rules")
    level, chain = list_rules(wd, "level"), list_rules(wd, "chain")
    assert {"train_find", "train_eval", "prune", "fig2"} <= level
    assert set(CHAIN_TRAINING) <= chain and not {"train_find", "prune"} & chain
    return level | chain


def profile_rule_names(profile: dict) -> set:
    names = set()
    for key in ("set-resources", "set-threads", "set-resource-scopes"):
        names |= set((profile.get(key) or {}).keys())
    return names


DEFAULT = REPO / "profiles" / "default" / "profile.yaml"
#: What the auto-loaded default profile may set: keys that cannot clobber a --profile's resource blocks (a
#: workflow profile replaces a global profile's top-level keys wholesale: a set-resources here would drop the
#: cluster's, notes 1.14).
DEFAULT_PROFILE_KEYS = {"scheduler"}


def test_the_profiles_and_the_auto_loaded_default():
    assert SLURM in PROFILES and LOCAL_GPU in PROFILES and DEFAULT in PROFILES
    default = read_yaml(DEFAULT)
    assert set(default) <= DEFAULT_PROFILE_KEYS, f"profiles/default sets {sorted(set(default) - DEFAULT_PROFILE_KEYS)}"
    assert default["scheduler"] == "greedy"
    for p in PROFILES:
        assert not (p.parent / "config.yaml").exists(), f"{p.parent}: two profile files"


def test_the_default_profile_is_read_without_a_flag(tmp_path):
    """Snakemake reads profiles/default beside the Snakefile by itself (the greedy scheduler for everyone);
    --workflow-profile none leaves it out."""
    write_config(tmp_path, read_yaml(REPO / "tests" / "data" / "tiny.yaml"))
    r = snakemake(tmp_path, "-n", "results/tiny/figures/fig2.pdf", timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"workflow specific profile {DEFAULT.parent}" in r.stderr
    r = snakemake(tmp_path, "-n", "--workflow-profile", "none", "results/tiny/figures/fig2.pdf", timeout=120)
    assert r.returncode == 0 and "workflow specific profile" not in r.stderr


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.parent.name)
def test_every_rule_named_in_a_profile_exists(rules, path):
    """Snakemake silently ignores set-resources of a rule that does not exist: a typo must fail here."""
    unknown = profile_rule_names(read_yaml(path)) - rules
    assert not unknown, f"{path} names rules that do not exist: {sorted(unknown)}"


def localrules_of_snakefile() -> list[str]:
    """The Snakefile's `localrules:` block and every rule that says `localrule: True` in rules/."""
    text = SNAKEFILE.read_text()
    block = re.search(r"^localrules:\n((?:    \w+,?\n)+)", text, re.M)
    assert block, "the Snakefile has no localrules: block"
    names = re.findall(r"\w+", block.group(1))
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for rule in re.split(r"^rule ", smk.read_text(), flags=re.M)[1:]:
            if re.search(r"^    localrule: True$", rule, re.M):
                names.append(rule.split(":", 1)[0].strip())
    return names


def test_cheap_rules_are_local_and_training_rules_are_not(rules):
    local = localrules_of_snakefile()
    assert set(local) <= rules
    assert set(CHEAP) <= set(local) and set(CHAIN_CHEAP) <= set(local)
    assert not set(TRAINING + CHAIN_TRAINING) & set(local)
    assert "resource_scopes:\n    gpu=\"local\"" in SNAKEFILE.read_text()


def test_slurm_profile_site_settings_are_written_once():
    text = SLURM.read_text()
    for placeholder in PLACEHOLDERS:
        assert text.count(f'"{placeholder}"') == 1, placeholder
    profile = read_yaml(SLURM)
    assert profile["executor"] == "slurm"
    blocks = profile["set-resources"]
    # every training rule shares one block (a YAML alias), so the GPU model is set in one place; the one CPU
    # benchmark (structured_speed) has its own: a CPU partition and no GPU
    first = blocks["train_find"]
    training = {r: b for r, b in blocks.items() if r != "structured_speed"}
    assert all(b is first for b in training.values()), "training set-resources entries must alias one block"
    assert set(STRUCTURED_TRAINING) <= set(training)
    assert first["gpu"] == 1 and "attempt" in str(first["runtime"])
    assert blocks["structured_speed"] == {"slurm_partition": "<cpu-partition>", "gpu": 0}
    assert not (profile.get("default-resources") or {}).get("slurm_extra"), "no sbatch flags in slurm_extra"


def dry_run_jobs(tmp_path, profile_dir, targets=("results/tiny/figures/fig2.pdf",), **runtime):
    config = read_yaml(REPO / "tests" / "data" / "tiny.yaml")
    config["runtime"] = {**config["runtime"], **runtime}
    write_config(tmp_path, config)
    r = snakemake(tmp_path, "-n", "--workflow-profile", str(profile_dir), *targets, timeout=120)
    return planned_jobs(r.stdout), r.stdout


def resources_of(output: str, rule: str) -> dict:
    block = re.search(rf"^rule {rule}:\n(?:    .*\n)*?    resources: (.*)$", output, re.M)
    assert block, f"no resources line for {rule}"
    return dict(part.split("=", 1) for part in block.group(1).split(", "))


def test_slurm_profile_dry_run_resolves_the_training_resources(tmp_path):
    jobs, out = dry_run_jobs(tmp_path, SLURM.parent, device="cuda")
    assert {j.rule for j in jobs} >= {"train_find", "train_eval", "prune"}
    for rule in TRAINING:
        res = resources_of(out, rule)
        assert res["gpu"] == "1" and res["gpu_model"] == "<gpu-model>"
        assert res["slurm_partition"] == "<gpu-partition>" and res["slurm_account"] == "<account>"
        assert res["mem_mb"] == "16000" and res["runtime"] == "180" and res["cpus_per_gpu"] == "4"


def test_slurm_profile_gives_find_groups_the_find_chains_resources(tmp_path):
    """Rules find_group_<i> and lpr_find_group_<i> (runtime.find_group) are defined in a loop, so the profile cannot
    name them: they take find_chain's and lpr_find_chain's set-resources, and go to the queue as those do."""
    jobs, out = dry_run_jobs(tmp_path, SLURM.parent, ("results/tiny/figures/fig2.pdf", "results/tiny/figures/fig7.pdf",
                                                      "results/tiny/figures/fig4.pdf"),
                             device="cuda", granularity="chain", find_group=2)
    assert "find_group_0" in {j.rule for j in jobs}
    # fig7's two match-LPR chains are the second LPR group (the groups are in chain-name order: local first)
    assert "lpr_find_group_1" in {j.rule for j in jobs} and "lpr_find_chain" not in {j.rule for j in jobs}
    assert "rewinding_group_0" in {j.rule for j in jobs}  # late_chain's resources
    for rule in ("find_group_0", "lpr_find_group_1", "rewinding_group_0"):
        res = resources_of(out, rule)
        assert res["gpu"] == "1" and res["gpu_model"] == "<gpu-model>" and res["slurm_partition"] == "<gpu-partition>"
        assert res["mem_mb"] == "16000" and res["runtime"] == "180" and res["cpus_per_gpu"] == "4"


@pytest.mark.parametrize("device,gpu", [("cpu", "0"), ("auto", "1"), ("cuda", "1")])
def test_training_rules_ask_for_a_gpu_unless_the_config_says_cpu(tmp_path, device, gpu):
    """What a CPU user sees: runtime.device cpu asks for no GPU, so the local-gpu cap never binds."""
    jobs, out = dry_run_jobs(tmp_path, LOCAL_GPU.parent, device=device)
    for rule in TRAINING:
        assert resources_of(out, rule)["gpu"] == gpu
    assert resources_of(out, "prune").get("gpu", "0") == "0"
    assert read_yaml(LOCAL_GPU)["resources"] == {"gpu": 1}


def test_structured_rules_on_slurm_gpu_training_cpu_speed(tmp_path):
    """The structured training jobs ask for a GPU as the other training rules do (with runtime.device cuda);
    structured_speed, a CPU inference benchmark, goes to the CPU partition with no GPU."""
    config = read_yaml(REPO / "tests" / "data" / "tiny_structured.yaml")
    config["runtime"] = {"device": "cuda"}
    write_config(tmp_path, config)
    r = snakemake(tmp_path, "-n", "--workflow-profile", str(SLURM.parent), "results/tiny/structured/summary.csv",
                  "results/tiny/structured/speed.csv", timeout=120)
    for rule in STRUCTURED_TRAINING:
        res = resources_of(r.stdout, rule)
        assert res["gpu"] == "1" and res["slurm_partition"] == "<gpu-partition>", (rule, res)
    speed = resources_of(r.stdout, "structured_speed")
    assert speed["slurm_partition"] == "<cpu-partition>" and speed.get("gpu", "0") == "0", speed
    # and with runtime.device cpu (the local-gpu profile's cap never binds), no structured job asks for one
    config["runtime"] = {"device": "cpu"}
    write_config(tmp_path, config)
    r = snakemake(tmp_path, "-n", "--workflow-profile", str(LOCAL_GPU.parent), "results/tiny/structured/summary.csv",
                  timeout=120)
    for rule in STRUCTURED_TRAINING:
        assert resources_of(r.stdout, rule)["gpu"] == "0", rule

