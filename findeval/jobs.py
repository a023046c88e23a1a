"""One function per pipeline step, on plain arguments (paths, dicts, wildcard values).

The Snakemake scripts in ``scripts/`` only unpack ``snakemake.*`` and call these, so every step can be
run and tested without Snakemake. Each writes its outputs atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .datasets import REGISTRY
from .hparams import H, derive_seed, run_seeds
from .io import _json_default, load_checkpoint, read_json, save_checkpoint, write_json

log = logging.getLogger("findeval")

#: (in_channels, num_classes) of the registered datasets (findeval.datasets): the model can be built without
#: the data.
DATASET_SHAPES = {name: (d.in_channels, d.num_classes) for name, d in REGISTRY.items()}


#: Log files this process started (:func:`job_started`): setup_logging appends to them instead of truncating.
_STARTED_LOGS: set[str] = set()


def setup_logging(path: str | None) -> None:
    mode = "a" if path and os.path.abspath(path) in _STARTED_LOGS else "w"
    handlers = [logging.FileHandler(path, mode=mode)] if path else [logging.StreamHandler()]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", handlers=handlers, force=True)


def remove_stale_temporaries(outputs) -> list[str]:
    """Remove the temporaries (``.NAME.tmp-*``, see :func:`findeval.io.atomic_path`) that a killed earlier
    run of this job left beside its outputs. Only this job's own output names are matched, so no other
    job's file is touched. Returns the removed paths."""
    import glob

    removed = []
    for out in outputs:
        out = Path(out)
        for tmp in glob.glob(os.path.join(glob.escape(str(out.parent)), f".{glob.escape(out.name)}.tmp-*")):
            try:
                if os.path.isdir(tmp):
                    import shutil

                    shutil.rmtree(tmp)
                else:
                    os.unlink(tmp)
                removed.append(tmp)
            except FileNotFoundError:
                pass
    return removed


def format_failure(exc_type, exc, tb) -> str:
    """The text a failed job leaves in its log: one line naming the error, then the traceback."""
    import traceback

    head = f"ERROR: job failed: {exc_type.__name__}: {exc}"
    return head + "\n" + "".join(traceback.format_exception(exc_type, exc, tb))


def log_failures_to(path: str | None) -> None:
    """Make an uncaught exception of this process land in the log file ``path`` (the rule's ``log:``), with
    its type, message and traceback, before the process exits non-zero; the console gets it as before.
    The file is appended to (what the job logged so far stays)."""
    import sys

    if not path:
        return
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        try:
            logging.shutdown()  # flush the job's own log handlers before appending
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a") as fh:
                fh.write(format_failure(exc_type, exc, tb))
        except Exception:  # pragma: no cover - never hide the original error
            pass
        previous(exc_type, exc, tb)

    sys.excepthook = hook


def job_started(*, log=(), outputs=()) -> None:
    """What every job script does first (scripts/_bootstrap.py): failures go to the rule's log, and stale
    temporaries of a killed earlier run of this job are removed (and said so in the log)."""
    logs = [str(x) for x in log]
    log_failures_to(logs[0] if logs else None)
    removed = remove_stale_temporaries(list(outputs))
    if logs:
        Path(logs[0]).parent.mkdir(parents=True, exist_ok=True)
        with open(logs[0], "w") as fh:  # a fresh log per run; the job's own logging appends to it
            if removed:
                fh.write(f"removed {len(removed)} temporary file(s) of a killed earlier run: {', '.join(removed)}\n")
        _STARTED_LOGS.add(os.path.abspath(logs[0]))


def set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, int(threads)))


def resolve_device(device: str) -> str:
    import torch

    device = str(device)  # the rules pass a collections.UserString (rules/common.smk)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("runtime.device is 'cuda' but no CUDA device is available (use 'cpu' or 'auto')")
    return device


def model_spec(model: dict, dataset: str) -> dict:
    if dataset not in DATASET_SHAPES:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASET_SHAPES)}")
    channels, classes = DATASET_SHAPES[dataset]
    return {**model, "in_channels": channels, "num_classes": classes}


# --------------------------------------------------------------------------- steps


def prepare_data(out: str, *, name: str, root=None, test_fraction: float = 0.2, split_seed: int = 0) -> None:
    from . import data

    shapes = data.prepare(name, out, root=root, test_fraction=test_fraction, split_seed=split_seed)
    log.info("prepared %s: %s", name, shapes)


def init(out_init: str, out_reinit: str, out_architecture: str, *, model: dict, dataset: str, seed: int) -> None:
    """theta_0 of replicate ``seed``, the new random init its random baselines train from, and the
    architecture's prunable tensors (names, shapes) for jobs that need them without torch."""
    from . import models

    spec = model_spec(model, dataset)
    for path, which in ((out_init, "init"), (out_reinit, "reinit")):
        s = derive_seed(seed, which)
        m = models.init_model(spec, s)
        save_checkpoint(path, m.state_dict(), {"model_spec": spec, "init_seed": s, "replicate": seed, "role": which})
    names = models.prunable_names(m)
    shapes = {k: list(v.shape) for k, v in m.state_dict().items() if k in names}
    write_json(out_architecture, {"model_spec": spec, "prunable": shapes, "parameters": models.count_parameters(m)})


#: Mask attribute (present only when set): the find level whose training diverged in this mask's chain.
DIVERGED_ATTR = "find_diverged_at"


def save_mask_flagged(out_mask: str, mask: dict, *, diverged_at: int | None, **kwargs) -> None:
    """``masks.save_mask``, plus the :data:`DIVERGED_ATTR` attribute when the mask's find chain diverged
    (written inside the same atomic write; masks of healthy chains are byte for byte what save_mask writes)."""
    from . import masks
    from .io import atomic_path

    if diverged_at is None:
        masks.save_mask(out_mask, mask, **kwargs)
        return
    import h5py

    with atomic_path(out_mask) as tmp:
        masks.save_mask(tmp, mask, **kwargs)
        with h5py.File(tmp, "a", locking=masks._locking()) as f:
            f.attrs[DIVERGED_ATTR] = int(diverged_at)


def _rank_diverged(state: dict, names) -> dict:
    """Weights of a diverged training for magnitude ranking: NaN and +-inf count as the largest magnitude
    (kept), so the pruning count and order stay defined (ties: network order, then position)."""
    import numpy as np

    top = np.finfo(np.float32).max
    out = dict(state)
    for name in names:
        w = state[name].detach().cpu().numpy().astype(np.float32)
        out[name] = np.nan_to_num(w, nan=top, posinf=top, neginf=top)
    return out


def prune(out_mask: str, *, trained: str, parent_mask: str | None, fraction: float, level: int, seed: int,
          h_find: H) -> dict:
    """Mask of ``level`` from the weights trained at ``level - 1`` (A1 line 5).

    Divergence is a result, not a crash: if the training at ``level - 1`` diverged (its checkpoint's
    ``meta["diverged"]``) or the parent mask comes from a chain that did, the mask is still written, with
    the exact count of the schedule (non-finite weights rank as the largest), and flagged with the
    :data:`DIVERGED_ATTR` attribute; every run that uses it is recorded as diverged. Non-finite weights
    in a checkpoint that does not say it diverged are an error (a corrupt file).
    """
    from . import masks
    from .io import CheckpointError

    masks.prune_count(1, fraction)  # checks 0 < fraction < 1 before any file is read
    state, meta = load_checkpoint(trained, require_finite=False)
    diverged_at = level - 1 if meta.get("diverged") else None
    parent, attrs = None, {}
    if parent_mask:
        parent, attrs = masks.load_mask(parent_mask)
        masks.check_compatible(parent, state, f"mask {parent_mask}")
        if attrs.get("level") != level - 1:
            raise masks.MaskError(f"{parent_mask} is level {attrs.get('level')}, expected {level - 1}")
        if attrs.get(DIVERGED_ATTR) is not None:
            diverged_at = int(attrs[DIVERGED_ATTR])
    from .models import prunable_names as _prunable

    remaining = masks.n_kept(parent) if parent is not None else sum(int(state[n].numel()) for n in _prunable(state))
    if masks.prune_count(remaining, fraction) == 0:
        raise ValueError(f"pruning.fraction {fraction} prunes no weight at level {level}: round({fraction} x "
                         f"{remaining} remaining weights) = 0; "
                         + (f"use pruning.fraction >= {0.5 / remaining:.3g}" if remaining else "no weight is left"))
    nonfinite = [k for k, v in state.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if nonfinite and diverged_at is None:
        raise CheckpointError(f"checkpoint {trained} holds NaN or infinite values in {', '.join(nonfinite[:5])}, "
                              "but does not say its training diverged: a corrupt file?")
    if diverged_at is not None:
        log.warning("the find chain of %s diverged at level %d: the mask of level %d is flagged (%s), and every "
                    "run that uses it is recorded as diverged", trained, diverged_at, level, DIVERGED_ATTR)
        from .models import prunable_names

        state = _rank_diverged(state, list(parent) if parent is not None else prunable_names(state))
    elif parent is not None:
        for name, keep in parent.items():
            w = state[name].detach().cpu().numpy()
            regrown = int(((w != 0) & ~keep).sum())
            if regrown:
                raise masks.MaskError(
                    f"{trained} is not monotone with its parent mask {parent_mask}: {regrown} weights of {name} "
                    "that the parent prunes are nonzero, so these weights were not trained with this mask"
                )
    mask = masks.global_magnitude_prune(state, parent, fraction)
    if parent is not None:
        masks.check_monotone(mask, parent, out_mask)
    save_mask_flagged(out_mask, mask, diverged_at=diverged_at, kind="lottery", level=level, seed=seed,
                      h_find=h_find, fraction=fraction, seeds=run_seeds(seed))
    log.info("level %d: sparsity %.4f", level, masks.sparsity(mask))
    return mask


def rewind(out_ticket: str, *, start: str, mask: str) -> None:
    """theta_rewind * M (A1 line 6): the weights a level's training starts from."""
    from . import masks

    state, meta = load_checkpoint(start)
    m, attrs = masks.load_mask(mask)
    masks.check_compatible(m, state, f"mask {mask}")
    save_checkpoint(out_ticket, masks.apply_mask(state, m), {**meta, "role": "ticket", "level": attrs["level"],
                                                              "rewound_from": os.path.basename(start)})


def global_random_mask(out_mask: str, *, architecture: str, fraction: float, level: int, seed: int) -> None:
    from . import masks

    arch = read_json(architecture)
    shapes = {k: tuple(v) for k, v in arch["prunable"].items()}
    total = sum(math.prod(s) for s in shapes.values())
    kept = masks.kept_schedule(total, fraction, level)[level]
    seeds = run_seeds(seed, "global_random", level)
    mask = masks.global_random_mask(shapes, kept, seeds["mask"])
    masks.save_mask(out_mask, mask, kind="global_random", level=level, seed=seed, h_find=None, fraction=fraction,
                    seeds=seeds)


def preserve_lpr_mask(out_mask: str, *, lottery_mask: str, level: int, seed: int) -> None:
    from . import masks

    ref, attrs = masks.load_mask(lottery_mask)
    seeds = run_seeds(seed, "preserve_lpr", level)
    mask = masks.preserve_lpr_mask(ref, seeds["mask"])
    save_mask_flagged(out_mask, mask, diverged_at=attrs.get(DIVERGED_ATTR), kind="preserve_lpr", level=level,
                      seed=seed, h_find=attrs.get("H_find"), fraction=attrs.get("fraction"), seeds=seeds)


#: Environment variable: epochs between resume saves of training jobs (default 1; 0 turns resuming off).
RESUME_EVERY_ENV = "FINDEVAL_RESUME_EVERY"


def resume_every() -> int:
    raw = os.environ.get(RESUME_EVERY_ENV, "1").strip() or "1"
    try:
        every = int(raw)
    except ValueError:
        every = -1
    if every < 0:
        raise ValueError(f"{RESUME_EVERY_ENV}={raw!r}: expected a whole number of epochs >= 0 (0 turns resuming off)")
    return every


def resume_path(out_metrics: str) -> str:
    """The resume side file of a training job: hidden, beside its metrics.json, never a declared output
    (Snakemake leaves it alone when it cleans up a killed or failed job)."""
    path = Path(out_metrics)
    return str(path.with_name(f".{path.stem}.resume.pt"))


def file_digest(path: str | None) -> str | None:
    if not path:
        return None
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resume_fingerprint(*, start: str, mask: str | None, data: str, **settings) -> str:
    """Digest of everything a training run depends on: the bytes of its input files (start weights, mask,
    dataset) and its settings (H, training block, augmentation, seeds, device, ...)."""
    from .training import RESUME_VERSION

    record = {"version": RESUME_VERSION, "start": file_digest(start), "mask": file_digest(mask),
              "data": file_digest(data), **settings}
    text = json.dumps(record, sort_keys=True, default=_json_default)
    return hashlib.sha256(text.encode()).hexdigest()


def load_data(path: str, device):
    """``findeval.data.load`` with every failure (a truncated zip included) named as a DataError."""
    from . import data as data_mod

    try:
        return data_mod.load(path, device)
    except data_mod.DataError:
        raise
    except Exception as err:  # zipfile.BadZipFile, EOFError, ... from a truncated or foreign file
        raise data_mod.DataError(f"prepared dataset {path} is unreadable: {type(err).__name__}: {err}") from err


def check_data_fits(dataset, spec: dict, data: str, start: str) -> None:
    """The prepared images and labels must fit the model's stem and classifier."""
    channels, classes = int(spec.get("in_channels", -1)), int(spec.get("num_classes", -1))
    if dataset.shape[0] != channels:
        raise ValueError(f"prepared dataset {data} has {dataset.shape[0]}-channel images {tuple(dataset.shape)}, "
                         f"but the model of {start} expects {channels} channels (model_spec in_channels)")
    top = int(max(int(dataset.y_train.max()), int(dataset.y_test.max())))
    if top >= classes or int(dataset.num_classes) > classes:
        raise ValueError(f"prepared dataset {data} has {max(top + 1, int(dataset.num_classes))} classes, "
                         f"but the model of {start} has {classes} outputs (model_spec num_classes)")


@dataclass
class Run:
    """A training run's checked inputs (:func:`load_run`): the model loaded from its start checkpoint, the mask
    and its level checked against it, and the dataset, on ``device``."""

    model: object
    spec: dict
    meta: dict
    mask: dict | None
    mask_attrs: dict
    dataset: object
    device: str

    @property
    def chain_diverged(self):
        """Level at which the find chain of this mask diverged (its runs are recorded as diverged), or None."""
        return self.mask_attrs.get(DIVERGED_ATTR)

    def outcome(self, result: dict, t0: float) -> dict:
        """The metrics every training run records (after the run's own keys): sparsity, accuracy and losses,
        divergence, progress and timings, the model spec and the per-epoch history."""
        from . import masks, models

        names = models.prunable_names(self.model)
        params = [p for n, p in self.model.named_parameters() if n in names]
        zeros = sum(int((p == 0).sum()) for p in params)
        chain = self.chain_diverged
        return {
            "sparsity": masks.sparsity(self.mask) if self.mask else 0.0,
            "zero_fraction": zeros / sum(p.numel() for p in params),
            "test_accuracy": result["test_accuracy"],
            "test_loss": result["test_loss"],
            "train_loss": result["train_loss"],
            "diverged": result["diverged"] or chain is not None,
            "diverged_in": "training" if result["diverged"] else (None if chain is None else f"find level {chain}"),
            "epochs_completed": result["epochs_completed"],
            "iterations_per_epoch": result["iterations_per_epoch"],
            "resumed_from_epoch": result["resumed_from_epoch"],
            "train_time_s": result["train_time_s"],
            "wall_time_s": round(time.perf_counter() - t0, 3),
            "device": self.device,
            "model": self.spec,
            "history": result["history"],
        }


def load_run(start: str, mask: str | None, data: str, level: int, device, *, require_finite: bool = True) -> Run:
    """Load and check a training run's inputs before anything trains: the start checkpoint (with its model
    spec), the mask (shapes, and its level = ``level``) and the dataset (its shape fits the model)."""
    from . import masks, models

    state, meta = load_checkpoint(start, require_finite=require_finite)
    spec = meta.get("model_spec")
    if not spec:
        raise ValueError(f"checkpoint {start} has no meta['model_spec']; was it written by findeval?")
    model = models.build(spec)
    models.load_state(model, state, f"checkpoint {start}")
    m, attrs = None, {}
    if mask:
        m, attrs = masks.load_mask(mask)
        masks.check_compatible(m, state, f"mask {mask}")
        if attrs.get("level") != level:
            raise masks.MaskError(f"{mask} is level {attrs.get('level')}, expected {level}")
    if attrs.get(DIVERGED_ATTR) is not None:
        log.warning("mask %s comes from a find chain that diverged at level %s: this run is recorded as diverged",
                    mask, attrs[DIVERGED_ATTR])
    dataset = load_data(data, device)
    check_data_fits(dataset, spec, data, start)
    return Run(model, spec, meta, m, attrs, dataset, device)


def check_batch_size(h: H, dataset) -> list[str]:
    """A batch size above the training set's size gives one (smaller) step per epoch: said in the job log
    (a warning) and recorded in metrics.json ("warnings")."""
    n_train = int(dataset.y_train.shape[0])
    if h.batch_size > n_train:
        text = (f"batch size {h.batch_size} is larger than the training set ({n_train} images): every epoch is "
                f"one step of {n_train} images, so the batch size has no effect (grids.batch_size / "
                f"defaults.batch_size)")
        log.warning("WARNING: %s", text)
        return [text]
    return []


class ProgressLog:
    """The ``log`` callback of ``training.train`` for a job: its per-epoch rows go to the log and to stdout
    prefixed with ``level l/L, epoch e/E, acc a``; :meth:`summary` writes the run's final line."""

    def __init__(self, *, level: int, levels: int | None, epochs: int, what: str = "training"):
        self.level, self.levels, self.epochs, self.what = level, levels, epochs, what
        self.t0 = time.perf_counter()

    @property
    def where(self) -> str:
        return f"level {self.level}/{self.levels}" if self.levels is not None else f"level {self.level}"

    def emit(self, text: str) -> None:
        log.info(text)
        print(text, flush=True)

    def __call__(self, message: str) -> None:
        if not message.startswith("epoch="):
            self.emit(f"{self.where}: {message}")
            return
        fields = dict(part.split("=", 1) for part in message.split() if "=" in part)
        acc = fields.get("test_accuracy", "?")
        self.emit(f"{self.where}, epoch {fields.get('epoch', '?')}/{self.epochs}, acc {acc} | {message}")

    def summary(self, metrics: dict) -> None:
        state = "DIVERGED" if metrics.get("diverged") else "done"
        self.emit(f"{state}: {self.what} {self.where}, {metrics.get('epochs_completed')}/{self.epochs} epochs, "
                  f"test accuracy {metrics.get('test_accuracy')}, sparsity {metrics.get('sparsity', 0.0):.4f}, "
                  f"train time {metrics.get('train_time_s')} s")


def train_run(out_metrics: str, *, start: str, mask: str | None, data: str, kind: str, h_find: H | None,
              h_eval: H, level: int, seed: int, training: dict, augment: dict | None, role: str,
              out_trained: str | None = None, device: str = "cpu", threads: int = 1, precision: str = "fp32",
              channels_last: bool = False, levels: int | None = None) -> dict:
    """Train the masked network from ``start`` with ``h_eval`` (for find runs, h_eval is H_find) and write
    its metrics.json (and, for find runs, the trained weights).

    Every input is checked before training starts. After every epoch the run saves a resume file beside
    ``out_metrics`` (:func:`resume_path`); a re-run of a killed job picks it up if its fingerprint (inputs
    and settings) matches, and ends with the weights an uninterrupted run ends with. The file is removed
    once the outputs are written.
    """
    from . import training as tr

    every = resume_every()
    set_threads(threads)
    device = resolve_device(device)
    run = load_run(start, mask, data, level, device)
    model, meta, m = run.model, run.meta, run.mask
    seeds = run_seeds(seed, kind, level)
    schedule, aug = tr.Schedule.from_config(training), tr.Augment.from_config(augment)
    resume = None
    if every:
        fingerprint = resume_fingerprint(
            start=start, mask=mask, data=data, kind=kind, role=role, level=level, seeds=seeds,
            h_find=h_find.as_dict() if h_find else None, h_eval=h_eval.as_dict(), schedule=schedule.__dict__,
            augment=aug.__dict__, device=device,
            **({"precision": precision} if precision != "fp32" else {}),
            **({"channels_last": True} if channels_last else {}))
        resume = tr.Resume(resume_path(out_metrics), fingerprint, every)
    warnings = check_batch_size(h_eval, run.dataset)
    t0 = time.perf_counter()
    progress = ProgressLog(level=level, levels=levels, epochs=schedule.epochs, what=f"{role} {kind}")
    result = tr.train(model, run.dataset, h_eval, schedule, data_seed=seeds["data"], mask=m, augment=aug,
                      device=device, log=progress, resume=resume, precision=precision, channels_last=channels_last)
    metrics = {"kind": kind, "role": role, "level": level, "seed": seed, "seeds": seeds,
               "H_find": h_find.as_dict() if h_find else None, "H_eval": h_eval.as_dict(),
               "epochs": training["epochs"], **run.outcome(result, t0), **({"warnings": warnings} if warnings else {})}
    progress.summary(metrics)
    if out_trained:
        save_checkpoint(out_trained, model.state_dict(), {**meta, "role": "trained", "level": level,
                                                          "H": h_eval.as_dict(), "diverged": result["diverged"]})
    write_json(out_metrics, metrics)
    if resume is not None:
        resume.remove()
    return metrics


# --------------------------------------------------------------------------- chains and sweeps
#
# runtime.granularity "chain" (the default) runs a whole find chain, or the evaluation of every level of
# one mask source with one H_eval, in one job: the per-level steps above, called in the same order with
# the same arguments, write the same files (byte for byte, but for the timings in metrics.json) with one
# process start instead of three per level. "level" gives every step its own job (README "Job granularity").


def by_level(named, name: str) -> dict[int, str]:
    """``{L: path}`` from named files ``{name}_{L}`` (the outputs of the chain rules)."""
    prefix = f"{name}_"
    found = {int(k[len(prefix):]): v for k, v in dict(named).items() if k.startswith(prefix) and k[len(prefix):].isdigit()}
    return dict(sorted(found.items()))


def find_chain(*, trained: dict, metrics: dict, masks_out: dict, tickets: dict, init: str, data: str, h_find: H,
               seed: int, fraction: float, training: dict, augment: dict | None, device: str = "cpu",
               threads: int = 1, **speed) -> None:
    """Algorithm A1 for one (H_find, replicate), every level: train -> prune -> rewind -> train ...

    ``trained``/``metrics`` map levels 0..N to the outputs of train_find, ``masks_out``/``tickets`` levels
    1..N to those of prune and rewind."""
    levels = sorted(metrics)
    if levels != list(range(len(levels))) or sorted(trained) != levels or sorted(masks_out) != levels[1:] \
            or sorted(tickets) != levels[1:]:
        raise ValueError(f"a find chain needs every level from 0: got metrics {levels}, masks {sorted(masks_out)}")
    for level in levels:
        if level >= 1:
            prune(masks_out[level], trained=trained[level - 1], parent_mask=masks_out.get(level - 1),
                  fraction=fraction, level=level, seed=seed, h_find=h_find)
            rewind(tickets[level], start=init, mask=masks_out[level])
        train_run(metrics[level], out_trained=trained[level], start=tickets.get(level, init),
                  mask=masks_out.get(level), data=data, kind="lottery", h_find=h_find, h_eval=h_find, level=level,
                  seed=seed, training=training, augment=augment, role="train_find", device=device, threads=threads,
                  levels=levels[-1], **speed)


def eval_sweep(*, metrics: dict, starts: dict, masks_in: dict, data: str, kind: str, h_find: H | None, h_eval: H,
               seed: int, training: dict, augment: dict | None, device: str = "cpu", threads: int = 1,
               group: int = 0, **speed) -> None:
    """A1 line 8 for every level of one mask source with one H_eval: the train_eval runs, in level order.

    ``group`` (runtime.group) > 0: the levels are trained as grouped networks of at most ``group`` levels
    (:func:`findeval.grouped.eval_sweep`; equal to this path to float tolerance, not byte for byte);
    0: one after another with ``training.train`` (the default)."""
    if group:
        grouped_sweep(group, metrics=metrics, starts=starts, masks_in=masks_in, data=data, kind=kind,
                      h_find=h_find, h_eval=h_eval, seed=seed, training=training, augment=augment, device=device,
                      threads=threads, **speed)
        return
    last = max(metrics) if metrics else None
    for level, out in metrics.items():
        train_run(out, start=starts[level], mask=masks_in[level], data=data, kind=kind, h_find=h_find,
                  h_eval=h_eval, level=level, seed=seed, training=training, augment=augment, role="train_eval",
                  device=device, threads=threads, levels=last, **speed)


def grouped_sweep(group: int, *, precision: str = "fp32", channels_last: bool = False, **kwargs) -> list[dict]:
    """``findeval.grouped.eval_sweep`` with groups of at most ``group`` levels (runtime.group) and the runtime's
    speed options (``channels_last`` False = the grouped path's own default layout, NHWC on the CPU)."""
    from . import grouped

    if int(group) < 1:
        raise ValueError(f"runtime.group {group}: a grouped sweep needs groups of at least 1 level")
    return grouped.eval_sweep(max_group=int(group), precision=precision, channels_last=channels_last or None,
                              **kwargs)


def global_random_masks(masks_out: dict, *, architecture: str, fraction: float, seed: int) -> None:
    for level, out in masks_out.items():
        global_random_mask(out, architecture=architecture, fraction=fraction, level=level, seed=seed)


def preserve_lpr_masks(masks_out: dict, *, lottery_masks: dict, seed: int) -> None:
    for level, out in masks_out.items():
        preserve_lpr_mask(out, lottery_mask=lottery_masks[level], level=level, seed=seed)


def exit_now() -> None:
    """End a job's process at once, once its outputs are written: skips the interpreter's teardown of torch
    (about 1-2 s per job, more than a default training's compute). Logs and stdio are flushed first."""
    import sys

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
