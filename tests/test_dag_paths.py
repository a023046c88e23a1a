"""The planned paths of the DAG stay what they were (issue 15 item 3).

The rules of the main experiment's analyses write its name into their patterns instead of `{exp}` (Snakemake's
file look-ups then scan only the rules of a file's own folder): the files each job writes, its log and its
benchmark record must be the same paths. The stored lists (tests/data/planned_paths_*.txt) were written by
the rules as they were before that change; every rule family is in them (A1, LPR, early pruning, rewinding,
instability, structured, a second experiment of figA9), at both granularities.

An intended change of the layout rewrites them: ``FINDEVAL_WRITE_PLANNED=1 pytest tests/test_dag_paths.py``
(and the diff shows what moved).
"""

from __future__ import annotations

import copy
import os
import re

import pytest

from conftest import REPO, TEST_DATA, read_yaml, snakemake, write_config

#: the second experiment of figA9: another model, schedule and augmentation than the main one
SECOND = {"experiment": "tiny-second", "caption": "the second experiment", "model": {"name": "resnet18", "width": 2},
          "training": {"epochs": 3, "milestones": [2], "gamma": 0.1},
          "dataset": {"name": "digits", "augment": {"crop_scale": [0.7, 1.0], "crop_ratio": [0.75, 1.3333333],
                                                    "flip": False}}}


def config(granularity: str) -> dict:
    raw = read_yaml(REPO / "tests" / "data" / "tiny_structured.yaml")
    raw["other_models"] = {"figA9": copy.deepcopy(SECOND)}
    raw["early_pruning"] = {"epochs": [1]}
    raw["runtime"] = {"granularity": granularity}
    return raw


def planned_paths(dry_run: str) -> list[str]:
    """One line per planned job: ``rule|outputs|log|benchmark`` (paths sorted), the lines sorted."""
    jobs, job = [], None
    for line in dry_run.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):\s*$", line)
        if m:
            job = {"rule": m.group(1)}
            jobs.append(job)
            continue
        m = re.match(r"^\s+(output|log|benchmark): (.*)$", line)
        if m and job is not None:
            job[m.group(1)] = ",".join(sorted(x.strip() for x in m.group(2).split(",")))
    return sorted("|".join(j.get(k, "") for k in ("rule", "output", "log", "benchmark")) for j in jobs)


@pytest.mark.parametrize("granularity", ["level", "chain"])
def test_planned_paths_are_the_stored_ones(tmp_path, granularity):
    write_config(tmp_path, config(granularity))
    lines = planned_paths(snakemake(tmp_path, "-n", "--forceall").stdout)
    stored = TEST_DATA / f"planned_paths_{granularity}.txt"
    if os.environ.get("FINDEVAL_WRITE_PLANNED"):
        stored.write_text("\n".join(lines) + "\n")
    expected = stored.read_text().splitlines()
    # every family and both experiments are planned (so the comparison covers them)
    rules = {line.split("|")[0] for line in lines}
    assert {"finetune_structured", "variant_eval_sweep", "early_eval_sweep", "instability"} <= rules
    assert any("results/tiny-second/" in line for line in lines)
    missing, extra = sorted(set(expected) - set(lines)), sorted(set(lines) - set(expected))
    assert not missing and not extra, f"missing {missing[:5]}, extra {extra[:5]}"
    assert lines == expected
