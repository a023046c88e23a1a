"""Which runs each figure needs, and where their files live.

Pure Python on the (validated) config dict, imported by the Snakefile at parse time: it never touches
the file system or torch. The path layout is a public interface (documented in docs/pipeline.md, spelled by
:mod:`findeval.paths` and pinned by ``tests/test_plan.py``):

    results/{exp}/seed{s}/init.pt                                   theta_0 of replicate s
    results/{exp}/seed{s}/reinit.pt                                 new random init of the random baselines
    results/{exp}/find/{H_find}/seed{s}/level{L}/ticket.pt          rewound weights theta_0 * M_L (L >= 1)
    results/{exp}/find/{H_find}/seed{s}/level{L}/mask.h5            mask M_L (L >= 1)
    results/{exp}/find/{H_find}/seed{s}/level{L}/trained.pt         theta_0 * M_L trained with H_find
    results/{exp}/find/{H_find}/seed{s}/level{L}/metrics.json       its metrics (also the coupled evaluation)
    results/{exp}/random/global/seed{s}/level{L}/mask.h5            global random mask
    results/{exp}/random/preserve_lpr/{H_find}/seed{s}/level{L}/mask.h5
    results/{exp}/eval/lottery/{H_find}/{H_eval}/seed{s}/level{L}/metrics.json
    results/{exp}/eval/preserve_lpr/{H_find}/{H_eval}/seed{s}/level{L}/metrics.json
    results/{exp}/eval/global_random/{H_eval}/seed{s}/level{L}/metrics.json
    results/{exp}/summary.csv
    results/{exp}/figures/{figure}.pdf, .png                        every figure of the experiment (figure_path)

The committed gallery ``figures/<figure>.png`` is written only by the ``gallery`` target (gallery_path), never
by an ordinary run, so two experiments (or a test's tiny config) never overwrite each other's figures.

Figures A8 and A9 (``other_models``) draw the same files of a second experiment, ``results/<its name>/...``, whose
config :func:`other_model_configs` derives from the main one.

Evaluating a lottery mask with H_eval == H_find is, by definition, its find training (same theta_0, mask,
hyperparameters and data order), so that evaluation is never run twice: its metrics are the find run's.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from .. import paths
from ..hparams import DIMENSIONS, SLUG, H

KINDS = ("lottery", "global_random", "preserve_lpr")
FIGURES = (
    "fig1",
    "fig2",
    "fig3",
    "figA1",
    "figA2",
    "figA3",
    "figA4",
    "figA5",
    "figA6",
    "figA7",
)
#: figA2..A7: (dimension, kind of figure) -- "grid" is the 2x3 all-combinations figure, "all" one panel.
APPENDIX_FIGURES = {
    "figA2": ("lr", "grid"),
    "figA3": ("lr", "all"),
    "figA4": ("batch_size", "grid"),
    "figA5": ("batch_size", "all"),
    "figA6": ("weight_decay", "grid"),
    "figA7": ("weight_decay", "all"),
}


#: Section 3.3, other models and datasets: the LR panels of Fig. 2 on another experiment (config ``other_models``).
OTHER_FIGURES = ("figA8", "figA9")
#: Blocks an ``other_models`` entry may replace; the pruning schedule and the runtime stay the main experiment's.
OTHER_MODEL_BLOCKS = ("dataset", "model", "training", "defaults", "seeds")


@dataclass(frozen=True, order=True)
class Line:
    """One curve of a figure: a kind of mask, the H_find that found it and the H_eval that trained it.

    ``global_random`` masks do not depend on H_find (``hfind`` is None).
    """

    kind: str
    hfind: H | None
    heval: H

    @property
    def coupled(self) -> bool:
        return self.hfind == self.heval


def default_h(config: dict) -> H:
    return H(**config["defaults"])


def grid_values(config: dict, dim: str, phase: str) -> list:
    return list(config["grids"][dim][phase])


def find_hs(config: dict) -> list[H]:
    """Every H_find value of the config: the defaults with one dimension moved along its find grid."""
    base = default_h(config)
    hs = {base}
    for dim in DIMENSIONS:
        hs.update(base.replace(**{dim: v}) for v in grid_values(config, dim, "find"))
    return sorted(hs)


def find_groups(config: dict, max_group: int, hs: list[H] | None = None) -> list[list[H]]:
    """The H_find chains of the find grid (:func:`find_hs`; or of ``hs``) that a replicate's find job trains
    together in lock-step when ``runtime.find_group`` = ``max_group`` > 0 (:func:`findeval.a1.jobs.find_chains`):
    those sharing a batch size (so they see the same batches; LR and weight decay are per network), in chunks of
    at most ``max_group`` chains, in H order. Chains alone in their batch size keep their own find_chain job. The
    H_find outside the grid that the LPR figures add are grouped among themselves
    (:func:`findeval.lpr.plan.extra_find_groups`), so that fig2 trains only its own chains."""
    return batch_groups(sorted(set(find_hs(config) if hs is None else hs)), lambda h: h.batch_size, max_group)


def batch_groups(items: list, batch_size, max_group: int) -> list[list]:
    """The one grouping rule of ``runtime.find_group`` = ``max_group`` (every chain family's ``find_groups``):
    ``items`` (chains, in their order) by ``batch_size(item)``, ascending, in chunks of at most ``max_group``;
    a chunk of one is no group (that chain keeps its own job). ``max_group`` 0 or 1: no groups."""
    if max_group < 0:
        raise ValueError(f"runtime.find_group {max_group}: expected 0 (none) or a group size >= 1")
    if max_group < 2:
        return []
    by_bs: dict[int, list] = {}
    for item in items:
        by_bs.setdefault(batch_size(item), []).append(item)
    out = []
    for bs in sorted(by_bs):
        chunks = [by_bs[bs][i : i + max_group] for i in range(0, len(by_bs[bs]), max_group)]
        out.extend(c for c in chunks if len(c) > 1)
    return out


def seed_groups(config: dict, max_group: int, hs: list[H] | None = None) -> list[tuple[H, list[int]]]:
    """The find chains that no group of their own replicate holds (alone in their batch size:
    :func:`find_groups` of the find grid, or of ``hs``), grouped across replicates when ``runtime.find_group`` =
    ``max_group`` >= 2: (H_find, seeds) in chunks of at most ``max_group`` seeds, in the config's seed order,
    one job in lock-step (rules ``find_seeds_group_<i>``; each network its own data order). On config.yaml: the
    small- and the large-batch chain, each of every seed in one job."""
    if max_group < 2:
        return []
    hs = sorted(set(find_hs(config) if hs is None else hs))
    held = {h for g in find_groups(config, max_group, hs) for h in g}
    seeds = [int(s) for s in config["seeds"]]
    chunks = [seeds[i : i + max_group] for i in range(0, len(seeds), max_group)]
    return [(h, c) for h in hs if h not in held for c in chunks if len(c) > 1]


def levels(config: dict) -> int:
    return int(config["pruning"]["levels"])


# --------------------------------------------------------------------------- paths


#: The grammar of a ``{source}`` wildcard, the masks an evaluation trains (rules/eval.smk, chains.smk):
#: ``lottery/<H_find>``, ``preserve_lpr/<H_find>`` or ``global_random``. :func:`parse_source` accepts exactly
#: these strings, :func:`source` spells them.
SOURCE = rf"(?:lottery|preserve_lpr)/{SLUG}|global_random"
_SOURCE = re.compile(SOURCE)


def source(kind: str, hfind: str | None) -> str:
    """The ``{source}`` of a mask kind (``hfind``: the H_find slug; None for global random masks)."""
    if kind == "global_random":
        return "global_random"
    if kind in ("lottery", "preserve_lpr"):
        return f"{kind}/{hfind}"
    raise ValueError(f"unknown kind {kind!r}; choose from {KINDS}")


def parse_source(text: str) -> tuple[str, str | None]:
    """``lottery/<H_find>`` -> (``lottery``, the H_find slug); ``global_random`` -> (``global_random``, None)."""
    if not _SOURCE.fullmatch(text):
        raise ValueError(f"not a mask source: {text!r} (lottery/<H_find>, preserve_lpr/<H_find>, global_random)")
    kind, _, hfind = text.partition("/")
    return kind, hfind or None


def source_masks(exp: str, kind: str, hfind: str | None, seed) -> str:
    """The chain folder that holds a mask source's masks (``level<L>/mask.h5``): the find chain's for lottery
    masks, the random masks' folders for the baselines."""
    if kind == "lottery":
        return paths.find_chain(exp, hfind, seed)
    if kind == "preserve_lpr":
        return paths.preserve_lpr_masks(exp, hfind, seed)
    if kind == "global_random":
        return paths.global_random_masks(exp, seed)
    raise ValueError(f"unknown kind {kind!r}; choose from {KINDS}")


def exp_dir(config: dict) -> str:
    return paths.exp_dir(config["experiment"])


def find_dir(config: dict, hfind: H, seed: int, level: int) -> str:
    return paths.find_level(config["experiment"], hfind.slug, seed, level)


def metrics_path(config: dict, line: Line, seed: int, level: int) -> str:
    """The metrics.json that holds ``line`` at ``level`` for ``seed``."""
    exp = config["experiment"]
    if line.kind == "lottery":
        if level == 0 or line.coupled:
            # level 0 is the dense model trained with H_find (the paper's points at 0% sparsity)
            return paths.find_file(exp, line.hfind.slug, seed, level, "metrics")
    elif level == 0:
        raise ValueError("random baselines start at level 1")
    sweep = paths.eval_sweep(exp, source(line.kind, line.hfind and line.hfind.slug), line.heval.slug, seed)
    return paths.level_file(sweep, level, "metrics")


def line_files(config: dict, line: Line) -> list[str]:
    first = 0 if line.kind == "lottery" else 1
    return [
        metrics_path(config, line, seed, level)
        for seed in config["seeds"]
        for level in range(first, levels(config) + 1)
    ]


# --------------------------------------------------------------------------- figure files and the report

#: Where the committed gallery lives, and the formats every figure rule writes (:mod:`findeval.paths`).
GALLERY_DIR = paths.GALLERY_DIR
FIGURE_FORMATS = paths.FIGURE_FORMATS

#: Paper sections, the report's categories.
SECTION_FAILING = "3.1 Failing lottery tickets"
SECTION_DECOUPLED = "3.2 The decoupled find-eval phenomenon"
SECTION_OTHER = "3.3 Other models, configurations and structured pruning"
SECTION_LPR = "3.4 Layerwise pruning ratios"
SECTION_EARLY = "3.5 Early pruning"

#: Every figure a rule draws: (report category = paper section, the paper figure it reproduces).
#: figRethinking is no figure of the paper: it is Liu et al. (2019)'s Scratch-E/B comparison on our runs.
REPORT_FIGURES = {
    "fig1": (SECTION_FAILING, "Figure 1"),
    "figA1": (SECTION_FAILING, "Figure A1"),
    "fig2": (SECTION_DECOUPLED, "Figure 2"),
    "fig3": (SECTION_DECOUPLED, "Figure 3"),
    **{f"figA{i}": (SECTION_DECOUPLED, f"Figure A{i}") for i in range(2, 8)},
    "figA8": (SECTION_OTHER, "Figure A8"),
    "figA9": (SECTION_OTHER, "Figure A9"),
    "fig4": (SECTION_OTHER, "Figure 4"),
    "figA13": (SECTION_OTHER, "Figure A13"),
    "figA14": (SECTION_OTHER, "Figure A14"),
    "fig5": (SECTION_OTHER, "Figure 5"),
    "figA10": (SECTION_OTHER, "Figure A10"),
    "figA11": (SECTION_OTHER, "Figure A11"),
    "figA12": (SECTION_OTHER, "Figure A12"),
    "figRethinking": (SECTION_OTHER, "Scratch-E/B (Liu et al., 2019)"),
    "fig6": (SECTION_LPR, "Figure 6"),
    "fig7": (SECTION_LPR, "Figure 7"),
    "fig8": (SECTION_LPR, "Figure 8"),
    "figA15": (SECTION_LPR, "Figure A15"),
    "figA16": (SECTION_LPR, "Figure A16"),
    "figA17": (SECTION_LPR, "Figure A17"),
    "fig9": (SECTION_EARLY, "Figure 9"),
    "figA18": (SECTION_EARLY, "Figure A18"),
    "figA19": (SECTION_EARLY, "Figure A19"),
    "claims": ("Claims", "Claims of the paper"),
}


def figure_dir(config: dict) -> str:
    """The figures of one experiment: ``results/<experiment>/figures``."""
    return paths.figure_dir(config["experiment"])


def figure_path(config: dict, fig: str, ext: str = "pdf") -> str:
    """``results/<experiment>/figures/<fig>.<ext>`` (:func:`findeval.paths.figure`) of one of
    :data:`FIGURE_FORMATS`: every rule and planner asks here for a figure's file."""
    if ext not in FIGURE_FORMATS:
        raise ValueError(f"unknown figure format {ext!r}; choose from {FIGURE_FORMATS}")
    return paths.figure(config["experiment"], fig, ext)


def figure_files(config: dict, figs) -> list[str]:
    """Every figure of ``figs`` as PDF and PNG, in the experiment's figure folder."""
    return [figure_path(config, fig, ext) for fig in figs for ext in FIGURE_FORMATS]


def gallery_path(fig: str, ext: str = "png") -> str:
    """The committed gallery's copy of a figure: ``figures/<fig>.<ext>`` (the ``gallery`` target)."""
    return paths.gallery(fig, ext)


def gallery_files(config: dict, files) -> list[str]:
    """The gallery copies (``figures/<name>.png``) of the experiment's figure PNGs among ``files`` (other files,
    such as tables, are left out)."""
    folder = figure_dir(config) + "/"
    return [gallery_path(f[len(folder):-len(".png")]) for f in files if f.startswith(folder) and f.endswith(".png")]


def report_only(argv) -> bool:
    """Whether a Snakemake command line only writes a report: ``--report`` without ``--report-after-run``. Such a
    run starts no job, so the rules mark for the report only the report files that exist (``reported`` in
    rules/figures.smk): the report of a partial run holds what that run made, instead of Snakemake failing on
    "marked for report but does not exist". With ``--report-after-run`` every file is marked (the run makes them)."""
    words = [str(w) for w in argv]
    return any(w == "--report" or w.startswith("--report=") for w in words) and "--report-after-run" not in words


def check_gallery(config: dict, marker: str) -> None:
    """Refuse to copy this experiment's figures into a gallery of another: ``marker`` (``figures/experiment.txt``)
    names the experiment the committed gallery holds; a missing marker is an empty gallery. Read when the DAG is
    built, only by the gallery rules."""
    import os

    if not os.path.exists(marker):
        return
    with open(marker) as fh:
        held = fh.read().strip()
    exp = config["experiment"]
    if held and held != exp:
        raise ValueError(
            f"the committed gallery figures/ holds the figures of experiment {held!r} ({marker}); this config's "
            f"experiment is {exp!r}, and copying its PNGs there would mix two experiments. Use the config of "
            f"{held!r} (the default: config.yaml), take this experiment's figures from "
            f"{figure_dir(config)}/, or replace the whole gallery on purpose: remove it first "
            f"(git rm -q figures/*.png {marker}), then run the gallery target again")


def report_args(fig: str) -> dict:
    """Keyword arguments of Snakemake's ``report()`` for a figure's PNG: its caption (``report/<fig>.rst``,
    a path relative to the rules/ file), the paper section as category and the paper figure as subcategory."""
    if fig not in REPORT_FIGURES:
        raise ValueError(f"figure {fig!r} has no entry in findeval.a1.plan.REPORT_FIGURES (report category, caption)")
    section, paper = REPORT_FIGURES[fig]
    return {"caption": f"../report/{fig}.rst", "category": section, "subcategory": paper,
            "labels": {"figure": fig, "paper": paper}}


# --------------------------------------------------------------------------- figures


def random_lines(h: H) -> list[Line]:
    """Both random baselines with H_find = H_eval = h (the paper's "same as the value in the title")."""
    return [Line("global_random", None, h), Line("preserve_lpr", h, h)]


def _dim_h(config: dict, key: str, dim: str) -> H:
    """The constant H of a fig2 row: the defaults, with ``dim`` set from figures.fig2.<key> if given."""
    base = default_h(config)
    value = (config["figures"]["fig2"].get(key) or {}).get(dim)
    return base if value is None else base.replace(**{dim: value})


def fig1_hs(config: dict) -> list[H]:
    base = default_h(config)
    lrs = config["figures"]["fig1"].get("lr") or [max(grid_values(config, "lr", "find")), base.lr]
    return [base.replace(lr=lr) for lr in lrs]


def figA1_hs(config: dict) -> list[H]:
    """(a) small BS, (b) large WD, both coupled; (c) the moderate-LR panel of fig1."""
    base = default_h(config)
    opts = config["figures"]["figA1"]
    bs = opts.get("batch_size") or min(grid_values(config, "batch_size", "find"))
    wd = opts.get("weight_decay")
    wd = max(grid_values(config, "weight_decay", "find")) if wd is None else wd
    return [base.replace(batch_size=bs), base.replace(weight_decay=wd), fig1_hs(config)[-1]]


def fig2_panels(config: dict) -> list[dict]:
    """Six panels: top row constant H_eval (compare H_find), bottom row constant H_find (compare H_eval)."""
    base = default_h(config)
    panels = []
    for row, key in (("find", "constant_eval"), ("eval", "constant_find")):
        for dim in DIMENSIONS:
            const = _dim_h(config, key, dim)
            if row == "find":
                lines = [Line("lottery", base.replace(**{dim: v}), const) for v in grid_values(config, dim, "find")]
            else:
                lines = [Line("lottery", const, base.replace(**{dim: v})) for v in grid_values(config, dim, "eval")]
            panels.append({"dim": dim, "compare": row, "constant": const, "lines": lines + random_lines(const)})
    return panels


def all_pairs(config: dict, dim: str) -> list[Line]:
    base = default_h(config)
    return [
        Line("lottery", base.replace(**{dim: f}), base.replace(**{dim: e}))
        for f in grid_values(config, dim, "find")
        for e in grid_values(config, dim, "eval")
    ]


def appendix_panels(config: dict, fig: str) -> list[dict]:
    dim, style = APPENDIX_FIGURES[fig]
    base = default_h(config)
    pairs = all_pairs(config, dim)
    if style == "all":
        return [{"dim": dim, "compare": "all", "constant": None, "lines": pairs}]
    finds, evals = grid_values(config, dim, "find"), grid_values(config, dim, "eval")
    return constant_panels(base, dim, finds, evals, const_eval=evals, const_find=finds)


def constant_panels(base: H, dim: str, finds: list, evals: list, *, const_eval: list, const_find: list) -> list[dict]:
    """One panel per value in ``const_eval`` (H_eval held there, a line per H_find in ``finds``), then one per
    value in ``const_find`` (H_find held, a line per H_eval in ``evals``); both random baselines at the held value.
    Only ``dim`` moves away from ``base``."""
    panels = []
    for e in const_eval:
        const = base.replace(**{dim: e})
        lines = [Line("lottery", base.replace(**{dim: f}), const) for f in finds]
        panels.append({"dim": dim, "compare": "find", "constant": const, "lines": lines + random_lines(const)})
    for f in const_find:
        const = base.replace(**{dim: f})
        lines = [Line("lottery", const, base.replace(**{dim: e})) for e in evals]
        panels.append({"dim": dim, "compare": "eval", "constant": const, "lines": lines + random_lines(const)})
    return panels


def figure_panels(config: dict, fig: str) -> list[dict]:
    """The panels of a figure, each a dict with the lines it draws (see :mod:`findeval.a1.plots`)."""
    if fig == "fig1":
        return [
            {"dim": "lr", "compare": "baselines", "constant": h, "lines": [Line("lottery", h, h), *random_lines(h)]}
            for h in fig1_hs(config)
        ]
    if fig == "figA1":
        dims = ["batch_size", "weight_decay", "lr"]
        return [
            {"dim": d, "compare": "baselines", "constant": h, "lines": [Line("lottery", h, h), *random_lines(h)]}
            for d, h in zip(dims, figA1_hs(config))
        ]
    if fig == "fig2":
        return fig2_panels(config)
    if fig == "fig3":
        return [{"dim": d, "compare": "best", "constant": None, "lines": all_pairs(config, d)} for d in DIMENSIONS]
    if fig in APPENDIX_FIGURES:
        return appendix_panels(config, fig)
    if fig in OTHER_FIGURES:
        return other_model_panels(config, fig)
    raise ValueError(f"unknown figure {fig!r}; choose from {FIGURES + OTHER_FIGURES}")


def figure_lines(config: dict, fig: str) -> list[Line]:
    return sorted({ln for panel in figure_panels(config, fig) for ln in panel["lines"]}, key=_line_key)


def figure_inputs(config: dict, fig: str) -> list[str]:
    """The files figure ``fig`` reads (the registry's contract, :class:`findeval.figures.Family`): the metrics files
    of every line of every panel (figA8/figA9: of their own experiment)."""
    runs = other_model_config(config, fig) if fig in OTHER_FIGURES else config
    files = []
    for line in figure_lines(config, fig):
        files.extend(line_files(runs, line))
    return sorted(set(files))


def all_inputs(config: dict) -> list[str]:
    return sorted({f for fig in FIGURES for f in figure_inputs(config, fig)})


def _line_key(line: Line):
    return (line.kind, line.hfind.slug if line.hfind else "", line.heval.slug)


def figure_params(config: dict, fig: str) -> dict:
    """Everything a figure job draws, as plain values (Snakemake params: an edit re-runs only figures)."""
    panels = []
    for panel in figure_panels(config, fig):
        panels.append({
            "dim": panel["dim"],
            "compare": panel["compare"],
            "constant": panel["constant"].slug if panel["constant"] else None,
            "lines": [[ln.kind, ln.hfind.slug if ln.hfind else None, ln.heval.slug] for ln in panel["lines"]],
        })
    params = {"figure": fig, "panels": panels, "levels": levels(config), "fraction": config["pruning"]["fraction"],
              "experiment": config["experiment"], "dataset": config["dataset"]["name"],
              "model": config["model"]["name"]}
    if fig in OTHER_FIGURES:
        runs = other_model_config(config, fig)
        params.update(experiment=runs["experiment"], dataset=runs["dataset"]["name"],
                      model=describe_model(runs["model"]), caption=config["other_models"][fig].get("caption"))
    return params


# --------------------------------------------------------------------------- other models (figA8, figA9)


def other_figures(config: dict) -> list[str]:
    """The figures of ``other_models`` the config sets (each is a rule; unset ones have none)."""
    return [fig for fig in OTHER_FIGURES if (config.get("other_models") or {}).get(fig) is not None]


def other_model_configs(config: dict) -> dict[str, dict]:
    """figA8/figA9's experiments, by figure (see :func:`other_model_config`)."""
    return {fig: other_model_config(config, fig) for fig in other_figures(config)}


def other_model_config(config: dict, fig: str) -> dict:
    """The experiment of ``other_models.<fig>``: the Algorithm A1 part of the main config (no analysis blocks:
    these figures need none) with the entry's blocks in place of the main ones.

    A block the entry gives replaces the main block wholesale (``model: {name: resnet18}`` must not inherit a
    ``depth``). Its grids are the entry's LR values, with BS and WD at its defaults. Not yet validated: the
    Snakefile validates each one against the schema (:func:`findeval.workflow.check_experiments`).
    """
    spec = config["other_models"][fig]
    derived = {k: config[k] for k in ("pruning", "runtime") if k in config}
    derived.update({k: copy.deepcopy(spec[k]) if spec.get(k) is not None else config[k] for k in OTHER_MODEL_BLOCKS})
    derived["experiment"] = spec.get("experiment") or f"{config['experiment']}-{fig.lower()}"
    lr = spec.get("lr") or config["grids"]["lr"]
    bs, wd = derived["defaults"].get("batch_size"), derived["defaults"].get("weight_decay")
    derived["grids"] = {
        "lr": {"find": list(lr["find"]), "eval": list(lr["eval"])},
        "batch_size": {"find": [bs], "eval": [bs]},
        "weight_decay": {"find": [wd], "eval": [wd]},
    }
    return derived


def other_model_panels(config: dict, fig: str) -> list[dict]:
    """Paper Figs. A8/A9: at each constant LR_eval, every LR_find (and both random baselines); then at each
    constant LR_find, every LR_eval. BS and WD are the experiment's defaults."""
    spec = config["other_models"][fig]
    runs = other_model_config(config, fig)
    base = default_h(runs)
    finds, evals = grid_values(runs, "lr", "find"), grid_values(runs, "lr", "eval")
    const_eval = evals if spec.get("constant_eval") is None else spec["constant_eval"]
    const_find = [base.lr] if spec.get("constant_find") is None else spec["constant_find"]
    panels = constant_panels(base, "lr", finds, evals, const_eval=const_eval, const_find=const_find)
    if not panels:
        raise ValueError(f"other_models.{fig}: constant_eval and constant_find are both empty: the figure has no panel")
    return panels


def other_model_find_groups(config: dict, max_group: int) -> list[tuple[str, list[H]]]:
    """(experiment, H_find) of the find groups of figA8/figA9's experiments (``runtime.find_group``): the H_find
    their figure's lines use (lottery and preserve-LPR masks), by :func:`find_groups`' rule; no chain a figure does
    not read."""
    out = []
    for fig, derived in other_model_configs(config).items():
        hs = {ln.hfind for ln in figure_lines(config, fig) if ln.hfind is not None}
        out.extend((derived["experiment"], g) for g in find_groups(derived, max_group, sorted(hs)))
    return out


def describe_model(model: dict) -> str:
    """'resnet_cifar (depth 8, width 6)': the model of a figure's title."""
    opts = ", ".join(f"{k} {v}" for k, v in model.items() if k != "name")
    return f"{model['name']} ({opts})" if opts else model["name"]
