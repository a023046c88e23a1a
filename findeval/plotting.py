"""Plotting helpers shared by the figures of several paper features (A1, LPR, early pruning): the random
baselines' look, the sparsity axis, short layer names. Each feature's figures are drawn by its own
``findeval.<feature>.plots``.
"""

from __future__ import annotations

import numpy as np

from .hparams import format_number

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
