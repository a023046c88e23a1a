"""The dataset registry: every fact about a dataset that the planning side, the checks, the preparation and
the model need, in one record per dataset. Torch-free and numpy-free (the Snakefile reads it at parse time).

A record carries its loader (``loader``: a key of :data:`findeval.data.LOADERS`; the loader reads the record,
never the dataset's name) and its layout (``files``, ``subdirs``, ``layout``, ``search``), which both the
parse-time check (:func:`findeval.workflow.check_dataset`, existence checks only) and the preparation
(:func:`findeval.data.prepare`) read.

To add a dataset: one :class:`Dataset` record in :data:`REGISTRY` and its name in the schema's
``dataset.name`` enum (tests/test_datasets.py checks that the enum is the registry's names); a new loader in
:data:`findeval.data.LOADERS` only where none of ``digits``, ``cifar``, ``wnid_folder``, ``listed_folder``,
``idx`` fits; settings of its own (like Fashion-MNIST's subset sizes) as ``dataset.*`` keys of the schema,
listed in the record's ``options``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

#: scikit-learn's digits: images per class 0..9 (1,797 in all; checked against the shipped file in the tests).
DIGITS_CLASS_COUNTS = (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)
#: Fashion-MNIST's training file: 6,000 images of each of the 10 classes (its test file: 1,000 each).
FASHION_CLASS_COUNTS = (6000,) * 10

#: ``dataset.*`` keys beyond name/root/test_fraction/split_seed/augment that only some datasets take (those
#: whose record lists them in ``options``), with the value that means "not set" (the schema's default).
OPTIONS = {"n_train": None, "n_test": None, "resolution": None, "split": None, "download": False}
#: The keys of the dataset block that rule prepare_data passes to every preparation (findeval.data.prepare).
BASE_PARAMS = ("name", "root", "test_fraction", "split_seed")


@dataclass(frozen=True)
class Dataset:
    """One dataset: its shapes, sizes, files and loader.

    Contract (read by findeval.workflow, findeval.regime, findeval.models and findeval.data; every field but
    the first five has a default that means "none"):

    - ``in_channels``, ``num_classes``, ``image_size`` (side of the square images in pixels, the native one;
      ``dataset.resolution`` may change it where the record takes that option);
    - ``loader``: the key of :data:`findeval.data.LOADERS` that prepares it, called with this record;
    - ``n_train``/``n_test``: the nominal sizes, or None where ``class_counts`` and a seeded stratified split of
      ``test_fraction`` decide them (:meth:`sizes`);
    - ``files``: what its folder must hold (paths relative to it; existence checks only at parse time);
      ``subdirs``: standard subfolders of ``dataset.root`` that may hold the files instead of ``root`` itself;
      ``search``: folders looked in when ``dataset.root`` is unset (a system-wide install); without ``files``
      it needs no folder at all;
    - ``layout``: loader-specific facts (the CIFAR folder and batch names, MiniPlaces' text-file folders, the
      idx file names of each split): the loader reads them here, so two records that share a loader each read
      their own files;
    - ``root``: what ``dataset.root`` is, for the messages; ``install``: how to get the files, for the message
      that says they were not found;
    - ``options``: the ``dataset.*`` keys of :data:`OPTIONS` it takes (the config check refuses the others
      when set); ``download``: torchvision can download it, where the config allows it (``dataset.download``).
    """

    name: str
    in_channels: int
    num_classes: int
    image_size: int
    loader: str
    n_train: int | None = None
    n_test: int | None = None
    class_counts: tuple[int, ...] = ()
    files: tuple[str, ...] = ()
    subdirs: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    layout: dict = field(default_factory=dict)
    root: str = ""
    install: str = ""
    options: tuple[str, ...] = ()
    download: bool = False

    @property
    def needs_root(self) -> bool:
        """It needs ``dataset.root``: it has files, and neither a system-wide place nor a download."""
        return bool(self.files) and not self.search and not self.download

    @property
    def has_files(self) -> bool:
        return bool(self.files)

    # --------------------------------------------------------------- its folder (existence checks only)

    def text_dir(self, base: str) -> str:
        """Where the text files of ``layout["text_files"]`` are: the first of ``layout["text_dirs"]`` (relative
        to ``base``) that holds the first of them, else ``base`` (MiniPlaces: ``data/``, the kit, or ``base``)."""
        text = self.layout.get("text_files", ())
        for sub in self.layout.get("text_dirs", ("",)):
            if text and os.path.isfile(os.path.join(base, sub, text[0])):
                return os.path.join(base, sub) if sub else base
        return base

    def expected(self, base: str) -> list[str]:
        """The paths of ``files`` in the folder ``base`` (text files where :meth:`text_dir` finds them)."""
        text = self.layout.get("text_files", ())
        tdir = self.text_dir(base) if text else base
        return [os.path.join(tdir if f in text else base, f) for f in self.files]

    def missing(self, base: str) -> list[str]:
        """The paths of ``files`` that are not in ``base``."""
        return [p for p in self.expected(base) if not os.path.exists(p)]

    def base(self, root: str) -> str:
        """The folder under ``root`` that holds the files: ``root``, or the first of ``subdirs`` that holds the
        first file while ``root`` does not."""
        if self.files and not os.path.exists(os.path.join(root, self.files[0])):
            for sub in self.subdirs:
                if os.path.exists(os.path.join(root, sub, self.files[0])):
                    return os.path.join(root, sub)
        return root

    def candidates(self, root: str | None) -> list[str]:
        """The folders looked in, in order: ``root`` and its ``subdirs`` when set, else ``search``."""
        if root:
            return [str(root)] + [os.path.join(root, s) for s in self.subdirs]
        return list(self.search)

    def locate(self, root: str | None) -> str | None:
        """The first folder of :meth:`candidates` that holds every file, or None."""
        for folder in self.candidates(root):
            if os.path.isdir(folder) and not self.missing(folder):
                return folder
        return None

    def not_found(self, root: str | None) -> str:
        """The message for files found nowhere: the paths looked at, and how to get them."""
        looked = ", ".join(self.candidates(root)) or "(no folder: dataset.root is unset)"
        how = f"; {self.install}" if self.install else ""
        dl = "; or set dataset.download: true to let torchvision download them" if self.download else ""
        return (f"dataset '{self.name}': {', '.join(self.files)} not found; looked in {looked}{how}"
                f"{'; or set dataset.root to the folder that holds them' if self.search else ''}{dl}")

    # --------------------------------------------------------------- sizes and options

    def sizes(self, dataset: dict | float | None = None) -> tuple[int, int]:
        """(train, test) images of the dataset block ``dataset`` (its schema defaults need not be filled in; a
        number is read as ``test_fraction``). A seeded stratified split of ``test_fraction`` (per class
        ``round(test_fraction * n_class)`` to test, as findeval.data.stratified_split) where the record has no
        nominal sizes or ``dataset.split`` is ``train``; then ``dataset.n_train``/``n_test`` where set."""
        ds = {"test_fraction": dataset} if isinstance(dataset, (int, float)) else dict(dataset or {})
        fraction = float(ds.get("test_fraction", 0.2) if ds.get("test_fraction") is not None else 0.2)
        if self.n_train is None or ds.get("split") == "train":
            n_test = sum(int(round(fraction * n)) for n in self.class_counts)
            n_train = sum(self.class_counts) - n_test
        else:
            n_train, n_test = self.n_train, self.n_test
        return (int(ds["n_train"]) if ds.get("n_train") is not None else n_train,
                int(ds["n_test"]) if ds.get("n_test") is not None else n_test)

    def pool_sizes(self, dataset: dict) -> tuple[int, int]:
        """(train, test) images available before ``n_train``/``n_test`` subsets: :meth:`sizes` without them."""
        return self.sizes({k: v for k, v in dataset.items() if k not in ("n_train", "n_test")})

    def resolution(self, dataset: dict | None = None) -> int:
        """The side of the prepared images: ``dataset.resolution`` where set, else the native one."""
        r = (dataset or {}).get("resolution")
        return int(r) if r is not None else self.image_size

    def option_problems(self, dataset: dict) -> list[str]:
        """Messages for the ``dataset.*`` options set here that this dataset does not take, or that are out
        of its range (subset sizes above what the files hold, a resolution that does not divide the images)."""
        problems = []
        for key, unset in OPTIONS.items():
            if key not in self.options and dataset.get(key, unset) != unset:
                takers = [d.name for d in REGISTRY.values() if key in d.options]
                problems.append(f"dataset.{key}: dataset '{self.name}' does not take it (only "
                                f"{', '.join(takers) or 'none'}); remove it")
        if problems:
            return problems
        pool_train, pool_test = self.pool_sizes(dataset)
        for key, pool in (("n_train", pool_train), ("n_test", pool_test)):
            n = dataset.get(key)
            if n is not None and not self.num_classes <= int(n) <= pool:
                problems.append(f"dataset.{key}: {n} is not between {self.num_classes} (one image per class) and "
                                f"{pool} (the images of the {key[2:]} split of '{self.name}')")
        r = dataset.get("resolution")
        if r is not None and (int(r) < 1 or self.image_size % int(r)):
            divisors = [d for d in range(1, self.image_size + 1) if self.image_size % d == 0 and d >= 4]
            problems.append(f"dataset.resolution: {r} does not divide the {self.image_size}-pixel images of "
                            f"'{self.name}' (the images are averaged in blocks); choose from "
                            f"{', '.join(map(str, divisors))}")
        return problems

    def prepare_params(self, dataset: dict) -> dict:
        """What rule prepare_data passes to :func:`findeval.data.prepare`: :data:`BASE_PARAMS` and the options
        this record takes (only those: a dataset without options keeps its params, and its jobs, as they were)."""
        return {k: dataset.get(k, OPTIONS.get(k)) for k in (*BASE_PARAMS, *self.options)}


FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz")

REGISTRY: dict[str, Dataset] = {d.name: d for d in (
    Dataset("digits", in_channels=1, num_classes=10, image_size=8, loader="digits",
            class_counts=DIGITS_CLASS_COUNTS),
    Dataset("cifar10", in_channels=3, num_classes=10, image_size=32, loader="cifar", n_train=50_000, n_test=10_000,
            files=("cifar-10-batches-py/data_batch_1",), root="the folder that holds cifar-10-batches-py/",
            layout={"folder": "cifar-10-batches-py", "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
                    "test": ("test_batch",), "labels": "labels"}),
    Dataset("cifar100", in_channels=3, num_classes=100, image_size=32, loader="cifar", n_train=50_000,
            n_test=10_000, files=("cifar-100-python/train",), root="the folder that holds cifar-100-python/",
            layout={"folder": "cifar-100-python", "train": ("train",), "test": ("test",), "labels": "fine_labels"}),
    Dataset("tiny_imagenet", in_channels=3, num_classes=200, image_size=64, loader="wnid_folder",
            n_train=100_000, n_test=10_000, files=("wnids.txt", "train", "val/images", "val/val_annotations.txt"),
            root="the standard tiny-imagenet-200 folder, or the folder that holds it", subdirs=("tiny-imagenet-200",),
            layout={"description": "wnids.txt, train/<wnid>/images/*.JPEG for every wnid, val/images/*.JPEG and "
                                   "val/val_annotations.txt"}),
    Dataset("miniplaces", in_channels=3, num_classes=100, image_size=128, loader="listed_folder", n_train=100_000,
            n_test=10_000, files=("train.txt", "val.txt", "categories.txt", "images/train", "images/val"),
            root="the MiniPlaces development kit folder (images/train, images/val, and train.txt, val.txt, "
                 "categories.txt either in its data/ subfolder, as the kit is distributed, or beside images/)",
            layout={"text_files": ("train.txt", "val.txt", "categories.txt"), "text_dirs": ("data", ""),
                    "images": "images", "splits": (("train", "train.txt"), ("test", "val.txt")),
                    "description": "images/train/, images/val/, train.txt and val.txt ('<path under images/> "
                                   "<label>' per line), categories.txt ('<name> <label>' per line); the text "
                                   "files in data/ (the kit) or beside images/"}),
    Dataset("fashion_mnist", in_channels=1, num_classes=10, image_size=28, loader="idx", n_train=60_000,
            n_test=10_000, class_counts=FASHION_CLASS_COUNTS, files=FASHION_FILES,
            subdirs=("FashionMNIST/raw",), search=("/usr/share/datasets/fashion-mnist",),
            root="the folder that holds the four idx files (or torchvision's FashionMNIST/raw below it)",
            install="on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist (installs them in "
                    "/usr/share/datasets/fashion-mnist)",
            layout={"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
                    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
                    "torchvision": "FashionMNIST"},
            options=("n_train", "n_test", "resolution", "split", "download"), download=True),
)}
#: The registered names, in order (the schema's ``dataset.name`` enum).
NAMES = tuple(REGISTRY)


def record(name: str) -> Dataset:
    """The record of dataset ``name``, or a ValueError naming the registered ones."""
    if name not in REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(NAMES)}")
    return REGISTRY[name]


def dataset_ready(ds: dict) -> bool:
    """False for a dataset that needs a folder (``dataset.root``) and has none set, or whose files are not in
    the system-wide folder it looks in without one."""
    d = REGISTRY[ds["name"]]
    if ds.get("root") or not d.has_files:
        return True
    return not d.needs_root and d.locate(None) is not None
