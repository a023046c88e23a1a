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
  it, is shared by all G networks: it is the batch each would see alone;
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
from . import regime
from .hparams import H
from .training import (RESUME_FORMAT, RESUME_VERSION, SGD, Augment, Resume, Schedule, apply_masks, autocast,
                       check_precision, epoch_batches, evaluate)


class GroupedLinear(nn.Module):
    """G linear layers on the G blocks of a ``(B, G * in)`` input; output ``(G, B, out)``."""

    def __init__(self, groups: int, in_features: int, out_features: int):
        super().__init__()
        self.groups, self.in_features, self.out_features = groups, in_features, out_features
        self.weight = nn.Parameter(torch.empty(groups, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(groups, out_features))

    def forward(self, x):
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


def build_grouped(template: nn.Module, groups: int) -> nn.Module:
    """A network holding ``groups`` copies of ``template``'s architecture (weights unset: see :func:`load_group`).

    The template's own ``forward`` runs unchanged: only its Conv2d, BatchNorm2d and Linear modules are replaced,
    and every other operation (ReLU, pooling, residual additions, flatten) is channelwise or shape-agnostic."""
    G = int(groups)
    if G < 1:
        raise ValueError("a group needs at least one network")
    net = copy.deepcopy(template)
    stem = _stem_name(template)
    for name, m in list(template.named_modules()):
        if isinstance(m, nn.Conv2d):
            if m.padding_mode != "zeros":
                raise ValueError(f"{name}: only zero padding is supported")
            shared = name == stem
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
    net.groups = G
    return net


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
        xb = data_mod.normalize(x_uint8[i : i + batch_size], mean, std)
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
        from .io import atomic_path

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
        state = super().load(model, epochs, log)
        if state is not None and (state.get("kind") != GROUP_RESUME_KIND or "group" not in state
                                  or len(state["history"][0]) != model.groups):
            if log:
                log(f"ignoring resume file {self.path}: not the resume file of this group; starting from epoch 0")
            return None
        return state


def _as_models(models_or_states, spec):
    from . import models as models_mod

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


def train_group(models_or_states, data, h: H | list, schedule: Schedule, *, data_seed: int, masks: list | None = None,
                augment: Augment = Augment(), device="cpu", log=None, resume: GroupResume | None = None,
                precision: str = "fp32", channels_last: bool | None = None, first_epoch: int = 0,
                stop_epoch: int | None = None, spec: dict | None = None) -> list[dict]:
    """Train G networks of one architecture with the same data, H and schedule as one grouped network.

    ``h``: one H for every network, or a list of G (the H_find chains of one replicate, trained in lock-step:
    same batch size, so same batches; each network's own LR and weight decay, applied elementwise by the
    optimizer, see :func:`group_hs`).

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
    per_net_log = list(log) if isinstance(log, (list, tuple)) else None
    if per_net_log is not None:
        log = per_net_log[0] if per_net_log else None  # group-wide messages (resume) go to the first
    given_states = not all(isinstance(m, nn.Module) for m in models_or_states)
    nets = _as_models(models_or_states, spec)
    G = len(nets)
    if G == 0:
        raise ValueError("train_group needs at least one network")
    masks = list(masks) if masks is not None else [None] * G
    if len(masks) != G:
        raise ValueError(f"{G} networks but {len(masks)} masks")
    if isinstance(log, (list, tuple)) and len(log) != G:
        raise ValueError(f"{G} networks but {len(log)} log callables")
    keys = list(nets[0].state_dict())
    shapes = {k: tuple(v.shape) for k, v in nets[0].state_dict().items()}
    for i, net in enumerate(nets[1:], 1):
        s = net.state_dict()
        if list(s) != keys or any(tuple(v.shape) != shapes[k] for k, v in s.items()):
            raise ValueError(f"network {i} does not have network 0's architecture")
    starts = [{k: v.detach().cpu() for k, v in net.state_dict().items()} for net in nets]
    counters0 = [{k: v.clone() for k, v in s.items() if _is_counter(k)} for s in starts]
    grouped = build_grouped(nets[0], G)
    load_group(grouped, starts)
    grouped.to(device).train()
    if channels_last:
        grouped.to(memory_format=torch.channels_last)
    mparams, mtensors = group_masks(grouped, masks, device)
    apply_masks(mparams, mtensors)
    names = [n for n, p in grouped.named_parameters() if p.requires_grad]
    hs = group_hs(h, G)
    h = hs[0]
    opt = SGD(list(grouped.parameters()), momentum=schedule.momentum, nesterov=schedule.nesterov,
              weight_decay=h.weight_decay)
    lr_scales = None  # one H: the scalar update of train(); else per-network LR and weight decay
    if len(set(hs)) > 1:
        lr_scales = _per_network(grouped, opt.params, names, [x.lr for x in hs])
        opt.weight_decay = _per_network(grouped, opt.params, names, [x.weight_decay for x in hs])
    n = len(data.y_train)
    bs = min(h.batch_size, n)
    iters = regime.steps_per_epoch(n, bs)
    gen = torch.Generator(device="cpu")
    stop = schedule.epochs if stop_epoch is None else int(stop_epoch)
    if not 0 <= first_epoch < stop <= schedule.epochs:
        raise ValueError(f"epochs {first_epoch}..{stop} are not a part of the schedule's {schedule.epochs} epochs")

    histories = [[] for _ in range(G)]
    rows_by_epoch = []  # for the resume file: per epoch, G rows (None once stopped)
    diverged = [False] * G
    frozen: dict[int, dict] = {}  # g -> state dict at divergence
    start_epoch, elapsed = int(first_epoch), 0.0
    # forward passes in train mode that each network has seen (BatchNorm's num_batches_tracked)
    forwards = [0] * G
    saved = resume.load(grouped, schedule.epochs, log) if resume is not None else None
    if saved is not None:
        grouped.load_state_dict(saved["model"])
        bufs = saved["buffers"]
        opt.load_state_dict({"buffers": None if bufs is None else [b.to(p.device) for b, p in zip(bufs, opt.params)]})
        torch.set_rng_state(saved["rng"])
        rows_by_epoch = [list(r) for r in saved["history"]]
        for rows in rows_by_epoch:
            for g, row in enumerate(rows):
                if row is not None:
                    histories[g].append(row)
        gs = saved["group"]
        diverged, forwards = list(gs["diverged"]), list(gs["forwards"])
        frozen = {int(g): s for g, s in gs["frozen"].items()}
        start_epoch, elapsed = saved["epoch"], saved["elapsed"]
        if log:
            log(f"resuming group of {G} from {resume.path}: epoch {start_epoch} of {schedule.epochs} completed")
    alive = torch.tensor([not d for d in diverged], device=device)
    t0 = time.perf_counter() - elapsed

    def zero_block(g: int) -> None:
        with torch.no_grad():
            for v in _block_views(grouped, opt.params, names, g):
                v.zero_()
            if opt.buffers is not None:
                for v in _block_views(grouped, opt.buffers, names, g):
                    v.zero_()

    lr, factor = h.lr, 1.0
    for epoch in range(start_epoch, stop):
        if all(diverged):
            break
        grouped.train()
        tot_loss, seen = [0.0] * G, [0] * G
        tot_correct = torch.zeros(G, dtype=torch.long, device=device)
        new_this_epoch = []
        for it, xb, yb in epoch_batches(data, gen, data_seed, epoch, bs, iters, augment, channels_last):
            factor = schedule.lr_factor(epoch, it, iters)
            lr = h.lr * factor
            B = len(yb)
            with autocast(device, precision):
                out = grouped(xb)  # (G, B, K)
                per = F.cross_entropy(out.reshape(-1, out.shape[-1]), yb.repeat(G), reduction="none",
                                      label_smoothing=schedule.label_smoothing)
                losses = per.view(G, B).mean(1)
            values = losses.tolist()
            newly = [g for g in range(G) if not diverged[g] and not math.isfinite(values[g])]
            for g in newly:  # as train(): weights before this step, BN buffers after this forward pass
                forwards[g] += 1
                frozen[g] = extract(grouped, g, _counter_offsets(counters0[g], forwards[g]))
                diverged[g] = True
                new_this_epoch.append(g)
            if newly:
                alive = torch.tensor([not d for d in diverged], device=device)
            if all(diverged):
                break
            opt.zero_grad()
            loss = losses.sum() if not any(diverged) else torch.where(alive, losses, 0.0).sum()
            loss.backward()
            if lr_scales is None:
                opt.step(lr)
            else:
                opt.step(factor, lr_scales)
            apply_masks(mparams, mtensors)
            for g in newly:
                zero_block(g)
            for g in range(G):
                if not diverged[g]:
                    tot_loss[g] += values[g] * B
                    seen[g] += B
                    forwards[g] += 1
            tot_correct += ((out.argmax(2) == yb) & alive[:, None]).sum(1)
        live = [g for g in range(G) if not diverged[g] or g in new_this_epoch]
        tests = evaluate_group(grouped, data.x_test, data.y_test, data.mean, data.std, precision=precision,
                               channels_last=channels_last)
        correct = tot_correct.tolist()
        for g in new_this_epoch:  # a diverged network is evaluated with the state it had when it diverged
            nets[g].load_state_dict(frozen[g])
            nets[g].to(device)
            tests[g] = evaluate(nets[g], data.x_test, data.y_test, data.mean, data.std, precision=precision,
                                channels_last=False)
        now = round(time.perf_counter() - t0, 3)
        rows = [None] * G
        for g in live:
            row = {
                "epoch": epoch + 1,
                "lr": lr if lr_scales is None else hs[g].lr * factor,
                "train_loss": tot_loss[g] / max(seen[g], 1),
                "train_accuracy": correct[g] / max(seen[g], 1),
                "test_loss": tests[g]["loss"],
                "test_accuracy": tests[g]["accuracy"],
                "time_s": now,
            }
            histories[g].append(row)
            rows[g] = row
            text = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
            if per_net_log is not None:
                per_net_log[g](text)  # train()'s own message
            elif log:
                log(f"[{g + 1}/{G}] {text}")
        rows_by_epoch.append(rows)
        if resume is not None and resume.due(epoch + 1, stop) and not all(diverged):
            resume.save_group(epoch + 1, grouped, opt, rows_by_epoch, time.perf_counter() - t0,
                              {"diverged": diverged, "forwards": forwards, "frozen": frozen})
    total = time.perf_counter() - t0
    results = []
    for g in range(G):
        if diverged[g]:
            state = frozen[g]
        else:
            state = extract(grouped, g, _counter_offsets(counters0[g], forwards[g]))
        nets[g].load_state_dict(state)
        nets[g].to(device)
        hist = histories[g]
        final = hist[-1]
        res = {
            "test_accuracy": final["test_accuracy"],
            "test_loss": final["test_loss"] if math.isfinite(final["test_loss"]) else None,
            "train_loss": final["train_loss"] if math.isfinite(final["train_loss"]) else None,
            "diverged": diverged[g],
            "epochs_completed": len(hist) if not diverged[g] else len(hist) - 1,
            "iterations_per_epoch": iters,
            "resumed_from_epoch": start_epoch,
            "train_time_s": round(total / G, 3),
            "history": hist,
            "group_size": G,
            "group_train_time_s": round(total, 3),
        }
        if given_states:
            res["model"] = nets[g]
        results.append(res)
    return results


def _counter_offsets(start_counters: dict, forwards: int) -> dict:
    """Network g's ``num_batches_tracked``: its start value plus the training forward passes it has seen."""
    return {k: v + forwards for k, v in start_counters.items()}

