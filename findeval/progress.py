"""What a running or finished workflow has done, what remains, and about how long that takes.

    python -m findeval.progress [--configfile config/x.yaml] [--directory DIR] [--cores N] [TARGET ...]

(one config file per ``--configfile``: unlike Snakemake's, it takes no list, so a target after it stays a target)

- **remaining**: the jobs a dry run (``snakemake -n --quiet rules``, without taking the lock, so it can run beside
  a running workflow) would still run, per rule; jobs running now count as remaining until they finish;
- **done**: the finished jobs of each rule that keeps a benchmark record (``results/<exp>/benchmarks/<rule>/``:
  every training rule), with their mean wall time;
- **estimate**: remaining jobs x the mean seconds per job of their rule, over ``--cores`` parallel jobs (for a
  cluster, the number of jobs that run at once). Rules without any record yet are named as such; rules
  without a benchmark directive (prune, masks, figures) take seconds and are not counted.

Also printed: the finished training runs (``metrics.json`` files) and their summed ``train_time_s``. The cost is
one dry run (a few seconds at paper scale) and a walk of ``results/``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
from pathlib import Path

from . import paths

SNAKEFILE = Path(__file__).resolve().parents[1] / "Snakefile"


def remaining_jobs(directory: str, configfiles=(), targets=(), snakefile: str | os.PathLike = SNAKEFILE,
                   timeout: float = 600) -> dict[str, int]:
    """``{rule: jobs still to run}`` from a dry run of the workflow in ``directory``."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "--directory", str(directory), "-n",
           "--quiet", "rules", "--nolock", "--rerun-incomplete", "--cores", "1"]
    cmd += list(targets)  # before --configfile, which takes every word after it as a config file
    if configfiles:
        cmd += ["--configfile", *map(str, configfiles)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=directory)
    out = r.stdout + r.stderr
    if r.returncode != 0:
        last = [line.strip() for line in out.strip().splitlines()
                if line.strip() and not line.lstrip().startswith("File ")][-3:]
        raise RuntimeError("the dry run failed: " + " | ".join(last))
    return parse_job_stats(out)


def parse_job_stats(output: str) -> dict[str, int]:
    """The "Job stats" table of a dry run as ``{rule: count}`` (empty when nothing is to be done)."""
    if "Job stats:" not in output:
        return {}
    counts = {}
    for line in output[output.index("Job stats:"):].splitlines()[3:]:
        name, _, count = line.strip().partition(" ")
        if not name or name == "total" or not count.strip().isdigit():
            break
        counts[name] = int(count)
    return counts


def benchmark_seconds(path: str) -> float | None:
    """The wall seconds (column ``s``) of a Snakemake benchmark record, or None if unreadable."""
    try:
        with open(path) as fh:
            header = fh.readline().split("\t")
            values = fh.readline().split("\t")
        return float(values[header.index("s")])
    except (OSError, ValueError, IndexError):
        return None


def done_jobs(directory: str) -> dict[str, list[float]]:
    """``{rule: [seconds of each finished job]}`` from ``results/*/benchmarks/<rule>/**.tsv``."""
    done: dict[str, list[float]] = {}
    for path in glob.glob(os.path.join(directory, paths.BENCHMARK_RECORDS), recursive=True):
        rule = paths.benchmark_folder(Path(path).relative_to(directory).as_posix())
        s = benchmark_seconds(path)
        if s is not None:
            done.setdefault(rule, []).append(s)
    return done


def finished_runs(directory: str) -> tuple[int, float]:
    """(number of metrics.json files, their summed ``train_time_s``) under ``results/``."""
    n, total = 0, 0.0
    for path in glob.glob(os.path.join(directory, paths.METRICS_FILES), recursive=True):
        try:
            with open(path) as fh:
                m = json.load(fh)
        except (OSError, ValueError):
            continue
        if isinstance(m, dict) and "train_time_s" in m:
            n += 1
            total += float(m.get("train_time_s") or 0.0)
    return n, total


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min" if h else (f"{m} min {s:02d} s" if m else f"{s} s")


def report(remaining: dict[str, int], done: dict[str, list[float]], runs: tuple[int, float], cores: int = 1) -> str:
    """The table: per rule done, remaining, mean s/job and the estimate; a total line."""
    rules = sorted(set(remaining) | set(done))
    rows, estimate, unknown = [], 0.0, []
    for rule in rules:
        secs = done.get(rule, [])
        mean = sum(secs) / len(secs) if secs else None
        left = remaining.get(rule, 0)
        est = mean * left if mean is not None else None
        if est is not None:
            estimate += est
        elif left and not _cheap(rule):
            unknown.append(rule)
        rows.append((rule, len(secs), left, mean, est))
    width = max([len("rule")] + [len(r[0]) for r in rows])
    lines = [f"{'rule':<{width}}  {'done':>6}  {'remaining':>9}  {'s/job':>8}  {'est. left':>12}"]
    for rule, n_done, left, mean, est in rows:
        lines.append(f"{rule:<{width}}  {n_done:>6}  {left:>9}  {'' if mean is None else f'{mean:.1f}':>8}  "
                     f"{'' if est is None else format_duration(est):>12}")
    total_left = sum(v for k, v in remaining.items() if k != "all")
    total_done = sum(len(v) for v in done.values())
    lines.append(f"{'total':<{width}}  {total_done:>6}  {total_left:>9}")
    n_runs, train_s = runs
    lines.append(f"finished training runs: {n_runs} (metrics.json), {format_duration(train_s)} of training")
    if total_left == 0:
        lines.append("nothing remains: the workflow is complete for these targets")
    else:
        par = max(1, int(cores))
        lines.append(f"estimated time left: {format_duration(estimate / par)} at {par} job(s) at a time"
                     f" (from {total_done} benchmark records)"
                     + (f"; no record yet for {', '.join(unknown)} (not counted)" if unknown else ""))
    return "\n".join(lines)


def _cheap(rule: str) -> bool:
    """Rules without a benchmark record that take seconds: masks, pruning, aggregation, figures."""
    return rule in _CHEAP or rule == "all" or rule.startswith("fig") or rule.endswith("_figure") \
        or "mask" in rule or rule.startswith("prune") or rule.startswith("aggregate")


#: Cheap rules without a benchmark record (seconds each): left out of the "no record yet" note.
_CHEAP = {"prepare_data", "init", "prune", "rewind", "global_random_mask", "global_random_masks",
          "preserve_lpr_mask", "preserve_lpr_masks", "aggregate", "claims", "regime"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m findeval.progress", description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", action="append", default=[],
                        help="a config file as given to snakemake (default config.yaml); repeat for several")
    parser.add_argument("--directory", "-d", default=".", help="the workflow's working directory (default .)")
    parser.add_argument("--cores", type=int, default=1, help="jobs that run at a time, for the estimate")
    parser.add_argument("--snakefile", "-s", default=str(SNAKEFILE))
    parser.add_argument("targets", nargs="*", help="the targets of the run (default: the default target)")
    args = parser.parse_args(argv)
    directory = os.path.abspath(args.directory)
    try:
        remaining = remaining_jobs(directory, args.configfile, args.targets, args.snakefile)
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        print(f"findeval.progress: {err}", file=sys.stderr)
        return 1
    print(report(remaining, done_jobs(directory), finished_runs(directory), args.cores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
