"""The dataset registry: every fact about a dataset that the planning side, the checks, the preparation and
the model need, in one record per dataset. Torch-free and numpy-free (the Snakefile reads it at parse time).

To add a dataset: one :class:`Dataset` record in :data:`REGISTRY`, its loader in :func:`findeval.data.prepare`
(``loader`` names it), and its name in the schema's ``dataset.name`` enum (tests/test_datasets.py checks that
the enum is the registry's names).
"""

from __future__ import annotations

from dataclasses import dataclass

#: scikit-learn's digits: images per class 0..9 (1,797 in all; checked against the shipped file in the tests).
DIGITS_CLASS_COUNTS = (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)


@dataclass(frozen=True)
class Dataset:
    """One dataset. ``n_train``/``n_test`` are the nominal sizes (None where a seeded split of
    ``test_fraction`` decides them: digits, see :meth:`sizes`)."""

    name: str
    in_channels: int
    num_classes: int
    image_size: int  # side of the (square) images in pixels
    loader: str  # "digits", "cifar" or "image_folder" (findeval.data.prepare)
    n_train: int | None = None
    n_test: int | None = None
    #: Files and folders it needs under ``dataset.root`` (existence checks only, findeval.workflow); empty
    #: for a dataset that needs no folder.
    files: tuple[str, ...] = ()
    #: What ``dataset.root`` is, for the messages.
    root: str = ""
    #: A standard subfolder of ``dataset.root`` that may hold the files instead of ``root`` itself.
    subdir: str | None = None

    @property
    def needs_root(self) -> bool:
        return bool(self.files)

    def sizes(self, test_fraction: float = 0.2) -> tuple[int, int]:
        """(train, test) images: the nominal ones, or digits' seeded stratified split (per class
        ``round(test_fraction * n_class)`` to test, as findeval.data.stratified_split)."""
        if self.n_train is not None:
            return self.n_train, self.n_test
        n_test = sum(int(round(float(test_fraction) * n)) for n in DIGITS_CLASS_COUNTS)
        return sum(DIGITS_CLASS_COUNTS) - n_test, n_test


REGISTRY: dict[str, Dataset] = {d.name: d for d in (
    Dataset("digits", in_channels=1, num_classes=10, image_size=8, loader="digits"),
    Dataset("cifar10", in_channels=3, num_classes=10, image_size=32, loader="cifar", n_train=50_000, n_test=10_000,
            files=("cifar-10-batches-py/data_batch_1",), root="the folder that holds cifar-10-batches-py/"),
    Dataset("cifar100", in_channels=3, num_classes=100, image_size=32, loader="cifar", n_train=50_000,
            n_test=10_000, files=("cifar-100-python/train",), root="the folder that holds cifar-100-python/"),
    Dataset("tiny_imagenet", in_channels=3, num_classes=200, image_size=64, loader="image_folder",
            n_train=100_000, n_test=10_000, files=("wnids.txt", "train", "val/images", "val/val_annotations.txt"),
            root="the standard tiny-imagenet-200 folder, or the folder that holds it", subdir="tiny-imagenet-200"),
    Dataset("miniplaces", in_channels=3, num_classes=100, image_size=128, loader="image_folder", n_train=100_000,
            n_test=10_000, files=("train.txt", "val.txt", "categories.txt", "images/train", "images/val"),
            root="the MiniPlaces development kit folder (images/train, images/val, and train.txt, val.txt, "
                 "categories.txt either in its data/ subfolder, as the kit is distributed, or beside images/)"),
)}
#: The registered names, in order (the schema's ``dataset.name`` enum).
NAMES = tuple(REGISTRY)
