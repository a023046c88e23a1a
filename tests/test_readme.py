"""The documentation's commands and numbers (issue 16, item 5; issue 24, item 6): every shell command of the README
and of the docs/ pages that can run here runs, so that a wrong one (unknown target, wrong flag, a target swallowed
by --configfile, a missing file) fails CI; the job counts the README quotes are those of the dry runs planned here;
docs/config.md is what ``python -m findeval.configdoc`` generates from the schema.

Commands are the lines of every fenced ```bash block of README.md and docs/*.md. A line that cannot run here ends
with a comment ``# not run in tests: <reason>`` and is skipped by that marker (a skipped ``snakemake`` line still
has its arguments parsed by Snakemake's own parser). The others:

- ``pip install -r FILE``: FILE exists (nothing is installed);
- ``snakemake ...``: parsed by Snakemake's parser (flags, config files that are YAML files of the repository, the
  workflow profile's folder), then run as a dry run (``-n``) in a temporary work folder: the default config as
  config.yaml, a preset (``config/*.yaml``, whose paper-scale DAG takes minutes to plan) stood in for by
  ``tests/data/tiny.yaml``. Commands with the same config files, profile and ``--config`` share one dry run
  (their targets together); the dry runs run concurrently (each spends ~10 s waiting for the SLURM plugin's
  ``scontrol`` time-out where the SLURM client is installed);
- ``python -m findeval.workflow FILE...``: run for real; a preset's data folders are stood in for by empty files in
  the standard layouts (benchmarks/dag.py's stubs);
- ``python -m findeval.regime FILE``: run for real (torch-free, seconds);
- ``python -m findeval.progress ...``: run for real in the temporary work folder (a preset replaced by tiny.yaml).

Anything else must carry the marker.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
MARKER = "# not run in tests:"
TINY = REPO / "tests" / "data" / "tiny.yaml"
TIMEOUT = 300


def pages() -> list[Path]:
    """The files whose commands are tested: README.md and every docs/*.md page."""
    return [README, *sorted(DOCS.glob("*.md"))]


def readme_commands(text: str | None = None, name: str = "README.md") -> list[tuple[str, str]]:
    """(page, line) of every command line in the ```bash blocks of README.md and docs/*.md (or of ``text``), blank
    and comment lines left out."""
    sources = [(name, text)] if text is not None else [(str(p.relative_to(REPO)), p.read_text()) for p in pages()]
    out = []
    for page, body in sources:
        for block in re.findall(r"^[ \t]*```bash[ \t]*\n(.*?)^[ \t]*```", body, re.M | re.S):
            for line in block.splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    out.append((page, line))
    return out


def is_marked(line: str) -> bool:
    return MARKER in line


def argvs(line: str) -> list[list[str]]:
    """The commands of one line: shell words without the trailing comment, split at ``&&``."""
    words = shlex.split(line, comments=True)
    cmds, cur = [], []
    for w in words:
        if w == "&&":
            cmds.append(cur)
            cur = []
        else:
            cur.append(w)
    cmds.append(cur)
    return [c for c in cmds if c]


def snakemake_args(argv: list[str]):
    """Snakemake's own parse of a ``snakemake`` command line (SystemExit on an unknown flag)."""
    from snakemake.cli import get_argument_parser

    return get_argument_parser().parse_args(argv[1:])


def check_snakemake_args(args, line: str) -> None:
    for cf in args.configfile or []:
        path = REPO / cf
        assert path.suffix in (".yaml", ".yml") and path.is_file(), (
            f"{line!r}: config file {cf} is not a YAML file of the repository (a target after --configfile?)")
    if args.workflow_profile:
        assert (REPO / args.workflow_profile / "profile.yaml").is_file(), f"{line!r}: no profile {args.workflow_profile}"


def stand_in(cf: str) -> Path:
    """The config a dry run uses for a README config file: a preset is stood in for by the tiny config."""
    path = (REPO / cf).resolve()
    return TINY if path.parent == REPO / "config" else path


class Plan:
    """The README's runnable commands, sorted into the checks above."""

    def __init__(self, commands):
        self.pip: list[str] = []
        self.dry: dict[tuple, set] = {}  # (configs, profile, --config values, conda) -> targets
        self.workflow: list[list[str]] = []
        self.regime: list[list[str]] = []
        self.progress: list[list[str]] = []
        self.skipped: list[str] = []
        self.unknown: list[str] = []
        for _, line in commands:
            marked = is_marked(line)
            for argv in argvs(line):
                if argv[0] == "snakemake":
                    args = snakemake_args(argv)  # also for a marked line: its flags must exist
                    check_snakemake_args(args, line)
                    if marked:
                        continue
                    if args.unlock or args.report or args.use_conda or args.conda_create_envs_only:
                        self.unknown.append(f"{line} (unlock/report/conda: mark it)")
                        continue
                    key = (tuple(str(stand_in(c)) for c in args.configfile or []), args.workflow_profile or "",
                           tuple(args.config or []))
                    self.dry.setdefault(key, set()).update(args.targets or ["all"])
                elif marked:
                    continue
                elif argv[:3] == ["pip", "install", "-r"] and len(argv) == 4:
                    self.pip.append(argv[3])
                elif argv[:3] == [sys.executable, "-m", "findeval.workflow"] or argv[:3] == ["python", "-m",
                                                                                              "findeval.workflow"]:
                    self.workflow.append(argv[3:])
                elif argv[:3] == ["python", "-m", "findeval.regime"]:
                    self.regime.append(argv[3:])
                elif argv[:3] == ["python", "-m", "findeval.progress"]:
                    self.progress.append(argv[3:])
                else:
                    self.unknown.append(line)
            if marked:
                self.skipped.append(line)


@pytest.fixture(scope="module")
def plan():
    return Plan(readme_commands())


def workdir(base: Path, name: str) -> Path:
    d = base / name
    d.mkdir()
    shutil.copy(REPO / "config.yaml", d / "config.yaml")  # the Snakefile's default config, relative to the workdir
    return d


def test_the_sections_have_commands_and_every_skip_says_why(plan):
    commands = readme_commands()
    assert len(commands) >= 25, commands
    pages_with_commands = {page for page, _ in commands}
    assert {"README.md", "docs/scale.md", "docs/reliability.md", "docs/regime.md"} <= pages_with_commands
    for _, line in commands:
        if is_marked(line):
            reason = line.split(MARKER, 1)[1].strip()
            assert reason, f"{line!r}: the marker needs a reason"
    assert not plan.unknown, f"commands this test cannot run and that are not marked '{MARKER} <reason>': {plan.unknown}"
    # the commands the sections exist for are there, unmarked
    assert plan.pip and plan.workflow and plan.regime and plan.progress
    profiles = {key[1] for key in plan.dry}
    assert {"profiles/slurm", "profiles/local-gpu"} <= profiles, profiles
    targets = set().union(*plan.dry.values())
    assert {"results/digits/figures/fig2.pdf", "figures/fig2.pdf", "gallery", "all"} <= targets, targets


def test_the_parser_catches_what_the_readme_once_got_wrong():
    # a target after --configfile becomes a config file; an unknown flag is an error
    args = snakemake_args(["snakemake", "--cores", "all", "--configfile", "tests/data/tiny.yaml", "figures/fig2.pdf"])
    with pytest.raises(AssertionError, match="target after --configfile"):
        check_snakemake_args(args, "x")
    with pytest.raises(SystemExit):
        snakemake_args(["snakemake", "--workflowprofile", "profiles/slurm"])
    assert Plan([("Quick start", "sacct -X --format=JobName%40")]).unknown


def test_pip_requirement_files_exist(plan):
    for f in plan.pip:
        assert (REPO / f).is_file(), f


def test_readme_commands_run(plan, tmp_path):
    """Every runnable command: the dry runs and progress runs concurrently, the checks and regime reports."""
    jobs = []  # (description, is a snakemake dry run, Popen)
    for i, ((configs, profile, overrides), targets) in enumerate(sorted(plan.dry.items())):
        d = workdir(tmp_path, f"dry{i}")
        cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(d), "-n",
               "--quiet", "rules", "--cores", "1"]
        cmd += sorted(targets)  # before --config and --configfile: each takes every later word
        if profile:
            cmd += ["--workflow-profile", str(REPO / profile)]
        if overrides:
            cmd += ["--config", *overrides]
        if configs:
            cmd += ["--configfile", *configs]
        jobs.append(("snakemake " + " ".join(cmd[5:]), True, subprocess.Popen(cmd, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                         text=True)))
    for i, rest in enumerate(plan.progress):
        d = workdir(tmp_path, f"progress{i}")
        rest = list(rest)
        for j, w in enumerate(rest):
            if j and rest[j - 1] == "--configfile":
                rest[j] = str(stand_in(w))
        cmd = [sys.executable, "-m", "findeval.progress", "--directory", str(d), *rest]
        jobs.append((" ".join(cmd[1:]), False, subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE,
                                                         stderr=subprocess.STDOUT, text=True)))

    failures = []
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import dag  # the preset stubs: empty files in the standard dataset layouts
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    for i, files in enumerate(plan.workflow):
        stub = tmp_path / f"check{i}"
        stub.mkdir()
        real = []
        for k, f in enumerate(files):
            path = (REPO / f).resolve()
            if path.parent == REPO / "config":
                (stub / str(k)).mkdir()
                path = dag.stubbed_preset(path, stub / str(k))
            real.append(str(path))
        r = subprocess.run([sys.executable, "-m", "findeval.workflow", *real], cwd=REPO, capture_output=True,
                           text=True, timeout=TIMEOUT)
        if r.returncode != 0:
            failures.append(f"python -m findeval.workflow {' '.join(files)}: {r.stdout}{r.stderr}")
    for args in plan.regime:
        r = subprocess.run([sys.executable, "-m", "findeval.regime", *args], cwd=REPO, capture_output=True,
                           text=True, timeout=TIMEOUT)
        if r.returncode != 0 or "regime of experiment" not in r.stdout:
            failures.append(f"python -m findeval.regime {' '.join(args)}: {r.stdout[-2000:]}{r.stderr[-2000:]}")

    for desc, dry, p in jobs:
        try:
            out, _ = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        if p.returncode != 0:
            failures.append(f"{desc}:\n{out[-3000:]}")
        elif dry and "Job stats" not in out:
            failures.append(f"{desc}: the dry run planned nothing:\n{out[-2000:]}")
    assert not failures, "\n\n".join(failures)


# --------------------------------------------------------------------------- the job counts the docs quote


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def job_count_rows(text: str | None = None) -> list[dict]:
    """The rows of the README's "Job counts" table: target (the first backticked word), jobs, trainings and the
    cell the trainings are explained in."""
    text = README.read_text() if text is None else text
    m = re.search(r"^### Job counts\n(.*?)(?=^#)", text, re.M | re.S)
    assert m, "README has no '### Job counts' section"
    rows = []
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        target = re.match(r"`([^`]+)`", cells[0]).group(1)
        trainings = re.match(r"([\d,]+)", cells[2])
        rows.append({"target": target, "jobs": _number(cells[1]), "trainings": _number(trainings.group(1)),
                     "detail": cells[2]})
    return rows


def dry_run_counts(jobs) -> dict:
    """Jobs, jobs per rule and planned metrics.json files (trainings) per experiment of one dry run."""
    per_rule: dict[str, int] = {}
    for j in jobs:
        per_rule[j.rule] = per_rule.get(j.rule, 0) + 1
    metrics = {o for j in jobs for o in j.output if o.endswith("/metrics.json")}
    per_exp: dict[str, int] = {}
    for o in metrics:
        exp = o.split("/")[1]
        per_exp[exp] = per_exp.get(exp, 0) + 1
    return {"jobs": len(jobs), "rules": per_rule, "trainings": len(metrics), "experiments": per_exp}


@pytest.fixture(scope="module")
def default_dry_runs(tmp_path_factory):
    """One dry run of config.yaml per target of the README's job counts (concurrently), parsed."""
    from conftest import planned_jobs

    base = tmp_path_factory.mktemp("counts")
    procs = {}
    for i, row in enumerate(job_count_rows()):
        d = workdir(base, f"count{i}")
        target = [] if row["target"] == "all" else [row["target"]]
        cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(d), "-n",
               "--cores", "1", *target]
        procs[row["target"]] = subprocess.Popen(cmd, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                text=True)
    out = {}
    for target, p in procs.items():
        log, _ = p.communicate(timeout=TIMEOUT)
        assert p.returncode == 0, log[-3000:]
        out[target] = dry_run_counts(planned_jobs(log))
    return out


def test_the_readme_job_counts_are_the_dry_runs(default_dry_runs):
    """Issue 24: the numbers of jobs and trainings the README quotes are those `snakemake -n` plans today, and
    results/digits/figures/fig2.pdf (74 jobs) is told apart from figures/fig2.pdf (75: the copy)."""
    rows = job_count_rows()
    targets = [r["target"] for r in rows]
    assert {"results/digits/figures/fig2.pdf", "figures/fig2.pdf", "all"} <= set(targets), targets
    for row in rows:
        got = default_dry_runs[row["target"]]
        assert (row["jobs"], row["trainings"]) == (got["jobs"], got["trainings"]), (row, got["jobs"], got["trainings"])
        m = re.search(r"(\d+) find chains of (\d+) trainings, (\d+) evaluation sweeps of (\d+)", row["detail"])
        if m:
            chains, per_chain, sweeps, per_sweep = map(int, m.groups())
            assert got["rules"].get("find_chain") == chains and got["rules"].get("eval_sweep") == sweeps, got["rules"]
            assert chains * per_chain + sweeps * per_sweep == got["trainings"]
        m = re.search(r"\(([\d,]+) of the main experiment, ([\d,]+) and ([\d,]+) of the figA8 / figA9", row["detail"])
        if m:
            from findeval.a1 import plan as a1

            config = yaml_config()
            exps = [config["experiment"], *(a1.other_model_config(config, f)["experiment"] for f in ("figA8", "figA9"))]
            assert [_number(x) for x in m.groups()] == [got["experiments"].get(e) for e in exps], got["experiments"]
    fig2, copy = default_dry_runs["results/digits/figures/fig2.pdf"], default_dry_runs["figures/fig2.pdf"]
    assert copy["jobs"] == fig2["jobs"] + 1 and copy["rules"].get("gallery_figure") == 1


def yaml_config() -> dict:
    from conftest import read_yaml, validated

    return validated(read_yaml(REPO / "config.yaml"))


def test_the_jobs_added_to_the_default_dag_are_the_dry_run(default_dry_runs):
    """The docs' "Jobs added to the default DAG" paragraphs name rules with their job counts: each is the count of
    the default target's dry run."""
    rules = default_dry_runs["all"]["rules"]
    checked = 0
    for page in pages():
        for para in re.split(r"\n\s*\n", page.read_text()):
            if not para.startswith("Jobs added to the default DAG"):
                continue
            for n, rule in re.findall(r"(\d+)\s+`(\w+)`", para):
                assert rules.get(rule) == int(n), f"{page.name}: {n} `{rule}` but the dry run plans {rules.get(rule)}"
                checked += 1
    assert checked >= 10, checked


# --------------------------------------------------------------------------- the generated config reference


def test_the_config_reference_is_generated_from_the_schema():
    """docs/config.md is exactly what `python -m findeval.configdoc` writes (regenerate it after a schema edit)."""
    from findeval import configdoc

    assert (DOCS / "config.md").read_text() == configdoc.render(), (
        "docs/config.md is stale: python -m findeval.configdoc > docs/config.md")
    r = subprocess.run([sys.executable, "-m", "findeval.configdoc", "--check"], cwd=REPO, capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr


def test_the_config_reference_follows_the_schema():
    """A key, default or description added to the schema shows up in the page (so a stale page differs), every
    schema key has its row, and the values columns are the validated configs'."""
    import copy

    from findeval import configdoc
    from findeval.workflow import load_yaml_file

    schema = load_yaml_file(configdoc.SCHEMA, "schema", strict=False)
    configs = configdoc.load_configs()
    page = configdoc.render(schema, configs)
    for key in ("experiment", "dataset.augment.crop_scale", "runtime.find_group", "figures.style.palette",
                "structured.ratios", "early_pruning.epochs", "rewinding.late_epoch"):
        assert f"`{key}`" in page, key
    row = next(line for line in page.splitlines() if line.startswith("| `pruning.levels` |"))
    assert "| required | 14 | 30 |" in row, row  # config.yaml's 14 levels, the paper preset's 30
    row = next(line for line in page.splitlines() if line.startswith("| `runtime.device` |"))
    assert "| cpu | cpu | auto |" in row, row
    changed = copy.deepcopy(schema)
    changed["properties"]["runtime"]["properties"]["threads"]["default"] = 3
    changed["properties"]["runtime"]["properties"]["new_key"] = {"description": "A new key.", "type": "integer",
                                                                 "default": 7}
    other = configdoc.render(changed, configs)
    assert other != page and "| `runtime.new_key` | A new key. | integer | 7 |" in other
    assert "| `runtime.threads` | Torch threads per job. | integer (>= 1) | 3 |" in other
