"""Every file the pipeline writes under ``results/``: the one place its layout is spelled.

The rules (their patterns, logs and benchmark records), the planners (the files each figure reads) and the
messages that name a file all ask here; no other module writes a ``results/`` path (``tests/test_paths.py``).
Pure Python without imports beyond the standard library: the Snakefile imports it at parse time, and the SLURM
plugin re-parses the Snakefile for every job.

Arguments are path spellings: an experiment name, an H slug (:attr:`findeval.hparams.H.slug`), a replicate or
level number, or a wildcard where a rule writes a pattern. So a rule's pattern and a planner's file come from
the same function: ``init("{exp}", "{seed}")`` is the pattern, ``init("tiny", 0)`` the file.

Some wildcard values are folder names with a grammar of their own. That grammar is defined in the module that
parses the value, beside the function that spells it, and the rules' ``wildcard_constraints`` use it; here the
value is opaque text:

- an H slug (``{hfind}``, ``{heval}``, ``{href}``): :data:`findeval.hparams.SLUG`, ``H.slug`` / ``H.parse``;
- a mask source (``{source}``): :data:`findeval.a1.plan.SOURCE`, ``plan.source`` / ``plan.parse_source``;
- an LPR-constrained chain (``{chain}``, ``{constrained}``): :data:`findeval.lpr.plan.CHAIN` and ``CONSTRAINED``,
  ``lpr.chain_name`` / ``lpr.chain_spec``;
- a rewinding variant (``{variant}``): :data:`findeval.rewinding.plan.VARIANT`, ``rewinding.variant_name`` /
  ``parse_variant``;
- a structured pruning ratio (``{ratio}``): :data:`findeval.structured.plan.RATIO`;
- numbers (``{seed}``, ``{level}``, ``{epoch}``, ``{late_k}``, ``{warm}``): :data:`INDEX`.

The layout (``{s}`` a replicate, ``{L}`` a level; the modules named say what each file holds)::

    results/{exp}/dataset.npz                                      the prepared data (findeval.data)
    results/{exp}/seed{s}/{init.pt,reinit.pt,architecture.json}    theta_0, the baselines' new init, the network
    results/{exp}/find/{H_find}/seed{s}/level{L}/{FILE}            Algorithm A1's find chain (findeval.a1.plan)
    results/{exp}/random/global/seed{s}/level{L}/mask.h5           global random masks
    results/{exp}/random/preserve_lpr/{H_find}/seed{s}/level{L}/mask.h5
    results/{exp}/eval/{source}/{H_eval}/seed{s}/level{L}/metrics.json     evaluations (and the LPR chains')
    results/{exp}/{chain}/seed{s}/level{L}/{FILE}                  LPR-constrained chains (findeval.lpr)
    results/{exp}/{variant}/{H_find}/seed{s}/level{L}/{FILE}       rewinding variants (findeval.rewinding)
    results/{exp}/{variant}/{H_find}/seed{s}/theta_k.pt            late rewinding's theta_k
    results/{exp}/{variant}/eval/{H_find}/{H_eval}/seed{s}/level{L}/metrics.json
    results/{exp}/{variant}/random/preserve_lpr/{H_find}/seed{s}/level{L}/mask.h5   (rewinding.instability_plan)
    results/{exp}/{variant}/random_eval/{kind}/{H_find}/{H_eval}/seed{s}/level{L}/metrics.json
    results/{exp}/instability/k{k}/{H}/seed{s}/level{L}/interpolation.json
    results/{exp}/early/find/{H_find}/epoch{k}/seed{s}/level{L}/{FILE}      early pruning (findeval.early)
    results/{exp}/early/eval/{H_find}/epoch{k}/{H_eval}/seed{s}/level{L}/metrics.json
    results/{exp}/early/lpr_trajectory/{H_find}/seed{s}.csv
    results/{exp}/structured/...                                   structured pruning (findeval.structured.plan)
    results/{exp}/{lpr,rewinding,instability,early}/{figure}.csv   the numbers a figure draws
    results/{exp}/figures/{figure}.{pdf,png}                       the figures
    results/{exp}/{summary.csv,claims.csv,regime.csv,regime_layers.csv}
    results/{exp}/logs/{rule}/....log, results/{exp}/benchmarks/{rule}/....tsv

``{FILE}`` is one of :data:`FILES` (``mask.h5``, ``ticket.pt``, ``trained.pt``, ``metrics.json``). The committed
gallery, ``figures/{figure}.png``, is no results file: only the ``gallery`` target writes it.
"""

from __future__ import annotations

#: The folder every run writes into (relative to the working directory).
RESULTS = "results"
#: The grammar of a replicate, a level, an epoch or an iteration count in a path: decimal digits.
INDEX = r"[0-9]+"

#: The files of a level of a chain (and of a structured run), by kind. The rules name a level's files
#: ``<kind>_<L>`` (:func:`per_level`), or another name for the same kind (an input ``start_3`` is a ticket).
FILES = {
    "mask": "mask.h5",
    "ticket": "ticket.pt",
    "trained": "trained.pt",
    "metrics": "metrics.json",
    "pruned": "pruned.pt",
    "channels": "channels.json",
}

#: The formats every figure rule writes: the PDF (for the paper) and a PNG (the report shows it inline).
FIGURE_FORMATS = ("pdf", "png")
#: Where the committed gallery lives (written only by the Snakefile's ``gallery`` target).
GALLERY_DIR = "figures"


def _file(kind: str) -> str:
    try:
        return FILES[kind]
    except KeyError:
        raise ValueError(f"unknown file kind {kind!r}; choose from {sorted(FILES)}") from None


# --------------------------------------------------------------------------- one experiment


def exp_dir(exp) -> str:
    """``results/<exp>``: everything of one experiment."""
    return f"{RESULTS}/{exp}"


def data(exp) -> str:
    return f"{RESULTS}/{exp}/dataset.npz"


def seed_dir(exp, seed) -> str:
    return f"{RESULTS}/{exp}/seed{seed}"


def init(exp, seed) -> str:
    """theta_0 of replicate ``seed``."""
    return f"{seed_dir(exp, seed)}/init.pt"


def reinit(exp, seed) -> str:
    """The random baselines' new random init of replicate ``seed``."""
    return f"{seed_dir(exp, seed)}/reinit.pt"


def architecture(exp, seed) -> str:
    return f"{seed_dir(exp, seed)}/architecture.json"


def summary(exp) -> str:
    """One row per training run of Algorithm A1 (findeval.analysis)."""
    return f"{RESULTS}/{exp}/summary.csv"


def claims(exp) -> str:
    return f"{RESULTS}/{exp}/claims.csv"


def regime(exp) -> str:
    return f"{RESULTS}/{exp}/regime.csv"


def regime_layers(exp) -> str:
    return f"{RESULTS}/{exp}/regime_layers.csv"


#: How a wildcard is written as a folder of a job's log and benchmark record: as in the results' own folders
#: (``seed{seed}``, ``level{level}``, ``k{late_k}``, ``match-{href}`` ...); any other wildcard bare (``{hfind}``).
WILDCARD_PREFIXES = {"seed": "seed", "level": "level", "epoch": "epoch", "late_k": "k", "warm": "w", "ratio": "ratio",
                     "href": "match-"}


def job_name(*wildcards: str) -> str:
    """The pattern of a job's log and benchmark name, one folder per wildcard, in the order given:
    ``job_name("hfind", "seed", "level")`` is ``{hfind}/seed{seed}/level{level}``."""
    return "/".join(f"{WILDCARD_PREFIXES.get(name, '')}{{{name}}}" for name in wildcards)


def log(exp, folder: str, *wildcards: str, name: str | None = None) -> str:
    """A rule's log pattern, ``results/<exp>/logs/<folder>/<job_name(*wildcards)>.log``; without wildcards
    ``results/<exp>/logs/<folder>.log``. ``folder`` is the rule's name or its family's (``structured/prune``).
    ``name``: the job's name as given, for a rule without wildcards that is not alone in its folder."""
    if name is not None:
        return f"{RESULTS}/{exp}/logs/{folder}/{name}.log"
    if not wildcards:
        return f"{RESULTS}/{exp}/logs/{folder}.log"
    return f"{RESULTS}/{exp}/logs/{folder}/{job_name(*wildcards)}.log"


def benchmark(exp, folder: str, *wildcards: str, name: str | None = None) -> str:
    """A rule's benchmark record pattern, ``results/<exp>/benchmarks/<folder>/<job_name(*wildcards)>.tsv`` (or
    ``<name>.tsv``: a rule without wildcards)."""
    return f"{RESULTS}/{exp}/benchmarks/{folder}/{name if name is not None else job_name(*wildcards)}.tsv"


#: Every benchmark record of every experiment (a recursive glob, relative to the working directory).
BENCHMARK_RECORDS = f"{RESULTS}/*/benchmarks/*/**/*.tsv"
#: Every metrics.json of every experiment (a recursive glob).
METRICS_FILES = f"{RESULTS}/**/metrics.json"


def benchmark_folder(record: str) -> str:
    """The folder (rule) of a benchmark record, from its path relative to the working directory."""
    parts = record.replace("\\", "/").split("/")
    if len(parts) < 5 or parts[0] != RESULTS or parts[2] != "benchmarks":
        raise ValueError(f"{record!r} is no benchmark record ({BENCHMARK_RECORDS})")
    return parts[3]


# --------------------------------------------------------------------------- the levels of a chain


def level_dir(chain: str, level) -> str:
    """The folder of one level of a chain folder (``find_chain``, ``lpr_chain``, ``variant_chain`` ...)."""
    return f"{chain}/level{level}"


def level_file(chain: str, level, kind: str) -> str:
    """A file of one level of a chain folder: ``<chain>/level<L>/<FILES[kind]>``."""
    return f"{chain}/level{level}/{_file(kind)}"


def per_level(chain: str, first: int, last: int, *kinds: str, **named: str) -> dict:
    """Named files of levels ``first..last`` of a chain folder (wildcards kept), for a rule's input or output:
    ``<kind>_<L>`` for each of ``kinds``, ``<name>_<L>`` for each ``name=kind`` of ``named``; in that order,
    each name's levels ascending. ``per_level(d, 1, 2, "mask", start="ticket")`` is ``{mask_1: d/level1/mask.h5,
    mask_2: ..., start_1: d/level1/ticket.pt, start_2: ...}``."""
    files = [(kind, _file(kind)) for kind in kinds] + [(name, _file(kind)) for name, kind in named.items()]
    return {f"{name}_{level}": f"{chain}/level{level}/{file}" for name, file in files
            for level in range(first, last + 1)}


def by_level(named, name: str) -> dict[int, str]:
    """``{L: path}`` from the named files ``<name>_<L>`` of a rule's input or output (the inverse of
    :func:`per_level`: ``by_level(per_level(d, 1, 2, "mask"), "mask")`` is ``{1: d/level1/mask.h5, 2: ...}``),
    levels ascending; names of another form are skipped."""
    prefix = f"{name}_"
    found = {int(k[len(prefix):]): v for k, v in dict(named).items()
             if k.startswith(prefix) and k[len(prefix):].isdigit()}
    return dict(sorted(found.items()))


# --------------------------------------------------------------------------- Algorithm A1


def find_chain(exp, hfind, seed) -> str:
    """The find chain of (H_find, replicate): its levels hold mask, ticket, trained weights and metrics."""
    return f"{RESULTS}/{exp}/find/{hfind}/seed{seed}"


def find_level(exp, hfind, seed, level) -> str:
    return level_dir(find_chain(exp, hfind, seed), level)


def find_file(exp, hfind, seed, level, kind: str) -> str:
    return level_file(find_chain(exp, hfind, seed), level, kind)


def global_random_masks(exp, seed) -> str:
    """The global random masks of a replicate (a chain folder of masks)."""
    return f"{RESULTS}/{exp}/random/global/seed{seed}"


def preserve_lpr_masks(exp, hfind, seed) -> str:
    """The preserve-LPR random masks of a find chain (each lottery mask shuffled within every layer)."""
    return f"{RESULTS}/{exp}/random/preserve_lpr/{hfind}/seed{seed}"


def eval_sweep(exp, source: str, heval, seed) -> str:
    """The evaluations with H_eval of a mask source's masks, one level each. ``source`` is a ``{source}``
    (``plan.source``: lottery/<H_find>, preserve_lpr/<H_find>, global_random) or a ``{constrained}``
    (``lpr.chain_name(..., find=False)``: matched/<H_find>/match-<H_ref>, local/<H_find>)."""
    return f"{RESULTS}/{exp}/eval/{source}/{heval}/seed{seed}"


def table(exp, folder: str, fig: str) -> str:
    """The numbers a figure draws, ``results/<exp>/<folder>/<fig>.csv`` (folder: lpr, rewinding, instability,
    early)."""
    return f"{RESULTS}/{exp}/{folder}/{fig}.csv"


# --------------------------------------------------------------------------- figures


def figure_dir(exp) -> str:
    return f"{RESULTS}/{exp}/figures"


def figure(exp, fig: str, ext: str) -> str:
    """``results/<exp>/figures/<fig>.<ext>`` (:func:`findeval.a1.plan.figure_path` checks the format)."""
    return f"{figure_dir(exp)}/{fig}.{ext}"


def gallery(fig: str, ext: str) -> str:
    """The committed gallery's copy of a figure, ``figures/<fig>.<ext>``."""
    return f"{GALLERY_DIR}/{fig}.{ext}"


def gallery_experiment() -> str:
    """``figures/experiment.txt``: the name of the experiment whose figures the committed gallery holds (written by
    the ``gallery`` rule; :func:`findeval.a1.plan.check_gallery` reads it)."""
    return f"{GALLERY_DIR}/experiment.txt"


# --------------------------------------------------------------------------- LPR-constrained chains


def lpr_chain(exp, chain: str, seed) -> str:
    """An LPR-constrained chain; ``chain`` is a ``{chain}`` (``lpr.chain_name``)."""
    return f"{RESULTS}/{exp}/{chain}/seed{seed}"


# --------------------------------------------------------------------------- rewinding variants, instability


def variant_chain(exp, variant: str, hfind, seed) -> str:
    """The find chain of a rewinding variant; ``variant`` is a ``{variant}`` (``rewinding.variant_name``)."""
    return f"{RESULTS}/{exp}/{variant}/{hfind}/seed{seed}"


def theta_k(exp, variant: str, hfind, seed) -> str:
    """Late rewinding's theta_k: H_find's dense run after k epochs (``variant`` is late's)."""
    return f"{variant_chain(exp, variant, hfind, seed)}/theta_k.pt"


def variant_eval(exp, variant: str, hfind, heval, seed) -> str:
    """The evaluations with H_eval of a variant chain's masks."""
    return f"{RESULTS}/{exp}/{variant}/eval/{hfind}/{heval}/seed{seed}"


def variant_random_masks(exp, variant: str, hfind, seed) -> str:
    """The preserve-LPR shuffles of a variant chain's masks (Figure A14)."""
    return f"{RESULTS}/{exp}/{variant}/random/preserve_lpr/{hfind}/seed{seed}"


def variant_random_eval(exp, variant: str, rkind: str, hfind, heval, seed) -> str:
    """A variant chain's random baselines (``rkind``: preserve_lpr, preserve_mask) trained with H_eval."""
    return f"{RESULTS}/{exp}/{variant}/random_eval/{rkind}/{hfind}/{heval}/seed{seed}"


def interpolation(exp, k, h, seed, level) -> str:
    """An instability job's interpolation between two copies of a ticket rewound to epoch k (0: theta_0)."""
    return f"{RESULTS}/{exp}/instability/k{k}/{h}/seed{seed}/level{level}/interpolation.json"


# --------------------------------------------------------------------------- early pruning


def early_chain(exp, hfind, epoch, seed) -> str:
    """The early-pruning find chain of (H_find, prune epoch k, replicate)."""
    return f"{RESULTS}/{exp}/early/find/{hfind}/epoch{epoch}/seed{seed}"


def early_eval(exp, hfind, epoch, heval, seed) -> str:
    return f"{RESULTS}/{exp}/early/eval/{hfind}/epoch{epoch}/{heval}/seed{seed}"


def lpr_trajectory(exp, hfind, seed) -> str:
    """The LPR through the dense run of (H_find, replicate), one row per (epoch, layer)."""
    return f"{RESULTS}/{exp}/early/lpr_trajectory/{hfind}/seed{seed}.csv"


# --------------------------------------------------------------------------- structured pruning


def structured_dir(exp) -> str:
    return f"{RESULTS}/{exp}/structured"


def structured_init(exp, seed) -> str:
    return f"{structured_dir(exp)}/seed{seed}/init.pt"


def structured_dense(exp, hfind, seed, kind: str) -> str:
    """The dense network trained with H_find (``trained`` weights, ``metrics``)."""
    return f"{structured_dir(exp)}/find/{hfind}/seed{seed}/dense/{_file(kind)}"


def structured_pruned(exp, hfind, seed, ratio, kind: str) -> str:
    """The narrow network pruned from it at ``ratio`` (a ``{ratio}`` spelling): ``pruned`` weights, ``channels``."""
    return f"{structured_dir(exp)}/find/{hfind}/seed{seed}/ratio{ratio}/{_file(kind)}"


def structured_run(exp, kind: str, hfind, heval, seed, ratio) -> str:
    """The metrics of a narrow network trained with H_eval; ``kind``: finetune, scratch_e, scratch_b."""
    return f"{structured_dir(exp)}/{kind}/{hfind}/{heval}/seed{seed}/ratio{ratio}/{FILES['metrics']}"


def structured_speed(exp) -> str:
    return f"{structured_dir(exp)}/speed.csv"


def structured_summary(exp) -> str:
    return f"{structured_dir(exp)}/summary.csv"
