"""Files: atomic writes, checkpoints and metrics.

Every output is written to a unique temporary name beside its target and renamed into place, so an
interrupted job never leaves a file that looks complete, and two jobs never share a temporary path.

Checkpoint format (public): ``torch.save`` of a dict ``{"model": state_dict, "meta": {...}}`` where ``meta``
holds plain JSON-like values (the model spec under ``meta["model_spec"]``). Loadable with
``torch.load(path, weights_only=True)``; this package never loads a checkpoint any other way.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import uuid
from pathlib import Path


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, of the wrong format or holds non-finite weights."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, fsync: bool = True):
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, on error remove it.

    The temporary name is unique per process and call (pid + random suffix), so parallel jobs never share
    one. With ``fsync`` the file's data reach the disk before the rename, so after a node crash the target
    is either the complete new file, the old one, or missing, never a complete-looking empty file.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise WriteError(err.errno, f"cannot write {path}: its folder {path.parent} cannot be created "
                                    f"({type(err).__name__}: {err}); is the results folder read-only?") from err
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        try:
            yield tmp
            if fsync:
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            os.replace(tmp, path)
        except Exception as err:
            raise _disk_full(err, path) or _write_error(err, path) or err
    finally:
        with contextlib.suppress(OSError):  # gone, or a folder that refuses it: the error above says why
            tmp.unlink()


#: Free bytes below which a failed write is taken to be a full disk (torch and HDF5 report it as
#: "basic_ios::clear: iostream error" or "failed writing", without an errno).
FULL_DISK_BYTES = 16 << 20


class DiskFullError(OSError):
    """A write failed because the file system is full (or over its quota)."""


def _disk_full(err: BaseException, path: Path) -> DiskFullError | None:
    """A DiskFullError naming ``path`` when ``err`` comes from a full disk, else None."""
    import errno
    import shutil

    if isinstance(err, DiskFullError):
        return None
    full = isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)
    if not full and isinstance(err, (OSError, RuntimeError)):
        text = str(err).lower()
        if any(s in text for s in ("iostream error", "failed writing", "no space left", "file write failed",
                                   "unable to write", "can't write")):
            try:
                full = shutil.disk_usage(path.parent).free < FULL_DISK_BYTES
            except OSError:
                full = False
    if not full:
        return None
    try:
        free = f"{shutil.disk_usage(path.parent).free / 2**20:.1f} MiB free"
    except OSError:
        free = "free space unknown"
    new = DiskFullError(errno.ENOSPC, f"no space left on device while writing {path} ({free} in {path.parent}; "
                                      f"{type(err).__name__}: {err}); free space or point results/ elsewhere, "
                                      "then re-run")
    new.__cause__ = err
    return new


class WriteError(OSError):
    """A file could not be written (a read-only or missing folder, no permission, an I/O error): names the path."""


#: What torch and HDF5 say when they cannot open or write a file (a RuntimeError without an errno).
_IO_TEXT = ("open file failed", "file write failed", "unable to create file", "unable to open file", "unable to write",
            "can't write", "permission denied", "read-only file system", "iostream error")


def _write_error(err: BaseException, path: Path) -> WriteError | None:
    """A WriteError naming ``path`` when ``err`` is a failure to write it (an OSError, or torch's and HDF5's
    RuntimeError/OSError texts), else None (an error of the code that computes what is written)."""
    if isinstance(err, WriteError):
        return None
    if not isinstance(err, OSError) and not (isinstance(err, RuntimeError)
                                             and any(t in str(err).lower() for t in _IO_TEXT)):
        return None
    folder = path.parent
    if not os.access(folder, os.W_OK) or getattr(err, "errno", None) in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = f"the folder {folder} is not writable (read-only file system or no permission)"
    else:
        why = "an I/O error"
    new = WriteError(getattr(err, "errno", None) or errno.EIO,
                     f"cannot write {path}: {why} ({type(err).__name__}: {str(err).strip() or 'no message'})")
    new.__cause__ = err
    return new


def json_default(obj):
    """``json.dumps(default=...)``: numpy and torch scalars and arrays (``.item()``, ``.tolist()``), H
    (``.as_dict()``)."""
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "as_dict"):
        return obj.as_dict()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def write_json(path: str | os.PathLike, data) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1, default=json_default, allow_nan=True) + "\n")


def read_json(path: str | os.PathLike):
    """Parse a JSON file; errors name the file."""
    try:
        with open(path) as fh:
            data = json.load(fh)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"JSON file not found: {path}") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    from .provenance import check_metrics

    check_metrics(path, data)  # a metrics.json is the one its path names (no other JSON file is checked)
    return data


def save_checkpoint(path: str | os.PathLike, state_dict: dict, meta: dict) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save({"model": {k: v.detach().cpu() for k, v in state_dict.items()}, "meta": meta}, tmp)


def load_checkpoint(path: str | os.PathLike, *, require_finite: bool = True) -> tuple[dict, dict]:
    """Return ``(state_dict, meta)``. Refuses anything that is not a plain dict of tensors (weights_only)."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"checkpoint {path} is not a plain state dict: torch.load(weights_only=True) refused it ({err})"
        ) from err
    except Exception as err:  # truncated zip, wrong file type, ...
        raise CheckpointError(f"checkpoint {path} is unreadable: {type(err).__name__}: {err}") from err
    if not isinstance(obj, dict) or not isinstance(obj.get("model"), dict):
        raise CheckpointError(f"checkpoint {path} must be a dict with a 'model' state_dict (findeval format)")
    state = obj["model"]
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"checkpoint {path}: entries that are not tensors: {', '.join(bad[:5])}")
    if require_finite:
        nonfinite = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
        if nonfinite:
            raise CheckpointError(f"checkpoint {path} holds NaN or infinite values in: {', '.join(nonfinite[:5])}")
    from .provenance import check_checkpoint

    meta = obj.get("meta") or {}
    check_checkpoint(path, meta)  # the checkpoint its path names (replicate, level, role, H), before it is used
    return state, meta


def finite_or_none(x):
    """JSON has no NaN: diverged losses are recorded as null."""
    return x if x is None or math.isfinite(x) else None


# --------------------------------------------------------------------------- environment variables the jobs read
# Parsed here, once, for the jobs and for the config check (findeval.workflow.check_environment), which refuses
# a value before any job starts.

#: Environment variable: epochs between resume saves of training jobs (default 1; 0 turns resuming off).
RESUME_EVERY_ENV = "FINDEVAL_RESUME_EVERY"
_OFF = ("0", "false", "no", "off")
_ON = ("1", "true", "yes", "on")


def resume_every(environ=None) -> int:
    """``FINDEVAL_RESUME_EVERY``: a whole number of epochs >= 0 (unset or empty: 1)."""
    environ = os.environ if environ is None else environ
    raw = str(environ.get(RESUME_EVERY_ENV, "1")).strip() or "1"
    try:
        every = int(raw)
    except ValueError:
        every = -1
    if every < 0:
        raise ValueError(f"{RESUME_EVERY_ENV}={raw!r}: expected a whole number of epochs >= 0 (0 turns resuming off)")
    return every


def hdf5_locking(environ=None):
    """HDF5 file locking for h5py's ``locking=``: ``FINDEVAL_HDF5_LOCKING`` 0/false/no/off (NFS, Lustre) is False,
    1/true/yes/on True; unset or empty: ``HDF5_USE_FILE_LOCKING`` (HDF5's own: FALSE/0 off, TRUE/1 on,
    BEST_EFFORT), unset: None (HDF5's default). Any other value is refused (it used to mean "on")."""
    environ = os.environ if environ is None else environ
    raw = str(environ.get("FINDEVAL_HDF5_LOCKING", "")).strip()
    if raw:
        if raw.lower() in _OFF:
            return False
        if raw.lower() in _ON:
            return True
        raise ValueError(f"FINDEVAL_HDF5_LOCKING={raw!r}: expected one of {', '.join(_OFF)} (no HDF5 file locks, for "
                         f"NFS or Lustre) or {', '.join(_ON)} (locks), or leave it unset")
    raw = str(environ.get("HDF5_USE_FILE_LOCKING", "")).strip()
    if not raw:
        return None
    if raw.lower() in _OFF:
        return False
    if raw.lower() in _ON:
        return True
    if raw.lower().replace("-", "_") == "best_effort":
        return "best-effort"
    raise ValueError(f"HDF5_USE_FILE_LOCKING={raw!r}: expected FALSE (no locks), TRUE or BEST_EFFORT "
                     "(or FINDEVAL_HDF5_LOCKING=0/1)")
