"""Datasets as whole uint8 tensors, and batched augmentation on tensors (no per-image PIL work).

Preparation (:func:`prepare`) turns a source dataset into one compact ``.npz`` file once:
``x_train``/``x_test`` uint8 of shape (N, C, H, W), ``y_train``/``y_test`` int64, the per-channel ``mean``
and ``std`` of the training images (in [0, 1] units) and the class count. Training only ever reads that file.

Registry (``DATASETS``):

- ``digits``: scikit-learn's handwritten digits (1,797 real 8x8 grey images, 10 classes), read from the
  CSV that scikit-learn ships (no download, and no import of scikit-learn itself), 0..16 rescaled to
  0..255, split into train/test with a fixed, seeded, stratified split.
- ``cifar10`` / ``cifar100``: read from a local torchvision root (``cifar-10-batches-py`` or
  ``cifar-100-python`` inside ``root``); nothing is ever downloaded.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASETS = ("digits", "cifar10", "cifar100")


class DataError(ValueError):
    """A dataset is missing, incomplete or malformed."""


# --------------------------------------------------------------------------- preparation


def _digits_csv() -> Path:
    spec = importlib.util.find_spec("sklearn")  # locates the package without importing it (~1 s)
    if spec is None or not spec.submodule_search_locations:
        raise DataError("dataset 'digits' needs scikit-learn installed (it ships the images); pip install scikit-learn")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():
        raise DataError(f"dataset 'digits': expected scikit-learn's image file at {path}, not found")
    return path


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits as uint8 images (N, 1, 8, 8) in 0..255 and int64 labels."""
    with gzip.open(_digits_csv(), "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.float64)
    if table.shape != (1797, 65):
        raise DataError(f"dataset 'digits': expected a 1797x65 table, got {table.shape}")
    x = np.rint(table[:, :64] * (255.0 / 16.0)).astype(np.uint8).reshape(-1, 1, 8, 8)
    y = table[:, 64].astype(np.int64)
    return x, y


def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): in every class, round(test_fraction * n_class) images go to test."""
    if not 0 < test_fraction < 1:
        raise DataError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.Generator(np.random.PCG64(seed))
    train, test = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(len(idx))]
        n_test = int(round(test_fraction * len(idx)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as fh:
        return pickle.load(fh, encoding="bytes")


def load_cifar_arrays(name: str, root: str | os.PathLike) -> dict:
    """CIFAR-10/100 from the standard python-pickle folders under ``root`` (torchvision's layout)."""
    if root is None:
        raise DataError(f"dataset '{name}' needs dataset.root: the folder that holds the CIFAR python batches")
    root = Path(root)
    if name == "cifar10":
        folder, train_files, test_files, key = "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], b"labels"
    else:
        folder, train_files, test_files, key = "cifar-100-python", ["train"], ["test"], b"fine_labels"
    base = root / folder
    missing = [f for f in train_files + test_files if not (base / f).is_file()]
    if missing:
        raise DataError(
            f"dataset '{name}': expected {', '.join(train_files + test_files)} in {base}; missing: {', '.join(missing)}"
        )

    def read(files):
        xs, ys = [], []
        for f in files:
            d = _unpickle(base / f)
            xs.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(d[key], dtype=np.int64))
        return np.concatenate(xs), np.concatenate(ys)

    x_train, y_train = read(train_files)
    x_test, y_test = read(test_files)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def prepare(name: str, out: str | os.PathLike, *, root=None, test_fraction: float = 0.2, split_seed: int = 0) -> dict:
    """Build the compact array file of dataset ``name`` at ``out`` (written atomically)."""
    from .io import atomic_path

    if name == "digits":
        x, y = load_digits_arrays()
        tr, te = stratified_split(y, test_fraction, split_seed)
        arrays = {"x_train": x[tr], "y_train": y[tr], "x_test": x[te], "y_test": y[te]}
    elif name in ("cifar10", "cifar100"):
        arrays = load_cifar_arrays(name, root)
    else:
        raise DataError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    xf = arrays["x_train"].astype(np.float64) / 255.0
    arrays["mean"] = xf.mean(axis=(0, 2, 3)).astype(np.float32)
    arrays["std"] = np.maximum(xf.std(axis=(0, 2, 3)), 1e-3).astype(np.float32)
    arrays["num_classes"] = np.int64(int(max(arrays["y_train"].max(), arrays["y_test"].max())) + 1)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return {k: v.shape for k, v in arrays.items()}


# --------------------------------------------------------------------------- loading


@dataclass
class Data:
    """A prepared dataset held as tensors (uint8 images, int64 labels), on the training device."""

    x_train: "torch.Tensor"  # noqa: F821
    y_train: "torch.Tensor"  # noqa: F821
    x_test: "torch.Tensor"  # noqa: F821
    y_test: "torch.Tensor"  # noqa: F821
    mean: "torch.Tensor"  # noqa: F821
    std: "torch.Tensor"  # noqa: F821
    num_classes: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])

    def to(self, device) -> "Data":
        return Data(**{k: (v.to(device) if hasattr(v, "to") else v) for k, v in self.__dict__.items()})


REQUIRED = ("x_train", "y_train", "x_test", "y_test", "mean", "std", "num_classes")


def load(path: str | os.PathLike, device="cpu") -> Data:
    import torch

    path = Path(path)
    if not path.is_file():
        raise DataError(f"prepared dataset not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in REQUIRED if k not in z.files]
            if missing:
                raise DataError(f"prepared dataset {path} lacks arrays: {', '.join(missing)}")
            arrays = {k: z[k] for k in REQUIRED}
    except (OSError, ValueError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"prepared dataset {path} is unreadable: {err}") from err
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.ndim != 4 or len(x) != len(y):
            raise DataError(f"prepared dataset {path}: x_{split} must be uint8 (N, C, H, W) matching y_{split}")
    t = {k: torch.from_numpy(np.ascontiguousarray(arrays[k])) for k in REQUIRED[:6]}
    return Data(**t, num_classes=int(arrays["num_classes"])).to(device)


# --------------------------------------------------------------------------- augmentation


def normalize(x_uint8, mean, std):
    """uint8 (N, C, H, W) -> float32, scaled to [0, 1] then standardized per channel."""
    x = x_uint8.float().div_(255.0)
    return x.sub_(mean.view(1, -1, 1, 1)).div_(std.view(1, -1, 1, 1))


def augment(x, generator, *, crop_scale=(0.08, 1.0), crop_ratio=(3 / 4, 4 / 3), flip=True):
    """RandomResizedCrop (+ optional horizontal flip) for a whole float batch, as one ``grid_sample``.

    Per image, an area fraction ``s ~ U(crop_scale)`` and a log-uniform aspect ratio ``r ~ crop_ratio`` give a
    crop of width ``sqrt(s r)`` and height ``sqrt(s / r)`` (in units of the image side, clipped to 1; torchvision
    instead retries up to 10 times before a central fallback), at a uniform position inside the image; it is
    resized back to the input size with bilinear interpolation. With ``flip``, half the images (in expectation)
    are mirrored. All randomness comes from ``generator``, so a seeded generator gives identical batches.
    """
    import torch
    import torch.nn.functional as F

    n = x.shape[0]
    dev = x.device
    u = torch.rand(n, 5, generator=generator, device=generator.device).to(dev)
    lo, hi = crop_scale
    area = lo + (hi - lo) * u[:, 0]
    log_r = np.log(crop_ratio[0]) + (np.log(crop_ratio[1]) - np.log(crop_ratio[0])) * u[:, 1]
    ratio = torch.exp(log_r)
    w = torch.sqrt(area * ratio).clamp(max=1.0)
    h = torch.sqrt(area / ratio).clamp(max=1.0)
    cx = (1 - w) * (2 * u[:, 2] - 1)  # centre in [-1 + w, 1 - w] (normalized coordinates)
    cy = (1 - h) * (2 * u[:, 3] - 1)
    sx = w * (torch.where(u[:, 4] < 0.5, -1.0, 1.0) if flip else 1.0)
    theta = torch.zeros(n, 2, 3, device=dev, dtype=x.dtype)
    theta[:, 0, 0] = sx
    theta[:, 0, 2] = cx
    theta[:, 1, 1] = h
    theta[:, 1, 2] = cy
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
