"""Byte identity of the pipeline's outputs: every mask.h5, checkpoint (.pt) and metrics.json (timings
stripped) that the tiny config writes, in both runtime.granularity modes, has the sha256 stored in
tests/data/digest.json.

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


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: python {sys.argv[0]} --update   (re-runs the tiny config, rewrites {DIGEST.name})")
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "FINDEVAL_UPDATE_DIGEST": "1"}
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", str(Path(__file__).resolve())], cwd=repo, env=env))
