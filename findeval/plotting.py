"""Plotting helpers shared by the figures of several paper features (A1, LPR, early pruning, rewinding,
structured): the random baselines' look, the sparsity axis, short layer names, the labels of lines that vary one
dimension of H, and the check that a line's file is the run the planner named. Each feature's figures are drawn
by its own ``findeval.<feature>.plots``.
"""

from __future__ import annotations

import numpy as np

from . import analysis
from .hparams import LABELS, H, format_number

#: Random baselines keep one look across every panel and figure: grey, dashed / dotted.
BASELINE_STYLE = {"global random": ("#8c8c8c", (4, 2)), "preserve LPR": ("#3d3d3d", (1, 1.5))}
SPARSITY_TICKS = [0, 50, 80, 90, 95, 98, 99, 99.5, 99.8, 99.9, 99.95]


def sparsity_axis(ax, kind: str, max_sparsity: float) -> None:
    """The sparsity x axis of a panel: ``kind`` "log" spaces it by -log10(1 - sparsity) (the paper's axis)."""
    if kind == "log":
        fwd = lambda s: -np.log10(np.clip(1 - np.asarray(s) / 100.0, 1e-6, None))  # noqa: E731
        inv = lambda y: 100.0 * (1 - 10.0 ** (-np.asarray(y)))  # noqa: E731
        ax.set_xscale("function", functions=(fwd, inv))
        ticks = [t for t in SPARSITY_TICKS if t <= max_sparsity + 1e-9] or [0]
        ax.set_xticks(ticks)
        ax.set_xticklabels([format_number(t) for t in ticks], rotation=45)
        ax.set_xlim(-0.5, max_sparsity * 1.0001 + 1e-3)
    ax.set_xlabel("sparsity (%)")


def short_layer_name(name: str) -> str:
    """Compact layer label: ``layer2.0.downsample.0.weight`` -> ``2.0.ds``, ``conv1.weight`` -> ``conv1``."""
    name = name.removesuffix(".weight").replace("layer", "").replace("downsample.0", "ds")
    return name.replace("shortcut.0", "sc").replace("conv", "c") if name != "conv1" else name


def h_value(slug: str, dim: str) -> str:
    """The value of dimension ``dim`` (``lr``, ``batch_size``, ``weight_decay``) of the H spelled ``slug``."""
    return format_number(getattr(H.parse(slug), dim))


def h_label(dim: str, compare: str, hfind: str | None, heval: str) -> str | None:
    """The legend label of a line of a panel that varies ``dim``: ``compare`` "find" names the line's H_find value
    (``LR_find = 0.1``), "eval" its H_eval value, "all" both; None for any other comparison."""
    name = LABELS[dim]
    if compare == "find":
        return f"{name}_find = {h_value(hfind, dim)}"
    if compare == "eval":
        return f"{name}_eval = {h_value(heval, dim)}"
    if compare == "all":
        return f"{name}_find = {h_value(hfind, dim)}, {name}_eval = {h_value(heval, dim)}"
    return None


def check_line_file(f: dict, record) -> None:
    """A line's file ``f`` (``{"path", "seed", "level"}``, as the planners' ``figure_params`` list them) must hold
    the run it was planned as: ``record`` (its metrics row or JSON record) has the same seed and level, else a
    ValueError naming the file, what it is and what was expected."""
    if int(record["level"]) != f["level"] or int(record["seed"]) != f["seed"]:
        raise ValueError(f"{f['path']} is seed {record['seed']} level {record['level']}, expected seed "
                         f"{f['seed']} level {f['level']}")


def line_metrics(line: dict):
    """``(file, metrics row)`` for every file of a figure line (``line["files"]``, metrics.json files), in order:
    the rows of :func:`findeval.analysis.load_metrics`, each checked by :func:`check_line_file`."""
    table = analysis.load_metrics([f["path"] for f in line["files"]]).set_index("path")
    for f in line["files"]:
        r = table.loc[f["path"]]
        check_line_file(f, r)
        yield f, r
