"""What a running or finished workflow has done, what remains, and about how long that takes.

    python -m findeval.progress [--configfile config/x.yaml] [--directory DIR] [--cores N] [TARGET ...]

(one config file per ``--configfile``: unlike Snakemake's, it takes no list, so a target after it stays a target)

Everything is counted for the experiments of the given config only (its main experiment and those of its
``other_models``, ``results/<exp>/``), not for every experiment under ``results/``:

- **remaining**: the jobs a dry run (``snakemake -n --quiet rules``, without taking the lock, so it can run beside
  a running workflow) would still run, per rule; jobs running now count as remaining until they finish;
- **done**: the finished jobs of each rule, with their mean wall time: from the rule's benchmark records
  (``results/<exp>/benchmarks/<rule>/``: every training rule), and for the rules without a benchmark directive
  (prune, masks, figures, ...: seconds of work, but a process start each) from the job start and finish times in
  the Snakemake logs of the working directory (``.snakemake/log/*.snakemake.log``, jobs writing into these
  experiments);
- **estimate**: remaining jobs x the mean seconds per job of their rule, over ``--cores`` parallel jobs (for a
  cluster, the number of jobs that run at once). A rule without a benchmark directive and no timed job yet takes
  the mean of the timed jobs of such rules (a job's start-up and its few seconds of work); rules with no time at
  all are named as such.

Also printed: the finished training runs (``metrics.json`` files) and their summed ``train_time_s``. The cost is
one dry run (a few seconds at paper scale), a walk of the experiments' folders and a read of the logs.
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
from .snakelog import logged_jobs

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


def experiments(directory: str, configfiles=()) -> list[str]:
    """The experiments the config plans (the main one first, then those of ``other_models``): ``configfiles``
    merged in order as Snakemake merges them, or ``<directory>/config.yaml`` as the Snakefile's default."""
    from .a1 import plan
    from .workflow import load_yaml_file, precheck_file, validate_file

    files = [str(f) for f in configfiles] or [os.path.join(directory, "config.yaml")]
    config: dict = {}
    for f in files:
        if not os.path.isfile(f):
            raise RuntimeError(f"no config file {f} (give the run's config with --configfile)")
        _merge(config, load_yaml_file(f))
    schema = str(Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml")
    try:
        config = validate_file(precheck_file(config, schema), schema)
    except Exception as err:  # the config check's own message, one line
        raise RuntimeError(f"{' '.join(files)}: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
    names = [config["experiment"]]
    for derived in plan.other_model_configs(config).values():
        if derived["experiment"] not in names:
            names.append(derived["experiment"])
    return names


def _merge(base: dict, new: dict) -> None:
    for k, v in (new or {}).items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v


def _under(path: str, exps) -> bool:
    return any(path.startswith(f"{paths.RESULTS}/{e}/") for e in exps)


def done_jobs(directory: str, exps=None) -> dict[str, list[float]]:
    """``{rule: [seconds of each finished job]}`` from ``results/<exp>/benchmarks/<rule>/**.tsv`` of the
    experiments ``exps`` (None: every experiment)."""
    done: dict[str, list[float]] = {}
    for path in glob.glob(os.path.join(directory, paths.BENCHMARK_RECORDS), recursive=True):
        rel = Path(path).relative_to(directory).as_posix()
        if exps is not None and not _under(rel, exps):
            continue
        rule = paths.benchmark_folder(rel)
        s = benchmark_seconds(path)
        if s is not None:
            done.setdefault(rule, []).append(s)
    return done


def timed_jobs(directory: str, exps=None, skip=()) -> dict[str, list[float]]:
    """``{rule: [seconds of each finished job]}`` from the Snakemake logs of ``directory``, for the jobs that
    wrote into the experiments ``exps`` (None: every job with outputs), rules in ``skip`` left out (those with
    benchmark records: their records are the better measure)."""
    timed: dict[str, list[float]] = {}
    for path in sorted(glob.glob(os.path.join(directory, ".snakemake", "log", "*.snakemake.log"))):
        for rule, seconds, outputs in logged_jobs(path):
            if rule in skip or not outputs or (exps is not None and not any(_under(o, exps) for o in outputs)):
                continue
            timed.setdefault(rule, []).append(seconds)
    return timed


def finished_runs(directory: str, exps=None) -> tuple[int, float]:
    """(number of metrics.json files, their summed ``train_time_s``) under ``results/<exp>/`` of the experiments
    ``exps`` (None: all of ``results/``)."""
    n, total = 0, 0.0
    patterns = ([os.path.join(directory, paths.RESULTS, e, "**", "metrics.json") for e in exps] if exps is not None
                else [os.path.join(directory, paths.METRICS_FILES)])
    for pattern in patterns:
        for path in glob.glob(pattern, recursive=True):
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


def report(remaining: dict[str, int], done: dict[str, list[float]], runs: tuple[int, float], cores: int = 1,
           timed: dict[str, list[float]] | None = None) -> str:
    """The table: per rule done, remaining, mean s/job and the estimate; a total line. ``done``: the benchmark
    records' seconds per rule; ``timed``: the Snakemake logs' seconds per job of the rules without records."""
    timed = {k: v for k, v in (timed or {}).items() if k not in done}
    cheap_secs = [s for rule, secs in timed.items() if _cheap(rule) for s in secs]
    cheap_mean = sum(cheap_secs) / len(cheap_secs) if cheap_secs else None
    rules = sorted(set(remaining) | set(done) | set(timed))
    rows, estimate, unknown = [], 0.0, []
    for rule in rules:
        secs = done.get(rule) or timed.get(rule, [])
        mean = sum(secs) / len(secs) if secs else None
        left = remaining.get(rule, 0) if rule != "all" else 0
        if mean is None and left and _cheap(rule):
            mean = cheap_mean  # a job's start-up and a few seconds of work, as timed on the other cheap rules
        est = mean * left if mean is not None else None
        if est is not None:
            estimate += est
        elif left and not _cheap(rule):
            unknown.append(rule)
        rows.append((rule, len(secs), remaining.get(rule, 0), mean, est))
    width = max([len("rule")] + [len(r[0]) for r in rows])
    lines = [f"{'rule':<{width}}  {'done':>6}  {'remaining':>9}  {'s/job':>8}  {'est. left':>12}"]
    for rule, n_done, left, mean, est in rows:
        lines.append(f"{rule:<{width}}  {n_done:>6}  {left:>9}  {'' if mean is None else f'{mean:.1f}':>8}  "
                     f"{'' if est is None else format_duration(est):>12}")
    total_left = sum(v for k, v in remaining.items() if k != "all")
    total_done = sum(len(v) for v in done.values()) + sum(len(v) for v in timed.values())
    lines.append(f"{'total':<{width}}  {total_done:>6}  {total_left:>9}")
    n_runs, train_s = runs
    lines.append(f"finished training runs: {n_runs} (metrics.json), {format_duration(train_s)} of training")
    if total_left == 0:
        lines.append("nothing remains: the workflow is complete for these targets")
    else:
        par = max(1, int(cores))
        n_records = sum(len(v) for v in done.values())
        n_timed = sum(len(v) for v in timed.values())
        lines.append(f"estimated time left: {format_duration(estimate / par)} at {par} job(s) at a time"
                     f" (from {n_records} benchmark records"
                     + (f" and {n_timed} jobs timed in the Snakemake logs" if n_timed else "") + ")"
                     + (f"; no record yet for {', '.join(unknown)} (not counted)" if unknown else "")
                     + ("" if cheap_mean is not None or not any(_cheap(r) and remaining.get(r) and r not in done
                                                                  and r != "all" for r in remaining)
                        else "; the jobs without benchmark records are not timed yet (their start-up not counted)"))
    return "\n".join(lines)


def _cheap(rule: str) -> bool:
    """Rules without a benchmark record that take seconds: masks, pruning, aggregation, figures."""
    return rule in _CHEAP or rule == "all" or rule.startswith("fig") or rule.endswith("_figure") \
        or "mask" in rule or rule.startswith("prune") or rule.startswith("aggregate")


#: Cheap rules without a benchmark record (seconds each): left out of the "no record yet" note.
_CHEAP = {"prepare_data", "init", "prune", "rewind", "global_random_mask", "global_random_masks",
          "preserve_lpr_mask", "preserve_lpr_masks", "aggregate", "claims", "regime", "gallery",
          "gallery_experiment"}


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
        exps = experiments(directory, args.configfile)
        remaining = remaining_jobs(directory, args.configfile, args.targets, args.snakefile)
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        print(f"findeval.progress: {err}", file=sys.stderr)
        return 1
    done = done_jobs(directory, exps)
    print(f"experiments: {', '.join(exps)}")
    print(report(remaining, done, finished_runs(directory, exps), args.cores,
                 timed_jobs(directory, exps, skip=set(done))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
