"""Structured one-shot pruning by batch-norm scale (paper Algorithm A2), and Rethinking's Scratch-E / Scratch-B.

A2: train the dense network with H_find; remove, in one shot and *globally*, the channels whose batch-norm
scale |gamma| is smallest; build the physically narrower network from the kept channels and fine-tune it
with H_eval (no rewind). The path layout and which runs a figure needs are in :mod:`findeval.structured.plan`.

**Channel groups.** A channel is one feature map of a BN's output. BNs whose outputs are added into the
same residual sum must keep the same channels, so they form one *group* (:func:`topology`): per stage,
the *stream* group holds the BN of whatever starts the stream (the stem ``bn1`` or a block's
``downsample.1``) and the last BN of every block adding into it (``bn2`` of basic blocks, ``bn3`` of
bottlenecks). In ``resnet_cifar``/``resnet18`` the stem feeds stage 1 directly, so ``bn1`` and
``layer1.*.bn2`` are one group; in ``resnet50`` stage 1 starts with a downsample, so the stem is a group of
its own. Every other BN (inside a block) is a group of one. Groups are named ``stream0, stream1, ...`` in
network order, or by their single BN.

**Scores and the global cut** (:func:`select_channels`). A group's channel ``c`` scores
``sum over the group's BNs of |gamma[c]|`` (paper A.1: "for channels that are connected by residual
connections, we sum their measures"). All channels of all groups are ranked together. A pruning ratio
``r`` is a fraction of the *prunable channels*, counted once per group channel (a residual channel shared
by five BNs is one channel): ``k = round_half_up(r * total)`` channels with the smallest scores are
removed; ties go to the earlier group in network order, then the lower index.

**No layer is ever emptied:** the best-scoring channel of every group (lowest index on ties) is never a
candidate, so every group, hence every layer, keeps at least one channel. A ratio asking for more than
``total - number of groups`` channels is capped there; ``channels.json`` records the requested and the
achieved count (``capped``).

**The narrow network** (:func:`narrow_state`, :func:`build`): the same ResNet with every conv, BN and the
final linear layer built at the kept widths (``model_spec["channels"]``: kept count per group), and the
kept slices of the trained weights copied in: a conv keeps the rows of its output BN's kept channels and the
columns of its input group's; BN keeps its kept entries (gamma, beta, running mean and variance); fc keeps the
columns of the last stream group. Its outputs equal those of the wide network whose pruned channels output
exactly zero, i.e. with gamma **and beta** of every pruned channel set to 0 (:func:`zero_pruned_channels`).
Zeroing gamma alone is *not* equivalent: such a channel still emits the constant ``relu(beta)``, which the
next layers see; removing a channel drops that constant too (the same choice as Liu et al.'s code, which
copies the kept channels). ``tests/test_structured.py`` checks both statements.

**Params and FLOPs** (:func:`count`): parameters are all trainable tensors (conv and linear weights and
biases, BN gamma and beta; BN running statistics are buffers, not counted). FLOPs are multiply-accumulate
operations (MACs) of one image, the convention of Rethinking's ``count_flops``: a convolution contributes
``H_out * W_out * C_out * C_in / groups * k_h * k_w``, a linear layer ``in * out``, a BN one per output
element (its eval-mode scale and shift); ReLU, additions, pooling and bias additions are not counted.

**Scratch-E / Scratch-B** (Liu et al., 2019): the pruned architecture from a new random init (Kaiming, as
the dense net). Scratch-E trains the same epochs E as fine-tuning. Scratch-B gets the dense network's
compute budget (:func:`scratch_b_training`): ``E_B = floor(E * FLOPs_dense / FLOPs_pruned)`` (Rethinking's
``int(E * F_full / F_pruned)``), LR milestones scaled to the same relative positions
(``floor(m * E_B / E)``), the cosine decay spans all ``E_B`` epochs; the warmup stays ``warmup_epochs``
epochs long (it is there for stability, not budget).
"""

from __future__ import annotations

import csv
import logging
import math
import statistics
import time
from fractions import Fraction

import numpy as np
import torch
from torch import nn

from .. import data as data_mod, models, runs
# the narrow network lives in a foundation module (findeval.runs builds any spec with it); the names stay here
from ..channels import StructuredError, Topology, build, init_model, narrow_modules, topology  # noqa: F401
from ..data import DataError
from ..hparams import H, derive_seed
from ..io import atomic_path, load_checkpoint, save_checkpoint, write_json
from ..models import model_spec
from ..regime import Schedule, steps_per_epoch
from ..runs import Outputs, Runtime, Seeds, TrainRun

log = logging.getLogger("findeval")

BN_KEYS = ("weight", "bias", "running_mean", "running_var")


# --------------------------------------------------------------------------- scores and selection


def group_scores(state: dict, topo: Topology) -> dict:
    """Per group, per channel: the sum of |gamma| over the group's BNs (float64)."""
    scores = {}
    for g, bns in topo.groups.items():
        try:
            scores[g] = sum(state[f"{bn}.weight"].detach().double().abs() for bn in bns)
        except KeyError as err:
            raise StructuredError(f"state dict lacks BN scale {err} (group {g})") from err
    return scores


def round_half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def select_channels(scores: dict, ratio: float) -> tuple[dict, dict]:
    """Kept channel indices per group after removing ``ratio`` of all channels globally (lowest scores).

    Returns ``(kept, info)``: ``kept[group]`` sorted indices; ``info`` with ``total``, ``requested``,
    ``pruned``, ``fraction_pruned`` and ``capped``. The best channel of every group is protected.
    """
    if not 0 <= ratio < 1:
        raise StructuredError(f"pruning ratio must be in [0, 1), got {ratio}")
    order = list(scores)
    total = sum(len(s) for s in scores.values())
    requested = round_half_up(Fraction(str(ratio)) * total)
    candidates = []
    for gi, g in enumerate(order):
        s = [float(v) for v in scores[g]]
        if not s:
            raise StructuredError(f"group {g} has no channels")
        best = max(range(len(s)), key=lambda c: (s[c], -c))  # highest score, lowest index on ties
        candidates.extend((s[c], gi, c) for c in range(len(s)) if c != best)
    candidates.sort()
    n = min(requested, len(candidates))
    removed = {(gi, c) for _, gi, c in candidates[:n]}
    kept = {g: [c for c in range(len(scores[g])) if (gi, c) not in removed] for gi, g in enumerate(order)}
    info = {"total": total, "requested": requested, "pruned": n, "fraction_pruned": n / total,
            "capped": n < requested, "groups": len(order)}
    return kept, info


# --------------------------------------------------------------------------- narrow network


def narrow_state(state: dict, topo: Topology, kept: dict) -> dict:
    """The kept slices of the wide ``state`` (see the module docstring); every key is accounted for."""
    idx = {g: torch.as_tensor(k, dtype=torch.long) for g, k in kept.items()}
    out = {}
    for conv, (gin, bn) in topo.convs.items():
        w = state[f"{conv}.weight"].index_select(0, idx[topo.bn_group[bn]])
        if gin is not None:
            w = w.index_select(1, idx[gin])
        out[f"{conv}.weight"] = w.clone()
        if f"{conv}.bias" in state:
            out[f"{conv}.bias"] = state[f"{conv}.bias"].index_select(0, idx[topo.bn_group[bn]]).clone()
    for bn, g in topo.bn_group.items():
        for k in BN_KEYS:
            out[f"{bn}.{k}"] = state[f"{bn}.{k}"].index_select(0, idx[g]).clone()
        out[f"{bn}.num_batches_tracked"] = state[f"{bn}.num_batches_tracked"].clone()
    out[f"{topo.fc}.weight"] = state[f"{topo.fc}.weight"].index_select(1, idx[topo.fc_in]).clone()
    out[f"{topo.fc}.bias"] = state[f"{topo.fc}.bias"].clone()
    left = set(state) - set(out)
    if left:
        raise StructuredError(f"state dict entries not handled by structured pruning: {sorted(left)[:4]}")
    return out


def zero_pruned_channels(state: dict, topo: Topology, kept: dict, *, beta: bool = True) -> dict:
    """The wide ``state`` with gamma (and, with ``beta``, beta) of every pruned channel set to 0.

    With ``beta=True`` pruned channels output exactly zero in eval mode: the wide net then computes what
    the narrow one does. With ``beta=False`` they still output ``beta`` (then ``relu(beta)``)."""
    out = {k: v.clone() for k, v in state.items()}
    for bn, g in topo.bn_group.items():
        drop = torch.ones(len(out[f"{bn}.weight"]), dtype=torch.bool)
        drop[torch.as_tensor(kept[g], dtype=torch.long)] = False
        out[f"{bn}.weight"][drop] = 0
        if beta:
            out[f"{bn}.bias"][drop] = 0
    return out


# --------------------------------------------------------------------------- counting


@torch.no_grad()
def count(model: nn.Module, input_shape) -> dict:
    """Parameters and FLOPs (MACs) of one image of shape ``(C, H, W)`` (see the module docstring)."""
    flops = {}
    hooks = []

    def hook(name):
        def fn(mod, inp, out):
            per_image = out[0].numel()
            if isinstance(mod, nn.Conv2d):
                k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
                flops[name] = per_image * k
            elif isinstance(mod, nn.Linear):
                flops[name] = mod.in_features * mod.out_features
            else:
                flops[name] = per_image
        return fn

    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear, nn.BatchNorm2d)):
            hooks.append(mod.register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        p = next(model.parameters())
        model(torch.zeros(1, *input_shape, dtype=p.dtype, device=p.device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return {"params": sum(p.numel() for p in model.parameters()), "flops": int(sum(flops.values())),
            "layer_flops": flops}


# --------------------------------------------------------------------------- training settings


#: The defaults of the ``structured.training`` block: the schema's (tests/test_defaults.py holds them equal).
#: A validated block gives every value; these serve direct callers.
TRAINING_DEFAULTS = {"schedule": "cosine", "milestones": [], "gamma": 0.1, "momentum": 0.9, "nesterov": True,
                     "warmup_epochs": 0, "label_smoothing": 0.1}


def schedule(training: dict, iters: int) -> Schedule:
    """A :class:`findeval.regime.Schedule` from the ``structured.training`` block (warmup in epochs)."""
    tr = {**TRAINING_DEFAULTS, **training}
    return Schedule(epochs=int(tr["epochs"]), schedule=tr["schedule"], milestones=tuple(tr["milestones"]),
                    gamma=tr["gamma"], momentum=tr["momentum"], nesterov=tr["nesterov"],
                    warmup_iters=int(tr["warmup_epochs"]) * iters, label_smoothing=tr["label_smoothing"])


def scratch_b_training(training: dict, flops_dense: int, flops_pruned: int) -> dict:
    """Scratch-B's training block: the dense network's compute budget (see the module docstring)."""
    if flops_pruned <= 0 or flops_dense < flops_pruned:
        raise StructuredError(f"Scratch-B needs 0 < FLOPs_pruned <= FLOPs_dense, got {flops_pruned}, {flops_dense}")
    e = int(training["epochs"])
    eb = e * int(flops_dense) // int(flops_pruned)
    return {**training, "epochs": eb, "milestones": [m * eb // e for m in training.get("milestones", [])]}


# --------------------------------------------------------------------------- pipeline steps


def _input_shape(data_path: str) -> tuple:
    with np.load(data_path, allow_pickle=False) as z:
        return tuple(int(s) for s in z["x_test"].shape[1:])


def init(out: str, *, model: dict, dataset: str, seed: int) -> None:
    """A2 line 1: theta of the dense network of replicate ``seed``."""
    spec = model_spec(model, dataset)
    s = derive_seed(seed, "structured", "init")
    m = models.init_model(spec, s)
    save_checkpoint(out, m.state_dict(), {"model_spec": spec, "init_seed": s, "replicate": seed,
                                          "role": "structured_init"})


def prune(out_pruned: str, out_channels: str, *, trained: str, data: str, ratio: float, seed: int,
          h_find: H) -> dict:
    """A2 line 3: the narrow network keeping the channels of largest summed |gamma| (one shot, global)."""
    state, meta = load_checkpoint(trained)
    spec = meta.get("model_spec")
    if not spec or spec.get("channels"):
        raise StructuredError(f"{trained} is not a dense findeval checkpoint (meta['model_spec'])")
    wide = models.build(spec)
    models.load_state(wide, state, f"checkpoint {trained}")
    topo = topology(wide)
    kept, info = select_channels(group_scores(state, topo), ratio)
    if info["capped"]:
        log.warning("ratio %s asks for %d of %d channels; at most %d can go (one kept per group)",
                    ratio, info["requested"], info["total"], info["pruned"])
    nspec = {**spec, "channels": {g: len(k) for g, k in kept.items()}}
    narrow = build(nspec)
    models.load_state(narrow, narrow_state(state, topo, kept), "narrowed state")
    shape = _input_shape(data)
    cd, cn = count(wide, shape), count(narrow, shape)
    cost = {"params_dense": cd["params"], "params": cn["params"], "params_pruned": 1 - cn["params"] / cd["params"],
            "flops_dense": cd["flops"], "flops": cn["flops"], "flops_pruned": 1 - cn["flops"] / cd["flops"],
            "input_shape": list(shape)}
    sizes = topo.sizes(wide)
    report = {
        "ratio": ratio, "seed": seed, "H_find": h_find.as_dict(), "source": trained,
        "channels": info, **cost,
        "groups": [{"name": g, "bns": list(bns), "size": sizes[g], "kept": len(kept[g]), "kept_indices": kept[g]}
                   for g, bns in topo.groups.items()],
    }
    save_checkpoint(out_pruned, narrow.state_dict(), {
        "model_spec": nspec, "role": "pruned", "ratio": ratio, "replicate": seed, "H_find": h_find.as_dict(),
        "channels_pruned": info["fraction_pruned"], "channels_total": info["total"], **cost})
    write_json(out_channels, report)
    log.info("ratio %s: %d/%d channels pruned, params %d -> %d (%.1f%%), FLOPs %d -> %d (%.1f%%)", ratio,
             info["pruned"], info["total"], cd["params"], cn["params"], 100 * cost["params_pruned"],
             cd["flops"], cn["flops"], 100 * cost["flops_pruned"])
    return report


#: The kinds of structured run (:func:`train_run`) and the roles they record.
RUN_ROLES = {"dense": "train_find_structured", "finetune": "finetune_structured", "scratch_e": "scratch_e",
             "scratch_b": "scratch_b"}
COST_KEYS = ("params_dense", "params", "params_pruned", "flops_dense", "flops", "flops_pruned")


def _train_size(data_path: str) -> int:
    """The number of training images of a prepared dataset (its labels only are read)."""
    try:
        with np.load(data_path, allow_pickle=False) as z:
            return int(z["y_train"].shape[0])
    except (OSError, KeyError, ValueError) as err:
        raise DataError(f"prepared dataset {data_path} is unreadable: {type(err).__name__}: {err}") from err


def structured_run(out_metrics: str, *, kind: str, start: str, data: str, h_find: H, h_eval: H, seed: int,
                   ratio: float, training: dict, augment: dict | None, out_trained: str | None = None,
                   device: str = "cpu", threads: int = 1, precision: str = "fp32", channels_last: bool = False):
    """The run of one structured training (its metrics.json, and for ``dense`` its trained weights).

    ``precision`` / ``channels_last``: the GPU speed options of :func:`findeval.training.train` (runtime block),
    as the other training jobs take them.

    ``kind``: ``dense`` (A2 line 2: ``start`` is the init, trained with H_find, also writes ``out_trained``),
    ``finetune`` (A2 line 4: ``start`` is pruned.pt, trained with H_eval, no rewind), ``scratch_e`` /
    ``scratch_b`` (``start`` is pruned.pt, used for its architecture only: new random init, E or E_B epochs).
    The schedule is the ``structured.training`` block's (:func:`schedule`: warmup in epochs of this dataset).
    """
    if kind not in RUN_ROLES:
        raise StructuredError(f"unknown structured run kind {kind!r}")
    _, meta = load_checkpoint(start)
    spec = meta.get("model_spec")
    if not spec:
        raise StructuredError(f"checkpoint {start} has no meta['model_spec']; was it written by findeval?")
    if (kind == "dense") == bool(spec.get("channels")):
        raise StructuredError(f"checkpoint {start} is {'a pruned' if spec.get('channels') else 'a dense'} network; "
                              f"a '{kind}' run needs {'the dense init' if kind == 'dense' else 'pruned.pt'}")
    scratch = kind.startswith("scratch")
    seeds = Seeds(seed, init=derive_seed(seed, "structured", "scratch") if scratch else
                  meta.get("init_seed", derive_seed(seed, "structured", "init")))
    h = h_find if kind == "dense" else h_eval
    cost = {k: meta[k] for k in COST_KEYS if k in meta}
    if kind == "dense":
        c = count(build(spec), _input_shape(data))
        cost = {"params_dense": c["params"], "params": c["params"], "params_pruned": 0.0,
                "flops_dense": c["flops"], "flops": c["flops"], "flops_pruned": 0.0}
    if kind == "scratch_b":
        training = scratch_b_training(training, cost["flops_dense"], cost["flops"])
    sched = schedule(training, steps_per_epoch(_train_size(data), h.batch_size))
    head = {"kind": kind, "role": RUN_ROLES[kind], "ratio": 0.0 if kind == "dense" else float(ratio),
            "channels_pruned": 0.0 if kind == "dense" else meta.get("channels_pruned"),
            "channels_total": meta.get("channels_total"), **cost, "seed": seed, "seeds": seeds.resolve(),
            "H_find": h_find.as_dict(), "H_eval": h.as_dict()}
    tail = {"epochs": sched.epochs, "milestones": list(sched.milestones), "schedule": sched.schedule,
            "warmup_iters": sched.warmup_iters, "flops_factor": cost["flops_dense"] / cost["flops"],
            "precision": precision, "channels_last": channels_last}
    keys = (*head, "test_accuracy", "test_loss", "train_loss", "diverged", "epochs", "milestones", "schedule",
            "warmup_iters", "flops_factor", "epochs_completed", "iterations_per_epoch", "train_time_s", "wall_time_s",
            "device", "precision", "channels_last", "model", "history")
    return TrainRun(role=RUN_ROLES[kind], kind=kind, start=start, data=data, h=h, h_find=h_find, schedule=sched,
                    seeds=seeds, augment=augment, runtime=Runtime(device, threads, precision, channels_last),
                    from_scratch=scratch, head=head, tail=tail, keys=keys,
                    outputs=Outputs(metrics=out_metrics, trained=out_trained,
                                    trained_meta={"role": "trained", "H": h.as_dict()}))


def train_run(out_metrics: str, **kwargs) -> dict:
    """Train one structured run (:func:`structured_run`'s arguments) with the training entry point; its record."""
    return runs.train(structured_run(out_metrics, **kwargs))


# --------------------------------------------------------------------------- speed


@torch.no_grad()
def throughput(nets: dict, x, *, repeats: int = 20, warmup: int = 3) -> dict:
    """Median seconds per forward pass of ``x`` for every net (eval mode): ``{name: (wall, cpu)}``.

    ``wall``: wall-clock time; ``cpu``: CPU time of this thread (``time.thread_time``), which with one torch
    thread is the compute alone, unaffected by other processes taking the cores (on an idle machine both
    agree). Rounds are interleaved (every net once per round), so load from other jobs hits all nets alike.
    """
    for net in nets.values():
        net.eval()
    times = {name: ([], []) for name in nets}
    for r in range(warmup + repeats):
        for name, net in nets.items():
            t, c = time.perf_counter(), time.thread_time()
            net(x)
            if r >= warmup:
                times[name][0].append(time.perf_counter() - t)
                times[name][1].append(time.thread_time() - c)
    return {name: (statistics.median(w), statistics.median(c)) for name, (w, c) in times.items()}


SPEED_COLUMNS = ["model", "ratio", "channels_pruned", "params", "params_pruned", "flops", "flops_pruned",
                 "batch_size", "threads", "repeats", "median_batch_s", "images_per_s", "speedup",
                 "median_batch_cpu_s", "images_per_cpu_s", "cpu_speedup", "flops_speedup"]


def speed_table(out_csv: str, *, dense: str, pruned: list, data: str, batch_size: int = 256,
                repeats: int = 20, warmup: int = 3, threads: int = 1) -> list[dict]:
    """Inference images/s (CPU, eval mode, one fixed batch of test images, median of ``repeats``; wall clock
    and thread CPU time, see :func:`throughput`) of the dense network and of each narrow network, written to
    ``out_csv`` and logged as a table."""
    torch.set_num_threads(max(1, int(threads)))
    ds = data_mod.load(data)
    n = len(ds.y_test)
    idx = torch.arange(batch_size) % n
    x = data_mod.normalize(ds.x_test[idx], ds.mean, ds.std)
    shape = tuple(x.shape[1:])
    nets, rows = {}, []
    for path in [dense, *pruned]:
        state, meta = load_checkpoint(path)
        net = build(meta["model_spec"])
        models.load_state(net, state, f"checkpoint {path}")
        c = count(net, shape)
        name = "dense" if path == dense else f"pruned {meta.get('ratio')}"
        nets[name] = net
        rows.append({"model": name, "ratio": 0.0 if path == dense else meta.get("ratio"),
                     "channels_pruned": 0.0 if path == dense else meta.get("channels_pruned"),
                     "params": c["params"], "flops": c["flops"]})
    secs = throughput(nets, x, repeats=repeats, warmup=warmup)
    base = rows[0]
    (dense_wall, dense_cpu) = secs["dense"]
    for row in rows:
        wall, cpu = secs[row["model"]]
        row.update({"params_pruned": 1 - row["params"] / base["params"],
                    "flops_pruned": 1 - row["flops"] / base["flops"],
                    "batch_size": batch_size, "threads": threads, "repeats": repeats,
                    "median_batch_s": wall, "images_per_s": batch_size / wall, "speedup": dense_wall / wall,
                    "median_batch_cpu_s": cpu, "images_per_cpu_s": batch_size / cpu, "cpu_speedup": dense_cpu / cpu,
                    "flops_speedup": base["flops"] / row["flops"]})
    with atomic_path(out_csv) as tmp:
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=SPEED_COLUMNS)
            w.writeheader()
            w.writerows(rows)
    log.info("inference speed, batch %d, %d thread(s), median of %d:", batch_size, threads, repeats)
    log.info("%-12s %8s %8s %10s %8s %14s %8s %8s", "model", "params", "MFLOPs", "images/s", "speedup",
             "images/CPU-s", "speedup", "FLOPs x")
    for row in rows:
        log.info("%-12s %8d %8.3f %10.0f %7.2fx %14.0f %7.2fx %7.2fx", row["model"], row["params"],
                 row["flops"] / 1e6, row["images_per_s"], row["speedup"], row["images_per_cpu_s"],
                 row["cpu_speedup"], row["flops_speedup"])
    return rows
