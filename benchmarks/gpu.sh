#!/usr/bin/env bash
# findeval on one GPU, in one command (issue 6 item 3, issue 5's GPU check): run from the repository root,
#
#     OUT=/some/folder bash benchmarks/gpu.sh        # report: $OUT/gpu_results.md, $OUT/gpu_results.json
#
# Needs only python3 with torch, torchvision, numpy and h5py (no Snakemake, no network). This script is the
# runner: it starts each part of benchmarks/gpu.py (step, chain, epoch, pack, cudnn: described there) in a fresh
# process under its own time limit (a hang or a crash in one loses none of the others), then its report.
# pack (issue 15 item 2): trainings per GPU-hour with G = 1, 2, 4, 8 trainings per GPU, grouped in one process or
# as G processes, for ResNet-18 and ResNet-50; FINDEVAL_BENCH_PARTS=pack runs it alone (at most 5.5 minutes).
#
# Testing on a machine without a GPU: FINDEVAL_BENCH_DEVICE=cpu FINDEVAL_BENCH_SMOKE=1 bash benchmarks/gpu.sh
# (tiny models and sizes, about a minute). FINDEVAL_BENCH_CHAIN_DATA=digits|tiny_imagenet forces the chain's
# data set (default: digits when scikit-learn is installed, else a generated tiny-imagenet-200 folder);
# FINDEVAL_BENCH_PARTS="chain epoch" runs only some parts. Expected on an H200: about 6-8 minutes; each
# part's time limit (170 + 80 + 100 + 330 + 50 s, report 30 s) bounds the whole run at about 12.5 minutes.
set -u
cd "$(dirname "$0")/.." || exit 1
REPO=$PWD
OUT=${OUT:-$REPO/gpu_out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/findeval-gpu.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
T0=$(date +%s)
BUDGET_S=${FINDEVAL_BENCH_BUDGET_S:-720}   # optional parts are skipped once this much wall time has passed
PARTS=${FINDEVAL_BENCH_PARTS:-step chain epoch pack cudnn}

BENCH="$REPO/benchmarks/gpu.py"   # the parts (an importable module: python benchmarks/gpu.py --help)

part() {  # part NAME LIMIT_S
    local name=$1 limit=$2 start rc
    start=$(date +%s)
    echo "=== part $name (limit ${limit} s, $((start - T0)) s elapsed) ==="
    timeout -k 10 "$limit" "$PY" "$BENCH" "$name" "$WORK"
    rc=$?
    [ "$rc" = 124 ] && echo "=== part $name: TIMED OUT after $limit s ==="
    echo "$name $rc $(($(date +%s) - start))" >> "$WORK/parts.tsv"
    echo "=== part $name: rc=$rc in $(($(date +%s) - start)) s ==="
}

{
    echo "findeval GPU benchmark: $(date -u +%FT%TZ), repo $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')" \
         "$(git -C "$REPO" status --porcelain 2>/dev/null | grep -q . && echo '(with uncommitted changes)')"
    if command -v nvidia-smi > /dev/null; then
        nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,power.limit,driver_version --format=csv \
            > "$WORK/nvidia_smi.txt" 2>&1 && cat "$WORK/nvidia_smi.txt"
    fi
    for name in $PARTS; do
        case $name in
            step) part step 170 ;;
            chain) part chain 80 ;;
            epoch) part epoch 100 ;;
            pack) part pack 330 ;;
            cudnn)
                if [ $(($(date +%s) - T0)) -lt $((BUDGET_S - 60)) ]; then
                    part cudnn 50
                else
                    echo "=== part cudnn: skipped ($(($(date +%s) - T0)) s elapsed, budget $BUDGET_S s) ==="
                fi ;;
            *) echo "unknown part $name (FINDEVAL_BENCH_PARTS: step chain epoch pack cudnn)" ;;
        esac
    done
    timeout -k 5 30 "$PY" "$BENCH" report "$WORK" "$OUT" \
        && echo "=== report: $OUT/gpu_results.md, $OUT/gpu_results.json ===" \
        || echo "=== report FAILED ==="
    echo "total $(($(date +%s) - T0)) s"
} 2>&1 | tee "$OUT/gpu_log.txt"
