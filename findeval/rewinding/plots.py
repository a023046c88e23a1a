"""Drawing Figures 4, A13 and A14 (:mod:`findeval.rewinding`, :mod:`findeval.rewinding.instability_plan`).

Accuracy-against-sparsity panels (fig4, figA14) are drawn by :func:`findeval.lpr.plots.draw_figure` (same
panel format). Figure A13's panels are of type ``interpolation``: test error (%) against the interpolation
coefficient alpha between two copies of a ticket trained with different data orders, mean and standard
deviation over seeds, with batch-norm statistics recomputed on the training data at every alpha.
"""

from __future__ import annotations

import string

import pandas as pd

from ..hparams import format_number
from ..io import atomic_path, read_json
from ..lpr import plots as lpr_plots
from ..plotting import check_line_file

TABLE_COLUMNS = ["figure", "panel", "line", "seed", "level", "late_epoch", "alpha", "test_error", "test_accuracy",
                 "instability", "sparsity", "path"]


def interpolation_table(params: dict) -> pd.DataFrame:
    """figA13's table (:data:`TABLE_COLUMNS`): per panel, line, seed and alpha, the interpolated network's test
    error and accuracy, from the instability records (each checked to be its planned seed and level)."""
    rows = []
    for p, panel in enumerate(params["panels"]):
        for line in panel["lines"]:
            for f in line["files"]:
                r = read_json(f["path"])
                check_line_file(f, r)
                for pt in r["interpolation"]:
                    rows.append({"figure": params["figure"], "panel": p, "line": line["label"], "seed": f["seed"],
                                 "level": f["level"], "late_epoch": r["late_epoch"], "alpha": pt["alpha"],
                                 "test_error": pt["test_error"], "test_accuracy": pt["test_accuracy"],
                                 "instability": r["instability"], "sparsity": r["sparsity"], "path": f["path"]})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def draw_interpolation(params: dict, *, pdf: str, png: str, table_out: str | None = None,
                       style: dict | None = None) -> pd.DataFrame:
    """Draw figure A13 (``interpolation`` panels) to ``pdf`` and ``png``; returns (and with ``table_out`` writes)
    :func:`interpolation_table`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    style = {"context": "paper", "palette": "colorblind", "dpi": 150, "panel_width": 3.6, "panel_height": 2.8,
             **(style or {})}
    sns.set_theme(context=style["context"], style="whitegrid")
    table = interpolation_table(params)
    panels = params["panels"]
    width = max(len(panels) * style["panel_width"], 2 * style["panel_width"])  # room for the two-line title
    f, axes = plt.subplots(1, len(panels), figsize=(width, style["panel_height"] + 0.9), squeeze=False)
    for p, (ax, panel) in enumerate(zip(axes.flat, panels)):
        df = table[table["panel"] == p].assign(error_pct=lambda d: 100 * d["test_error"])
        order = [line["label"] for line in panel["lines"]]
        sns.lineplot(data=df, x="alpha", y="error_pct", hue="line", hue_order=order, errorbar="sd", marker="o",
                     markersize=3, markeredgewidth=0, linewidth=1.2, palette=style["palette"], ax=ax)
        ax.set_xlabel("interpolation alpha (copy A -> copy B)")
        ax.set_ylabel("test error (%)")
        ax.set_title(f"({string.ascii_lowercase[p]}) {panel['title']}", fontsize="small")
        ax.legend(fontsize="xx-small", title=None, loc="best")
    f.suptitle(f"{params['figure']}: {params['dataset']}, {params['model']} (experiment '{params['experiment']}'): "
               f"two copies of a ticket,\nsame start, different data orders; linear interpolation, batch-norm "
               f"statistics recomputed\non the training data at every alpha; p = {format_number(params['fraction'])}"
               f" per level, mean \u00b1 sd over seeds", fontsize="small")
    f.tight_layout()
    for path in (pdf, png):
        with atomic_path(path) as tmp:
            f.savefig(tmp, dpi=style["dpi"], format=path.rsplit(".", 1)[1])
    plt.close(f)
    if table_out:
        with atomic_path(table_out) as tmp:
            table.to_csv(tmp, index=False)
    return table


def draw_figure(params: dict, *, pdf: str, png: str, table_out: str | None = None, style: dict | None = None):
    """Draw fig4, figA13 or figA14 (``params`` from the rewinding or instability planner's ``figure_params``):
    interpolation panels here, accuracy panels by :func:`findeval.lpr.plots.draw_figure`; returns the table."""
    if any(panel["type"] == "interpolation" for panel in params["panels"]):
        return draw_interpolation(params, pdf=pdf, png=png, table_out=table_out, style=style)
    return lpr_plots.draw_figure(params, pdf=pdf, png=png, table_out=table_out, style=style)
