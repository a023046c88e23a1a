"""The one training entry point (findeval.runs): no other module of the package or of scripts/ calls the training
loop (``training.train`` or ``grouped.train_group``; benchmarks/ may), every kind of run has a fingerprint with the
same keys that changes with what it trains and only with that, a killed run resumes where it stopped while a
resume file of another run is ignored, the record keeps its layout, and a grouped sweep refuses runs that do not
train alike."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest
import torch

from conftest import REPO
from findeval import masks, runs, training
from findeval.a1 import jobs
from findeval.early import jobs as early_jobs
from findeval.hparams import H
from findeval.io import load_checkpoint
from findeval.lpr import jobs as lpr_jobs
from findeval.rewinding import jobs as rewinding_jobs
from findeval.structured import jobs as structured_jobs

TRAINING = {"epochs": 2, "milestones": [1], "gamma": 0.2, "momentum": 0.9}
AUGMENT = {"crop_scale": [0.5, 1.0], "crop_ratio": [0.75, 1.3333333], "flip": False}
HF = H(0.05, 256, 5e-4)


# --------------------------------------------------------------------------- who calls the training loop

def loop_calls(path: Path, root: Path = REPO) -> list[str]:
    """``file:line name`` of every call of ``training.train`` (under any alias of the module, or imported by
    name) and of ``train_group`` in one source file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules, functions = {"findeval.training"}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(a.asname for a in node.names if a.name == "findeval.training" and a.asname)
        elif isinstance(node, ast.ImportFrom):
            package = (node.level == 0 and node.module == "findeval") or (node.level and node.module is None)
            module = (node.level == 0 and node.module == "findeval.training") or \
                (node.level and node.module == "training")
            modules.update(a.asname or a.name for a in node.names if package and a.name == "training")
            functions.update(a.asname or a.name for a in node.names if module and a.name == "train")
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f, name = node.func, None
        if getattr(f, "attr", None) == "train_group" or getattr(f, "id", None) == "train_group":
            name = "train_group"
        elif isinstance(f, ast.Attribute) and f.attr == "train" and ast.unparse(f.value) in modules:
            name = f"{ast.unparse(f.value)}.train"
        elif isinstance(f, ast.Name) and f.id in functions:
            name = f.id
        if name:
            found.append(f"{path.relative_to(root)}:{node.lineno} {name}")
    return found


def test_only_the_entry_point_calls_the_training_loop():
    files = sorted((REPO / "findeval").rglob("*.py")) + sorted((REPO / "scripts").glob("*.py"))
    calls = [c for path in files for c in loop_calls(path)]
    own = [c for c in calls if c.startswith("findeval/runs.py:")]
    assert [c for c in calls if c not in own] == [], "train through findeval.runs.train / train_all instead"
    # the scan sees the entry point's own calls (a scan that finds nothing would pass anything)
    assert {c.split()[-1] for c in own} == {"tr.train", "train_group"}, own


def test_the_scan_sees_every_spelling(tmp_path):
    src = tmp_path / "x.py"
    src.write_text("from findeval import training as T\nfrom findeval.training import train as go\n"
                   "from . import grouped\nimport findeval.training\nfrom .training import train\n"
                   "T.train(1)\ngo(2)\ngrouped.train_group(3)\nfindeval.training.train(4)\ntrain(5)\n"
                   "model.train()\n")
    assert [c.split()[-1] for c in loop_calls(src, tmp_path)] == ["T.train", "go", "train_group",
                                                                 "findeval.training.train", "train"]


# --------------------------------------------------------------------------- fixtures: tiny real inputs


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("entry")
    jobs.prepare_data(str(d / "dataset.npz"), name="digits")
    jobs.init(str(d / "init.pt"), str(d / "reinit.pt"), str(d / "arch.json"),
              model={"name": "resnet_cifar", "depth": 8, "width": 2}, dataset="digits", seed=0)
    state, _ = load_checkpoint(d / "init.pt")
    masks.save_mask(d / "mask1.h5", masks.global_magnitude_prune(state, None, 0.5), kind="lottery", level=1, seed=0)
    jobs.rewind(str(d / "ticket1.pt"), start=str(d / "init.pt"), mask=str(d / "mask1.h5"))
    structured_jobs.init(str(d / "sinit.pt"), model={"name": "resnet_cifar", "depth": 8, "width": 2}, dataset="digits",
                    seed=0)
    return {k: str(d / f"{k}") for k in ("dataset.npz", "init.pt", "reinit.pt", "mask1.h5", "ticket1.pt", "sinit.pt")}


def every_kind(files, out: Path) -> dict:
    """One run of every builder of the package (A1, LPR chain, each rewinding variant, instability's copy B,
    early pruning, structured dense), all from the same tiny inputs."""
    common = dict(data=files["dataset.npz"], seed=0, training=TRAINING, augment=AUGMENT)
    ticket = dict(start=files["ticket1.pt"], mask=files["mask1.h5"], level=1)
    return {
        "a1": jobs.a1_run(str(out / "a1.json"), kind="lottery", h_find=HF, h_eval=HF, role="train_find", **ticket,
                          **common),
        "lpr": lpr_jobs.chain_run(str(out / "lpr_jobs.json"), constraint="local", h_find=HF, h_eval=HF, role="train_find_lpr",
                             **ticket, **common),
        "late": rewinding_jobs.variant_run(str(out / "late.json"), variant="late", h_find=HF, h_eval=HF,
                                      role="train_find", first_epoch=1, **ticket, **common),
        "warmup": rewinding_jobs.variant_run(str(out / "warm.json"), variant="warmup", h_find=HF, h_eval=HF,
                                        role="train_find", warmup_iters=3, **ticket, **common),
        "copy_b": rewinding_jobs.variant_run(None, out_trained=str(out / "b.pt"), variant="lottery", h_find=HF,
                                        h_eval=HF, role="instability_copy_b", data_seed=7, **ticket, **common),
        "early": early_jobs.early_run(str(out / "early.json"), out_trained=None, h_find=HF, stop_epoch=1, **ticket,
                                 **common),
        "structured": structured_jobs.structured_run(str(out / "dense.json"), kind="dense", start=files["sinit.pt"],
                                                h_find=HF, h_eval=HF, ratio=0.0, data=files["dataset.npz"], seed=0,
                                                training={"epochs": 2}, augment=AUGMENT),
    }


# --------------------------------------------------------------------------- fingerprint


def test_fingerprints_have_the_same_keys_for_every_kind_of_run(files, tmp_path):
    for name, run in every_kind(files, tmp_path).items():
        assert tuple(runs.fingerprint_settings(run, "cpu")) == runs.FINGERPRINT_KEYS, name


def test_the_fingerprint_follows_what_trains_and_only_that(files, tmp_path):
    base = every_kind(files, tmp_path)["a1"]
    ref = runs.fingerprint(base, "cpu")
    assert runs.fingerprint(base, "cpu") == ref
    sched = base.schedule
    trains_otherwise = {
        "start": dataclasses.replace(base, start=files["init.pt"]),
        "mask": dataclasses.replace(base, mask=None),
        "h": dataclasses.replace(base, h=HF.replace(lr=0.1)),
        "warmup": dataclasses.replace(base, schedule=dataclasses.replace(sched, warmup_iters=5)),
        "data seed": dataclasses.replace(base, seeds=dataclasses.replace(base.seeds, data=7)),
        "stop epoch": dataclasses.replace(base, stop_epoch=1),
        "from scratch": dataclasses.replace(base, from_scratch=True,
                                            seeds=dataclasses.replace(base.seeds, init=3)),
        "augment": dataclasses.replace(base, augment=None),
        "precision": dataclasses.replace(base, runtime=runs.Runtime(precision="bf16")),
        "layout": dataclasses.replace(base, runtime=runs.Runtime(channels_last=True)),
    }
    prints = {name: runs.fingerprint(run, "cpu") for name, run in trains_otherwise.items()}
    assert ref not in prints.values() and len(set(prints.values())) == len(prints), prints
    assert runs.fingerprint(base, "cuda") != ref
    records_otherwise = [dataclasses.replace(base, tail={"kind": "local"}), dataclasses.replace(base, levels=5),
                         dataclasses.replace(base, outputs=runs.Outputs(metrics=str(tmp_path / "other.json"))),
                         dataclasses.replace(base, runtime=runs.Runtime(threads=2))]
    assert {runs.fingerprint(run, "cpu") for run in records_otherwise} == {ref}


# --------------------------------------------------------------------------- resume


class Killed(Exception):
    pass


def kill_after_first_save(monkeypatch):
    real = training.Resume.save

    def save(self, epoch, *args):
        real(self, epoch, *args)
        raise Killed(epoch)

    monkeypatch.setattr(training.Resume, "save", save)


def test_a_killed_late_theta_resumes_and_ends_as_an_uninterrupted_run(files, tmp_path, monkeypatch, capsys):
    """theta_k writes no metrics.json: its resume file sits beside the checkpoint (new with the entry point)."""
    monkeypatch.setenv(runs.RESUME_EVERY_ENV, "1")
    kw = dict(init=files["init.pt"], data=files["dataset.npz"], h_find=HF, seed=0, late_epoch=2,
              training={**TRAINING, "epochs": 3}, augment=AUGMENT)
    rewinding_jobs.late_theta(str(tmp_path / "ref" / "theta_k.pt"), **kw)
    out = tmp_path / "run" / "theta_k.pt"
    with monkeypatch.context() as mp:
        kill_after_first_save(mp)
        with pytest.raises(Killed):
            rewinding_jobs.late_theta(str(out), **kw)
    assert (out.parent / ".theta_k.resume.pt").is_file() and not out.exists()
    capsys.readouterr()
    rewinding_jobs.late_theta(str(out), **kw)
    assert "resuming from" in capsys.readouterr().out
    assert not (out.parent / ".theta_k.resume.pt").exists()
    (a, ma), (b, mb) = load_checkpoint(tmp_path / "ref" / "theta_k.pt"), load_checkpoint(out)
    assert all(torch.equal(a[k], b[k]) for k in a)
    strip = lambda m: [{k: v for k, v in row.items() if k != "time_s"} for row in m["history"]]  # noqa: E731
    assert strip(ma) == strip(mb) and len(mb["history"]) == 2


def test_a_resume_file_of_another_run_is_ignored(files, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(runs.RESUME_EVERY_ENV, "1")
    run = every_kind(files, tmp_path)["warmup"]
    with monkeypatch.context() as mp:
        kill_after_first_save(mp)
        with pytest.raises(Killed):
            runs.train(run)
    assert Path(runs.resume_path(run.outputs.metrics)).is_file()
    capsys.readouterr()
    other = dataclasses.replace(run, schedule=dataclasses.replace(run.schedule, warmup_iters=4))
    metrics = runs.train(other)
    assert metrics["resumed_from_epoch"] == 0 and "fingerprint differs" in capsys.readouterr().out
    assert not Path(runs.resume_path(run.outputs.metrics)).exists()
    assert json.loads(Path(run.outputs.metrics).read_text())["warmup_iters"] == 3  # the record is the run's own


# --------------------------------------------------------------------------- record and sweeps


def test_the_record_layout(files, tmp_path):
    outcome = {k: k for k in runs.OUTCOME}
    lpr_run = every_kind(files, tmp_path)["lpr"]
    rec = runs.record(lpr_run, outcome, ["a warning"])
    keys = list(rec)
    assert keys[:8] == ["kind", "role", "level", "seed", "seeds", "H_find", "H_eval", "epochs"]
    assert keys[8:8 + len(runs.OUTCOME)] == list(runs.OUTCOME)
    assert keys[-3:] == ["warnings", "constraint", "H_ref"] and rec["kind"] == "local"  # replaced in place
    dense = every_kind(files, tmp_path)["structured"]
    rec = runs.record(dense, outcome, [])
    assert list(rec) == list(dense.keys) and "sparsity" not in rec and rec["flops_factor"] == 1.0
    with pytest.raises(ValueError, match="has no nowhere"):
        runs.record(dataclasses.replace(dense, keys=(*dense.keys, "nowhere")), outcome, [])


def test_a_grouped_sweep_refuses_runs_that_do_not_train_alike(files, tmp_path, monkeypatch):
    def tripwire(*a, **k):
        raise AssertionError("trained although the sweep is invalid")

    monkeypatch.setattr(training, "train", tripwire)
    a = every_kind(files, tmp_path)["a1"]
    b = dataclasses.replace(a, h=HF.replace(batch_size=HF.batch_size * 2),
                            outputs=runs.Outputs(metrics=str(tmp_path / "b.json")))
    with pytest.raises(ValueError, match="must share their data, batch size, schedule"):  # LR and WD may differ
        runs.train_all([a, b], group=2)
    c = dataclasses.replace(a, stop_epoch=1)  # its data order may differ (other replicates), its epochs may not
    with pytest.raises(ValueError, match="must share their data, batch size, schedule"):
        runs.train_all([a, c], group=2)
    with pytest.raises(ValueError, match="runtime.group -1"):
        runs.train_all([a], group=-1)
    assert not list(tmp_path.glob("*.json"))


def test_a_run_outside_its_schedule_is_refused_before_anything_loads(files):
    run = every_kind(files, Path("/nonexistent"))["early"]
    with pytest.raises(ValueError, match="stop_epoch 3 is not in 1..2"):
        dataclasses.replace(run, stop_epoch=3)
    with pytest.raises(ValueError, match="first_epoch 2 is not in 0..1"):
        dataclasses.replace(run, first_epoch=2)
    with pytest.raises(ValueError, match="init seed"):
        dataclasses.replace(run, from_scratch=True)
