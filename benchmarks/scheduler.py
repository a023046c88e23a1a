"""Snakemake's own cost under its two schedulers (issue 21, item 3): the same target in fresh work folders,
once with ``--scheduler ilp`` (Snakemake's default) and once with ``--scheduler greedy`` (the workflow's
default profile, profiles/default/profile.yaml), side by side (both start together, so a change of the
machine's load hits both; ``--one-after-the-other`` for idle cores and comparable wall times).

    python benchmarks/scheduler.py                                   # tests/data/tiny.yaml at 3 seeds, all figures
    python benchmarks/scheduler.py --config config.yaml --target figures/fig2.pdf --seeds 0 1 2

It prints, per scheduler, the wall time, the CPU seconds of Snakemake's main process alone (its own
``getrusage(RUSAGE_SELF)``: job selection, DAG updates, file checks; the jobs are child processes and are not
counted) and that CPU time as a share of one core over the run. The jobs are the same set in both runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: Runs ``python -m snakemake`` in this process and writes its own CPU seconds to the file named by argv[1].
_WRAPPER = """
import atexit, json, resource, runpy, sys
out = sys.argv[1]
def _report():
    r = resource.getrusage(resource.RUSAGE_SELF)
    with open(out, "w") as fh:
        json.dump({"user_s": r.ru_utime, "sys_s": r.ru_stime}, fh)
atexit.register(_report)
sys.argv = ["snakemake"] + sys.argv[2:]
runpy.run_module("snakemake", run_name="__main__", alter_sys=True)
"""


def start(workdir: Path, config: Path, scheduler: str, target: str, cores: int, seeds: list[int] | None,
          extra: list[str]):
    workdir.mkdir(parents=True, exist_ok=True)
    usage = workdir / "snakemake_rusage.json"
    cmd = [sys.executable, "-c", _WRAPPER, str(usage), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(config), "--cores", str(cores), "--scheduler", scheduler, "--quiet", "progress"]
    cmd += ["--config", *([f"seeds={json.dumps(seeds)}"] if seeds else []), *extra]
    cmd += ["--", *target.split()] if target else []
    print("$ " + " ".join(cmd[3:]), file=sys.stderr, flush=True)
    log = open(workdir / "snakemake.out", "w")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True), time.perf_counter(), usage


def finish(scheduler: str, started) -> dict:
    proc, t, usage = started
    rc = proc.wait()
    wall = time.perf_counter() - t
    if rc != 0:
        out = Path(usage).with_name("snakemake.out").read_text()
        raise SystemExit(f"snakemake ({scheduler}) exited {rc}\n{out[-3000:]}")
    cpu = json.loads(usage.read_text())
    main_s = cpu["user_s"] + cpu["sys_s"]
    return {"scheduler": scheduler, "wall_s": wall, "main_cpu_s": main_s, "main_share": main_s / wall}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(REPO / "tests" / "data" / "tiny.yaml"))
    ap.add_argument("--target", default="", help="targets (space separated; default: the config's default target)")
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--workdir", default=None, help="parent of the two work folders (default: a new temp folder)")
    ap.add_argument("--out", default=None, help="also write the table here")
    ap.add_argument("--set", nargs="*", default=[], help="more --config KEY=VALUE items (e.g. 'runtime={granularity: chain}')")
    ap.add_argument("--one-after-the-other", action="store_true", help="run ilp, then greedy (default: side by side)")
    args = ap.parse_args(argv)
    base = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="findeval-scheduler-"))
    config = Path(args.config).resolve()
    rows = []
    if args.one_after_the_other:
        for s in ("ilp", "greedy"):
            rows.append(finish(s, start(base / s, config, s, args.target, args.cores, args.seeds, args.set)))
    else:
        started = {s: start(base / s, config, s, args.target, args.cores, args.seeds, args.set)
                   for s in ("ilp", "greedy")}
        rows = [finish(s, p) for s, p in started.items()]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    how = "one after the other" if args.one_after_the_other else "side by side"
    lines = [f"`snakemake {args.target or '(default target)'}` on {args.config}, seeds {args.seeds}, "
             f"{' '.join(args.set)} --cores {args.cores}, {how}; load average {load} at the end; work folders under "
             f"{base}", "",
             "| scheduler | wall time s | Snakemake main process CPU s | share of one core |",
             "| --- | --- | --- | --- |"]
    lines += [f"| {r['scheduler']} | {r['wall_s']:.1f} | {r['main_cpu_s']:.1f} | {r['main_share']:.1%} |" for r in rows]
    ilp, greedy = rows
    lines += ["", f"greedy / ilp: wall {greedy['wall_s'] / ilp['wall_s']:.2f}, main-process CPU "
              f"{greedy['main_cpu_s'] / ilp['main_cpu_s']:.2f}"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
