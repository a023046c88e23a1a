"""Training with a mask: SGD (momentum, optional Nesterov), weight decay, multistep or cosine decay,
optional linear warmup and label smoothing.

- Pruned weights stay exactly zero: the mask is applied before the first step and re-applied right after
  every optimizer step, so neither momentum nor weight decay can regrow a pruned weight (pruned
  weights still carry a gradient and a momentum buffer, which are never seen by the forward pass).
- Learning rate at iteration t of epoch e: ``lr * warmup(t) * decay(e)``, with ``warmup(t) = min(1, (t+1)/W)``
  over the first W iterations (W = 0: none) and ``decay`` either ``gamma ** (number of milestones <= e)``
  (multistep, as A.1) or a per-iteration cosine from 1 to 0 over the whole run.
- Data order and augmentation come from one generator reseeded at each epoch from (data seed, epoch).
  The last partial batch is kept, unless it holds a single image (BatchNorm needs two).
- Test accuracy is measured after every epoch; the reported figure is the *final* epoch's (no selection
  of the best epoch on the test set).
- A loss that becomes NaN or infinite stops training: the run is recorded as diverged, with the
  accuracy the model has at that point.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import data as data_mod
from .hparams import H, derive_seed


@dataclass(frozen=True)
class Schedule:
    """Training settings shared by H_find and H_eval (the config's ``training`` block)."""

    epochs: int
    schedule: str = "multistep"
    milestones: tuple = ()
    gamma: float = 0.1
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
        it = epoch * iters_per_epoch + it_in_epoch
        warm = min(1.0, (it + 1) / self.warmup_iters) if self.warmup_iters > 0 else 1.0
        if self.schedule == "multistep":
            decay = self.gamma ** sum(1 for m in self.milestones if epoch >= m)
        elif self.schedule == "cosine":
            decay = 0.5 * (1 + math.cos(math.pi * it / (self.epochs * iters_per_epoch)))
        else:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose multistep or cosine")
        return warm * decay


@dataclass(frozen=True)
class Augment:
    crop_scale: tuple = (0.08, 1.0)
    crop_ratio: tuple = (3 / 4, 4 / 3)
    flip: bool = True
    enabled: bool = True

    @classmethod
    def from_config(cls, block: dict | None) -> "Augment":
        if not block:
            return cls(enabled=False)
        return cls(tuple(block.get("crop_scale", cls.crop_scale)), tuple(block.get("crop_ratio", cls.crop_ratio)),
                   bool(block.get("flip", True)), bool(block.get("enabled", True)))


class SGD:
    """SGD with momentum (optionally Nesterov) and L2 weight decay, exactly ``torch.optim.SGD``'s update
    with dampening 0 (tested against it), written with ``_foreach`` ops.

    Why not ``torch.optim.SGD``: constructing any ``torch.optim`` optimizer imports ``torch._dynamo``
    (about 1.1 s here), which is paid again by every one of the pipeline's many short jobs.
    """

    def __init__(self, params: list, *, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0):
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.params = [p for p in params if p.requires_grad]
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay
        self.buffers = None

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, lr: float) -> None:
        params = [p for p in self.params if p.grad is not None]
        if len(params) != len(self.params):
            raise RuntimeError("every trainable parameter must have a gradient")
        grads = [p.grad for p in params]
        if self.weight_decay:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        if self.momentum:
            if self.buffers is None:
                self.buffers = [g.detach().clone() for g in grads]
            else:
                torch._foreach_mul_(self.buffers, self.momentum)
                torch._foreach_add_(self.buffers, grads)
            grads = torch._foreach_add(grads, self.buffers, alpha=self.momentum) if self.nesterov else self.buffers
        torch._foreach_add_(params, grads, alpha=-lr)

    def state_dict(self) -> dict:
        return {"buffers": None if self.buffers is None else [b.clone() for b in self.buffers]}

    def load_state_dict(self, state: dict) -> None:
        self.buffers = None if state["buffers"] is None else [b.clone() for b in state["buffers"]]


def mask_tensors(model, mask: dict | None, device) -> tuple[list, list]:
    """Parameters and float masks (same device/dtype) for every masked tensor of ``model``."""
    if not mask:
        return [], []
    params = dict(model.named_parameters())
    ps, ms = [], []
    for name, m in mask.items():
        p = params[name]
        ps.append(p)
        ms.append(torch.as_tensor(m, device=device).to(p.dtype))
    return ps, ms


@torch.no_grad()
def apply_masks(params: list, masks: list) -> None:
    if params:
        torch._foreach_mul_(params, masks)


@torch.no_grad()
def evaluate(model, x_uint8, y, mean, std, batch_size: int = 1024) -> dict:
    model.eval()
    correct, loss, n = 0, 0.0, len(y)
    for i in range(0, n, batch_size):
        xb = data_mod.normalize(x_uint8[i : i + batch_size], mean, std)
        out = model(xb)
        loss += F.cross_entropy(out, y[i : i + batch_size], reduction="sum").item()
        correct += (out.argmax(1) == y[i : i + batch_size]).sum().item()
    return {"loss": loss / n, "accuracy": correct / n}


def train(model, data, h: H, schedule: Schedule, *, data_seed: int, mask: dict | None = None,
          augment: Augment = Augment(), device="cpu", log=None) -> dict:
    """Train ``model`` in place on ``data`` with hyperparameters ``h``; returns final metrics and history."""
    model.to(device).train()
    params, masks = mask_tensors(model, mask, device)
    apply_masks(params, masks)
    opt = SGD(list(model.parameters()), momentum=schedule.momentum, nesterov=schedule.nesterov,
              weight_decay=h.weight_decay)
    n = len(data.y_train)
    bs = min(h.batch_size, n)
    n_full, rest = divmod(n, bs)
    iters = n_full + (1 if rest > 1 else 0)
    gen = torch.Generator(device="cpu")
    history, diverged, t0 = [], False, time.perf_counter()
    for epoch in range(schedule.epochs):
        gen.manual_seed(derive_seed(data_seed, "epoch", epoch))
        order = torch.randperm(n, generator=gen).to(data.x_train.device)
        model.train()
        tot_loss, tot_correct, seen = 0.0, 0, 0
        for it in range(iters):
            idx = order[it * bs : (it + 1) * bs]
            lr = h.lr * schedule.lr_factor(epoch, it, iters)
            xb = data_mod.normalize(data.x_train[idx], data.mean, data.std)
            if augment.enabled:
                xb = data_mod.augment(xb, gen, crop_scale=augment.crop_scale, crop_ratio=augment.crop_ratio,
                                      flip=augment.flip)
            yb = data.y_train[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb, label_smoothing=schedule.label_smoothing)
            if not torch.isfinite(loss):
                diverged = True
                break
            opt.zero_grad()
            loss.backward()
            opt.step(lr)
            apply_masks(params, masks)
            tot_loss += loss.item() * len(yb)
            tot_correct += (out.argmax(1) == yb).sum().item()
            seen += len(yb)
        test = evaluate(model, data.x_test, data.y_test, data.mean, data.std)
        row = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": tot_loss / max(seen, 1),
            "train_accuracy": tot_correct / max(seen, 1),
            "test_loss": test["loss"],
            "test_accuracy": test["accuracy"],
            "time_s": round(time.perf_counter() - t0, 3),
        }
        history.append(row)
        if log:
            log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        if diverged:
            break
    final = history[-1]
    return {
        "test_accuracy": final["test_accuracy"],
        "test_loss": final["test_loss"] if math.isfinite(final["test_loss"]) else None,
        "train_loss": final["train_loss"] if math.isfinite(final["train_loss"]) else None,
        "diverged": diverged,
        "epochs_completed": len(history) if not diverged else len(history) - 1,
        "iterations_per_epoch": iters,
        "train_time_s": round(time.perf_counter() - t0, 3),
        "history": history,
    }
