"""Early pruning (the paper's Section 3.5, Figure 9) and the LPR through training (Figures A18 and A19).

**Early pruning (fig9).** Iterative early pruning, as in the paper (its 55% compute saving is 1 - 50/110: every
pruning iteration trains only k epochs): the find chain of Algorithm A1 with each level's training stopped
after epoch k of the *full* schedule (same LR schedule, milestones and data order as the regular run, cut at
epoch k; ``findeval.training.train(stop_epoch=k)``):

    theta_0 --train epochs 1..k with H_find--> prune p (global magnitude) -> M_1 -> rewind theta_0 * M_1
            --train epochs 1..k--> prune -> M_2 -> ... -> M_N

Levels 0..N-1 are trained (k epochs each), masks M_1..M_N are written; level N is never trained in the chain (its
mask is final; training it would serve nothing the figure draws). Every mask is then evaluated with H_eval:
the ticket theta_0 * M_L trained for the *whole* schedule (A1 line 8, ``jobs.train_run``). Finding M_L costs
L * k epochs instead of the regular chain's L * E (the table's ``find_epochs`` / ``find_epochs_regular``;
``compute_saved`` = 1 - k / E). The curve "pruned at convergence" (k = E) is the regular pipeline's lottery
curve of (H_find, H_eval) (:func:`findeval.a1.plan.metrics_path`): no run twice. The point at 0% sparsity of an
early curve is the dense network trained k epochs with H_find (the chain's level 0), as in the paper.

**LPR through training (figA18, figA19).** One job per (H_find, replicate) retrains the dense level-0 run of
the find chain (same theta_0, H_find, data order: bit for bit the run of ``find/<H_find>/seed<s>/level0`` on
CPU) and, at initialisation (epoch 0) and after every epoch, computes the mask the first pruning step would
give (:func:`findeval.masks.global_magnitude_prune` of the current weights) and its LPR. No weights are saved:
the job writes one table, ``ratio`` per (epoch, layer) and ``final_ratio`` (the LPR at the last epoch, that of
the regular M_1). figA19's distance at epoch n is the mean over layers of ``|ratio(n) - final_ratio|`` (pp).
This job is not resumable (its hook measures every epoch): a killed job starts again from epoch 0.

Paths (beside the regular layout of :mod:`findeval.a1.plan`)::

    results/{exp}/early/find/{H_find}/epoch{k}/seed{s}/level{L}/trained.pt, metrics.json   L = 0..N-1
    results/{exp}/early/find/{H_find}/epoch{k}/seed{s}/level{L}/mask.h5, ticket.pt         L = 1..N
    results/{exp}/early/eval/{H_find}/epoch{k}/{H_eval}/seed{s}/level{L}/metrics.json      L = 1..N
    results/{exp}/early/lpr_trajectory/{H_find}/seed{s}.csv
    results/{exp}/early/{fig9,figA18,figA19}.csv       the numbers each figure draws

Config (optional block ``early_pruning``; without it, or with ``enabled: false``, none of this is planned):
``epochs`` (the k values; null: the paper's 20, 50 and 70 of 110 scaled to ``training.epochs``), ``lr_find``
(null: the LR find grid), ``h_eval`` (partial H; null: the defaults).

This module is pure Python on the config (the Snakefile imports it at parse time); the job steps are
:mod:`findeval.early.jobs`, the figures :mod:`findeval.early.plots`.
"""

from __future__ import annotations

import logging
from decimal import ROUND_HALF_UP, Decimal

from .. import paths
from ..a1 import plan as a1
from ..errors import ConfigError
from ..hparams import H, format_number

log = logging.getLogger("findeval")

FIGURES = ("fig9", "figA18", "figA19")
#: The paper's early pruning epochs (Fig. 9) out of its 110.
PAPER_EPOCHS = (20, 50, 70)
PAPER_TOTAL = 110


# =========================================================================== planning (parse time)


def _block(config: dict) -> dict:
    return config.get("early_pruning") or {}


def enabled(config: dict) -> bool:
    return "early_pruning" in config and config["early_pruning"] is not None and \
        bool(_block(config).get("enabled", True))


def total_epochs(config: dict) -> int:
    return int(config["training"]["epochs"])


def prune_epochs(config: dict) -> list[int]:
    """The epochs k at which masks are found, ascending: ``early_pruning.epochs``, or the paper's 20, 50 and
    70 of 110 scaled to ``training.epochs`` (rounded half up; duplicates and values outside 1..E-1 dropped)."""
    e = total_epochs(config)
    given = _block(config).get("epochs")
    if given is None:
        scaled = {int((Decimal(e * k) / PAPER_TOTAL).quantize(Decimal(1), ROUND_HALF_UP)) for k in PAPER_EPOCHS}
        ks = sorted(k for k in scaled if 1 <= k < e)
        if not ks:
            raise ConfigError(f"early_pruning.epochs: training.epochs = {e} leaves no epoch to prune early at")
        return ks
    bad = [k for k in given if not 1 <= int(k) < e]
    if bad:
        raise ConfigError(f"early_pruning.epochs: {bad} are not in 1..{e - 1} (training.epochs = {e}; pruning at "
                          f"convergence is the regular chain)")
    return sorted({int(k) for k in given})


def hfinds(config: dict) -> list[H]:
    """H_find of fig9, figA18 and figA19: the defaults with LR from ``early_pruning.lr_find`` (or the LR find grid)."""
    lrs = _block(config).get("lr_find") or a1.grid_values(config, "lr", "find")
    base = a1.default_h(config)
    return [base.replace(lr=v) for v in sorted(set(lrs))]


def figA18_hfinds(config: dict) -> list[H]:
    """H_find of figA18's panels, in order: ``figures.figA18.lr_find`` (paper L315: (a) 0.5, (b) 0.05), else
    the largest and the smallest of the early-pruning LR_find values (the paper's order: large first)."""
    lrs = ((config.get("figures") or {}).get("figA18") or {}).get("lr_find")
    if not lrs:
        own = sorted({h.lr for h in hfinds(config)})
        lrs = [own[-1], own[0]] if len(own) > 1 else own
    base = a1.default_h(config)
    return [base.replace(lr=v) for v in dict.fromkeys(lrs)]


def heval(config: dict) -> H:
    partial = _block(config).get("h_eval") or {}
    return a1.default_h(config).replace(**{k: v for k, v in partial.items() if v is not None})


def levels(config: dict) -> int:
    return a1.levels(config)


def data_path(config: dict, fig: str) -> str:
    """The table figure ``fig`` draws, written by its figure job (``results/<exp>/early/<fig>.csv``)."""
    return paths.table(config["experiment"], "early", fig)


def metrics_path(config: dict, hfind: H, epoch: int, he: H, seed: int, level: int) -> str:
    """Metrics of the mask found at ``epoch`` (k < E: early chain; k = E: the regular chain) at ``level``
    trained with ``he``; level 0 is the dense network trained k epochs with H_find."""
    exp = config["experiment"]
    if epoch == total_epochs(config):
        return a1.metrics_path(config, a1.Line("lottery", hfind, he), seed, level)
    if level == 0:
        return paths.level_file(paths.early_chain(exp, hfind.slug, epoch, seed), 0, "metrics")
    return paths.level_file(paths.early_eval(exp, hfind.slug, epoch, he.slug, seed), level, "metrics")


# --------------------------------------------------------------------------- rule file patterns


def chain_outputs(config: dict, exp: str) -> dict:
    """The files of an early chain job (levels 0..N-1 trained, masks and tickets 1..N) of experiment ``exp``."""
    d = paths.early_chain(exp, "{hfind}", "{epoch}", "{seed}")
    n = levels(config)
    return {**paths.per_level(d, 0, n - 1, "trained", "metrics"), **paths.per_level(d, 1, n, "mask", "ticket")}


def find_groups(config: dict, max_group: int) -> list[list[H]]:
    """The early-pruning H_find (:func:`hfinds`) whose chains of one pruning epoch k and replicate run in one job,
    in lock-step, when ``runtime.find_group`` = ``max_group`` >= 2 (:func:`findeval.early.jobs.early_chains`):
    those sharing a batch size, in chunks of at most ``max_group``, in H order (chains of different k stop at
    different epochs, so they are never grouped). None without an ``early_pruning`` block; a chain alone in its
    batch size keeps its early_find_chain job."""
    return a1.batch_groups(hfinds(config) if enabled(config) else [], lambda h: h.batch_size, max_group)


def group_outputs(config: dict, exp: str, hs: list[H]) -> dict:
    """The named outputs of one early-pruning find group (wildcards ``{epoch}``, ``{seed}``): chain j's files are
    ``c{j}_<name>_<level>``, those of its early_find_chain job (:func:`chain_outputs`)."""
    out = {}
    for j, h in enumerate(hs):
        d = paths.early_chain(exp, h.slug, "{epoch}", "{seed}")
        n = levels(config)
        files = {**paths.per_level(d, 0, n - 1, "trained", "metrics"), **paths.per_level(d, 1, n, "mask", "ticket")}
        out.update({f"c{j}_{name}": path for name, path in files.items()})
    return out


def eval_outputs(config: dict, exp: str) -> dict:
    d = paths.early_eval(exp, "{hfind}", "{epoch}", "{heval}", "{seed}")
    return paths.per_level(d, 1, levels(config), "metrics")


def eval_inputs(config: dict):
    n = levels(config)

    def inputs(w) -> dict:
        d = paths.early_chain(w.exp, w.hfind, w.epoch, w.seed)
        return {**paths.per_level(d, 1, n, start="ticket", mask="mask"), "data": paths.data(w.exp)}

    return inputs


# --------------------------------------------------------------------------- figures


def _files(config: dict, path_of, lvls) -> list[dict]:
    return [{"seed": int(s), "level": int(lv), "path": path_of(s, lv)} for s in config["seeds"] for lv in lvls]


def figure_params(config: dict, fig: str) -> dict:
    """Everything a figure job of this module draws, as plain values (Snakemake params)."""
    e, n, he = total_epochs(config), levels(config), heval(config)
    base = {"figure": fig, "epochs": e, "levels": n, "fraction": config["pruning"]["fraction"],
            "experiment": config["experiment"], "dataset": config["dataset"]["name"],
            "model": config["model"]["name"], "heval": he.slug,
            "milestones": list(config["training"].get("milestones") or [])}
    exp = config["experiment"]
    if fig == "fig9":
        panels = []
        for hf in hfinds(config):
            lines = []
            for k in [*prune_epochs(config), e]:
                label = f"pruned at epoch {k}" + (" (convergence)" if k == e else
                                                   f", find compute -{100 * (1 - k / e):.0f}%")
                lines.append({"label": label, "prune_epoch": k,
                              "files": _files(config, lambda s, lv, k=k, hf=hf: metrics_path(config, hf, k, he, s, lv),
                                              range(0, n + 1))})
            panels.append({"title": f"LR_find = {format_number(hf.lr)}; H_eval {he.slug}", "hfind": hf.slug,
                           "lines": lines})
        return {**base, "panels": panels}
    if fig in ("figA18", "figA19"):
        lines = [{"label": f"LR_find = {format_number(hf.lr)}", "hfind": hf.slug,
                  "files": [{"seed": int(s), "path": paths.lpr_trajectory(exp, hf.slug, s)} for s in config["seeds"]]}
                 for hf in (figA18_hfinds(config) if fig == "figA18" else hfinds(config))]
        return {**base, "lines": lines}
    raise ValueError(f"unknown early-pruning figure {fig!r}; choose from {FIGURES}")


def figure_inputs(config: dict, fig: str) -> list[str]:
    """The files figure ``fig`` reads (the registry's contract, :class:`findeval.figures.Family`): every file its
    lines list."""
    p = figure_params(config, fig)
    lines = [ln for panel in p["panels"] for ln in panel["lines"]] if fig == "fig9" else p["lines"]
    return sorted({f["path"] for ln in lines for f in ln["files"]})


def check(config: dict) -> None:
    """Config errors at parse time (epochs out of range, an invalid H)."""
    if enabled(config):
        prune_epochs(config)
        try:
            hfinds(config), heval(config), figA18_hfinds(config)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"early_pruning: {err}") from err
