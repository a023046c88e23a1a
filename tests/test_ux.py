"""User experience: a failed job's error is in the rule's log, stale temporaries go, progress lines and the
progress command, the device setting, MiniPlaces layouts live in test_datasets.py."""

from __future__ import annotations

import copy
import os
import sys

import pytest

from conftest import TINY, read_yaml, snakemake, write_config
from findeval import process, runs
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
    removed = process.remove_stale_temporaries([str(tmp_path / "mask.h5")])
    assert removed == [str(mine)]
    assert not mine.exists() and other.exists() and similar.exists()


def test_log_failures_to_writes_type_message_and_traceback(tmp_path, monkeypatch):
    log = tmp_path / "logs" / "x.log"
    monkeypatch.setattr(sys, "excepthook", lambda *a: None)
    process.log_failures_to(str(log))
    try:
        raise ValueError("pruning.fraction 1e-09 prunes no weight")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    text = log.read_text()
    assert text.startswith("ERROR: job failed: ValueError: pruning.fraction 1e-09 prunes no weight")
    assert "Traceback" in text


# --------------------------------------------------------------------------- runtime.device and re-runs


@pytest.fixture(scope="module")
def trained_level0(tmp_path_factory):
    wd = tmp_path_factory.mktemp("device")
    cfg = read_yaml(TINY)
    cfg["runtime"] = {**cfg.get("runtime", {}), "device": "cpu"}
    write_config(wd, cfg)
    target = f"results/tiny/find/{HSLUG}/seed0/level0/metrics.json"
    r = snakemake(wd, target, timeout=300)
    return wd, cfg, target, r


@pytest.mark.parametrize("device", ["auto", "cuda"])
def test_changing_runtime_device_reruns_nothing(trained_level0, device):
    wd, cfg, target, _ = trained_level0
    write_config(wd, {**cfg, "runtime": {**cfg["runtime"], "device": device}})
    try:
        r = snakemake(wd, "-n", target, timeout=120)
    finally:
        write_config(wd, cfg)
    assert "Nothing to be done" in r.stdout + r.stderr, r.stdout


def test_a_real_change_still_reruns(trained_level0):
    """The control: an edit that changes the training re-runs the job (the params trigger still works)."""
    wd, cfg, target, _ = trained_level0
    write_config(wd, {**cfg, "runtime": {**cfg["runtime"], "device": "auto"},
                      "training": {**cfg["training"], "gamma": 0.3}})
    try:
        r = snakemake(wd, "-n", target, timeout=120)
    finally:
        write_config(wd, cfg)
    assert "rule train_find:" in r.stdout or "localrule train_find:" in r.stdout, r.stdout


# --------------------------------------------------------------------------- progress lines


def test_training_job_logs_level_epoch_lines_and_a_summary(trained_level0):
    wd, _, _, r = trained_level0
    log = (wd / f"results/tiny/logs/train_find/{HSLUG}/seed0/level0.log").read_text()
    assert "level 0, epoch 1/2, acc " in log and "level 0, epoch 2/2, acc " in log, log
    assert "done: train_find lottery level 0, 2/2 epochs, test accuracy" in log
    # printed as well (the console of a local run)
    assert "epoch 2/2, acc " in r.stdout + r.stderr


def test_progress_log_with_the_level_total():
    lines = []
    p = runs.ProgressLog(level=2, levels=5, epochs=3, what="train_eval lottery")
    p.emit = lines.append
    p("epoch=3 lr=0.1 train_loss=1.2 train_accuracy=0.5 test_loss=1.3 test_accuracy=0.4812 time_s=1.0")
    p.summary({"epochs_completed": 3, "test_accuracy": 0.4812, "sparsity": 0.36, "train_time_s": 2.5})
    assert lines[0].startswith("level 2/5, epoch 3/3, acc 0.4812 | epoch=3")
    assert lines[1] == ("done: train_eval lottery level 2/5, 3/3 epochs, test accuracy 0.4812, sparsity 0.3600, "
                        "train time 2.5 s")


# --------------------------------------------------------------------------- python -m findeval.progress


def test_progress_command_on_a_tiny_run(trained_level0):
    import subprocess

    from conftest import REPO

    wd, _, target, _ = trained_level0
    cmd = [sys.executable, "-m", "findeval.progress", "--directory", str(wd), "--configfile",
           str(wd / "config.yaml"), "--cores", "2"]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = {line.split()[0]: line.split()[1:] for line in r.stdout.splitlines() if line.strip()}
    assert rows["train_find"][0] == "1"  # one finished (its benchmark record), the rest remain
    remaining_find = int(rows["train_find"][1])
    assert remaining_find > 0
    assert "finished training runs: 1 (metrics.json)" in r.stdout
    assert "estimated time left:" in r.stdout and "at 2 job(s) at a time" in r.stdout
    # the finished target alone: nothing remains
    r = subprocess.run(cmd + [target], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "nothing remains" in r.stdout, r.stdout + r.stderr


def test_progress_estimate_from_records():
    from findeval import progress

    text = progress.report({"train_find": 4, "train_eval": 2, "prune": 3, "all": 1},
                           {"train_find": [10.0, 20.0]}, (2, 30.0), cores=2)
    # 4 x 15 s over 2 jobs at a time; train_eval has no record yet; prune is cheap (not named)
    assert "estimated time left: 30 s at 2 job(s) at a time (from 2 benchmark records)" in text
    assert "no record yet for train_eval (not counted)" in text and "prune (not" not in text
    assert progress.parse_job_stats("Job stats:\njob count\n---- -----\nall 1\nprune 3\ntotal 4\n") == \
        {"all": 1, "prune": 3}
