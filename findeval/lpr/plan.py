"""Layerwise pruning ratios (LPR): the paper's Section 3.4 and its appendix figures (6, 7, 8, A15, A16, A17).

Two LPR-constrained variants of Algorithm A1, each run as its own iterative chain (train with H_find ->
prune -> rewind -> train ...), choosing *within* each layer by this chain's own magnitudes:

- **match-LPR** (``match_lpr``, Figure 7): at level L every layer keeps exactly the number of weights that
  a reference mask keeps in that layer, the reference being the regular (global) mask M_L of another
  H_find (H_ref) and the same replicate. ``match-good-LPR`` is a bad H_find matched to the good H_find's
  masks; ``match-bad-LPR`` the converse.
- **local** (``local``, Figures A15/A16): every layer is pruned by the same fraction p of *its own*
  remaining weights, ``k_l = round_half_up(p * n_l)`` in exact rational arithmetic (the global rule of
  :func:`findeval.masks.prune_count`, applied per layer). After L levels a layer of n weights keeps exactly
  ``kept_schedule(n, p, L)[L]`` weights, so all layers have the same ratio up to that per-layer rounding.
  (The total kept can differ by a few weights from the global schedule, which rounds once over all layers.)

Within a layer both prune the kept weights of smallest |w| (ties: lower flat index first), so masks are
monotone. Level 0 of a chain is the dense network trained with its H_find, the same run as the regular find
chain's level 0 (same theta_0, H_find, data order): chains start from ``find/<H_find>/.../level0/trained.pt``.
Pruning and rewinding are one job here (``prune_match_lpr`` / ``prune_local`` write ``mask.h5`` and its
ticket theta_0 * M): the same computation as A1's two rules, one process start fewer per level.

Paths (public, beside the regular layout of :mod:`findeval.a1.plan`)::

    results/{exp}/find_matched/{H_find}/match-{H_ref}/seed{s}/level{L}/{mask.h5,ticket.pt,trained.pt,metrics.json}
    results/{exp}/find_local/{H_find}/seed{s}/level{L}/{mask.h5,ticket.pt,trained.pt,metrics.json}
    results/{exp}/eval/matched/{H_find}/match-{H_ref}/{H_eval}/seed{s}/level{L}/metrics.json
    results/{exp}/eval/local/{H_find}/{H_eval}/seed{s}/level{L}/metrics.json
    results/{exp}/lpr/{figure}.csv             the numbers each LPR figure draws

As with lottery masks, evaluating a chain's mask with H_eval == its H_find is its own training (never run
twice). Mask files keep the format of :mod:`findeval.masks` with ``kind`` = ``match_lpr`` or ``local`` and
two more root attributes: ``constraint`` (the same) and ``H_ref`` (JSON; null for local masks).

This module is pure Python on the config (imported by the Snakefile at parse time: no numpy, torch or file
access); the job steps are :mod:`findeval.lpr.jobs`, the figures :mod:`findeval.lpr.plots`.
"""

from __future__ import annotations

import logging
import re

from .. import paths
from ..a1 import plan as a1
from ..errors import ConfigError
from ..hparams import DIMENSIONS, LABELS, SLUG, H, format_number

log = logging.getLogger("findeval")

#: The figure rules of this module, in the order of the paper.
FIGURES = ("fig6", "fig7", "fig8", "figA15", "figA16", "figA17")
CONSTRAINTS = ("match_lpr", "local")


# =========================================================================== planning (parse time)

#: The grammar of a ``{constrained}`` wildcard, a constrained chain's masks under evaluation
#: (``results/<exp>/eval/<constrained>/...``): ``matched/<H_find>/match-<H_ref>`` or ``local/<H_find>``.
CONSTRAINED = rf"(?:matched/{SLUG}/match-|local/){SLUG}"
#: The grammar of a ``{chain}`` wildcard, a constrained chain's folder: ``find_`` and a ``{constrained}``.
CHAIN = rf"find_(?:{CONSTRAINED})"
_CHAIN_OR_CONSTRAINED = re.compile(rf"(?:find_)?(?:{CONSTRAINED})")


def chain_name(constraint: str, hfind: str, href: str | None = None, find: bool = True) -> str:
    """The ``{chain}`` of a constrained chain (``find=False``: its ``{constrained}``, the spelling of its masks
    in evaluation folders); ``hfind``/``href`` are H slugs."""
    if constraint == "match_lpr":
        if not href:
            raise ValueError("a match_lpr chain needs the H_ref whose LPR it matches")
        name = f"matched/{hfind}/match-{href}"
    elif constraint == "local":
        name = f"local/{hfind}"
    else:
        raise ValueError(f"unknown LPR constraint {constraint!r}; choose from {CONSTRAINTS}")
    return f"find_{name}" if find else name


def chain_spec(chain: str) -> dict:
    """A ``{chain}`` (``find_matched/<H_find>/match-<H_ref>``, ``find_local/<H_find>``) or a ``{constrained}``
    (the same without ``find_``) -> constraint, hfind, href (H slugs). Accepts exactly the strings of
    :data:`CHAIN` and :data:`CONSTRAINED`."""
    if not _CHAIN_OR_CONSTRAINED.fullmatch(chain):
        raise ValueError(f"not an LPR-constrained chain: {chain!r} (find_matched/<H_find>/match-<H_ref>, "
                         "find_local/<H_find>, or either without find_)")
    parts = chain.removeprefix("find_").split("/")  # slugs hold no '/': SLUG says so
    if parts[0] == "matched":
        return {"constraint": "match_lpr", "hfind": parts[1], "href": parts[2].removeprefix("match-")}
    return {"constraint": "local", "hfind": parts[1], "href": None}


def chain_dir(exp: str, constraint: str, hfind: str, seed, level, href: str | None = None) -> str:
    """Folder of one level of an LPR-constrained chain of experiment ``exp`` (H slugs)."""
    return paths.level_dir(paths.lpr_chain(exp, chain_name(constraint, hfind, href), seed), level)


def chain_metrics_path(config: dict, constraint: str, hfind: H, heval: H, seed: int, level: int,
                       href: H | None = None) -> str:
    """The metrics.json of a constrained chain's mask of ``level`` trained with ``heval``."""
    exp = config["experiment"]
    if level == 0:  # the dense network trained with H_find: the regular find chain's level 0
        return paths.find_file(exp, hfind.slug, seed, 0, "metrics")
    ref = href.slug if href else None
    if heval == hfind:
        return paths.level_file(paths.lpr_chain(exp, chain_name(constraint, hfind.slug, ref), seed), level,
                                "metrics")
    sweep = paths.eval_sweep(exp, chain_name(constraint, hfind.slug, ref, find=False), heval.slug, seed)
    return paths.level_file(sweep, level, "metrics")


def mask_path(config: dict, hfind: H, seed: int, level: int) -> str:
    return paths.find_file(config["experiment"], hfind.slug, seed, level, "mask")


def data_path(config: dict, fig: str) -> str:
    """The table figure ``fig`` draws, written by its figure job (``results/<exp>/lpr/<fig>.csv``)."""
    return paths.table(config["experiment"], "lpr", fig)


# --------------------------------------------------------------------------- input functions of the rules


def _prune_inputs(w, chain: str) -> dict:
    level = int(w.level)
    if level < 1:
        raise ValueError("level 0 is the dense network: it has no mask")
    d = paths.lpr_chain(w.exp, chain, w.seed)
    trained = (paths.find_file(w.exp, w.hfind, w.seed, 0, "trained") if level == 1
               else paths.level_file(d, level - 1, "trained"))
    inputs = {"trained": trained, "start": paths.init(w.exp, w.seed)}
    if level > 1:
        inputs["parent"] = paths.level_file(d, level - 1, "mask")
    return inputs


def prune_match_lpr_input(w) -> dict:
    """Mask M_L of the chain (H_find matched to H_ref): this chain's weights trained at L-1, its mask M_{L-1},
    theta_0 (the rewind target) and the reference: H_ref's regular mask M_L of the same replicate."""
    inputs = _prune_inputs(w, chain_name("match_lpr", w.hfind, w.href))
    inputs["reference"] = paths.find_file(w.exp, w.href, w.seed, w.level, "mask")
    return inputs


def prune_local_input(w) -> dict:
    return _prune_inputs(w, chain_name("local", w.hfind))


def chain_train_input(w) -> dict:
    """Training a chain's level (``{chain}`` = find_matched/... or find_local/...) starts from its ticket."""
    d = paths.lpr_chain(w.exp, w.chain, w.seed)
    return {"start": paths.level_file(d, w.level, "ticket"), "mask": paths.level_file(d, w.level, "mask"),
            "data": paths.data(w.exp)}


def chain_eval_input(w) -> dict:
    """Evaluating a chain's mask (``{constrained}`` = matched/... or local/...) starts from the same ticket."""
    d = paths.lpr_chain(w.exp, f"find_{w.constrained}", w.seed)
    return {"start": paths.level_file(d, w.level, "ticket"), "mask": paths.level_file(d, w.level, "mask"),
            "data": paths.data(w.exp)}


def find_chain_input(w, levels: int) -> dict:
    """A whole constrained chain in one job (``lpr_find_chain``): theta_0, the regular chain's dense run and,
    for match-LPR, the reference chain's masks M_1..M_N."""
    spec = chain_spec(w.chain)
    inputs = {"data": paths.data(w.exp), "init": paths.init(w.exp, w.seed),
              "dense": paths.find_file(w.exp, spec["hfind"], w.seed, 0, "trained")}
    if spec["constraint"] == "match_lpr":
        inputs.update(paths.per_level(paths.find_chain(w.exp, spec["href"], w.seed), 1, levels, reference="mask"))
    return inputs


def group_chains(config: dict) -> list[str]:
    """Every constrained chain (``{chain}``) the LPR figures train, in name order: fig7's match-good-LPR and
    match-bad-LPR chains (one pair per hyperparameter), the local chains of figA15 (LR_find) and figA16 (BS_find,
    WD_find)."""
    chains = set()
    for p in fig7_pairs(config):
        chains.add(chain_name("match_lpr", p["bad"].slug, p["good"].slug))
        chains.add(chain_name("match_lpr", p["good"].slug, p["bad"].slug))
    base = a1.default_h(config)
    local = set(figA15_hfinds(config))
    for dim in ("batch_size", "weight_decay"):
        local.update(base.replace(**{dim: v}) for v in a1.grid_values(config, dim, "find"))
    chains.update(chain_name("local", h.slug) for h in local)
    return sorted(chains)


def find_groups(config: dict, max_group: int) -> list[list[str]]:
    """The constrained chains (:func:`group_chains`) a replicate's LPR find job trains together in lock-step when
    ``runtime.find_group`` = ``max_group`` >= 2 (:func:`findeval.lpr.jobs.constrained_chains`): those whose H_find
    share a batch size (so they see the same batches; LR and weight decay are per network), match-LPR and local
    alike, in chunks of at most ``max_group`` chains in name order. A chain alone in its batch size keeps its own
    lpr_find_chain job. As with :func:`findeval.a1.plan.find_groups`, a group job writes every chain it holds: a
    target that needs one of them (fig7 alone) trains the group."""
    return a1.batch_groups(group_chains(config), lambda chain: H.parse(chain_spec(chain)["hfind"]).batch_size,
                           max_group)


def extra_find_hs(config: dict) -> list[H]:
    """The regular find chains the LPR figures need beyond the find grid (:func:`findeval.a1.plan.find_hs`):
    fig8's (weight decay 0, LR_find from its grid) and figA15's LR_find values outside the grid (whose dense runs
    start its local chains), in H order."""
    grid = set(a1.find_hs(config))
    return sorted(set(fig8_hs(config)) | set(figA15_hfinds(config)) - grid)


def extra_find_groups(config: dict, max_group: int) -> list[list[H]]:
    """:func:`extra_find_hs` in find groups (``runtime.find_group``; :func:`findeval.a1.plan.find_groups`'s rule:
    by batch size, chunks of at most ``max_group``), apart from the grid's groups so that a target of the grid
    alone (fig2) never trains them."""
    return a1.find_groups(config, max_group, extra_find_hs(config))


def find_group_input(w, chains: list[str], levels: int) -> dict:
    """One LPR find group in one job (rules ``lpr_find_group_<i>``): the data, theta_0 and, per chain j of
    ``chains``, ``c{j}_dense`` (its H_find's dense run) and, for match-LPR, ``c{j}_reference_<L>`` (H_ref's
    masks M_1..M_N): the inputs of each chain's lpr_find_chain job (:func:`find_chain_input`)."""
    out = {"data": paths.data(w.exp), "init": paths.init(w.exp, w.seed)}
    for j, chain in enumerate(chains):
        spec = chain_spec(chain)
        out[f"c{j}_dense"] = paths.find_file(w.exp, spec["hfind"], w.seed, 0, "trained")
        if spec["constraint"] == "match_lpr":
            out.update({f"c{j}_{k}": v for k, v in paths.per_level(
                paths.find_chain(w.exp, spec["href"], w.seed), 1, levels, reference="mask").items()})
    return out


def find_group_outputs(exp: str, chains: list[str], levels: int) -> dict:
    """The named outputs of one LPR find group: chain j's files are ``c{j}_<name>_<level>``, the files of its
    lpr_find_chain job."""
    out = {}
    for j, chain in enumerate(chains):
        files = paths.per_level(paths.lpr_chain(exp, chain, "{seed}"), 1, levels, "mask", "ticket", "trained",
                                "metrics")
        out.update({f"c{j}_{name}": path for name, path in files.items()})
    return out


def eval_sweep_input(w, levels: int) -> dict:
    """Every level of a constrained chain evaluated in one job (``lpr_eval_sweep``): its tickets and masks."""
    d = paths.lpr_chain(w.exp, f"find_{w.constrained}", w.seed)
    return {**paths.per_level(d, 1, levels, start="ticket", mask="mask"), "data": paths.data(w.exp)}


# --------------------------------------------------------------------------- figure settings


def _levels(config: dict) -> int:
    return a1.levels(config)


def _check_level(key: str, level: int, n: int) -> int:
    if not 1 <= int(level) <= n:
        raise ConfigError(f"{key}: level {level} does not exist; pruning.levels = {n} (masks M_1..M_{n})")
    return int(level)


def _opts(config: dict, fig: str) -> dict:
    return config.get("figures", {}).get(fig) or {}


def fig6_level(config: dict) -> int:
    n = _levels(config)
    level = _opts(config, "fig6").get("level")
    return _check_level("figures.fig6.level", min(5, n) if level is None else level, n)


def figA17_levels(config: dict) -> list[int]:
    n = _levels(config)
    levels = _opts(config, "figA17").get("levels")
    if levels is None:
        levels = [1, max(1, n // 2), n]
    return sorted({_check_level("figures.figA17.levels", lv, n) for lv in levels})


def fig8_levels(config: dict) -> list[int]:
    n = _levels(config)
    levels = _opts(config, "fig8").get("levels")
    if levels is None:
        levels = sorted({min(5, n), min(10, n)})
        if len(levels) == 1:
            levels = sorted({max(1, n // 2), n})
    return [_check_level("figures.fig8.levels", lv, n) for lv in levels]


def _h_with(config: dict, partial: dict | None) -> H:
    return a1.default_h(config).replace(**{k: v for k, v in (partial or {}).items() if v is not None})


def fig7_pairs(config: dict) -> list[dict]:
    """Per hyperparameter: the good and bad H_find (the defaults with that one value moved). Default: the
    paper's notion, good = smallest LR, largest BS, smallest WD of the find grid, bad = the opposite.
    Hyperparameters whose good and bad values coincide (a one-value grid) have no panel."""
    opts = _opts(config, "fig7")
    base = a1.default_h(config)
    pairs = []
    for dim in DIMENSIONS:
        grid = a1.grid_values(config, dim, "find")
        small_good = dim != "batch_size"
        good = (opts.get("good") or {}).get(dim)
        bad = (opts.get("bad") or {}).get(dim)
        good = (min(grid) if small_good else max(grid)) if good is None else good
        bad = (max(grid) if small_good else min(grid)) if bad is None else bad
        if good != bad:
            pairs.append({"dim": dim, "good": base.replace(**{dim: good}), "bad": base.replace(**{dim: bad})})
    return pairs


def fig7_regular_bad(config: dict) -> bool:
    """Draw the fourth line "regular, bad" (the bad H_find's own lottery curve)? The paper draws three lines
    (caption L112: match-good-LPR, match-bad-LPR, regular good); ``figures.fig7.regular_bad: true`` adds it."""
    return bool(_opts(config, "fig7").get("regular_bad", False))


def fig7_heval(config: dict) -> H:
    return _h_with(config, _opts(config, "fig7").get("h_eval"))


def figA15_hfinds(config: dict) -> list[H]:
    """LR_find of Figure A15's lines: ``figures.figA15.lr_find`` (paper L301: 0.1, 0.2, 0.5), else the LR find grid."""
    base = a1.default_h(config)
    lrs = _opts(config, "figA15").get("lr_find") or a1.grid_values(config, "lr", "find")
    return [base.replace(lr=v) for v in sorted(set(lrs))]


def figA15_hevals(config: dict) -> list[H]:
    base = a1.default_h(config)
    lrs = _opts(config, "figA15").get("lr_eval")
    if lrs is None:
        lrs = [base.lr, max(a1.grid_values(config, "lr", "eval"))]
    return [base.replace(lr=v) for v in dict.fromkeys(lrs)]


def figA16_heval(config: dict) -> H:
    return _h_with(config, _opts(config, "figA16").get("h_eval"))


def fig8_hs(config: dict) -> list[H]:
    """H_find of Figure 8: weight decay 0, LR from figures.fig8.lr (default: the LR find grid)."""
    lrs = _opts(config, "fig8").get("lr") or a1.grid_values(config, "lr", "find")
    base = a1.default_h(config).replace(weight_decay=0.0)
    return [base.replace(lr=v) for v in sorted(set(lrs))]


def fig8_heval(config: dict) -> H:
    return _h_with(config, _opts(config, "fig8").get("h_eval"))


# --------------------------------------------------------------------------- figure contents


def _files(config: dict, path_of, levels) -> list[dict]:
    return [{"seed": int(s), "level": int(lv), "path": path_of(s, lv)} for s in config["seeds"] for lv in levels]


def _value(h: H, dim: str) -> str:
    return format_number(getattr(h, dim))


def _lpr_line(config: dict, h: H, dim: str, level: int, label: str | None = None) -> dict:
    return {"label": label or f"{LABELS[dim]}_find = {_value(h, dim)}", "style": None,
            "files": _files(config, lambda s, lv: mask_path(config, h, s, lv), [level])}


def _sparsity_pct(config: dict, level: int) -> str:
    frac = float(config["pruning"]["fraction"])
    return format_number(round(100 * (1 - (1 - frac) ** level), 1))


def _lpr_panel(config: dict, dim: str, level: int, hs: list[H] | None = None, title: str | None = None) -> dict:
    base = a1.default_h(config)
    hs = hs or [base.replace(**{dim: v}) for v in sorted(a1.grid_values(config, dim, "find"))]
    text = title or f"{LABELS[dim]}_find"
    return {"type": "lpr", "title": f"{text}, level {level} (~{_sparsity_pct(config, level)}% sparse)",
            "lines": [_lpr_line(config, h, dim, level) for h in hs]}


def _all_levels(config: dict) -> list[int]:
    return list(range(0, _levels(config) + 1))


def _lottery_line(config: dict, hfind: H, heval: H, label: str, style: str | None) -> dict:
    line = a1.Line("lottery", hfind, heval)
    return {"label": label, "style": style,
            "files": _files(config, lambda s, lv: a1.metrics_path(config, line, s, lv), _all_levels(config))}


def _chain_line(config: dict, constraint: str, hfind: H, heval: H, label: str, style: str | None,
                href: H | None = None) -> dict:
    return {"label": label, "style": style,
            "files": _files(config, lambda s, lv: chain_metrics_path(config, constraint, hfind, heval, s, lv, href),
                            _all_levels(config))}


def figure_panels(config: dict, fig: str) -> list[dict]:
    """The panels of an LPR figure: each ``{type: lpr|accuracy, title, lines: [{label, style, files}]}``,
    ``files`` being ``{seed, level, path}`` of mask files (lpr) or metrics files (accuracy)."""
    if fig == "fig6":
        return [_lpr_panel(config, dim, fig6_level(config)) for dim in DIMENSIONS]
    if fig == "figA17":
        return [_lpr_panel(config, dim, lv) for lv in figA17_levels(config) for dim in DIMENSIONS]
    if fig == "fig7":
        heval = fig7_heval(config)
        panels = []
        for p in fig7_pairs(config):
            dim, good, bad = p["dim"], p["good"], p["bad"]
            name, g, b = LABELS[dim], _value(good, dim), _value(bad, dim)
            panels.append({"type": "accuracy", "title": f"{name}: good {g}, bad {b}; H_eval {heval.slug}", "lines": [
                _chain_line(config, "match_lpr", bad, heval, f"match-good-LPR ({name}_find = {b}, LPR of {g})",
                            "match-good", href=good),
                _chain_line(config, "match_lpr", good, heval, f"match-bad-LPR ({name}_find = {g}, LPR of {b})",
                            "match-bad", href=bad),
                _lottery_line(config, good, heval, f"regular, good {name}_find = {g}", "regular-good"),
            ] + ([_lottery_line(config, bad, heval, f"regular, bad {name}_find = {b}", "regular-bad")]
                 if fig7_regular_bad(config) else [])})
        return panels
    if fig == "figA15":
        hfinds = figA15_hfinds(config)
        return [{"type": "accuracy", "title": f"local pruning, LR_eval = {_value(he, 'lr')}", "lines": [
            _chain_line(config, "local", hf, he, f"LR_find = {_value(hf, 'lr')}", None) for hf in hfinds]}
            for he in figA15_hevals(config)]
    if fig == "figA16":
        base, heval = a1.default_h(config), figA16_heval(config)
        panels = []
        for dim in ("batch_size", "weight_decay"):
            hfinds = [base.replace(**{dim: v}) for v in sorted(a1.grid_values(config, dim, "find"))]
            panels.append({"type": "accuracy", "title": f"local pruning, {LABELS[dim]}_find; H_eval {heval.slug}",
                           "lines": [_chain_line(config, "local", hf, heval, f"{LABELS[dim]}_find = {_value(hf, dim)}",
                                                 None) for hf in hfinds]})
        return panels
    if fig == "fig8":
        hs, heval = fig8_hs(config), fig8_heval(config)
        panels = [_lpr_panel(config, "lr", lv, hs, title="LR_find with WD_find = 0") for lv in fig8_levels(config)]
        panels.append({"type": "accuracy", "title": f"WD_find = 0; H_eval {heval.slug}", "lines": [
            _lottery_line(config, h, heval, f"LR_find = {_value(h, 'lr')}", None) for h in hs]})
        return panels
    raise ValueError(f"unknown LPR figure {fig!r}; choose from {FIGURES}")


#: The reading of the paper each figure follows where the paper contradicts itself (docs/scale.md,
#: D1-D9 of the notes on the paper); the figure prints it under its title.
NOTES = {
    "fig6": "Reading (D1): the text (L25, L114, L124) says the bad H_find (large LR, small BS, large WD) prunes early "
            "layers more; the caption (L108) says the opposite. Drawn as measured; we test the text's direction.",
    "figA17": "Reading (D1): as fig6, the text's direction (L114) against the caption's (L311); drawn as measured.",
    "fig7": "Green: the regular run of the good H_find, i.e. the same runs as Fig. 2 (D4: caption L112 'from "
            "Figure 2', text L118 'Section 3.1'); good/bad H_find as text L116.",
    "fig8": "Reading (D9): L124 'the larger LR_find does better', L130 'even slightly better', L154 'the LR no "
            "longer matters': drawn as measured.",
}


def figure_params(config: dict, fig: str) -> dict:
    """Everything an LPR figure job draws, as plain values (Snakemake params)."""
    return {"figure": fig, "panels": figure_panels(config, fig), "levels": _levels(config),
            "fraction": config["pruning"]["fraction"], "experiment": config["experiment"],
            "dataset": config["dataset"]["name"], "model": config["model"]["name"], "note": NOTES.get(fig)}


def figure_inputs(config: dict, fig: str) -> list[str]:
    """The files figure ``fig`` reads (the registry's contract, :class:`findeval.figures.Family`): every file its
    panels' lines list."""
    return sorted({f["path"] for panel in figure_panels(config, fig) for line in panel["lines"]
                   for f in line["files"]})
