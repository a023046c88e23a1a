"""Drawing fig9 (early pruning), figA18 (LPR through training) and figA19 (its distance to the final LPR) from
:func:`findeval.early.plan.figure_params`, and the tables they draw (``results/<exp>/early/<figure>.csv``).

- fig9: one panel per LR_find, test accuracy against sparsity, one line per pruning epoch k (masks evaluated with
  H_eval; the point at 0% is the dense network trained k epochs with H_find), mean and sd over seeds. The table
  reports the compute of finding each mask: ``find_epochs`` = L * k against ``find_epochs_regular`` = L * E.
- figA18: one panel per LR_find, the LPR (% pruned per layer, network order) the first pruning step would give at
  each epoch (colour: epoch; 0 = initialisation), mean over seeds.
- figA19: per LR_find, the mean absolute difference (pp) over layers between the LPR at epoch n and the final
  LPR, mean and sd over seeds; dotted lines at the LR milestones.
"""

from __future__ import annotations

import string

import pandas as pd

from ..hparams import format_number
from ..io import atomic_path
from ..plotting import line_metrics, short_layer_name, sparsity_axis

FIG9_COLUMNS = ["figure", "panel", "hfind", "heval", "line", "prune_epoch", "seed", "level", "sparsity",
                "test_accuracy", "diverged", "find_epochs", "find_epochs_regular", "compute_saved", "path"]
FIGA19_COLUMNS = ["figure", "hfind", "line", "seed", "epoch", "distance_pp"]


def fig9_table(params: dict) -> pd.DataFrame:
    """Every number fig9 draws (:data:`FIG9_COLUMNS`), one row per (panel, pruning epoch, seed, level)."""
    e = int(params["epochs"])
    rows = []
    for p, panel in enumerate(params["panels"]):
        for line in panel["lines"]:
            k = int(line["prune_epoch"])
            for f, r in line_metrics(line):
                lv = int(f["level"])
                rows.append({"figure": params["figure"], "panel": p, "hfind": panel["hfind"],
                             "heval": params["heval"], "line": line["label"], "prune_epoch": k, "seed": f["seed"],
                             "level": lv, "sparsity": float(r["sparsity"]), "test_accuracy": float(r["test_accuracy"]),
                             "diverged": bool(r["diverged"]), "find_epochs": lv * k, "find_epochs_regular": lv * e,
                             "compute_saved": 1 - k / e, "path": f["path"]})
    return pd.DataFrame(rows, columns=FIG9_COLUMNS)


def trajectory_table(params: dict) -> pd.DataFrame:
    """figA18's table: the LPR trajectory files of every line, each checked to be its line's H_find and seed."""
    frames = []
    for line in params["lines"]:
        for f in line["files"]:
            df = pd.read_csv(f["path"])
            if df.empty or int(df["seed"].iloc[0]) != f["seed"] or df["hfind"].iloc[0] != line["hfind"]:
                raise ValueError(f"{f['path']} is not the LPR trajectory of {line['hfind']} seed {f['seed']}")
            frames.append(df.assign(figure=params["figure"], line=line["label"]))
    return pd.concat(frames, ignore_index=True)


def distance_table(traj: pd.DataFrame, figure: str = "figA19") -> pd.DataFrame:
    """figA19's table (:data:`FIGA19_COLUMNS`): per line, seed and epoch, the mean over layers of the absolute
    difference (pp) between the LPR at that epoch and the final LPR."""
    d = traj.assign(diff=(traj["ratio"] - traj["final_ratio"]).abs() * 100)
    out = d.groupby(["hfind", "line", "seed", "epoch"], sort=False)["diff"].mean().reset_index()
    return out.rename(columns={"diff": "distance_pp"}).assign(figure=figure)[FIGA19_COLUMNS]


def _save(f, pdf: str, png: str, dpi) -> None:
    """Write figure ``f`` to ``pdf`` and ``png`` (atomically) and close it."""
    import matplotlib.pyplot as plt

    for path in (pdf, png):
        with atomic_path(path) as tmp:
            f.savefig(tmp, dpi=dpi, format=path.rsplit(".", 1)[1])
    plt.close(f)


def draw_figure(params: dict, *, pdf: str, png: str, table_out: str | None = None,
                style: dict | None = None) -> pd.DataFrame:
    """Draw fig9, figA18 or figA19 (``params`` from :func:`findeval.early.plan.figure_params`, which lists the
    files) to ``pdf`` and ``png``; returns (and with ``table_out`` writes) the table of what it draws."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    style = {"context": "paper", "palette": "colorblind", "dpi": 150, "panel_width": 3.6, "panel_height": 2.8,
             "sparsity_axis": "log", **(style or {})}
    sns.set_theme(context=style["context"], style="whitegrid")
    fig = params["figure"]
    head = f"{fig}: {params['dataset']}, {params['model']} (experiment '{params['experiment']}')"
    if fig == "fig9":
        table = fig9_table(params)
        panels = params["panels"]
        f, axes = plt.subplots(1, len(panels), figsize=(len(panels) * style["panel_width"],
                                                        style["panel_height"] + 0.6), squeeze=False)
        for p, (ax, panel) in enumerate(zip(axes.flat, panels)):
            df = table[table["panel"] == p]
            df = df.assign(sparsity_pct=100 * df["sparsity"], accuracy_pct=100 * df["test_accuracy"])
            order = [ln["label"] for ln in panel["lines"]]
            colors = sns.color_palette(style["palette"], max(3, len(order)))
            pal = {lab: ("#c44e52" if "convergence" in lab else colors[i]) for i, lab in enumerate(order)}
            sns.lineplot(data=df, x="sparsity_pct", y="accuracy_pct", hue="line", hue_order=order, palette=pal,
                         errorbar="sd", marker="o", markersize=3, markeredgewidth=0, linewidth=1.2, ax=ax)
            diverged = df[df["diverged"]]
            if len(diverged):
                ax.scatter(diverged["sparsity_pct"], diverged["accuracy_pct"], marker="x", color="black", s=12,
                           zorder=5, label="diverged run")
            sparsity_axis(ax, style["sparsity_axis"], float(df["sparsity_pct"].max()))
            ax.set_ylabel("test accuracy (%)")
            ax.set_title(f"({string.ascii_lowercase[p]}) {panel['title']}", fontsize="small")
            ax.legend(fontsize="xx-small", title=None, loc="lower left")
        f.suptitle(f"{head}: masks found after k of {params['epochs']} epochs per pruning iteration, evaluated "
                   f"with full training;\n0%: dense network trained k epochs with H_find; mean \u00b1 sd over seeds",
                   fontsize="small")
    elif fig == "figA18":
        traj = trajectory_table(params)
        table = traj
        lines = params["lines"]
        f, axes = plt.subplots(1, len(lines), figsize=(len(lines) * style["panel_width"] + 0.8,
                                                       style["panel_height"] + 1.0), squeeze=False,
                               layout="constrained")
        cmap = plt.get_cmap("viridis")
        e = int(params["epochs"])
        for p, (ax, line) in enumerate(zip(axes.flat, lines)):
            df = traj[traj["line"] == line["label"]]
            mean = df.groupby(["epoch", "layer_index"])["ratio"].mean().reset_index()
            for epoch, g in mean.groupby("epoch"):
                ax.plot(g["layer_index"], 100 * g["ratio"], color=cmap(epoch / max(e, 1)), linewidth=1,
                        marker="o", markersize=2)
            layers = df.drop_duplicates("layer_index").sort_values("layer_index")
            ax.set_xticks(layers["layer_index"])
            ax.set_xticklabels([short_layer_name(n) for n in layers["layer"]], rotation=90, fontsize="xx-small")
            ax.set_xlabel("layer (network order)")
            ax.set_ylabel("pruned in layer (%)")
            ax.set_title(f"({string.ascii_lowercase[p]}) {line['label']}", fontsize="small")
        sm = matplotlib.cm.ScalarMappable(cmap=cmap, norm=matplotlib.colors.Normalize(0, e))
        f.colorbar(sm, ax=list(axes.flat), label="epoch pruned at (0: initialisation)", fraction=0.03,
                   ticks=matplotlib.ticker.MaxNLocator(integer=True))
        f.suptitle(f"{head}:\nLPR if pruned at each epoch of the first find run (level 0 -> 1, "
                   f"p = {format_number(params['fraction'])}), mean over seeds", fontsize="small")
    elif fig == "figA19":
        table = distance_table(trajectory_table(params), fig)
        f, ax = plt.subplots(figsize=(style["panel_width"] * 1.3, style["panel_height"] + 0.4))
        order = [ln["label"] for ln in params["lines"]]
        sns.lineplot(data=table, x="epoch", y="distance_pp", hue="line", hue_order=order, palette=style["palette"],
                     errorbar="sd", marker="o", markersize=3, markeredgewidth=0, linewidth=1.2, ax=ax)
        for m in params["milestones"]:
            ax.axvline(m, color="grey", linestyle=":", linewidth=0.8)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_xlabel("epoch pruned at (0: initialisation)")
        ax.set_ylabel("mean |LPR(n) - final LPR| (pp)")
        ax.legend(fontsize="x-small", title=None)
        f.suptitle(f"{head}:\ndistance to the final LPR, first pruning iteration; dotted: LR milestones",
                   fontsize="small")
    else:
        raise ValueError(f"unknown early-pruning figure {fig!r}")
    if fig != "figA18":
        f.tight_layout()
    _save(f, pdf, png, style["dpi"])
    if table_out:
        with atomic_path(table_out) as tmp:
            table.to_csv(tmp, index=False)
    return table
