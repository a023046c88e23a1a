"""Masks and pruning: global magnitude pruning (Algorithm A1, line 5), random baselines, LPR, HDF5 files.

Semantics (exact, and tested):

- A mask maps each prunable tensor's state-dict key to a boolean array of the same shape (True = kept).
  Order matters and is the network order of :func:`findeval.models.prunable_names`.
- One pruning level removes ``k = round_half_up(p * n)`` weights, where ``n`` is the number of weights the
  current mask still keeps: a fraction of the *remaining* weights, so density after L levels is about
  (1 - p)^L. ``k`` is computed in exact rational arithmetic, so the count per level never depends on
  floating-point rounding.
- Global magnitude pruning removes the ``k`` kept weights of smallest ``|w|`` over all prunable tensors
  together. Ties are broken deterministically by position: earlier tensor in network order first, then
  lower flat (C-order) index. Weights already pruned are never candidates, so masks are monotone
  (M_{L+1} is a subset of M_L).
- LPR (layerwise pruning ratio) of a tensor = pruned / total weights of that tensor.

Random baselines (paper, Section 2.3), from a seeded NumPy PCG64 stream:

- ``global_random``: exactly ``kept`` weights chosen uniformly without replacement over all prunable
  weights, so every layer has the same expected ratio.
- ``preserve_lpr``: each tensor of a given mask shuffled within the tensor (same count per layer).

Mask file format (HDF5, public): one gzip-compressed boolean dataset per pruned tensor at the root, named
exactly as its state-dict key and of the same shape; root attributes ``format`` ("findeval-mask"),
``format_version``, ``kind``, ``level``, ``sparsity`` (pruned / prunable, overall), ``seed`` (replicate),
``seeds`` (JSON), ``H_find`` (JSON, or "null" for masks that do not depend on it), ``fraction``,
``layer_names`` (network order), and the LPR as ``layer_ratios`` / ``layer_pruned`` / ``layer_total``
aligned with ``layer_names``.
"""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

FORMAT = "findeval-mask"
FORMAT_VERSION = 1


class MaskError(ValueError):
    """A mask file or mask is malformed, incompatible with a model, or not monotone."""


Mask = dict  # str -> np.ndarray[bool], insertion order = network order


# --------------------------------------------------------------------------- counting


def prune_count(remaining: int, fraction: float) -> int:
    """Number of weights one level removes: round_half_up(fraction * remaining), exactly."""
    if not 0 < float(fraction) < 1:
        raise ValueError(f"pruning fraction must be in (0, 1), got {fraction}")
    exact = Fraction(str(fraction)) * int(remaining)
    return int(exact + Fraction(1, 2)) if exact.denominator != 1 else int(exact)


def kept_schedule(total: int, fraction: float, levels: int) -> list[int]:
    """Kept weights at levels 0..levels (level 0 is the dense network)."""
    kept = [int(total)]
    for _ in range(levels):
        kept.append(kept[-1] - prune_count(kept[-1], fraction))
    return kept


def ones_like(shapes: dict) -> Mask:
    return {name: np.ones(shape, dtype=bool) for name, shape in shapes.items()}


def n_kept(mask: Mask) -> int:
    return int(sum(int(m.sum()) for m in mask.values()))


def n_total(mask: Mask) -> int:
    return int(sum(m.size for m in mask.values()))


def sparsity(mask: Mask) -> float:
    total = n_total(mask)
    return 1.0 - n_kept(mask) / total if total else 0.0


def layer_table(mask: Mask) -> list[dict]:
    """Per prunable tensor, in network order: name, total, pruned, ratio (the LPR)."""
    rows = []
    for name, m in mask.items():
        total, kept = int(m.size), int(m.sum())
        rows.append({"name": name, "total": total, "pruned": total - kept, "ratio": (total - kept) / total})
    return rows


def lpr(mask: Mask) -> dict:
    return {row["name"]: row["ratio"] for row in layer_table(mask)}


# --------------------------------------------------------------------------- pruning


def _flat_scores(weights: dict, mask: Mask, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    scores, kept = [], []
    for name in names:
        w = np.asarray(weights[name], dtype=np.float32)
        if w.shape != mask[name].shape:
            raise MaskError(f"{name}: weights {w.shape} vs mask {mask[name].shape}")
        if not np.isfinite(w).all():
            raise MaskError(f"{name}: weights hold NaN or infinite values; refusing to prune by magnitude")
        scores.append(np.abs(w).ravel())
        kept.append(mask[name].ravel())
    return np.concatenate(scores), np.concatenate(kept)


def _unflatten(flat_keep: np.ndarray, mask: Mask, names: list[str]) -> Mask:
    out, start = {}, 0
    for name in names:
        size = mask[name].size
        out[name] = flat_keep[start : start + size].reshape(mask[name].shape).copy()
        start += size
    return out


def _smallest(scores: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """Flat indices of the ``k`` smallest scores among ``candidates`` (ties: lower index first)."""
    idx = np.flatnonzero(candidates)
    order = np.argsort(scores[idx], kind="stable")
    return idx[order[:k]]


def is_prunable(name: str, shape) -> bool:
    """The one definition of what is pruned: every 4-D ``.weight`` (the convolutions' weights)."""
    return name.endswith(".weight") and len(tuple(shape)) == 4


def prunable_shapes(weights: dict) -> dict[str, tuple]:
    """Name -> shape of the prunable tensors of a state dict (torch tensors or arrays), in its order."""
    return {k: tuple(np.shape(v)) for k, v in weights.items() if is_prunable(k, np.shape(v))}


def global_magnitude_prune(weights: dict, mask: Mask | None, fraction: float) -> Mask:
    """One level of global magnitude pruning (A1 line 5): remove ``fraction`` of the remaining weights.

    ``weights`` maps at least every tensor of ``mask`` to an array-like (numpy or torch CPU tensor);
    ``mask`` None means the dense network (all prunable tensors of ``weights``, 4-D conv weights).
    """
    if mask is None:
        mask = ones_like(prunable_shapes(weights))
    names = list(mask)
    scores, kept = _flat_scores(_as_numpy(weights, names), mask, names)
    k = prune_count(int(kept.sum()), fraction)
    new = kept.copy()
    new[_smallest(scores, kept, k)] = False
    return _unflatten(new, mask, names)


def layer_count_prune(weights: dict, mask: Mask, kept_per_layer: dict) -> Mask:
    """Magnitude pruning with the count kept in every layer fixed (LPR-constrained and local pruning)."""
    names = list(mask)
    arrays = _as_numpy(weights, names)
    out = {}
    for name in names:
        target = int(kept_per_layer[name])
        have = int(mask[name].sum())
        if not 0 <= target <= have:
            raise MaskError(f"{name}: cannot keep {target} weights, the mask keeps {have}")
        scores, kept = _flat_scores({name: arrays[name]}, {name: mask[name]}, [name])
        new = kept.copy()
        new[_smallest(scores, kept, have - target)] = False
        out[name] = new.reshape(mask[name].shape)
    return out


def global_random_mask(shapes: dict, kept: int, seed: int) -> Mask:
    """Exactly ``kept`` weights chosen uniformly at random over all prunable tensors."""
    template = ones_like(shapes)
    total = n_total(template)
    if not 0 <= kept <= total:
        raise MaskError(f"cannot keep {kept} of {total} weights")
    rng = np.random.Generator(np.random.PCG64(seed))
    flat = np.zeros(total, dtype=bool)
    flat[rng.permutation(total)[:kept]] = True
    return _unflatten(flat, template, list(template))


def preserve_lpr_mask(mask: Mask, seed: int) -> Mask:
    """Each tensor's mask shuffled within the tensor: same LPR, random positions."""
    rng = np.random.Generator(np.random.PCG64(seed))
    return {name: rng.permutation(m.ravel()).reshape(m.shape) for name, m in mask.items()}


def check_monotone(child: Mask, parent: Mask, what: str = "mask") -> None:
    if list(child) != list(parent):
        raise MaskError(f"{what}: tensors differ from its parent mask")
    for name in child:
        if (child[name] & ~parent[name]).any():
            n = int((child[name] & ~parent[name]).sum())
            raise MaskError(f"{what}: not monotone, {n} weights of {name} are kept but were pruned in the parent")


def _as_numpy(weights: dict, names: list[str]) -> dict:
    out = {}
    for name in names:
        if name not in weights:
            raise MaskError(f"weights lack the masked tensor {name}")
        w = weights[name]
        out[name] = w.detach().cpu().numpy() if hasattr(w, "detach") else np.asarray(w)
    return out


def check_compatible(mask: Mask, state: dict, source: str = "mask") -> None:
    """A mask fits a state dict if every masked tensor exists there with the same shape."""
    for name, m in mask.items():
        if name not in state:
            raise MaskError(f"{source} is for another architecture: the model has no tensor {name}")
        if tuple(state[name].shape) != m.shape:
            raise MaskError(
                f"{source} is for another architecture: {name} is {m.shape} in the mask, {tuple(state[name].shape)} in the model"
            )


# --------------------------------------------------------------------------- files


def save_mask(path: str | os.PathLike, mask: Mask, *, kind: str, level: int, seed: int, h_find=None,
              fraction: float | None = None, seeds: dict | None = None) -> None:
    """Write a mask file atomically (format in the module docstring)."""
    import h5py

    from .io import atomic_path

    table = layer_table(mask)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", track_order=True, locking=file_locking()) as f:
            for name, m in mask.items():
                f.create_dataset(name, data=m.astype(bool), compression="gzip", shuffle=True)
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["kind"] = kind
            f.attrs["level"] = int(level)
            f.attrs["sparsity"] = float(sparsity(mask))
            f.attrs["seed"] = int(seed)
            f.attrs["seeds"] = json.dumps(seeds or {})
            f.attrs["H_find"] = json.dumps(h_find.as_dict() if hasattr(h_find, "as_dict") else h_find)
            f.attrs["fraction"] = float("nan") if fraction is None else float(fraction)
            f.attrs["layer_names"] = np.array([r["name"] for r in table], dtype=h5py.string_dtype())
            f.attrs["layer_ratios"] = np.array([r["ratio"] for r in table], dtype=np.float64)
            f.attrs["layer_pruned"] = np.array([r["pruned"] for r in table], dtype=np.int64)
            f.attrs["layer_total"] = np.array([r["total"] for r in table], dtype=np.int64)


def load_mask(path: str | os.PathLike) -> tuple[Mask, dict]:
    """Read a mask file; returns ``(mask, attrs)``. Errors name the file and what is wrong with it."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise MaskError(f"mask file not found: {path}")
    try:
        with h5py.File(path, "r", locking=file_locking()) as f:
            attrs = {k: attr_value(v) for k, v in f.attrs.items()}
            if attrs.get("format") != FORMAT:
                raise MaskError(f"{path} is not a findeval mask file (attribute format={attrs.get('format')!r})")
            names = list(attrs.get("layer_names", []))
            datasets = [k for k, v in f.items() if isinstance(v, h5py.Dataset)]
            if sorted(names) != sorted(datasets):
                raise MaskError(f"{path}: datasets {sorted(datasets)[:3]}... do not match layer_names")
            mask = {}
            for name in names:
                arr = f[name][()]
                if arr.dtype != np.bool_:
                    raise MaskError(f"{path}: dataset {name} is {arr.dtype}, expected bool")
                mask[name] = arr
    except MaskError:
        raise
    except Exception as err:  # truncated or corrupt HDF5
        if "unable to lock file" in str(err):
            raise MaskError(
                f"mask file {path} cannot be locked for reading: another process has it open for writing, or the "
                f"filesystem (NFS, Lustre) does not support HDF5 file locks; for the latter set "
                f"FINDEVAL_HDF5_LOCKING=0 ({err})"
            ) from err
        raise MaskError(f"mask file {path} is unreadable (truncated or corrupt HDF5?): {err}") from err
    for key in ("seeds", "H_find"):
        if key in attrs:
            attrs[key] = json.loads(attrs[key])
    from .provenance import check_mask

    check_mask(path, attrs)  # the mask its path names (H_find, seed, level, kind), before it is used
    return mask, attrs


def attr_value(v):
    """An HDF5 attribute as a plain Python value (str, list, int, float, bool)."""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return [attr_value(x) for x in v]
    return v.item() if isinstance(v, np.generic) else v


def file_locking():
    """HDF5 file locking (h5py's ``locking=``): set FINDEVAL_HDF5_LOCKING=0 (or off, or HDF5_USE_FILE_LOCKING=FALSE)
    on NFS/Lustre; :func:`findeval.io.hdf5_locking` parses it and refuses a value it does not know."""
    from .io import hdf5_locking

    return hdf5_locking()


def apply_mask(state: dict, mask: Mask) -> dict:
    """A copy of ``state`` with every masked tensor multiplied by its mask (rewinding: theta_0 * M)."""
    import torch

    check_compatible(mask, state)
    out = dict(state)
    for name, m in mask.items():
        out[name] = state[name] * torch.from_numpy(m).to(state[name].dtype)
    return out


def read_lpr(path) -> dict:
    """The LPR stored in a mask file's attributes: ``names`` (network order), ``ratios``, ``pruned``, ``total``,
    ``level``, ``sparsity`` (no mask array is read)."""
    import h5py

    from .masks import FORMAT, MaskError, attr_value, file_locking

    try:
        with h5py.File(path, "r", locking=file_locking()) as f:
            attrs = {k: attr_value(v) for k, v in f.attrs.items()}
    except OSError as err:
        raise MaskError(f"mask file {path} is unreadable (truncated or corrupt HDF5?): {err}") from err
    if attrs.get("format") != FORMAT:
        raise MaskError(f"{path} is not a findeval mask file (attribute format={attrs.get('format')!r})")
    missing = [k for k in ("layer_names", "layer_ratios", "layer_pruned", "layer_total") if k not in attrs]
    if missing:
        raise MaskError(f"{path}: mask file lacks the LPR attributes {missing}")
    from .provenance import check_mask

    check_mask(path, attrs)
    return {"names": list(attrs["layer_names"]), "ratios": [float(x) for x in attrs["layer_ratios"]],
            "pruned": [int(x) for x in attrs["layer_pruned"]], "total": [int(x) for x in attrs["layer_total"]],
            "level": int(attrs["level"]), "sparsity": float(attrs["sparsity"])}
