"""Networks trained per second on a sweep: grouped training (findeval.grouped) against one at a time
(findeval.training.train) and against the hand-written loop of benchmarks/bench.py (issue 15, target 1).

    python benchmarks/grouped.py                  # about 1-2 minutes on 2 cores
    python benchmarks/grouped.py --quick          # seconds; numbers only indicative (used by the tests)
    python benchmarks/grouped.py --out benchmarks/grouped_results.md
    python benchmarks/grouped.py --fig2 -n        # plan figures/fig2.pdf with runtime.group 0 and 14 (seconds)
    python benchmarks/grouped.py --fig2           # time figures/fig2.pdf: group 0, 14, 14 + find groups (~15 min)

``--fig2`` (issue 15, target 2) runs, for each G of ``--fig2-groups`` (default 0 14), the whole of
``snakemake figures/fig2.pdf --cores N --config 'runtime={group: G, find_group: F}'`` (``G/F``; ``G`` alone:
F = 0) on ``--config`` in a fresh work folder
(its own results/: every job runs, find chains included), one G after the other, and prints the wall times
against today's 6 min 15 s. ``-n`` only plans (``snakemake -n``) and prints the jobs per rule of each G.

The default experiment of config.yaml (resnet_cifar depth 8 width 4 on digits, batch 64, its augmentation and
schedule). Every timed unit trains ``--epochs`` epochs from fresh start weights and is converted into networks
per second of a whole training (``training.epochs`` epochs). The hand-written loop (torchvision per-image
transforms through a DataLoader, torch.optim.SGD, masks multiplied in after every step) is
``bench.reference_loop``, imported, not copied; like bench.py's step measure it runs with a 2-image test set.
Ours are timed twice: in the same "step" setting (2-image test set: training throughput, what bench.py's
images/s compares) and "with evaluation" (the real test set evaluated after every epoch, as a sweep job does;
the hand loop does no evaluation, so this ratio is conservative). A group of G trains G masks of a sweep
(global random masks of levels 0..G-1 of one start, as an evaluation sweep of random baselines).

The machine may be shared: every repeat runs all variants in a rotated order, so a change of load hits each,
and the table gives medians over repeats, and the median of the per-repeat ratios, with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for p in (str(REPO), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import bench  # noqa: E402  (benchmarks/bench.py: its default case and its hand-written loop)

#: Issue 15's figures of today (benchmarks/bench.py, idle 2-core machine): images/s of a training step.
TODAY_OURS_IPS = 20271
TODAY_HAND_IPS = 8553
TARGET_VS_HAND = 5.0  # networks/s of a sweep over the hand-written loop's


def sweep_masks(case, G: int) -> list:
    """Masks of levels 0..G-1 (level 0: none), as the G networks of one sweep."""
    model = bench._fresh_model(case)
    return [None if lvl == 0 else bench._mask_for(model, lvl, 0.2, seed=lvl) for lvl in range(G)]


def time_single(case, data, epochs: int, seed: int) -> float:
    from findeval import training

    model = bench._fresh_model(case)
    sched = replace(case.schedule, epochs=epochs)
    t = time.perf_counter()
    r = training.train(model, data, case.h, sched, data_seed=seed, mask=case.mask, augment=case.augment)
    dt = time.perf_counter() - t
    if r["diverged"]:
        raise RuntimeError("benchmark training diverged")
    return dt


def time_group(case, data, epochs: int, G: int, masks: list, seed: int, channels_last=None) -> float:
    from findeval import grouped

    nets = [bench._fresh_model(case) for _ in range(G)]
    sched = replace(case.schedule, epochs=epochs)
    t = time.perf_counter()
    rs = grouped.train_group(nets, data, case.h, sched, data_seed=seed, masks=masks, augment=case.augment,
                             channels_last=channels_last)
    dt = time.perf_counter() - t
    if any(r["diverged"] for r in rs):
        raise RuntimeError("benchmark training diverged")
    return dt


def measure(config_path: Path, *, epochs: int, repeats: int, groups: tuple, quick: bool, progress=print) -> dict:
    import shutil

    work = Path(tempfile.mkdtemp(prefix="findeval-grouped-bench-"))
    try:
        return _measure(config_path, work, epochs=epochs, repeats=repeats, groups=groups, quick=quick,
                        progress=progress)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(config_path: Path, work: Path, *, epochs: int, repeats: int, groups: tuple, quick: bool,
             progress=print) -> dict:
    import torch

    from findeval import data as data_mod

    torch.set_num_threads(1)
    config = bench.read_config(config_path)
    budget = bench.Budget.quick() if quick else bench.Budget()
    case = bench.default_case(config, work, budget)
    full = data_mod.load(work / "dataset.npz")
    if budget.train_subset:
        full.x_train, full.y_train = full.x_train[: budget.train_subset], full.y_train[: budget.train_subset]
    step_data = case.data  # 2-image test set, as bench.py
    hand_run, hand_images = bench.reference_loop(case)
    masks = {G: sweep_masks(case, G) for G in groups}
    full_epochs = int(config["training"]["epochs"])

    variants = {"hand": lambda s: hand_run(epochs), "single": lambda s: time_single(case, step_data, epochs, s),
                "single+eval": lambda s: time_single(case, full, epochs, s)}
    for G in groups:
        variants[f"G{G}"] = (lambda G: lambda s: time_group(case, step_data, epochs, G, masks[G], s))(G)
        variants[f"G{G}+eval"] = (lambda G: lambda s: time_group(case, full, epochs, G, masks[G], s))(G)
    nets = {"hand": 1, "single": 1, "single+eval": 1, **{f"G{G}": G for G in groups},
            **{f"G{G}+eval": G for G in groups}}
    load0 = os.getloadavg()
    progress(f"warm-up ({len(variants)} variants, 1 epoch each)")
    hand_run(1)
    time_single(case, step_data, 1, 0)
    time_group(case, step_data, 1, groups[0], masks[groups[0]], 0)
    times = {k: [] for k in variants}
    names = list(variants)
    for r in range(repeats):
        order = names[r % len(names):] + names[: r % len(names)]
        for k in order:
            times[k].append(variants[k](r))
        progress(f"repeat {r + 1}/{repeats}: " + ", ".join(f"{k} {times[k][-1]:.2f}s" for k in names))
    # networks per second of whole trainings (full_epochs epochs)
    nps = {k: [nets[k] * epochs / (t * full_epochs) for t in ts] for k, ts in times.items()}
    ratio = {}
    for k in names:
        ratio[(k, "hand")] = statistics.median(a / b for a, b in zip(nps[k], nps["hand"]))
        base = "single+eval" if k.endswith("+eval") else "single"
        ratio[(k, "single")] = statistics.median(a / b for a, b in zip(nps[k], nps[base]))
    return {"nps": {k: statistics.median(v) for k, v in nps.items()}, "ratio": ratio, "names": names, "nets": nets,
            "load": (load0, os.getloadavg()), "epochs": epochs, "full_epochs": full_epochs, "repeats": repeats,
            "case": case.name, "n_train": case.n_train, "hand_images": hand_images, "machine": bench.machine(),
            "quick": quick}


def render(res: dict) -> str:
    m = res["machine"]
    per_net = res["full_epochs"] * res["n_train"]
    today_ours, today_hand = TODAY_OURS_IPS / per_net, TODAY_HAND_IPS / per_net
    lines = [
        "# Grouped training: networks trained per second on a sweep",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores; torch {m['torch']}, 1 thread; load average "
        f"{res['load'][0][0]:.2f} at start, {res['load'][1][0]:.2f} at end; {m['date']}; "
        f"{res['case']}; {res['n_train']} training images; each timed unit {res['epochs']} epoch(s), "
        f"converted to whole trainings of {res['full_epochs']} epochs; median of {res['repeats']} rotated repeats"
        f"{' (QUICK budget: indicative only)' if res['quick'] else ''}.",
        "",
        "| variant | networks per group | networks/s | vs one at a time | vs hand-written loop | target | met "
        "| today |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    label = {"hand": "hand-written loop (bench.reference_loop), 2-image test set",
             "single": "one at a time, training.train, 2-image test set",
             "single+eval": "one at a time, training.train, per-epoch test evaluation"}
    for k in res["names"]:
        G = res["nets"][k]
        name = label.get(k) or (f"grouped G={G}, " + ("per-epoch test evaluation" if k.endswith("+eval")
                                                       else "2-image test set"))
        vs_hand = res["ratio"][(k, "hand")]
        grouped_row = k.startswith("G")
        target = (f">= {TARGET_VS_HAND:g}x hand" + (" (conservative: the hand loop evaluates nothing)"
                                                    if k.endswith("+eval") else "")) if grouped_row else "-"
        met = ("yes" if vs_hand >= TARGET_VS_HAND else "no") if grouped_row else "-"
        today = {"hand": f"{today_hand:.3f} net/s ({TODAY_HAND_IPS:,} img/s)",
                 "single": f"{today_ours:.3f} net/s ({TODAY_OURS_IPS:,} img/s), {today_ours / today_hand:.2f}x hand"
                 }.get(k, "-" if not grouped_row else f"{today_ours / today_hand:.2f}x hand (one at a time)")
        lines.append(f"| {name} | {G} | {res['nps'][k]:.3f} | {res['ratio'][(k, 'single')]:.2f} | {vs_hand:.2f} | "
                     f"{target} | {met} | {today} |")
    lines += ["", "Today's figures: issue 15 (benchmarks/bench.py on an idle 2-core machine), converted to networks/s "
              f"of a {res['full_epochs']}-epoch training of {res['n_train']} images."]
    return "\n".join(lines) + "\n"


#: Issue 15: figures/fig2.pdf on the default config, 2 idle cores, before grouped sweeps (s).
TODAY_FIG2_S = 6 * 60 + 15


def snakemake_fig2(workdir: Path, config: Path, group: int, cores: int, dry_run: bool, target: str,
                   find_group: int = 0):
    """One ``snakemake TARGET`` in ``workdir`` with ``config``, ``runtime.group`` = ``group`` and
    ``runtime.find_group`` = ``find_group``; returns (seconds, {rule: jobs}, completed process)."""
    import re
    import shutil
    import subprocess

    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(config, workdir / "config.yaml")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", str(cores),
           "--config", f"runtime={{group: {int(group)}, find_group: {int(find_group)}}}", *(["-n"] if dry_run else []), "--",
           *([target] if isinstance(target, str) else target)]
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"snakemake exited {r.returncode}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    counts, table = {}, False
    for line in (r.stdout + r.stderr).splitlines():  # the first "Job stats" table
        if line.startswith("job ") and "count" in line:
            table = True
            continue
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip()) if table else None
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
        elif table and line.strip().startswith("total"):
            break
    return seconds, counts, r


def job_seconds(workdir: Path) -> dict[str, tuple[int, float]]:
    """(jobs, summed wall seconds) of the benchmark records under ``workdir``'s results, per rule family (a rule
    name less its ``_<i>`` index: every find group in one row)."""
    import csv
    import re

    out: dict[str, tuple[int, float]] = {}
    for tsv in sorted(Path(workdir).glob("results/*/benchmarks/*/**/*.tsv")):
        rule = tsv.relative_to(Path(workdir) / "results").parts[2]
        with open(tsv) as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if rows:
            family = re.sub(r"_\d+$", "", rule)
            n, s = out.get(family, (0, 0.0))
            out[family] = (n + 1, s + float(rows[0]["s"]))
    return out


def fig2(args) -> int:
    base = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="fig2_grouped_"))
    rows, records = [], []
    for spec in args.fig2_groups:
        G, _, F = str(spec).partition("/")
        G, F = int(G), int(F or 0)
        seconds, counts, _ = snakemake_fig2(base / f"group{G}_find{F}", Path(args.config), G, args.cores,
                                            args.dry_run, args.target, find_group=F)
        rows.append((f"{G}/{F}", seconds, counts))
        records.append(job_seconds(base / f"group{G}_find{F}"))
    lines = [f"{' '.join(args.target)} on {args.config}, --cores {args.cores}, load average "
             f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (at the end), work folders under {base}", ""]
    if args.dry_run:
        lines += ["| runtime.group / find_group | planned jobs per rule |", "| --- | --- |"]
        lines += [f"| {G} | {', '.join(f'{k} {v}' for k, v in counts.items())} |" for G, _, counts in rows]
    else:
        first = rows[0][1]
        today = args.target == ["figures/fig2.pdf"]  # the yardstick of issue 15 is fig2's
        lines += ["| runtime.group / find_group | wall time | vs first row |" + (" vs today (6 min 15 s) |" if today
                                                                             else ""),
                  "| --- | --- | --- |" + (" --- |" if today else "")]
        lines += [f"| {G} | {int(s // 60)} min {s % 60:.0f} s ({s:.1f} s) | {s / first:.2f} |"
                  + (f" {s / TODAY_FIG2_S:.2f} |" if today else "") for G, s, _ in rows]
        families = sorted({f for rec in records for f in rec})
        lines += ["", "Job-seconds of the training jobs (benchmark records), per rule family (jobs, seconds):", "",
                  "| rule family | " + " | ".join(G for G, _, _ in rows) + " |",
                  "| --- |" + " --- |" * len(rows)]
        lines += [f"| {fam} | " + " | ".join(f"{rec[fam][0]} / {rec[fam][1]:.1f}" if fam in rec else "-"
                                              for rec in records) + " |" for fam in families]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(REPO / "config.yaml"))
    ap.add_argument("--epochs", type=int, default=2, help="epochs per timed unit (default 2)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--groups", type=int, nargs="+", default=[4, 8, 14])
    ap.add_argument("--quick", action="store_true", help="tiny budget: checks that everything runs")
    ap.add_argument("--out", default=None, help="also write the table here")
    ap.add_argument("--fig2", action="store_true", help="time snakemake figures/fig2.pdf per runtime.group instead")
    ap.add_argument("--fig2-groups", nargs="+", default=["0", "14", "14/14"],
                    help="runtime.group values, each G or G/F with runtime.find_group F (default 0 14 14/14)")
    ap.add_argument("--cores", type=int, default=2, help="--fig2: snakemake --cores (default 2)")
    ap.add_argument("--workdir", default=None, help="--fig2: parent of the work folders (default: a new temp folder)")
    ap.add_argument("--target", nargs="+", default=["figures/fig2.pdf"],
                    help="--fig2: the targets (default figures/fig2.pdf)")
    ap.add_argument("-n", "--dry-run", action="store_true", help="--fig2: only plan")
    args = ap.parse_args(argv)
    if args.fig2:
        return fig2(args)
    if args.quick:
        args.epochs, args.repeats = 1, 1
    res = measure(Path(args.config), epochs=args.epochs, repeats=args.repeats, groups=tuple(args.groups),
                  quick=args.quick, progress=lambda s: print(s, file=sys.stderr, flush=True))
    text = render(res)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
