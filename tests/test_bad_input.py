"""Bad input, tried: every case must stop with an error that names the problem (the key, the file, the
expected shape) before any work is lost.

- Config cases go through ``snakemake -n`` (the Snakefile validates the config when it loads): the run
  must fail before any job is planned or started, with the key and the value in the message.
- File cases call the ``findeval.a1.jobs`` functions the rules run, on small real files (a width-4 ResNet on
  digits). Training jobs must refuse their inputs before training starts (``training.train`` is replaced
  by a tripwire) and leave no output behind.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import json
import os

import numpy as np
import pytest
import torch

from conftest import TINY, read_yaml, snakemake, write_config
from findeval import analysis, data as data_mod, io, masks, models, runs, training
from findeval.a1 import jobs
from findeval.hparams import H

# --------------------------------------------------------------------------- config cases (snakemake -n)


def _set(path: str, value):
    def edit(cfg, wd):
        *parents, last = path.split(".")
        d = cfg
        for key in parents:
            d = d.setdefault(key, {})
        if value is _DELETE:
            del d[last]
        else:
            d[last] = value

    return edit


_DELETE = object()


def _cifar_root(kind: str):
    def edit(cfg, wd):
        root = wd / "cifar"
        if kind == "empty":
            root.mkdir()
        cfg["dataset"] = {"name": "cifar10", "root": str(root)}
        return str(root / "cifar-10-batches-py" / "data_batch_1") if kind == "empty" else str(root)

    return edit


#: id -> (edit(config, workdir) of tests/data/tiny.yaml, strings the error output must contain; an edit may
#: return one more string to look for)
CONFIG_CASES = {
    "unknown-key": (_set("pruning.fractoin", 0.2), ["pruning.fractoin: unknown key; did you mean 'fraction'?"]),
    "wrong-type-lr-string": (_set("defaults.lr", "0.1x"), ["defaults.lr: '0.1x' is not a number"]),
    "zero-lr": (_set("defaults.lr", 0), ["defaults.lr: 0 is out of range; allowed: > 0"]),
    "negative-lr-in-grid": (_set("grids.lr.find", [0.1, -0.05]), ["-0.05", "grids.lr.find"]),
    "fraction-zero": (_set("pruning.fraction", 0), ["pruning.fraction: 0 is out of range"]),
    "fraction-one": (_set("pruning.fraction", 1.0), ["pruning.fraction: 1.0 is out of range"]),
    "zero-levels": (_set("pruning.levels", 0), ["pruning.levels: 0 is out of range; allowed: >= 1"]),
    "empty-grid": (_set("grids.lr.eval", []), ["grids.lr.eval: needs at least 1 value"]),
    "duplicate-grid-values": (_set("grids.weight_decay.find", [5.0e-4, 0.0005]),
                              ["grids.weight_decay.find", "listed twice"]),
    "unknown-model": (_set("model.name", "resnet34"), ["model.name: 'resnet34' is not allowed", "resnet18"]),
    "unknown-dataset": (_set("dataset.name", "mnist"), ["dataset.name: 'mnist' is not allowed", "digits"]),
    "missing-data-folder": (_cifar_root("missing"), ["dataset.root", "does not exist"]),
    "data-folder-without-files": (_cifar_root("empty"), ["dataset.root", "not found"]),
    "milestones-beyond-epochs": (_set("training.milestones", [1, 2]), ["training.milestones", "[2]",
                                                                      "training.epochs = 2"]),
    "milestones-not-increasing": (lambda c, wd: c["training"].update(epochs=6, milestones=[4, 2]),
                                  ["training.milestones", "increasing"]),
    "batch-size-one": (_set("grids.batch_size.eval", [1, 128]), ["grids.batch_size.eval[0]: 1 is out of range; allowed: >= 2"]),
    "experiment-with-slash": (_set("experiment", "a/b"), ["experiment: 'a/b' does not match"]),
    "missing-required-block": (_set("pruning", _DELETE), ["'pruning' is a required property"]),
    "null-block": (_set("structured", None), ["structured: None is not of type 'object'", "leave the key out"]),
    "momentum-one": (_set("training.momentum", 1.0), ["training.momentum: 1.0 is out of range"]),
    # issue 24 item 4: values that failed only later (a traceback naming no key, a figure job after all training)
    # or were taken silently; each now fails when the config is loaded, with its key
    "test-fraction-leaves-no-training-image": (_set("dataset.test_fraction", 0.999),
                                               ["dataset.test_fraction: 0.999 leaves 0 training and 1797 test images"]),
    "figure-level-beyond-the-chain": (_set("figures.fig8.levels", [99]),
                                      ["figures.fig8.levels: level 99 does not exist; pruning.levels = 2"]),
    "unknown-palette": (_set("figures.style.palette", "rainbowz"),
                        ["figures.style.palette: 'rainbowz' is not a palette seaborn knows"]),
    "crop-scale-reversed": (_set("dataset.augment.crop_scale", [1.0, 0.5]),
                            ["dataset.augment.crop_scale: [1.0, 0.5] is not a range [low, high]", "write [0.5, 1.0]"]),
    "crop-ratio-reversed": (_set("dataset.augment.crop_ratio", [1.5, 0.5]),
                            ["dataset.augment.crop_ratio: [1.5, 0.5] is not a range [low, high]"]),
    "panel-width-of-1000-inches": (_set("figures.style.panel_width", 1000),
                                   ["figures.style.panel_width: 1000 is out of range; allowed: > 0 and <= 20"]),
    "panel-height-of-500-inches": (_set("figures.style.panel_height", 500),
                                   ["figures.style.panel_height: 500 is out of range"]),
    "dpi-5000": (_set("figures.style.dpi", 5000), ["figures.style.dpi: 5000 is out of range; allowed: >= 50 and <= 1200"]),
    "structured-milestones-beyond-epochs": (
        lambda c, wd: c.update(structured={**read_yaml(TINY.with_name("tiny_structured.yaml"))["structured"],
                                           "training": {"epochs": 2, "milestones": [5]}}),
        ["structured.training.milestones: [5] are not below structured.training.epochs = 2"]),
}

#: Values the Snakefile refused already while it planned its rules, but the check command said "ok" to (before
#: issue 24): checked with the command only (the Snakefile's message is the same planner's).
PLANNED_CASES = {
    "figure-level-fig6": (_set("figures.fig6.level", 99), ["figures.fig6.level: level 99 does not exist"]),
    "figure-levels-figA17": (_set("figures.figA17.levels", [99]), ["figures.figA17.levels: level 99 does not exist"]),
    "late-rewinding-epoch-beyond-training": (_set("rewinding.late_epoch", 5),
                                             ["rewinding.late_epoch: 5 is not in 1..training.epochs - 1 = 1"]),
    "early-pruning-epoch-beyond-training": (_set("early_pruning.epochs", [5]), ["early_pruning.epochs: [5] are not in 1..1"]),
    "instability-level-beyond-the-chain": (_set("instability.levels", [99]), ["instability.levels: level 99 is not in"]),
}

#: The check command prints one line per file, in full: the schema's own errors (Snakemake's validator, whose
#: first line was only "Error validating config file." before) name the key and the reason too.
CLI_CASES = {**CONFIG_CASES, **PLANNED_CASES}


def _run_config_case(name: str, root):
    edit, needles = CONFIG_CASES[name]
    wd = root / name
    wd.mkdir()
    cfg = copy.deepcopy(read_yaml(TINY))
    extra = edit(cfg, wd)
    needles = needles + ([extra] if isinstance(extra, str) else [])
    write_config(wd, cfg)
    r = snakemake(wd, "-n", check=False, timeout=120)
    return {"rc": r.returncode, "out": r.stdout + r.stderr, "needles": needles, "wd": wd}


@pytest.fixture(scope="module")
def config_results(tmp_path_factory):
    """All config cases, two ``snakemake -n`` processes at a time (each is mostly interpreter start-up)."""
    root = tmp_path_factory.mktemp("badconfig")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(_run_config_case, name, root) for name in CONFIG_CASES}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_bad_config_fails_before_any_job(config_results, case):
    r = config_results[case]
    out = r["out"]
    assert r["rc"] != 0, f"snakemake -n accepted the config of case {case}:\n{out}"
    for needle in r["needles"]:
        assert needle in out, f"{needle!r} not in the error of case {case}:\n{out}"
    assert "Job stats" not in out and "rule prepare_data" not in out  # no job was even planned
    assert not (r["wd"] / "results").exists()


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_the_check_command_agrees_with_the_snakefile(tmp_path, capsys, case):
    """``python -m findeval.workflow`` runs the Snakefile's check (workflow.check_workflow): the same cases fail
    with the same key and value named (before issue 24 it said "ok" to test_fraction 0.999 and fig8.levels)."""
    from findeval import workflow as wf

    edit, needles = CLI_CASES[case]
    cfg = copy.deepcopy(read_yaml(TINY))
    extra = edit(cfg, tmp_path)
    path = write_config(tmp_path, cfg)
    assert wf.main([str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1  # one line
    for needle in needles + ([extra] if isinstance(extra, str) else []):
        assert needle in err, f"{needle!r} not in {err!r}"


#: Environment variables the jobs read: a value they do not take fails when the config is loaded (env, needle).
ENV_CASES = {
    "hdf5-locking-unknown": ({"FINDEVAL_HDF5_LOCKING": "maybe"},
                             "environment: FINDEVAL_HDF5_LOCKING='maybe': expected one of 0, false, no, off"),
    "hdf5-use-file-locking-unknown": ({"HDF5_USE_FILE_LOCKING": "sometimes"},
                                      "environment: HDF5_USE_FILE_LOCKING='sometimes': expected FALSE"),
    "resume-every-not-a-number": ({"FINDEVAL_RESUME_EVERY": "often"},
                                  "environment: FINDEVAL_RESUME_EVERY='often': expected a whole number of epochs"),
}


@pytest.mark.parametrize("case", list(ENV_CASES))
def test_bad_environment_fails_at_load(tmp_path, capsys, monkeypatch, case):
    from findeval import workflow as wf

    env, needle = ENV_CASES[case]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert wf.main([str(TINY)]) == 1
    assert needle in capsys.readouterr().err


def test_bad_environment_fails_before_any_job_in_snakemake(tmp_path, monkeypatch):
    monkeypatch.setenv("FINDEVAL_HDF5_LOCKING", "maybe")
    write_config(tmp_path, read_yaml(TINY))
    r = snakemake(tmp_path, "-n", check=False, timeout=120)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "FINDEVAL_HDF5_LOCKING='maybe'" in out and "rule prepare_data" not in out


@pytest.mark.parametrize("value, locking", [("off", False), ("OFF", False), ("0", False), ("no", False),
                                            ("false", False), ("on", True), ("1", True), ("", None)])
def test_hdf5_locking_off_means_off(monkeypatch, tmp_path, value, locking):
    """FINDEVAL_HDF5_LOCKING=off silently meant "on" before issue 24; masks are written and read with it."""
    monkeypatch.delenv("HDF5_USE_FILE_LOCKING", raising=False)
    monkeypatch.setenv("FINDEVAL_HDF5_LOCKING", value)
    assert masks.file_locking() is locking
    mask = {"conv.weight": np.ones((2, 1, 3, 3), dtype=bool)}
    masks.save_mask(tmp_path / "m.h5", mask, kind="lottery", level=1, seed=0)
    assert masks.load_mask(tmp_path / "m.h5")[0]["conv.weight"].all()


def test_hdf5_use_file_locking_is_read_as_hdf5_does(monkeypatch):
    monkeypatch.delenv("FINDEVAL_HDF5_LOCKING", raising=False)
    for value, locking in (("FALSE", False), ("TRUE", True), ("BEST_EFFORT", "best-effort")):
        monkeypatch.setenv("HDF5_USE_FILE_LOCKING", value)
        assert masks.file_locking() == locking


def test_a_custom_palette_seaborn_knows_is_accepted(tiny_config):
    from findeval import workflow as wf

    for palette in ("viridis", "husl", "tab10", "deep6"):
        wf.check_style({"palette": palette})


def test_the_unedited_config_passes(tmp_path):
    """The matrix is only meaningful if the base config is accepted by the same command."""
    write_config(tmp_path, read_yaml(TINY))
    r = snakemake(tmp_path, "-n", "results/tiny/dataset.npz", check=False, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


# --------------------------------------------------------------------------- file cases (findeval.a1.jobs)

MODEL = {"name": "resnet_cifar", "depth": 8, "width": 4}
OTHER = {"name": "resnet_cifar", "depth": 8, "width": 2}
TRAINING = {"epochs": 1, "milestones": [], "gamma": 0.2}
HF = H(0.1, 128, 5e-4)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Valid inputs of every job: dataset, init (width 4 and, for foreign files, width 2), mask M_1, ticket."""
    root = tmp_path_factory.mktemp("files")
    f = {k: root / v for k, v in {
        "data": "dataset.npz", "init": "init.pt", "reinit": "reinit.pt", "arch": "architecture.json",
        "mask1": "mask1.h5", "ticket1": "ticket1.pt", "other_init": "other/init.pt", "other_reinit": "other/reinit.pt",
        "other_arch": "other/architecture.json", "other_mask1": "other/mask1.h5"}.items()}
    jobs.prepare_data(str(f["data"]), name="digits")
    jobs.init(str(f["init"]), str(f["reinit"]), str(f["arch"]), model=MODEL, dataset="digits", seed=0)
    jobs.init(str(f["other_init"]), str(f["other_reinit"]), str(f["other_arch"]), model=OTHER, dataset="digits", seed=0)
    jobs.prune(str(f["mask1"]), trained=str(f["init"]), parent_mask=None, fraction=0.5, level=1, seed=0, h_find=HF)
    jobs.prune(str(f["other_mask1"]), trained=str(f["other_init"]), parent_mask=None, fraction=0.5, level=1, seed=0,
               h_find=HF)
    jobs.rewind(str(f["ticket1"]), start=str(f["init"]), mask=str(f["mask1"]))
    return f


@pytest.fixture
def no_training(monkeypatch):
    """Training must never start on bad input: replace it by a tripwire."""

    def tripwire(*args, **kwargs):
        raise AssertionError("training started although an input is bad")

    monkeypatch.setattr(training, "train", tripwire)


def _train(out_dir, files, **over):
    kw = dict(start=str(files["ticket1"]), mask=str(files["mask1"]), data=str(files["data"]), kind="lottery",
              h_find=HF, h_eval=HF, level=1, seed=0, training=TRAINING, augment=None, role="train_find",
              out_trained=str(out_dir / "trained.pt"))
    kw.update(over)
    return jobs.train_run(str(out_dir / "metrics.json"), **kw)


def _nothing_written(d):
    left = sorted(p.name for p in d.iterdir() if p.name in ("metrics.json", "trained.pt") or ".tmp-" in p.name
                  or p.name.endswith(".resume.pt"))
    assert left == [], f"outputs left behind: {left}"


@contextlib.contextmanager
def _raises(exc, *needles):
    """pytest.raises that also checks that every needle is in the message."""
    with pytest.raises(exc) as info:
        yield info
    msg = str(info.value)
    for needle in needles:
        assert str(needle) in msg, f"{needle!r} not in: {msg}"


def _write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path


def test_truncated_mask(files, tmp_path, no_training):
    bad = _write_bytes(tmp_path / "mask.h5", files["mask1"].read_bytes()[:1500])
    with _raises(masks.MaskError, bad, "truncated or corrupt"):
        _train(tmp_path, files, mask=str(bad))
    _nothing_written(tmp_path)


def test_corrupt_mask(files, tmp_path, no_training):
    raw = bytearray(files["mask1"].read_bytes())
    raw[:64] = b"\x00garbage" * 8  # the superblock (HDF5 signature and addresses) destroyed
    bad = _write_bytes(tmp_path / "mask.h5", bytes(raw))
    with _raises(masks.MaskError, bad, "unreadable"):
        _train(tmp_path, files, mask=str(bad))
    _nothing_written(tmp_path)


def test_hdf5_that_is_not_a_mask(files, tmp_path, no_training):
    import h5py

    bad = tmp_path / "other.h5"
    with h5py.File(bad, "w") as f:
        f["weights"] = np.zeros(3)
    with _raises(masks.MaskError, bad, "not a findeval mask"):
        _train(tmp_path, files, mask=str(bad))
    _nothing_written(tmp_path)


def test_mask_for_another_architecture(files, tmp_path, no_training):
    with _raises(masks.MaskError, files["other_mask1"], "another architecture", "conv1.weight", "(2, 1, 3, 3)"):
        _train(tmp_path, files, mask=str(files["other_mask1"]))
    _nothing_written(tmp_path)


def test_mask_of_the_wrong_level(files, tmp_path, no_training):
    with _raises(masks.MaskError, files["mask1"], "is level 1, expected 2"):
        _train(tmp_path, files, level=2)
    _nothing_written(tmp_path)


def test_mask_not_monotone_with_its_parent(files, tmp_path):
    """prune(level 2) reads M_1 and the weights trained with M_1: weights M_1 prunes must be zero. Weights
    trained with another mask (here M_1 shuffled within each layer) make M_2 not monotone with M_1."""
    m1, _ = masks.load_mask(files["mask1"])
    state, meta = io.load_checkpoint(files["init"])
    shuffled = masks.preserve_lpr_mask(m1, seed=7)
    trained = tmp_path / "trained1.pt"
    io.save_checkpoint(trained, masks.apply_mask(state, shuffled), {**meta, "role": "trained", "level": 1})
    out = tmp_path / "mask2.h5"
    with _raises(masks.MaskError, trained, files["mask1"], "not monotone", "conv1.weight"):
        jobs.prune(str(out), trained=str(trained), parent_mask=str(files["mask1"]), fraction=0.5, level=2, seed=0,
                   h_find=HF)
    assert not out.exists()


def test_parent_mask_of_the_wrong_level(files, tmp_path):
    out = tmp_path / "mask3.h5"
    with _raises(masks.MaskError, files["mask1"], "expected 2"):
        jobs.prune(str(out), trained=str(files["ticket1"]), parent_mask=str(files["mask1"]), fraction=0.5, level=3,
                   seed=0, h_find=HF)
    assert not out.exists()


def test_checkpoint_of_another_architecture(files, tmp_path, no_training):
    with _raises(masks.MaskError, files["mask1"], "another architecture", "(4, 1, 3, 3)", "(2, 1, 3, 3)"):
        _train(tmp_path, files, start=str(files["other_init"]))
    _nothing_written(tmp_path)


def test_checkpoint_that_is_not_a_plain_state_dict(files, tmp_path, no_training):
    bad = tmp_path / "pickled.pt"
    torch.save({"model": models.build({**MODEL, "in_channels": 1, "num_classes": 10}), "meta": {}}, bad)
    with _raises(io.CheckpointError, bad, "not a plain state dict", "weights_only=True"):
        _train(tmp_path, files, start=str(bad))
    _nothing_written(tmp_path)


def test_checkpoint_with_nan_weights(files, tmp_path, no_training):
    state, meta = io.load_checkpoint(files["ticket1"])
    state = {k: v.clone() for k, v in state.items()}
    state["layer2.0.conv2.weight"].view(-1)[3] = float("nan")
    bad = tmp_path / "nan.pt"
    io.save_checkpoint(bad, state, meta)
    with _raises(io.CheckpointError, bad, "NaN", "layer2.0.conv2.weight"):
        _train(tmp_path, files, start=str(bad))
    _nothing_written(tmp_path)


def test_truncated_checkpoint(files, tmp_path, no_training):
    bad = _write_bytes(tmp_path / "cut.pt", files["ticket1"].read_bytes()[:5000])
    with _raises(io.CheckpointError, bad, "unreadable"):
        _train(tmp_path, files, start=str(bad))
    _nothing_written(tmp_path)


def test_missing_checkpoint(files, tmp_path, no_training):
    with _raises(io.CheckpointError, tmp_path / "nope.pt", "not found"):
        _train(tmp_path, files, start=str(tmp_path / "nope.pt"))


def test_checkpoint_without_model_spec(files, tmp_path, no_training):
    state, _ = io.load_checkpoint(files["ticket1"])
    bare = tmp_path / "bare.pt"
    io.save_checkpoint(bare, state, {"role": "ticket"})
    with _raises(ValueError, bare, "model_spec"):
        _train(tmp_path, files, start=str(bare))
    _nothing_written(tmp_path)


def test_prepared_dataset_missing_arrays(files, tmp_path, no_training):
    with np.load(files["data"]) as z:
        arrays = {k: z[k] for k in z.files if k not in ("y_test", "std")}
    bad = tmp_path / "dataset.npz"
    np.savez(bad, **arrays)
    with _raises(data_mod.DataError, bad, "lacks arrays", "y_test", "std"):
        _train(tmp_path, files, data=str(bad))
    _nothing_written(tmp_path)


def test_truncated_prepared_dataset(files, tmp_path, no_training):
    bad = _write_bytes(tmp_path / "dataset.npz", files["data"].read_bytes()[:4000])
    with _raises(data_mod.DataError, bad):
        _train(tmp_path, files, data=str(bad))
    _nothing_written(tmp_path)


def test_prepared_dataset_of_another_shape(files, tmp_path, no_training):
    """A 3-channel dataset (CIFAR-like) given to a model built for 1-channel digits."""
    with np.load(files["data"]) as z:
        arrays = {k: z[k] for k in z.files}
    for split in ("x_train", "x_test"):
        arrays[split] = np.repeat(arrays[split], 3, axis=1)
    arrays["mean"], arrays["std"] = np.repeat(arrays["mean"], 3), np.repeat(arrays["std"], 3)
    bad = tmp_path / "rgb.npz"
    np.savez(bad, **arrays)
    with _raises(ValueError, bad, "3-channel", "expects 1 channels"):
        _train(tmp_path, files, data=str(bad))
    _nothing_written(tmp_path)


def test_prepared_dataset_with_more_classes_than_the_model(files, tmp_path, no_training):
    with np.load(files["data"]) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["y_train"] = arrays["y_train"].copy()
    arrays["y_train"][0] = 99
    arrays["num_classes"] = np.int64(100)
    bad = tmp_path / "hundred.npz"
    np.savez(bad, **arrays)
    with _raises(ValueError, bad, "100 classes", "10 outputs"):
        _train(tmp_path, files, data=str(bad))
    _nothing_written(tmp_path)


def test_cuda_requested_without_a_gpu(files, tmp_path, no_training):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with _raises(RuntimeError, "runtime.device", "cuda"):
        _train(tmp_path, files, device="cuda")
    _nothing_written(tmp_path)


@pytest.mark.parametrize("value", ["often", "-1", "1.5"])
def test_bad_resume_cadence(files, tmp_path, no_training, monkeypatch, value):
    monkeypatch.setenv("FINDEVAL_RESUME_EVERY", value)
    with _raises(ValueError, "FINDEVAL_RESUME_EVERY", repr(value)):
        _train(tmp_path, files)
    _nothing_written(tmp_path)


def test_prune_with_fraction_outside_0_1(files, tmp_path):
    out = tmp_path / "m.h5"
    with _raises(ValueError, "fraction", "(0, 1)", "1.0"):
        jobs.prune(str(out), trained=str(files["init"]), parent_mask=None, fraction=1.0, level=1, seed=0, h_find=HF)
    assert not out.exists()


def test_prune_of_nan_weights_that_do_not_say_they_diverged(files, tmp_path):
    """A diverged find run is a result (its checkpoint says so, see test_reliability); NaN weights in a
    checkpoint that does not say so are a corrupt file."""
    state, meta = io.load_checkpoint(files["init"])
    state = {k: v.clone() for k, v in state.items()}
    state["conv1.weight"].view(-1)[0] = float("nan")
    trained = tmp_path / "trained0.pt"
    io.save_checkpoint(trained, state, {**meta, "role": "trained", "level": 0, "diverged": False})
    out = tmp_path / "m.h5"
    with _raises(io.CheckpointError, trained, "conv1.weight", "does not say its training diverged"):
        jobs.prune(str(out), trained=str(trained), parent_mask=None, fraction=0.5, level=1, seed=0, h_find=HF)
    assert not out.exists()


def test_corrupt_architecture_json(files, tmp_path):
    bad = tmp_path / "architecture.json"
    bad.write_text('{"model_spec": {"name": "resnet_cifar"}, "prunable": {')
    out = tmp_path / "global.h5"
    with _raises(ValueError, bad, "not valid JSON"):
        jobs.global_random_mask(str(out), architecture=str(bad), fraction=0.5, level=1, seed=0)
    assert not out.exists()


def test_preserve_lpr_from_a_corrupt_lottery_mask(files, tmp_path):
    bad = _write_bytes(tmp_path / "mask.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 200)
    out = tmp_path / "lpr.h5"
    with _raises(masks.MaskError, bad):
        jobs.preserve_lpr_mask(str(out), lottery_mask=str(bad), level=1, seed=0)
    assert not out.exists()


# --------------------------------------------------------------------------- aggregate


def _metrics(files, tmp_path):
    """One real metrics.json (a 1-epoch run) to corrupt in different ways."""
    out = tmp_path / "good"
    out.mkdir()
    _train(out, files, out_trained=None, role="train_eval", training={"epochs": 1})
    return out / "metrics.json"


@pytest.fixture(scope="module")
def good_metrics(files, tmp_path_factory):
    return _metrics(files, tmp_path_factory.mktemp("metrics"))


@pytest.mark.parametrize(
    "corrupt, needles",
    [
        (lambda text: text[: len(text) // 2], ["is not valid JSON"]),
        (lambda text: "[1, 2, 3]", ["must hold a JSON object"]),
        (lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "test_accuracy"}),
         ["lacks test_accuracy"]),
        (lambda text: json.dumps({**json.loads(text), "H_eval": {"lr": -1, "batch_size": 64, "weight_decay": 0}}),
         ["malformed", "lr must be > 0"]),
    ],
    ids=["truncated-json", "not-an-object", "missing-key", "bad-H"],
)
def test_aggregate_refuses_bad_metrics(good_metrics, tmp_path, corrupt, needles):
    bad = tmp_path / "metrics.json"
    bad.write_text(corrupt(good_metrics.read_text()))
    out = tmp_path / "summary.csv"
    with _raises(ValueError, bad, *needles):
        analysis.write_summary([str(good_metrics), str(bad)], str(out), experiment="x")
    assert not out.exists()
    analysis.write_summary([str(good_metrics)], str(out), experiment="x")  # the good one alone is fine
    assert out.exists()


def test_cifar_batches_are_refused_without_their_files(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    with _raises(data_mod.DataError, tmp_path / "cifar-10-batches-py", "data_batch_1", "test_batch"):
        jobs.prepare_data(str(tmp_path / "d.npz"), name="cifar10", root=str(tmp_path))
    assert not (tmp_path / "d.npz").exists()


def test_a_checkpoint_carrying_code_is_refused_and_the_code_never_runs(files, tmp_path, no_training):
    """A .pt file is a pickle: loaded without weights_only it runs whatever it carries. Here it would create
    a folder; findeval must refuse the file and the folder must not appear."""
    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    bad = tmp_path / "evil.pt"
    state, meta = io.load_checkpoint(files["ticket1"])
    torch.save({"model": state, "meta": {**meta, "note": Payload()}}, bad)
    with _raises(io.CheckpointError, bad, "weights_only=True"):
        _train(tmp_path, files, start=str(bad))
    assert not marker.exists()
    _nothing_written(tmp_path)


# --------------------------------------------------------------------------- issue 16: more cases, direct calls
#
# Each case calls the function that the Snakefile (rules/common.smk: precheck, then the schema, then
# check_config) or a job runs, and checks that the one-line message names the key or file and what is allowed.

from findeval import workflow as wf  # noqa: E402
from conftest import REPO, validated  # noqa: E402


@pytest.fixture(scope="module")
def schema():
    return wf.load_yaml_file(str(REPO / "schemas" / "config.schema.yaml"), "schema")


def _edited(path: str, value):
    value = copy.deepcopy(value)  # precheck converts in place: keep the case tables as written
    cfg = copy.deepcopy(read_yaml(TINY))
    *parents, last = path.split(".")
    d = cfg
    for key in parents:
        d = d.setdefault(key, {})
    d[last] = value
    return cfg, d, last


#: id -> (key, value, strings the ConfigError must contain)
PRECHECK_ERRORS = {
    "lr-in-percent": ("defaults.lr", "0.1%", ["defaults.lr: '0.1%' is not a number", "write 0.001 for 0.1%"]),
    "lr-with-unit": ("defaults.lr", "0.1 per step", ["defaults.lr", "is not a number"]),
    "lr-as-fraction-text": ("grids.lr.find", [0.1, "1/10"], ["grids.lr.find[1]: '1/10' is not a number"]),
    "epochs-not-whole": ("training.epochs", 12.5, ["training.epochs: 12.5 is not a whole number"]),
    "epochs-not-whole-string": ("training.epochs", "12.5", ["training.epochs: '12.5' is not a whole number"]),
    "levels-not-whole": ("pruning.levels", 2.5, ["pruning.levels: 2.5 is not a whole number"]),
    "epochs-thousands-separator": ("training.epochs", "1,000", ["no thousands separators: write 1000"]),
    "epochs-boolean": ("training.epochs", True, ["training.epochs: True is not a number"]),
    "top-level-key-typo": ("trainig", {"epochs": 2}, ["trainig: unknown key; did you mean 'training'?"]),
    "nested-key-typo": ("training.milestone", [1], ["training.milestone: unknown key; did you mean 'milestones'?"]),
    "key-in-wrong-block": ("defaults.momentum", 0.9, ["defaults.momentum: unknown key", "lr, batch_size, weight_decay"]),
    "figure-name-typo": ("figures.fig22", {}, ["figures.fig22: unknown key; did you mean 'fig2'?"]),
    "negative-levels": ("pruning.levels", -2, ["pruning.levels: -2 is out of range; allowed: >= 1"]),
    "seed-list-with-duplicates": ("seeds", [0, 1, 0], ["seeds: 0 is listed twice"]),
    "seed-duplicate-after-conversion": ("seeds", [1, "1"], ["seeds: 1 is listed twice"]),
    "seeds-not-a-list": ("seeds", 0, ["seeds: expected a list (e.g. [0])"]),
    "negative-weight-decay": ("defaults.weight_decay", -1.0e-4, ["defaults.weight_decay: -0.0001 is out of range",
                                                                 ">= 0"]),
    "empty-grid": ("grids.batch_size.find", [], ["grids.batch_size.find: needs at least 1 value"]),
    "fraction-as-percent": ("pruning.fraction", 20, ["pruning.fraction: 20 is out of range", "write 0.2 for 20%"]),
    "device-typo": ("runtime.device", "gpu", ["runtime.device: 'gpu' is not allowed", "'cpu', 'cuda', 'auto'"]),
    "granularity-typo": ("runtime.granularity", "chains", ["did you mean 'chain'?"]),
    "model-name-typo": ("model.name", "resnet-18", ["model.name: 'resnet-18' is not allowed", "did you mean 'resnet18'?"]),
    "dataset-name-typo": ("dataset.name", "cifar-10", ["dataset.name: 'cifar-10' is not allowed", "'cifar10'"]),
    "lr-infinite": ("defaults.lr", float("inf"), ["defaults.lr: inf is not a finite number"]),
    "threads-zero": ("runtime.threads", 0, ["runtime.threads: 0 is out of range; allowed: >= 1"]),
    "lr-list-for-a-number": ("defaults.lr", [0.1], ["defaults.lr: expected a single number, got a list"]),
    "flip-as-text": ("dataset.augment.flip", "no", ["dataset.augment.flip: 'no' is not true or false"]),
    "experiment-with-space": ("experiment", "my run", ["experiment: 'my run' does not match"]),
    "test-fraction-percent": ("dataset.test_fraction", 20, ["dataset.test_fraction", "write 0.2 for 20%"]),
}


@pytest.mark.parametrize("case", list(PRECHECK_ERRORS))
def test_precheck_names_the_key_and_what_is_allowed(schema, case):
    key, value, needles = PRECHECK_ERRORS[case]
    cfg, _, _ = _edited(key, value)
    with pytest.raises(wf.ConfigError) as err:
        wf.precheck(cfg, schema)
    message = str(err.value)
    assert "\n" not in message  # one line
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


#: id -> (key, value as written, the value after the precheck)
PRECHECK_CONVERSIONS = {
    "exponent-without-dot": ("defaults.weight_decay", "5e-4", 5.0e-4),
    "exponent-in-a-grid": ("grids.weight_decay.eval", ["5e-4", "1e-3"], [5.0e-4, 1.0e-3]),
    "quoted-integer": ("defaults.batch_size", "128", 128),
    "integral-float-batch": ("defaults.batch_size", 128.0, 128),
    "quoted-milestone": ("training.milestones", ["1"], [1]),
    # what `--config 'runtime={channels_last: true}'` hands over: the text 'true'
    "boolean-from-config-flag": ("runtime.channels_last", "true", True),
    "boolean-false-from-config-flag": ("dataset.augment.flip", "False", False),
}


@pytest.mark.parametrize("case", list(PRECHECK_CONVERSIONS))
def test_numbers_written_as_strings_are_accepted(schema, case):
    key, value, expected = PRECHECK_CONVERSIONS[case]
    cfg, parent, last = _edited(key, value)
    wf.precheck(cfg, schema)
    assert parent[last] == expected and type(parent[last]) is type(expected)
    wf.check_config(validated(cfg))  # and the rest of the validation accepts it


def test_exponent_string_accepted_end_to_end(tmp_path):
    """The docs write 5e-4: PyYAML reads it as a string, the workflow takes it as the number."""
    text = TINY.read_text().replace("5.0e-4", "5e-4")
    assert "5e-4" in text
    (tmp_path / "config.yaml").write_text(text)
    r = snakemake(tmp_path, "-n", check=False, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "wd5e-4" in r.stdout  # the same paths as 5.0e-4


# --- YAML files


def test_yaml_syntax_error_has_a_line_number(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("experiment: x\ndataset:\n  name: digits\n   bad: [1\n")
    with pytest.raises(wf.ConfigError, match=r"c\.yaml line 4, column \d+: YAML syntax error"):
        wf.load_yaml_file(str(f))


def test_yaml_error_in_the_default_config_yaml_has_a_line_number(tmp_path):
    """The default config.yaml (no --configfile) is read by the Snakefile's ``configfile:``, whose own message
    names no line; the Snakefile reads it first with load_yaml_file."""
    import subprocess
    import sys

    from conftest import SNAKEFILE

    (tmp_path / "config.yaml").write_text("experiment: x\ndataset:\n  name: [digits\n")
    r = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "-n", "--cores", "1"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "config.yaml line 4, column 1: YAML syntax error" in r.stdout + r.stderr


def test_yaml_tab_indentation_has_a_line_number(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("experiment: x\ntraining:\n\tepochs: 2\n")
    with pytest.raises(wf.ConfigError, match=r"line 3, column 1: YAML syntax error.*tab"):
        wf.load_yaml_file(str(f))


def test_yaml_key_given_twice(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("experiment: x\ndefaults: {lr: 0.1}\nseeds: [0]\ndefaults: {lr: 0.2}\n")
    with pytest.raises(wf.ConfigError, match=r"line 4: key 'defaults' is given twice \(first on line 2\)"):
        wf.load_yaml_file(str(f))


def test_a_pdf_given_as_config_file(tmp_path):
    f = tmp_path / "fig2.pdf"
    f.write_bytes(b"%PDF-1.5\n\xe2\xe3\xcf\xd3\x00\xff")
    with pytest.raises(wf.ConfigError, match="not a text .YAML. file.*Put targets before it"):
        wf.load_yaml_file(str(f))


def test_check_command_missing_config_is_one_line(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "findeval.workflow", str(tmp_path / "nope.yaml"), str(TINY)],
                       cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip() == f"{tmp_path / 'nope.yaml'}: config file {tmp_path / 'nope.yaml'} not found"
    assert "Traceback" not in r.stderr and f"{TINY}: ok" in r.stdout


def test_check_command_preset_with_stale_root(tmp_path):
    """A preset whose dataset.root is not there (from another machine): one line naming the root."""
    import subprocess
    import sys

    preset = REPO / "config" / "resnet50-tinyimagenet.yaml"
    r = subprocess.run([sys.executable, "-m", "findeval.workflow", str(preset)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1
    assert "dataset.root: folder 'data/tiny-imagenet-200' does not exist" in r.stderr


# --- values that need the model or the data


def test_fraction_too_small_to_prune_one_weight(tiny_config):
    cfg = copy.deepcopy(tiny_config)
    cfg["pruning"]["fraction"] = 1e-9
    with pytest.raises(wf.ConfigError, match=r"pruning.fraction: 1e-09 prunes no weight at level 1 .*4804 "
                                             r"prunable weights.*pruning.fraction >= 0.000104"):
        wf.check_config(cfg)
    cfg["pruning"]["fraction"] = 0.000104  # 0.4996 weights: rounds to 0
    with pytest.raises(wf.ConfigError):
        wf.check_config(cfg)
    cfg["pruning"]["fraction"] = 0.000105  # 0.504: one weight
    wf.check_config(cfg)


def test_fraction_that_stops_pruning_at_a_later_level(tiny_config):
    cfg = copy.deepcopy(tiny_config)
    cfg["pruning"].update(fraction=0.5, levels=14)  # 4804 -> 2402 -> ... -> 1 -> 1 (round(0.5) = 1 ... 0)
    kept = __import__("findeval.regime", fromlist=["x"]).kept_schedule(4804, 0.5, 14)
    stuck = next((lv for lv in range(1, 15) if kept[lv] == kept[lv - 1]), None)
    if stuck is None:
        pytest.skip("the schedule never stalls at 14 levels")
    with pytest.raises(wf.ConfigError, match=f"no weight at level {stuck}.*or fewer pruning.levels|prune all 4804"):
        wf.check_config(cfg)


@pytest.mark.parametrize("key,value,needle", [
    ("test_accuracy", 7.5, "test_accuracy = 7.5 is outside [0, 1] (a percent?"),
    ("test_accuracy", -0.1, "test_accuracy = -0.1 is outside [0, 1]"),
    ("sparsity", 1.5, "sparsity = 1.5 is outside [0, 1]"),
])
def test_metrics_outside_unit_interval_are_refused(tmp_path, key, value, needle):
    m = {"kind": "lottery", "role": "train_eval", "level": 1, "seed": 0, "sparsity": 0.5, "test_accuracy": 0.8,
         "H_eval": {"lr": 0.1, "batch_size": 128, "weight_decay": 5e-4}, key: value}
    f = tmp_path / "metrics.json"
    f.write_text(json.dumps(m))
    with pytest.raises(ValueError) as err:
        analysis.load_metrics([str(f)])
    assert needle in str(err.value) and str(f) in str(err.value)


def test_batch_size_above_the_training_set_warns(caplog):
    class D:
        y_train = torch.zeros(100)

    with caplog.at_level("WARNING", logger="findeval"):
        warnings = runs.check_batch_size(H(lr=0.1, batch_size=512, weight_decay=0.0), D())
    assert warnings and "batch size 512 is larger than the training set (100 images)" in warnings[0]
    assert "WARNING: batch size 512" in caplog.text
    assert runs.check_batch_size(H(lr=0.1, batch_size=100, weight_decay=0.0), D()) == []


# --- full disk


def test_full_disk_says_no_space_left_with_the_path(tmp_path, monkeypatch):
    import errno
    from pathlib import Path

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    target = tmp_path / "results" / "metrics.json"
    with pytest.raises(io.DiskFullError) as err:
        io.write_json(target, {"a": 1})
    assert "no space left on device while writing" in str(err.value) and str(target) in str(err.value)
    assert err.value.errno == errno.ENOSPC
    assert list(target.parent.iterdir()) == []  # no temporary left


def test_full_disk_inside_torch_save(tmp_path, monkeypatch):
    """torch reports a full disk as 'basic_ios::clear: iostream error' (no errno): the free space decides."""
    import shutil
    from collections import namedtuple

    Usage = namedtuple("Usage", "total used free")

    def save(obj, f, *a, **k):
        raise RuntimeError("basic_ios::clear: iostream error")

    monkeypatch.setattr(torch, "save", save)
    target = tmp_path / "init.pt"
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(1 << 30, 1 << 30, 1024))
    with pytest.raises(io.DiskFullError, match="no space left on device while writing .*init.pt"):
        io.save_checkpoint(target, {"w": torch.zeros(2)}, {})
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(1 << 40, 0, 1 << 40))
    with pytest.raises(io.WriteError, match="iostream error") as err:  # a real I/O error, not a full disk
        io.save_checkpoint(target, {"w": torch.zeros(2)}, {})
    assert not isinstance(err.value, io.DiskFullError)
    assert f"cannot write {target}: an I/O error (RuntimeError: basic_ios::clear: iostream error)" in str(err.value)


def test_prune_job_refuses_a_fraction_that_prunes_nothing(files, tmp_path):
    out = tmp_path / "mask1.h5"
    with pytest.raises(ValueError, match=r"pruning.fraction 1e-09 prunes no weight at level 1: round\(1e-09 x \d+ "
                                         r"remaining weights\) = 0; use pruning.fraction >= "):
        jobs.prune(str(out), trained=str(files["init"]), parent_mask=None, fraction=1e-9, level=1, seed=0, h_find=HF)
    assert not out.exists()
