"""Hyperparameter bundles (H_find, H_eval), their stable names in paths, and seed derivation.

The paper varies three hyperparameters between mask finding and mask evaluation: learning rate (LR),
batch size (BS) and weight decay (WD). A bundle ``H`` holds those three; everything else about training
(epochs, schedule, momentum, ...) is shared by H_find and H_eval and comes from the config's ``training``
block. A bundle is spelled in paths as ``lr0.2_bs512_wd1e-4``: readable, stable, and parseable back.

This module is pure Python (no torch) because the Snakefile imports it at parse time.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal

#: The hyperparameters that H_find and H_eval may set independently, with their short path prefixes.
DIMENSIONS = {"lr": "lr", "batch_size": "bs", "weight_decay": "wd"}
#: Human names used in figure labels, following the paper (LR_find, BS_eval, ...).
LABELS = {"lr": "LR", "batch_size": "BS", "weight_decay": "WD"}


@functools.lru_cache(maxsize=4096, typed=True)
def format_number(x: float | int) -> str:
    """Shortest stable spelling of a number for a path: 0.2 -> '0.2', 1e-4 -> '1e-4', 512 -> '512'.

    Integers print as integers; floats use plain decimals between 1e-3 and 1e5 and otherwise a compact
    scientific form without '+', leading zeros in the exponent or a trailing '.0'.
    """
    if isinstance(x, bool):
        raise TypeError("booleans are not hyperparameter values")
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError(f"cannot name a non-finite value: {x}")
    if x == int(x) and abs(x) < 1e5:
        return str(int(x))
    if 1e-3 <= abs(x) < 1e5:
        return repr(x)
    d = Decimal(repr(x)).normalize()
    sign, digits, exponent = d.as_tuple()
    mantissa = "".join(map(str, digits))
    exp10 = exponent + len(digits) - 1
    body = mantissa[0] + ("." + mantissa[1:] if len(mantissa) > 1 else "")
    return f"{'-' if sign else ''}{body}e{exp10}"


# --------------------------------------------------------------------------- the grammar of an H slug
# Defined once, here. H.parse accepts exactly the strings SLUG matches, and the rules' wildcards {hfind}, {heval}
# and {href} are SLUG (rules/common.smk, lpr.smk): a path the rules accept is one the jobs can parse, and the
# other way round. Every H's slug matches it (H.slug refuses a value it cannot spell so, e.g. lr 1e-120).
# Numbers are written without redundant characters: no sign, no leading zeros, no trailing zeros after the point,
# no '+' and no 'E'. A plain number has at most 5 digits before the point and 19 after it; a scientific one a
# mantissa d.ddd of at most 17 significant digits and an exponent of one or two digits. So every match is a
# finite float, and H.parse never refuses one. The grammar also admits spellings that format_number does not
# write, such as 1.5e3 for 1500: they parse to the H they name. (No regular expression can tell the shortest
# spelling of a float from a longer one of 17 digits.)

# The patterns are short on purpose: Snakemake writes a wildcard's constraint into every pattern that has it and
# compiles and scans each (~700 patterns in the paper's DAG). (?a:...) makes \d an ASCII digit.
_NUMBER = r"(?:(?:0|[1-9]\d{0,4})(?:\.\d{0,18}[1-9])?|[1-9](?:\.\d{0,15}[1-9])?e-?[1-9]\d?)"
_NOT_ZERO = r"(?!0(?!\.))"  # a number that starts with a 0 not followed by a point is 0
#: A number >= 0 (a weight decay): 0, a plain decimal, or a scientific one.
NON_NEGATIVE = rf"(?a:{_NUMBER})"
#: A number > 0 (a learning rate; a structured pruning ratio).
POSITIVE = rf"(?a:{_NOT_ZERO}{_NUMBER})"
#: A count >= 1 (a batch size).
COUNT = r"(?a:[1-9]\d*)"
#: An H slug, e.g. ``lr0.2_bs512_wd1e-4``. It has no capturing group: a rule's pattern can hold two slugs.
SLUG = rf"lr{POSITIVE}_bs{COUNT}_wd{NON_NEGATIVE}"
_SLUG = re.compile(SLUG)


@dataclass(frozen=True, order=True)
class H:
    """One hyperparameter bundle: the values that may differ between H_find and H_eval."""

    lr: float
    batch_size: int
    weight_decay: float

    def __post_init__(self):
        if not (self.lr > 0):
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size}")
        if not (self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        object.__setattr__(self, "lr", float(self.lr))
        object.__setattr__(self, "batch_size", int(self.batch_size))
        object.__setattr__(self, "weight_decay", float(self.weight_decay))

    @functools.cached_property
    def slug(self) -> str:
        """Path spelling, e.g. ``lr0.2_bs512_wd1e-4`` (computed once: planning spells paths ~10^5 times)."""
        slug = f"lr{format_number(self.lr)}_bs{self.batch_size}_wd{format_number(self.weight_decay)}"
        if not _SLUG.fullmatch(slug):  # e.g. lr 1e-120: an exponent of three digits
            raise ValueError(f"{self.as_dict()} cannot be spelled in a path: {slug!r} is outside the grammar of "
                             "findeval.hparams.SLUG (exponents of at most two digits)")
        return slug

    @classmethod
    def parse(cls, slug: str) -> "H":
        """The H a slug names; exactly the strings :data:`SLUG` matches (ValueError for any other)."""
        if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
            raise ValueError(f"not a hyperparameter slug: {slug!r} (expected e.g. 'lr0.2_bs512_wd1e-4')")
        lr, bs, wd = (part[2:] for part in slug.split("_"))  # numbers hold no '_': SLUG says so
        return cls(float(lr), int(bs), float(wd))

    def replace(self, **changes) -> "H":
        values = self.as_dict()
        values.update(changes)
        return H(**values)

    def as_dict(self) -> dict:
        return {"lr": self.lr, "batch_size": self.batch_size, "weight_decay": self.weight_decay}

    def __str__(self) -> str:
        return self.slug


def derive_seed(seed: int, *tags: object) -> int:
    """A separate, reproducible 31-bit seed for one purpose (init, data order, random mask, ...).

    Derived by hashing, so the streams for different purposes are unrelated even for adjacent seeds,
    and adding a new purpose never shifts an existing one.
    """
    text = "/".join([str(int(seed)), *map(str, tags)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def run_seeds(seed: int, kind: str = "lottery", level: int = 0) -> dict:
    """Every seed a run uses, recorded in its metrics.

    ``init``: theta_0 of the find chain (lottery) or the new random init of a random baseline;
    ``data``: the data order and augmentation stream (shared by find and eval runs of a replicate, so
    that evaluating a mask with H_eval == H_find is exactly its find training);
    ``mask``: the random-mask stream of a random baseline (absent for lottery masks).
    """
    seeds = {"replicate": int(seed), "data": derive_seed(seed, "data")}
    if kind == "lottery":
        seeds["init"] = derive_seed(seed, "init")
    else:
        seeds["init"] = derive_seed(seed, "reinit")
        seeds["mask"] = derive_seed(seed, "mask", kind, level)
    return seeds
