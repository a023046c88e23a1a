"""Reliability: resume after a kill, atomic outputs, divergence as a result, determinism, parallel safety and
what may be trusted.

The expensive tests run Snakemake for real on small configs derived from tests/data/tiny.yaml:
- ``test_sigkill_*``: a run is SIGKILLed (its whole process group) twice during training, re-run with
  ``--rerun-incomplete``, and compared bit for bit with an uninterrupted run;
- ``twice``: the pipeline (with a diverging H_eval) runs from scratch in two folders; masks, weights, metrics
  and the summary must be identical, and the diverged runs must reach the summary and the figure.
"""

from __future__ import annotations

import ast
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from conftest import REPO, SNAKEFILE, TINY, read_yaml, snakemake, validated, write_config
from findeval import analysis, data as data_mod, io, masks, models, runs, training
from findeval.a1 import jobs, plan
from findeval.hparams import H

TIMING = {"train_time_s", "wall_time_s"}


def comparable(metrics: dict, *, drop=()) -> dict:
    """A metrics.json without its timing fields (and ``drop``)."""
    out = {k: v for k, v in metrics.items() if k not in TIMING and k not in drop}
    out["history"] = [{k: v for k, v in row.items() if k != "time_s"} for row in metrics["history"]]
    return out


def rel_files(root: Path, pattern: str) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob(pattern))


# =========================================================================== resume, in process

SPEC = {"name": "resnet_cifar", "depth": 8, "width": 2, "in_channels": 1, "num_classes": 10}
SCHEDULE = training.Schedule(epochs=4, milestones=(2,), gamma=0.2, momentum=0.9, nesterov=True)
AUGMENT = training.Augment(crop_scale=(0.5, 1.0), crop_ratio=(0.75, 4 / 3), flip=False)
H_SMALL = H(0.05, 256, 5e-4)


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    path = tmp_path_factory.mktemp("digits") / "dataset.npz"
    data_mod.prepare("digits", path)
    return path


class Interrupted(Exception):
    pass


def _train(data_path, resume=None, log=None):
    model = models.init_model(SPEC, 3)
    m = masks.global_magnitude_prune(model.state_dict(), None, 0.5)
    result = training.train(model, data_mod.load(data_path), H_SMALL, SCHEDULE, data_seed=11, mask=m,
                            augment=AUGMENT, log=log, resume=resume)
    return model.state_dict(), result


def _same_state(a: dict, b: dict) -> bool:
    """Bit for bit (NaN included: a diverged run's weights must match too)."""
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].numpy().tobytes() == b[k].numpy().tobytes()
        for k in a)


@pytest.fixture(scope="module")
def uninterrupted(digits):
    return _train(digits)


def test_resume_after_an_interruption_is_bit_identical(digits, uninterrupted, tmp_path):
    resume = training.Resume(str(tmp_path / ".m.resume.pt"), "fp", every=1)

    def stop_after_epoch_3(msg):
        if msg.startswith("epoch=3 "):
            raise Interrupted  # after epoch 3's evaluation, before its resume file: the last saved epoch is 2

    with pytest.raises(Interrupted):
        _train(digits, resume, log=stop_after_epoch_3)
    saved = torch.load(resume.path, weights_only=True)
    assert saved["epoch"] == 2 and len(saved["history"]) == 2 and saved["buffers"] is not None
    lines = []
    state, result = _train(digits, resume, log=lines.append)
    assert any("resuming from" in ln and "epoch 2 of 4" in ln for ln in lines), lines
    assert result["resumed_from_epoch"] == 2
    ref_state, ref = uninterrupted
    assert _same_state(state, ref_state)  # weights and BN buffers, bit for bit
    assert comparable(result, drop={"resumed_from_epoch"}) == comparable(ref, drop={"resumed_from_epoch"})


def test_resume_without_momentum_buffers_matters(digits, uninterrupted, tmp_path):
    """The test above could pass vacuously if the momentum buffers did not matter: dropping them changes
    the result, so restoring them is what makes the resumed run identical."""
    resume = training.Resume(str(tmp_path / ".m.resume.pt"), "fp", every=1)

    def stop(msg):
        if msg.startswith("epoch=3 "):
            raise Interrupted

    with pytest.raises(Interrupted):
        _train(digits, resume, log=stop)
    saved = torch.load(resume.path, weights_only=True)
    saved["buffers"] = None
    torch.save(saved, resume.path)
    state, _ = _train(digits, resume)
    assert not _same_state(state, uninterrupted[0])


@pytest.mark.parametrize("stale", ["other-fingerprint", "garbage", "not-a-resume-file", "wrong-model",
                                   "incomplete"])
def test_stale_or_broken_resume_file_is_ignored_and_logged(digits, uninterrupted, tmp_path, stale):
    path = tmp_path / ".m.resume.pt"
    if stale == "other-fingerprint":
        def stop(msg):
            if msg.startswith("epoch=2 "):
                raise Interrupted

        with pytest.raises(Interrupted):
            _train(digits, training.Resume(str(path), "another run", every=1), log=stop)
        assert path.exists()
    elif stale == "garbage":
        path.write_bytes(b"\x00" * 100)
    elif stale == "not-a-resume-file":
        torch.save({"model": {}, "meta": {}}, path)
    elif stale == "wrong-model":
        torch.save({"format": training.RESUME_FORMAT, "format_version": training.RESUME_VERSION, "fingerprint": "fp",
                    "epoch": 1, "model": {"w": torch.zeros(1)}, "history": [{}], "buffers": None, "elapsed": 0.0,
                    "rng": torch.get_rng_state()}, path)
    else:  # the right format and fingerprint, but a key missing
        torch.save({"format": training.RESUME_FORMAT, "format_version": training.RESUME_VERSION, "fingerprint": "fp",
                    "epoch": 1, "history": [{}]}, path)
    lines = []
    state, result = _train(digits, training.Resume(str(path), "fp", every=1), log=lines.append)
    assert any(ln.startswith(f"ignoring resume file {path}") for ln in lines), lines
    assert result["resumed_from_epoch"] == 0
    assert _same_state(state, uninterrupted[0])


def _train_run(tmp, digits, init, **over):
    kw = dict(start=str(init), mask=None, data=str(digits), kind="lottery", h_find=H_SMALL, h_eval=H_SMALL,
              level=0, seed=0, training={"epochs": 5}, augment=None, role="train_find",
              out_trained=str(tmp / "trained.pt"))
    kw.update(over)
    return jobs.train_run(str(tmp / "metrics.json"), **kw)


@pytest.fixture(scope="module")
def init_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("init")
    jobs.init(str(d / "init.pt"), str(d / "reinit.pt"), str(d / "arch.json"),
              model={"name": "resnet_cifar", "depth": 8, "width": 2}, dataset="digits", seed=0)
    return d / "init.pt"


@pytest.mark.parametrize("every, saved", [(None, [1, 2, 3, 4]), ("2", [2, 4]), ("3", [3]), ("0", [])])
def test_train_run_resume_cadence_and_cleanup(digits, init_file, tmp_path, monkeypatch, every, saved):
    if every is not None:
        monkeypatch.setenv("FINDEVAL_RESUME_EVERY", every)
    epochs, paths = [], set()
    real_save = training.Resume.save

    def spy(self, epoch, *args):
        epochs.append(epoch)
        paths.add(self.path)
        assert self.path == str(tmp_path / ".metrics.resume.pt")
        return real_save(self, epoch, *args)

    monkeypatch.setattr(training.Resume, "save", spy)
    _train_run(tmp_path, digits, init_file)
    assert epochs == saved  # never after the last epoch: the outputs follow right after it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "trained.pt"]  # side file removed


def test_fingerprint_covers_every_input(digits, init_file, tmp_path):
    base = dict(start=str(init_file), mask=None, data=str(digits), h_eval=H_SMALL.as_dict(), device="cpu",
                training={"epochs": 5})
    ref = runs.resume_fingerprint(**base)
    assert ref == runs.resume_fingerprint(**base)
    other_start = tmp_path / "init.pt"
    state, meta = io.load_checkpoint(init_file)
    io.save_checkpoint(other_start, {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}, meta)
    m = masks.global_magnitude_prune(state, None, 0.5)
    masks.save_mask(tmp_path / "m.h5", m, kind="lottery", level=1, seed=0)
    changed = [
        {"start": str(other_start)},
        {"mask": str(tmp_path / "m.h5")},
        {"h_eval": H_SMALL.replace(lr=0.1).as_dict()},
        {"device": "cuda"},
        {"training": {"epochs": 6}},
    ]
    prints = {runs.resume_fingerprint(**{**base, **c}) for c in changed}
    assert ref not in prints and len(prints) == len(changed)


def test_divergence_propagates_down_a_find_chain(digits, init_file, tmp_path):
    """A find chain with a diverging LR: every job still finishes; masks keep the exact count of the schedule
    and carry the level where the chain diverged; every run that uses such a mask is recorded as diverged,
    even one whose own training is fine."""
    huge, sane = H(1000.0, 256, 5e-4), H(0.05, 256, 5e-4)
    common = dict(data=str(digits), kind="lottery", h_find=huge, seed=0, training={"epochs": 2}, augment=None)
    d = {lv: tmp_path / f"level{lv}" for lv in range(3)}
    m0 = jobs.train_run(str(d[0] / "metrics.json"), start=str(init_file), mask=None, level=0, h_eval=huge,
                        role="train_find", out_trained=str(d[0] / "trained.pt"), **common)
    assert m0["diverged"] and m0["diverged_in"] == "training" and m0["epochs_completed"] < 2
    assert io.load_checkpoint(d[0] / "trained.pt", require_finite=False)[1]["diverged"] is True
    state, _ = io.load_checkpoint(init_file)
    total = sum(state[n].numel() for n in models.prunable_names(state))
    kept = masks.kept_schedule(total, 0.5, 2)
    jobs.prune(str(d[1] / "mask.h5"), trained=str(d[0] / "trained.pt"), parent_mask=None, fraction=0.5, level=1,
               seed=0, h_find=huge)
    mask1, attrs1 = masks.load_mask(d[1] / "mask.h5")
    assert attrs1[jobs.DIVERGED_ATTR] == 0 and masks.n_kept(mask1) == kept[1]
    jobs.rewind(str(d[1] / "ticket.pt"), start=str(init_file), mask=str(d[1] / "mask.h5"))
    ev = jobs.train_run(str(tmp_path / "eval.json"), start=str(d[1] / "ticket.pt"), mask=str(d[1] / "mask.h5"),
                        level=1, h_eval=sane, role="train_eval", **common)
    assert ev["epochs_completed"] == 2 and ev["diverged"] is True and ev["diverged_in"] == "find level 0"
    jobs.train_run(str(d[1] / "metrics.json"), start=str(d[1] / "ticket.pt"), mask=str(d[1] / "mask.h5"), level=1,
                   h_eval=huge, role="train_find", out_trained=str(d[1] / "trained.pt"), **common)
    jobs.prune(str(d[2] / "mask.h5"), trained=str(d[1] / "trained.pt"), parent_mask=str(d[1] / "mask.h5"),
               fraction=0.5, level=2, seed=0, h_find=huge)
    mask2, attrs2 = masks.load_mask(d[2] / "mask.h5")
    assert attrs2[jobs.DIVERGED_ATTR] == 0 and masks.n_kept(mask2) == kept[2]  # the earliest divergence
    masks.check_monotone(mask2, mask1)
    jobs.preserve_lpr_mask(str(tmp_path / "lpr.h5"), lottery_mask=str(d[2] / "mask.h5"), level=2, seed=0)
    assert masks.load_mask(tmp_path / "lpr.h5")[1][jobs.DIVERGED_ATTR] == 0
    summary = analysis.load_metrics([str(d[0] / "metrics.json"), str(tmp_path / "eval.json")])
    assert summary["diverged"].tolist() == [True, True]


def test_a_healthy_chain_mask_is_exactly_what_save_mask_writes(digits, init_file, tmp_path):
    state, _ = io.load_checkpoint(init_file)
    jobs.prune(str(tmp_path / "a.h5"), trained=str(init_file), parent_mask=None, fraction=0.5, level=1, seed=0,
               h_find=H_SMALL)
    mask = masks.global_magnitude_prune(state, None, 0.5)
    masks.save_mask(tmp_path / "b.h5", mask, kind="lottery", level=1, seed=0, h_find=H_SMALL, fraction=0.5,
                    seeds=jobs.run_seeds(0))
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    assert jobs.DIVERGED_ATTR not in masks.load_mask(tmp_path / "a.h5")[1]


# =========================================================================== resume after SIGKILL, for real

KILL_HF = "lr0.1_bs128_wd5e-4"
KILL_TARGET = f"results/tiny/find/{KILL_HF}/seed0/level1/mask.h5"
KILL_DIR = f"results/tiny/find/{KILL_HF}/seed0/level0"


def kill_config() -> dict:
    cfg = read_yaml(TINY)
    cfg["training"] = {"epochs": 30, "milestones": [10, 20], "gamma": 0.2}  # long enough to be killed in
    cfg["grids"]["lr"] = {"find": [0.1], "eval": [0.1]}
    return cfg


def _smk_cmd(wd: Path, *args) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(wd), "--configfile",
            str(wd / "config.yaml"), "--cores", "1", *args]


def _saved_epoch(path: Path) -> int | None:
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])
    except Exception:  # noqa: BLE001 - not there yet
        return None


def _run_and_kill(wd: Path, after_epoch: int, *args) -> int:
    """Start Snakemake in its own process group; once the training job has saved a resume state beyond
    ``after_epoch``, SIGKILL the whole group (Snakemake and its job). Returns the saved epoch."""
    resume = wd / KILL_DIR / ".metrics.resume.pt"
    with open(wd / f"run-{after_epoch}.log", "w") as log:
        proc = subprocess.Popen(_smk_cmd(wd, *args, KILL_TARGET), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            epoch = _saved_epoch(resume) if resume.exists() else None
            if epoch is not None and epoch > after_epoch:
                break
            if proc.poll() is not None:
                pytest.fail(f"snakemake ended (rc {proc.returncode}) before it could be killed; "
                            f"see {wd / f'run-{after_epoch}.log'}")
            if time.monotonic() > deadline:
                pytest.fail("no resume state appeared within 240 s")
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # the job died with Snakemake: its resume state stops moving and no output appears
    before = resume.stat().st_mtime_ns
    time.sleep(0.5)
    assert resume.stat().st_mtime_ns == before, "the training job survived the kill"
    assert not (wd / KILL_DIR / "trained.pt").exists() and not (wd / KILL_DIR / "metrics.json").exists()
    return _saved_epoch(resume)


@pytest.fixture(scope="module")
def killed_and_reference(tmp_path_factory):
    ref, killed = tmp_path_factory.mktemp("uninterrupted"), tmp_path_factory.mktemp("killed")
    for wd in (ref, killed):
        write_config(wd, kill_config())
    ref_result = {}
    # the uninterrupted reference runs beside the killed run (two cores)
    thread = threading.Thread(target=lambda: ref_result.update(r=snakemake(ref, KILL_TARGET, check=False,
                                                                            timeout=400)))
    thread.start()
    try:
        epochs = [_run_and_kill(killed, 0)]  # first kill: right after the first saved epoch
        snakemake(killed, "--unlock", KILL_TARGET, timeout=120)  # a SIGKILLed Snakemake leaves its lock
        epochs.append(_run_and_kill(killed, epochs[0], "--rerun-incomplete"))  # second kill, after resuming
        snakemake(killed, "--unlock", KILL_TARGET, timeout=120)
        final = snakemake(killed, "--rerun-incomplete", KILL_TARGET, timeout=400)
    finally:
        thread.join()
    r = ref_result["r"]
    assert r.returncode == 0, r.stdout + r.stderr
    return {"ref": ref, "killed": killed, "epochs": epochs, "final": final}


def test_sigkill_twice_then_rerun_resumes(killed_and_reference):
    k = killed_and_reference
    e1, e2 = k["epochs"]
    assert 1 <= e1 < e2 < 30, k["epochs"]
    log = (k["killed"] / f"results/tiny/logs/train_find/{KILL_HF}/seed0/level0.log").read_text()
    assert f"epoch {e2} of 30 completed" in log and "resuming from" in log
    assert "epoch=1 " not in log  # the last attempt trained only the epochs after e2
    metrics = json.loads((k["killed"] / KILL_DIR / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == e2 and len(metrics["history"]) == 30


def test_sigkill_rerun_matches_an_uninterrupted_run_bit_for_bit(killed_and_reference):
    ref, killed = killed_and_reference["ref"], killed_and_reference["killed"]
    a, _ = io.load_checkpoint(ref / KILL_DIR / "trained.pt")
    b, _ = io.load_checkpoint(killed / KILL_DIR / "trained.pt")
    assert _same_state(a, b)
    ma = json.loads((ref / KILL_DIR / "metrics.json").read_text())
    mb = json.loads((killed / KILL_DIR / "metrics.json").read_text())
    assert comparable(ma, drop={"resumed_from_epoch"}) == comparable(mb, drop={"resumed_from_epoch"})
    assert (ref / KILL_TARGET).read_bytes() == (killed / KILL_TARGET).read_bytes()  # the mask it leads to


def test_sigkill_leaves_no_side_or_temporary_files(killed_and_reference):
    for wd in (killed_and_reference["ref"], killed_and_reference["killed"]):
        assert rel_files(wd / "results", "*.resume.pt") == []
        assert rel_files(wd / "results", "*.tmp-*") == []


# =========================================================================== two runs from scratch

DIVERGING_LR = 1000.0
TWICE_TARGETS = ("results/tiny/summary.csv", "results/tiny/figures/figA3.pdf")


def twice_config() -> dict:
    cfg = read_yaml(TINY)
    cfg["grids"]["lr"] = {"find": [0.1], "eval": [0.1, DIVERGING_LR]}  # LR 1000 diverges in its first step
    cfg["pruning"]["levels"] = 1  # chains of several levels: test_jobs.py and test_e2e.py
    return cfg


@pytest.fixture(scope="module")
def twice(tmp_path_factory):
    runs = []
    for name in ("a", "b"):
        wd = tmp_path_factory.mktemp(f"scratch_{name}")
        write_config(wd, twice_config())
        snakemake(wd, *TWICE_TARGETS, cores=2, timeout=480)
        runs.append(wd)
    return runs


def test_two_runs_give_byte_identical_masks(twice):
    a, b = twice
    files = rel_files(a / "results", "*.h5")
    # lottery and preserve LPR for LR 0.1 and 1000 (the baselines' coupled chain), global random
    assert files == rel_files(b / "results", "*.h5") and len(files) == 5
    for rel in files:
        with h5py.File(a / "results" / rel, "r") as fa, h5py.File(b / "results" / rel, "r") as fb:
            assert list(fa) == list(fb), rel
            for name in fa:
                assert fa[name].dtype == fb[name].dtype and np.array_equal(fa[name][()], fb[name][()]), (rel, name)
            assert dict(fa.attrs).keys() == dict(fb.attrs).keys()
            for key in fa.attrs:
                assert np.array_equal(np.asarray(fa.attrs[key]), np.asarray(fb.attrs[key])) or \
                    (key == "fraction" and np.isnan(fa.attrs[key]) and np.isnan(fb.attrs[key])), (rel, key)
        # and the files themselves: h5py does not record times unless asked (track_times is off by default)
        assert (a / "results" / rel).read_bytes() == (b / "results" / rel).read_bytes(), rel


def test_two_runs_give_identical_weights_and_metrics(twice):
    a, b = twice
    pts = rel_files(a / "results", "*.pt")
    assert pts == rel_files(b / "results", "*.pt") and pts
    for rel in pts:
        sa, ma = io.load_checkpoint(a / "results" / rel, require_finite=False)
        sb, mb = io.load_checkpoint(b / "results" / rel, require_finite=False)
        assert _same_state(sa, sb) and ma == mb, rel
        assert (a / "results" / rel).read_bytes() == (b / "results" / rel).read_bytes(), rel
    metrics = rel_files(a / "results", "metrics.json")
    summarized = plan.all_inputs(validated(twice_config()))
    assert metrics == rel_files(b / "results", "metrics.json") and len(metrics) == len(summarized) + 1  # + LR 1000
    for rel in metrics:
        ma = json.loads((a / "results" / rel).read_text())
        mb = json.loads((b / "results" / rel).read_text())
        assert comparable(ma) == comparable(mb), rel
    sa = pd.read_csv(a / "results/tiny/summary.csv").drop(columns=["train_time_s"])
    sb = pd.read_csv(b / "results/tiny/summary.csv").drop(columns=["train_time_s"])
    pd.testing.assert_frame_equal(sa, sb)
    assert (a / "results/tiny/dataset.npz").read_bytes() == (b / "results/tiny/dataset.npz").read_bytes()


def test_runs_leave_no_side_or_temporary_files(twice):
    for wd in twice:
        assert rel_files(wd, "*.resume.pt") == [] and rel_files(wd, "*.tmp-*") == []


def test_diverged_runs_are_recorded_and_the_pipeline_goes_on(twice):
    wd = twice[0]
    table = pd.read_csv(wd / "results/tiny/summary.csv")
    diverging = table["lr_eval"] == DIVERGING_LR
    assert diverging.sum() == 3  # lottery, global random and preserve LPR at level 1
    assert table.loc[diverging, "diverged"].all() and not table.loc[~diverging, "diverged"].any()
    assert table.loc[diverging, "test_accuracy"].between(0, 1).all()
    for rel in table.loc[diverging, "path"]:
        m = json.loads((wd / rel).read_text())
        assert m["diverged"] is True and m["epochs_completed"] < m["epochs"]
    assert (wd / "results/tiny/figures/figA3.pdf").stat().st_size > 0 and (wd / "results/tiny/figures/figA3.png").stat().st_size > 0


def test_a_diverged_find_chain_goes_on_flagged(twice):
    """LR 1000 is also a coupled find chain (the preserve-LPR baseline at H_eval = H_find = LR 1000): its
    training diverges at level 0, and its masks are still written, with the exact count, and flagged."""
    wd = twice[0] / "results/tiny"
    hf = "lr1000_bs128_wd5e-4"
    m0 = json.loads((wd / f"find/{hf}/seed0/level0/metrics.json").read_text())
    assert m0["diverged"] is True and m0["diverged_in"] == "training"
    init, _ = io.load_checkpoint(wd / "seed0/init.pt")
    total = sum(init[n].numel() for n in models.prunable_names(init))
    for kind in ("find", "random/preserve_lpr"):
        m, attrs = masks.load_mask(wd / f"{kind}/{hf}/seed0/level1/mask.h5")
        assert attrs[jobs.DIVERGED_ATTR] == 0 and masks.n_kept(m) == masks.kept_schedule(total, 0.5, 1)[1]
    assert jobs.DIVERGED_ATTR not in masks.load_mask(wd / "find/lr0.1_bs128_wd5e-4/seed0/level1/mask.h5")[1]
    lpr = json.loads((wd / f"eval/preserve_lpr/{hf}/{hf}/seed0/level1/metrics.json").read_text())
    assert lpr["diverged"] is True


def test_the_figure_marks_diverged_runs(twice, monkeypatch):
    """Redraw figA3 from the run's table, keep the matplotlib figure, and find the black x markers: one per
    diverged run the figure draws, at that run's (sparsity, accuracy)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from findeval.a1 import plots as a1_plots

    wd = twice[0]
    config = validated(twice_config())
    table = analysis.load_metrics([str(wd / p) for p in plan.figure_inputs(config, "figA3")])
    captured, real_close = [], plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: captured.append(fig))
    a1_plots.draw_figure("figA3", plan.figure_params(config, "figA3"), table, pdf=str(wd / "x.pdf"),
                         png=str(wd / "x.png"), style={})
    (ax,) = [ax for ax in captured[0].axes if ax.get_visible()]
    marks = [c for c in ax.collections if c.get_label() == "diverged run"]
    assert len(marks) == 1
    drawn = sorted(map(tuple, np.round(marks[0].get_offsets(), 6)))
    div = table[table["diverged"]]
    expected = sorted(zip(np.round(100 * div["sparsity"], 6), np.round(100 * div["test_accuracy"], 6)))
    assert drawn == expected and len(drawn) == 1  # the lottery mask of level 1 trained with LR_eval 1000
    assert "diverged run" in [t.get_text() for t in ax.get_legend().get_texts()]
    real_close(captured[0])


# =========================================================================== atomic outputs


def _partial_then_fail(write_some):
    def fake(*args, **kwargs):
        write_some(*args, **kwargs)
        raise OSError("simulated: disk full half way")

    return fake


def _assert_untouched(target: Path, before: bytes | None):
    if before is None:
        assert not target.exists(), f"{target} exists after a failed write"
    else:
        assert target.read_bytes() == before, f"{target} changed by a failed write"
    assert [p.name for p in target.parent.iterdir() if ".tmp-" in p.name] == []


def _first_bytes(path, *args, **kwargs):
    Path(path).write_bytes(b"PK\x03\x04 half a file")


def _half_text(self, text, *args, **kwargs):
    with open(self, "w") as fh:
        fh.write(text[: len(text) // 2])


WRITERS = {
    "write_json": lambda t, mp: (
        mp.setattr(Path, "write_text", _partial_then_fail(_half_text)),
        lambda: io.write_json(t, {"a": 1}),
    ),
    "save_checkpoint": lambda t, mp: (
        mp.setattr(torch, "save", _partial_then_fail(lambda obj, f: _first_bytes(f))),
        lambda: io.save_checkpoint(t, {"w": torch.zeros(3)}, {}),
    ),
    "save_mask": lambda t, mp: (
        mp.setattr(h5py.Group, "create_dataset", _partial_then_fail(lambda self, name, **kw: None)),
        lambda: masks.save_mask(t, {"conv1.weight": np.ones((2, 1, 3, 3), bool)}, kind="lottery", level=1, seed=0),
    ),
    "write_summary": lambda t, mp: (
        mp.setattr(pd.DataFrame, "to_csv", _partial_then_fail(lambda self, path, **kw: Path(path).write_text("kind,"))),
        lambda: analysis.write_summary([], t),
    ),
    "prepare_dataset": lambda t, mp: (
        mp.setattr(np, "savez", _partial_then_fail(lambda fh, **arrays: fh.write(b"PK\x03\x04"))),
        lambda: data_mod.prepare("digits", t),
    ),
}


@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_failure_inside_a_write_leaves_no_file(tmp_path, monkeypatch, writer, existing):
    target = tmp_path / f"out.{writer}"
    before = None
    if existing:
        target.write_bytes(b"the previous, complete version")
        before = target.read_bytes()
    _, write = WRITERS[writer](target, monkeypatch)
    with pytest.raises(OSError, match="simulated"):
        write()
    _assert_untouched(target, before)


def test_a_failure_while_saving_a_figure_leaves_no_file(twice, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from findeval.a1 import plots as a1_plots

    config = validated(twice_config())
    table = analysis.load_metrics([str(twice[0] / p) for p in plan.figure_inputs(config, "figA3")])
    real = Figure.savefig

    def fail_on_png(self, fname, *args, **kwargs):
        if kwargs.get("format") == "png":
            Path(fname).write_bytes(b"\x89PNG half")
            raise OSError("simulated: disk full half way")
        return real(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", fail_on_png)
    with pytest.raises(OSError, match="simulated"):
        a1_plots.draw_figure("figA3", plan.figure_params(config, "figA3"), table, pdf=str(tmp_path / "f.pdf"),
                             png=str(tmp_path / "f.png"), style={})
    _assert_untouched(tmp_path / "f.png", None)
    assert (tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")  # written (atomically) before the failure


def test_atomic_temporary_names_are_unique_per_call_and_process(tmp_path):
    target = tmp_path / "x.json"
    with io.atomic_path(target) as t1, io.atomic_path(target) as t2:
        assert t1 != t2 and t1.parent == t2.parent == tmp_path
        assert str(os.getpid()) in t1.name and t1.name.startswith(".x.json.tmp-")
        t1.write_text("1")
        t2.write_text("2")
    # the inner block is renamed into place first, the outer one last: whole files, last writer wins
    assert target.read_text() == "1" and [p.name for p in tmp_path.iterdir()] == ["x.json"]


# =========================================================================== parallel safety

_RULE = re.compile(r"^(?:local)?rule (\w+):\s*$")
_FIELD = re.compile(r"^\s+(output|log|benchmark): (.*)$")


def _dry_run_files(wd: Path) -> list[dict]:
    out = snakemake(wd, "-n", cores=2, timeout=120).stdout
    jobs_ = []
    for line in out.splitlines():
        if _RULE.match(line):
            jobs_.append({"rule": _RULE.match(line).group(1), "output": [], "log": [], "benchmark": []})
        elif jobs_ and _FIELD.match(line):
            key, value = _FIELD.match(line).groups()
            jobs_[-1][key].extend(v.strip() for v in value.split(", ") if v.strip())
    return jobs_


def test_no_two_jobs_write_the_same_file(tmp_path):
    write_config(tmp_path, read_yaml(TINY))
    planned = _dry_run_files(tmp_path)
    assert len(planned) > 40
    written = [f for j in planned for key in ("output", "log", "benchmark") for f in j[key]]
    dupes = {f for f in written if written.count(f) > 1}
    assert not dupes, dupes
    # every job with a metrics.json (all training jobs) may keep a resume file beside it
    training_jobs = [j for j in planned if any(f.endswith("metrics.json") for f in j["output"])]
    assert {"train_find", "train_eval"} <= {j["rule"] for j in training_jobs}
    side = [runs.resume_path(next(f for f in j["output"] if f.endswith("metrics.json"))) for j in training_jobs]
    assert len(set(side)) == len(side) == len(training_jobs)
    assert not set(side) & set(written)  # never a declared output: Snakemake does not delete it on failure


def test_hdf5_locking_switch_is_honoured(tmp_path, monkeypatch):
    """A second process holds a mask open for writing. With locking (the default) reading it fails with a
    message that names the switch; with FINDEVAL_HDF5_LOCKING=0 (or HDF5_USE_FILE_LOCKING=FALSE) it reads."""
    path = tmp_path / "mask.h5"
    mask = {"conv1.weight": np.ones((2, 1, 3, 3), bool)}
    masks.save_mask(path, mask, kind="lottery", level=1, seed=0)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import h5py, sys, time; f = h5py.File(sys.argv[1], 'a'); print('open', flush=True); "
         "time.sleep(60)", str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        for var in ("FINDEVAL_HDF5_LOCKING", "HDF5_USE_FILE_LOCKING"):
            monkeypatch.delenv(var, raising=False)
        with pytest.raises(masks.MaskError, match="FINDEVAL_HDF5_LOCKING=0") as err:
            masks.load_mask(path)
        assert str(path) in str(err.value)
        for var, value in (("FINDEVAL_HDF5_LOCKING", "0"), ("FINDEVAL_HDF5_LOCKING", "false"),
                           ("HDF5_USE_FILE_LOCKING", "FALSE")):
            monkeypatch.delenv("FINDEVAL_HDF5_LOCKING", raising=False)
            monkeypatch.delenv("HDF5_USE_FILE_LOCKING", raising=False)
            monkeypatch.setenv(var, value)
            loaded, _ = masks.load_mask(path)
            assert np.array_equal(loaded["conv1.weight"], mask["conv1.weight"]), (var, value)
        monkeypatch.setenv("FINDEVAL_HDF5_LOCKING", "1")  # explicit on beats HDF5_USE_FILE_LOCKING
        monkeypatch.setenv("HDF5_USE_FILE_LOCKING", "FALSE")
        with pytest.raises(masks.MaskError, match="cannot be locked"):
            masks.load_mask(path)
    finally:
        holder.kill()
        holder.wait()


# =========================================================================== what must be trusted

SOURCES = sorted([*(REPO / "findeval").rglob("*.py"), *(REPO / "scripts").glob("*.py")])
SMK = sorted([REPO / "Snakefile", *(REPO / "rules").glob("*.smk")])


def _calls(tree, module: str, func: str):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == func \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == module:
            yield node


def test_every_torch_load_is_weights_only():
    found = 0
    for path in SOURCES:
        for call in _calls(ast.parse(path.read_text()), "torch", "load"):
            found += 1
            kw = {k.arg: k.value for k in call.keywords}
            assert isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True, \
                f"{path.relative_to(REPO)}:{call.lineno}: torch.load without weights_only=True"
    assert found >= 2  # io.load_checkpoint and training.Resume.load
    for path in SMK:
        assert "torch.load" not in path.read_text(), path


def test_pickle_is_only_used_for_the_cifar_source_batches():
    """Checkpoints and masks are data; the one pickle reader left is CIFAR's own python batches (a file the
    user downloads from the dataset's authors, documented in docs/reliability.md as something to trust)."""
    users = {}
    for path in SOURCES:
        for call in _calls(ast.parse(path.read_text()), "pickle", "load"):
            users.setdefault(path.name, []).append(call.lineno)
    assert set(users) <= {"data.py"}, users


def test_no_config_value_reaches_a_shell():
    """Every rule runs a Python script (script:): no shell:, run: or notebook: directive that a config
    string could be interpolated into."""
    rules = 0
    for path in SMK:
        text = path.read_text()
        assert not re.search(r"^\s*(shell|run|notebook|wrapper|cwl|template_engine):", text, re.M), path
        blocks = re.split(r"^\s*rule\b", text, flags=re.M)[1:]
        for block in blocks:
            rules += 1
            name = block.split(":")[0].strip() or "(anonymous)"
            if name == "all" or not re.search(r"^\s+output:", block, re.M):  # target rules (all, gallery): inputs only
                continue
            assert re.search(r"^\s+script:", block, re.M), f"{path.name}: rule {name} has no script:"
    assert rules >= 9


# =========================================================================== write failures (issue 24 item 5)
# A failed write names its path; the resume file is optional, so a failed save of it warns and the job goes on.
# The suite runs as root on some machines, where a chmod 0o555 folder is still writable: the read-only cases
# then reproduce torch's own failure (its RuntimeError without a path) at its source, torch.save.

TORCH_OPEN_FAILED = "[enforce fail at inline_container.cc:747] . open file failed because of errno 13 on fopen"


def _failing_torch_save(monkeypatch, which):
    """torch.save raises torch's read-only-folder error for the targets ``which(path)`` picks."""
    real = torch.save

    def save(obj, f, *args, **kwargs):
        if which(str(f)):
            raise RuntimeError(TORCH_OPEN_FAILED)
        return real(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)


def test_a_failed_resume_save_warns_and_the_job_finishes(digits, init_file, tmp_path, monkeypatch, caplog):
    """The per-epoch resume save is optional: its failure is one warning naming the file; the outputs are written
    and equal those of a run whose saves succeed."""
    _failing_torch_save(monkeypatch, lambda f: ".resume.pt" in f)
    with caplog.at_level("WARNING", logger="findeval"):
        metrics = _train_run(tmp_path, digits, init_file, training={"epochs": 3})
    resume = tmp_path / ".metrics.resume.pt"
    warned = [r.getMessage() for r in caplog.records if "could not be written" in r.getMessage()]
    assert len(warned) == 1 and f"the resume file {resume} could not be written" in warned[0], warned
    assert "training goes on" in warned[0] and "open file failed" in warned[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "trained.pt"]
    assert metrics["epochs_completed"] == 3
    monkeypatch.undo()
    other = tmp_path / "reference"
    other.mkdir()
    reference = _train_run(other, digits, init_file, training={"epochs": 3})
    assert comparable(metrics) == comparable(reference)


def test_a_failed_group_resume_save_warns_and_the_sweep_finishes(digits, init_file, tmp_path, monkeypatch, caplog):
    _failing_torch_save(monkeypatch, lambda f: ".sweep-resume.pt" in f)
    runs_ = [jobs.a1_run(str(tmp_path / f"l{i}" / "metrics.json"), start=str(init_file), mask=None, data=str(digits),
                         kind="lottery", h_find=H_SMALL, h_eval=H_SMALL, level=0, seed=0, training={"epochs": 2},
                         augment=None, role="train_eval") for i in range(2)]
    with caplog.at_level("WARNING", logger="findeval"):
        out = runs.train_all(runs_, group=2)
    assert len(out) == 2 and all((tmp_path / f"l{i}" / "metrics.json").exists() for i in range(2))
    assert any("sweep-resume.pt could not be written" in r.getMessage() for r in caplog.records)


def test_a_read_only_output_folder_names_the_path(digits, init_file, tmp_path, monkeypatch):
    """The issue's case: torch's 'open file failed' (no path) becomes a WriteError naming the file and its folder;
    the resume saves before it only warned."""
    out = tmp_path / "ro"
    out.mkdir()
    _failing_torch_save(monkeypatch, lambda f: f.startswith(str(out)))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if str(p) == str(out) else real_access(p, mode))
    with pytest.raises(io.WriteError) as err:
        _train_run(out, digits, init_file, training={"epochs": 2})
    msg = str(err.value)
    assert f"cannot write {out / 'trained.pt'}: the folder {out} is not writable" in msg and "open file failed" in msg
    assert list(out.iterdir()) == []  # no temporary left behind


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_chmod_read_only_folder_names_the_path(tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        with pytest.raises(io.WriteError, match=f"cannot write {out / 'x.json'}: the folder {out} is not writable"):
            io.write_json(out / "x.json", {"a": 1})
        with pytest.raises(io.WriteError, match=f"cannot write {out / 'w.pt'}"):
            io.save_checkpoint(out / "w.pt", {"w": torch.zeros(2)}, {})
    finally:
        out.chmod(0o755)


def test_a_folder_that_cannot_be_created_names_the_path(tmp_path):
    """A results folder where a file stands (a real failure, also as root): mkdir's error names the target."""
    (tmp_path / "results").write_text("not a folder")
    target = tmp_path / "results" / "tiny" / "metrics.json"
    with pytest.raises(io.WriteError, match=f"cannot write {target}: its folder {target.parent} cannot be created"):
        io.write_json(target, {"a": 1})
    mask = {"conv.weight": np.ones((2, 1, 3, 3), dtype=bool)}
    with pytest.raises(io.WriteError, match="cannot write .*mask.h5"):
        masks.save_mask(tmp_path / "results" / "m" / "mask.h5", mask, kind="lottery", level=1, seed=0)


@pytest.mark.parametrize("err", [PermissionError(13, "Permission denied"), OSError(30, "Read-only file system")])
def test_json_and_mask_writes_into_a_read_only_folder_name_the_path(tmp_path, monkeypatch, err):
    from pathlib import Path

    def refuse(self, *a, **k):
        raise err

    monkeypatch.setattr(Path, "write_text", refuse)
    with pytest.raises(io.WriteError) as info:
        io.write_json(tmp_path / "metrics.json", {"a": 1})
    assert f"cannot write {tmp_path / 'metrics.json'}: the folder {tmp_path} is not writable" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_an_error_of_the_code_is_not_called_a_write_failure(tmp_path):
    """Only I/O failures become WriteError: a bug computing what is written keeps its own type."""
    with pytest.raises(TypeError, match="not JSON serializable"):
        io.write_json(tmp_path / "x.json", {"a": object()})
    assert list(tmp_path.iterdir()) == []
