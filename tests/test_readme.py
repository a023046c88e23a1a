"""The README's commands (issue 16, item 5): every shell command of the Quick start and of "Running at scale" that
can run here runs, so that a wrong one (unknown target, wrong flag, a target swallowed by --configfile, a missing
file) fails CI.

Commands are the lines of the fenced ```bash blocks of those two sections. A line that cannot run here ends with
a comment ``# not run in tests: <reason>`` and is skipped by that marker (a skipped ``snakemake`` line still has
its arguments parsed by Snakemake's own parser). The others:

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
SECTIONS = ("Quick start", "Running at scale")
MARKER = "# not run in tests:"
TINY = REPO / "tests" / "data" / "tiny.yaml"
TIMEOUT = 300


def section(text: str, title: str) -> str:
    """The text of ``## title`` up to the next ``## `` heading (its ``###`` subsections included)."""
    m = re.search(rf"^## {re.escape(title)}\b.*$", text, re.M)
    assert m, f"README has no section '## {title}'"
    nxt = re.search(r"^## ", text[m.end():], re.M)
    return text[m.end(): m.end() + nxt.start() if nxt else len(text)]


def readme_commands(text: str | None = None) -> list[tuple[str, str]]:
    """(section, line) of every command line in the sections' ```bash blocks (blank and comment lines left out)."""
    text = README.read_text() if text is None else text
    out = []
    for title in SECTIONS:
        for block in re.findall(r"^[ \t]*```bash[ \t]*\n(.*?)^[ \t]*```", section(text, title), re.M | re.S):
            for line in block.splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    out.append((title, line))
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
    assert len(commands) >= 15, commands
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
