"""The training regime of a config, next to the paper's: steps, integrated learning rate and decay, sparsity,
prunable weights per layer, dataset sizes and the accuracy step (issue 12, "regime table").

Pure Python (no torch, no numpy): it runs at parse time, in a light local job (``rules/regime.smk``) or in a
notebook on a candidate config dict::

    from findeval import regime
    for row in regime.table(config):              # list of dicts, one per H of the grids (+ the paper's rows)
        print(row["source"], row["h"], row["total_steps"], row["integrated_decay"])
    print(regime.format_rows(regime.table(config)))   # the same as an aligned text table
    print(regime.far_from_paper(config))           # [] when the config is close to the paper's regime

``config`` is a findeval config (``config.yaml`` or a preset) as a dict; the schema's defaults need not be
filled in (missing training keys take the schema's defaults, a missing ``dataset.test_fraction`` 0.2).

What is counted, for every H of the grids (each grid value of each dimension, find and eval, the other two
at the defaults, as :mod:`findeval.a1.plan` builds them; duplicates once):

- ``steps_per_epoch``: exactly as :func:`findeval.training.train` counts them, ``bs = min(batch_size, n)``,
  ``n_full, rest = divmod(n, bs)``, ``n_full + (1 if rest > 1 else 0)`` (a last batch of one image is dropped);
  ``total_steps`` = steps per epoch x epochs.
- ``integrated_lr`` = sum over every step t of eta_t, with the schedule's real factors (multistep with gamma
  and milestones, or cosine; linear warmup), computed by :func:`lr_factor`, the very function training uses;
  ``integrated_decay`` = lambda x ``integrated_lr`` (the sum of eta_t * lambda); ``eta_lambda_T`` the simple
  product eta x lambda x T (T = total steps), the number the issue quotes.
- ``final_sparsity``: pruned share of the prunable weights after the last level, with the exact per-level
  counts of :func:`findeval.masks.kept_schedule` (about 1 - (1 - p)^L).
- ``n_train``, ``n_test`` and ``accuracy_step_pp`` = 100 / n_test (one test image, in percentage points).
  Dataset sizes are the nominal ones (no dataset is read): digits as :func:`findeval.data.stratified_split`
  splits scikit-learn's 1,797 images (per class ``round(test_fraction * n_class)`` to test), CIFAR-10/100
  50,000 / 10,000, Tiny ImageNet 100,000 / 10,000 (val = test), MiniPlaces 100,000 / 10,000.

Per layer (:func:`layer_rows`): the prunable weights of every convolution, computed analytically from the
model spec (the same shapes as :func:`findeval.models.build`, tested), the weights a uniform layerwise mask
would keep at the last level, and, given a real last-level mask (``mask.h5``), the weights it keeps.

The paper's setting (:data:`PAPER`, A.1: ResNet-50 on Tiny ImageNet, 100k images, batch 512, 110 epochs, LR x 0.2
at 70/85/100, its LR, BS and WD grids, 30 levels of p = 0.2) gives the rows marked ``source = paper``. Its
eta*lambda*T over the LR grid is 0.108 / 0.431 / 1.078 with 196 steps per epoch (the partial last batch counted,
as train() does; the issue's 0.11 / 0.43 / 1.07 counts 195).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from fractions import Fraction

from .datasets import DIGITS_CLASS_COUNTS, REGISTRY  # noqa: F401 (DIGITS_CLASS_COUNTS: read here by the tests)
from .hparams import format_number

DIMENSIONS = ("lr", "batch_size", "weight_decay")
LABELS = {"lr": "LR", "batch_size": "BS", "weight_decay": "WD"}

#: The paper's main setting (A.1): ResNet-50 on Tiny ImageNet.
PAPER = {
    "experiment": "paper: ResNet-50, Tiny ImageNet (A.1)",
    "dataset": {"name": "tiny_imagenet"},
    "model": {"name": "resnet50"},
    "training": {"epochs": 110, "schedule": "multistep", "milestones": [70, 85, 100], "gamma": 0.2,
                 "warmup_iters": 0},
    "defaults": {"lr": 0.2, "batch_size": 512, "weight_decay": 1.0e-4},
    "grids": {
        "lr": {"find": [0.05, 0.2, 0.5], "eval": [0.05, 0.2, 0.5]},
        "batch_size": {"find": [256, 512, 1024], "eval": [256, 512, 1024]},
        "weight_decay": {"find": [2.0e-5, 1.0e-4, 5.0e-4], "eval": [2.0e-5, 1.0e-4, 5.0e-4]},
    },
    "pruning": {"fraction": 0.2, "levels": 30},
}

#: far_from_paper's thresholds (see its docstring).
FAR_RATIO = 3.0
MAX_ACCURACY_STEP_PP = 0.5

#: Columns of regime.csv, in order.
COLUMNS = ("source", "experiment", "h", "grids", "lr", "batch_size", "weight_decay", "n_train", "n_test",
           "accuracy_step_pp", "steps_per_epoch", "epochs", "total_steps", "integrated_lr", "integrated_decay",
           "eta_lambda_T", "levels", "fraction", "final_sparsity", "prunable")
#: Columns of regime_layers.csv, in order.
LAYER_COLUMNS = ("source", "experiment", "layer", "shape", "prunable", "kept_uniform", "kept_mask")


# --------------------------------------------------------------------------- schedule


def lr_factor(epoch: int, it_in_epoch: int, iters_per_epoch: int, *, epochs: int, schedule: str = "multistep",
              milestones=(), gamma: float = 0.2, warmup_iters: int = 0) -> float:
    """Factor of the base LR at iteration ``it_in_epoch`` of ``epoch`` (0-based): ``warmup(t) * decay``.

    The arithmetic of :meth:`findeval.training.Schedule.lr_factor`, which calls this function: warmup
    ``min(1, (t+1)/W)`` over the first W iterations; multistep decay ``gamma ** (milestones <= epoch)``, or a
    per-iteration cosine from 1 to 0 over the whole run.
    """
    it = epoch * iters_per_epoch + it_in_epoch
    warm = min(1.0, (it + 1) / warmup_iters) if warmup_iters > 0 else 1.0
    if schedule == "multistep":
        decay = gamma ** sum(1 for m in milestones if epoch >= m)
    elif schedule == "cosine":
        decay = 0.5 * (1 + math.cos(math.pi * it / (epochs * iters_per_epoch)))
    else:
        raise ValueError(f"unknown schedule {schedule!r}; choose multistep or cosine")
    return warm * decay


@dataclass(frozen=True)
class Schedule:
    """Training settings shared by H_find and H_eval (the config's ``training`` block; findeval.training
    re-exports it). Its defaults are the schema's (schemas/config.schema.yaml, tested): a validated block
    gives every value, so they matter only to direct callers."""

    epochs: int
    schedule: str = "multistep"
    milestones: tuple = ()
    gamma: float = 0.2
    momentum: float = 0.9
    nesterov: bool = False
    warmup_iters: int = 0
    label_smoothing: float = 0.0

    @classmethod
    def from_config(cls, block: dict) -> "Schedule":
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in block.items() if k in known}
        values["milestones"] = tuple(values.get("milestones", ()))
        return cls(**values)

    def lr_factor(self, epoch: int, it_in_epoch: int, iters_per_epoch: int) -> float:
        return lr_factor(epoch, it_in_epoch, iters_per_epoch, epochs=self.epochs, schedule=self.schedule,
                         milestones=self.milestones, gamma=self.gamma, warmup_iters=self.warmup_iters)


#: The defaults of the ``training`` block that the LR schedule reads (:class:`Schedule`'s, the schema's).
TRAINING_DEFAULTS = {f.name: f.default for f in fields(Schedule)
                     if f.name in ("schedule", "milestones", "gamma", "warmup_iters")}


def _training(config: dict) -> dict:
    tr = {**TRAINING_DEFAULTS, **config["training"]}
    return {"epochs": int(tr["epochs"]), "schedule": tr["schedule"], "milestones": tuple(tr["milestones"]),
            "gamma": float(tr["gamma"]), "warmup_iters": int(tr["warmup_iters"])}


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimizer steps per epoch: the one count that :func:`findeval.training.train`, the grouped sweeps and
    the structured warmup use (the last partial batch is kept unless it holds one image: BatchNorm needs two)."""
    bs = min(int(batch_size), int(n_train))
    n_full, rest = divmod(int(n_train), bs)
    return n_full + (1 if rest > 1 else 0)


def factor_sum(training: dict, iters: int) -> float:
    """Sum of the LR factors over every step of the schedule (``training``: the config's training block)."""
    tr = _training({"training": training})
    return math.fsum(lr_factor(e, i, iters, **tr) for e in range(tr["epochs"]) for i in range(iters))


# --------------------------------------------------------------------------- data, model, pruning


def dataset_sizes(dataset: dict) -> dict:
    """``{"n_train", "n_test", "in_channels", "num_classes"}`` of a dataset block, without reading it."""
    name = dataset["name"]
    if name not in REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(REGISTRY)}")
    d = REGISTRY[name]
    n_train, n_test = d.sizes(dataset)  # digits: as data.stratified_split; subsets where set
    return {"n_train": n_train, "n_test": n_test, "in_channels": d.in_channels, "num_classes": d.num_classes}


# --------------------------------------------------------------------------- the model registry


@dataclass(frozen=True)
class Architecture:
    """One model of the registry, described without torch: what :func:`findeval.models.build` builds,
    :func:`conv_shapes` counts and :func:`findeval.workflow.check_config` checks, all from :meth:`resolve`.

    Contract: a ResNet with a stem convolution (``conv1``, with BN ``bn1``), ``len(widths)`` stages
    ``layer1..`` of ``block`` blocks (``basic``: two 3x3 convolutions, expansion 1; ``bottleneck``: 1x1, 3x3,
    1x1, expansion 4) of widths ``w, 2w, 4w, ...`` (``w`` = ``model.width``, default ``width``), the first block
    of every stage after the first at stride 2, a 1x1 shortcut convolution (``downsample.0``) where the
    stride or the width changes, then average pooling and ``fc``. ``blocks`` is the blocks per stage; None
    where ``model.depth`` decides it (``6n + 2``: ``n`` per stage of ``stages`` stages, default ``depth``).
    ``stems`` are the values ``model.stem`` may take (empty: only the 3x3 stride-1 stem, and no stem option).
    ``options`` are the ``model.*`` keys it takes besides ``name``.
    """

    name: str
    block: str
    width: int
    blocks: tuple[int, ...] | None = None
    stages: int = 3
    depth: int | None = None
    stems: tuple[str, ...] = ()
    options: tuple[str, ...] = ("width",)

    @property
    def expansion(self) -> int:
        return 4 if self.block == "bottleneck" else 1

    def resolve(self, model: dict) -> dict:
        """The network of the model block (or spec) ``model``: ``{"block", "expansion", "blocks", "widths",
        "stem"}``; a ValueError names a bad option (one it does not take, a depth not 6n+2, an unknown stem).
        ``in_channels`` and ``num_classes`` (a spec's) are not options."""
        extra = sorted(set(model) - {"name", "in_channels", "num_classes", *self.options})
        if extra:
            raise ValueError(f"model {self.name!r} does not take options: {', '.join(extra)}")
        width = int(model.get("width") or self.width)
        if self.blocks is None:
            depth = int(model.get("depth") or self.depth)
            if depth < 8 or (depth - 2) % 6:
                raise ValueError(f"{self.name} depth must be 6n+2 with n >= 1 (8, 14, 20, ...), got {depth}")
            blocks = ((depth - 2) // 6,) * self.stages
        else:
            blocks = self.blocks
        stem = model.get("stem") or (self.stems[0] if self.stems else "cifar")
        if self.stems and stem not in self.stems:
            raise ValueError(f"unknown stem {stem!r}; choose from {', '.join(self.stems)}")
        return {"block": self.block, "expansion": self.expansion, "blocks": blocks,
                "widths": tuple(width * 2 ** i for i in range(len(blocks))), "stem": stem}


#: The model registry, in order (the schema's ``model.name`` enum; tests/test_models_data_training.py checks it).
ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (
    Architecture("resnet_cifar", "basic", width=16, depth=20, options=("depth", "width")),
    Architecture("resnet18", "basic", width=64, blocks=(2, 2, 2, 2), stems=("cifar", "imagenet"),
                 options=("width", "stem")),
    Architecture("resnet50", "bottleneck", width=64, blocks=(3, 4, 6, 3), stems=("cifar", "imagenet"),
                 options=("width", "stem")),
)}


def architecture(model: dict) -> dict:
    """:meth:`Architecture.resolve` of ``model["name"]``'s record (a ValueError for an unknown name)."""
    name = model.get("name")
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name].resolve(model)


def conv_shapes(model: dict, in_channels: int) -> list[tuple[str, tuple]]:
    """(state-dict key, weight shape) of every convolution of :func:`findeval.models.build`'s network, in
    network order (:func:`findeval.models.prunable_names`), computed from the spec alone."""
    net = architecture(model)
    widths, expansion = net["widths"], net["expansion"]
    k = 7 if net["stem"] == "imagenet" else 3
    shapes = [("conv1.weight", (widths[0], int(in_channels), k, k))]
    c_in = widths[0]
    for i, (n, w) in enumerate(zip(net["blocks"], widths)):
        for j in range(n):
            stride = 1 if i == 0 or j > 0 else 2
            pre, out = f"layer{i + 1}.{j}", w * expansion
            if expansion == 1:
                convs = [("conv1", (w, c_in, 3, 3)), ("conv2", (w, w, 3, 3))]
            else:
                convs = [("conv1", (w, c_in, 1, 1)), ("conv2", (w, w, 3, 3)), ("conv3", (out, w, 1, 1))]
            if stride != 1 or c_in != out:
                convs.append(("downsample.0", (out, c_in, 1, 1)))
            shapes += [(f"{pre}.{k}.weight", s) for k, s in convs]
            c_in = out
    return shapes


def prune_count(remaining: int, fraction: float) -> int:
    """As :func:`findeval.masks.prune_count`: round_half_up(fraction * remaining), exactly."""
    exact = Fraction(str(fraction)) * int(remaining)
    return int(exact + Fraction(1, 2)) if exact.denominator != 1 else int(exact)


def kept_schedule(total: int, fraction: float, levels: int) -> list[int]:
    """As :func:`findeval.masks.kept_schedule`: kept weights at levels 0..levels."""
    kept = [int(total)]
    for _ in range(int(levels)):
        kept.append(kept[-1] - prune_count(kept[-1], fraction))
    return kept


def numel(shape) -> int:
    """The number of elements of a tensor of this shape."""
    return math.prod(int(s) for s in shape)


# --------------------------------------------------------------------------- the table


def grid_hs(config: dict) -> list[tuple[dict, list[str]]]:
    """Every H of the grids, deduplicated, in plan order: ``(h, [where it comes from])``, e.g.
    ``({"lr": 0.5, ...}, ["LR find", "LR eval"])``; the defaults are marked ``default``."""
    base = {k: config["defaults"][k] for k in DIMENSIONS}
    base = {"lr": float(base["lr"]), "batch_size": int(base["batch_size"]),
            "weight_decay": float(base["weight_decay"])}
    found = {tuple(base.values()): (base, ["default"])}
    for dim in DIMENSIONS:
        for phase in ("find", "eval"):
            for v in config["grids"][dim][phase]:
                h = dict(base, **{dim: int(v) if dim == "batch_size" else float(v)})
                key = tuple(h.values())
                tag = f"{LABELS[dim]} {phase}"
                entry = found.setdefault(key, (h, []))
                if tag not in entry[1]:
                    entry[1].append(tag)
    return [found[k] for k in sorted(found)]


def slug(h: dict) -> str:
    """The H's path spelling (:attr:`findeval.hparams.H.slug`), e.g. ``lr0.2_bs512_wd1e-4``."""
    return f"lr{format_number(h['lr'])}_bs{h['batch_size']}_wd{format_number(h['weight_decay'])}"


def table(config: dict, *, paper: bool = True) -> list[dict]:
    """The regime rows of ``config`` (``source = config``), then the paper's (``source = paper``) unless
    ``paper=False``: one dict per H of the grids with the keys of :data:`COLUMNS`."""
    rows = _rows(config, "config")
    return rows + (_rows(PAPER, "paper") if paper else [])


def _rows(config: dict, source: str) -> list[dict]:
    sizes = dataset_sizes(config["dataset"])
    tr = _training(config)
    levels, fraction = int(config["pruning"]["levels"]), float(config["pruning"]["fraction"])
    total = sum(numel(s) for _, s in conv_shapes(config["model"], sizes["in_channels"]))
    kept = kept_schedule(total, fraction, levels)
    sums: dict[int, float] = {}
    rows = []
    for h, where in grid_hs(config):
        iters = steps_per_epoch(sizes["n_train"], h["batch_size"])
        if iters not in sums:
            sums[iters] = factor_sum(config["training"], iters)
        steps = iters * tr["epochs"]
        rows.append({
            "source": source,
            "experiment": config.get("experiment", ""),
            "h": slug(h),
            "grids": "; ".join(where),
            **h,
            "n_train": sizes["n_train"],
            "n_test": sizes["n_test"],
            "accuracy_step_pp": 100.0 / sizes["n_test"],
            "steps_per_epoch": iters,
            "epochs": tr["epochs"],
            "total_steps": steps,
            "integrated_lr": h["lr"] * sums[iters],
            "integrated_decay": h["lr"] * h["weight_decay"] * sums[iters],
            "eta_lambda_T": h["lr"] * h["weight_decay"] * steps,
            "levels": levels,
            "fraction": fraction,
            "final_sparsity": 1.0 - kept[-1] / total,
            "prunable": total,
        })
    return rows


def layer_rows(config: dict, *, mask: dict | None = None, source: str = "config") -> list[dict]:
    """Per prunable layer: its weights, those a uniform layerwise mask keeps at the last level
    (``round(n_layer * kept_L / total)``), and those ``mask`` keeps (``{layer: kept count}``, e.g. from
    :func:`mask_kept`; else None)."""
    sizes = dataset_sizes(config["dataset"])
    shapes = conv_shapes(config["model"], sizes["in_channels"])
    total = sum(numel(s) for _, s in shapes)
    kept_last = kept_schedule(total, config["pruning"]["fraction"], config["pruning"]["levels"])[-1]
    if mask is not None and set(mask) != {n for n, _ in shapes}:
        raise ValueError("the mask's layers are not this model's convolutions")
    return [{
        "source": source,
        "experiment": config.get("experiment", ""),
        "layer": name,
        "shape": "x".join(map(str, shape)),
        "prunable": numel(shape),
        "kept_uniform": int(round(numel(shape) * kept_last / total)),
        "kept_mask": None if mask is None else int(mask[name]),
    } for name, shape in shapes]


def mask_kept(path: str) -> dict:
    """Kept weights per layer of a mask file (``mask.h5``, :mod:`findeval.masks`); imports numpy and h5py."""
    from .masks import load_mask

    mask, _ = load_mask(path)
    return {name: int(m.sum()) for name, m in mask.items()}


# --------------------------------------------------------------------------- far from the paper


def _span(rows: list[dict], dim: str, key: str = "integrated_decay") -> tuple[float, float] | None:
    vals = [r[key] for r in rows if any(t.startswith(LABELS[dim] + " ") for t in r["grids"].split("; "))]
    return (min(vals), max(vals)) if vals else None


def far_from_paper(config: dict) -> list[str]:
    """Why ``config``'s regime is far from the paper's (human-readable reasons; empty when close).

    The rule (each check gives at most one reason):

    1. Integrated decay, per dimension (LR, BS, WD): the span min..max of sum_t eta_t * lambda over that
       dimension's grid values (find and eval, the other two at the defaults) against the paper's span over
       its grid. A reason when the bottom or the top differs from the paper's by more than 3x (either way).
       The message gives the simple product eta*lambda*T too. A dimension the config does not vary (one
       value) is far only when that value lies outside the paper's span by more than 3x.
    2. Sparsity range: the last level's density (kept share) against the paper's 0.12% (30 levels of 0.2,
       99.88% sparsity). A reason when it is more than 3x the paper's (or less than a third), i.e. the pruning
       stops well before (or goes well beyond) the paper's highest sparsity.
    3. Test set: a reason when one test image is worth more than 0.5 percentage points of accuracy
       (fewer than 200 test images): the 3-4 pp effects the paper reports are then a handful of images.
    """
    ours, theirs = _rows(config, "config"), _rows(PAPER, "paper")
    reasons = []
    for dim in DIMENSIONS:
        a, b = _span(ours, dim), _span(theirs, dim)
        if a is None:
            continue
        if a[0] == a[1]:  # one value (the dimension is not varied): far when outside the paper's span by > 3x
            v = a[0]
            if not b[0] / FAR_RATIO <= v <= b[1] * FAR_RATIO:
                sv, sb = _span(ours, dim, "eta_lambda_T"), _span(theirs, dim, "eta_lambda_T")
                reasons.append(
                    f"integrated decay sum eta_t*lambda at the one {LABELS[dim]} value is {v:.3g}, outside the "
                    f"paper's {LABELS[dim]} grid span {b[0]:.3g}-{b[1]:.3g} by more than {FAR_RATIO:g}x "
                    f"({_ratio(v / b[1]) if v > b[1] else _ratio(v / b[0])}); as eta*lambda*T {sv[0]:.3g} "
                    f"against {sb[0]:.3g}-{sb[1]:.3g}")
            continue
        lo, hi = a[0] / b[0], a[1] / b[1]
        if max(lo, 1 / lo, hi, 1 / hi) > FAR_RATIO:
            sa, sb = _span(ours, dim, "eta_lambda_T"), _span(theirs, dim, "eta_lambda_T")
            reasons.append(
                f"integrated decay sum eta_t*lambda of the {LABELS[dim]} grid spans {a[0]:.3g}-{a[1]:.3g}, the "
                f"paper's {b[0]:.3g}-{b[1]:.3g} (bottom {_ratio(lo)}, top {_ratio(hi)}); as eta*lambda*T "
                f"{sa[0]:.3g}-{sa[1]:.3g} against {sb[0]:.3g}-{sb[1]:.3g}")
    dens, pdens = 1 - ours[0]["final_sparsity"], 1 - theirs[0]["final_sparsity"]
    if max(dens / pdens, pdens / dens) > FAR_RATIO:
        reasons.append(
            f"sparsity range 0-{100 * ours[0]['final_sparsity']:.1f}% ({ours[0]['levels']} levels of "
            f"{ours[0]['fraction']:g}), the paper's 0-{100 * theirs[0]['final_sparsity']:.2f}%: the last level keeps "
            f"{100 * dens:.2f}% of the weights against {100 * pdens:.2f}% ({_ratio(dens / pdens)})")
    step = ours[0]["accuracy_step_pp"]
    if step > MAX_ACCURACY_STEP_PP:
        reasons.append(f"tiny test set: {ours[0]['n_test']} images, one image is {step:.2f} pp of accuracy "
                       f"(the paper's {theirs[0]['n_test']:,} images: {theirs[0]['accuracy_step_pp']:.2f} pp)")
    return reasons


def _ratio(r: float) -> str:
    return f"{r:.3g}x the paper's" if r >= 1 else f"{1 / r:.3g}x smaller"


# --------------------------------------------------------------------------- text


def format_rows(rows: list[dict], columns=None) -> str:
    """An aligned plain-text table of ``rows`` (for the job log)."""
    columns = list(columns or rows[0].keys()) if rows else []
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


MARKDOWN_COLUMNS = ("source", "h", "grids", "n_train", "n_test", "accuracy_step_pp", "steps_per_epoch",
                    "total_steps", "integrated_lr", "integrated_decay", "eta_lambda_T", "final_sparsity",
                    "prunable")


def markdown(rows: list[dict], columns=MARKDOWN_COLUMNS) -> str:
    """A markdown table of ``rows`` (the regime table of docs/regime.md)."""
    head = "| " + " | ".join(columns) + " |\n| " + " | ".join("---" for _ in columns) + " |\n"
    return head + "\n".join("| " + " | ".join(_cell(r.get(c)) for c in columns) + " |" for r in rows) + "\n"


# --------------------------------------------------------------------------- files


#: The config blocks the regime depends on (the rule passes only these as params).
BLOCKS = ("experiment", "dataset", "model", "training", "defaults", "grids", "pruning")


def config_params(config: dict) -> dict:
    """The :data:`BLOCKS` of ``config``, as rule regime passes them: the dataset block without the options
    (findeval.datasets.OPTIONS) at their unset value, so that a new option leaves the params, and the table,
    of a config that does not set it as they were."""
    from .datasets import OPTIONS

    blocks = {k: config[k] for k in BLOCKS}
    blocks["dataset"] = {k: v for k, v in config["dataset"].items() if k not in OPTIONS or v != OPTIONS[k]}
    return blocks


def write_csv(path: str, rows: list[dict], columns) -> None:
    """``rows`` as a CSV file with ``columns`` (written atomically)."""
    import csv

    from .io import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
            w.writeheader()
            w.writerows({k: ("" if r.get(k) is None else r[k]) for k in columns} for r in rows)


def report(config: dict, *, mask: dict | None = None) -> tuple[list[dict], list[dict], str]:
    """(regime rows, layer rows, the text a log shows): the config's rows and the paper's, both tables, and
    :func:`far_from_paper`'s reasons."""
    rows = table(config)
    layers = layer_rows(config, mask=mask) + layer_rows(PAPER, source="paper")
    reasons = far_from_paper(config)
    text = [f"regime of experiment {config.get('experiment', '')!r} and of the paper (source = paper)", "",
            format_rows(rows, [c for c in COLUMNS if c != "experiment"]), "",
            f"prunable weights per layer ({config.get('experiment', '')}; kept at level "
            f"{config['pruning']['levels']} by a uniform layerwise mask{', and by the given mask' if mask else ''})", "",
            format_rows([r for r in layers if r["source"] == "config"],
                        [c for c in LAYER_COLUMNS if c not in ("source", "experiment") and (mask or c != "kept_mask")]),
            "", "far from the paper's regime:" if reasons else "close to the paper's regime (far_from_paper: none)"]
    text += [f"- {r}" for r in reasons]
    return rows, layers, "\n".join(text)


def main(argv=None) -> None:
    """``python -m findeval.regime CONFIG.yaml [--mask LAST_LEVEL_MASK.h5]``: print the regime report."""
    import argparse

    import yaml

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("config", help="a findeval config (config.yaml or a preset)")
    ap.add_argument("--mask", help="a find chain's last-level mask.h5: the kept weights per layer")
    args = ap.parse_args(argv)
    with open(args.config) as fh:
        config = yaml.safe_load(fh)
    print(report(config, mask=mask_kept(args.mask) if args.mask else None)[2])


if __name__ == "__main__":
    main()
