"""Drawing the LPR figures (6, 7, 8, A15, A16, A17) from the panels of :func:`findeval.lpr.plan.figure_params`.

Two kinds of panel:

- ``lpr``: the pruning ratio of every prunable layer (x: layers in network order; y: % of the layer's
  weights pruned), read from the mask files' ``layer_ratios`` attributes, mean and standard deviation over
  seeds;
- ``accuracy``: test accuracy against sparsity like the other figures (:mod:`findeval.a1.plots`), mean and
  standard-deviation band over seeds, the dense model trained with the line's H_find at 0%.

:func:`figure_table` returns every number a figure draws (one row per seed, level and layer or run); the
figure job writes it beside the results (``results/<exp>/lpr/<figure>.csv``) so it can be checked and reused.
"""

from __future__ import annotations

import string
import textwrap

import pandas as pd

from ..hparams import format_number
from ..io import atomic_path
from ..masks import read_lpr
from ..plotting import BASELINE_STYLE, line_metrics, short_layer_name, sparsity_axis

#: Lines with a fixed look in every panel (fig7): colour index into the palette (None: grey) and dashes.
LINE_STYLES = {
    "match-good": (0, ""),
    "match-bad": (1, ""),
    "regular-good": (2, ""),
    "regular-bad": (None, (4, 2)),
}

TABLE_COLUMNS = ["figure", "panel", "panel_type", "line", "style", "seed", "level", "layer_index", "layer",
                 "pruned", "total", "ratio", "sparsity", "test_accuracy", "diverged", "path"]


def lpr_rows(fig: str, p: int, panel: dict) -> list[dict]:
    """The rows of an ``lpr`` panel: per line, seed and level, every layer's pruning ratio (the mask files'
    ``layer_ratios``), each mask checked to be of its planned level."""
    rows = []
    for line in panel["lines"]:
        for f in line["files"]:
            lpr = read_lpr(f["path"])
            if lpr["level"] != f["level"]:
                raise ValueError(f"{f['path']} is a mask of level {lpr['level']}, expected {f['level']}")
            for i, (name, ratio, pruned, total) in enumerate(zip(lpr["names"], lpr["ratios"], lpr["pruned"],
                                                                 lpr["total"])):
                rows.append({"figure": fig, "panel": p, "panel_type": "lpr", "line": line["label"],
                             "style": line["style"], "seed": f["seed"], "level": f["level"], "layer_index": i,
                             "layer": name, "pruned": pruned, "total": total, "ratio": ratio,
                             "sparsity": lpr["sparsity"], "path": f["path"]})
    return rows


def accuracy_rows(fig: str, p: int, panel: dict) -> list[dict]:
    """The rows of an ``accuracy`` panel: per line, seed and level, the run's sparsity and test accuracy
    (:func:`findeval.plotting.line_metrics`)."""
    rows = []
    for line in panel["lines"]:
        for f, r in line_metrics(line):
            rows.append({"figure": fig, "panel": p, "panel_type": "accuracy", "line": line["label"],
                         "style": line["style"], "seed": f["seed"], "level": f["level"], "sparsity": r["sparsity"],
                         "test_accuracy": r["test_accuracy"], "diverged": bool(r["diverged"]), "path": f["path"]})
    return rows


def figure_table(params: dict) -> pd.DataFrame:
    """Every number the figure draws, one row per (panel, line, seed, level[, layer])."""
    rows = []
    for p, panel in enumerate(params["panels"]):
        if not panel["lines"] or not any(line["files"] for line in panel["lines"]):
            raise ValueError(f"{params['figure']}: panel {panel['title']!r} has no runs")
        rows.extend((lpr_rows if panel["type"] == "lpr" else accuracy_rows)(params["figure"], p, panel))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _styles(panel: dict, palette: str):
    import seaborn as sns

    order = [line["label"] for line in panel["lines"]]
    colors = sns.color_palette(palette, max(len(order), 3))
    plain = iter(colors)
    pal, dashes = {}, {}
    for line in panel["lines"]:
        if line["style"] in LINE_STYLES:
            idx, dash = LINE_STYLES[line["style"]]
            pal[line["label"]] = BASELINE_STYLE["global random"][0] if idx is None else colors[idx]
            dashes[line["label"]] = dash
        else:
            pal[line["label"]] = next(plain)
            dashes[line["label"]] = ""
    return order, pal, dashes


def _draw_lpr(ax, df: pd.DataFrame, panel: dict, style: dict) -> None:
    import seaborn as sns

    order, pal, dashes = _styles(panel, style["palette"])
    df = df.assign(ratio_pct=100 * df["ratio"])
    sns.lineplot(data=df, x="layer_index", y="ratio_pct", hue="line", hue_order=order, style="line",
                 style_order=order, dashes=dashes, palette=pal, errorbar="sd", marker="o", markersize=3,
                 markeredgewidth=0, linewidth=1.2, ax=ax)
    layers = df.drop_duplicates("layer_index").sort_values("layer_index")
    step = max(1, len(layers) // 30)
    shown = layers.iloc[::step]
    ax.set_xticks(shown["layer_index"])
    ax.set_xticklabels([short_layer_name(n) for n in shown["layer"]], rotation=90, fontsize="x-small")
    ax.set_xlabel("layer (network order)")
    ax.set_ylabel("pruned in layer (%)")
    ax.set_ylim(-2, 102)


def _draw_accuracy(ax, df: pd.DataFrame, panel: dict, style: dict) -> None:
    import seaborn as sns

    order, pal, dashes = _styles(panel, style["palette"])
    df = df.assign(sparsity_pct=100 * df["sparsity"].astype(float),
                   accuracy_pct=100 * df["test_accuracy"].astype(float))
    sns.lineplot(data=df, x="sparsity_pct", y="accuracy_pct", hue="line", hue_order=order, style="line",
                 style_order=order, dashes=dashes, palette=pal, errorbar="sd", marker="o", markersize=3,
                 markeredgewidth=0, linewidth=1.2, ax=ax)
    diverged = df[df["diverged"].astype(bool)]
    if len(diverged):
        ax.scatter(diverged["sparsity_pct"], diverged["accuracy_pct"], marker="x", color="black", s=12, zorder=5,
                   label="diverged run")
    sparsity_axis(ax, style["sparsity_axis"], float(df["sparsity_pct"].max()))
    ax.set_ylabel("test accuracy (%)")


def draw_figure(params: dict, *, pdf: str, png: str, table_out: str | None = None, style: dict | None = None) -> \
        pd.DataFrame:
    """Draw one LPR figure (``params`` from :func:`findeval.lpr.plan.figure_params`, which lists the files; the
    registry's loader None) to ``pdf`` and ``png``; returns (and with ``table_out`` writes) the table of what it
    draws (:func:`figure_table`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    style = {"context": "paper", "palette": "colorblind", "dpi": 150, "panel_width": 3.6, "panel_height": 2.8,
             "sparsity_axis": "log", **(style or {})}
    sns.set_theme(context=style["context"], style="whitegrid")
    fig, panels = params["figure"], params["panels"]
    table = figure_table(params)
    ncols = min(3, max(1, len(panels)))
    nrows = -(-len(panels) // ncols) if panels else 1
    f, axes = plt.subplots(nrows, ncols, figsize=(ncols * style["panel_width"], nrows * (style["panel_height"] + 0.4)),
                           squeeze=False)
    for p, (ax, panel) in enumerate(zip(axes.flat, panels)):
        df = table[table["panel"] == p]
        (_draw_lpr if panel["type"] == "lpr" else _draw_accuracy)(ax, df, panel, style)
        ax.set_title(f"({string.ascii_lowercase[p]}) {panel['title']}", fontsize="small")
        ax.legend(fontsize="xx-small", title=None, loc="best")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if not panels:
        axes[0, 0].set_visible(True)
        axes[0, 0].text(0.5, 0.5, "no hyperparameter has distinct good and bad H_find values", ha="center",
                        va="center", transform=axes[0, 0].transAxes)
    sep = ",\n" if ncols == 1 else ", "  # one panel is too narrow for the title on one line
    f.suptitle(f"{fig}: {params['dataset']}, {params['model']} (experiment '{params['experiment']}'){sep}"
               f"p = {format_number(params['fraction'])} per level, mean \u00b1 sd over seeds", fontsize="small")
    f.tight_layout()
    note = params.get("note")
    if note:  # the reading of the paper this figure follows, under the panels
        lines = textwrap.wrap(note, width=int(28 * ncols * style["panel_width"] / 3.6) or 60)
        f.text(0.5, 0.0, "\n".join(lines), ha="center", va="top", fontsize="x-small", style="italic")
    for path in (pdf, png):
        with atomic_path(path) as tmp:
            f.savefig(tmp, dpi=style["dpi"], format=path.rsplit(".", 1)[1], bbox_inches="tight" if note else None)
    plt.close(f)
    if table_out:
        with atomic_path(table_out) as tmp:
            table.to_csv(tmp, index=False)
    return table
