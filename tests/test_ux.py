"""User experience: a failed job's error is in the rule's log, stale temporaries go, progress lines and the
progress command, the device setting, MiniPlaces layouts live in test_datasets.py."""

from __future__ import annotations

import copy
import os
import sys

import pytest

from conftest import TINY, read_yaml, snakemake, write_config
from findeval import jobs
from findeval.hparams import H

HSLUG = H(lr=0.05, batch_size=128, weight_decay=5.0e-4).slug


@pytest.fixture(scope="module")
def failed_job(tmp_path_factory):
    """A tiny workflow whose level-0 find training fails on a truncated init.pt."""
    wd = tmp_path_factory.mktemp("fail")
    write_config(wd, read_yaml(TINY))
    snakemake(wd, "results/tiny/seed0/init.pt", "results/tiny/dataset.npz", timeout=300)
    init = wd / "results/tiny/seed0/init.pt"
    init.write_bytes(init.read_bytes()[:100])  # truncated
    # a temporary left by a "killed" earlier run of the failing job
    out = wd / f"results/tiny/find/{HSLUG}/seed0/level0"
    out.mkdir(parents=True)
    stale = out / ".metrics.json.tmp-999-deadbeef"
    stale.write_bytes(b"")
    r = snakemake(wd, f"results/tiny/find/{HSLUG}/seed0/level0/metrics.json", check=False, timeout=300)
    return wd, r, stale


def test_a_failed_job_leaves_its_error_in_the_rule_log(failed_job):
    wd, r, _ = failed_job
    assert r.returncode != 0
    log = wd / f"results/tiny/logs/train_find/{HSLUG}/seed0/level0.log"
    text = log.read_text()
    assert "ERROR: job failed: CheckpointError" in text, text
    assert "init.pt is unreadable" in text  # the message names the file
    assert "Traceback (most recent call last)" in text


def test_a_stale_temporary_of_the_job_is_removed_on_the_next_run(failed_job):
    wd, _, stale = failed_job
    assert not stale.exists()
    log = wd / f"results/tiny/logs/train_find/{HSLUG}/seed0/level0.log"
    assert "removed 1 temporary file(s) of a killed earlier run" in log.read_text()


def test_remove_stale_temporaries_touches_only_this_jobs_outputs(tmp_path):
    mine = tmp_path / ".mask.h5.tmp-12-abcd1234"
    other = tmp_path / ".ticket.pt.tmp-12-abcd1234"
    similar = tmp_path / ".mask.h5x.tmp-1-x"
    for f in (mine, other, similar):
        f.write_bytes(b"")
    removed = jobs.remove_stale_temporaries([str(tmp_path / "mask.h5")])
    assert removed == [str(mine)]
    assert not mine.exists() and other.exists() and similar.exists()


def test_log_failures_to_writes_type_message_and_traceback(tmp_path, monkeypatch):
    log = tmp_path / "logs" / "x.log"
    monkeypatch.setattr(sys, "excepthook", lambda *a: None)
    jobs.log_failures_to(str(log))
    try:
        raise ValueError("pruning.fraction 1e-09 prunes no weight")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    text = log.read_text()
    assert text.startswith("ERROR: job failed: ValueError: pruning.fraction 1e-09 prunes no weight")
    assert "Traceback" in text
