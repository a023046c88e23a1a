"""Provenance: a results file is the one its path names, checked by every reader before the file is used.

A mask, a checkpoint or a metrics.json records what it is (its H_find, H_eval, level, replicate, kind); its path
under ``results/<exp>/`` names the same things (the layout of :mod:`findeval.paths`, the H slugs of
:data:`findeval.hparams.SLUG`). A file copied from another run, another chain or another level into a path (a
shared results folder, a sync tool, a hand copy) would be used silently: the readers call this module instead,

- :func:`check_mask` (``masks.load_mask``, ``masks.read_lpr``): ``kind``, ``level``, ``seed``, ``H_find`` (and a
  match-LPR chain's ``H_ref``, an early-pruning chain's ``prune_epoch``);
- :func:`check_checkpoint` (``io.load_checkpoint``): ``replicate``, ``level``, ``role``, and ``H`` (what a trained
  checkpoint was trained with); :func:`check_ticket` (``runs.load_run``): a ticket is the one rewound with the
  run's mask: its nonzero weights lie exactly in the mask (theta_0 * M is zero where M prunes, and theta_0 is
  nowhere zero). So a ticket of another chain, level or mask is refused without a digest stored in the ticket
  (its bytes, and every output's, stay what they were);
- :func:`check_metrics` (``analysis.load_metrics``, ``io.read_json`` of a metrics.json, the structured tables):
  ``kind``, ``level``, ``seed``, ``H_find``, ``H_eval`` (``H_ref``, ``prune_epoch``).

A mismatch raises :class:`ProvenanceError` naming the file, what it says and what its path says, before anything
is computed or written. A path outside the results layout (a test's temporary file) names nothing, and only what
a path names is compared (a file that does not record a key is not held to it).

Pure Python without imports beyond the standard library and :mod:`findeval.hparams` (no torch, numpy or h5py).
"""

from __future__ import annotations

import json
import re
from pathlib import PurePath

from . import paths
from .hparams import SLUG, H

_SLUG = re.compile(SLUG)
_SEED = re.compile(rf"seed({paths.INDEX})")
_LEVEL = re.compile(rf"level({paths.INDEX})")
_EPOCH = re.compile(rf"epoch({paths.INDEX})")
#: The folder prefix of a match-LPR chain's reference H (``matched/<H_find>/match-<H_ref>``).
MATCH = "match-"

#: The files whose provenance is checked, by name: what kind of file each is.
CHECKED = {paths.FILES["mask"]: "mask", paths.FILES["ticket"]: "ticket", paths.FILES["trained"]: "trained",
           paths.FILES["metrics"]: "metrics", "init.pt": "init", "reinit.pt": "reinit", "theta_k.pt": "theta_k"}

#: The ``role`` a checkpoint of each name records.
ROLES = {"init": ("init", "structured_init"), "reinit": ("reinit",), "ticket": ("ticket",),
         "trained": ("trained",), "theta_k": ("late_rewind_point",)}

#: The mask source folders of Algorithm A1's and the LPR chains' evaluations (``eval/<source>/...``) and the
#: ``kind`` their masks and metrics record.
EVAL_SOURCES = {"lottery": "lottery", "preserve_lpr": "preserve_lpr", "global_random": "global_random",
                "matched": "match_lpr", "local": "local"}
#: Chain folders (the first folder under ``results/<exp>/``) and the kind their masks and find runs record.
CHAINS = {"find": "lottery", "find_matched": "match_lpr", "find_local": "local"}
#: Random mask folders (``random/<folder>/...``) and their masks' kind.
RANDOM = {"global": "global_random", "preserve_lpr": "preserve_lpr"}
#: Structured runs' folders (``structured/<folder>/...``) and their metrics' kind.
STRUCTURED = {"finetune": "finetune", "scratch_e": "scratch_e", "scratch_b": "scratch_b"}


class ProvenanceError(ValueError):
    """A results file is not the one its path names (copied from another run, chain, level or replicate)."""


def named(path) -> dict:
    """What a results path names: a dict with some of ``file`` (a :data:`CHECKED` kind), ``experiment``, ``seed``,
    ``level``, ``prune_epoch`` (ints), ``H_find``, ``H_eval``, ``H_ref`` (:class:`H`) and ``kind``; empty for a path outside the layout
    (no ``results/<exp>/`` folder, or a file name the checks do not cover)."""
    parts = PurePath(str(path)).parts
    file = CHECKED.get(parts[-1]) if parts else None
    tops = [i for i, p in enumerate(parts[:-2]) if p == paths.RESULTS]
    if file is None or not tops:
        return {}
    top = tops[-1]
    folders = list(parts[top + 2 : -1])
    out = {"file": file, "experiment": parts[top + 1]}
    seat = next((i for i, f in enumerate(folders) if _SEED.fullmatch(f)), None)
    if seat is None:
        return out
    out["seed"] = int(_SEED.fullmatch(folders[seat]).group(1))
    after = folders[seat + 1 :]
    if after and _LEVEL.fullmatch(after[0]):
        out["level"] = int(_LEVEL.fullmatch(after[0]).group(1))
    before = folders[:seat]
    slugs = [H.parse(f) for f in before if _SLUG.fullmatch(f)]
    for f in before:
        if f.startswith(MATCH) and _SLUG.fullmatch(f[len(MATCH):]):
            out["H_ref"] = H.parse(f[len(MATCH):])  # a match-LPR chain's reference (lpr.plan.chain_name)
        elif _EPOCH.fullmatch(f) and before[:1] == ["early"]:
            out["prune_epoch"] = int(_EPOCH.fullmatch(f).group(1))  # early pruning's k (paths.early_chain)
    evaluation = any(f in ("eval", "random_eval") for f in before)
    if len(slugs) == 2:
        out["H_find"], out["H_eval"] = slugs
    elif len(slugs) == 1:
        out["H_eval" if evaluation else "H_find"] = slugs[0]
    kind = _kind(before, after)
    if kind is not None:
        out["kind"] = kind
    return out


def _kind(before: list, after: list) -> str | None:
    """The kind the folders name, where the layout says it (A1, the LPR chains, the structured runs)."""
    if not before:
        return None
    first, second = before[0], before[1] if len(before) > 1 else None
    if first == "eval":
        return EVAL_SOURCES.get(second)
    if first == "random":
        return RANDOM.get(second)
    if first in CHAINS and len(before) >= 2:
        return CHAINS[first]
    if first == "structured":
        if second in STRUCTURED:
            return STRUCTURED[second]
        if second == "find" and after[:1] == ["dense"]:
            return "dense"
    return None


def _h(value) -> H | None:
    """An H recorded as a dict (or JSON text of one); None for anything else."""
    if isinstance(value, H):
        return value
    if isinstance(value, dict):
        try:
            return H(**value)
        except (TypeError, ValueError):
            return None
    return None


def _say(value) -> str:
    if isinstance(value, H):
        return value.slug
    h = _h(value)
    return h.slug if h is not None else repr(value)


def _compare(path, claims: dict, recorded: dict, what: str) -> None:
    """Raise ProvenanceError when a value the file records differs from the one its path names."""
    wrong = []
    for key, (claim, value, present) in recorded.items():
        if key not in claims or not present:
            continue
        want = claims[key]
        same = _h(value) == want if isinstance(want, H) else (value == want and not isinstance(value, bool))
        if not same:
            wrong.append((claim, _say(value), _say(want)))
    if wrong:
        says = ", ".join(f"{k} {v}" for k, v, _ in wrong)
        names = ", ".join(f"{k} {w}" for k, _, w in wrong)
        raise ProvenanceError(
            f"{path} is not the {what} its path names: the file says {says}; its path says {names} (copied "
            f"from another run, chain or level?). Nothing was used or overwritten: delete it (and what was made from "
            f"it) and re-run, so that Snakemake rebuilds it")


def _entries(record: dict, keys: dict) -> dict:
    """``{claim: (label, value, present)}`` for :func:`_compare`: ``keys`` maps a claim to the record's key."""
    return {claim: (label, record.get(key), key in record) for claim, (key, label) in keys.items()}


def _json_attr(attrs: dict, key: str):
    """``attrs[key]`` parsed from JSON where it is a JSON string (masks store H as one), else as it is."""
    value = attrs.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def check_mask(path, attrs: dict) -> None:
    """A mask file's ``kind``, ``level``, ``seed`` and ``H_find`` attributes against its path (``attrs`` as
    :func:`findeval.masks.load_mask` returns them, ``H_find`` parsed from its JSON)."""
    claims = named(path)
    if claims.get("file") != "mask":
        return
    h_find, h_ref = _json_attr(attrs, "H_find"), _json_attr(attrs, "H_ref")
    record = {**attrs, "H_find": h_find, **({"H_ref": h_ref} if "H_ref" in attrs else {})}
    _compare(path, claims, _entries(record, {"kind": ("kind", "kind"), "level": ("level", "level"),
                                             "seed": ("seed", "seed"), "H_find": ("H_find", "H_find"),
                                             "H_ref": ("H_ref", "H_ref"),
                                             "prune_epoch": ("prune_epoch", "prune_epoch")}), "mask")


def check_checkpoint(path, meta: dict) -> None:
    """A checkpoint's meta against its path: ``replicate`` (the seed folder), ``level``, ``role`` (by its file
    name) and ``H`` (what it was trained with: H_eval in an evaluation folder, else H_find)."""
    claims = named(path)
    file = claims.get("file")
    if file not in ROLES:
        return
    if "role" in meta and meta["role"] not in ROLES[file]:
        raise ProvenanceError(
            f"{path} is not the {file} checkpoint its path names: the file says role {meta['role']!r}; its name "
            f"says {' or '.join(repr(r) for r in ROLES[file])}. Copied from another file? Nothing was used or "
            f"overwritten: delete it and re-run, so that Snakemake rebuilds it")
    trained_with = claims.get("H_eval", claims.get("H_find"))
    checks = {"seed": ("replicate", "replicate"), "level": ("level", "level")}
    local = {k: v for k, v in claims.items() if k in ("seed", "level")}
    if trained_with is not None and "H" in meta:
        checks["H"] = ("H", "H (trained with)")
        local["H"] = trained_with
    _compare(path, local, _entries(meta, checks), f"{file} checkpoint")


def check_ticket(path, state: dict, mask_path, mask: dict) -> None:
    """A ticket (theta_rewind * M) is the one rewound with ``mask``: in every masked tensor its nonzero weights
    lie where the mask keeps weights, and at most a thousandth of the kept weights are zero. A ticket with
    non-finite weights (a diverged LR rewinding chain) is not checked (NaN * 0 is NaN)."""
    extra = missing = kept = 0
    for name, keep in mask.items():
        if name not in state:
            return  # the architecture check names it
        w = state[name]
        if hasattr(w, "detach"):
            if not bool(w.isfinite().all()):
                return
            nonzero = (w != 0).cpu().numpy()
        else:
            import numpy as np

            w = np.asarray(w)
            if not np.isfinite(w).all():
                return
            nonzero = w != 0
        if nonzero.shape != keep.shape:
            return  # the architecture check names it
        extra += int((nonzero & ~keep).sum())
        missing += int((~nonzero & keep).sum())
        kept += int(keep.sum())
    if extra or missing > max(2, kept // 1000):
        raise ProvenanceError(
            f"{path} is not the ticket of mask {mask_path}: {extra} of its weights are nonzero where the mask prunes "
            f"and {missing} of the mask's {kept} kept weights are zero in it (a ticket rewound with another mask, "
            f"of another chain, level or replicate?). Nothing was used or overwritten: delete it and re-run, so that "
            f"Snakemake rebuilds it")


def check_metrics(path, record) -> None:
    """A metrics.json's ``kind``, ``level``, ``seed``, ``H_find`` and ``H_eval`` against its path."""
    claims = named(path)
    if claims.get("file") != "metrics" or not isinstance(record, dict):
        return
    _compare(path, claims, _entries(record, {"kind": ("kind", "kind"), "level": ("level", "level"),
                                             "seed": ("seed", "seed"), "H_find": ("H_find", "H_find"),
                                             "H_eval": ("H_eval", "H_eval"), "H_ref": ("H_ref", "H_ref"),
                                             "prune_epoch": ("prune_epoch", "prune_epoch")}), "metrics file")
