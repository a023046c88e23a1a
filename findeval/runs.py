"""The one training entry point: every training of the pipeline is a :class:`TrainRun` given to :func:`train`,
or, a sweep of runs, to :func:`train_all` (one after another, or as grouped networks, :mod:`findeval.grouped`).

A1's find and evaluation runs (:func:`findeval.a1.jobs.a1_run`), the LPR-constrained chains (``lpr.chain_run``),
the rewinding variants, their evaluations, instability's copy B and its random baselines
(``rewinding.variant_run``), late rewinding's theta_k (``rewinding.late_theta``), early pruning
(``early.early_run``), the LPR through training (``early.lpr_trajectory``) and the structured runs
(``structured.train_run``) describe their run and call this module; no other module calls the training loop
(tests/test_entry_point.py checks it).

What this module does, the same way for every run:

- **runtime** (:class:`Runtime`): torch's threads, the device (``auto`` picks CUDA when there is one), the
  precision and memory layout of :func:`findeval.training.train`;
- **inputs** (:func:`load`): the start checkpoint and its model spec (a narrow structured network when the spec
  has ``channels``; ``from_scratch``: only its architecture, from a new random init), the mask (shapes, and its
  level), the dataset (it fits the model's stem and classifier), all checked before anything trains;
- **seeds** (:class:`Seeds`): ``hparams.run_seeds`` of (replicate, kind, level), with optional overrides;
- **resume**: after every ``FINDEVAL_RESUME_EVERY`` epochs a side file beside the run's first output
  (:func:`resume_path`); a re-run picks it up if its :func:`fingerprint` matches, else ignores it. One
  definition of the fingerprint, with the same keys for every run (:data:`FINGERPRINT_KEYS`). A run that starts
  at an epoch k > 0 (late rewinding: the resume file counts epochs from 0) or measures every epoch
  (``on_epoch_end``) has no resume file;
- **the record** (:func:`record`, the metrics.json): the run's own keys (``head``; by default
  :func:`standard_head`), the outcome every run records (:data:`OUTCOME`), the batch-size warning, then ``tail``
  (which may replace a value, as ``dict.update``); ``keys`` picks and orders the keys instead (structured runs);
- **outputs** (:class:`Outputs`): the trained weights (the start's meta updated with ``trained_meta``), then the
  metrics.json, each written atomically; the resume file is removed once they are written.

Importing this module does not import torch (``findeval.a1.jobs`` re-exports its helpers).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from .hparams import H, run_seeds
from .io import RESUME_EVERY_ENV, json_default, load_checkpoint, save_checkpoint, write_json  # noqa: F401
from .regime import Schedule

log = logging.getLogger("findeval")

#: Mask attribute (present only when set): the find level whose training diverged in this mask's chain.
DIVERGED_ATTR = "find_diverged_at"


# =========================================================================== the run description


@dataclass(frozen=True)
class Runtime:
    """Where and how a run computes: the ``runtime`` block's device and speed options, the job's threads."""

    device: str = "cpu"
    threads: int = 1
    precision: str = "fp32"
    channels_last: bool = False

    def __post_init__(self):
        # the rules pass a collections.UserString for the device (rules/common.smk); None: the default layout
        object.__setattr__(self, "device", str(self.device))
        object.__setattr__(self, "threads", int(self.threads))
        object.__setattr__(self, "channels_last", bool(self.channels_last))


@dataclass(frozen=True)
class Seeds:
    """The seeds of a run: ``hparams.run_seeds(replicate, kind, level)``; ``data`` replaces its data-order seed
    (instability's copy B), ``init`` its init seed (the structured runs record theirs)."""

    replicate: int
    kind: str = "lottery"
    level: int = 0
    data: int | None = None
    init: int | None = None

    def resolve(self) -> dict:
        seeds = run_seeds(self.replicate, self.kind, self.level)
        if self.data is not None:
            seeds["data"] = int(self.data)
        if self.init is not None:
            seeds["init"] = int(self.init)
        return seeds


@dataclass(frozen=True)
class FromResult:
    """A value of :attr:`Outputs.trained_meta` taken from the training's result (``diverged``, ``history``)."""

    key: str


DIVERGED = FromResult("diverged")
HISTORY = FromResult("history")


@dataclass(frozen=True)
class Outputs:
    """What a run writes. ``metrics``: its metrics.json (None: none, the record is only returned);
    ``trained``: its trained weights, with the start checkpoint's meta updated by ``trained_meta`` (None: the
    standard ``role``/``level``/``H``/``diverged``, :func:`trained_meta`; :class:`FromResult` values come from
    the training's result). ``resume``: the file the resume side file sits beside (None: the first output;
    instability's copy B, trained into a temporary folder, keeps it beside the job's output)."""

    metrics: str | None = None
    trained: str | None = None
    trained_meta: Mapping | None = None
    resume: str | None = None

    @property
    def first(self) -> str | None:
        """The output the resume file sits beside."""
        return self.resume or self.metrics or self.trained


@dataclass(frozen=True)
class TrainRun:
    """One training: from which weights under which mask on which data, with which H, schedule, augmentation,
    seeds and runtime, over which epochs, and what it records and writes (see the module docstring).

    ``h`` is the H trained with (H_eval; H_find for a find run), ``h_find`` the H that found the mask (recorded;
    None for random baselines). ``level`` is the mask's level (checked against the mask file; None: the run has
    no level, the structured runs). ``schedule`` is the resolved training block (``Schedule.from_config``, any
    warmup override applied), ``augment`` the ``dataset.augment`` block (None: no augmentation). Epochs
    ``first_epoch`` .. ``stop_epoch`` - 1 of the schedule run (None: to its end). ``on_epoch_end(epoch, model)``
    sees the start weights (epoch ``first_epoch``) and the weights after every epoch. ``require_finite`` False
    accepts start weights with NaN (a diverged earlier level: the run is recorded as diverged). ``levels``: the
    chain's last level, for the progress lines.
    """

    role: str
    kind: str
    start: str
    data: str
    h: H
    schedule: Schedule
    seeds: Seeds
    h_find: H | None = None
    mask: str | None = None
    level: int | None = None
    augment: Mapping | None = None
    runtime: Runtime = Runtime()
    first_epoch: int = 0
    stop_epoch: int | None = None
    from_scratch: bool = False
    require_finite: bool = True
    on_epoch_end: Callable | None = None
    head: Mapping | None = None
    tail: Mapping = field(default_factory=dict)
    keys: tuple | None = None
    outputs: Outputs = Outputs()
    levels: int | None = None

    def __post_init__(self):
        epochs = int(self.schedule.epochs)
        object.__setattr__(self, "first_epoch", int(self.first_epoch))
        if not 0 <= self.first_epoch < epochs:
            raise ValueError(f"first_epoch {self.first_epoch} is not in 0..{epochs - 1} (training.epochs = {epochs})")
        if self.stop_epoch is not None:
            object.__setattr__(self, "stop_epoch", int(self.stop_epoch))
            if not self.first_epoch < self.stop_epoch <= epochs:
                raise ValueError(f"stop_epoch {self.stop_epoch} is not in {self.first_epoch + 1}..{epochs}")
        if self.from_scratch and self.seeds.init is None:
            raise ValueError("a run from scratch needs its init seed (Seeds.init)")
        if self.keys is not None:
            object.__setattr__(self, "keys", tuple(self.keys))


def standard_head(run: TrainRun) -> dict:
    """The keys a run records before its outcome unless it gives its own ``head`` (A1's train_find/train_eval)."""
    return {"kind": run.kind, "role": run.role, "level": run.level, "seed": run.seeds.replicate,
            "seeds": run.seeds.resolve(), "H_find": run.h_find.as_dict() if run.h_find else None,
            "H_eval": run.h.as_dict(), "epochs": run.schedule.epochs}


def trained_meta(run: TrainRun) -> Mapping:
    """The keys the trained checkpoint adds to its start's meta (``Outputs.trained_meta`` or the standard ones)."""
    if run.outputs.trained_meta is not None:
        return run.outputs.trained_meta
    return {"role": "trained", "level": run.level, "H": run.h.as_dict(), "diverged": DIVERGED}


# =========================================================================== runtime and inputs


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


def start_runtime(runtime: Runtime) -> str:
    """Set torch's threads; the device the run computes on."""
    set_threads(runtime.threads)
    return resolve_device(runtime.device)


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


def build_model(spec: dict):
    """The (unseeded) network of a model spec; a spec with ``channels`` is a narrow structured network
    (:func:`findeval.channels.build`)."""
    from .channels import build

    return build(spec)


def init_model(spec: dict, seed: int):
    """:func:`build_model`, initialised reproducibly from ``seed``."""
    from .channels import init_model as init

    return init(spec, seed)


@dataclass
class Loaded:
    """A run's checked inputs (:func:`load`): the model (start weights loaded), its spec and the start's meta,
    the mask and its attributes, and the dataset, on ``device``."""

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
        """The keys every training run records (:data:`OUTCOME`): sparsity, accuracy and losses, divergence,
        progress and timings, the device, the model spec and the per-epoch history."""
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


#: The keys of :meth:`Loaded.outcome`, in order.
OUTCOME = ("sparsity", "zero_fraction", "test_accuracy", "test_loss", "train_loss", "diverged", "diverged_in",
           "epochs_completed", "iterations_per_epoch", "resumed_from_epoch", "train_time_s", "wall_time_s", "device",
           "model", "history")


def load_run(start: str, mask: str | None, data: str, level: int | None, device, *, require_finite: bool = True,
             init_seed: int | None = None) -> Loaded:
    """Load and check a training run's inputs before anything trains: the start checkpoint (with its model
    spec; ``init_seed`` not None: only its architecture, initialised from that seed), the mask (shapes, and its
    level = ``level``) and the dataset (its shape fits the model)."""
    from . import masks, models

    state, meta = load_checkpoint(start, require_finite=require_finite)
    spec = meta.get("model_spec")
    if not spec:
        raise ValueError(f"checkpoint {start} has no meta['model_spec']; was it written by findeval?")
    if init_seed is not None:
        model = init_model(spec, init_seed)
    else:
        model = build_model(spec)
        models.load_state(model, state, f"checkpoint {start}")
    m, attrs = None, {}
    if mask:
        m, attrs = masks.load_mask(mask)
        masks.check_compatible(m, state, f"mask {mask}")
        if attrs.get("level") != level:
            raise masks.MaskError(f"{mask} is level {attrs.get('level')}, expected {level}")
        if meta.get("role") == "ticket":
            from .provenance import check_ticket

            check_ticket(start, state, mask, m)  # the ticket rewound with this mask
    if attrs.get(DIVERGED_ATTR) is not None:
        log.warning("mask %s comes from a find chain that diverged at level %s: this run is recorded as diverged",
                    mask, attrs[DIVERGED_ATTR])
    dataset = load_data(data, device)
    check_data_fits(dataset, spec, data, start)
    return Loaded(model, spec, meta, m, attrs, dataset, device)


def load(run: TrainRun, device: str) -> Loaded:
    """:func:`load_run` of a run description."""
    return load_run(run.start, run.mask, run.data, run.level, device, require_finite=run.require_finite,
                    init_seed=run.seeds.resolve()["init"] if run.from_scratch else None)


# =========================================================================== resume


def resume_every() -> int:
    """``FINDEVAL_RESUME_EVERY`` (:func:`findeval.io.resume_every`, also checked with the config)."""
    from .io import resume_every as parse

    return parse()


def resume_path(out: str) -> str:
    """The resume side file of a training job: hidden, beside its first output (its metrics.json), never a
    declared output (Snakemake leaves it alone when it cleans up a killed or failed job)."""
    path = Path(out)
    return str(path.with_name(f".{path.stem}.resume.pt"))


def sweep_resume_path(out: str) -> str:
    """A group's resume side file: hidden, beside its first member's first output (never a declared output)."""
    path = Path(out)
    return str(path.with_name(f".{path.stem}.sweep-resume.pt"))


def file_digest(path: str | None) -> str | None:
    if not path:
        return None
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resume_fingerprint(*, start: str, mask: str | None, data: str, **settings) -> str:
    """Digest of the bytes of a run's input files (start weights, mask, dataset) and of its ``settings``."""
    from .training import RESUME_VERSION

    record = {"version": RESUME_VERSION, "start": file_digest(start), "mask": file_digest(mask),
              "data": file_digest(data), **settings}
    text = json.dumps(record, sort_keys=True, default=json_default)
    return hashlib.sha256(text.encode()).hexdigest()


#: The settings every run's fingerprint covers (beside its input files' bytes), whatever the kind of run.
FINGERPRINT_KEYS = ("role", "kind", "level", "seeds", "h_find", "h_eval", "schedule", "augment", "device",
                    "precision", "channels_last", "first_epoch", "stop_epoch", "from_scratch")


def fingerprint_settings(run: TrainRun, device: str) -> dict:
    """The settings of :data:`FINGERPRINT_KEYS` of a run on ``device``: everything its training depends on
    (its record's other keys do not change what it trains)."""
    from .training import Augment

    return {"role": run.role, "kind": run.kind, "level": run.level, "seeds": run.seeds.resolve(),
            "h_find": run.h_find.as_dict() if run.h_find else None, "h_eval": run.h.as_dict(),
            "schedule": run.schedule.__dict__, "augment": Augment.from_config(run.augment).__dict__,
            "device": device, "precision": run.runtime.precision, "channels_last": run.runtime.channels_last,
            "first_epoch": run.first_epoch, "stop_epoch": run.stop_epoch, "from_scratch": run.from_scratch}


def fingerprint(run: TrainRun, device: str) -> str:
    """What a resume file must have been written by to be picked up: the run's input files and settings."""
    return resume_fingerprint(start=run.start, mask=run.mask, data=run.data, **fingerprint_settings(run, device))


def sweep_fingerprint(members: list) -> str:
    """Digest over the members' own fingerprints, in order: a group's resume file belongs to exactly this set of
    runs (adding, removing or changing one member invalidates it)."""
    from .grouped import GROUP_RESUME_KIND

    text = json.dumps({"kind": GROUP_RESUME_KIND, "members": list(members)})
    return hashlib.sha256(text.encode()).hexdigest()


class OptionalSaves:
    """Mixin of :class:`findeval.training.Resume` and :class:`findeval.grouped.GroupResume` (:func:`optional_resume`):
    a resume file is optional (it only saves time after a kill), so a save that fails (a read-only or full folder,
    an I/O error) is a warning naming the file, once per file, and training goes on; the job's outputs are written
    (or their own write fails, naming its path)."""

    def save(self, *args, **kwargs):
        _optional_save(self.path, super().save, args, kwargs)

    def save_group(self, *args, **kwargs):
        _optional_save(self.path, super().save_group, args, kwargs)


#: Resume files whose failed save has been reported (one warning per file and process).
_UNSAVED: set = set()
_OPTIONAL: dict = {}


def _optional_save(path: str, save, args, kwargs) -> None:
    try:
        save(*args, **kwargs)
    except (OSError, RuntimeError) as err:  # a failed write (io.WriteError, DiskFullError, torch's own I/O errors)
        if path not in _UNSAVED:
            _UNSAVED.add(path)
            text = (f"the resume file {path} could not be written ({type(err).__name__}: {err}); training goes on "
                    "without it (a killed job restarts from the last resume file written, or from epoch 0)")
            log.warning("WARNING: %s", text)
            print(f"WARNING: {text}", flush=True)


def optional_resume(cls, *args):
    """An instance of ``cls(*args)`` (``training.Resume``, ``grouped.GroupResume``) whose saves warn instead of
    failing (:class:`OptionalSaves`)."""
    sub = _OPTIONAL.get(cls)
    if sub is None:
        sub = _OPTIONAL[cls] = type(f"Optional{cls.__name__}", (OptionalSaves, cls), {"__doc__": OptionalSaves.__doc__})
    return sub(*args)


def resumable(run: TrainRun) -> bool:
    """Does the run keep a resume file? Not when it starts at an epoch k > 0 (the file counts epochs from 0),
    measures every epoch (``on_epoch_end``), or writes nothing to put it beside."""
    return not run.first_epoch and run.on_epoch_end is None and run.outputs.first is not None


# =========================================================================== progress, record, outputs


class ProgressLog:
    """The ``log`` callback of ``training.train`` for a job: its per-epoch rows go to the log and to stdout
    prefixed with ``level l/L, epoch e/E, acc a``; :meth:`summary` writes the run's final line."""

    def __init__(self, *, level: int | None, levels: int | None, epochs: int, what: str = "training"):
        self.level, self.levels, self.epochs, self.what = level, levels, epochs, what
        self.t0 = time.perf_counter()

    @property
    def where(self) -> str:
        """``level l/L`` (``level l`` without the total; empty for a run without a level)."""
        if self.level is None:
            return ""
        return f"level {self.level}/{self.levels}" if self.levels is not None else f"level {self.level}"

    def emit(self, text: str) -> None:
        log.info(text)
        print(text, flush=True)

    def __call__(self, message: str) -> None:
        where = self.where
        if not message.startswith("epoch="):
            self.emit(f"{where}: {message}" if where else message)
            return
        fields = dict(part.split("=", 1) for part in message.split() if "=" in part)
        acc = fields.get("test_accuracy", "?")
        self.emit(f"{where + ', ' if where else ''}epoch {fields.get('epoch', '?')}/{self.epochs}, acc {acc} | "
                  f"{message}")

    def summary(self, metrics: dict) -> None:
        state = "DIVERGED" if metrics.get("diverged") else "done"
        where = f" {self.where}" if self.where else ""
        sparsity = f", sparsity {metrics['sparsity']:.4f}" if "sparsity" in metrics else ""
        self.emit(f"{state}: {self.what}{where}, {metrics.get('epochs_completed')}/{self.epochs} epochs, "
                  f"test accuracy {metrics.get('test_accuracy')}{sparsity}, "
                  f"train time {metrics.get('train_time_s')} s")


def record(run: TrainRun, outcome: dict, warnings: list, extra: Mapping | None = None) -> dict:
    """A run's metrics record: ``head`` (or :func:`standard_head`), ``outcome``, ``warnings`` (when there are),
    ``extra`` (a grouped run's ``group_size``), then ``tail`` (replacing a value keeps its place). With
    ``run.keys``: those keys of that pool, in that order (then ``warnings``)."""
    head = standard_head(run) if run.head is None else dict(run.head)
    out = {**head, **outcome, **({"warnings": warnings} if warnings else {}), **(extra or {}), **run.tail}
    if run.keys is None:
        return out
    missing = [k for k in run.keys if k not in out]
    if missing:
        raise ValueError(f"the record of {run.role} {run.kind} has no {', '.join(missing)}")
    picked = {k: out[k] for k in run.keys}
    if warnings:
        picked["warnings"] = warnings
    return picked


def write_outputs(run: TrainRun, loaded: Loaded, result: dict, metrics: dict) -> None:
    """The trained weights (if asked for), then the metrics.json: the last file a run writes."""
    if run.outputs.trained:
        added = {k: result[v.key] if isinstance(v, FromResult) else v for k, v in trained_meta(run).items()}
        save_checkpoint(run.outputs.trained, loaded.model.state_dict(), {**loaded.meta, **added})
    if run.outputs.metrics:
        write_json(run.outputs.metrics, metrics)


# =========================================================================== the entry point


def train(run: TrainRun) -> dict:
    """Train one run and write its outputs; returns its record (also for a run that writes no metrics.json).

    Every input is checked before training starts. A resume file of an interrupted earlier run with the same
    fingerprint is picked up: the run then ends with the weights an uninterrupted one ends with."""
    from . import training as tr

    every = resume_every()
    device = start_runtime(run.runtime)
    loaded = load(run, device)
    resume = None
    if every and resumable(run):
        resume = optional_resume(tr.Resume, resume_path(run.outputs.first), fingerprint(run, device), every)
    warnings = check_batch_size(run.h, loaded.dataset)
    t0 = time.perf_counter()
    progress = ProgressLog(level=run.level, levels=run.levels, epochs=run.schedule.epochs,
                           what=f"{run.role} {run.kind}")
    if run.on_epoch_end is not None:
        run.on_epoch_end(run.first_epoch, loaded.model)
    result = tr.train(loaded.model, loaded.dataset, run.h, run.schedule, data_seed=run.seeds.resolve()["data"],
                      mask=loaded.mask, augment=tr.Augment.from_config(run.augment), device=device, log=progress,
                      resume=resume, precision=run.runtime.precision, channels_last=run.runtime.channels_last,
                      first_epoch=run.first_epoch, stop_epoch=run.stop_epoch, on_epoch_end=run.on_epoch_end)
    metrics = record(run, loaded.outcome(result, t0), warnings)
    progress.summary(metrics)
    write_outputs(run, loaded, result, metrics)
    if resume is not None:
        resume.remove()
    return metrics


def train_all(runs: list[TrainRun], group: int = 0) -> list[dict]:
    """Every run of a sweep, in order: one after another with :func:`train` (``group`` 0), or trained as grouped
    networks of at most ``group`` runs (:func:`train_grouped`; runtime.group)."""
    if int(group) < 0:
        raise ValueError(f"runtime.group {group}: expected 0 (one run after another) or a group size >= 1")
    if not group:
        return [train(run) for run in runs]
    return train_grouped(runs, int(group))


def _shared(run: TrainRun) -> tuple:
    """What the runs of one group share: the data, batch size, schedule, augmentation, runtime and epochs (each run
    keeps its own LR and weight decay, and its own data order: the chains of one or several replicates, trained
    in lock-step)."""
    return (run.data, run.h.batch_size, run.schedule, dict(run.augment) if run.augment else None, run.runtime,
            run.first_epoch, run.stop_epoch)


def train_grouped(runs: list[TrainRun], max_group: int) -> list[dict]:
    """The runs of a sweep trained as grouped networks of at most ``max_group`` runs
    (:func:`findeval.grouped.train_group`; equal to :func:`train` of each run to float tolerance, not byte for
    byte). Each run writes what :func:`train` writes, its record with ``group_size``; ``train_time_s`` and
    ``wall_time_s`` are its share of the group's (the group's / G).

    The runs must share their data, batch size, schedule, augmentation, runtime and epochs; their LR and weight
    decay may differ (:func:`findeval.grouped.train_group` with one H per network), and so may their data-order
    seeds (the chains of several replicates: each network then trains on its own batches). Every run's
    inputs are loaded and checked before anything trains; the dataset is held once. Resume: one file per group
    (:func:`sweep_resume_path` of its first run), fingerprinted over its members' :func:`fingerprint`; removed
    once the group's outputs are written. ``channels_last`` False means the grouped path's own layout (NHWC)."""
    from . import grouped, training as tr

    if int(max_group) < 1:
        raise ValueError(f"runtime.group {max_group}: a grouped sweep needs groups of at least 1 level")
    runs = list(runs)
    if not runs:
        return []
    first = runs[0]
    for run in runs[1:]:
        if _shared(run) != _shared(first):
            raise ValueError(f"the runs of a grouped sweep must share their data, batch size, schedule, augmentation, "
                             f"runtime and epochs: level {run.level} differs from level {first.level}")
    if any(run.on_epoch_end is not None for run in runs):
        raise ValueError("a grouped sweep cannot call on_epoch_end (it trains the runs together)")
    every = resume_every()
    device = start_runtime(first.runtime)
    loaded, shared = [], None
    for run in runs:  # check every input first
        one = load(run, device)
        if shared is None:
            shared = one.dataset
        else:
            one.dataset = shared  # one copy of the data set
        loaded.append(one)
    warnings = check_batch_size(first.h, shared)
    written = []
    for lo in range(0, len(runs), int(max_group)):
        chunk, inputs = runs[lo : lo + int(max_group)], loaded[lo : lo + int(max_group)]
        resume = None
        if every and all(resumable(run) for run in chunk):
            members = [fingerprint(run, device) for run in chunk]
            resume = optional_resume(grouped.GroupResume, sweep_resume_path(chunk[0].outputs.first),
                                     sweep_fingerprint(members), every)
        own_h = len({run.h for run in chunk}) > 1  # find chains in lock-step: say whose line it is
        progress = [ProgressLog(level=run.level, levels=run.levels, epochs=run.schedule.epochs,
                                what=f"{run.role} {run.kind}" + (f" {run.h.slug}" if own_h else "")) for run in chunk]
        t0 = time.perf_counter()
        results = grouped.train_group([one.model for one in inputs], shared, [run.h for run in chunk], first.schedule,
                                      data_seed=[run.seeds.resolve()["data"] for run in chunk],
                                      masks=[one.mask for one in inputs],
                                      augment=tr.Augment.from_config(first.augment), device=device, log=progress,
                                      resume=resume, precision=first.runtime.precision,
                                      channels_last=first.runtime.channels_last or None,
                                      first_epoch=first.first_epoch, stop_epoch=first.stop_epoch)
        wall = time.perf_counter() - t0
        for run, one, result, prog in zip(chunk, inputs, results, progress):
            outcome = one.outcome(result, t0)
            outcome["wall_time_s"] = round(wall / len(chunk), 3)
            metrics = record(run, outcome, warnings, {"group_size": len(chunk)})
            prog.summary(metrics)
            write_outputs(run, one, result, metrics)
            written.append(metrics)
        if resume is not None:
            resume.remove()
    return written
