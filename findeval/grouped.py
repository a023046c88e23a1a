"""Grouped training: the G networks of a sweep trained as one wider network (issue 15, item 1).

The networks of one evaluation sweep share the data order, the augmentation stream and H_eval; they
differ only in their start weights and masks. :func:`train_group` trains them together as one network
whose layers hold the G copies side by side:

- every convolution becomes one convolution with ``groups = G`` (network g's channels are the g-th block
  of ``channels`` channels), except the first, which sees the shared input batch: one convolution with
  ``G * width`` outputs; every BatchNorm becomes one BatchNorm over ``G * channels`` channels (statistics are
  per channel, so per network: running statistics included); the classifier is one batched matrix product
  (:class:`GroupedLinear`, network g's weights are ``weight[g]``);
- the loss is the sum of the G per-network mean cross-entropies, so each network's gradient is exactly
  its own; :class:`findeval.training.SGD` (momentum, Nesterov, weight decay) is elementwise, hence per
  network; the masks (network g's mask in g's block, ones where g has none) are applied before the first
  step and after every step, so pruned weights stay exactly zero;
- one augmented batch per step, drawn from the generator exactly as :func:`findeval.training.train` draws
  it, is shared by all G networks: it is the batch each would see alone; or, for networks of different
  replicates (one data seed each), every network's own batch, side by side in its channel block of a grouped
  stem convolution (the test set, shared, is repeated in each block);
- divergence per network: a network whose loss turns NaN or infinite is recorded as ``train()`` records
  it (its weights as they were before that step, its BatchNorm buffers after that step's forward pass,
  evaluated at the end of that epoch, history up to that epoch); its block is then zeroed (weights,
  momentum) and left out of the loss, so it can neither stall nor contaminate the others, which go on.

Results agree with ``train()`` per network to float tolerance (the grouped kernels sum in another order;
tests/test_grouped.py), and a grouped run is deterministic on the CPU (same inputs, same bytes).
Per-network results have the shape ``train()`` returns; ``train_time_s`` is the network's share of the
group's time (the group's time / G, so that summing it over a sweep's runs gives the sweep's time), and
``group_size`` / ``group_train_time_s`` say how it was trained.
"""

from __future__ import annotations

import copy
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from . import data as data_mod
from . import models as models_mod
from .hparams import H
from .io import atomic_path
from .training import (RESUME_FORMAT, RESUME_VERSION, SGD, Augment, Resume, Schedule, apply_masks, autocast,
                       check_precision, epoch_batches, epoch_row, evaluate, make_optimizer, plan_epochs, prepare_model,
                       restore, row_text, run_result)


class GroupedLinear(nn.Module):
    """G linear layers on the G blocks of a ``(B, G * in)`` input; output ``(G, B, out)``."""

    def __init__(self, groups: int, in_features: int, out_features: int):
        super().__init__()
        self.groups, self.in_features, self.out_features = groups, in_features, out_features
        self.weight = nn.Parameter(torch.empty(groups, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(groups, out_features))

    def forward(self, x):
        """``(B, G * in)`` -> ``(G, B, out)``: network g's layer on block g."""
        xg = x.reshape(x.shape[0], self.groups, self.in_features).transpose(0, 1)  # (G, B, in)
        return torch.baddbmm(self.bias.unsqueeze(1), xg, self.weight.transpose(1, 2))


def _stem_name(model) -> str:
    """The convolution that sees the network's input (shared by the G networks)."""
    first = next(n for n, m in model.named_modules() if isinstance(m, nn.Conv2d))
    if first != "conv1":
        raise ValueError(f"grouped training expects the stem convolution 'conv1' first, found {first!r}")
    return first


def _replace(root: nn.Module, name: str, new: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, new)


def build_grouped(template: nn.Module, groups: int, shared_input: bool = True) -> nn.Module:
    """A network holding ``groups`` copies of ``template``'s architecture (weights unset: see :func:`load_group`).

    The template's own ``forward`` runs unchanged: only its Conv2d, BatchNorm2d and Linear modules are replaced,
    and every other operation (ReLU, pooling, residual additions, flatten) is channelwise or shape-agnostic.
    ``shared_input`` False (networks with their own data order: other replicates): the stem is a grouped
    convolution too, and the network takes the G batches side by side, ``(B, G * C, H, W)`` (network g's images
    in channel block g; :func:`network_input`). The weights have the same shape either way."""
    G = int(groups)
    if G < 1:
        raise ValueError("a group needs at least one network")
    net = copy.deepcopy(template)
    stem = _stem_name(template)
    for name, m in list(template.named_modules()):
        if isinstance(m, nn.Conv2d):
            if m.padding_mode != "zeros":
                raise ValueError(f"{name}: only zero padding is supported")
            shared = name == stem and shared_input
            new = nn.Conv2d(m.in_channels if shared else m.in_channels * G, m.out_channels * G, m.kernel_size,
                            m.stride, m.padding, m.dilation, groups=m.groups if shared else m.groups * G,
                            bias=m.bias is not None)
            if shared and m.groups != 1:
                raise ValueError(f"{name}: a grouped stem convolution is not supported")
        elif isinstance(m, nn.BatchNorm2d):
            new = nn.BatchNorm2d(m.num_features * G, eps=m.eps, momentum=m.momentum, affine=m.affine,
                                 track_running_stats=m.track_running_stats)
        elif isinstance(m, nn.Linear):
            new = GroupedLinear(G, m.in_features, m.out_features)
        elif isinstance(m, (nn.BatchNorm1d, nn.GroupNorm, nn.LayerNorm, nn.Conv1d)):
            raise ValueError(f"{name}: {type(m).__name__} is not supported by grouped training")
        else:
            continue
        _replace(net, name, new)
    net.groups, net.shared_input = G, bool(shared_input)
    return net


def network_input(grouped: nn.Module, xb):
    """The grouped network's input for one batch ``xb`` that every network sees (the test set): ``xb`` itself
    when the stem is shared, else ``xb`` repeated in each network's channel block."""
    return xb if getattr(grouped, "shared_input", True) else xb.repeat(1, grouped.groups, 1, 1)


def _stacked(grouped: nn.Module) -> set[str]:
    """State keys of the grouped network stored as ``(G, ...)`` stacks (the classifier's); every other key
    (but ``num_batches_tracked``) is the G blocks concatenated along dimension 0."""
    return {f"{n}.{p}" if n else p for n, m in grouped.named_modules() if isinstance(m, GroupedLinear)
            for p in ("weight", "bias")}


def _is_counter(key: str) -> bool:
    return key.endswith("num_batches_tracked")


@torch.no_grad()
def load_group(grouped: nn.Module, states: list[dict]) -> None:
    """Put network g's state dict into block g of ``grouped`` (``num_batches_tracked`` is kept per network
    outside, see :class:`_Group`)."""
    stacked = _stacked(grouped)
    own = grouped.state_dict()
    for key, target in own.items():
        if _is_counter(key):
            target.zero_()
            continue
        parts = [s[key].to(device=target.device, dtype=target.dtype) for s in states]
        target.copy_(torch.stack(parts) if key in stacked else torch.cat(parts, 0))


@torch.no_grad()
def extract(grouped: nn.Module, g: int, counters: dict | None = None) -> dict:
    """Network g's state dict (the keys of the single network), cloned and contiguous."""
    G = grouped.groups
    stacked = _stacked(grouped)
    out = {}
    for key, value in grouped.state_dict().items():
        if _is_counter(key):
            out[key] = (counters[key] if counters and key in counters else value).detach().clone()
        elif key in stacked:
            out[key] = value[g].detach().clone(memory_format=torch.contiguous_format)
        else:
            n = value.shape[0] // G
            out[key] = value[g * n : (g + 1) * n].detach().clone(memory_format=torch.contiguous_format)
    return out


def _block_views(grouped: nn.Module, tensors: list, names: list, g: int) -> list:
    """Views of network g's block of each of ``tensors`` (parameters or same-shaped buffers) named ``names``."""
    G, stacked = grouped.groups, _stacked(grouped)
    out = []
    for name, t in zip(names, tensors):
        if name in stacked:
            out.append(t[g])
        else:
            n = t.shape[0] // G
            out.append(t[g * n : (g + 1) * n])
    return out


def group_masks(grouped: nn.Module, masks: list, device) -> tuple[list, list]:
    """Grouped parameters and float masks for every tensor any network masks (ones in an unmasked block)."""
    names = sorted({k for m in masks if m for k in m}, key=list(dict(grouped.named_parameters())).index)
    if not names:
        return [], []
    params = dict(grouped.named_parameters())
    ps, ms = [], []
    for name in names:
        p = params[name]
        n = p.shape[0] // grouped.groups
        block = tuple(p.shape[1:])
        parts = []
        for m in masks:
            if m and name in m:
                t = torch.as_tensor(m[name], device=device).to(p.dtype)
                if tuple(t.shape) != (n, *block):
                    raise ValueError(f"mask {name} has shape {tuple(t.shape)}, the network's is {(n, *block)}")
                parts.append(t)
            else:
                parts.append(torch.ones((n, *block), device=device, dtype=p.dtype))
        ps.append(p)
        ms.append(torch.empty_like(p).copy_(torch.cat(parts, 0)))
    return ps, ms


@torch.no_grad()
def evaluate_group(grouped: nn.Module, x_uint8, y, mean, std, batch_size: int = 1024, *,
                   precision: str = "fp32", channels_last: bool = False) -> list[dict]:
    """:func:`findeval.training.evaluate` for each network of the group (one forward pass per batch)."""
    G = grouped.groups
    grouped.eval()
    loss, correct, n = [0.0] * G, torch.zeros(G, dtype=torch.long), len(y)
    for i in range(0, n, batch_size):
        xb = network_input(grouped, data_mod.normalize(x_uint8[i : i + batch_size], mean, std))
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        yb = y[i : i + batch_size]
        with autocast(xb.device, precision):
            out = grouped(xb)  # (G, B, K)
            per = F.cross_entropy(out.reshape(-1, out.shape[-1]), yb.repeat(G), reduction="none")
        sums = per.view(G, -1).sum(1).tolist()
        loss = [a + b for a, b in zip(loss, sums)]
        correct += (out.argmax(2) == yb).sum(1).cpu()
    return [{"loss": loss[g] / n, "accuracy": int(correct[g]) / n} for g in range(G)]


GROUP_RESUME_KIND = "grouped"


class GroupResume(Resume):
    """One resume file for a whole group (a sweep): the grouped weights and momentum buffers, and, per
    network, its history, its divergence and (once diverged) its frozen state. ``fingerprint`` must cover
    every member (e.g. a digest over the members' own fingerprints, in order). The file has
    :class:`findeval.training.Resume`'s keys; its ``history`` holds one list of G rows (None once a network
    has stopped) per epoch."""

    def save_group(self, epoch: int, grouped, opt, rows: list, elapsed: float, group_state: dict) -> None:
        """Save the group's state after ``epoch`` completed epochs (atomically; a lost file only costs time)."""
        state = {
            "format": RESUME_FORMAT, "format_version": RESUME_VERSION, "kind": GROUP_RESUME_KIND,
            "fingerprint": self.fingerprint, "epoch": int(epoch),
            "model": {k: v.detach().cpu() for k, v in grouped.state_dict().items()},
            "buffers": None if opt.buffers is None else [b.detach().cpu() for b in opt.buffers],
            "history": list(rows), "elapsed": float(elapsed), "rng": torch.get_rng_state(),
            "group": group_state,
        }
        with atomic_path(self.path, fsync=False) as tmp:
            torch.save(state, tmp)

    def load(self, model, epochs: int, log=None):
        """:meth:`findeval.training.Resume.load`, and the file must be this group's (same size, grouped kind)."""
        state = super().load(model, epochs, log)
        if state is not None and (state.get("kind") != GROUP_RESUME_KIND or "group" not in state
                                  or len(state["history"][0]) != model.groups):
            if log:
                log(f"ignoring resume file {self.path}: not the resume file of this group; starting from epoch 0")
            return None
        return state


def _as_models(models_or_states, spec):
    out = []
    for m in models_or_states:
        if isinstance(m, nn.Module):
            out.append(m)
        else:
            if spec is None:
                raise ValueError("state dicts need spec= (the model spec) to build the networks")
            net = models_mod.build(spec)
            models_mod.load_state(net, m, "start state")
            out.append(net)
    return out


def _per_network(grouped: nn.Module, params: list, names: list, values: list) -> list:
    """One tensor per parameter, shaped like it, holding ``values[g]`` in network g's block."""
    out = []
    with torch.no_grad():
        for p, name in zip(params, names):
            t = torch.empty_like(p)
            for g, v in enumerate(values):
                _block_views(grouped, [t], [name], g)[0].fill_(float(v))
            out.append(t)
    return out


def group_hs(h, G: int) -> list[H]:
    """The G networks' hyperparameters: one H for all, or one per network. Networks trained together see the
    same batches, so their batch sizes must agree; LR and weight decay may differ (per-network SGD)."""
    hs = list(h) if isinstance(h, (list, tuple)) else [h] * G
    if len(hs) != G:
        raise ValueError(f"{G} networks but {len(hs)} hyperparameter settings")
    sizes = sorted({x.batch_size for x in hs})
    if len(sizes) != 1:
        raise ValueError(f"networks trained as one group share their batches: batch sizes {sizes} differ")
    return hs


def _data_seeds(data_seed, G: int) -> int | list[int]:
    """One data-order seed for every network (an int: one shared batch per step), or a list of G (each network
    its own data order and augmentation: other replicates); a list of one repeated seed is that seed."""
    if not isinstance(data_seed, (list, tuple)):
        return int(data_seed)
    seeds = [int(x) for x in data_seed]
    if len(seeds) != G:
        raise ValueError(f"{G} networks but {len(seeds)} data seeds")
    return seeds[0] if len(set(seeds)) == 1 else seeds


def train_group(models_or_states, data, h: H | list, schedule: Schedule, *, data_seed: int | list,
                masks: list | None = None,
                augment: Augment = Augment(), device="cpu", log=None, resume: GroupResume | None = None,
                precision: str = "fp32", channels_last: bool | None = None, first_epoch: int = 0,
                stop_epoch: int | None = None, spec: dict | None = None) -> list[dict]:
    """Train G networks of one architecture with the same data, H and schedule as one grouped network.

    ``h``: one H for every network, or a list of G (the H_find chains of one replicate, trained in lock-step:
    same batch size, so same batches; each network's own LR and weight decay, applied elementwise by the
    optimizer, see :func:`group_hs`).

    ``data_seed``: one seed (every network sees the same batch at each step, the one it would see alone), or one
    per network (the chains of several replicates: network g's batches are those of its own seed, data order and
    augmentation, side by side in its channel block of a grouped stem; the test set is shared).

    ``models_or_states``: the networks (``nn.Module``, trained in place as :func:`findeval.training.train`
    does) or their start state dicts (with ``spec``; the trained modules are then in each result's ``model``).
    ``masks``: one mask (or None) per network. Returns one result per network, in order, with the keys of
    ``train()``'s result (plus ``group_size`` and ``group_train_time_s``; ``model`` for state-dict inputs).
    Arguments as ``train()``; ``resume`` is one :class:`GroupResume` for the whole group. ``log``: one
    callable (per-epoch rows prefixed ``[g/G]``) or a list of G callables (network g's rows, unprefixed, as
    train() writes them).
    ``channels_last``: None (the default) means True: grouped convolutions with few channels per group run
    about 1.5x faster in NHWC on the CPU (measured, benchmarks/grouped.py); the networks are handed back in
    the standard layout either way.
    """
    check_precision(precision)
    channels_last = True if channels_last is None else bool(channels_last)
    log, per_net_log = _split_log(log)
    given_states = not all(isinstance(m, nn.Module) for m in models_or_states)
    nets = _as_models(models_or_states, spec)
    masks = _check_members(nets, masks, per_net_log)
    data_seed = _data_seeds(data_seed, len(nets))
    shared = isinstance(data_seed, int)
    group = _Group(nets, masks, group_hs(h, len(nets)), schedule, device, channels_last, shared_input=shared)
    plan = plan_epochs(data, group.h, schedule, first_epoch, stop_epoch)
    gen = torch.Generator(device="cpu") if shared else [torch.Generator(device="cpu") for _ in nets]
    start_epoch, elapsed = plan.first, 0.0
    saved = resume.load(group.grouped, schedule.epochs, log) if resume is not None else None
    if saved is not None:
        start_epoch, elapsed = group.restore(saved)
        if log:
            log(f"resuming group of {group.G} from {resume.path}: epoch {start_epoch} of {schedule.epochs} completed")
    t0 = time.perf_counter() - elapsed
    for epoch in range(start_epoch, plan.stop):
        if all(group.diverged):
            break
        sums = group.train_epoch(data, gen, data_seed, epoch, plan, augment, precision)
        rows = group.end_epoch(epoch, sums, data, precision, t0)
        _log_rows(rows, log, per_net_log)
        if resume is not None and resume.due(epoch + 1, plan.stop) and not all(group.diverged):
            resume.save_group(epoch + 1, group.grouped, group.opt, group.rows_by_epoch, time.perf_counter() - t0,
                              group.resume_state())
    return group.results(plan.iters, start_epoch, time.perf_counter() - t0, given_states)


def _split_log(log) -> tuple:
    """(the group-wide log, the per-network logs or None): a list of G callables sends the group-wide messages
    (resume) to the first."""
    per_net_log = list(log) if isinstance(log, (list, tuple)) else None
    if per_net_log is not None:
        log = per_net_log[0] if per_net_log else None
    return log, per_net_log


def _check_members(nets: list, masks: list | None, per_net_log: list | None) -> list:
    """The G networks must be at least one, of one architecture, with one mask (or None) and one log each; the
    masks, one per network."""
    G = len(nets)
    if G == 0:
        raise ValueError("train_group needs at least one network")
    masks = list(masks) if masks is not None else [None] * G
    if len(masks) != G:
        raise ValueError(f"{G} networks but {len(masks)} masks")
    if per_net_log is not None and len(per_net_log) != G:
        raise ValueError(f"{G} networks but {len(per_net_log)} log callables")
    keys = list(nets[0].state_dict())
    shapes = {k: tuple(v.shape) for k, v in nets[0].state_dict().items()}
    for i, net in enumerate(nets[1:], 1):
        s = net.state_dict()
        if list(s) != keys or any(tuple(v.shape) != shapes[k] for k, v in s.items()):
            raise ValueError(f"network {i} does not have network 0's architecture")
    return masks


def _log_rows(rows: list, log, per_net_log) -> None:
    """Each network's history row of an epoch: to its own log, as train() writes it, or to the group's log,
    prefixed ``[g/G]`` (None rows: networks that stopped)."""
    G = len(rows)
    for g, row in enumerate(rows):
        if row is None:
            continue
        text = row_text(row)
        if per_net_log is not None:
            per_net_log[g](text)  # train()'s own message
        elif log:
            log(f"[{g + 1}/{G}] {text}")


class _Group:
    """The state of one grouped training (:func:`train_group`'s steps): the G networks and the grouped one, its
    masks and optimizer (per-network LR and weight decay where the H differ), and per network its history, its
    divergence, its frozen state once diverged and its training forward passes (BatchNorm's
    ``num_batches_tracked``, kept outside the grouped network)."""

    def __init__(self, nets: list, masks: list, hs: list[H], schedule: Schedule, device, channels_last: bool,
                 shared_input: bool = True):
        self.nets, self.G, self.schedule, self.device, self.channels_last = nets, len(nets), schedule, device, \
            channels_last
        G = self.G
        starts = [{k: v.detach().cpu() for k, v in net.state_dict().items()} for net in nets]
        self.counters0 = [{k: v.clone() for k, v in s.items() if _is_counter(k)} for s in starts]
        self.grouped = build_grouped(nets[0], G, shared_input)
        load_group(self.grouped, starts)
        prepare_model(self.grouped, device, channels_last)
        self.mparams, self.mtensors = group_masks(self.grouped, masks, device)
        apply_masks(self.mparams, self.mtensors)
        self.names = [n for n, p in self.grouped.named_parameters() if p.requires_grad]
        self.hs, self.h = hs, hs[0]
        self.opt = make_optimizer(self.grouped, schedule, self.h.weight_decay)
        self.lr_scales = None  # one H: the scalar update of train(); else per-network LR and weight decay
        if len(set(hs)) > 1:
            self.lr_scales = _per_network(self.grouped, self.opt.params, self.names, [x.lr for x in hs])
            self.opt.weight_decay = _per_network(self.grouped, self.opt.params, self.names,
                                                 [x.weight_decay for x in hs])
        self.histories = [[] for _ in range(G)]
        self.rows_by_epoch = []  # for the resume file: per epoch, G rows (None once stopped)
        self.diverged = [False] * G
        self.frozen: dict[int, dict] = {}  # g -> state dict at divergence
        self.forwards = [0] * G  # forward passes in train mode that each network has seen
        self.alive = torch.tensor([True] * G, device=device)
        self.lr, self.factor = self.h.lr, 1.0

    def restore(self, saved: dict) -> tuple[int, float]:
        """Put a :class:`GroupResume` state back; (the epoch it resumes at, the time already spent)."""
        restore(self.grouped, self.opt, saved)
        self.rows_by_epoch = [list(r) for r in saved["history"]]
        for rows in self.rows_by_epoch:
            for g, row in enumerate(rows):
                if row is not None:
                    self.histories[g].append(row)
        gs = saved["group"]
        self.diverged, self.forwards = list(gs["diverged"]), list(gs["forwards"])
        self.frozen = {int(g): s for g, s in gs["frozen"].items()}
        self.alive = torch.tensor([not d for d in self.diverged], device=self.device)
        return saved["epoch"], saved["elapsed"]

    def resume_state(self) -> dict:
        """The per-network part of the resume file (:meth:`GroupResume.save_group`'s ``group_state``)."""
        return {"diverged": self.diverged, "forwards": self.forwards, "frozen": self.frozen}

    def network_state(self, g: int) -> dict:
        """Network g's state dict now, its ``num_batches_tracked`` counted from its start."""
        return extract(self.grouped, g, _counter_offsets(self.counters0[g], self.forwards[g]))

    def zero_block(self, g: int) -> None:
        """Zero network g's block of the weights and momentum buffers (it diverged: it stops training)."""
        with torch.no_grad():
            for v in _block_views(self.grouped, self.opt.params, self.names, g):
                v.zero_()
            if self.opt.buffers is not None:
                for v in _block_views(self.grouped, self.opt.buffers, self.names, g):
                    v.zero_()

    def batches(self, data, gen, data_seed, epoch: int, plan, augment: Augment):
        """The epoch's steps ``(it, x, y)``: one shared batch (``data_seed`` an int), or every network's own batch
        (a list of seeds and of generators), ``x`` side by side in channel blocks and ``y`` of shape (G, B)."""
        if isinstance(data_seed, int):
            yield from epoch_batches(data, gen, data_seed, epoch, plan.batch_size, plan.iters, augment,
                                     self.channels_last)
            return
        streams = [epoch_batches(data, g, s, epoch, plan.batch_size, plan.iters, augment, False)
                   for g, s in zip(gen, data_seed)]
        for steps in zip(*streams):
            xb = torch.cat([x for _, x, _ in steps], dim=1)
            if self.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            yield steps[0][0], xb, torch.stack([y for _, _, y in steps])

    def train_epoch(self, data, gen, data_seed, epoch: int, plan, augment: Augment, precision: str) -> dict:
        """One epoch of every live network (0-based ``epoch``); its sums of training loss, correct predictions and
        images seen per network, and the networks that diverged in it (``new``)."""
        G, schedule = self.G, self.schedule
        self.grouped.train()
        tot_loss, seen = [0.0] * G, [0] * G
        tot_correct = torch.zeros(G, dtype=torch.long, device=self.device)
        new_this_epoch = []
        for it, xb, yb in self.batches(data, gen, data_seed, epoch, plan, augment):
            self.factor = schedule.lr_factor(epoch, it, plan.iters)
            self.lr = self.h.lr * self.factor
            B = yb.shape[-1]
            labels = yb.repeat(G) if yb.dim() == 1 else yb.reshape(-1)  # network-major, as out's rows
            with autocast(self.device, precision):
                out = self.grouped(xb)  # (G, B, K)
                per = F.cross_entropy(out.reshape(-1, out.shape[-1]), labels, reduction="none",
                                      label_smoothing=schedule.label_smoothing)
                losses = per.view(G, B).mean(1)
            values = losses.tolist()
            newly = [g for g in range(G) if not self.diverged[g] and not math.isfinite(values[g])]
            for g in newly:  # as train(): weights before this step, BN buffers after this forward pass
                self.forwards[g] += 1
                self.frozen[g] = self.network_state(g)
                self.diverged[g] = True
                new_this_epoch.append(g)
            if newly:
                self.alive = torch.tensor([not d for d in self.diverged], device=self.device)
            if all(self.diverged):
                break
            self.opt.zero_grad()
            loss = losses.sum() if not any(self.diverged) else torch.where(self.alive, losses, 0.0).sum()
            loss.backward()
            if self.lr_scales is None:
                self.opt.step(self.lr)
            else:
                self.opt.step(self.factor, self.lr_scales)
            apply_masks(self.mparams, self.mtensors)
            for g in newly:
                self.zero_block(g)
            for g in range(G):
                if not self.diverged[g]:
                    tot_loss[g] += values[g] * B
                    seen[g] += B
                    self.forwards[g] += 1
            tot_correct += ((out.argmax(2) == yb) & self.alive[:, None]).sum(1)
        return {"loss": tot_loss, "correct": tot_correct, "seen": seen, "new": new_this_epoch}

    def end_epoch(self, epoch: int, sums: dict, data, precision: str, t0: float) -> list:
        """Evaluate every network after an epoch (a network that diverged in it with the state it had then) and
        record its history row (time since ``t0``, a ``time.perf_counter()``); the G rows (None for networks that
        had stopped before)."""
        G, new_this_epoch = self.G, sums["new"]
        live = [g for g in range(G) if not self.diverged[g] or g in new_this_epoch]
        tests = evaluate_group(self.grouped, data.x_test, data.y_test, data.mean, data.std, precision=precision,
                               channels_last=self.channels_last)
        correct = sums["correct"].tolist()
        for g in new_this_epoch:  # a diverged network is evaluated with the state it had when it diverged
            self.nets[g].load_state_dict(self.frozen[g])
            self.nets[g].to(self.device)
            tests[g] = evaluate(self.nets[g], data.x_test, data.y_test, data.mean, data.std, precision=precision,
                                channels_last=False)
        time_s = round(time.perf_counter() - t0, 3)
        rows = [None] * G
        for g in live:
            lr = self.lr if self.lr_scales is None else self.hs[g].lr * self.factor
            rows[g] = epoch_row(epoch + 1, lr, sums["loss"][g], correct[g], sums["seen"][g], tests[g], time_s)
            self.histories[g].append(rows[g])
        self.rows_by_epoch.append(rows)
        return rows

    def results(self, iters: int, start_epoch: int, total: float, given_states: bool) -> list[dict]:
        """Each network's trained weights put back into its module (a diverged one's as they were when it
        diverged) and its result (:func:`findeval.training.run_result`, plus ``group_size``,
        ``group_train_time_s`` and, for state-dict inputs, ``model``)."""
        G, out = self.G, []
        for g in range(G):
            self.nets[g].load_state_dict(self.frozen[g] if self.diverged[g] else self.network_state(g))
            self.nets[g].to(self.device)
            res = run_result(self.histories[g], diverged=self.diverged[g], iters=iters, resumed_from=start_epoch,
                             train_time_s=round(total / G, 3))
            res.update(group_size=G, group_train_time_s=round(total, 3))
            if given_states:
                res["model"] = self.nets[g]
            out.append(res)
        return out


def _counter_offsets(start_counters: dict, forwards: int) -> dict:
    """Network g's ``num_batches_tracked``: its start value plus the training forward passes it has seen."""
    return {k: v + forwards for k, v in start_counters.items()}

