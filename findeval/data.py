"""Datasets as whole uint8 tensors, and batched augmentation on tensors (no per-image PIL work).

Preparation (:func:`prepare`) turns a source dataset into one compact ``.npz`` file once:
``x_train``/``x_test`` uint8 of shape (N, C, H, W), ``y_train``/``y_test`` int64, the per-channel ``mean``
and ``std`` of the training images (in [0, 1] units) and the class count. Training only ever reads that file.

Registry (``DATASETS``, the names of :data:`findeval.datasets.REGISTRY`, which holds each one's facts):

- ``digits``: scikit-learn's handwritten digits (1,797 real 8x8 grey images, 10 classes), read from the
  CSV that scikit-learn ships (no download, and no import of scikit-learn itself), 0..16 rescaled to
  0..255, split into train/test with a fixed, seeded, stratified split.
- ``cifar10`` / ``cifar100``: read from a local torchvision root (``cifar-10-batches-py`` or
  ``cifar-100-python`` inside ``root``); nothing is ever downloaded.
- ``tiny_imagenet``: the standard ``tiny-imagenet-200`` folder (``root`` itself or ``root/tiny-imagenet-200``):
  ``wnids.txt``, ``train/<wnid>/images/*.JPEG`` (the training set) and ``val/images/*.JPEG`` labelled by
  ``val/val_annotations.txt`` (the test set; the official test split has no labels). 200 classes, 64x64 RGB;
  label = index of the wnid in sorted order (torchvision's ``ImageFolder`` convention).
- ``miniplaces``: the MiniPlaces development kit in ``root``: ``images/train``, ``images/val``, ``train.txt``
  and ``val.txt`` (``<path under images/> <label>`` per line; val is the test set), ``categories.txt``
  (``<name> <label>``). The three text files are in ``data/`` beside ``images/`` (the kit as distributed) or
  beside ``images/`` itself (a flattened copy). 100 classes, 128x128 RGB.

The two image datasets are decoded once (Pillow, a thread pool) into the same compact file; a missing or
incomplete folder stops the preparation with a :class:`DataError` that names what was expected where.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets import NAMES as DATASETS
from .datasets import REGISTRY

#: The JPEG datasets: (number of classes, image side in pixels). Folders with fewer classes (tests) are fine.
IMAGE_DATASETS = {n: (d.num_classes, d.image_size) for n, d in REGISTRY.items() if d.loader == "image_folder"}


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



# --------------------------------------------------------------------------- JPEG folders (tiny_imagenet, miniplaces)

TINY_IMAGENET_DIR = "tiny-imagenet-200"
TINY_IMAGENET_LAYOUT = ("wnids.txt, train/<wnid>/images/*.JPEG for every wnid, val/images/*.JPEG and "
                        "val/val_annotations.txt")
MINIPLACES_LAYOUT = ("images/train/, images/val/, train.txt and val.txt ('<path under images/> <label>' per "
                     "line), categories.txt ('<name> <label>' per line); the text files in data/ (the kit) or "
                     "beside images/")
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


def _incomplete(name: str, base: Path, problems: list[str], layout: str) -> DataError:
    shown = "; ".join(problems[:10]) + (f"; ... ({len(problems) - 10} more)" if len(problems) > 10 else "")
    return DataError(f"dataset '{name}': folder {base} is incomplete (expected {layout}): {shown}")


def _need_root(name: str, root) -> Path:
    if root is None:
        raise DataError(f"dataset '{name}' needs dataset.root (the dataset folder); nothing is downloaded")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DataError(f"dataset '{name}': dataset.root {root} is a file, not a folder (the dataset folder)")
    if not root.is_dir():
        raise DataError(f"dataset '{name}': dataset.root {root} does not exist (the dataset folder)")
    return root


def tiny_imagenet_dir(root) -> Path:
    """The ``tiny-imagenet-200`` folder: ``root`` itself, or ``root/tiny-imagenet-200``."""
    root = _need_root("tiny_imagenet", root)
    for base in (root, root / TINY_IMAGENET_DIR):
        if (base / "wnids.txt").is_file():
            return base
    raise DataError(f"dataset 'tiny_imagenet': expected wnids.txt in {root} or in {root / TINY_IMAGENET_DIR} "
                    f"(the standard tiny-imagenet-200 folder: {TINY_IMAGENET_LAYOUT})")


def _read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def tiny_imagenet_files(root) -> tuple[list, list, list[str]]:
    """(train, test, classes): lists of (image path, label) and the wnids in label order."""
    base = tiny_imagenet_dir(root)
    wnids = _read_lines(base / "wnids.txt")
    problems = []
    if not wnids:
        problems.append(f"{base / 'wnids.txt'} lists no class")
    if len(set(wnids)) != len(wnids):
        problems.append(f"{base / 'wnids.txt'} lists a class twice")
    classes = sorted(set(wnids))
    label = {w: i for i, w in enumerate(classes)}
    train = []
    for w in classes:
        folder = base / "train" / w / "images"
        if not folder.is_dir():
            problems.append(f"missing folder {folder}")
            continue
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            problems.append(f"no images in {folder}")
        train.extend((p, label[w]) for p in files)
    test = []
    ann, images = base / "val" / "val_annotations.txt", base / "val" / "images"
    if not images.is_dir():
        problems.append(f"missing folder {images}")
    if not ann.is_file():
        problems.append(f"missing file {ann}")
    if not problems:
        present = set(os.listdir(images))
        for n, line in enumerate(_read_lines(ann), 1):
            fields = line.split("\t") if "\t" in line else line.split()
            if len(fields) < 2:
                problems.append(f"{ann} line {n}: expected '<file> <wnid> ...', got {line!r}")
            elif fields[1] not in label:
                problems.append(f"{ann} line {n}: class {fields[1]} is not in wnids.txt")
            elif fields[0] not in present:
                problems.append(f"missing image {images / fields[0]} (listed in {ann.name} line {n})")
            else:
                test.append((images / fields[0], label[fields[1]]))
        if not test and not problems:
            problems.append(f"{ann} lists no image")
    if problems:
        raise _incomplete("tiny_imagenet", base, problems, TINY_IMAGENET_LAYOUT)
    return train, test, classes


def miniplaces_files(root) -> tuple[list, list, list[str]]:
    """(train, test, classes) of the MiniPlaces development kit in ``root`` (val is the test set)."""
    from .workflow import miniplaces_text_dir

    base = _need_root("miniplaces", root)
    text = Path(miniplaces_text_dir(str(base)))
    problems = [f"missing {text / p}" for p in ("train.txt", "val.txt", "categories.txt") if not (text / p).is_file()]
    problems += [f"missing folder {base / p}" for p in ("images/train", "images/val") if not (base / p).is_dir()]
    if problems:
        raise _incomplete("miniplaces", base, problems, MINIPLACES_LAYOUT)
    categories = {}
    for n, line in enumerate(_read_lines(text / "categories.txt"), 1):
        fields = line.rsplit(None, 1)
        if len(fields) != 2 or not fields[1].isdigit():
            problems.append(f"categories.txt line {n}: expected '<name> <label>', got {line!r}")
        else:
            categories[int(fields[1])] = fields[0]
    if categories and sorted(categories) != list(range(len(categories))):
        problems.append(f"categories.txt: labels must be 0..{len(categories) - 1}, each once")
    if not categories and not problems:
        problems.append("categories.txt lists no category")
    if problems:
        raise _incomplete("miniplaces", base, problems, MINIPLACES_LAYOUT)
    splits = {}
    for split in ("train", "val"):
        listing = text / f"{split}.txt"
        items = []
        for n, line in enumerate(_read_lines(listing), 1):
            fields = line.rsplit(None, 1)
            if len(fields) != 2 or not fields[1].isdigit():
                problems.append(f"{listing.name} line {n}: expected '<path under images/> <label>', got {line!r}")
                continue
            path, y = base / "images" / fields[0], int(fields[1])
            if y not in categories:
                problems.append(f"{listing.name} line {n}: label {y} is not in categories.txt")
            elif not path.is_file():
                problems.append(f"missing image {path} (listed in {listing.name} line {n})")
            else:
                items.append((path, y))
        if not items and not problems:
            problems.append(f"{listing.name} lists no image")
        splits[split] = items
    if problems:
        raise _incomplete("miniplaces", base, problems, MINIPLACES_LAYOUT)
    return splits["train"], splits["val"], [categories[i] for i in range(len(categories))]


def default_workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(32, cpus))


def decode_images(paths: list, size: int, workers: int | None = None) -> np.ndarray:
    """Decode image files into one uint8 array (N, 3, size, size) with a thread pool (Pillow releases the
    GIL while it decodes). Grey or CMYK images become RGB; any other size than ``size`` x ``size`` is an error."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image, UnidentifiedImageError

    out = np.empty((len(paths), 3, size, size), dtype=np.uint8)

    def load(i: int) -> None:
        try:
            with Image.open(paths[i]) as im:
                if im.size != (size, size):
                    raise DataError(f"image {paths[i]} is {im.size[0]}x{im.size[1]}, expected {size}x{size}")
                out[i] = np.asarray(im.convert("RGB")).transpose(2, 0, 1)
        except (OSError, UnidentifiedImageError, SyntaxError) as err:
            raise DataError(f"image {paths[i]} cannot be decoded: {err}") from err

    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        for _ in pool.map(load, range(len(paths)), chunksize=256):
            pass
    return out


def load_image_folder_arrays(name: str, root, workers: int | None = None) -> dict:
    """``tiny_imagenet`` or ``miniplaces`` from its standard folder as uint8 arrays (+ the class names)."""
    classes_max, size = IMAGE_DATASETS[name]
    train, test, classes = (tiny_imagenet_files if name == "tiny_imagenet" else miniplaces_files)(root)
    if len(classes) > classes_max:
        raise DataError(f"dataset '{name}' has {classes_max} classes, but the folder lists {len(classes)}")
    arrays = {}
    for split, items in (("train", train), ("test", test)):
        arrays[f"x_{split}"] = decode_images([p for p, _ in items], size, workers)
        arrays[f"y_{split}"] = np.asarray([y for _, y in items], dtype=np.int64)
    arrays["classes"] = np.asarray(classes, dtype=str)
    return arrays


def channel_stats(x: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of uint8 images (N, C, H, W) in [0, 1] units, in chunks of ``chunk`` images
    (a float64 copy of MiniPlaces would need 39 GB)."""
    n = x.shape[0] * x.shape[2] * x.shape[3]
    total = np.zeros(x.shape[1], dtype=np.float64)
    for i in range(0, len(x), chunk):
        total += x[i:i + chunk].sum(axis=(0, 2, 3), dtype=np.float64)
    mean = total / (255.0 * n)
    sq = np.zeros(x.shape[1], dtype=np.float64)
    for i in range(0, len(x), chunk):
        d = x[i:i + chunk].astype(np.float64) / 255.0 - mean.reshape(1, -1, 1, 1)
        sq += np.einsum("nchw,nchw->c", d, d)
    return mean, np.sqrt(sq / n)


def prepare(name: str, out: str | os.PathLike, *, root=None, test_fraction: float = 0.2, split_seed: int = 0,
            workers: int | None = None) -> dict:
    """Build the compact array file of dataset ``name`` at ``out`` (written atomically)."""
    from .io import atomic_path

    loader = REGISTRY[name].loader if name in REGISTRY else None
    if loader == "digits":
        x, y = load_digits_arrays()
        tr, te = stratified_split(y, test_fraction, split_seed)
        arrays = {"x_train": x[tr], "y_train": y[tr], "x_test": x[te], "y_test": y[te]}
    elif loader == "cifar":
        arrays = load_cifar_arrays(name, root)
    elif loader == "image_folder":
        arrays = load_image_folder_arrays(name, root, workers)
    else:
        raise DataError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    if loader == "image_folder":
        mean, std = channel_stats(arrays["x_train"])
        arrays["mean"] = mean.astype(np.float32)
        arrays["std"] = np.maximum(std, 1e-3).astype(np.float32)
        arrays["num_classes"] = np.int64(len(arrays["classes"]))
    else:
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
    sx = w * torch.where(u[:, 4] < 0.5, -1.0, 1.0) if flip else w
    zero = torch.zeros_like(w)
    # one stack instead of four indexed writes (same values, fewer ops: this runs once per training step)
    theta = torch.stack((sx, zero, cx, zero, h, cy), dim=1).view(n, 2, 3).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
