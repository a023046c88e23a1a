"""Byte identity of the pipeline's outputs: every mask.h5, checkpoint (.pt) and metrics.json (timings
stripped) that the tiny config writes, in both runtime.granularity modes, has the sha256 stored in
tests/data/digest.json; the tiny runs of early pruning, the rewinding variants, instability and the structured
runs have theirs in tests/data/digest_features.json (see the second test).

A refactoring must leave this test passing. A change that is MEANT to change the outputs (a new metric key,
another seed derivation, a different file) must regenerate the stored digest in the same commit, and say so
in its message:

    python tests/test_digest.py --update        # or: FINDEVAL_UPDATE_DIGEST=1 python -m pytest tests/test_digest.py

The runs are the session's shared runs of tests/test_granularity.py (conftest.granularity_runs), so this test
adds only the hashing (well under a second) when both files run in one session.

The bytes depend on the machine's arithmetic and file formats: the digest records the versions of torch,
h5py and numpy and torch's CPU capability it was made with; elsewhere the test is skipped (regenerate it
there to use it). Checkpoints are deterministic bytes: torch.save names its archive after the target file
(io.atomic_path's temporary name keeps it), and the masks are HDF5 files written without timestamps.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from pathlib import Path

import pytest

from conftest import without_timings

pytestmark = pytest.mark.slow

DIGEST = Path(__file__).resolve().parent / "data" / "digest.json"
UPDATE = os.environ.get("FINDEVAL_UPDATE_DIGEST") == "1"


def environment() -> dict:
    import h5py
    import numpy
    import torch

    return {"torch": torch.__version__, "h5py": h5py.__version__, "numpy": numpy.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "machine": platform.machine()}


def digested(name: str) -> bool:
    return name.endswith(("mask.h5", ".pt", "metrics.json"))


def sha256(name: str, path: Path) -> str:
    if name.endswith(".json"):
        data = json.dumps(without_timings(json.loads(path.read_text())), sort_keys=True).encode()
    else:
        data = path.read_bytes()
    return hashlib.sha256(data).hexdigest()


def digest(files: dict) -> dict:
    return {name: sha256(name, path) for name, path in sorted(files.items()) if digested(name)}


def test_outputs_match_the_stored_digest(granularity_runs):
    current = {g: digest(run["files"]) for g, run in granularity_runs.items()}
    assert all(len(d) >= 30 for d in current.values()), {g: len(d) for g, d in current.items()}
    if UPDATE:
        DIGEST.write_text(json.dumps({"environment": environment(), **current}, indent=1, sort_keys=True) + "\n")
    stored = json.loads(DIGEST.read_text())
    if stored["environment"] != environment():
        pytest.skip(f"digest made with {stored['environment']}, this machine has {environment()}: "
                    "regenerate it here (python tests/test_digest.py --update) to compare")
    for granularity, files in current.items():
        want = stored[granularity]
        assert sorted(files) == sorted(want), (granularity, sorted(set(files) ^ set(want)))
        changed = [name for name in files if files[name] != want[name]]
        hint = "an intended change regenerates it: python tests/test_digest.py --update"
        assert not changed, (f"{granularity}: {len(changed)} outputs differ from tests/data/digest.json ({hint})",
                             changed)


# --------------------------------------------------------------------------- the feature runs
# The session's tiny runs of early pruning and the LPR through training, the rewinding variants and the
# instability analysis, and the structured runs (conftest.early_run, rewinding_run, structured_run, shared with
# tests/test_early.py, test_rewinding.py and test_structured.py): every mask, checkpoint, metrics.json,
# interpolation.json, channels.json and LPR-trajectory table they write, against tests/data/digest_features.json
# (the same --update regenerates it).

FEATURES = DIGEST.with_name("digest_features.json")


def feature_digested(name: str) -> bool:
    return name.endswith(("mask.h5", ".pt", "metrics.json", "interpolation.json", "channels.json")) or \
        "/lpr_trajectory/" in name


def checkpoint_sha256(path: Path) -> str:
    """The file's sha256, but for a checkpoint whose meta holds a training history (theta_k.pt of late
    rewinding): its tensors (name, dtype, shape, bytes) and its meta with the history's timings stripped."""
    import torch

    obj = torch.load(path, map_location="cpu", weights_only=True)
    meta = obj.get("meta") or {}
    if "history" not in meta:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    h = hashlib.sha256()
    for key, value in obj["model"].items():
        h.update(f"{key} {value.dtype} {tuple(value.shape)}".encode())
        h.update(value.contiguous().numpy().tobytes())
    meta = {**meta, "history": [{k: v for k, v in row.items() if k != "time_s"} for row in meta["history"]]}
    h.update(json.dumps(meta, sort_keys=True).encode())
    return h.hexdigest()


def feature_sha256(name: str, path: Path) -> str:
    if name.endswith("metrics.json"):
        return sha256(name, path)
    if name.endswith(".json"):
        return hashlib.sha256(json.dumps(json.loads(path.read_text()), sort_keys=True).encode()).hexdigest()
    if name.endswith(".pt"):
        return checkpoint_sha256(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_feature_outputs_match_the_stored_digest(early_run, rewinding_run, structured_run):
    runs = {"early": early_run, "rewinding": rewinding_run, "structured": structured_run}
    current = {name: {f: feature_sha256(f, p) for f, p in sorted(run["files"].items()) if feature_digested(f)}
               for name, run in runs.items()}
    assert all(len(d) >= 10 for d in current.values()), {name: len(d) for name, d in current.items()}
    if UPDATE:
        FEATURES.write_text(json.dumps({"environment": environment(), **current}, indent=1, sort_keys=True) + "\n")
    stored = json.loads(FEATURES.read_text())
    if stored["environment"] != environment():
        pytest.skip(f"digest made with {stored['environment']}, this machine has {environment()}: "
                    "regenerate it here (python tests/test_digest.py --update) to compare")
    for name, files in current.items():
        want = stored[name]
        assert sorted(files) == sorted(want), (name, sorted(set(files) ^ set(want)))
        changed = [f for f in files if files[f] != want[f]]
        hint = "an intended change regenerates it: python tests/test_digest.py --update"
        assert not changed, (f"{name}: {len(changed)} outputs differ from {FEATURES.name} ({hint})", changed)


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: python {sys.argv[0]} --update   (re-runs the tiny configs, rewrites {DIGEST.name} and "
                 f"{FEATURES.name})")
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "FINDEVAL_UPDATE_DIGEST": "1"}
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", str(Path(__file__).resolve())], cwd=repo, env=env))
