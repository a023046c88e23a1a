"""Snakemake's own log (``.snakemake/log/*.snakemake.log``), parsed once: the jobs it started and finished, with
their rules, outputs and times, and the cores it ran on.

Read by ``findeval.progress`` (the ETA of jobs without benchmark records) and ``benchmarks/bench.py`` (a run's
elapsed-time breakdown). Torch-free, standard library only.
"""

from __future__ import annotations

import os
import re
from datetime import datetime

_TS = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
_START = re.compile(r"^(?:local)?rule (\w+):$")
_JOBID = re.compile(r"^\s+jobid: (\d+)$")
_FINISH = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")
# "Provided cores: 1 (use --cores to define parallelism)" carries a note; --quiet progress drops the line
_CORES = re.compile(r"^Provided cores: (\d+)(?: \(.*\))?$")
_REMOTE = re.compile(r"^Provided remote nodes: (\S+)$")
_COMMAND = re.compile(r"^\s*Command: (.*)$")
_OUTPUTS = re.compile(r"^\s+output: (.*)$")
_CORES_ARG = re.compile(r"(?:^|\s)(?:--cores|-c|--jobs|-j)(?:=|\s+)(\d+|all)(?=\s|$)")


def cores_of_command(command: str) -> int | None:
    """The cores a Snakemake command line asks for (``--cores N``, ``-c N``, ``--jobs N``, ``-j N``; ``all``:
    this machine's count), or None."""
    m = _CORES_ARG.search(command)
    if not m:
        return None
    return os.cpu_count() if m.group(1) == "all" else int(m.group(1))


def parse_snakemake_log(path) -> dict:
    """Jobs of one Snakemake log: ``{"jobs": {jobid: (rule, start, end)}, "outputs": {jobid: [paths]}, "cores",
    "cores_from", "remote", "started", "first", "last"}`` (times in seconds, 1 s resolution; jobs that did not
    finish are left out of ``jobs``; ``started`` counts every job that started).

    ``cores`` comes from the "Provided cores" line, else from the command line in the log's header (a log
    written with ``--quiet progress`` has neither that line nor the "Finished jobid" lines: its jobs have no
    end times, so ``last`` is only the start of the last job); None on a cluster executor ("Provided remote
    nodes", ``remote`` True)."""
    started, jobs, outputs, cores, command, stamps = {}, {}, {}, None, None, []
    ts, pending, current, remote = None, None, None, False
    with open(path, errors="replace") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            m = _TS.match(line)
            if m:
                ts = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y").timestamp()
                stamps.append(ts)
                continue
            m = _START.match(line)
            if m:
                pending, current = (m.group(1), ts), []
                continue
            m = _OUTPUTS.match(line)
            if m and current is not None:
                current.extend(x.strip() for x in m.group(1).split(", ") if x.strip())
                continue
            m = _JOBID.match(line)
            if m and pending:
                started[int(m.group(1))] = pending
                outputs[int(m.group(1))] = current or []
                pending, current = None, None
                continue
            m = _FINISH.match(line)
            if m and int(m.group(1)) in started and ts is not None:
                rule, start = started[int(m.group(1))]
                jobs[int(m.group(1))] = (rule, start, ts)
                continue
            m = _CORES.match(line)
            if m:
                cores = int(m.group(1))
                continue
            if _REMOTE.match(line):
                remote = True
                continue
            m = _COMMAND.match(line)
            if m and command is None:
                command = m.group(1)
    cores_from = "log" if cores is not None else None
    if cores is None and not remote and command:
        cores = cores_of_command(command)
        cores_from = "command" if cores is not None else None
    return {"jobs": jobs, "outputs": {j: outputs[j] for j in jobs}, "cores": cores, "cores_from": cores_from,
            "remote": remote, "started": len(started), "first": stamps[0] if stamps else None,
            "last": stamps[-1] if stamps else None}


def logged_jobs(path) -> list[tuple[str, float, list[str]]]:
    """(rule, seconds from start to finish, outputs) of every job that finished in one Snakemake log, in job-id
    order (its timestamps have 1 s resolution)."""
    log = parse_snakemake_log(path)
    return [(rule, end - start, log["outputs"][j]) for j, (rule, start, end) in sorted(log["jobs"].items())
            if start is not None]
