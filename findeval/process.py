"""What every job process does around its step (scripts/_bootstrap.py and the end of every script): log to
the rule's log, land uncaught failures there, remove stale temporaries of a killed earlier run, and exit at
once when the outputs are written. Torch-free and feature-free: every job script uses it.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import sys
import traceback
from pathlib import Path


#: Log files this process started (:func:`job_started`): setup_logging appends to them instead of truncating.
_STARTED_LOGS: set[str] = set()


def setup_logging(path: str | None) -> None:
    mode = "a" if path and os.path.abspath(path) in _STARTED_LOGS else "w"
    handlers = [logging.FileHandler(path, mode=mode)] if path else [logging.StreamHandler()]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", handlers=handlers, force=True)


def remove_stale_temporaries(outputs) -> list[str]:
    """Remove the temporaries (``.NAME.tmp-*``, see :func:`findeval.io.atomic_path`) that a killed earlier
    run of this job left beside its outputs. Only this job's own output names are matched, so no other
    job's file is touched. Returns the removed paths."""
    removed = []
    for out in outputs:
        out = Path(out)
        for tmp in glob.glob(os.path.join(glob.escape(str(out.parent)), f".{glob.escape(out.name)}.tmp-*")):
            try:
                if os.path.isdir(tmp):
                    shutil.rmtree(tmp)
                else:
                    os.unlink(tmp)
                removed.append(tmp)
            except FileNotFoundError:
                pass
    return removed


def format_failure(exc_type, exc, tb) -> str:
    """The text a failed job leaves in its log: one line naming the error, then the traceback."""
    head = f"ERROR: job failed: {exc_type.__name__}: {exc}"
    return head + "\n" + "".join(traceback.format_exception(exc_type, exc, tb))


def log_failures_to(path: str | None) -> None:
    """Make an uncaught exception of this process land in the log file ``path`` (the rule's ``log:``), with
    its type, message and traceback, before the process exits non-zero; the console gets it as before.
    The file is appended to (what the job logged so far stays)."""
    if not path:
        return
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        try:
            logging.shutdown()  # flush the job's own log handlers before appending
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a") as fh:
                fh.write(format_failure(exc_type, exc, tb))
        except Exception:  # pragma: no cover - never hide the original error
            pass
        previous(exc_type, exc, tb)

    sys.excepthook = hook


def job_started(*, log=(), outputs=()) -> None:
    """What every job script does first (scripts/_bootstrap.py): failures go to the rule's log, and stale
    temporaries of a killed earlier run of this job are removed (and said so in the log)."""
    logs = [str(x) for x in log]
    log_failures_to(logs[0] if logs else None)
    removed = remove_stale_temporaries(list(outputs))
    if logs:
        Path(logs[0]).parent.mkdir(parents=True, exist_ok=True)
        with open(logs[0], "w") as fh:  # a fresh log per run; the job's own logging appends to it
            if removed:
                fh.write(f"removed {len(removed)} temporary file(s) of a killed earlier run: {', '.join(removed)}\n")
        _STARTED_LOGS.add(os.path.abspath(logs[0]))


def exit_now() -> None:
    """End a job's process at once, once its outputs are written: skips the interpreter's teardown of torch
    (about 1-2 s per job, more than a default training's compute). Logs and stdio are flushed first."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
