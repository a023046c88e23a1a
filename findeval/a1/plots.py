"""The paper's figures: seaborn lines of test accuracy against sparsity, mean over seeds with a
standard-deviation band, the dense model at 0% sparsity.

``draw_figure`` takes the figure's description from :func:`findeval.a1.plan.figure_params` and the tidy
table of :func:`findeval.analysis.load_metrics`; it draws only what the pipeline computed, and stops
with an error naming the curve when a curve has no runs.
"""

from __future__ import annotations

import string
import textwrap

import numpy as np
import pandas as pd

from .. import analysis
from ..hparams import LABELS, format_number
from ..io import atomic_path
from ..plotting import BASELINE_STYLE, h_label, h_value, sparsity_axis

BASELINE_NAMES = {"global_random": "global random", "preserve_lpr": "preserve LPR"}


def line_label(panel: dict, kind: str, hfind: str | None, heval: str) -> str:
    """The legend label of a curve: a random baseline's name, else what the panel varies
    (:func:`findeval.plotting.h_label`), else ``lottery``."""
    if kind != "lottery":
        return BASELINE_NAMES[kind]
    return h_label(panel["dim"], panel["compare"], hfind, heval) or "lottery"


def panel_title(panel: dict, letter: str) -> str:
    """``(a) LR_eval = 0.1``: the panel's letter and what it holds constant (or compares)."""
    dim, compare, const = panel["dim"], panel["compare"], panel["constant"]
    name = LABELS[dim]
    if compare == "find":
        text = f"{name}_eval = {h_value(const, dim)}"
    elif compare == "eval":
        text = f"{name}_find = {h_value(const, dim)}"
    elif compare == "baselines":
        text = f"{name}_find = {name}_eval = {h_value(const, dim)}"
    elif compare == "best":
        text = f"best {name}: decoupled vs coupled"
    else:
        text = f"all {name}_find x {name}_eval"
    return f"({letter}) {text}"


def panel_frame(panel: dict, table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The rows a panel draws, labelled by curve (column ``label``), and the curves' order; a curve without runs
    is a ValueError naming it."""
    if panel["compare"] == "best":
        df = analysis.best_by_level(table, panel["lines"])
        if df.empty:
            raise ValueError(f"no runs for the best-configuration panel of {LABELS[panel['dim']]}")
        return df.assign(label=df["group"]), ["best decoupled", "best coupled"]
    frames, order = [], []
    for kind, hfind, heval in panel["lines"]:
        df = analysis.line_frame(table, kind, hfind, heval)
        if df.empty:
            raise ValueError(f"no runs for curve kind={kind} H_find={hfind} H_eval={heval}")
        label = line_label(panel, kind, hfind, heval)
        frames.append(df.assign(label=label))
        order.append(label)
    return pd.concat(frames, ignore_index=True), order


def _layout(n: int, compare: str) -> tuple[int, int]:
    if n == 6:
        return 2, 3
    return 1, n


def zoom_accuracy_axis(ax, df: pd.DataFrame) -> None:
    """Zoom the accuracy axis to the panel's own curves (5-point steps, 5 points of margin below the lowest
    mean): a random baseline that collapses leaves the axis, shown by an arrow at its sparsity, instead of
    squeezing the differences the figure is about into a few pixels."""
    own = df[~df["label"].isin(list(BASELINE_STYLE))]
    means = (own if len(own) else df).groupby(["label", "sparsity_pct"])["accuracy_pct"].mean()
    bottom = max(0.0, 5.0 * np.floor((float(means.min()) - 5.0) / 5.0))
    ax.set_ylim(bottom, 100.5)
    low = df.groupby(["label", "sparsity_pct"])["accuracy_pct"].mean()
    for (label, x), _ in low[low < bottom].items():
        ax.annotate("\u2193", (x, bottom), xytext=(0, 6), textcoords="offset points", ha="center", va="bottom",
                    color=BASELINE_STYLE.get(label, ("black",))[0], fontsize="small")


def draw_figure(fig: str, params: dict, table: pd.DataFrame, *, pdf: str, png: str, style: dict) -> None:
    """Draw A1 figure ``fig`` (the registry's ``"metrics"`` loader: ``params`` from
    :func:`findeval.a1.plan.figure_params`, ``table`` the summary of its files) to ``pdf`` and ``png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    style = {"context": "paper", "palette": "colorblind", "dpi": 150, "panel_width": 3.6, "panel_height": 2.8,
             "sparsity_axis": "log", **(style or {})}
    sns.set_theme(context=style["context"], style="whitegrid")
    panels = params["panels"]
    nrows, ncols = _layout(len(panels), panels[0]["compare"])
    f, axes = plt.subplots(nrows, ncols, figsize=(ncols * style["panel_width"], nrows * style["panel_height"]),
                           squeeze=False)
    for i, (ax, panel) in enumerate(zip(axes.flat, panels)):
        df, order = panel_frame(panel, table)
        df = df.assign(sparsity_pct=100 * df["sparsity"], accuracy_pct=100 * df["test_accuracy"])
        own = [lab for lab in order if lab not in BASELINE_STYLE]
        colors = dict(zip(own, sns.color_palette(style["palette"], len(own))))
        palette = {lab: BASELINE_STYLE[lab][0] if lab in BASELINE_STYLE else colors[lab] for lab in order}
        dashes = {lab: BASELINE_STYLE[lab][1] if lab in BASELINE_STYLE else "" for lab in order}
        sns.lineplot(data=df, x="sparsity_pct", y="accuracy_pct", hue="label", hue_order=order, style="label",
                     style_order=order, dashes=dashes, palette=palette, errorbar="sd", marker="o", markersize=3,
                     markeredgewidth=0, linewidth=1.2, ax=ax)
        diverged = df[df["diverged"]]
        if len(diverged):
            ax.scatter(diverged["sparsity_pct"], diverged["accuracy_pct"], marker="x", color="black", s=12,
                       zorder=5, label="diverged run")
        sparsity_axis(ax, style["sparsity_axis"], float(df["sparsity_pct"].max()))
        zoom_accuracy_axis(ax, df)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(panel_title(panel, string.ascii_lowercase[i]), fontsize="medium")
        ax.legend(fontsize="x-small", title=None, loc="best", framealpha=0.7)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    title = (f"{fig}: {params['dataset']}, {params['model']} (experiment '{params['experiment']}'), "
             f"p = {format_number(params['fraction'])} per level, mean \u00b1 sd over seeds "
             "(\u2193: a curve below the axis)")
    if params.get("caption"):
        title = f"{title}\n{params['caption']}"
    # about 16 characters of "small" text per inch: a figure of one or two panels wraps its title
    width = max(40, int(16 * ncols * style["panel_width"]))
    f.suptitle("\n".join(textwrap.fill(line, width) for line in title.split("\n")), fontsize="small")
    f.tight_layout()
    for path in (pdf, png):
        with atomic_path(path) as tmp:
            f.savefig(tmp, dpi=style["dpi"], format=path.rsplit(".", 1)[1])
    plt.close(f)
