"""findeval on one GPU: the parts that benchmarks/gpu.sh runs, each in a fresh process under its own time
limit (a hang or a crash in one loses none of the others); each writes WORK/part_<name>.json as it goes.

    python benchmarks/gpu.py PART WORK          # PART: step, chain, epoch, cudnn or pack
    python benchmarks/gpu.py report WORK OUT    # OUT/gpu_results.md and OUT/gpu_results.json from WORK's parts

Parts:

  step   ResNet-50 at 64x64 (synthetic uint8 images, 200 classes), bf16 autocast + channels_last, batch
         256 and 512: findeval's training step (findeval.training.train: data on the GPU, batched
         augmentation there, masks re-applied after every step) against the loop one writes by hand
         (DataLoader + torchvision per-image RandomResizedCrop/flip on uint8 images, pinned copies to the
         GPU, torch.optim.SGD, masks re-applied); a compute-only loop (one fixed batch, no data path) as
         the ceiling; GPU busy time over wall time (CUDA events around forward/backward/step, and the
         kernel timeline of torch.profiler); FLOPs (torch.utils.flop_counter) and the fraction of the
         bf16 dense peak; masked vs unmasked step; ours in fp32 for reference.
  chain  the pipeline's job functions (findeval.a1.jobs) on device 'cuda': prepare_data -> init ->
         train_run (find, level 0) -> prune -> rewind -> train_run (level 1, masked) -> prune (level 2,
         monotone check); pruned weights exactly zero, metrics written, accuracy; level 0 also on the CPU.
  epoch  ResNet-18 / ResNet-50 at 64x64, preset batch 512, fp32 (the pipeline's default) and bf16 +
         channels_last: training and evaluation images/s, and the GPU-hours they imply for the presets.
  cudnn  ours with torch.backends.cudnn.benchmark on vs off (optional).
  pack   several trainings per GPU (issue 15 item 2): trainings per GPU-hour at G = 1, 2, 4, 8 for ResNet-18 and
         ResNet-50 at 64x64, batch 512, bf16 + channels_last, with the GPU's busy share (NVML utilization) and
         memory: (a) G networks grouped in one process (findeval.grouped.train_group: runtime.group G), (b) G
         processes on the same GPU, each training one network (findeval.training.train), against today's one
         training per GPU (train(), G = 1). A G that does not fit in memory is recorded as such. The processes are
         `python benchmarks/gpu.py pack-worker` (started once, warm before each timed epoch, started together).

Environment: FINDEVAL_BENCH_DEVICE (cuda, or cpu to test on a machine without a GPU), FINDEVAL_BENCH_SMOKE=1
(tiny models and sizes), FINDEVAL_BENCH_CHAIN_DATA=digits|tiny_imagenet (the chain's data set; default digits
when scikit-learn is installed, else a generated tiny-imagenet-200 folder), FINDEVAL_BENCH_PACK_G="1 2 4 8" (the
pack part's G), FINDEVAL_BENCH_PACK_LIMIT_S (no measurement of the pack part starts after this many seconds;
270). Importing this module reads them and imports torch; nothing runs until :func:`main`.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# the package of this checkout, also when run as `python benchmarks/gpu.py` without PYTHONPATH
data_mod = importlib.import_module("findeval.data")
masks_mod = importlib.import_module("findeval.masks")
models = importlib.import_module("findeval.models")
training = importlib.import_module("findeval.training")
H = importlib.import_module("findeval.hparams").H

PARTS = ("step", "chain", "epoch", "cudnn", "pack")

SMOKE = os.environ.get("FINDEVAL_BENCH_SMOKE", "0") not in ("", "0")
DEV = os.environ.get("FINDEVAL_BENCH_DEVICE", "cuda")
CUDA = DEV.startswith("cuda")
PEAK_DATASHEET = 989.0  # TFLOP/s, H200 (SXM) bf16 dense, datasheet
PEAK_MEASURED = 790.0  # TFLOP/s, bf16 matmul measured on the H200
if SMOKE:
    C = {"size": 16, "width": 8, "classes": 200, "batches": (8, 16), "n_timed": 32, "warm_batches": 1, "pairs": 1,
         "mask_n": 16, "compute_steps": 2, "prof_steps": 2, "workers": 1, "fp32_n": 16, "epoch_batch": 16,
         "epoch_n": 32, "eval_n": 32, "pack_groups": (1, 2), "pack_n": 32, "pack_warm": 1, "pack_limit_s": 1e9}
else:
    C = {"size": 64, "width": 64, "classes": 200, "batches": (256, 512), "n_timed": 12288, "warm_batches": 3,
         "pairs": 3, "mask_n": 6144, "compute_steps": 20, "prof_steps": 8,
         "workers": min(12, max(1, (os.cpu_count() or 4) - 4)), "fp32_n": 6144, "epoch_batch": 512, "epoch_n": 8192,
         "eval_n": 10000, "pack_groups": (1, 2, 4, 8), "pack_n": 6144, "pack_warm": 2, "pack_limit_s": 270}
LR, WD = 0.01, 5e-5
AUG = training.Augment((0.08, 1.0), (3 / 4, 4 / 3), True)
MEAN, STD = (0.48, 0.45, 0.40), (0.27, 0.26, 0.28)
T_START = time.perf_counter()
THREADS = 4 if CUDA else 1  # CPU threads of the pipeline's jobs in the chain part


class Part:
    """Results of one part, rewritten to disk after every measurement (a timeout keeps what was done)."""

    def __init__(self, work: Path, name: str):
        self.path = work / f"part_{name}.json"
        self.res = {"part": name, "done": False, "errors": {}, "env": env()}
        self.save()

    def save(self):
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.res, indent=1, default=str))
        os.replace(tmp, self.path)

    def put(self, key, value):
        self.res[key] = value
        self.save()
        print(f"  {key}: {json.dumps(value, default=str)[:600]}", flush=True)

    @contextlib.contextmanager
    def guard(self, key):
        """Run one measurement; an exception is recorded under ``errors`` and the part goes on."""
        t = time.perf_counter()
        print(f"-- {key} ...", flush=True)
        try:
            yield
        except Exception as err:  # noqa: BLE001 - one failed measurement must not lose the others
            self.res["errors"][key] = f"{type(err).__name__}: {err}"
            traceback.print_exc()
            if CUDA:
                torch.cuda.empty_cache()
            self.save()
        print(f"-- {key}: {time.perf_counter() - t:.1f} s", flush=True)


def env() -> dict:
    e = {"torch": torch.__version__, "python": platform.python_version(), "device": DEV, "smoke": SMOKE,
         "cpus": os.cpu_count(), "sizes": C}
    try:
        import torchvision

        e["torchvision"] = torchvision.__version__
    except Exception as err:  # noqa: BLE001
        e["torchvision"] = f"unavailable ({err})"
    if CUDA:
        p = torch.cuda.get_device_properties(0)
        e.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1), capability=f"{p.major}.{p.minor}",
                 sms=p.multi_processor_count, cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(),
                 cudnn_benchmark=torch.backends.cudnn.benchmark, cudnn_allow_tf32=torch.backends.cudnn.allow_tf32,
                 matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32)
    return e


def sync():
    if CUDA:
        torch.cuda.synchronize()


def over(limit_s: float) -> bool:
    return time.perf_counter() - T_START > limit_s


# --------------------------------------------------------------------------- cases


class Case:
    """A model (fixed initial weights), a random global mask of 7 levels (21% kept), synthetic images."""

    def __init__(self, name: str, width: int, n: int, seed: int = 0):
        self.spec = {"name": name, "width": width, "in_channels": 3, "num_classes": C["classes"]}
        model = models.init_model(self.spec, seed)
        self.init_state = {k: v.clone() for k, v in model.state_dict().items()}
        names = models.prunable_names(model)
        shapes = {k: tuple(v.shape) for k, v in model.state_dict().items() if k in names}
        total = sum(math.prod(s) for s in shapes.values())
        self.mask = masks_mod.global_random_mask(shapes, masks_mod.kept_schedule(total, 0.2, 7)[7], 1)
        self.params = models.count_parameters(model)
        g = torch.Generator().manual_seed(seed)
        s = C["size"]
        self.x = torch.randint(0, 256, (n + 2, 3, s, s), generator=g, dtype=torch.uint8)
        self.y = torch.randint(0, C["classes"], (n + 2,), generator=g)
        mean, std = torch.tensor(MEAN), torch.tensor(STD)
        cpu = data_mod.Data(self.x[:n], self.y[:n], self.x[n:], self.y[n:], mean, std, C["classes"])
        self.data = cpu.to(DEV)  # findeval holds the whole data set on the device (2-image test set)

    def fresh(self):
        model = models.build(self.spec)
        model.load_state_dict(self.init_state)
        return model

    def subset(self, n: int):
        d = self.data
        return data_mod.Data(d.x_train[:n], d.y_train[:n], d.x_test, d.y_test, d.mean, d.std, d.num_classes)


class StepEvents:
    """CUDA events around forward/backward/step/mask of each training step of findeval.training.train: a
    forward pre-hook (training mode only) opens a step, the re-application of the masks closes it."""

    def __init__(self, model):
        self.model, self.starts, self.ends = model, [], []

    def __enter__(self):
        def pre(mod, inp):
            if mod.training and CUDA:
                ev = torch.cuda.Event(enable_timing=True)
                ev.record()
                self.starts.append(ev)

        self.hook = self.model.register_forward_pre_hook(pre)
        self.orig = training.apply_masks

        def apply_masks(params, masks):
            self.orig(params, masks)
            if CUDA and len(self.ends) < len(self.starts):
                ev = torch.cuda.Event(enable_timing=True)
                ev.record()
                self.ends.append(ev)

        training.apply_masks = apply_masks
        return self

    def __exit__(self, *exc):
        self.hook.remove()
        training.apply_masks = self.orig

    def gpu_s(self) -> float | None:
        if not CUDA or not self.ends:
            return None
        sync()
        return sum(s.elapsed_time(e) for s, e in zip(self.starts, self.ends)) / 1000.0


def ours(case: Case, d, bs: int, *, masked=True, precision="bf16", cl=True, events=False, seed=1,
         check_mask=False) -> dict:
    """One epoch of findeval.training.train over ``d``: images/s (whole call, model transfer and the 2-image
    evaluation included) and, with ``events``, the GPU time inside the steps' forward/backward/step/mask; with
    ``events`` or ``check_mask``, the pruned weights that are nonzero afterwards (after the timing)."""
    model = case.fresh()
    ctx = StepEvents(model) if events else contextlib.nullcontext()
    sync()
    t, t_start = time.perf_counter(), time.time()
    with ctx:
        r = training.train(model, d, H(LR, bs, WD), training.Schedule(epochs=1, momentum=0.9), data_seed=seed,
                           mask=case.mask if masked else None, augment=AUG, device=DEV, precision=precision,
                           channels_last=cl)
    sync()
    wall = time.perf_counter() - t
    if r["diverged"]:
        raise RuntimeError("training diverged: the timing would be meaningless")
    n = len(d.y_train)
    out = {"images": n, "steps": r["iterations_per_epoch"], "wall_s": round(wall, 4), "ips": n / wall,
           "t_start": t_start}
    if events:
        g = ctx.gpu_s()
        if g is not None:
            out.update(step_gpu_s=round(g, 4), busy_events=g / wall)
    if masked and (events or check_mask):  # the mask must hold exactly, channels_last and bf16 included
        out.update(pruned_counts(dict(model.named_parameters()), case.mask))
    return out


def pruned_counts(params: dict, mask: dict) -> dict:
    """Pruned positions holding a finite nonzero value (``pruned_nonzero``: the mask failed) and NaN
    (``pruned_nan``: a NaN gradient times the zero mask; seen on the CPU in bf16, where oneDNN's bf16 grouped
    convolution backward intermittently returns NaN weight gradients, tests/test_grouped.py)."""
    nonzero = nan = 0
    for k, keep in mask.items():
        v = params[k].detach().float().cpu()[~torch.as_tensor(keep)]
        nan += int(v.isnan().sum())
        nonzero += int(((v != 0) & ~v.isnan()).sum())
    return {"pruned_nonzero": nonzero, "pruned_nan": nan}


def reference(case: Case, bs: int, *, precision="bf16", cl=True, workers: int):
    """The loop one writes by hand: returns ``run(max_steps=None, events=False, profile=None) -> dict``."""
    from torch.utils.data import DataLoader, Dataset
    from torchvision.transforms import v2

    s = C["size"]
    tf = v2.Compose([v2.RandomResizedCrop((s, s), scale=AUG.crop_scale, ratio=AUG.crop_ratio, antialias=True),
                     v2.RandomHorizontalFlip()])

    class Images(Dataset):  # uint8 CHW images in memory, per-image torchvision transforms in the workers
        def __init__(self, x, y):
            self.x, self.y = x, y

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            return tf(self.x[i]), int(self.y[i])

    n = len(case.data.y_train)
    loader = DataLoader(Images(case.x[:n], case.y[:n]), batch_size=bs, shuffle=True, num_workers=workers,
                        pin_memory=CUDA, drop_last=True, persistent_workers=workers > 0,
                        prefetch_factor=4 if workers > 0 else None)
    mean = torch.tensor(MEAN, device=DEV).view(1, 3, 1, 1) * 255
    std = torch.tensor(STD, device=DEV).view(1, 3, 1, 1) * 255
    fmt = torch.channels_last if cl else torch.contiguous_format
    model = case.fresh().to(DEV).train().to(memory_format=fmt)
    named = dict(model.named_parameters())
    masked = [(named[k], torch.as_tensor(m, dtype=torch.float32, device=DEV)) for k, m in case.mask.items()]
    with torch.no_grad():
        for p, m in masked:
            p.mul_(m)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9, weight_decay=WD)
    amp = torch.autocast(device_type=torch.device(DEV).type, dtype=torch.bfloat16, enabled=precision == "bf16")

    def run(max_steps=None, events=False, profile=None):
        starts, ends, seen, tot_loss, correct = [], [], 0, 0.0, 0
        sync()
        t = time.perf_counter()
        for it, (xb, yb) in enumerate(loader):
            if max_steps is not None and it >= max_steps:
                break
            if profile is not None and it == profile[0]:
                profile[1].start()
            xb = xb.to(DEV, non_blocking=True)
            yb = yb.to(DEV, non_blocking=True)
            xb = ((xb.float() - mean) / std).contiguous(memory_format=fmt)
            if events and CUDA:
                starts.append(torch.cuda.Event(enable_timing=True))
                starts[-1].record()
            with amp:
                out = model(xb)
                loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for p, m in masked:
                    p.mul_(m)
            if events and CUDA:
                ends.append(torch.cuda.Event(enable_timing=True))
                ends[-1].record()
            tot_loss += loss.item() * len(yb)
            correct += (out.argmax(1) == yb).sum().item()
            seen += len(yb)
        sync()
        wall = time.perf_counter() - t
        if profile is not None:
            profile[1].stop()
        if not math.isfinite(tot_loss):
            raise RuntimeError("reference training diverged")
        res = {"images": seen, "steps": seen // bs, "wall_s": round(wall, 4), "ips": seen / wall}
        if starts:
            g = sum(a.elapsed_time(b) for a, b in zip(starts, ends)) / 1000.0
            res.update(step_gpu_s=round(g, 4), busy_events=g / wall)
        return res

    return run


def compute_only(case: Case, bs: int, steps: int, *, masked=True, precision="bf16", cl=True) -> dict:
    """The ceiling: findeval's step (forward, backward, findeval.training.SGD, masks) on one fixed batch already
    on the GPU, no data path and no per-step synchronisation."""
    fmt = torch.channels_last if cl else torch.contiguous_format
    model = case.fresh().to(DEV).train().to(memory_format=fmt)
    params, masks = training.mask_tensors(model, case.mask if masked else None, DEV)
    training.apply_masks(params, masks)
    opt = training.SGD(list(model.parameters()), momentum=0.9, weight_decay=WD)
    d = case.data
    xb = data_mod.normalize(d.x_train[:bs], d.mean, d.std).contiguous(memory_format=fmt)
    yb = d.y_train[:bs]

    def step():
        with training.autocast(DEV, precision):
            loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step(LR)
        training.apply_masks(params, masks)

    for _ in range(2):
        step()
    sync()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    wall = time.perf_counter() - t
    return {"images": steps * bs, "wall_s": round(wall, 4), "ips": steps * bs / wall, "step_ms": 1000 * wall / steps}


def count_flops(case: Case, bs: int, precision="bf16", cl=True) -> dict:
    """FLOPs per image counted by torch.utils.flop_counter.FlopCounterMode (convolutions and matmuls):
    forward + backward of a training step, and forward alone (evaluation)."""
    from torch.utils.flop_counter import FlopCounterMode

    fmt = torch.channels_last if cl else torch.contiguous_format
    model = case.fresh().to(DEV).train().to(memory_format=fmt)
    x = data_mod.normalize(case.data.x_train[:bs], case.data.mean, case.data.std).contiguous(memory_format=fmt)
    y = case.data.y_train[:bs]
    fc = FlopCounterMode(display=False)
    with fc:
        with training.autocast(DEV, precision):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
    train_flops = fc.get_total_flops()
    model.eval()
    fc = FlopCounterMode(display=False)
    with fc, torch.no_grad(), training.autocast(DEV, precision):
        model(x)
    return {"train_flops_per_image": train_flops / bs, "forward_flops_per_image": fc.get_total_flops() / bs,
            "counted_on_batch": bs}


def kernel_busy(trace_path: Path) -> dict:
    """GPU busy share from a torch.profiler Chrome trace: union of kernel/memcpy/memset intervals over the
    span from the first GPU activity to the last."""
    events = json.loads(Path(trace_path).read_text()).get("traceEvents", [])
    iv = sorted((float(e["ts"]), float(e["ts"]) + float(e.get("dur", 0))) for e in events
                if e.get("ph") == "X" and e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset"))
    if not iv:
        return {"kernels": 0}
    busy, cur_s, cur_e = 0.0, iv[0][0], iv[0][1]
    for s, e in iv[1:]:
        if s > cur_e:
            busy += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    busy += cur_e - cur_s
    span = iv[-1][1] - iv[0][0]
    kernel_s = sum(e - s for s, e in iv)
    return {"gpu_events": len(iv), "span_s": span / 1e6, "busy_s": busy / 1e6,
            "busy_share": busy / span if span else None, "kernel_time_s": kernel_s / 1e6}


def profiler():
    from torch.profiler import ProfilerActivity, profile

    return profile(activities=[ProfilerActivity.CUDA])


# --------------------------------------------------------------------------- part: step (issue 6 item 3)


def part_step(p: Part, work: Path) -> None:
    limit = 150 if not SMOKE else 1e9  # optional measurements stop after this many seconds of the part
    bs_list = C["batches"]
    case = Case("resnet50", C["width"], C["n_timed"])
    p.put("model", {"spec": case.spec, "parameters": case.params, "image_size": C["size"],
                    "mask_kept": masks_mod.n_kept(case.mask) / masks_mod.n_total(case.mask),
                    "reference_workers": C["workers"]})
    with p.guard("flops"):
        p.put("flops", count_flops(case, min(16, bs_list[0])))
    res = {}
    for bs in bs_list:
        r = res.setdefault(str(bs), {})
        with p.guard(f"ours_bs{bs}"):
            ours(case, case.subset(C["warm_batches"] * bs), bs)  # warm-up: cuDNN plans, allocator
            r["ours"] = ours(case, case.data, bs, events=True)
            p.put("step", res)
        with p.guard(f"reference_bs{bs}"):
            run = reference(case, bs, workers=C["workers"])
            run(max_steps=C["warm_batches"])  # warm-up: worker start, cuDNN plans
            r["reference"] = run(events=True)
            del run
            p.put("step", res)
        with p.guard(f"compute_only_bs{bs}"):
            r["compute_only"] = compute_only(case, bs, C["compute_steps"])
            p.put("step", res)
        if bs == bs_list[0]:
            with p.guard("masking"):
                d = case.subset(C["mask_n"])
                ours(case, d, bs, masked=False)
                times = {True: [], False: []}
                for k in range(C["pairs"]):
                    for m in ((True, False) if k % 2 == 0 else (False, True)):
                        times[m].append(ours(case, d, bs, masked=m, seed=k)["wall_s"])
                ratios = [a / b for a, b in zip(times[True], times[False])]
                c_m = compute_only(case, bs, C["compute_steps"], masked=True)
                c_u = compute_only(case, bs, C["compute_steps"], masked=False)
                p.put("masking", {"batch": bs, "images": len(d.y_train), "masked_s": times[True],
                                  "unmasked_s": times[False], "ratio_median": statistics.median(ratios),
                                  "compute_only_ratio": c_m["wall_s"] / c_u["wall_s"]})
    bs = bs_list[0]
    if CUDA and C["prof_steps"] and not over(limit - 30):  # last but one: a profiler that hangs loses little
        r = res[str(bs)]
        with p.guard(f"profiler_bs{bs}"):
            prof = profiler()
            with prof:
                ours(case, case.subset((2 + C["prof_steps"]) * bs), bs)
            trace = work / f"ours_bs{bs}.json"
            prof.export_chrome_trace(str(trace))
            r.setdefault("ours", {})["profiler"] = kernel_busy(trace)
            trace.unlink()
            p.put("step", res)
            run = reference(case, bs, workers=C["workers"])
            run(max_steps=C["warm_batches"])
            prof = profiler()
            run(max_steps=2 + C["prof_steps"], profile=(2, prof))
            trace = work / f"ref_bs{bs}.json"
            prof.export_chrome_trace(str(trace))
            r.setdefault("reference", {})["profiler"] = kernel_busy(trace)
            trace.unlink()
            del run
            p.put("step", res)
    if not over(limit):
        with p.guard("ours_fp32"):
            bs = bs_list[0]
            d = case.subset(C["fp32_n"])
            ours(case, case.subset(C["warm_batches"] * bs), bs, precision="fp32", cl=False)
            p.put("fp32", {"batch": bs, "ours": ours(case, d, bs, precision="fp32", cl=False),
                           "ours_bf16_same_images": ours(case, d, bs)})
    else:
        p.res["errors"]["ours_fp32"] = "skipped: part time limit"
    if CUDA:
        p.put("max_memory_gib", round(torch.cuda.max_memory_allocated() / 2**30, 2))


# --------------------------------------------------------------------------- part: chain (issue 5)


def synthetic_tiny_imagenet(parent: Path, classes=8, n_train=100, n_val=25, seed=0) -> Path:
    """A tiny-imagenet-200 folder in the standard layout, 64x64 JPEGs whose colour depends on the class."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = parent / "tiny-imagenet-200"
    wnids = [f"n{1000000 + 7919 * i:08d}" for i in range(classes)]
    (base / "val" / "images").mkdir(parents=True)
    (base / "wnids.txt").write_text("".join(f"{w}\n" for w in wnids))

    def img(c):
        colour = np.array([(c >> k) & 1 for k in range(3)], dtype=np.float64) * 170 + 40
        return Image.fromarray(np.clip(colour + rng.normal(0, 45, (64, 64, 3)), 0, 255).astype(np.uint8))

    for c, w in enumerate(wnids):
        folder = base / "train" / w / "images"
        folder.mkdir(parents=True)
        for i in range(n_train):
            img(c).save(folder / f"{w}_{i}.JPEG", quality=90)
    lines = []
    for i in range(n_val * classes):
        c = i % classes
        img(c).save(base / "val" / "images" / f"val_{i}.JPEG", quality=90)
        lines.append(f"val_{i}.JPEG\t{wnids[c]}\t0\t0\t63\t63\n")
    (base / "val" / "val_annotations.txt").write_text("".join(lines))
    return base


def part_chain(p: Part, work: Path) -> None:
    import importlib.util

    from findeval import process
    from findeval.a1 import jobs
    from findeval.io import load_checkpoint, read_json

    process.setup_logging(None)  # the jobs' own log lines (epochs, sparsity) go to the part's output
    root = work / "chain"
    root.mkdir()
    which = os.environ.get("FINDEVAL_BENCH_CHAIN_DATA") or (
        "digits" if importlib.util.find_spec("sklearn") else "tiny_imagenet")
    if which == "digits":  # config.yaml's digits miniature (its model, schedule and defaults)
        ds = {"name": "digits", "root": None}
        model = {"name": "resnet_cifar", "depth": 8, "width": 4}
        tr = {"epochs": 12, "schedule": "multistep", "milestones": [7, 9, 11], "gamma": 0.2, "momentum": 0.9}
        aug = {"crop_scale": [0.5, 1.0], "crop_ratio": [0.75, 1.3333333], "flip": False}
        h = H(0.1, 64, 5e-4)
        floor = 0.85
    else:  # a generated tiny-imagenet-200 folder (8 learnable classes): the JPEG preparation path too
        ds = {"name": "tiny_imagenet", "root": str(synthetic_tiny_imagenet(root, n_train=30 if SMOKE else 100,
                                                                           n_val=5 if SMOKE else 25))}
        model = {"name": "resnet_cifar", "depth": 8, "width": 8}
        tr = {"epochs": 6, "schedule": "multistep", "milestones": [4], "gamma": 0.2, "momentum": 0.9}
        aug = {"crop_scale": [0.5, 1.0], "crop_ratio": [0.75, 1.3333333], "flip": True}
        h = H(0.05, 64, 5e-4)
        floor = 0.5
    if SMOKE:
        tr["epochs"], tr["milestones"] = 2, [1]
        floor = 0.0
    paths = {k: str(root / k) for k in ("data.npz", "init.pt", "reinit.pt", "arch.json", "m0.json", "t0.pt",
                                     "mask1.h5", "ticket1.pt", "m1.json", "t1.pt", "mask2.h5", "m0cpu.json")}
    chain = {"dataset": ds["name"], "model": model, "training": tr, "H": h.as_dict(), "device": DEV}
    with p.guard("chain"):
        t = time.perf_counter()
        jobs.prepare_data(paths["data.npz"], name=ds["name"], root=ds["root"])
        jobs.init(paths["init.pt"], paths["reinit.pt"], paths["arch.json"], model=model, dataset=ds["name"], seed=0)
        common = {"data": paths["data.npz"], "kind": "lottery", "h_find": h, "h_eval": h, "seed": 0, "training": tr,
                  "augment": aug, "role": "train_find", "device": DEV, "threads": THREADS}
        m0 = jobs.train_run(paths["m0.json"], start=paths["init.pt"], mask=None, level=0, out_trained=paths["t0.pt"],
                            **common)
        mask1 = jobs.prune(paths["mask1.h5"], trained=paths["t0.pt"], parent_mask=None, fraction=0.2, level=1, seed=0,
                           h_find=h)
        jobs.rewind(paths["ticket1.pt"], start=paths["init.pt"], mask=paths["mask1.h5"])
        m1 = jobs.train_run(paths["m1.json"], start=paths["ticket1.pt"], mask=paths["mask1.h5"], level=1,
                            out_trained=paths["t1.pt"], **common)
        state, _ = load_checkpoint(paths["t1.pt"])
        regrown = {k: int(((state[k].cpu().numpy() != 0) & ~keep).sum()) for k, keep in mask1.items()}
        pruned = sum(int((~keep).sum()) for keep in mask1.values())
        jobs.prune(paths["mask2.h5"], trained=paths["t1.pt"], parent_mask=paths["mask1.h5"], fraction=0.2, level=2,
                   seed=0, h_find=h)  # refuses a trained checkpoint whose pruned weights are nonzero
        written = {k: os.path.getsize(paths[k]) for k in ("m0.json", "m1.json", "t0.pt", "t1.pt", "mask1.h5",
                                                        "ticket1.pt", "mask2.h5")}
        read_back = read_json(paths["m1.json"])
        chain.update({
            "seconds": round(time.perf_counter() - t, 2),
            "level0": {k: m0[k] for k in ("test_accuracy", "train_loss", "diverged", "train_time_s", "device")},
            "level1": {k: m1[k] for k in ("test_accuracy", "train_loss", "diverged", "train_time_s", "device",
                                          "sparsity", "zero_fraction")},
            "pruned_weights": pruned, "pruned_nonzero_after_gpu_training": sum(regrown.values()),
            "files_written": written, "metrics_read_back": read_back["level"] == 1 and read_back["device"] == DEV,
            "accuracy_floor": floor,
        })
        chain["ok"] = (chain["pruned_nonzero_after_gpu_training"] == 0 and chain["metrics_read_back"]
                       and not m0["diverged"] and not m1["diverged"] and m0["test_accuracy"] >= floor
                       and m1["test_accuracy"] >= floor and m1["zero_fraction"] >= m1["sparsity"] - 1e-9)
        p.put("chain", chain)
    if CUDA:
        with p.guard("chain_level0_cpu"):
            c = jobs.train_run(paths["m0cpu.json"], start=paths["init.pt"], mask=None, level=0,
                               **{**common, "device": "cpu"})
            chain["level0_cpu"] = {k: c[k] for k in ("test_accuracy", "train_loss", "train_time_s")}
            p.put("chain", chain)
    if hasattr(jobs, "find_chain"):  # runtime.granularity "chain" (one job per find chain), where present
        with p.guard("find_chain"):
            d = root / "fc"
            d.mkdir()
            levels = range(3)
            t = time.perf_counter()
            jobs.find_chain(trained={L: str(d / f"t{L}.pt") for L in levels},
                            metrics={L: str(d / f"m{L}.json") for L in levels},
                            masks_out={L: str(d / f"mask{L}.h5") for L in levels if L},
                            tickets={L: str(d / f"ticket{L}.pt") for L in levels if L}, init=paths["init.pt"],
                            data=paths["data.npz"], h_find=h, seed=0, fraction=0.2, training=tr, augment=aug,
                            device=DEV, threads=THREADS)
            st, _ = load_checkpoint(str(d / "t2.pt"))
            mk, _ = masks_mod.load_mask(str(d / "mask2.h5"))
            nz = sum(int(((st[k].cpu().numpy() != 0) & ~keep).sum()) for k, keep in mk.items())
            accs = [read_json(str(d / f"m{L}.json"))["test_accuracy"] for L in levels]
            p.put("find_chain", {"levels": len(levels), "seconds": round(time.perf_counter() - t, 2),
                                 "test_accuracy": accs, "pruned_nonzero_level2": nz})


# --------------------------------------------------------------------------- part: epoch (issue 5 GPU-hours)


def part_epoch(p: Part, work: Path) -> None:
    bs, n = C["epoch_batch"], C["epoch_n"]
    out = {}
    for name in ("resnet18", "resnet50"):
        case = Case(name, C["width"], n)
        xe = torch.randint(0, 256, (C["eval_n"], 3, C["size"], C["size"]), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(2)).to(DEV)
        ye = torch.randint(0, C["classes"], (C["eval_n"],), generator=torch.Generator().manual_seed(3)).to(DEV)
        for precision, cl in (("bf16", True), ("fp32", False)):
            key = f"{name}_{precision}{'_cl' if cl else ''}"
            with p.guard(key):
                ours(case, case.subset(2 * bs), bs, precision=precision, cl=cl)
                r = ours(case, case.data, bs, precision=precision, cl=cl)
                model = case.fresh().to(DEV)
                if cl:
                    model.to(memory_format=torch.channels_last)
                training.evaluate(model, xe[:1024], ye[:1024], case.data.mean, case.data.std, precision=precision,
                                  channels_last=cl)
                sync()
                t = time.perf_counter()
                training.evaluate(model, xe, ye, case.data.mean, case.data.std, precision=precision, channels_last=cl)
                sync()
                r["eval_ips"] = C["eval_n"] / (time.perf_counter() - t)
                r.update(model=name, batch=bs, precision=precision, channels_last=cl)
                out[key] = r
                p.put("epoch", out)
            if CUDA:
                torch.cuda.empty_cache()


# --------------------------------------------------------------------------- part: cudnn.benchmark


def part_cudnn(p: Part, work: Path) -> None:
    bs = C["batches"][0]
    case = Case("resnet50", C["width"], C["mask_n"])
    out = {}
    for flag in (False, True):
        with p.guard(f"cudnn_benchmark_{flag}"):
            torch.backends.cudnn.benchmark = flag
            ours(case, case.subset(C["warm_batches"] * bs), bs)
            out[str(flag)] = ours(case, case.data, bs)
            p.put("cudnn_benchmark", out)


# --------------------------------------------------------------------------- part: pack (issue 15 item 2)

#: Issue 15's targets: trainings per GPU-hour with several trainings per GPU, over one training per GPU.
PACK_TARGETS = {"resnet18": 2.0, "resnet50": 1.5}
#: One training of the presets: 110 epochs of Tiny ImageNet's 100,000 training images (training steps only).
RUN_EPOCHS, RUN_IMAGES = 110, 100_000
PACK_STRATEGIES = ("grouped", "processes")
PROTO = "@@pack "  # prefix of the protocol lines a pack worker writes to its stdout


def pack_groups() -> tuple[int, ...]:
    raw = os.environ.get("FINDEVAL_BENCH_PACK_G", "").replace(",", " ").split()
    return tuple(int(g) for g in raw) if raw else C["pack_groups"]


def trainings_per_gpu_hour(network_ips: float) -> float:
    return 3600.0 * network_ips / (RUN_EPOCHS * RUN_IMAGES)


class GpuBusy:
    """The GPU's busy share over a window: NVML's utilization.gpu (the share of each sample period in which a
    kernel of any process ran; nvidia-ml-py's pynvml) polled every 50 ms by a thread, and the device memory in
    use (all processes). Only on CUDA, and only where pynvml imports; otherwise ``result()`` says why not."""

    def __init__(self):
        self.samples, self.memory, self.error, self._stop = [], [], None, None

    def __enter__(self):
        if not CUDA:
            self.error = "not measured on the CPU"
            return self
        try:
            import threading

            import pynvml

            pynvml.nvmlInit()
            try:
                handle = pynvml.nvmlDeviceGetHandleByUUID(f"GPU-{torch.cuda.get_device_properties(0).uuid}")
            except Exception:  # noqa: BLE001 - older torch or another UUID spelling: the first device
                handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            self._stop = threading.Event()

            def poll():
                while not self._stop.is_set():
                    self.samples.append(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                    self.memory.append(pynvml.nvmlDeviceGetMemoryInfo(handle).used)
                    self._stop.wait(0.05)

            self._thread = threading.Thread(target=poll, daemon=True)
            self._thread.start()
        except Exception as err:  # noqa: BLE001 - the throughput is still measured
            self.error = f"NVML unavailable: {type(err).__name__}: {err}"
        return self

    def __exit__(self, *exc):
        if self._stop is not None:
            self._stop.set()
            self._thread.join(timeout=5)

    def result(self) -> dict:
        if not self.samples:
            return {"busy": None, "busy_note": self.error or "no NVML sample"}
        # the first samples can still report the period before the window
        s = self.samples[2:] if len(self.samples) > 6 else self.samples
        return {"busy": statistics.mean(s) / 100.0, "busy_samples": len(s),
                "device_memory_used_gib": round(max(self.memory) / 2**30, 2)}


def oom(err: BaseException) -> bool:
    return "out of memory" in str(err).lower()


def grouped_once(case: Case, d, bs: int, G: int, seed: int = 1) -> dict:
    """One epoch of findeval.grouped.train_group over ``d`` for G copies of the case's network (the case's mask
    in each), bf16 + channels_last: the pipeline's grouped sweep (runtime.group G) on one GPU."""
    grouped_mod = importlib.import_module("findeval.grouped")
    nets = [case.fresh() for _ in range(G)]
    sync()
    t = time.perf_counter()
    rs = grouped_mod.train_group(nets, d, H(LR, bs, WD), training.Schedule(epochs=1, momentum=0.9), data_seed=seed,
                                 masks=[case.mask] * G, augment=AUG, device=DEV, precision="bf16", channels_last=True)
    sync()
    wall = time.perf_counter() - t
    if any(r["diverged"] for r in rs):
        raise RuntimeError("a grouped training diverged: the timing would be meaningless")
    counts = [pruned_counts(dict(n.named_parameters()), case.mask) for n in nets]
    n = len(d.y_train)
    return {"images_per_network": n, "steps": rs[0]["iterations_per_epoch"], "wall_s": round(wall, 4),
            "network_ips": G * n / wall, "pruned_nonzero": sum(c["pruned_nonzero"] for c in counts),
            "pruned_nan": sum(c["pruned_nan"] for c in counts)}


class PackWorker:
    """A process of its own (``python benchmarks/gpu.py pack-worker``) that trains one network per command with
    findeval.training.train on the same GPU as the others: warm-up, then 'ready', then the timed epoch on 'go'."""

    def __init__(self, index: int):
        import queue
        import subprocess
        import threading

        self.index, self.lines = index, queue.Queue()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "pack-worker"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

        def read():
            for line in self.proc.stdout:
                if line.startswith(PROTO):
                    self.lines.put(json.loads(line[len(PROTO):]))
            self.lines.put({"error": f"worker {index} exited ({self.proc.wait()})"})

        threading.Thread(target=read, daemon=True).start()

    def send(self, msg: dict) -> None:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def get(self, timeout: float) -> dict:
        import queue

        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return {"error": f"worker {self.index}: no answer in {timeout:.0f} s"}

    def close(self) -> None:
        try:
            self.send({"op": "quit"})
            self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 - a hung or dead worker is killed
            self.proc.kill()
            self.proc.wait()


def processes_once(workers: list, name: str, n: int, bs: int, G: int, timeout: float) -> dict:
    """G workers train one network each at the same time (started together once all are warm): network images/s
    over the span from the first start to the last end."""
    use = workers[:G]
    for i, w in enumerate(use):
        w.send({"op": "train", "model": name, "n": n, "batch": bs, "seed": 1 + i})
    ready = [w.get(timeout) for w in use]
    errors = [r["error"] for r in ready if "error" in r]
    if errors:  # the others are told to skip this run (they wait for 'go')
        for w, r in zip(use, ready):
            if "error" not in r:
                w.send({"op": "skip"})
        raise RuntimeError("; ".join(errors))
    with GpuBusy() as busy:
        for w in use:
            w.send({"op": "go"})
        done = [w.get(timeout) for w in use]
    errors = [r["error"] for r in done if "error" in r]
    if errors:
        raise RuntimeError("; ".join(errors))
    wall = max(r["t1"] for r in done) - min(r["t0"] for r in done)
    out = {"images_per_network": n, "steps": done[0]["steps"], "wall_s": round(wall, 4), "network_ips": G * n / wall,
           "per_process_wall_s": [r["wall_s"] for r in done], "pruned_nonzero": sum(r["pruned_nonzero"] for r in done),
           "start_spread_s": round(max(r["t0"] for r in done) - min(r["t0"] for r in done), 4), **busy.result()}
    if CUDA:
        out["max_memory_gib"] = round(sum(r["max_memory_gib"] for r in done), 2)
    return out


def pack_worker() -> int:
    """The loop of one pack worker: commands as JSON lines on stdin, answers as PROTO lines on stdout."""
    if not CUDA:
        torch.set_num_threads(1)
    cases = {}

    def say(msg):
        print(PROTO + json.dumps(msg, default=str), flush=True)

    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        try:
            key = (cmd["model"], cmd["n"])
            if key not in cases:
                cases.clear()  # one case at a time: the GPU memory of the others is free
                cases[key] = Case(cmd["model"], C["width"], cmd["n"])
            case, bs = cases[key], cmd["batch"]
            ours(case, case.subset(C["pack_warm"] * bs), bs)  # cuDNN plans, allocator
            if CUDA:
                torch.cuda.reset_peak_memory_stats()
            say({"ready": True})
            go = json.loads(sys.stdin.readline() or '{"op": "quit"}')
            if go["op"] == "skip":  # another worker could not start this run
                continue
            if go["op"] != "go":
                break
            r = ours(case, case.data, bs, seed=cmd["seed"], check_mask=True)
            t0 = r.pop("t_start")  # the span of ours' own timing (the mask check after it is not counted)
            say({**r, "t0": t0, "t1": t0 + r["wall_s"],
                 "max_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if CUDA else None})
        except Exception as err:  # noqa: BLE001 - the parent records it and goes on
            say({"error": f"{type(err).__name__}: {err}"})
        finally:
            if CUDA:
                torch.cuda.empty_cache()
    return 0


def part_pack(p: Part, work: Path) -> None:
    """Trainings per GPU-hour with G trainings on one GPU (G = 1, 2, 4, 8), ResNet-18 and ResNet-50 at the
    presets' 64x64 and batch 512, bf16 + channels_last: (a) G networks grouped in one process
    (findeval.grouped.train_group, what runtime.group G runs), (b) G processes each training one network
    (findeval.training.train) on the same GPU at once, against today's one training per GPU (train(), G = 1)."""
    limit = float(os.environ.get("FINDEVAL_BENCH_PACK_LIMIT_S", C["pack_limit_s"]))
    bs, n, groups = C["epoch_batch"], C["pack_n"], pack_groups()
    p.put("pack_settings", {"batch": bs, "images_per_network": n, "groups": groups, "image_size": C["size"],
                            "width": C["width"], "precision": "bf16", "channels_last": True,
                            "run": f"{RUN_EPOCHS} epochs x {RUN_IMAGES} images", "targets": PACK_TARGETS})
    out = {}
    workers = []
    try:
        # started first: their interpreters and CUDA contexts start while this process measures
        workers = [PackWorker(i) for i in range(max(groups))]
        for name in ("resnet18", "resnet50"):
            res = out.setdefault(name, {"single": None, "grouped": {}, "processes": {}})
            case = Case(name, C["width"], n)
            with p.guard(f"pack_{name}_single"):  # today: one training per GPU
                ours(case, case.subset(C["pack_warm"] * bs), bs)
                if CUDA:
                    torch.cuda.reset_peak_memory_stats()
                with GpuBusy() as busy:
                    r = ours(case, case.data, bs, check_mask=True)
                res["single"] = {"images_per_network": r["images"], "steps": r["steps"], "wall_s": r["wall_s"],
                                 "network_ips": r["ips"], "pruned_nonzero": r["pruned_nonzero"], **busy.result()}
                if CUDA:
                    res["single"]["max_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
                p.put("pack", out)
            for G in groups:  # both packings at each G before the next G: a time limit cuts the largest G
                key = f"pack_{name}_grouped_G{G}"
                if over(limit):
                    p.res["errors"][key] = "skipped: part time limit"
                else:
                    with p.guard(key):
                        try:
                            grouped_once(case, case.subset(C["pack_warm"] * bs), bs, G)
                            if CUDA:
                                torch.cuda.reset_peak_memory_stats()
                            with GpuBusy() as busy:
                                r = grouped_once(case, case.data, bs, G)
                            r.update(busy.result())
                            if CUDA:
                                r["max_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
                        except Exception as err:  # noqa: BLE001
                            if not oom(err):
                                raise
                            r = {"error": "out of memory"}
                        finally:
                            if CUDA:
                                torch.cuda.empty_cache()
                        res["grouped"][str(G)] = r
                        p.put("pack", out)
                key = f"pack_{name}_processes_G{G}"
                if over(limit):
                    p.res["errors"][key] = "skipped: part time limit"
                    continue
                with p.guard(key):
                    remaining = limit - (time.perf_counter() - T_START)
                    try:
                        r = processes_once(workers, name, n, bs, G, timeout=max(60.0, remaining))
                    except RuntimeError as err:
                        if not oom(err):
                            raise
                        r = {"error": "out of memory"}
                    res["processes"][str(G)] = r
                    p.put("pack", out)
            del case
            if CUDA:
                torch.cuda.empty_cache()
    finally:
        for w in workers:
            w.close()


# --------------------------------------------------------------------------- report


def f(x, nd=3):
    if x is None:
        return "n/a"
    if isinstance(x, str):
        return x
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.{nd}g}"


def pct(x):
    return "n/a" if x is None else f"{100 * x:.1f}%"


def report(work: Path, out: Path) -> None:
    parts = {}
    for name in PARTS:
        path = work / f"part_{name}.json"
        if path.exists():
            parts[name] = json.loads(path.read_text())
    status = {}
    tsv = work / "parts.tsv"
    if tsv.exists():
        for line in tsv.read_text().split("\n"):
            if line.strip():
                name, rc, sec = line.split()
                status[name] = {"rc": int(rc), "seconds": int(sec)}
    res = {"parts": parts, "status": status, "peaks_tflops": {"datasheet": PEAK_DATASHEET, "measured": PEAK_MEASURED}}
    nvsmi = work / "nvidia_smi.txt"
    if nvsmi.exists():
        res["nvidia_smi"] = nvsmi.read_text().strip()
    L = ["# findeval on one GPU (benchmarks/gpu.sh)", ""]
    e = next((q["env"] for q in parts.values() if "env" in q), {})
    L.append(f"Machine: {e.get('gpu', e.get('device', '?'))} ({e.get('gpu_memory_gib', '?')} GiB, "
             f"capability {e.get('capability', '-')}), {e.get('cpus')} CPUs; torch {e.get('torch')}, torchvision "
             f"{e.get('torchvision')}, CUDA {e.get('cuda', '-')}, cuDNN {e.get('cudnn', '-')}, Python "
             f"{e.get('python')}; cudnn.benchmark {e.get('cudnn_benchmark', '-')}, cuDNN TF32 "
             f"{e.get('cudnn_allow_tf32', '-')}, matmul TF32 {e.get('matmul_allow_tf32', '-')}."
             + (" **SMOKE RUN (tiny sizes): numbers mean nothing.**" if e.get("smoke") else ""))
    if res.get("nvidia_smi"):
        L.append(f"nvidia-smi: `{res['nvidia_smi'].splitlines()[-1]}`")
    L.append("Parts: " + ", ".join(f"{k} rc={v['rc']} in {v['seconds']} s" for k, v in status.items()) + ".")
    L.append("")

    s = parts.get("step", {})
    fl = (s.get("flops") or {}).get("train_flops_per_image")
    mdl = s.get("model", {})
    L += ["## Issue 6 item 3: training step, ResNet-50 at 64x64, bf16 autocast + channels_last", "",
          (f"Model: {mdl.get('spec')}, {f((mdl.get('parameters') or {}).get('total'))} parameters; random global "
          f"mask keeping {pct(mdl.get('mask_kept'))} of the convolution weights, re-applied after every step in all "
          f"loops. Synthetic uint8 images, 200 classes, RandomResizedCrop(0.08-1) + flip, SGD momentum 0.9. "
          f"FLOPs per image (FlopCounterMode, convolutions + matmuls, forward+backward): "
          f"{f(fl / 1e9 if fl else None)} GFLOP (forward alone "
          f"{f(((s.get('flops') or {}).get('forward_flops_per_image') or 0) / 1e9)}). "
          f"Reference: DataLoader with {mdl.get('reference_workers')} workers, pinned memory, per-image torchvision "
          f"v2 transforms on uint8 tensors, torch.optim.SGD. Images/s are whole epochs "
          f"({C['n_timed']} images: ours = one findeval.training.train call), after a warm-up."), "",
          ("| batch | ours img/s | reference img/s | ours / reference | compute-only img/s | ours / compute-only | "
          "GPU busy in step, ours (events) | reference (events) | ours TFLOP/s | of 989 | of 790 |"),
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for bs, r in (s.get("step") or {}).items():
        o, ref, co = r.get("ours", {}), r.get("reference", {}), r.get("compute_only", {})
        oi, ri, ci = o.get("ips"), ref.get("ips"), co.get("ips")
        tf = fl * oi / 1e12 if (fl and oi) else None
        L.append(f"| {bs} | {f(oi)} | {f(ri)} | {f(oi / ri if oi and ri else None)} | {f(ci)} | "
                 f"{f(oi / ci if oi and ci else None)} | {pct(o.get('busy_events'))} | {pct(ref.get('busy_events'))} | "
                 f"{f(tf)} | {pct(tf / PEAK_DATASHEET if tf else None)} | {pct(tf / PEAK_MEASURED if tf else None)} |")
    for bs, r in (s.get("step") or {}).items():
        co = r.get("compute_only", {})
        if fl and co.get("ips"):
            t = fl * co["ips"] / 1e12
            L.append(f"\nCompute-only ceiling at batch {bs}: {f(co.get('step_ms'))} ms/step, {f(t)} TFLOP/s = "
                     f"{pct(t / PEAK_DATASHEET)} of 989, {pct(t / PEAK_MEASURED)} of 790.")
        for who in ("ours", "reference"):
            pr = (r.get(who) or {}).get("profiler")
            if pr and pr.get("busy_share") is not None:
                L.append(f"\ntorch.profiler kernel timeline, {who}, batch {bs}: GPU busy {pct(pr['busy_share'])} of "
                         f"{f(pr['span_s'])} s from first to last GPU activity ({pr['gpu_events']} GPU events).")
    m = s.get("masking")
    if m:
        L.append(f"\nMasking cost (ours, batch {m['batch']}, {m['images']} images, interleaved pairs): time masked / "
                 f"unmasked = {f(m['ratio_median'])} (median; masked {m['masked_s']} s, unmasked {m['unmasked_s']} s); "
                 f"compute-only loop: {f(m['compute_only_ratio'])}.")
    fp = s.get("fp32")
    if fp:
        L.append(f"\nOurs in fp32 (the pipeline default; cuDNN may use TF32), batch {fp['batch']}: "
                 f"{f(fp['ours']['ips'])} img/s vs {f(fp['ours_bf16_same_images']['ips'])} with bf16 + channels_last "
                 f"(x{f(fp['ours_bf16_same_images']['ips'] / fp['ours']['ips'])}).")
    nz = {f"{bs} {who}": (r.get(who) or {}).get("pruned_nonzero") for bs, r in (s.get("step") or {}).items()
          for who in ("ours",)}
    if nz:
        L.append(f"\nPruned weights nonzero after ours (bf16 + channels_last) trained with the mask: {nz} (must be 0).")
    if s.get("max_memory_gib") is not None:
        L.append(f"\nPeak GPU memory allocated in this part: {s['max_memory_gib']} GiB.")
    if s.get("errors"):
        L.append(f"\nErrors: {s['errors']}")
    L.append("")

    c = parts.get("chain", {})
    ch = c.get("chain")
    L += ["## Issue 5: the pipeline's job functions on the GPU", ""]
    if ch:
        l0, l1 = ch["level0"], ch["level1"]
        L += [(f"Dataset {ch['dataset']}, model {ch['model']}, {ch['training']['epochs']} epochs, H {ch['H']}, "
              f"device {ch['device']}: prepare_data -> init -> train_run (level 0) -> prune -> rewind -> train_run "
              "(level 1, masked) -> prune (level 2, checks the level-1 weights against the mask) in "
              f"{ch['seconds']} s."),
              "", "| check | result |", "| --- | --- |",
              f"| **all checks** | **{'PASS' if ch['ok'] else 'FAIL'}** |",
              (f"| level 0 test accuracy (device) | {f(l0['test_accuracy'])} ({l0['device']}, train "
               f"{l0['train_time_s']} s) |"),
              (f"| level 1 test accuracy | {f(l1['test_accuracy'])} (sparsity {f(l1['sparsity'])}, zero fraction "
              f"{f(l1['zero_fraction'])}) |"),
              f"| accuracy floor | {ch['accuracy_floor']} |",
              (f"| pruned weights nonzero after GPU training | {ch['pruned_nonzero_after_gpu_training']} of "
              f"{ch['pruned_weights']} |"),
              f"| metrics written and read back | {ch['metrics_read_back']} ({ch['files_written']}) |"]
        if ch.get("level0_cpu"):
            L.append(f"| level 0 on the CPU, same job (accuracy, train s) | {f(ch['level0_cpu']['test_accuracy'])}, "
                     f"{ch['level0_cpu']['train_time_s']} s |")
    fc = c.get("find_chain")
    if fc:
        L.append(f"\njobs.find_chain (runtime.granularity chain), {fc['levels']} levels on {DEV}: {fc['seconds']} s, "
                 f"test accuracy {fc['test_accuracy']}, pruned weights nonzero at level 2: "
                 f"{fc['pruned_nonzero_level2']}.")
    if c.get("errors"):
        L.append(f"\nErrors: {c['errors']}")
    L.append("")

    ep = parts.get("epoch", {})
    L += ["## Issue 5: epoch throughput at the presets' batch size (for GPU-hours)", "",
          ("Ours (findeval.training.train), synthetic 64x64 images, 200 classes, per epoch with a 2-image test "
          "set; evaluation images/s measured separately (training.evaluate, batch 1024). Tiny ImageNet epoch = 100,000 "
          "training + 10,000 test images; one run = 110 epochs."), "",
          ("| model | precision | batch | train img/s | eval img/s | s per Tiny ImageNet epoch "
           "| GPU-h per 110-epoch run |"),
          "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in (ep.get("epoch") or {}).values():
        sec = 100000 / r["ips"] + 10000 / r["eval_ips"]
        cl = " + channels_last" if r["channels_last"] else ""
        L.append(f"| {r['model']} | {r['precision']}{cl} | {r['batch']} | "
                 f"{f(r['ips'])} | {f(r['eval_ips'])} | {f(sec)} | {f(110 * sec / 3600)} |")
        r["tiny_imagenet_epoch_s"], r["run_110_epochs_gpu_h"] = sec, 110 * sec / 3600
    L += ["", ("GPU-hours of a preset = (number of training runs) x 110 x (100000 / train img/s + 10000 / eval "
          "img/s) / 3600, at batch 512 (grid points at batch 256/1024 run at other speeds). The ResNet-50 preset "
          "(config/resnet50-tinyimagenet.yaml) names 10,780 training runs of 110 epochs:")]
    for r in (ep.get("epoch") or {}).values():
        if r["model"] == "resnet50":
            L.append(f"- {r['precision']}: {f(10780 * r['run_110_epochs_gpu_h'])} GPU-hours")
    if ep.get("errors"):
        L.append(f"\nErrors: {ep['errors']}")
    L.append("")

    cb = (parts.get("cudnn") or {}).get("cudnn_benchmark")
    if cb:
        L += ["## cudnn.benchmark (ours, ResNet-50 bf16 + channels_last)", ""]
        for k, r in cb.items():
            L.append(f"- cudnn.benchmark={k}: {f(r['ips'])} img/s")
        if (parts.get("cudnn") or {}).get("errors"):
            L.append(f"\nErrors: {parts['cudnn']['errors']}")
        L.append("")
    L += report_pack(parts.get("pack", {}))
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_results.json").write_text(json.dumps(res, indent=1, default=str))
    (out / "gpu_results.md").write_text("\n".join(L) + "\n")
    print("\n".join(L))


def report_pack(pk: dict) -> list[str]:
    """The pack part's section: trainings per GPU-hour per G and packing beside today's (G = 1, train()) and the
    issue's targets."""
    st, res = pk.get("pack_settings"), pk.get("pack")
    L = ["## Issue 15 item 2: several trainings per GPU", ""]
    if not st:
        L += ["Not run (part pack).", ""]
        return L
    L += [(f"ResNet-18 and ResNet-50 (width {st['width']}, {st['image_size']}x{st['image_size']} synthetic images), "
           f"batch {st['batch']} per network, bf16 autocast + channels_last, {st['images_per_network']} images per "
           "network per timed epoch after a warm-up. Packings: **grouped** = G networks as one grouped network in one "
           "process (findeval.grouped.train_group, what `runtime.group: G` runs in an eval_sweep job); **processes** = "
           "G processes on the same GPU at once, each training one network (findeval.training.train; no MPS: the "
           "GPU time-slices between them). Today = one training per GPU (train(), G = 1). Trainings per GPU-hour = "
           f"3600 x network images/s / ({st['run']}); training steps only (evaluation adds about a tenth: part "
           "epoch). GPU busy = NVML utilization.gpu (share of time a kernel of any process ran), averaged over the "
           "timed epoch."), ""]
    if not res:
        L += ["No measurement finished.", ""]
        return L
    L += ["| model | packing | G | network img/s | trainings / GPU-hour | x today | target | GPU busy | "
          "memory GiB | note |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    best = {}
    for name, r in res.items():
        target = PACK_TARGETS.get(name)
        today = (r.get("single") or {}).get("network_ips")
        rows = [("today (train())", "1", r.get("single") or {})]
        rows += [(k, g, v) for k in PACK_STRATEGIES for g, v in (r.get(k) or {}).items()]
        for strategy, g, v in rows:
            ips = v.get("network_ips")
            ratio = ips / today if ips and today else None
            note = v.get("error") or ("" if not v.get("pruned_nonzero") else f"{v['pruned_nonzero']} pruned nonzero!")
            mem = v.get("max_memory_gib", v.get("device_memory_used_gib"))
            met = "" if ratio is None or strategy.startswith("today") else (" met" if ratio >= target else " not met")
            L.append(f"| {name} | {strategy} | {g} | {f(ips)} | {f(trainings_per_gpu_hour(ips) if ips else None)} | "
                     f"{f(ratio)} | {target}x{met} | {pct(v.get('busy'))} | {f(mem)} | {note} |")
            if ratio is not None and int(g) > 1 and ratio > best.get(name, (0,))[0]:  # packed: G >= 2
                best[name] = (ratio, strategy, g)
    L.append("")
    for name, target in PACK_TARGETS.items():
        if name in best:
            ratio, strategy, g = best[name]
            L.append(f"- {name}: best {strategy} at G = {g}: {f(ratio)}x today's trainings per GPU-hour (target "
                     f"{target}x: {'met' if ratio >= target else 'not met'}).")
        elif name in res:
            L.append(f"- {name}: no packed measurement finished (target {target}x).")
    if pk.get("errors"):
        L.append(f"\nErrors: {pk['errors']}")
    L.append("")
    return L


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    usage = __doc__.split("\n\n")[1]
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] == "report" and len(argv) == 3:
        report(Path(argv[1]), Path(argv[2]))
        return 0
    if argv == ["pack-worker"]:
        return pack_worker()
    if argv[0] not in PARTS or len(argv) != 2:
        print(f"usage:\n{usage}", file=sys.stderr)
        return 2
    name, work = argv[0], Path(argv[1])
    if CUDA and not torch.cuda.is_available():
        print("FINDEVAL_BENCH_DEVICE is cuda but torch sees no CUDA device", file=sys.stderr)
        return 2
    if not CUDA:
        torch.set_num_threads(1)
    p = Part(work, name)
    print(f"part {name}: {p.res['env']}", flush=True)
    {"step": part_step, "chain": part_chain, "epoch": part_epoch, "cudnn": part_cudnn, "pack": part_pack}[name](p, work)
    p.res["done"] = True
    p.res["seconds"] = round(time.perf_counter() - T_START, 1)
    p.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
