"""The DAG at paper scale (issue 5, point 7): how many jobs a preset plans, how long Snakemake takes to parse the
Snakefile (the SLURM plugin re-parses it for every job) and to plan the whole DAG, and the GPU-hours of its
training runs from measured epoch times.

    python benchmarks/dag.py                                      # config/resnet50-tinyimagenet.yaml, every figure
    python benchmarks/dag.py --preset config/resnet18-tinyimagenet.yaml

The preset's dataset folders are stood in for by empty files in the standard layouts (the parse-time check looks
for them; nothing is read), figA8's MiniPlaces folder included, so that every figure is planned. Read-only for
the repository: everything happens in a temporary folder.

Snakemake's start-up (`--version`) is reported apart: the SLURM executor plugin runs `scontrol show config` when
it is imported, which waits 10 s for its timeout on a machine that has the SLURM client but no controller.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from findeval.a1 import plan  # noqa: E402

#: GPU-hours of one training run (110 epochs, batch 512, one H200), from benchmarks/gpu_results.md:
#: (bf16 + channels_last, fp32). MiniPlaces (128 px, 120 epochs) is extrapolated from Tiny ImageNet by pixels
#: and epochs (x 4 x 120/110): not measured.
GPU_HOURS = {
    ("resnet50", "tiny_imagenet"): (0.76, 1.61),
    ("resnet18", "tiny_imagenet"): (0.22, 0.56),
    ("resnet50", "miniplaces"): (0.76 * 4 * 120 / 110, 1.61 * 4 * 120 / 110),
}
LAYOUTS = {
    "tiny_imagenet": (["train", "val/images"], ["wnids.txt", "val/val_annotations.txt"]),
    "miniplaces": (["images/train", "images/val"], ["train.txt", "val.txt", "categories.txt"]),
}


def stub_dataset(name: str, folder: Path) -> str:
    dirs, files = LAYOUTS[name]
    for d in dirs:
        (folder / d).mkdir(parents=True, exist_ok=True)
    for f in files:
        (folder / f).touch()
    return str(folder)


def stubbed_preset(preset: Path, workdir: Path) -> Path:
    config = yaml.safe_load(preset.read_text())
    config["dataset"]["root"] = stub_dataset(config["dataset"]["name"], workdir / "data" / "main")
    for fig, entry in (config.get("other_models") or {}).items():
        ds = (entry or {}).get("dataset")
        if ds and ds["name"] in LAYOUTS:
            ds["root"] = stub_dataset(ds["name"], workdir / "data" / fig)
    out = workdir / "preset.yaml"
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def snakemake(workdir: Path, configfile: Path, *args: str) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(configfile), "--cores", "1", *args]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=1800)
    elapsed = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return elapsed, r.stdout + r.stderr


def median_time(workdir, configfile, args, repeats) -> float:
    return statistics.median(snakemake(workdir, configfile, *args)[0] for _ in range(repeats))


def parse_seconds(workdir: Path, configfile: Path, repeats: int) -> dict:
    """Parse = `snakemake --list-rules` (loads and validates config, parses every rule file, builds no DAG)
    minus `snakemake --version` (the interpreter and Snakemake's own imports)."""
    listing = median_time(workdir, configfile, ["--list-rules"], repeats)
    startup = median_time(workdir, configfile, ["--version"], repeats)
    return {"list_rules_s": listing, "startup_s": startup, "parse_s": listing - startup}


def outputs_by_experiment(dry_run: str) -> Counter:
    """Training runs per experiment: every planned metrics.json (one per training run)."""
    runs = Counter()
    for line in dry_run.splitlines():
        line = line.strip()
        if line.startswith("output:"):
            for path in line[len("output:"):].split(","):
                m = re.match(r"results/([^/]+)/.*metrics\.json$", path.strip())
                if m:
                    runs[m.group(1)] += 1
    return runs


def job_counts(dry_run: str) -> Counter:
    counts = Counter()
    for line in dry_run.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):\s*$", line)
        if m:
            counts[m.group(1)] += 1
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", type=Path, default=REPO / "config" / "resnet50-tinyimagenet.yaml")
    ap.add_argument("--repeats", type=int, default=3, help="parse timings: median of this many (default 3)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="findeval-dag-") as tmp:
        workdir = Path(tmp)
        configfile = stubbed_preset(args.preset.resolve(), workdir)
        parse = parse_seconds(workdir, configfile, args.repeats)
        plan_s, _ = snakemake(workdir, configfile, "-n", "--quiet", "rules")
        _, full = snakemake(workdir, configfile, "-n")
    counts = job_counts(full)
    runs = outputs_by_experiment(full)

    config = yaml.safe_load(args.preset.read_text())
    experiments = {config["experiment"]: config}
    experiments.update({c["experiment"]: c for c in plan.other_model_configs(config).values()})

    lines = [f"# The DAG of {args.preset.relative_to(REPO) if args.preset.is_relative_to(REPO) else args.preset}",
             "", f"- jobs: {sum(counts.values()):,} in {len(counts)} rules; training runs (metrics.json): "
             f"{sum(runs.values()):,}",
             f"- parse (`--list-rules` {parse['list_rules_s']:.2f} s minus `--version` {parse['startup_s']:.2f} s, "
             f"median of {args.repeats}): {parse['parse_s']:.2f} s",
             f"- plan (`snakemake -n --quiet rules`): {plan_s:.1f} s, of which {parse['startup_s']:.1f} s is Snakemake's "
             f"start-up and {parse['parse_s']:.2f} s the parse", "",
             "| experiment | model | dataset | training runs | GPU-h bf16+CL | GPU-h fp32 |", "| --- | --- | --- | --- | --- | --- |"]
    total = [0.0, 0.0]
    for name, n in sorted(runs.items(), key=lambda kv: -kv[1]):
        c = experiments.get(name, config)
        key = (c["model"]["name"], c["dataset"]["name"])
        rate = GPU_HOURS.get(key)
        if rate:
            scale = c["training"]["epochs"] / (120 if key[1] == "miniplaces" else 110)
            bf16, fp32 = n * rate[0] * scale, n * rate[1] * scale
            total[0] += bf16
            total[1] += fp32
            cost = f"{bf16:,.0f} | {fp32:,.0f}"
        else:
            cost = "- | -"
        lines.append(f"| {name} | {key[0]} | {key[1]} | {n:,} | {cost} |")
    lines += [f"| all | | | {sum(runs.values()):,} | {total[0]:,.0f} | {total[1]:,.0f} |", "",
              "Jobs per rule: " + ", ".join(f"{r} {n:,}" for r, n in counts.most_common()), "",
              "GPU-hours count every training run as a full schedule (a few analyses train fewer epochs), "
              "at the H200 rates of benchmarks/gpu_results.md; MiniPlaces is extrapolated from Tiny ImageNet."]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
