"""Drawing the claims report (``results/<exp>/figures/claims.pdf`` / ``.png``) from the table of :mod:`findeval.claims`.

One row per claim, the declared primary family first (its label in bold, a heading above it and above the
other rows): the measured effect (dot) with its 95% Student-t interval of the mean per-seed difference
(horizontal bar; paired over seeds, see :mod:`findeval.claims.stats`), each seed's difference (small grey
marks), the paper's magnitude where it gives one (dashed line), coloured by the verdict; the claim's text and id
on the left, a vertical line at 0 (right of it: the paper's direction), and on the right the effect, interval,
one-sided p, Holm-adjusted p (primary rows: within the primary family), seeds in the paper's direction and
the unit. Each row has its own x scale (the claims have different units: decades of LR,
percentage points). A claim that was not run shows its reason instead of a bar. The regime warnings (why
this config's training regime is far from the paper's) are printed under the title.
"""

from __future__ import annotations

import math
import textwrap

from ..io import atomic_path

#: Verdict colours (colourblind-safe: blue, vermillion, orange, reddish purple, bluish green; grey for not run).
VERDICT_COLORS = {"reproduced": "#0072B2", "not reproduced": "#D55E00", "inconclusive": "#E69F00",
                  "underpowered": "#CC79A7", "descriptive": "#009E73", "not run": "#9a9a9a"}


def _finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _per_seed(text) -> list[float]:
    """The per-seed differences of a row's ``per_seed`` column ("seed:diff seed:diff ...")."""
    if not isinstance(text, str) or not text.strip():
        return []
    return [float(part.split(":", 1)[1]) for part in text.split()]


def draw_claims(table, *, pdf: str | None, png: str | None, style: dict | None = None, title: str = "",
                warnings: list | None = None, alpha: float = 0.025, subtitle: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.lines import Line2D

    style = {"context": "paper", "dpi": 150, **(style or {})}
    sns.set_theme(context=style["context"], style="whitegrid")
    if "primary" in table:
        prim = table["primary"].astype(bool)
        table = table.assign(_order=~prim).sort_values("_order", kind="stable").drop(columns="_order")
    n = max(1, len(table))
    warnings = list(warnings or [])
    lines = [title, f"effect = mean per-seed difference (positive = the paper's direction; grey marks: each seed), "
             f"{1 - 2 * alpha:.0%} t interval, p = max(t, sign-flip) one-sided, verdicts at {alpha:.1%}; dashed: the "
             f"paper's magnitude"]
    if subtitle:
        lines.append(subtitle)
    lines += [textwrap.shorten(f"regime far from the paper's: {w}", 230) for w in warnings]
    lines = [part for line in lines for part in (textwrap.wrap(line, 120) or [""])]
    head = 0.4 + 0.15 * len(lines)
    height = 0.66 * n + head
    f, axes = plt.subplots(n, 1, figsize=(10.5, height), squeeze=False)
    previous = None
    for ax, (_, r) in zip(axes[:, 0], table.iterrows()):
        color = VERDICT_COLORS.get(r["verdict"], "black")
        primary = bool(r.get("primary", False))
        label = "\n".join(textwrap.wrap(f"{r['claim_id']}: {r['claim']}", 46))
        ax.set_yticks([0])
        ax.set_yticklabels([label], fontsize="x-small", fontweight="bold" if primary else "normal")
        if primary != previous:
            ax.set_title("primary family (Secs. 3.1, 3.2, 3.4; Holm within it)" if primary else
                         "other claims (Holm over every tested row)", loc="left", fontsize="x-small",
                         fontweight="bold")
            previous = primary
        ax.set_ylim(-1, 1)
        ax.grid(axis="y", visible=False)
        ax.tick_params(axis="x", labelsize="xx-small", pad=1)
        if r["verdict"] == "not run" or not _finite(r["effect"]):
            ax.set_xticks([])
            reason = str(r["detail"]).removeprefix("not run: ")
            ax.text(0.01, 0, "not run: " + textwrap.shorten(reason, 110), transform=ax.get_yaxis_transform(),
                    va="center", ha="left", fontsize="xx-small", color=color, style="italic")
            continue
        effect, lo, hi = float(r["effect"]), r["ci_low"], r["ci_high"]
        seeds = _per_seed(r.get("per_seed"))
        if seeds:
            ax.plot(seeds, [-0.45] * len(seeds), "|", color="#555555", markersize=6, alpha=0.8)
        mag = r.get("paper_magnitude")
        if _finite(mag):
            ax.axvline(float(mag), color="#333333", linestyle="--", linewidth=0.9)
        if _finite(lo) and _finite(hi):
            ax.errorbar([effect], [0], xerr=[[max(0.0, effect - lo)], [max(0.0, hi - effect)]], fmt="o",
                        color=color, ecolor=color, elinewidth=2.2, capsize=3, markersize=5)
        else:
            ax.plot([effect], [0], "o", color=color, markersize=5)
        xs = [0.0, effect] + [v for v in (lo, hi) if _finite(v)] + seeds + ([float(mag)] if _finite(mag) else [])
        span = (max(xs) - min(xs)) or max(abs(effect), 1.0)
        ax.set_xlim(min(xs) - 0.15 * span, max(xs) + 0.15 * span)
        ax.axvline(0, color="black", linewidth=0.8)
        ci = f" [{lo:.3g}, {hi:.3g}]" if _finite(lo) and _finite(hi) else " (no interval)"
        p = r.get("p")
        ph = r.get("p_holm_primary") if primary else r.get("p_holm")
        pv = f", p {float(p):.2g}" if _finite(p) else ""
        pv += f", Holm {float(ph):.2g}" if _finite(ph) else ""
        k = f", {r['k_direction']} seeds +" if isinstance(r.get("k_direction"), str) and r["k_direction"] else ""
        ax.text(1.01, 0.5, f"{effect:+.3g}{ci}{pv}\n{r['unit']}: {r['verdict']}{k}", transform=ax.transAxes,
                va="center", ha="left", fontsize="xx-small", color=color)
    handles = [Line2D([], [], marker="o", linestyle="-", color=c, label=v) for v, c in VERDICT_COLORS.items()]
    f.legend(handles=handles, loc="lower center", ncol=6, fontsize="x-small", frameon=False)
    f.suptitle("\n".join(lines), fontsize="small", y=1 - 0.15 / height, va="top")
    f.tight_layout(rect=(0, 0.4 / height, 0.86, 1))
    f.subplots_adjust(top=1 - head / height)  # below the title block (tight_layout would add its own room)
    for path in (pdf, png):
        if path:
            with atomic_path(path) as tmp:
                f.savefig(tmp, dpi=style["dpi"], format=path.rsplit(".", 1)[1])
    plt.close(f)
