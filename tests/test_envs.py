"""The conda environment of the rules (envs/findeval.yaml) pins the same versions as requirements.txt."""

import re

from conftest import REPO, read_yaml

PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)")


def requirements() -> dict:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        m = PIN.match(line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def env_pins() -> dict:
    env = read_yaml(REPO / "envs" / "findeval.yaml")
    pins = {}
    for dep in env["dependencies"]:
        for item in dep.get("pip", []) if isinstance(dep, dict) else []:
            m = PIN.match(item)
            if m:
                pins[m.group(1).lower()] = m.group(2)
    return pins


def test_env_pins_match_requirements():
    req, env = requirements(), env_pins()
    assert env, "envs/findeval.yaml pins nothing"
    assert {k: v for k, v in env.items() if req.get(k) != v} == {}, f"requirements.txt: {req}"
    # the packages the workflow's jobs import are in the environment
    assert {"torch", "torchvision", "numpy", "pandas", "seaborn", "matplotlib", "h5py", "scikit-learn", "snakemake"} <= set(env)
    # every runtime package of requirements.txt is in the environment (test tools and snakefmt aside)
    assert set(req) - {"pytest", "snakefmt"} <= set(env), f"missing in envs/findeval.yaml: {set(req) - set(env)}"
    # the SLURM executor plugin of profiles/slurm, pinned alike in both
    assert env.get("snakemake-executor-plugin-slurm") == req.get("snakemake-executor-plugin-slurm") is not None


def test_env_python_matches_the_project():
    env = read_yaml(REPO / "envs" / "findeval.yaml")
    pythons = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert pythons == ["python=3.11"]
    assert "nodefaults" in env["channels"]

