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
- Resume (:class:`Resume`): after every completed epoch the state a killed job needs to go on is saved
  (weights with BN buffers, momentum buffers, history, epoch count, the global RNG state). The data
  order and augmentation need no saved state: their generator is reseeded per epoch, so the epoch count
  is the position in the data order. A resumed run ends bit for bit where an uninterrupted one does (CPU).
- Speed options for GPUs (:func:`train`): ``precision="bf16"`` runs the forward pass and the loss under
  ``torch.autocast`` in bfloat16 (weights, gradients, masks and the optimizer stay float32);
  ``channels_last=True`` stores the convolution weights and the input batches in NHWC order during
  training (the model is handed back in the standard layout). The defaults (``"fp32"``, ``False``) run
  exactly the float32 code path, bit for bit.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from . import data as data_mod
from . import regime
from .hparams import H, derive_seed
from .io import atomic_path
from .regime import Schedule  # noqa: F401 (torch-free, with the LR arithmetic; training.Schedule for callers)


@dataclass(frozen=True)
class Augment:
    """The ``dataset.augment`` block (defaults: the schema's, tested); ``enabled=False`` for ``augment: null``."""

    crop_scale: tuple = (0.08, 1.0)
    crop_ratio: tuple = (0.75, 1.3333333)
    flip: bool = True
    enabled: bool = True

    @classmethod
    def from_config(cls, block: dict | None) -> "Augment":
        """The config's ``dataset.augment`` block (None or empty: no augmentation)."""
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
        """Drop every parameter's gradient."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, lr: float, lr_scales: list | None = None) -> None:
        """One update with learning rate ``lr``. Per-element hyperparameters (grouped networks with their own
        H, :func:`findeval.grouped.train_group`): ``weight_decay`` may be a list of tensors, one per parameter,
        broadcastable to it, and ``lr_scales`` a list of such tensors that multiply ``lr`` elementwise."""
        params = [p for p in self.params if p.grad is not None]
        if len(params) != len(self.params):
            raise RuntimeError("every trainable parameter must have a gradient")
        grads = [p.grad for p in params]
        if isinstance(self.weight_decay, (list, tuple)):
            grads = torch._foreach_add(grads, torch._foreach_mul(params, self.weight_decay))
        elif self.weight_decay:
            grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        if self.momentum:
            if self.buffers is None:
                self.buffers = [g.detach().clone() for g in grads]
            else:
                torch._foreach_mul_(self.buffers, self.momentum)
                torch._foreach_add_(self.buffers, grads)
            grads = torch._foreach_add(grads, self.buffers, alpha=self.momentum) if self.nesterov else self.buffers
        if lr_scales is None:
            torch._foreach_add_(params, grads, alpha=-lr)
        else:
            torch._foreach_addcmul_(params, grads, lr_scales, value=-lr)

    def state_dict(self) -> dict:
        """The momentum buffers (copies; None before the first step)."""
        return {"buffers": None if self.buffers is None else [b.clone() for b in self.buffers]}

    def load_state_dict(self, state: dict) -> None:
        """Set the momentum buffers from :meth:`state_dict` (copies)."""
        self.buffers = None if state["buffers"] is None else [b.clone() for b in state["buffers"]]


RESUME_FORMAT = "findeval-resume"
RESUME_VERSION = 1
_RESUME_KEYS = {"format", "format_version", "fingerprint", "epoch", "model", "buffers", "history", "elapsed", "rng"}


@dataclass(frozen=True)
class Resume:
    """Where a training saves the state it resumes from, and for which run.

    ``fingerprint`` identifies everything the run depends on (start weights, mask, data, H, training
    settings, seeds, device): a file with another fingerprint is from another run and is ignored.
    ``every``: epochs between saves (0: never save, never resume). The final epoch is never saved (the
    job writes its outputs right after it). Files are written atomically (``findeval.io.atomic_path``)
    and only ever loaded with ``torch.load(..., weights_only=True)``.
    """

    path: str
    fingerprint: str
    every: int = 1

    def load(self, model, epochs: int, log=None) -> dict | None:
        """The saved state if the file exists and belongs to this run; else None (and says why)."""
        if self.every <= 0 or not os.path.exists(self.path):
            return None
        say = log or (lambda msg: None)
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - a resume file is only a shortcut: never fail on it
            say(f"ignoring resume file {self.path}: unreadable ({type(err).__name__}: {err}); starting from epoch 0")
            return None
        problem = None
        params = [p for p in model.parameters() if p.requires_grad]
        if not isinstance(state, dict) or state.get("format") != RESUME_FORMAT:
            problem = "not a findeval resume file"
        elif not _RESUME_KEYS <= set(state):
            problem = f"it lacks {', '.join(sorted(_RESUME_KEYS - set(state)))}"
        elif state.get("format_version") != RESUME_VERSION:
            problem = f"format_version {state.get('format_version')}, expected {RESUME_VERSION}"
        elif state.get("fingerprint") != self.fingerprint:
            problem = "it was written by a run with other inputs or settings (fingerprint differs)"
        elif not isinstance(state.get("epoch"), int) or not 1 <= state["epoch"] <= epochs:
            problem = f"epoch {state.get('epoch')!r} is not in 1..{epochs}"
        elif len(state.get("history", [])) != state["epoch"]:
            problem = "its history does not match its epoch count"
        elif set(state["model"]) != set(model.state_dict()) or any(
                tuple(v.shape) != tuple(state["model"][k].shape) for k, v in model.state_dict().items()):
            problem = "its weights do not fit this model"
        elif state["buffers"] is not None and [tuple(b.shape) for b in state["buffers"]] != [
                tuple(p.shape) for p in params]:
            problem = "its momentum buffers do not fit this model"
        if problem:
            say(f"ignoring resume file {self.path}: {problem}; starting from epoch 0")
            return None
        return state

    def save(self, epoch: int, model, opt: "SGD", history: list, elapsed: float) -> None:
        """Save the state after ``epoch`` completed epochs (atomically, without fsync: a lost file only costs
        time)."""
        state = {
            "format": RESUME_FORMAT,
            "format_version": RESUME_VERSION,
            "fingerprint": self.fingerprint,
            "epoch": int(epoch),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "buffers": None if opt.buffers is None else [b.detach().cpu() for b in opt.buffers],
            "history": list(history),
            "elapsed": float(elapsed),
            "rng": torch.get_rng_state(),
        }
        with atomic_path(self.path, fsync=False) as tmp:  # a lost resume file only costs time
            torch.save(state, tmp)

    def due(self, epoch: int, epochs: int) -> bool:
        """Save after ``epoch`` (1-based) completed epochs? Every ``every`` epochs, never after the last."""
        return self.every > 0 and epoch < epochs and epoch % self.every == 0

    def remove(self) -> None:
        """Delete the file (once the run's outputs are written); no file is fine."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def mask_tensors(model, mask: dict | None, device) -> tuple[list, list]:
    """Parameters and float masks (same device, dtype and memory layout) for every masked tensor of ``model``."""
    if not mask:
        return [], []
    params = dict(model.named_parameters())
    ps, ms = [], []
    for name, m in mask.items():
        p = params[name]
        ps.append(p)
        # empty_like keeps p's strides (channels_last included), so one _foreach_mul_ covers all tensors
        ms.append(torch.empty_like(p).copy_(torch.as_tensor(m, device=device)))
    return ps, ms


#: Values of ``precision`` (:func:`train`, :func:`evaluate`).
PRECISIONS = ("fp32", "bf16")


def check_precision(precision: str) -> None:
    """A ValueError unless ``precision`` is one of :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}")


def autocast(device, precision: str):
    """The context of a forward pass: nothing for fp32, ``torch.autocast`` to bfloat16 for bf16."""
    check_precision(precision)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


@torch.no_grad()
def apply_masks(params: list, masks: list) -> None:
    """Multiply each parameter by its mask in place (:func:`mask_tensors`): pruned weights become exactly 0."""
    if params:
        torch._foreach_mul_(params, masks)


@torch.no_grad()
def evaluate(model, x_uint8, y, mean, std, batch_size: int = 1024, *, precision: str = "fp32",
             channels_last: bool = False) -> dict:
    """Test loss (mean cross-entropy) and accuracy of ``model`` on uint8 images ``x_uint8`` normalised with
    ``mean``/``std``, in eval mode, in batches of ``batch_size``."""
    check_precision(precision)
    model.eval()
    correct, loss, n = 0, 0.0, len(y)
    for i in range(0, n, batch_size):
        xb = data_mod.normalize(x_uint8[i : i + batch_size], mean, std)
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with autocast(xb.device, precision):
            out = model(xb)
            loss += F.cross_entropy(out, y[i : i + batch_size], reduction="sum").item()
        correct += (out.argmax(1) == y[i : i + batch_size]).sum().item()
    return {"loss": loss / n, "accuracy": correct / n}


def epoch_batches(data, gen, data_seed: int, epoch: int, bs: int, iters: int, augment: Augment,
                  channels_last: bool = False):
    """The training batches ``(it, x, y)`` of one epoch: the data order of ``derive_seed(data_seed, "epoch",
    epoch)``, normalised and augmented from the same generator. The one definition of what a network sees in an
    epoch (train(), and findeval.grouped, whose G networks see exactly these batches)."""
    gen.manual_seed(derive_seed(data_seed, "epoch", epoch))
    order = torch.randperm(len(data.y_train), generator=gen).to(data.x_train.device)
    for it in range(iters):
        idx = order[it * bs : (it + 1) * bs]
        xb = data_mod.normalize(data.x_train[idx], data.mean, data.std)
        if augment.enabled:
            xb = data_mod.augment(xb, gen, crop_scale=augment.crop_scale, crop_ratio=augment.crop_ratio,
                                  flip=augment.flip)
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        yield it, xb, data.y_train[idx]


# --------------------------------------------------------------------------- the training skeleton
#
# What train() and findeval.grouped.train_group share: the model on its device and layout, the optimizer, the
# epochs and iterations of a run, restoring a resume state, an epoch's history row and its log line, the result.


@dataclass(frozen=True)
class Epochs:
    """The iteration plan of a run: batch size (at most the training set), iterations per epoch
    (:func:`findeval.regime.steps_per_epoch`), and the epochs ``first .. stop - 1`` of the schedule it runs."""

    batch_size: int
    iters: int
    first: int
    stop: int


def plan_epochs(data, h: H, schedule: Schedule, first_epoch: int = 0, stop_epoch: int | None = None) -> Epochs:
    """:class:`Epochs` of a run on ``data`` with ``h``; epochs outside the schedule are a ValueError."""
    n = len(data.y_train)
    bs = min(h.batch_size, n)
    iters = regime.steps_per_epoch(n, bs)
    stop = schedule.epochs if stop_epoch is None else int(stop_epoch)
    if not 0 <= first_epoch < stop <= schedule.epochs:
        raise ValueError(f"epochs {first_epoch}..{stop} are not a part of the schedule's {schedule.epochs} epochs")
    return Epochs(bs, iters, int(first_epoch), stop)


def prepare_model(model, device, channels_last: bool) -> None:
    """Move ``model`` to ``device`` in train mode (NHWC weights with ``channels_last``)."""
    model.to(device).train()
    if channels_last:
        model.to(memory_format=torch.channels_last)


def make_optimizer(model, schedule: Schedule, weight_decay) -> SGD:
    """The run's :class:`SGD` over ``model``'s parameters (momentum and Nesterov from the schedule)."""
    return SGD(list(model.parameters()), momentum=schedule.momentum, nesterov=schedule.nesterov,
               weight_decay=weight_decay)


def restore(model, opt: SGD, saved: dict) -> None:
    """Put a resume state (:meth:`Resume.load`) back: the weights, the momentum buffers (on the parameters'
    devices) and the global RNG state."""
    model.load_state_dict(saved["model"])
    bufs = saved["buffers"]
    opt.load_state_dict({"buffers": None if bufs is None else [b.to(p.device) for b, p in zip(bufs, opt.params)]})
    torch.set_rng_state(saved["rng"])


def epoch_row(epoch: int, lr: float, loss_sum: float, correct: int, seen: int, test: dict, time_s: float) -> dict:
    """One epoch's history row (``epoch`` counted from 1): its last LR, the mean training loss and accuracy over
    the ``seen`` images, the test loss and accuracy (:func:`evaluate`) and the time since the start."""
    return {
        "epoch": epoch,
        "lr": lr,
        "train_loss": loss_sum / max(seen, 1),
        "train_accuracy": correct / max(seen, 1),
        "test_loss": test["loss"],
        "test_accuracy": test["accuracy"],
        "time_s": time_s,
    }


def row_text(row: dict) -> str:
    """A history row as the job log writes it (``epoch=1 lr=0.1 ...``)."""
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())


def run_result(history: list, *, diverged: bool, iters: int, resumed_from: int, train_time_s: float) -> dict:
    """What a training returns (:func:`train`; per network, :func:`findeval.grouped.train_group`): the final
    epoch's test accuracy and losses (None when not finite), divergence, epochs completed (a diverged run's
    last epoch does not count), iterations per epoch, the epoch it resumed from, its time and its history."""
    final = history[-1]
    return {
        "test_accuracy": final["test_accuracy"],
        "test_loss": final["test_loss"] if math.isfinite(final["test_loss"]) else None,
        "train_loss": final["train_loss"] if math.isfinite(final["train_loss"]) else None,
        "diverged": diverged,
        "epochs_completed": len(history) if not diverged else len(history) - 1,
        "iterations_per_epoch": iters,
        "resumed_from_epoch": resumed_from,
        "train_time_s": train_time_s,
        "history": history,
    }


def train(model, data, h: H, schedule: Schedule, *, data_seed: int, mask: dict | None = None,
          augment: Augment = Augment(), device="cpu", log=None, resume: Resume | None = None,
          precision: str = "fp32", channels_last: bool = False, first_epoch: int = 0,
          stop_epoch: int | None = None, on_epoch_end=None) -> dict:
    """Train ``model`` in place on ``data`` with hyperparameters ``h``; returns final metrics and history.

    Epochs ``first_epoch .. stop_epoch - 1`` of the schedule run (default: all of them). Starting at
    ``first_epoch = k`` resumes the LR schedule and the data order at epoch k (late rewinding: the weights
    of epoch k trained on to the end, optimizer state fresh); ``stop_epoch = k`` stops after epoch k (early
    pruning, snapshots). ``on_epoch_end(epoch, model)`` is called after every completed epoch (epoch counted
    from 1, as in ``history``), e.g. to save or measure the weights.

    With ``resume``, a state saved by an earlier, interrupted call of the same run is picked up (the
    result's ``resumed_from_epoch`` says from which epoch; 0 = from the start) and a state is saved after
    every ``resume.every`` epochs.

    ``precision`` (``"fp32"`` or ``"bf16"``: autocast of the forward pass and loss, training and
    evaluation) and ``channels_last`` (NHWC weights and batches) are speed options for GPUs; see the
    module docstring.
    """
    check_precision(precision)
    prepare_model(model, device, channels_last)
    params, masks = mask_tensors(model, mask, device)
    apply_masks(params, masks)
    opt = make_optimizer(model, schedule, h.weight_decay)
    plan = plan_epochs(data, h, schedule, first_epoch, stop_epoch)
    bs, iters, stop = plan.batch_size, plan.iters, plan.stop
    gen = torch.Generator(device="cpu")
    history, diverged, start_epoch, elapsed = [], False, plan.first, 0.0
    saved = resume.load(model, schedule.epochs, log) if resume is not None else None
    if saved is not None:
        restore(model, opt, saved)
        history, start_epoch, elapsed = list(saved["history"]), saved["epoch"], saved["elapsed"]
        if log:
            log(f"resuming from {resume.path}: epoch {start_epoch} of {schedule.epochs} completed")
    t0 = time.perf_counter() - elapsed
    for epoch in range(start_epoch, stop):
        model.train()
        tot_loss, tot_correct, seen = 0.0, 0, 0
        for it, xb, yb in epoch_batches(data, gen, data_seed, epoch, bs, iters, augment, channels_last):
            lr = h.lr * schedule.lr_factor(epoch, it, iters)
            with autocast(device, precision):
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
        test = evaluate(model, data.x_test, data.y_test, data.mean, data.std, precision=precision,
                        channels_last=channels_last)
        row = epoch_row(epoch + 1, lr, tot_loss, tot_correct, seen, test, round(time.perf_counter() - t0, 3))
        history.append(row)
        if log:
            log(row_text(row))
        if diverged:
            break
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, model)
        if resume is not None and resume.due(epoch + 1, stop):
            resume.save(epoch + 1, model, opt, history, time.perf_counter() - t0)
    if channels_last:
        model.to(memory_format=torch.contiguous_format)
    return run_result(history, diverged=diverged, iters=iters, resumed_from=start_epoch,
                      train_time_s=round(time.perf_counter() - t0, 3))
