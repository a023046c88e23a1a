"""Structured pruning results: the tidy table of every run and the figures fig5, figA10-A12, figRethinking.

Table (``results/<exp>/structured/summary.csv``), one row per run: ``experiment, kind, hfind, heval,
coupled, seed, ratio, channels_pruned, params, params_pruned, flops, flops_pruned, test_accuracy,
test_loss, diverged, epochs, train_time_s, lr_find, bs_find, wd_find, lr_eval, bs_eval, wd_eval, path``.
``kind`` is ``dense`` (ratio 0, H_eval = H_find), ``finetune``, ``scratch_e`` or ``scratch_b``;
``channels_pruned`` / ``params_pruned`` / ``flops_pruned`` are fractions of the dense network's.

Figures: test accuracy against the fraction of channels pruned (top rows) and, with
``structured.figures.params_axis`` (figRethinking always), of parameters pruned (bottom rows, same runs).
A point is the mean over seeds at one ratio (x and y both averaged: the parameter fraction of a ratio varies a little between seeds) with a standard-deviation band; fine-tuning
curves start at the dense network trained with their H_find (0%).
"""

from __future__ import annotations

import json
import string
import textwrap

import pandas as pd

from ..hparams import DIMENSIONS, LABELS, H, format_number
from ..io import atomic_path

COLUMNS = ["experiment", "kind", "hfind", "heval", "coupled", "seed", "ratio", "channels_pruned", "params",
           "params_pruned", "flops", "flops_pruned", "test_accuracy", "test_loss", "diverged", "epochs",
           "train_time_s", "lr_find", "bs_find", "wd_find", "lr_eval", "bs_eval", "wd_eval", "path"]
KIND_NAMES = {"finetune": "fine-tuned", "scratch_e": "Scratch-E", "scratch_b": "Scratch-B"}
#: Scratch baselines keep one look everywhere: grey, dashed / dotted (like the unstructured baselines).
BASELINE_STYLE = {"Scratch-E": ("#8c8c8c", (4, 2)), "Scratch-B": ("#3d3d3d", (1, 1.5))}
X_LABELS = {"channels": "channels pruned (%)", "params": "parameters pruned (%)"}
X_COLUMNS = {"channels": "channels_pruned", "params": "params_pruned"}


def _row(path: str, m: dict) -> dict:
    hf, he = H(**m["H_find"]), H(**m["H_eval"])
    return {
        "kind": m["kind"], "hfind": hf.slug, "heval": he.slug, "coupled": hf == he, "seed": int(m["seed"]),
        "ratio": float(m["ratio"]), "channels_pruned": float(m["channels_pruned"]), "params": m.get("params"),
        "params_pruned": float(m["params_pruned"]), "flops": m.get("flops"),
        "flops_pruned": float(m["flops_pruned"]), "test_accuracy": float(m["test_accuracy"]),
        "test_loss": m.get("test_loss"), "diverged": bool(m.get("diverged", False)), "epochs": m.get("epochs"),
        "train_time_s": m.get("train_time_s"), "lr_find": hf.lr, "bs_find": hf.batch_size,
        "wd_find": hf.weight_decay, "lr_eval": he.lr, "bs_eval": he.batch_size, "wd_eval": he.weight_decay,
        "path": str(path),
    }


def load_table(paths, experiment: str = "") -> pd.DataFrame:
    from ..provenance import check_metrics

    rows = []
    for p in paths:
        with open(p) as fh:
            try:
                m = json.load(fh)
            except json.JSONDecodeError as err:
                raise ValueError(f"metrics file {p} is not valid JSON: {err}") from err
        check_metrics(p, m)  # the run its path names
        try:
            rows.append({"experiment": experiment, **_row(p, m)})
        except KeyError as err:
            raise ValueError(f"metrics file {p} is not a structured run's (lacks {err})") from err
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.sort_values(["kind", "hfind", "heval", "seed", "ratio"], kind="stable").reset_index(drop=True)


def write_summary(paths, out: str, experiment: str = "") -> pd.DataFrame:
    df = load_table(paths, experiment)
    with atomic_path(out) as tmp:
        df.to_csv(tmp, index=False)
    return df


def line_frame(table: pd.DataFrame, kind: str, hfind: str, heval: str) -> pd.DataFrame:
    """Rows of one curve; a fine-tuning curve starts with the dense network trained with its H_find."""
    t = table[(table["hfind"] == hfind)]
    rows = t[(t["kind"] == kind) & (t["heval"] == heval)]
    if kind == "finetune":
        rows = pd.concat([t[t["kind"] == "dense"], rows])
    return rows


def curve(rows: pd.DataFrame, x: str) -> pd.DataFrame:
    """Mean and standard deviation over seeds per ratio: columns ratio, x, mean, std, n."""
    g = rows.groupby("ratio")
    return pd.DataFrame({
        "x": g[X_COLUMNS[x]].mean(),
        "mean": g["test_accuracy"].mean(),
        "std": g["test_accuracy"].std(ddof=1).fillna(0.0),
        "n": g["test_accuracy"].count(),
    }).reset_index().sort_values("ratio")


def _value(slug: str, dim: str) -> str:
    return format_number(getattr(H.parse(slug), dim))


def _h_change(hfind: str, heval: str) -> str:
    """H_eval spelled by what differs from H_find (figRethinking titles)."""
    hf, he = H.parse(hfind), H.parse(heval)
    moved = [d for d in DIMENSIONS if getattr(hf, d) != getattr(he, d)]
    if not moved:
        return "H_eval = H_find (coupled)"
    return ", ".join(f"{LABELS[d]}_eval = {_value(heval, d)} (find {_value(hfind, d)})" for d in moved)


def line_label(panel: dict, kind: str, hfind: str, heval: str) -> str:
    dim, compare = panel["dim"], panel["compare"]
    if compare == "rethinking":
        return KIND_NAMES[kind]
    name = LABELS[dim]
    if compare == "find":
        return f"{name}_find = {_value(hfind, dim)}"
    if compare == "eval":
        return f"{name}_eval = {_value(heval, dim)}"
    return f"{name}_find = {_value(hfind, dim)}, {name}_eval = {_value(heval, dim)}"


def panel_title(panel: dict, letter: str) -> str:
    dim, compare, const = panel["dim"], panel["compare"], panel["constant"]
    if compare == "rethinking":
        return f"({letter}) {_h_change(panel['lines'][0][1], const)}"
    name = LABELS[dim]
    if compare == "find":
        return f"({letter}) {name}_eval = {_value(const, dim)}"
    if compare == "eval":
        return f"({letter}) {name}_find = {_value(const, dim)}"
    return f"({letter}) {name}: H_find x H_eval"


def draw_figure(params: dict, table: pd.DataFrame, *, pdf: str, png: str, style: dict | None = None) -> None:
    """Draw a structured figure described by :func:`findeval.structured.plan.figure_params`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    style = {"context": "paper", "palette": "colorblind", "dpi": 150, "panel_width": 3.6, "panel_height": 2.8,
             **(style or {})}
    sns.set_theme(context=style["context"], style="whitegrid")
    panels = params["panels"]
    nrows = 1 + max(p["row"] for p in panels)
    ncols = 1 + max(p["col"] for p in panels)
    f, axes = plt.subplots(nrows, ncols, figsize=(ncols * style["panel_width"], nrows * style["panel_height"]),
                           squeeze=False)
    used = set()
    for i, panel in enumerate(panels):
        ax = axes[panel["row"], panel["col"]]
        used.add((panel["row"], panel["col"]))
        labels = [line_label(panel, *ln) for ln in panel["lines"]]
        own = [lab for lab in labels if lab not in BASELINE_STYLE]
        colors = dict(zip(own, sns.color_palette(style["palette"], len(own))))
        for (kind, hfind, heval), label in zip(panel["lines"], labels):
            rows = line_frame(table, kind, hfind, heval)
            if rows[rows["kind"] != "dense"].empty:
                raise ValueError(f"no runs for curve kind={kind} H_find={hfind} H_eval={heval}")
            c = curve(rows, panel["x"])
            color, dashes = BASELINE_STYLE.get(label, (colors.get(label), None))
            xs, ys, sd = 100 * c["x"], 100 * c["mean"], 100 * c["std"]
            (line,) = ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.2, color=color, label=label)
            if dashes:
                line.set_dashes(dashes)
            ax.fill_between(xs, ys - sd, ys + sd, color=color, alpha=0.18, linewidth=0)
            div = rows[rows["diverged"] & (rows["kind"] != "dense")]
            if len(div):
                ax.scatter(100 * div[X_COLUMNS[panel["x"]]], 100 * div["test_accuracy"], marker="x",
                           color="black", s=12, zorder=5)
        ax.set_xlabel(X_LABELS[panel["x"]])
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(panel_title(panel, string.ascii_lowercase[i % 26]), fontsize="medium")
        ax.legend(fontsize="x-small", loc="lower left")
    for r in range(nrows):
        for col in range(ncols):
            if (r, col) not in used:
                axes[r, col].set_visible(False)
    model = params["model"]
    arch = model["name"] + (f"-{model['depth']}" if "depth" in model else "") + \
        (f" width {model['width']}" if "width" in model else "")
    f.suptitle(f"{params['figure']} (structured, A2): {params['dataset']}, {arch}, {params['epochs']} epochs "
               f"(experiment '{params['experiment']}'), mean \u00b1 sd over {params['seeds']} "
               f"seed{'s' if params['seeds'] != 1 else ''}",
               fontsize="small")
    f.tight_layout()
    note = params.get("note")
    if note:  # the reading of the paper this figure follows, under the panels
        f.text(0.5, 0.0, "\n".join(textwrap.wrap(note, width=int(28 * ncols) or 60)), ha="center", va="top",
               fontsize="x-small", style="italic")
    for path in (pdf, png):
        with atomic_path(path) as tmp:
            f.savefig(tmp, dpi=style["dpi"], format=path.rsplit(".", 1)[1], bbox_inches="tight" if note else None)
    plt.close(f)

