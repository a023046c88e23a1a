"""Speed benchmark of findeval (issue 6): one command, one table.

    python benchmarks/bench.py                      # full run (about 2-3 minutes on 2 cores)
    python benchmarks/bench.py --results results/digits --out benchmarks/results.md
    python benchmarks/bench.py --quick              # tiny budget, numbers only indicative (used by the tests)

It measures, in one run, and prints as a Markdown table (also written to ``--out``):

1. **Training step throughput** (images/s) of ``findeval.training.train`` -- batched tensor augmentation
   (``findeval.data.augment``), ``findeval.training.SGD``, masks re-applied with ``torch._foreach_mul_`` --
   against the loop a user would write by hand: a ``torch.utils.data.DataLoader`` over a ``Dataset`` that
   turns each uint8 image into a PIL image and applies torchvision's per-image transforms
   (``RandomResizedCrop``, ``RandomHorizontalFlip`` where the config uses it, ``ToTensor``, ``Normalize``),
   the same model and initial weights, ``torch.optim.SGD``, and the masks re-applied after every step by
   multiplying the weights. On the default model and data of ``config.yaml`` and on ResNet-18 at 64x64
   (synthetic images, 200 classes). Ours runs the real ``train()`` with a 2-image test set (so its
   per-epoch evaluation is negligible); both loops do the same bookkeeping (loss and accuracy per step),
   and they alternate repeat by repeat, so that a change of the machine's load hits both.
2. **Cost of masking**: the same ``train()`` with and without a mask, interleaved, as a time ratio.
3. **Per-job overhead**: a real training job (``findeval.a1.jobs.train_run``, what ``scripts/train.py``
   runs, after the imports of Snakemake's script preamble) in a fresh process, from the spawn to the
   first optimizer step, against the same span of ``python -c 'import torch'`` (spawn to the end of the
   import; its exit is shown too); where the start-up goes, the interpreter teardown after the job's outputs
   are written, and the start-up's share of the whole job.
4. **Where a pipeline run spends its wall time**, read (never written) from a results folder: the rules'
   ``benchmark:`` records (``<results>/benchmarks/<rule>/**.tsv``, column ``s``: job wall time), the
   ``train_time_s`` of each run's ``metrics.json`` (training and per-epoch evaluation compute), and, when
   found, the Snakemake log of the run (``.snakemake/log``) for the jobs of rules without a
   ``benchmark:`` record and the run's elapsed time. The share of elapsed x cores counts the compute of the jobs
   those logs ran (not every record of the folder), the cores from the "Provided cores" line or else the log's
   command line; it is n/a where a log cannot give its span (``--quiet progress`` drops the job end times) or
   its cores (a cluster executor). A group's record (``find_group_<i>``, ``lpr_find_group_<i>``,
   ``early_find_group_<i>``: one job training several chains in lock-step) counts the compute of every chain it
   trained.
5. **Roofline**: the multiply-adds per second a training step achieves (3x the forward multiply-adds of the
   default model's convolutions and linear layer, per image), for one network (``training.train``) and for a
   group of ``runtime.group`` networks (``grouped.train_group``), beside a 2048 x 2048 float32 matrix product's
   on the same single thread, as a share of that ceiling: how close the step is to what the core can do.

Everything runs on the CPU with one thread per process, as the pipeline's jobs do; each figure is the
median over repeats after a warm-up. No figure here is a pass/fail test: the table's last columns say
whether the targets of issue 6 are met on this machine, under the load printed with it.
"""

from __future__ import annotations

import argparse
import copy
import csv
import glob
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

#: Targets of issue 6 (on 2 cores).
TARGET_STEP_RATIO = 3.0  # our images/s over the reference loop's, default model and data
TARGET_MASK_OVERHEAD = 1.05  # masked step time over unmasked
TARGET_STARTUP_EXTRA_S = 0.5  # spawn -> first step, minus `python -c 'import torch'`
TARGET_COMPUTE_SHARE = 0.85  # share of the default run's wall time inside training/evaluation compute


# --------------------------------------------------------------------------- budgets


@dataclass
class Budget:
    """How much work each measurement does (the defaults are the full benchmark)."""

    repeats: int = 5  # timed repeats of each throughput measurement (median reported)
    epochs: int = 2  # epochs per timed repeat on the default data
    warmup_epochs: int = 1
    mask_pairs: int = 7  # interleaved masked/unmasked pairs
    r18_batch: int = 8  # ResNet-18 batch size
    r18_steps: int = 3  # ResNet-18 steps per timed repeat
    r18_repeats: int = 3
    r18_width: int = 64  # 64 = standard ResNet-18
    r18_size: int = 64
    job_repeats: int = 5  # per-job overhead: fresh processes of each kind
    train_subset: int | None = None  # use only this many default training images (None: all)
    roofline_group: int = 14  # networks in the roofline's grouped step (config.yaml's runtime.group)
    matmul_n: int = 2048  # the roofline ceiling's matrix size

    @classmethod
    def quick(cls) -> "Budget":
        return cls(repeats=1, epochs=1, warmup_epochs=1, mask_pairs=1, r18_batch=2, r18_steps=1, r18_repeats=1,
                   r18_width=8, r18_size=32, job_repeats=1, train_subset=256, roofline_group=2, matmul_n=256)


# --------------------------------------------------------------------------- machine


def machine() -> dict:
    import torch

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:  # pragma: no cover - not on Linux
        load = (float("nan"),) * 3
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "load": load,
        "date": datetime.now().isoformat(timespec="seconds"),
    }


# --------------------------------------------------------------------------- setup


def read_config(path: Path) -> dict:
    """The experiment config, validated against the schema with its defaults filled in (as the Snakefile)."""
    import yaml

    with open(path) as fh:
        config = yaml.safe_load(fh)
    from findeval.workflow import precheck_file, validate_file

    schema = str(REPO / "schemas" / "config.schema.yaml")
    return validate_file(precheck_file(config, schema), schema)


@dataclass
class Case:
    """One model and data set to time a training step on."""

    name: str
    model_spec: dict
    data: object  # findeval.data.Data (with a 2-image test set)
    h: object  # findeval.hparams.H
    schedule: object  # findeval.training.Schedule
    augment: object  # findeval.training.Augment
    mask: dict
    init_state: dict = field(repr=False, default=None)

    @property
    def n_train(self) -> int:
        return len(self.data.y_train)

    def images_per_epoch(self) -> int:
        n, bs = self.n_train, min(self.h.batch_size, self.n_train)
        return n - 1 if n % bs == 1 else n  # train() drops a last batch of one image


def _mask_for(model, level: int, fraction: float, seed: int = 1) -> dict:
    from findeval import masks, models

    names = models.prunable_names(model)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items() if k in names}
    total = sum(int(v.numel()) for k, v in model.state_dict().items() if k in names)
    kept = masks.kept_schedule(total, fraction, level)[level]
    return masks.global_random_mask(shapes, kept, seed)


def _with_small_test(d):
    from findeval.data import Data

    return Data(d.x_train, d.y_train, d.x_test[:2], d.y_test[:2], d.mean, d.std, d.num_classes)


def default_case(config: dict, workdir: Path, budget: Budget) -> Case:
    """The default experiment's model, data (prepared into ``workdir``), H and schedule; a mask of
    ``pruning.levels // 2`` levels."""
    from findeval import data as data_mod, models, training
    from findeval.hparams import H

    ds = config["dataset"]
    path = workdir / "dataset.npz"
    if not path.exists():
        data_mod.prepare(ds["name"], path, root=ds.get("root"), test_fraction=ds.get("test_fraction", 0.2),
                         split_seed=ds.get("split_seed", 0))
    d = _with_small_test(data_mod.load(path))
    if budget.train_subset:
        d.x_train, d.y_train = d.x_train[: budget.train_subset], d.y_train[: budget.train_subset]
    spec = models.model_spec(config["model"], ds["name"])
    model = models.init_model(spec, 0)
    mask = _mask_for(model, max(1, config["pruning"]["levels"] // 2), config["pruning"]["fraction"])
    return Case(
        name=f"{spec['name']} depth {spec.get('depth')} width {spec.get('width')}, {ds['name']} "
             f"{'x'.join(map(str, d.shape[1:]))}, batch {config['defaults']['batch_size']}",
        model_spec=spec, data=d, h=H(**config["defaults"]), schedule=training.Schedule.from_config(config["training"]),
        augment=training.Augment.from_config(ds.get("augment")), mask=mask,
        init_state=copy.deepcopy(model.state_dict()),
    )


def resnet18_case(config: dict, budget: Budget) -> Case:
    """ResNet-18 (findeval.models, small-image stem) at 64x64 on synthetic uint8 images, 200 classes
    (Tiny ImageNet's shape), RandomResizedCrop + flip, a mask of 7 levels."""
    import torch

    from findeval import models, training
    from findeval.data import Data
    from findeval.hparams import H

    g = torch.Generator().manual_seed(0)
    n, s = budget.r18_batch * budget.r18_steps, budget.r18_size
    x = torch.randint(0, 256, (n + 2, 3, s, s), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 200, (n + 2,), generator=g)
    d = Data(x[:n], y[:n], x[n:], y[n:], torch.full((3,), 0.45), torch.full((3,), 0.25), 200)
    spec = {"name": "resnet18", "width": budget.r18_width, "in_channels": 3, "num_classes": 200}
    model = models.init_model(spec, 0)
    tr = config["training"]
    return Case(
        name=f"resnet18 width {budget.r18_width}, synthetic {s}x{s}x3, 200 classes, batch {budget.r18_batch}",
        model_spec=spec, data=d, h=H(0.01, budget.r18_batch, 5e-4),
        schedule=training.Schedule(epochs=1, momentum=tr["momentum"], nesterov=tr["nesterov"]),
        augment=training.Augment((0.08, 1.0), (3 / 4, 4 / 3), True), mask=_mask_for(model, 7, 0.2),
        init_state=copy.deepcopy(model.state_dict()),
    )


# --------------------------------------------------------------------------- throughput: ours


def _fresh_model(case: Case):
    from findeval import models

    model = models.build(case.model_spec)
    model.load_state_dict(case.init_state)
    return model


def time_ours(case: Case, epochs: int, *, masked: bool = True, seed: int = 1) -> float:
    """Seconds that ``findeval.training.train`` takes for ``epochs`` epochs of ``case`` (fresh model from
    the case's initial weights; the model build is not timed)."""
    from dataclasses import replace

    from findeval import training

    model = _fresh_model(case)
    schedule = replace(case.schedule, epochs=epochs)
    t = time.perf_counter()
    result = training.train(model, case.data, case.h, schedule, data_seed=seed,
                            mask=case.mask if masked else None, augment=case.augment)
    elapsed = time.perf_counter() - t
    if result["diverged"]:
        raise RuntimeError(f"benchmark training diverged on {case.name}; timings would be meaningless")
    return elapsed


def masking_cost(case: Case, epochs: int, pairs: int, warmup_epochs: int = 1) -> dict:
    """Masked and unmasked ``train()`` interleaved (same seed in a pair); medians and the median ratio."""
    time_ours(case, warmup_epochs, masked=True)
    time_ours(case, warmup_epochs, masked=False)
    masked, plain, ratios = [], [], []
    for r in range(pairs):
        order = (True, False) if r % 2 == 0 else (False, True)
        t = {m: time_ours(case, epochs, masked=m, seed=r) for m in order}
        masked.append(t[True])
        plain.append(t[False])
        ratios.append(t[True] / t[False])
    n = case.images_per_epoch() * epochs
    return {"masked_ips": n / statistics.median(masked), "unmasked_ips": n / statistics.median(plain),
            "ratio": statistics.median(ratios)}


# --------------------------------------------------------------------------- throughput: reference


def reference_loop(case: Case):
    """The hand-written loop: torchvision per-image transforms on PIL images through a DataLoader,
    ``torch.optim.SGD``, masks re-applied after each step by multiplying the weights.

    Returns ``(run, images_per_epoch)``: ``run(epochs)`` trains a fresh model from the case's initial weights
    and returns the seconds the epochs took."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms as T

    d, aug = case.data, case.augment
    size = tuple(d.shape[1:])
    tf = []
    if aug.enabled:
        tf.append(T.RandomResizedCrop(size, scale=aug.crop_scale, ratio=aug.crop_ratio))
        if aug.flip:
            tf.append(T.RandomHorizontalFlip())
    tf += [T.ToTensor(), T.Normalize(d.mean.tolist(), d.std.tolist())]
    transform = T.Compose(tf)

    class ArrayImages(Dataset):  # as torchvision's CIFAR10: uint8 HWC arrays, a PIL image per __getitem__
        def __init__(self, x, y):
            x = x.numpy().transpose(0, 2, 3, 1)
            self.x = x[..., 0] if x.shape[-1] == 1 else np.ascontiguousarray(x)
            self.y = y.numpy()

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            return transform(Image.fromarray(self.x[i])), int(self.y[i])

    loader = DataLoader(ArrayImages(d.x_train, d.y_train), batch_size=case.h.batch_size, shuffle=True,
                        num_workers=0)

    def run(n_epochs: int) -> float:
        model = _fresh_model(case).train()
        params = dict(model.named_parameters())
        masked = [(params[k], torch.as_tensor(m, dtype=torch.float32)) for k, m in case.mask.items()]
        with torch.no_grad():
            for p, m in masked:
                p.mul_(m)
        opt = torch.optim.SGD(model.parameters(), lr=case.h.lr, momentum=case.schedule.momentum,
                              nesterov=case.schedule.nesterov, weight_decay=case.h.weight_decay)
        iters = len(loader)
        t = time.perf_counter()
        for epoch in range(n_epochs):
            tot_loss, correct, seen = 0.0, 0, 0
            for it, (xb, yb) in enumerate(loader):
                for g in opt.param_groups:
                    g["lr"] = case.h.lr * case.schedule.lr_factor(epoch, it, iters)
                out = model(xb)
                loss = F.cross_entropy(out, yb, label_smoothing=case.schedule.label_smoothing)
                opt.zero_grad()
                loss.backward()
                opt.step()
                with torch.no_grad():
                    for p, m in masked:
                        p.mul_(m)
                tot_loss += loss.item() * len(yb)
                correct += (out.argmax(1) == yb).sum().item()
                seen += len(yb)
        return time.perf_counter() - t

    return run, len(loader.dataset)


def compare_step(case: Case, epochs: int, repeats: int, warmup_epochs: int = 1) -> dict:
    """Our ``train()`` and the reference loop, warmed up, then timed in alternation (so that a change of the
    machine's load hits both); images/s are medians, ``ratio`` the median of the per-repeat ratios."""
    ref_run, ref_images = reference_loop(case)
    time_ours(case, warmup_epochs)
    ref_run(warmup_epochs)
    ours, ref = [], []
    for r in range(repeats):
        ours.append(case.images_per_epoch() * epochs / time_ours(case, epochs, seed=r))
        ref.append(ref_images * epochs / ref_run(epochs))
    return {"name": case.name, "ours_ips": statistics.median(ours), "ref_ips": statistics.median(ref),
            "ratio": statistics.median(o / f for o, f in zip(ours, ref))}


# --------------------------------------------------------------------------- per-job overhead

_CHILD = r"""
import sys, time
t_python = time.time()
import json
repo, out, log = sys.argv[2], sys.argv[3], sys.argv[4]
args = json.loads(sys.argv[5])
try:  # what Snakemake's `script:` preamble imports before the script runs
    import pickle
    from snakemake.logging import logger
    from snakemake.iocontainers import Snakemake
except ImportError:
    pass
sys.path.insert(0, repo)
from findeval import process
from findeval.a1 import jobs
from findeval.hparams import H
import findeval.training as _tr  # imported by train_run anyway; hook train() and its first optimizer step
t_imports = time.time()
_step, _train, _first, _entered = _tr.SGD.step, _tr.train, [], []
def _timed_step(self, lr):
    if not _first:
        _first.append(time.time())
    return _step(self, lr)
def _timed_train(*a, **k):
    _entered.append(time.time())
    return _train(*a, **k)
_tr.SGD.step, _tr.train = _timed_step, _timed_train
process.setup_logging(log)
m = jobs.train_run(out, h_eval=H(**args.pop("h_eval")), h_find=None, **args)
print(json.dumps({"python": t_python, "imports": t_imports, "train_entered": _entered[0], "first_step": _first[0],
                  "train_time_s": m["train_time_s"], "end": time.time()}))
"""


def _spawn(argv: list[str]) -> tuple[float, float, str]:
    """(spawn time as time.time(), seconds until exit, stdout) of a fresh ``python`` process."""
    t0, p0 = time.time(), time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - p0
    if r.returncode != 0:
        raise RuntimeError(f"{argv[:3]} exited {r.returncode}:\n{r.stderr[-3000:]}")
    return t0, elapsed, r.stdout


def job_overhead(config: dict, workdir: Path, repeats: int) -> dict:
    """Fresh processes, interleaved: ``python -c 'import torch'`` and a default training job."""
    from findeval.a1 import jobs
    from findeval.hparams import H

    ds = config["dataset"]
    data = workdir / "dataset.npz"
    if not data.exists():
        jobs.prepare_data(str(data), name=ds["name"], root=ds.get("root"), test_fraction=ds.get("test_fraction", 0.2),
                          split_seed=ds.get("split_seed", 0))
    level = max(1, config["pruning"]["levels"] // 2)
    jobs.init(str(workdir / "init.pt"), str(workdir / "reinit.pt"), str(workdir / "architecture.json"),
              model=config["model"], dataset=ds["name"], seed=0)
    jobs.global_random_mask(str(workdir / "mask.h5"), architecture=str(workdir / "architecture.json"),
                            fraction=config["pruning"]["fraction"], level=level, seed=0)
    args = {"start": str(workdir / "reinit.pt"), "mask": str(workdir / "mask.h5"), "data": str(data),
            "kind": "global_random", "h_eval": H(**config["defaults"]).as_dict(), "level": level, "seed": 0,
            "training": config["training"], "augment": ds.get("augment"), "role": "train_eval",
            "device": "cpu", "threads": 1}
    child = [sys.executable, "-c", _CHILD, "child", str(REPO), str(workdir / "metrics.json"),
             str(workdir / "job.log"), json.dumps(args)]
    imports, imported_at, startup, totals, train, marks, exits = [], [], [], [], [], [], []
    for _ in range(repeats):
        t0, total, out = _spawn([sys.executable, "-c", "import torch, time; print(time.time())"])
        imports.append(total)
        imported_at.append(float(out.strip().splitlines()[-1]) - t0)
        t0, total, out = _spawn(child)
        rec = json.loads(out.strip().splitlines()[-1])
        startup.append(rec["first_step"] - t0)
        marks.append([rec[k] - t0 for k in ("python", "imports", "train_entered", "first_step")])
        exits.append((total, rec["end"] - t0))
        totals.append(total)
        train.append(rec["train_time_s"])
    med = statistics.median
    python_up, imported, entered, first = (med(m[i] for m in marks) for i in range(4))
    return {"import_torch_s": med(imports), "import_torch_done_s": med(imported_at), "startup_s": med(startup),
            "job_s": med(totals),
            "train_time_s": med(train), "startup_share": med(s / t for s, t in zip(startup, totals)),
            "exit_s": med(t0_total - end for t0_total, end in exits),
            # where the start-up goes (medians of each mark, seconds)
            "parts": {"interpreter": python_up, "imports (snakemake preamble, findeval, torch)": imported - python_up,
                      "train_run until train(): read checkpoint, mask, data; build model": entered - imported,
                      "train() until the first optimizer step (first forward/backward)": first - entered}}


# --------------------------------------------------------------------------- roofline


def forward_macs(model, image_shape) -> int:
    """Multiply-adds of one forward pass of ``model`` on one image of ``image_shape`` (C, H, W): every
    convolution (output elements x in-channels per group x kernel area) and linear layer (out x in features);
    BatchNorm, ReLU, pooling and the loss are left out (element-wise, a few % of the work)."""
    import torch
    from torch import nn

    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            total += out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, nn.Linear):
            total += out.numel() * mod.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model.eval()
            model(torch.zeros(1, *image_shape))
    finally:
        for h in handles:
            h.remove()
    return int(total)


def matmul_ceiling(n: int, repeats: int) -> float:
    """Multiply-adds per second of an n x n float32 matrix product on this process's threads (the best of
    ``repeats``, after a warm-up): the machine's dense-compute ceiling for one job."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return n ** 3 / best


def roofline(case: Case, epochs: int, repeats: int, groups: int, matmul_n: int) -> dict:
    """Achieved multiply-adds per second of a training step, one network (``training.train``) and a group of
    ``groups`` networks (``grouped.train_group``, as a sweep or find group trains them), against a large
    matrix product's on the same thread: each as a share of that ceiling. A training step counts 3x the
    forward multiply-adds (forward, the gradient of the input and that of the weights), per image, dense (a
    mask does not skip work). Medians over ``repeats``, the two alternating."""
    from dataclasses import replace

    from findeval import grouped

    fwd = forward_macs(_fresh_model(case), tuple(case.data.x_train.shape[1:]))
    step_macs = 3 * fwd
    images = case.images_per_epoch() * epochs
    masks = [None] + [_mask_for(_fresh_model(case), lvl, 0.2, seed=lvl) for lvl in range(1, groups)]
    schedule = replace(case.schedule, epochs=epochs)

    def one_group() -> float:
        nets = [_fresh_model(case) for _ in range(groups)]
        t = time.perf_counter()
        rs = grouped.train_group(nets, case.data, case.h, schedule, data_seed=1, masks=masks, augment=case.augment)
        dt = time.perf_counter() - t
        if any(r["diverged"] for r in rs):
            raise RuntimeError("roofline: grouped training diverged; timings would be meaningless")
        return dt

    time_ours(case, 1)  # warm-up
    one_group()
    single, group = [], []
    for _ in range(repeats):
        single.append(time_ours(case, epochs))
        group.append(one_group())
    ceiling = matmul_ceiling(matmul_n, max(3, repeats))
    single_rate = images * step_macs / statistics.median(single)
    group_rate = groups * images * step_macs / statistics.median(group)
    return {"forward_macs": fwd, "step_macs": step_macs, "groups": groups, "matmul_n": matmul_n,
            "ceiling": ceiling, "single": single_rate, "group": group_rate,
            "single_share": single_rate / ceiling, "group_share": group_rate / ceiling}


# --------------------------------------------------------------------------- a pipeline run's wall time

# Snakemake's log, parsed once (findeval.snakelog; progress reads the same): re-exported, the tests' names
from findeval.snakelog import cores_of_command as _cores_of_command  # noqa: E402,F401
from findeval.snakelog import parse_snakemake_log  # noqa: E402


def find_snakemake_logs(results: Path) -> list[Path]:
    """The ``.snakemake/log/*.snakemake.log`` files (oldest first) of the working directory that holds
    ``results`` (``<workdir>/results/<exp>``) that ran jobs writing into it: one per invocation, so a run
    that was interrupted and resumed has several."""
    results = results.resolve()
    needle = "/".join(results.parts[-2:]) + "/"
    for workdir in (results.parent.parent, Path.cwd()):
        found = []
        for path in sorted(glob.glob(str(workdir / ".snakemake" / "log" / "*.snakemake.log")), key=os.path.getmtime):
            with open(path, errors="replace") as fh:
                if any(needle in line and "output:" in line for line in fh):
                    found.append(Path(path))
        if found:
            return found
    return []


#: Training rules, and where their runs' metrics lie under results/<exp>/ (after the rule's benchmark path).
TRAINING_RULES = {"train_find": "find", "train_eval": "eval", "train_find_lpr": "", "train_eval_lpr": "eval",
                  "find_chain": "find", "eval_sweep": "eval", "lpr_find_chain": "", "lpr_eval_sweep": "eval",
                  "early_find_chain": "early/find", "early_eval_sweep": "early/eval", "late_chain": "late",
                  "warmup_chain": "warmup", "lr_rewind_chain": "lr_rewind",
                  "structured/train_find": "", "structured/finetune": "", "structured/scratch_e": "",
                  "structured/scratch_b": ""}
PER_LEVEL = {"train_find", "train_eval", "train_find_lpr", "train_eval_lpr", "structured/train_find",
             "structured/finetune", "structured/scratch_e", "structured/scratch_b"}


#: A group's record (``runtime.find_group``): ``benchmarks/<family>_<i>/[epoch<k>/]seed<s>.tsv``, the family
#: ``find_group`` (A1's find chains), ``lpr_find_group`` (the LPR-constrained chains), ``early_find_group`` (the
#: early-pruning chains of one pruning epoch), ``rewinding_group`` (Fig. 4's chains of one rewinding variant) or
#: ``find_seeds_group`` (one H_find's chains of several replicates: ``benchmarks/find_seeds_group_<i>/<H>.tsv``).
_FIND_GROUP = re.compile(r"((?:lpr_|early_)?find_group|rewinding_group|find_seeds_group)_(\d+)")
#: Where each family's chains lie under results/<exp>/ (``<root>/<chain>/<record's sub-path>/level<L>/...``;
#: the rewinding variants' evaluation and random-mask folders beside their chains are not chains).
GROUP_ROOTS = {"find_group": ("find",), "lpr_find_group": ("find_local", "find_matched"),
               "early_find_group": ("early/find",), "rewinding_group": ("late", "warmup", "lr_rewind"),
               "find_seeds_group": ("find",)}
_NOT_CHAINS = {"eval", "random", "random_eval"}


def group_family(rule: str) -> str | None:
    """The family of a group rule's name (``find_group_3`` -> ``find_group``; ``lpr_find_group``,
    ``early_find_group``, ``rewinding_group``), else None."""
    m = _FIND_GROUP.fullmatch(rule)
    return m.group(1) if m else None


def find_group_members(results: Path, records: list[Path]) -> dict[Path, list[Path]]:
    """The ``metrics.json`` files of the runs each group record covers (find, LPR and early-pruning groups).

    A record's path names only its family, its group's index and its seed (and, for early pruning, its epoch);
    the chains it trained are the chains of its family and seed (and epoch) whose runs say ``group_size`` > 1 (a
    grouped run's record; its ``train_time_s`` is its share, the group's / G, so the members' sum is the group's
    compute). One record per family and seed takes them all. Where a seed has several groups of a family
    (several batch sizes, or chunks of ``runtime.find_group``), each run goes to the group whose members share
    its batch size and group size, in group-index order (the plans' ``find_groups`` order chunks by batch size,
    then chain); a run that no record can take is left out and counted as missing."""
    results = Path(results)
    by_key: dict[tuple, list[Path]] = {}
    for rec in records:
        rel = rec.relative_to(results / "benchmarks")
        by_key.setdefault((group_family(rel.parts[0]), str(Path(*rel.parts[1:]).with_suffix(""))), []).append(rec)
    out: dict[Path, list[Path]] = {rec: [] for rec in records}
    claimed: set[Path] = set()  # the runs of cross-replicate groups, first: a per-seed find group never takes them
    for (family, sub), recs in sorted(by_key.items(), key=lambda kv: kv[0][0] != "find_seeds_group"):
        runs = []
        # a cross-replicate group's record is named by its H_find: its chains are that H_find's seed folders
        across = family == "find_seeds_group"
        pattern = f"{sub}/seed*/level*/metrics.json" if across else f"**/{sub}/level*/metrics.json"
        files = sorted(f for root in GROUP_ROOTS.get(family, ()) for f in (results / root).glob(pattern)
                       if not _NOT_CHAINS & set(f.relative_to(results).parts) and f not in claimed)
        if across:
            claimed.update(files)
        depth = 0 if across else len(Path(sub).parts)
        for f in files:
            try:
                m = json.loads(f.read_text())
            except (OSError, ValueError):
                continue
            if int(m.get("group_size") or 1) > 1:
                h = m.get("H_find") or m.get("H_eval") or m.get("H") or {}
                bs = h.get("batch_size") if isinstance(h, dict) else None
                chain = str(f.parents[depth + 1].relative_to(results))
                runs.append((bs, int(m["group_size"]), chain, f))
        recs = sorted(recs, key=lambda r: int(_FIND_GROUP.fullmatch(
            r.relative_to(results / "benchmarks").parts[0]).group(2)))
        if len(recs) == 1:
            out[recs[0]] = [f for *_, f in runs]
            continue
        # several groups of one seed: chains in group order, each group takes group_size chains
        chains: dict[tuple, list[str]] = {}
        for bs, g, chain, _ in runs:
            chains.setdefault((bs, g), [])
            if chain not in chains[(bs, g)]:
                chains[(bs, g)].append(chain)
        order = [(key, chain) for key in sorted(chains, key=lambda k: (k[0] is None, k[0] or 0))
                 for chain in chains[key]]
        owner, pos = {}, 0
        for rec in recs:
            if pos >= len(order):
                break
            key = order[pos][0]
            for key_chain in order[pos: pos + key[1]]:
                if key_chain[0] == key:
                    owner[key_chain[1]] = rec
            pos += key[1]
        for _, _, chain, f in runs:
            if chain in owner:
                out[owner[chain]].append(f)
    return out


def _compute_of(files: list[Path]) -> float | None:
    """Summed ``train_time_s`` of one job's metrics.json files; None where there are none or one is unreadable
    (the job is then counted as missing)."""
    try:
        return sum(float(json.loads(f.read_text())["train_time_s"]) for f in files) if files else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def run_breakdown(results: Path, snakemake_logs: list[Path] | None = None) -> dict:
    """Where a run spent its time, from ``results`` (read only) and, if given, its Snakemake logs.

    Group records (``find_group_<i>``, ``lpr_find_group_<i>``, ``early_find_group_<i>``: one job training several
    chains in lock-step) are
    counted with the compute of every chain they trained (:func:`find_group_members`), under their family's entry."""
    results = Path(results)
    per_rule: dict[str, dict] = {}
    compute, train_wall, missing = 0.0, 0.0, 0
    tsvs = sorted(glob.glob(str(results / "benchmarks" / "**" / "*.tsv"), recursive=True))
    group_records = [Path(t) for t in tsvs if _FIND_GROUP.fullmatch(Path(t).relative_to(results / "benchmarks")
                                                                     .parts[0])]
    members = find_group_members(results, group_records) if group_records else {}
    for tsv in tsvs:
        rel = Path(tsv).relative_to(results / "benchmarks")
        rule = rel.parts[0]
        if Path(tsv) in members:  # one job, several chains: all of them
            with open(tsv) as fh:
                rows = list(csv.DictReader(fh, delimiter="\t"))
            if not rows:
                continue
            s = statistics.median(float(r["s"]) for r in rows)
            entry = per_rule.setdefault(group_family(rule), {"jobs": 0, "wall_s": 0.0, "compute_s": 0.0,
                                                              "source": "benchmark"})
            entry["jobs"] += 1
            entry["wall_s"] += s
            t = _compute_of(members[Path(tsv)])
            if t is None:
                missing += 1
                continue
            entry["compute_s"] += t
            compute += t
            train_wall += s
            continue
        if rule == "structured" and len(rel.parts) > 2:  # benchmarks/structured/<stage>/<run>.tsv
            stage, run = rel.parts[1], Path(*rel.parts[2:]).with_suffix("")
            if stage == "train_find":  # its metrics: structured/find/<H_find>/seed<s>/dense/metrics.json
                run, stage = run / "dense", "find"
            rule, rel = f"structured/{rel.parts[1]}", Path(rule, "structured", stage, f"{run}.tsv")
        with open(tsv) as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if not rows:
            continue
        s = statistics.median(float(r["s"]) for r in rows)
        entry = per_rule.setdefault(rule, {"jobs": 0, "wall_s": 0.0, "compute_s": 0.0, "source": "benchmark"})
        entry["jobs"] += 1
        entry["wall_s"] += s
        stage = TRAINING_RULES.get(rule)
        if stage is not None:
            run = results / stage / Path(*rel.parts[1:]).with_suffix("")
            # a per-level rule's record is one run; a chain or sweep job's record covers its levels
            t = _compute_of([run / "metrics.json"] if rule in PER_LEVEL else sorted(run.glob("level*/metrics.json")))
            if t is None:
                missing += 1
                continue
            entry["compute_s"] += t
            compute += t
            train_wall += s
    out = {"rules": per_rule, "compute_s": compute, "train_jobs_wall_s": train_wall, "missing_metrics": missing,
           "log": None}
    logs = [parse_snakemake_log(p) for p in (snakemake_logs or [])]
    for log in logs:
        for rule, start, end in log["jobs"].values():
            rule = group_family(rule) or rule  # its benchmark records' entry
            if rule in per_rule and per_rule[rule]["source"] == "benchmark":
                continue
            entry = per_rule.setdefault(rule, {"jobs": 0, "wall_s": 0.0, "compute_s": 0.0, "source": "log"})
            entry["jobs"] += 1
            entry["wall_s"] += end - start
    logs = [log for log in logs if log["first"] is not None]
    if logs:
        out["log"] = ", ".join(str(p) for p in snakemake_logs)
        out["jobs_in_log"] = sum(len(log["jobs"]) for log in logs)
        # The elapsed-time share needs, for every invocation, its real span and its cores, and its numerator must
        # be the compute of the jobs these logs ran (the results folder may hold runs of other invocations).
        problems = []
        if any(log["started"] > len(log["jobs"]) and not log["jobs"] for log in logs):
            problems.append("a log has no job end times (written with --quiet progress?)")
        if any(log["remote"] for log in logs):
            problems.append("a log is of a cluster executor (no core count)")
        elif any(log["cores"] is None for log in logs):
            problems.append("a log names no core count")
        cores = {log["cores"] for log in logs if log["cores"] is not None}
        if len(cores) > 1:
            problems.append(f"the invocations ran on different core counts ({', '.join(map(str, sorted(cores)))})")
        out["elapsed_s"] = sum(log["last"] - log["first"] for log in logs)
        out["core_s"] = sum((log["last"] - log["first"]) * log["cores"] for log in logs) if not problems else None
        out["cores"] = max(cores) if cores else None
        out["cores_from"] = sorted({log["cores_from"] for log in logs if log["cores_from"]})
        out["log_compute_s"] = _compute_of_outputs(results, [p for log in logs for ps in log["outputs"].values()
                                                             for p in ps])
        out["elapsed_problems"] = problems
    out["all_jobs_wall_s"] = sum(e["wall_s"] for e in per_rule.values())
    return out


def _compute_of_outputs(results: Path, outputs: list[str]) -> float:
    """Sum of ``train_time_s`` of the metrics.json files among a log's job outputs (paths relative to the
    working directory that holds ``results``, ``<workdir>/results/<exp>``)."""
    workdir = Path(results).resolve().parent.parent
    total = 0.0
    for p in dict.fromkeys(outputs):
        if not p.endswith("metrics.json"):
            continue
        try:
            total += float(json.loads((workdir / p).read_text())["train_time_s"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return total


# --------------------------------------------------------------------------- table


def _f(x, digits=3):
    if x is None:
        return "n/a"
    if isinstance(x, str):
        return x
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def build_rows(res: dict) -> list[dict]:
    """Table rows: measure, findeval, reference, ratio, target, met."""
    rows = []
    for key in ("default", "resnet18"):
        if key not in res:
            continue
        c = res[key]
        ratio = c["ratio"]
        rows.append({"measure": f"training step, images/s: {c['name']}", "findeval": c["ours_ips"],
                     "reference": c["ref_ips"], "ratio": ratio,
                     "target": f">= {TARGET_STEP_RATIO:g}x" if key == "default" else "-",
                     "met": (ratio >= TARGET_STEP_RATIO) if key == "default" else None})
    if "masking" in res:
        m = res["masking"]
        rows.append({"measure": "masking cost: masked vs unmasked step, images/s (ratio = time masked / unmasked)",
                     "findeval": m["masked_ips"], "reference": m["unmasked_ips"], "ratio": m["ratio"],
                     "target": f"<= {TARGET_MASK_OVERHEAD:g}", "met": m["ratio"] <= TARGET_MASK_OVERHEAD})
    if "overhead" in res:
        o = res["overhead"]
        extra = o["startup_s"] - o["import_torch_done_s"]
        rows.append({"measure": "per-job start-up, s: spawn -> first optimizer step of a default train job "
                                "(reference: spawn -> end of the import in python -c 'import torch'; "
                                "ratio column = difference, s)",
                     "findeval": o["startup_s"], "reference": o["import_torch_done_s"], "ratio": extra,
                     "target": f"<= +{TARGET_STARTUP_EXTRA_S:g} s", "met": extra <= TARGET_STARTUP_EXTRA_S})
        rows.append({"measure": "per-job start-up share of a default train job (whole job, s, in reference column)",
                     "findeval": o["startup_share"], "reference": o["job_s"], "ratio": None, "target": "-",
                     "met": None})
        rows.append({"measure": "default train job: training+evaluation compute (train_time_s) / whole job, s",
                     "findeval": o["train_time_s"], "reference": o["job_s"], "ratio": o["train_time_s"] / o["job_s"],
                     "target": "-", "met": None})
    if "roofline" in res:
        rf = res["roofline"]
        rows.append({"measure": "roofline: one network's training step, G multiply-adds/s (reference: a "
                                f"{rf['matmul_n']}x{rf['matmul_n']} float32 matrix product on the same thread; "
                                "ratio = share of that ceiling)",
                     "findeval": rf["single"] / 1e9, "reference": rf["ceiling"] / 1e9, "ratio": rf["single_share"],
                     "target": "-", "met": None})
        rows.append({"measure": f"roofline: a grouped step of {rf['groups']} networks (grouped.train_group), "
                                "G multiply-adds/s against the same ceiling",
                     "findeval": rf["group"] / 1e9, "reference": rf["ceiling"] / 1e9, "ratio": rf["group_share"],
                     "target": "-", "met": None})
    if "run" in res:
        r = res["run"]
        train = r["train_jobs_wall_s"]
        share_jobs = r["compute_s"] / train if train else None
        rows.append({"measure": "pipeline run: training+evaluation compute / wall time of the training jobs "
                                "(sum of train_time_s, sum of benchmark s)",
                     "findeval": r["compute_s"], "reference": train, "ratio": share_jobs, "target": "-", "met": None})
        total = r["all_jobs_wall_s"]
        share_all = r["compute_s"] / total if total else None
        rows.append({"measure": "pipeline run: training+evaluation compute / wall time of all its jobs "
                                "(jobs without a benchmark record timed from the Snakemake log)",
                     "findeval": r["compute_s"], "reference": total, "ratio": share_all,
                     "target": f">= {TARGET_COMPUTE_SHARE:.0%}",
                     "met": None if share_all is None else share_all >= TARGET_COMPUTE_SHARE})
        if r.get("elapsed_s"):
            # numerator: the compute of the jobs these logs ran; denominator: each invocation's span x its cores
            core_s, compute = r.get("core_s"), r.get("log_compute_s")
            ratio = compute / core_s if core_s else None
            measure = ("pipeline run: training+evaluation compute / (elapsed x cores) of the Snakemake run "
                       "(compute of the jobs its logs ran)")
            if ratio is None:
                measure += f" (n/a: {'; '.join(r.get('elapsed_problems') or ['no elapsed time'])})"
            rows.append({"measure": measure, "findeval": compute, "reference": core_s, "ratio": ratio,
                         "target": f">= {TARGET_COMPUTE_SHARE:.0%}",
                         "met": None if ratio is None else ratio >= TARGET_COMPUTE_SHARE})
    return rows


def render(res: dict, rows: list[dict]) -> str:
    m = res["machine"]
    lines = [
        "# findeval speed benchmark",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores; torch {m['torch']}, Python {m['python']}, "
        f"{m['threads']} thread per process; load average {m['load'][0]:.2f} at start, "
        f"{res.get('load_end', (float('nan'),))[0]:.2f} at end; {m['date']}; budget: {res['budget']}.",
        "",
        "| measure | findeval | reference | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        met = "-" if r["met"] is None else ("yes" if r["met"] else "no")
        lines.append(f"| {r['measure']} | {_f(r['findeval'])} | {_f(r['reference'])} | {_f(r['ratio'])} | "
                     f"{r['target']} | {met} |")
    if "overhead" in res:
        parts = "; ".join(f"{k} {v:.2f} s" for k, v in res["overhead"]["parts"].items())
        o = res["overhead"]
        lines += ["", f"Start-up of a default train job (medians): {parts}. `python -c 'import torch'`: "
                  f"{o['import_torch_done_s']:.2f} s from spawn to the end of the import, {o['import_torch_s']:.2f} s "
                  "to the process exit. After a job has written its outputs, its process takes "
                  f"{o['exit_s']:.2f} s more to exit (interpreter teardown)."]
    if "run" in res:
        r = res["run"]
        cores = (f"{r['cores']} cores ({' and '.join(r['cores_from'])})" if r.get("cores")
                 else "an unknown number of cores")
        source = (f" and `{r['log']}` ({r['jobs_in_log']} finished jobs, {r['elapsed_s']:.0f} s elapsed on "
                  f"{cores}, summed over Snakemake invocations)" if r.get("log")
                  else " (no Snakemake log found)")
        lines += ["", f"Pipeline run read from `{res['results']}`{source}:", "",
                  "| rule | jobs | wall s (sum) | compute s (sum) | timed from |", "| --- | --- | --- | --- | --- |"]
        for rule, e in sorted(r["rules"].items(), key=lambda kv: -kv[1]["wall_s"]):
            lines.append(f"| {rule} | {e['jobs']} | {e['wall_s']:.1f} | {e['compute_s']:.1f} | {e['source']} |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def run(*, config_path: Path, results: Path | None, budget: Budget, snakemake_logs: list[Path] | None = None,
        sections=("default", "resnet18", "roofline", "masking", "overhead", "run"), progress=print) -> dict:
    import torch

    torch.set_num_threads(1)
    config = read_config(config_path)
    res = {"machine": machine(), "budget": "quick" if budget == Budget.quick() else "full"}
    with tempfile.TemporaryDirectory(prefix="findeval-bench-") as tmp:
        work = Path(tmp)
        if "default" in sections or "masking" in sections:
            case = default_case(config, work, budget)
        if "default" in sections:
            progress(f"training step: {case.name} ...")
            res["default"] = compare_step(case, budget.epochs, budget.repeats, budget.warmup_epochs)
        if "resnet18" in sections:
            r18 = resnet18_case(config, budget)
            progress(f"training step: {r18.name} ...")
            res["resnet18"] = compare_step(r18, 1, budget.r18_repeats, 1)
        if "roofline" in sections:
            if "default" not in sections and "masking" not in sections:
                case = default_case(config, work, budget)
            progress(f"roofline: {case.name}, one network and a group of {budget.roofline_group} ...")
            res["roofline"] = roofline(case, budget.epochs, budget.repeats, budget.roofline_group, budget.matmul_n)
        if "masking" in sections:
            progress("masking cost ...")
            res["masking"] = masking_cost(case, budget.epochs, budget.mask_pairs, budget.warmup_epochs)
        if "overhead" in sections:
            progress("per-job overhead (fresh processes) ...")
            res["overhead"] = job_overhead(config, work, budget.job_repeats)
    if "run" in sections and results is not None:
        if not Path(results).is_dir():
            progress(f"no results folder {results}: skipping the pipeline-run breakdown")
        else:
            logs = snakemake_logs if snakemake_logs is not None else find_snakemake_logs(Path(results))
            res["run"] = run_breakdown(Path(results), logs)
            res["results"] = str(results)
    res["load_end"] = os.getloadavg()
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--results", default="results/digits",
                    help="results folder of a pipeline run to read (never written); default results/digits")
    ap.add_argument("--snakemake-log", nargs="+", default=None,
                    help="the run's Snakemake log(s) (default: every .snakemake/log/*.snakemake.log of the working "
                         "directory holding --results that ran jobs writing into it)")
    ap.add_argument("--config", default=str(REPO / "config.yaml"), help="experiment config (default config.yaml)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results.md"), help="where to write the table")
    ap.add_argument("--quick", action="store_true", help="tiny budget (seconds): checks that everything runs")
    ap.add_argument("--only", nargs="+", choices=["default", "resnet18", "roofline", "masking", "overhead", "run"],
                    help="run only these sections")
    args = ap.parse_args(argv)
    budget = Budget.quick() if args.quick else Budget()
    sections = tuple(args.only) if args.only else ("default", "resnet18", "roofline", "masking", "overhead", "run")
    t = time.perf_counter()
    res = run(config_path=Path(args.config), results=Path(args.results), budget=budget,
              snakemake_logs=[Path(p) for p in args.snakemake_log] if args.snakemake_log else None, sections=sections,
              progress=lambda s: print(s, file=sys.stderr, flush=True))
    text = render(res, build_rows(res))
    text += f"\nBenchmark wall time: {time.perf_counter() - t:.0f} s.\n"
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
