"""The figure registry: every figure of the pipeline, the files it reads and how it draws (issue 14, outcome 3).

A figure belongs to one :class:`Family`. A family names

- its **planner**, a torch-free module with ``figure_inputs(config, fig)`` (the files the figure reads, at DAG
  time) and ``figure_params(config, fig)`` (its panels and everything else it draws, as plain values: Snakemake
  ``params``, so an edit re-runs only the figures it changes);
- its **plots** module, whose ``draw_figure`` draws it (job time; imported only by the figure job);
- how the files are read before drawing (``loader``: the A1 metrics table, the structured table, or none, when
  the plots module reads the files its params list), and whether it also writes the table it draws
  (``table``: the planner's ``data_path(config, fig)``);
- which of its figures are rules for a config (``rules``) and which belong to the default target (``default``).

One rule loop (``rules/figures.smk``) makes a rule per figure from :func:`rules`, and one script
(``scripts/figure.py``) calls :func:`draw`. The default target comes from :func:`default_target`.

Adding a figure: its planner entry (inputs, params), its drawing in the family's plots module, its report
caption (``report/<fig>.rst``, ``findeval.a1.plan.REPORT_FIGURES``); a new family is one :class:`Family` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Callable

from . import paths
from .a1 import plan
from .claims import plan as claims
from .structured import plan as structured_plan
from .datasets import dataset_ready


def _module(name: str):
    """``findeval.<name>`` (a planner or plots module, imported when first asked for)."""
    return import_module(f"findeval.{name}")


@dataclass(frozen=True)
class Family:
    """One kind of figure (see the module docstring). The contract of its two modules:

    - the **planner** (torch-free, imported by the Snakefile) has ``figure_inputs(config, fig) -> list[str]``, the
      files the figure reads (a rule's input function: called at DAG time), ``figure_params(config, fig) ->
      dict``, what it draws besides its files, as plain values (panels, lines with their files, levels,
      labels: the rule's ``params.figure``, read by the report captions too), and, for a family with ``table``,
      ``data_path(config, fig) -> str``, the CSV of what it draws;
    - the **plots** module has ``draw_figure``, called by :func:`draw` in the figure job with the signature the
      ``loader`` gives: ``"metrics"``: ``draw_figure(fig, params, table, *, pdf, png, style)`` (``table``: the A1
      summary of the files, :func:`findeval.analysis.load_metrics`); ``"structured"``: ``draw_figure(params,
      table, *, pdf, png, style)`` (the plots module's own ``load_table`` of the files); None: ``draw_figure(params,
      *, pdf, png, table_out, style)``, which reads the files listed in ``params`` itself and, with ``table_out``,
      writes the table of what it draws there. Every figure is written to ``pdf`` and ``png``, atomically.
    """

    #: the family's name (the figure rule's ``params.family``, :func:`draw`'s ``family``)
    name: str
    #: its planner, a module below ``findeval`` (``"lpr.plan"``)
    planner: str
    #: its plots module (``"lpr.plots"``)
    plots: str
    #: how the files are read before ``draw_figure``: ``"metrics"``, ``"structured"`` or None (the plots read them)
    loader: str | None
    #: whether the figure job also writes the table it draws (the planner's ``data_path``)
    table: bool
    #: the figures that get a rule, for a config
    rules: Callable[[dict], list]
    #: those of them in the default target, for a config
    default: Callable[[dict], list]

    def inputs(self, config: dict, fig: str) -> list[str]:
        """The planner's ``figure_inputs``: the files ``fig`` reads."""
        return _module(self.planner).figure_inputs(config, fig)

    def params(self, config: dict, fig: str) -> dict:
        """The planner's ``figure_params``: what ``fig`` draws, as plain values."""
        return _module(self.planner).figure_params(config, fig)

    def table_path(self, config: dict, fig: str) -> str | None:
        """The planner's ``data_path`` for a family that writes its table, else None."""
        return _module(self.planner).data_path(config, fig) if self.table else None


def _early_enabled(config: dict) -> bool:
    """Early pruning is on (``early.plan.enabled``)."""
    return _module("early.plan").enabled(config)


def _late(config: dict) -> bool:
    """fig4, figA13, figA14 need a late rewinding point (none for a schedule of one epoch)."""
    return _module("rewinding.plan").settings(config)["late_epoch"] is not None


def _structured_enabled(config: dict) -> bool:
    """Structured pruning is on (``structured.plan.enabled``)."""
    return _module("structured.plan").enabled(config)


def _figs(name: str) -> tuple:
    """The ``FIGURES`` of a planner."""
    return tuple(_module(name).FIGURES)


#: Every family, in the order of the paper's sections (the order of the default target's figures).
FAMILIES: tuple[Family, ...] = (
    Family("a1", "a1.plan", "a1.plots", loader="metrics", table=False,
           rules=lambda c: [*plan.FIGURES, *plan.other_figures(c)],
           default=lambda c: list(plan.FIGURES)),
    Family("lpr", "lpr.plan", "lpr.plots", loader=None, table=True,
           rules=lambda c: list(_figs("lpr.plan")), default=lambda c: list(_figs("lpr.plan"))),
    Family("rewinding", "rewinding.plan", "rewinding.plots", loader=None, table=True,
           rules=lambda c: list(_figs("rewinding.plan")),
           default=lambda c: list(_figs("rewinding.plan")) if _late(c) else []),
    Family("instability", "rewinding.instability_plan", "rewinding.plots", loader=None, table=True,
           rules=lambda c: list(_figs("rewinding.instability_plan")),
           default=lambda c: list(_figs("rewinding.instability_plan")) if _late(c) else []),
    Family("early", "early.plan", "early.plots", loader=None, table=True,
           rules=lambda c: list(_figs("early.plan")) if _early_enabled(c) else [],
           default=lambda c: list(_figs("early.plan")) if _early_enabled(c) else []),
    Family("structured", "structured.plan", "structured.plots", loader="structured", table=False,
           rules=lambda c: list(_figs("structured.plan")),
           default=lambda c: list(_figs("structured.plan")) if _structured_enabled(c) else []),
)


def family_of(config: dict, fig: str) -> Family:
    """The family whose rules include ``fig`` for this config."""
    for family in FAMILIES:
        if fig in family.rules(config):
            return family
    raise ValueError(f"figure {fig!r} is not a figure of this config; the figures are: "
                     f"{', '.join(f for f, _ in rules(config))}")


def rules(config: dict) -> list[tuple[str, Family]]:
    """``(figure, family)`` for every figure rule of this config (the loop of ``rules/figures.smk``)."""
    out, seen = [], set()
    for family in FAMILIES:
        for fig in family.rules(config):
            if fig in seen:
                raise ValueError(f"figure {fig!r} is registered twice (findeval.figures.FAMILIES)")
            seen.add(fig)
            out.append((fig, family))
    return out


def inputs(config: dict, fig: str) -> list[str]:
    """The files ``fig`` reads (an input function of its rule: evaluated at DAG time, not at parse time)."""
    return family_of(config, fig).inputs(config, fig)


def params(config: dict, fig: str) -> dict:
    """What the figure draws besides its files (its panels, levels, labels, ...): the planner's
    ``figure_params``, as plain values (the rule's ``params.figure``, which the report captions also read)."""
    return family_of(config, fig).params(config, fig)


def tables(config: dict, fig: str) -> dict:
    """The figure rule's extra output: ``{"table": path}`` for a family that writes the table it draws, else {}."""
    path = family_of(config, fig).table_path(config, fig)
    return {"table": path} if path else {}


def default_figures(config: dict) -> list[str]:
    """The figures of the default target: every family's default figures, and figA8/figA9 where their data is
    there to prepare (an unset ``dataset.root`` leaves them out)."""
    figs = [fig for family in FAMILIES for fig in family.default(config)]
    return figs + [fig for fig, runs in plan.other_model_configs(config).items() if dataset_ready(runs["dataset"])]


def figure_targets(config: dict) -> list[str]:
    """:func:`default_figures` as PDF and PNG files."""
    return plan.figure_files(config, default_figures(config))


def default_target(config: dict, experiments) -> dict[str, list[str]]:
    """The inputs of ``rule all``, by name: the summary, every default figure, the structured tables, the claims
    and the regime table of every experiment (``experiments``: the main one and figA8/figA9's)."""
    figures = figure_targets(config)
    return {
        "summary": [paths.summary(config["experiment"])],
        "figures": figures,
        "structured": structured_plan.targets(config),
        "claims": claims.targets(config),
        "regime": [paths.regime(name) for name in experiments],
    }


# --------------------------------------------------------------------------- job time


def draw(family: str, fig: str, params: dict, *, files: list[str], pdf: str, png: str, table: str | None,
         style: dict) -> None:
    """Draw ``fig`` (the figure job, ``scripts/figure.py``): read its files as the family says and call its plots
    module's ``draw_figure``."""
    fam = next((f for f in FAMILIES if f.name == family), None)
    if fam is None:
        raise ValueError(f"unknown figure family {family!r}; known: {', '.join(f.name for f in FAMILIES)}")
    plots = _module(fam.plots)
    if fam.loader == "metrics":
        from . import analysis

        plots.draw_figure(fig, params, analysis.load_metrics(files), pdf=pdf, png=png, style=style)
    elif fam.loader == "structured":
        plots.draw_figure(params, plots.load_table(list(files)), pdf=pdf, png=png, style=style)
    else:
        plots.draw_figure(params, pdf=pdf, png=png, table_out=table, style=style)
