"""Aggregation of run metrics into a tidy table, and the selections the figures make from it.

Summary table (``results/<experiment>/summary.csv``), one row per training run:
``experiment, kind, role, level, seed, sparsity, test_accuracy, test_loss, train_loss, diverged,
hfind, heval, coupled, lr_find, bs_find, wd_find, lr_eval, bs_eval, wd_eval, epochs, train_time_s, path``.
``hfind``/``heval`` are the path spellings of H_find/H_eval (``hfind`` is empty for global random masks).
Rows with ``role == train_find`` are find runs; they are also the coupled evaluations (H_eval == H_find).
"""

from __future__ import annotations

import json
import os
from typing import Callable

import numpy as np
import pandas as pd

from .hparams import H
from .io import atomic_path

COLUMNS = [
    "experiment", "kind", "role", "level", "seed", "sparsity", "test_accuracy", "test_loss", "train_loss",
    "diverged", "hfind", "heval", "coupled", "lr_find", "bs_find", "wd_find", "lr_eval", "bs_eval", "wd_eval",
    "epochs", "train_time_s", "path",
]


def _row(path: str, m: dict) -> dict:
    """The summary row of one metrics.json (without ``experiment``)."""
    hf = H(**m["H_find"]) if m.get("H_find") else None
    he = H(**m["H_eval"])
    return {
        "kind": m["kind"],
        "role": m.get("role", ""),
        "level": int(m["level"]),
        "seed": int(m["seed"]),
        "sparsity": float(m["sparsity"]),
        "test_accuracy": float(m["test_accuracy"]),
        "test_loss": m.get("test_loss"),
        "train_loss": m.get("train_loss"),
        "diverged": bool(m.get("diverged", False)),
        "hfind": hf.slug if hf else "",
        "heval": he.slug,
        "coupled": hf == he,
        "lr_find": hf.lr if hf else np.nan,
        "bs_find": hf.batch_size if hf else np.nan,
        "wd_find": hf.weight_decay if hf else np.nan,
        "lr_eval": he.lr,
        "bs_eval": he.batch_size,
        "wd_eval": he.weight_decay,
        "epochs": m.get("epochs"),
        "train_time_s": m.get("train_time_s"),
        "path": str(path),
    }


#: Metrics that are fractions: accuracies and sparsities lie in [0, 1] (not percent).
FRACTION_KEYS = ("test_accuracy", "sparsity")


def check_fractions(path, row: dict) -> None:
    """Accuracy and sparsity of a run must lie in [0, 1]; a NaN accuracy is allowed for a diverged run only."""
    for key in FRACTION_KEYS:
        v = row[key]
        if np.isnan(v) and key == "test_accuracy" and row.get("diverged"):
            continue
        if not 0.0 <= v <= 1.0:
            hint = " (a percent? accuracies are fractions: 0.75, not 75)" if 1 < v <= 100 else ""
            raise ValueError(f"metrics file {path}: {key} = {v!r} is outside [0, 1]{hint}")


#: Keys every metrics.json must have for the summary (the rest are optional).
REQUIRED_KEYS = ("kind", "level", "seed", "sparsity", "test_accuracy", "H_eval")


def read_metrics_file(path) -> dict:
    """One metrics.json as a dict; a file that is not JSON, or not a JSON object, is a ValueError naming it."""
    with open(path) as fh:
        try:
            m = json.load(fh)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"metrics file {path} is not valid JSON: {err}") from err
    if not isinstance(m, dict):
        raise ValueError(f"metrics file {path} must hold a JSON object, not {type(m).__name__}")
    return m


def read_table(paths, row: Callable[[str, dict], dict], columns: list, order: list, *, experiment: str = "",
               required=REQUIRED_KEYS, what: str = "was it written by findeval?",
               check: Callable[[str, dict], None] | None = None) -> pd.DataFrame:
    """The one reader of metrics files into a tidy table (the A1 summary, :func:`load_metrics`, and the
    structured table, :func:`findeval.structured.plots.load_table`).

    Each file (:func:`read_metrics_file`) must hold the ``required`` keys (else a ValueError naming the file,
    what it lacks and ``what``); ``row(path, metrics)`` makes its row (a KeyError, TypeError or ValueError there
    is a malformed entry, named), ``check(path, row)`` may refuse it. Columns ``columns`` (``experiment``
    first, filled with ``experiment``), rows sorted by ``order`` (stable: files in the given order on ties)."""
    from .provenance import check_metrics

    rows = []
    for p in paths:
        m = read_metrics_file(p)
        check_metrics(p, m)  # the run its path names (H_find, H_eval, level, seed, kind)
        missing = [k for k in required if k not in m]
        if missing:
            raise ValueError(f"metrics file {p} lacks {', '.join(missing)} ({what})")
        try:
            r = row(p, m)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"metrics file {p} has a malformed entry: {type(err).__name__}: {err}") from err
        if check is not None:
            check(p, r)
        rows.append({"experiment": experiment, **r})
    df = pd.DataFrame(rows, columns=columns)
    return df.sort_values(order, kind="stable").reset_index(drop=True)


def load_metrics(paths, experiment: str = "") -> pd.DataFrame:
    """The summary table (module docstring) of the metrics files ``paths``: one row per run, sorted by kind,
    H_find, H_eval, seed and level; accuracies and sparsities checked to be fractions (:func:`check_fractions`)."""
    return read_table(paths, _row, COLUMNS, ["kind", "hfind", "heval", "seed", "level"], experiment=experiment,
                      check=check_fractions)


def write_table(df: pd.DataFrame, out: str) -> pd.DataFrame:
    """Write ``df`` as CSV (no index) to ``out``, atomically; returns ``df``."""
    with atomic_path(out) as tmp:
        df.to_csv(tmp, index=False)
    return df


def write_summary(paths, out: str, experiment: str = "") -> pd.DataFrame:
    """:func:`load_metrics` of ``paths``, written to ``out`` (``results/<experiment>/summary.csv``)."""
    return write_table(load_metrics(paths, experiment), out)


def line_frame(table: pd.DataFrame, kind: str, hfind: str | None, heval: str) -> pd.DataFrame:
    """Rows of one curve. A lottery curve's level-0 point is the dense model trained with its H_find."""
    t = table[table["kind"] == kind]
    if kind == "lottery":
        t = t[t["hfind"] == hfind]
        return t[((t["heval"] == heval) & (t["level"] > 0)) | ((t["level"] == 0) & (t["heval"] == hfind))]
    if kind == "preserve_lpr":
        t = t[t["hfind"] == hfind]
    return t[t["heval"] == heval]


def best_by_level(table: pd.DataFrame, lines: list) -> pd.DataFrame:
    """For fig3: at every level, the rows of the (H_find, H_eval) pair with the best mean accuracy,
    separately among decoupled and coupled pairs (column ``group``)."""
    frames = []
    for coupled, label in ((False, "best decoupled"), (True, "best coupled")):
        cands = [(hf, he) for kind, hf, he in lines if kind == "lottery" and (hf == he) == coupled]
        parts = [line_frame(table, "lottery", hf, he).assign(pair=f"{hf} -> {he}") for hf, he in cands]
        if not parts:
            continue
        df = pd.concat(parts)
        means = df.groupby(["level", "pair"])["test_accuracy"].mean().reset_index()
        best = means.sort_values(["level", "test_accuracy", "pair"], ascending=[True, False, True]).groupby("level").head(1)
        chosen = df.merge(best[["level", "pair"]], on=["level", "pair"])
        frames.append(chosen.assign(group=label))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def mean_curve(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over seeds per level."""
    g = df.groupby("level")
    return pd.DataFrame({
        "sparsity": g["sparsity"].mean(),
        "mean": g["test_accuracy"].mean(),
        "std": g["test_accuracy"].std(ddof=1).fillna(0.0),
        "n": g["test_accuracy"].count(),
    }).reset_index()


def expected_runs(paths) -> int:
    """How many of ``paths`` exist."""
    return sum(1 for p in paths if os.path.exists(p))
