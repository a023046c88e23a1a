"""Structured pruning (Algorithm A2): its settings, the path layout and the runs each figure needs.

Pure Python on the validated config dict, imported by the Snakefile at parse time: no torch, no file
system. The algorithm itself is in :mod:`findeval.structured`, the figures in
:mod:`findeval.structured.plots`. Path layout (a public interface, pinned by ``tests/test_structured.py``)::

    results/{exp}/structured/seed{s}/init.pt                              theta of the dense network (A2 line 1)
    results/{exp}/structured/find/{H_find}/seed{s}/dense/trained.pt       dense network trained with H_find (line 2)
    results/{exp}/structured/find/{H_find}/seed{s}/dense/metrics.json     its metrics (the 0% point of every curve)
    results/{exp}/structured/find/{H_find}/seed{s}/ratio{r}/pruned.pt     narrow network, kept weights (line 3)
    results/{exp}/structured/find/{H_find}/seed{s}/ratio{r}/channels.json kept channels, params and FLOPs
    results/{exp}/structured/finetune/{H_find}/{H_eval}/seed{s}/ratio{r}/metrics.json
        fine-tuned with H_eval from the pruned weights (line 4)
    results/{exp}/structured/scratch_e/{H_find}/{H_eval}/seed{s}/ratio{r}/metrics.json
        same architecture, new random init, E epochs
    results/{exp}/structured/scratch_b/{H_find}/{H_eval}/seed{s}/ratio{r}/metrics.json
        same, E * FLOPs_dense / FLOPs_pruned epochs
    results/{exp}/structured/speed.csv                                    inference images/s, dense vs narrow
    results/{exp}/structured/summary.csv                                  every structured run, one row each

``{r}`` is the pruning ratio (fraction of the prunable channels removed) spelled like a hyperparameter
(``ratio0.2``), ``{H_find}``/``{H_eval}`` are :attr:`findeval.hparams.H.slug` spellings. Unlike A1, the
coupled evaluation (H_eval == H_find) is a run of its own: fine-tuning starts from the trained dense
weights, which no find run reproduces.

The whole block is optional: without ``structured:`` in the config (or with ``enabled: false``) no
structured job is planned and the figure lists are empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import paths
from ..hparams import DIMENSIONS, POSITIVE, H, format_number

FIGURES = ("fig5", "figA10", "figA11", "figA12", "figRethinking")
#: Figs. A10-A12: all combinations of the grid of one hyperparameter.
APPENDIX_FIGURES = {"figA10": "lr", "figA11": "batch_size", "figA12": "weight_decay"}
#: ``dense``: A2 line 2 (the 0% points); ``finetune``: A2 line 4; ``scratch_e`` / ``scratch_b``: Liu et al. (2019).
KINDS = ("dense", "finetune", "scratch_e", "scratch_b")
#: The two x axes of every figure: fraction of channels pruned (top rows), of parameters pruned (bottom rows).
X_AXES = ("channels", "params")


#: The readings of the paper each figure follows, printed under its title (docs/scale.md, "The readings we chose").
NOTES = {
    "fig5": "Two H_find x two H_eval per hyperparameter (L94; values not stated in the paper). The caption's "
            "'Figures A11-A12 for full results' reads A10-A12 (D5): A10 is the LR figure (L279).",
}


class StructuredConfigError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Line:
    """One curve: a kind of run on the architectures pruned from the dense net trained with ``hfind``."""

    kind: str
    hfind: H
    heval: H

    @property
    def coupled(self) -> bool:
        return self.hfind == self.heval


# --------------------------------------------------------------------------- settings


def enabled(config: dict) -> bool:
    block = config.get("structured")
    return bool(block) and bool(block.get("enabled", True))


def settings(config: dict) -> dict | None:
    """The ``structured`` block with its fall-backs resolved (``model`` and ``seeds`` default to the
    top-level ones), or None when structured pruning is off."""
    if not enabled(config):
        return None
    s = dict(config["structured"])
    s["model"] = dict(s.get("model") or config["model"])
    s["seeds"] = list(s.get("seeds") or config["seeds"])
    return s


def default_h(config: dict) -> H:
    return H(**config["structured"]["defaults"])


def grid(config: dict, dim: str, phase: str) -> list:
    return list(config["structured"]["grids"][dim][phase])


def _figures(config: dict) -> dict:
    return config["structured"].get("figures") or {}


def x_axes(config: dict, fig: str) -> tuple[str, ...]:
    """The x axes of a figure's row sets: the paper's fig5/figA10-A12 have one (channels pruned);
    ``structured.figures.params_axis: true`` adds the parameters pruned. figRethinking draws both."""
    if fig == "figRethinking" or _figures(config).get("params_axis"):
        return X_AXES
    return X_AXES[:1]


def fig5_values(config: dict, dim: str) -> tuple[list, list]:
    """fig5's two H_find and two H_eval values of ``dim``: ``structured.figures.fig5.<dim>`` (the paper, L94,
    does not state them), else the smallest and the largest of the structured grid."""
    given = (_figures(config).get("fig5") or {}).get(dim) or {}
    finds = given.get("find") or [min(grid(config, dim, "find")), max(grid(config, dim, "find"))]
    evals = given.get("eval") or [min(grid(config, dim, "eval")), max(grid(config, dim, "eval"))]
    return sorted(set(finds)), sorted(set(evals))


def ratios(config: dict) -> list[float]:
    return [float(r) for r in config["structured"]["ratios"]]


#: The grammar of a ``{ratio}`` wildcard: a positive number spelled like a hyperparameter
#: (:data:`findeval.hparams.POSITIVE`); :func:`parse_ratio` accepts exactly these strings.
RATIO = POSITIVE
_RATIO = re.compile(RATIO)


def ratio_slug(ratio: float) -> str:
    return format_number(float(ratio))


def parse_ratio(text: str) -> float:
    """A ``{ratio}`` as a number (``0.2``, ``5e-4``); ValueError for a string outside :data:`RATIO`."""
    if not _RATIO.fullmatch(text):
        raise ValueError(f"not a pruning ratio: {text!r} (a positive number such as 0.2 or 5e-4)")
    return float(text)


def rethinking_hs(config: dict) -> tuple[H, list[H]]:
    """H_find of figRethinking's pruned architectures and the H_eval of each of its panels.

    Defaults: H_find = the defaults; H_eval = H_find (coupled) and H_find with the largest LR_eval of the
    grid (decoupled), unless ``structured.figures.figRethinking`` says otherwise.
    """
    base = default_h(config)
    opts = (config["structured"].get("figures") or {}).get("figRethinking") or {}
    hfind = base.replace(**(opts.get("hfind") or {}))
    hevals = opts.get("heval")
    if hevals:
        out = [hfind.replace(**h) for h in hevals]
    else:
        out = [hfind, hfind.replace(lr=max(grid(config, "lr", "eval")))]
    return hfind, list(dict.fromkeys(out))


def speed_hfind(config: dict) -> H:
    """The speed table measures the architectures of figRethinking's H_find."""
    return rethinking_hs(config)[0]


def check(config: dict) -> None:
    """What the schema cannot say about the ``structured`` block; raises naming the key and value."""
    if not enabled(config):
        return
    s = config["structured"]
    tr = s["training"]
    late = [m for m in tr.get("milestones", []) if m >= tr["epochs"]]
    if late:
        raise StructuredConfigError(
            f"structured.training.milestones: {late} are not below structured.training.epochs = {tr['epochs']}")
    if list(tr.get("milestones", [])) != sorted(tr.get("milestones", [])):
        raise StructuredConfigError(f"structured.training.milestones must be increasing, got {tr['milestones']}")
    if tr.get("warmup_epochs", 0) > tr["epochs"]:
        raise StructuredConfigError(f"structured.training.warmup_epochs = {tr['warmup_epochs']} exceeds "
                                    f"structured.training.epochs = {tr['epochs']}")
    try:
        base = default_h(config)
    except (TypeError, ValueError) as err:
        raise StructuredConfigError(f"structured.defaults: {err}") from err
    for dim in DIMENSIONS:
        for phase in ("find", "eval"):
            for v in grid(config, dim, phase):
                try:
                    base.replace(**{dim: v})
                except (TypeError, ValueError) as err:
                    raise StructuredConfigError(f"structured.grids.{dim}.{phase}: {err}") from err
    bad = [r for r in s["ratios"] if not 0 < float(r) < 1]
    if bad:
        raise StructuredConfigError(f"structured.ratios: {bad} are not in (0, 1) (fraction of channels pruned)")
    slugs = [ratio_slug(r) for r in s["ratios"]]
    if len(set(slugs)) != len(slugs):
        raise StructuredConfigError(f"structured.ratios: {s['ratios']} name the same ratio twice")
    for dim in DIMENSIONS:
        for v in (x for values in fig5_values(config, dim) for x in values):
            try:
                base.replace(**{dim: v})
            except (TypeError, ValueError) as err:
                raise StructuredConfigError(f"structured.figures.fig5.{dim}: {err}") from err
    try:
        rethinking_hs(config)
    except (TypeError, ValueError) as err:
        raise StructuredConfigError(f"structured.figures.figRethinking: {err}") from err


# --------------------------------------------------------------------------- paths (findeval.paths)


def metrics_path(config: dict, line: Line, seed: int, ratio: float) -> str:
    """The metrics.json of ``line`` at ``ratio`` (ratio 0: the dense network trained with H_find)."""
    if line.kind not in KINDS:
        raise ValueError(f"unknown kind {line.kind!r}; choose from {KINDS}")
    if ratio == 0 or line.kind == "dense":
        if line.kind in ("scratch_e", "scratch_b"):
            raise ValueError("Scratch-E / Scratch-B train pruned architectures: ratio must be > 0")
        return paths.structured_dense(config["experiment"], line.hfind.slug, seed, "metrics")
    return paths.structured_run(config["experiment"], line.kind, line.hfind.slug, line.heval.slug, seed,
                                ratio_slug(ratio))


def line_files(config: dict, line: Line) -> list[str]:
    """Every metrics file of a curve: fine-tuning curves start at the dense network (0%)."""
    first = [0.0] if line.kind == "finetune" else []
    return [metrics_path(config, line, seed, r) for seed in settings(config)["seeds"]
            for r in first + ratios(config)]


# --------------------------------------------------------------------------- figures


def _pairs(config: dict, dim: str, finds: list, evals: list) -> list[Line]:
    base = default_h(config)
    return [Line("finetune", base.replace(**{dim: f}), base.replace(**{dim: e})) for f in finds for e in evals]


def figure_panels(config: dict, fig: str) -> list[dict]:
    """Panels of a structured figure: dicts with ``row``, ``col``, ``x`` (channels or params), ``dim``,
    ``compare`` (all, find, eval or rethinking), ``constant`` (an H or None) and ``lines``.

    fig5: per hyperparameter, the smallest and largest H_find by the smallest and largest H_eval of the grid.
    figA10-A12: per H_eval of the grid, its lines for every H_find (``compare = find``); per H_find,
    its lines for every H_eval (``compare = eval``). figRethinking: per H_eval, fine-tuning vs Scratch-E vs
    Scratch-B. Each row set is drawn twice: against channels pruned, then against parameters pruned.
    """
    base = default_h(config)
    panels = []
    if fig == "fig5":
        for row, x in enumerate(x_axes(config, fig)):
            for col, dim in enumerate(DIMENSIONS):
                finds, evals = fig5_values(config, dim)
                panels.append({"row": row, "col": col, "x": x, "dim": dim, "compare": "all", "constant": None,
                               "lines": _pairs(config, dim, finds, evals)})
    elif fig in APPENDIX_FIGURES:
        dim = APPENDIX_FIGURES[fig]
        finds, evals = grid(config, dim, "find"), grid(config, dim, "eval")
        pairs = _pairs(config, dim, finds, evals)
        row = 0
        for x in x_axes(config, fig):
            for compare, values in (("find", evals), ("eval", finds)):
                for col, v in enumerate(values):
                    const = base.replace(**{dim: v})
                    lines = [ln for ln in pairs if (ln.heval if compare == "find" else ln.hfind) == const]
                    panels.append({"row": row, "col": col, "x": x, "dim": dim, "compare": compare,
                                   "constant": const, "lines": lines})
                row += 1
    elif fig == "figRethinking":
        hfind, hevals = rethinking_hs(config)
        for row, x in enumerate(x_axes(config, fig)):
            for col, he in enumerate(hevals):
                panels.append({"row": row, "col": col, "x": x, "dim": None, "compare": "rethinking",
                               "constant": he, "lines": [Line(k, hfind, he) for k in ("finetune", "scratch_e",
                                                                                      "scratch_b")]})
    else:
        raise ValueError(f"unknown structured figure {fig!r}; choose from {', '.join(FIGURES)}")
    return panels


def figure_lines(config: dict, fig: str) -> list[Line]:
    return sorted({ln for p in figure_panels(config, fig) for ln in p["lines"]},
                  key=lambda ln: (ln.kind, ln.hfind.slug, ln.heval.slug))


def figure_inputs(config: dict, fig: str) -> list[str]:
    """The metrics files a figure draws (empty when structured pruning is off)."""
    if not enabled(config):
        return []
    return sorted({f for line in figure_lines(config, fig) for f in line_files(config, line)})


def all_inputs(config: dict) -> list[str]:
    """Every metrics file of every structured figure (the structured summary's inputs)."""
    if not enabled(config):
        return []
    return sorted({f for fig in FIGURES for f in figure_inputs(config, fig)})


def figure_params(config: dict, fig: str) -> dict:
    """Everything a figure job draws, as plain values (Snakemake params: an edit re-runs only figures)."""
    if not enabled(config):
        return {}
    s = settings(config)
    panels = [{**{k: p[k] for k in ("row", "col", "x", "dim", "compare")},
               "constant": p["constant"].slug if p["constant"] else None,
               "lines": [[ln.kind, ln.hfind.slug, ln.heval.slug] for ln in p["lines"]]}
              for p in figure_panels(config, fig)]
    return {"figure": fig, "panels": panels, "ratios": ratios(config), "experiment": config["experiment"],
            "dataset": config["dataset"]["name"], "model": s["model"], "epochs": s["training"]["epochs"],
            "seeds": len(s["seeds"]), "note": NOTES.get(fig)}


def speed_inputs(config: dict) -> dict:
    """The dense network and its pruned versions (every ratio) timed by the speed table (first seed)."""
    if not enabled(config):
        return {}
    hfind, seed = speed_hfind(config), settings(config)["seeds"][0]
    exp = config["experiment"]
    return {"dense": paths.structured_dense(exp, hfind.slug, seed, "trained"),
            "pruned": [paths.structured_pruned(exp, hfind.slug, seed, ratio_slug(r), "pruned") for r in ratios(config)]}


def targets(config: dict) -> list[str]:
    """What the default target adds besides the structured figures (findeval.figures): the speed table and the
    summary."""
    if not enabled(config):
        return []
    return [paths.structured_speed(config["experiment"]), paths.structured_summary(config["experiment"])]
