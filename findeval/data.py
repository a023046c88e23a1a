"""Datasets as whole uint8 tensors, and batched augmentation on tensors (no per-image PIL work).

Preparation (:func:`prepare`) turns a source dataset into one compact ``.npz`` file once:
``x_train``/``x_test`` uint8 of shape (N, C, H, W), ``y_train``/``y_test`` int64, the per-channel ``mean``
and ``std`` of the training images (in [0, 1] units) and the class count. Training only ever reads that file.

Registry (``DATASETS``, the names of :data:`findeval.datasets.REGISTRY`, which holds each one's facts). A
record names its loader (:data:`LOADERS`), and the loader reads the record's layout, never the dataset's name:

- ``digits``: scikit-learn's handwritten digits (1,797 real 8x8 grey images, 10 classes), read from the
  CSV that scikit-learn ships (no download, and no import of scikit-learn itself), 0..16 rescaled to
  0..255, split into train/test with a fixed, seeded, stratified split.
- ``cifar`` (cifar10, cifar100): read from a local torchvision root (the record's ``layout["folder"]``
  inside ``root``, its batch files and label key); nothing is ever downloaded.
- ``wnid_folder`` (tiny_imagenet): the standard ``tiny-imagenet-200`` folder (``root`` itself or
  ``root/tiny-imagenet-200``): ``wnids.txt``, ``train/<wnid>/images/*.JPEG`` (the training set) and
  ``val/images/*.JPEG`` labelled by ``val/val_annotations.txt`` (the test set; the official test split has no
  labels). 200 classes, 64x64 RGB; label = index of the wnid in sorted order (torchvision's ``ImageFolder``
  convention).
- ``listed_folder`` (miniplaces): the MiniPlaces development kit in ``root``: ``images/train``,
  ``images/val``, ``train.txt`` and ``val.txt`` (``<path under images/> <label>`` per line; val is the test
  set), ``categories.txt`` (``<name> <label>``). The three text files are in ``data/`` beside ``images/`` (the
  kit as distributed) or beside ``images/`` itself (a flattened copy). 100 classes, 128x128 RGB.
- ``idx`` (fashion_mnist): the four gzipped idx files of the official release (``{train,t10k}-{images-idx3,
  labels-idx1}-ubyte.gz``), in ``dataset.root`` (or torchvision's ``FashionMNIST/raw`` below it) or, with no
  root, in ``/usr/share/datasets/fashion-mnist`` (the Debian package ``dataset-fashion-mnist``); downloaded by
  ``torchvision.datasets.FashionMNIST`` only with ``dataset.download: true``. Options: seeded stratified
  subsets (``dataset.n_train``, ``dataset.n_test``), the resolution (``dataset.resolution``, block averages:
  28, 14, 7 or 4 pixels) and where the test images come from (``dataset.split``: the official test file, or
  ``train``: held out of the training file by ``test_fraction``, the test file unused).

The two image datasets are decoded once (Pillow, a thread pool) into the same compact file; a missing or
incomplete folder stops the preparation with a :class:`DataError` that names what was expected where.
"""

from __future__ import annotations

import gzip
import importlib.util
import math
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets import NAMES as DATASETS
from .datasets import REGISTRY, Dataset

#: The JPEG datasets: (number of classes, image side in pixels). Folders with fewer classes (tests) are fine.
IMAGE_DATASETS = {n: (d.num_classes, d.image_size) for n, d in REGISTRY.items()
                  if d.loader in ("wnid_folder", "listed_folder")}


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


def load_digits(d: Dataset, root=None, *, test_fraction: float = 0.2, split_seed: int = 0, **_) -> dict:
    """Loader ``digits``: the seeded stratified split of scikit-learn's digits."""
    x, y = load_digits_arrays()
    tr, te = stratified_split(y, test_fraction, split_seed)
    return {"x_train": x[tr], "y_train": y[tr], "x_test": x[te], "y_test": y[te]}


def load_cifar_arrays(d: Dataset, root: str | os.PathLike, **_) -> dict:
    """Loader ``cifar``: the python-pickle batches of torchvision's layout under ``root``: the record's
    ``layout["folder"]``, its ``train``/``test`` batch files and the ``labels`` key of each batch."""
    name = d.name
    if root is None:
        raise DataError(f"dataset '{name}' needs dataset.root: the folder that holds the CIFAR python batches")
    root = Path(root)
    lay = d.layout
    folder, train_files, test_files = lay["folder"], list(lay["train"]), list(lay["test"])
    key = lay["labels"].encode()
    base = root / folder
    missing = [f for f in train_files + test_files if not (base / f).is_file()]
    if missing:
        raise DataError(
            f"dataset '{name}': expected {', '.join(train_files + test_files)} in {base}; missing: {', '.join(missing)}"
        )
    side = d.image_size

    def read(files):
        xs, ys = [], []
        for f in files:
            b = _unpickle(base / f)
            xs.append(np.asarray(b[b"data"], dtype=np.uint8).reshape(-1, d.in_channels, side, side))
            ys.append(np.asarray(b[key], dtype=np.int64))
        return np.concatenate(xs), np.concatenate(ys)

    x_train, y_train = read(train_files)
    x_test, y_test = read(test_files)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


# --------------------------------------------------------------------------- JPEG folders (tiny_imagenet, miniplaces)

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


def _incomplete(d: Dataset, base: Path, problems: list[str]) -> DataError:
    shown = "; ".join(problems[:10]) + (f"; ... ({len(problems) - 10} more)" if len(problems) > 10 else "")
    return DataError(f"dataset '{d.name}': folder {base} is incomplete (expected {d.layout['description']}): "
                     f"{shown}")


def _need_root(name: str, root) -> Path:
    if root is None:
        raise DataError(f"dataset '{name}' needs dataset.root (the dataset folder); nothing is downloaded")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DataError(f"dataset '{name}': dataset.root {root} is a file, not a folder (the dataset folder)")
    if not root.is_dir():
        raise DataError(f"dataset '{name}': dataset.root {root} does not exist (the dataset folder)")
    return root


def wnid_folder_dir(d: Dataset, root) -> Path:
    """The dataset's folder: ``root`` itself, or the first of the record's ``subdirs`` that holds its first file
    (Tiny ImageNet: ``wnids.txt`` in ``root`` or ``root/tiny-imagenet-200``)."""
    root = _need_root(d.name, root)
    for base in (root, *(root / s for s in d.subdirs)):
        if (base / d.files[0]).is_file():
            return base
    raise DataError(f"dataset '{d.name}': expected {d.files[0]} in {root} or in "
                    f"{' or in '.join(str(root / s) for s in d.subdirs)} ({d.root}: {d.layout['description']})")


def _read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def wnid_folder_files(d: Dataset, root) -> tuple[list, list, list[str]]:
    """(train, test, classes) of a Tiny ImageNet style folder: lists of (image path, label) and the wnids in
    label order."""
    base = wnid_folder_dir(d, root)
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
        raise _incomplete(d, base, problems)
    return train, test, classes


def listed_folder_files(d: Dataset, root) -> tuple[list, list, list[str]]:
    """(train, test, classes) of a MiniPlaces style folder: image lists ``<path under images/> <label>`` and
    ``categories.txt``, where the record's layout says (``text_dirs``, ``images``, ``splits``)."""
    base = _need_root(d.name, root)
    text = Path(d.text_dir(str(base)))
    images = base / d.layout["images"]
    problems = [f"missing {p}" for p in d.missing(str(base)) if os.path.basename(p) in d.layout["text_files"]]
    problems += [f"missing folder {p}" for p in d.missing(str(base)) if os.path.basename(p) not in
                 d.layout["text_files"]]
    if problems:
        raise _incomplete(d, base, problems)
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
        raise _incomplete(d, base, problems)
    splits = {}
    for split, listing_name in d.layout["splits"]:
        listing = text / listing_name
        items = []
        for n, line in enumerate(_read_lines(listing), 1):
            fields = line.rsplit(None, 1)
            if len(fields) != 2 or not fields[1].isdigit():
                problems.append(f"{listing.name} line {n}: expected '<path under images/> <label>', got {line!r}")
                continue
            path, y = images / fields[0], int(fields[1])
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
        raise _incomplete(d, base, problems)
    return splits["train"], splits["test"], [categories[i] for i in range(len(categories))]


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


def _image_folder(files):
    def loader(d: Dataset, root, *, workers: int | None = None, **_) -> dict:
        """A JPEG folder as uint8 arrays (+ the class names, the statistics and the class count)."""
        train, test, classes = files(d, root)
        if len(classes) > d.num_classes:
            raise DataError(f"dataset '{d.name}' has {d.num_classes} classes, but the folder lists {len(classes)}")
        arrays = {}
        for split, items in (("train", train), ("test", test)):
            arrays[f"x_{split}"] = decode_images([p for p, _ in items], d.image_size, workers)
            arrays[f"y_{split}"] = np.asarray([y for _, y in items], dtype=np.int64)
        arrays["classes"] = np.asarray(classes, dtype=str)
        mean, std = channel_stats(arrays["x_train"])
        arrays["mean"] = mean.astype(np.float32)
        arrays["std"] = np.maximum(std, 1e-3).astype(np.float32)
        arrays["num_classes"] = np.int64(len(classes))
        return arrays

    loader.__name__ = f"load_{files.__name__.replace('_files', '')}"
    return loader


# --------------------------------------------------------------------------- idx files (fashion_mnist)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """A gzipped idx file (the MNIST format: big-endian magic ``0x00000800 | ndim`` with type byte 0x08 =
    uint8, then ``ndim`` big-endian uint32 sizes, then the data) as a uint8 array."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:
        raise DataError(f"idx file {path} cannot be read: {err}") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"idx file {path}: not a uint8 idx file (magic {raw[:4].hex() or 'missing'})")
    ndim = raw[3]
    head = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != head + math.prod(shape):
        raise DataError(f"idx file {path}: header says {shape} ({math.prod(shape)} bytes), the file holds "
                        f"{len(raw) - head}")
    return np.frombuffer(raw, dtype=np.uint8, offset=head).reshape(shape)


def stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` images of ``y``, each class in its share: ``floor(n * n_class / N)`` per class,
    the remaining images one each to the classes of the largest remainders (ties: the lower class); which
    images of a class, a seeded permutation (PCG64)."""
    classes, counts = np.unique(y, return_counts=True)
    if not 0 < n <= len(y):
        raise DataError(f"a subset of {n} images of {len(y)} is not possible")
    exact = [n * int(c) for c in counts]
    take = [e // len(y) for e in exact]
    rest = sorted(range(len(classes)), key=lambda i: (-(exact[i] % len(y)), i))[:n - sum(take)]
    for i in rest:
        take[i] += 1
    rng = np.random.Generator(np.random.PCG64(seed))
    chosen = []
    for c, k in zip(classes, take):
        idx = np.flatnonzero(y == c)
        chosen.append(idx[rng.permutation(len(idx))[:k]])
    return np.sort(np.concatenate(chosen))


def downsample(x: np.ndarray, size: int) -> np.ndarray:
    """uint8 images (N, C, S, S) averaged in blocks of (S/size)^2 pixels to (N, C, size, size), rounded."""
    n, c, s, _ = x.shape
    if s % size:
        raise DataError(f"resolution {size} does not divide the {s}-pixel images")
    f = s // size
    if f == 1:
        return x
    blocks = x.reshape(n, c, size, f, size, f).astype(np.float64).mean(axis=(3, 5))
    return np.rint(blocks).astype(np.uint8)


def _download(d: Dataset, into: Path) -> None:
    """Let torchvision's dataset class download the files into ``into`` (its ``<class>/raw`` subfolder)."""
    try:
        import torchvision.datasets
    except ImportError as err:
        raise DataError(f"dataset '{d.name}': dataset.download needs torchvision installed ({err})") from err
    cls = getattr(torchvision.datasets, d.layout["torchvision"])
    into.mkdir(parents=True, exist_ok=True)
    try:
        for train in (True, False):
            cls(str(into), train=train, download=True)
    except Exception as err:  # network errors come in many types
        raise DataError(f"dataset '{d.name}': the download into {into} failed: {err}") from err


def load_idx(d: Dataset, root=None, *, test_fraction: float = 0.2, split_seed: int = 0, n_train=None,
             n_test=None, resolution=None, split=None, download: bool = False, **_) -> dict:
    """Loader ``idx``: the record's idx files (``layout["train"]``, ``layout["test"]``: images, labels), found
    by :meth:`Dataset.locate` (``root`` and its subfolders, else the record's system-wide folders), downloaded
    into ``root`` where ``download`` allows it; then the split (``split: train`` holds
    ``test_fraction`` of the training file out as the test set), the seeded stratified subsets ``n_train`` /
    ``n_test`` (seeded by ``split_seed``) and the resolution (block averages)."""
    folder = d.locate(root)
    if folder is None and download:
        if not root:
            raise DataError(f"{d.not_found(root)}; dataset.download: true needs dataset.root, the folder "
                            f"torchvision downloads into")
        into = Path(root)
        _download(d, into)
        folder = d.locate(str(into))
        if folder is None:
            raise DataError(d.not_found(str(into)))
    if folder is None:
        raise DataError(d.not_found(root))
    parts = {}
    for part in ("train", "test"):
        images, labels = (read_idx(Path(folder) / f) for f in d.layout[part])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(f"dataset '{d.name}': {d.layout[part][0]} ({images.shape}) and {d.layout[part][1]} "
                            f"({labels.shape}) in {folder} do not match (N x H x W images, N labels)")
        if images.shape[1:] != (d.image_size, d.image_size) or labels.max(initial=0) >= d.num_classes:
            raise DataError(f"dataset '{d.name}': {d.layout[part][0]} in {folder} holds {images.shape[1:]} images "
                            f"with labels up to {int(labels.max(initial=0))}, expected {d.image_size}x"
                            f"{d.image_size} images of {d.num_classes} classes")
        parts[part] = (images.reshape(-1, 1, d.image_size, d.image_size), labels.astype(np.int64))
    if split == "train":
        x, y = parts["train"]
        tr, te = stratified_split(y, test_fraction, split_seed)
        parts = {"train": (x[tr], y[tr]), "test": (x[te], y[te])}
    arrays = {}
    for part, n, salt in (("train", n_train, 0), ("test", n_test, 1)):
        x, y = parts[part]
        if n is not None:
            if int(n) > len(y):
                raise DataError(f"dataset.n_{part}: {n} images asked, the {part} split holds {len(y)}")
            keep = stratified_subset(y, int(n), seed=[int(split_seed), salt])
            x, y = x[keep], y[keep]
        arrays[f"x_{part}"] = downsample(x, int(resolution)) if resolution else np.ascontiguousarray(x)
        arrays[f"y_{part}"] = y
    mean, std = channel_stats(arrays["x_train"])
    arrays["mean"] = mean.astype(np.float32)
    arrays["std"] = np.maximum(std, 1e-3).astype(np.float32)
    arrays["num_classes"] = np.int64(d.num_classes)
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


#: The loaders, by the key a :class:`findeval.datasets.Dataset` record names (``loader``). Each is called as
#: ``loader(record, root, *, out, workers, test_fraction, split_seed, **options)`` and returns the arrays of
#: the prepared file (``x_train``, ``y_train``, ``x_test``, ``y_test``; ``mean``, ``std``, ``num_classes`` where
#: it computes them itself, else :func:`prepare` does); it reads the record, never the dataset's name.
LOADERS = {
    "digits": load_digits,
    "cifar": load_cifar_arrays,
    "wnid_folder": _image_folder(wnid_folder_files),
    "listed_folder": _image_folder(listed_folder_files),
    "idx": load_idx,
}


def prepare(name: str, out: str | os.PathLike, *, root=None, test_fraction: float = 0.2, split_seed: int = 0,
            workers: int | None = None, **options) -> dict:
    """Build the compact array file of dataset ``name`` at ``out`` (written atomically), with the loader its
    record names; ``options`` are the ``dataset.*`` options the record takes (findeval.datasets.OPTIONS)."""
    from .io import atomic_path

    if name not in REGISTRY:
        raise DataError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    d = REGISTRY[name]
    unknown = sorted(set(options) - set(d.options))
    if unknown:
        raise DataError(f"dataset '{name}' does not take the options {', '.join(unknown)}")
    arrays = LOADERS[d.loader](d, root, out=out, workers=workers, test_fraction=test_fraction,
                               split_seed=split_seed, **options)
    if "mean" not in arrays:
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
