# Config validation, wildcard constraints and the input functions of the rules.
# The logic of "which runs a figure needs" lives in findeval.a1.plan, every results path in findeval.paths, and each
# wildcard's grammar in the module that parses its values (pure Python, tested: tests/test_paths.py).

import os
import re
import sys
from collections import UserString

from snakemake.utils import validate

sys.path.insert(0, workflow.basedir)

from findeval import paths
from findeval.datasets import REGISTRY as DATASETS
from findeval.a1 import plan
from findeval.lpr import plan as lpr
from findeval.structured import plan as splan
from findeval.hparams import SLUG
from findeval.workflow import check_workflow, load_yaml_file

# The one config check, the same as `python -m findeval.workflow CONFIG` (findeval.workflow.check_workflow):
# first a one-line check of the common mistakes (numbers written as strings such as 5e-4 are converted, unknown
# keys and values get a did-you-mean), then the full schema validation, which fills in the defaults, the checks
# a schema cannot express, the environment variables the jobs read, and everything planned from the config.
# The main experiment and those of figA8/figA9 (other_models), by name: the Algorithm A1 rules take their
# settings from EXPERIMENTS[wildcards.exp] (JOB.cfg, Experiment below), so an edit to one experiment re-runs only
# its jobs.
SCHEMA = load_yaml_file(f"{workflow.basedir}/schemas/config.schema.yaml", "schema", strict=False)
EXPERIMENTS = check_workflow(
    config, SCHEMA, validate, f"{workflow.basedir}/schemas/config.schema.yaml"
)
EXP = config["experiment"]
SUMMARY = paths.summary(EXP)
# runtime.device reaches the jobs as a params value (a collections.UserString, equal to its text) that Snakemake
# leaves out of its params re-run trigger (only builtin types are compared): switching cpu <-> auto <-> cuda
# re-runs nothing (results are the same experiment; metrics.json records the device each run used).
# `snakemake -R <rule>` re-runs on purpose. The gpu resource still follows the setting.
RUNTIME = {**config["runtime"], "device": UserString(config["runtime"]["device"])}
# GPU speed options of the training jobs (findeval.training.train): fp32 / False run the default code path
SPEED = {k: RUNTIME[k] for k in ("precision", "channels_last")}


# Each grammar is the one its parser accepts: H.parse (hparams.SLUG), plan.parse_source (plan.SOURCE); numbers
# are paths.INDEX. The others are beside their rules (lpr.smk, rewinding.smk, structured.smk, early.smk).
wildcard_constraints:
    exp="|".join(re.escape(name) for name in EXPERIMENTS),
    hfind=SLUG,
    heval=SLUG,
    seed=paths.INDEX,
    level=paths.INDEX,
    source=plan.SOURCE,


def at_dag_time(inputs, *args):
    """An input function: ``inputs(config, *args)`` listed when the DAG is built, not when the Snakefile is
    parsed. A figure reads thousands of metrics files at paper scale, and the SLURM plugin re-parses the
    Snakefile for every job: as parse-time lists they cost a second per parse (docs/scale.md).
    """
    return lambda wildcards: inputs(config, *args)


# --- the main experiment's own rules (issue 15 item 3) ---
# Only the main experiment has the analysis blocks (rewinding, instability, early pruning, LPR, structured):
# figA8/figA9's experiments are the Algorithm A1 part of the config (plan.other_model_config). Those rules
# spell their patterns with the main experiment's name, paths.<file>(EXP, ...), instead of `{exp}`: the files
# are the same, but Snakemake indexes a rule's outputs by the text before their first wildcard, and
# `results/{exp}/` made every one of the ~110,000 file look-ups of the paper's DAG scan all ~700 output patterns
# (120 per chain rule of 30 levels). With the name written, a look-up scans only the rules of its own folder
# (docs/scale.md). The A1 rules (and regime) keep `{exp}`: they serve every experiment.


class Wildcards:
    """A rule's wildcards, plus ``exp`` (for the input functions the {exp} rules share)."""

    __slots__ = ("_w", "_exp")

    def __init__(self, w, exp):
        self._w, self._exp = w, exp

    def __getattr__(self, name):
        return self._exp if name == "exp" else getattr(self._w, name)


class Experiment:
    """The one way the rules read an experiment's config (issue 25 item 3).

    ``JOB = Experiment(None)``: the job's experiment (its ``{exp}`` wildcard; the A1 rules, which serve every
    experiment), as params functions. ``MAIN = Experiment(EXP)`` (and ``Experiment(name)``): a named experiment,
    as constants (Snakemake calls each params function once per job; at paper scale that is ~100,000 calls).
    """

    def __init__(self, name=None):
        self.name = name

    def _config(self, w=None):
        return EXPERIMENTS[self.name or getattr(w, "exp", EXP)]

    def cfg(self, *keys):
        """The value at ``keys`` of the experiment's config."""

        def value(w=None):
            v = self._config(w)
            for k in keys:
                v = v[k]
            return v

        return value if self.name is None else value()

    def structured(self, key):
        """``key`` of the experiment's structured settings. Only an experiment with a structured block has
        structured runs (figA8/A9's derived experiments have none): without one, a params function that
        refuses the job with a message."""

        def value(w=None):
            exp = self.name or getattr(w, "exp", EXP)
            s = splan.settings(EXPERIMENTS[exp])
            if s is None:
                raise ValueError(
                    f"experiment '{exp}' has no structured block: structured runs belong to an experiment "
                    f"that sets one (here '{EXP}')"
                )
            return s[key]

        if self.name is not None and splan.settings(EXPERIMENTS[self.name]) is not None:
            return value()
        return value

    def input(self, inputs, *args):
        """An input function ``inputs(wildcards, *args)`` of the {exp} form, for a rule of this experiment
        (whose patterns name it instead of ``{exp}``)."""
        return lambda w: inputs(Wildcards(w, self.name or w.exp), *args)

    def train(self, training=None):
        """The params every training job reads (findeval.runs via scripts/_bootstrap.training_args): the
        training block (or ``training``), the augmentation, the device and the GPU speed options."""
        return dict(
            training=self.cfg("training") if training is None else training,
            augment=self.cfg("dataset", "augment"),
            device=RUNTIME["device"],
            speed=SPEED,
        )


JOB = Experiment()
MAIN = Experiment(EXP)

# --- the directives every training rule shares (issue 25 item 3), written once ---
# Every training rule has the directives conda (ENV), threads (RUNTIME["threads"]), resources (**GPU) and
# params (**JOB.train() or MAIN.train(), beside its own values; the sweeps add **SWEEP_GROUP), and names its
# log and benchmark paths.log(<exp>, <its name>, <wildcards>) and paths.benchmark(<the same>).
ENV = "../envs/findeval.yaml"
# one GPU per training job unless runtime.device is cpu (Snakefile: resource_scopes gpu="local")
GPU = {"gpu": 0 if RUNTIME["device"] == "cpu" else 1}
# runtime.group > 0: the sweep jobs train their levels as grouped networks (findeval.grouped). A params value
# only then, so that group 0 leaves the sweeps' params (and Snakemake's params re-run trigger) as they were;
# a dict, so that its repr is unique among the job's params values (Snakemake compares them as a set).
SWEEP_GROUP = {"grouped": {"group": RUNTIME["group"]}} if RUNTIME["group"] else {}


def train_find_input(w):
    """Level 0 trains theta_0 densely; level L >= 1 trains the ticket theta_0 * M_L."""
    level = int(w.level)
    inputs = {"data": paths.data(w.exp)}
    if level == 0:
        inputs["start"] = paths.init(w.exp, w.seed)
    else:
        inputs["start"] = paths.find_file(w.exp, w.hfind, w.seed, level, "ticket")
        inputs["mask"] = paths.find_file(w.exp, w.hfind, w.seed, level, "mask")
    return inputs


def prune_input(w):
    """Mask M_L comes from the weights trained at level L-1 (and M_{L-1}, which it refines)."""
    level = int(w.level)
    if level < 1:
        raise ValueError("level 0 is the dense network: it has no mask")
    inputs = {"trained": paths.find_file(w.exp, w.hfind, w.seed, level - 1, "trained")}
    if level > 1:
        inputs["parent"] = paths.find_file(w.exp, w.hfind, w.seed, level - 1, "mask")
    return inputs


def train_eval_input(w):
    """Lottery masks start from their ticket; random baselines from a new random init (reinit.pt)."""
    kind, hfind = plan.parse_source(w.source)
    masks = plan.source_masks(w.exp, kind, hfind, w.seed)
    if kind == "lottery":
        start = paths.level_file(masks, w.level, "ticket")
    else:
        start = paths.reinit(w.exp, w.seed)
    return {
        "start": start,
        "mask": paths.level_file(masks, w.level, "mask"),
        "data": paths.data(w.exp),
    }


def source_kind(w):
    return plan.parse_source(w.source)[0]


def source_hfind(w):
    return plan.parse_source(w.source)[1]


# --- runtime.granularity "chain" (rules/chains.smk) ---

LEVELS = plan.levels(config)


def eval_sweep_input(w):
    """Lottery masks start from their tickets; random baselines from the replicate's new init (reinit.pt)."""
    kind, hfind = plan.parse_source(w.source)
    masks = plan.source_masks(w.exp, kind, hfind, w.seed)
    if kind == "lottery":
        inputs = paths.per_level(masks, 1, LEVELS, start="ticket", mask="mask")
    else:
        inputs = paths.per_level(masks, 1, LEVELS, "mask")
        inputs["reinit"] = paths.reinit(w.exp, w.seed)
    inputs["data"] = paths.data(w.exp)
    return inputs


# runtime.find_group > 0 (rules/chains.smk, rules find_group_<i>): the find chains of one replicate whose H_find
# share a batch size (findeval.a1.plan.find_groups: the find grid's, in chunks of at most find_group) are one job,
# trained in lock-step as grouped networks with per-network LR and weight decay (findeval.a1.jobs.find_chains).
# The main experiment's find grid (its figures, fig2 first, use every chain of it); figA8/figA9's experiments group
# only the LR_find chains their figure reads (findeval.a1.plan.other_model_find_groups: a group job writes all of
# its chains, and a grid chain no figure reads would be trained for nothing). The H_find outside the grid that the LPR figures
# add (fig8's weight decay 0, figA15's extra LR: findeval.lpr.plan.extra_find_groups) are groups of their own, so
# that fig2 trains only the grid's chains.
FIND_GROUPS = [
    (EXP, [h.slug for h in hs])
    for hs in plan.find_groups(EXPERIMENTS[EXP], RUNTIME["find_group"])
    + lpr.extra_find_groups(EXPERIMENTS[EXP], RUNTIME["find_group"])
] + [
    (exp, [h.slug for h in hs])
    for exp, hs in plan.other_model_find_groups(config, RUNTIME["find_group"])
    if exp in EXPERIMENTS
]


# runtime.find_group > 0: the main experiment's find chains that no group of their own replicate holds (alone in
# their batch size: the small- and large-batch chains of config.yaml) are grouped across replicates instead, one job
# per H_find and chunk of seeds, each network on its own data order (rules find_seeds_group_<i>; findeval.a1.plan.
# seed_groups).
SEED_GROUPS = [
    (EXP, h.slug, seeds)
    for h, seeds in plan.seed_groups(EXPERIMENTS[EXP], RUNTIME["find_group"])
    + plan.seed_groups(EXPERIMENTS[EXP], RUNTIME["find_group"], lpr.extra_find_hs(EXPERIMENTS[EXP]))
]


def seed_group_outputs(exp, slug, seeds):
    """The named outputs of one cross-replicate find group: seed s's chain files are ``s{s}_<name>_<level>``."""
    out = {}
    for s in seeds:
        chain = paths.find_chain(exp, slug, s)
        files = {
            **paths.per_level(chain, 0, LEVELS, "trained", "metrics"),
            **paths.per_level(chain, 1, LEVELS, "mask", "ticket"),
        }
        out.update({f"s{s}_{name}": path for name, path in files.items()})
    return out


def find_group_outputs(exp, slugs):
    """The named outputs of one find group: chain j's files are ``c{j}_<name>_<level>``."""
    out = {}
    for j, slug in enumerate(slugs):
        chain = paths.find_chain(exp, slug, "{seed}")
        files = {
            **paths.per_level(chain, 0, LEVELS, "trained", "metrics"),
            **paths.per_level(chain, 1, LEVELS, "mask", "ticket"),
        }
        out.update({f"c{j}_{name}": path for name, path in files.items()})
    return out


def take_profile_settings(rule_name, source):
    """A rule defined in a loop has no entry of its own in a profile's set-resources / set-threads (the profile
    cannot know its name): it takes those of the rule it stands in for, before it is defined (Snakemake applies
    them when it creates the rule). profiles/slurm thus submits find groups as it submits find chains.
    """
    settings = workflow.resource_settings
    for given, parsed in (
        ("overwrite_resources", "_parsed_overwrite_resources"),
        ("overwrite_threads", "_parsed_overwrite_threads"),
    ):
        if source not in getattr(settings, given, {}):
            continue
        # Snakemake 9's parsed form, read when a rule is created
        table = getattr(settings, parsed, None)
        if not isinstance(table, dict):
            raise ValueError(
                f"runtime.find_group: cannot give rule {rule_name} the {given} of {source} with this "
                f"Snakemake version; set them for {rule_name} in the profile, or use find_group 0"
            )
        table.setdefault(rule_name, table[source])


# `snakemake --report` alone runs no job: it then marks for the report only the files that exist, so the report of
# a partial run holds what the run made (findeval.a1.plan.report_only; with --report-after-run every file).
REPORT_EXISTING = plan.report_only(sys.argv)


def reported(path, *, exists=None, **args):
    """``report(path, **args)``, or the bare path when only existing files are reported and the files ``exists``
    (default: ``path`` itself; for a pattern, the files it stands for) are not all there."""
    if REPORT_EXISTING and not all(os.path.exists(f) for f in (exists or [path])):
        return path
    return report(path, **args)


# the gallery rules (Snakefile): GALLERY_FILES and DEFAULT_TARGET are defined there, read at DAG time
def gallery_inputs(wildcards):
    plan.check_gallery(config, paths.gallery_experiment())
    return [
        *GALLERY_FILES,
        paths.gallery_experiment(),
        *(f for files in DEFAULT_TARGET.values() for f in files),
    ]


def gallery_figure_input(wildcards):
    if wildcards.ext == "png":  # the committed copies; the PDFs are not committed
        plan.check_gallery(config, paths.gallery_experiment())
    return paths.figure(EXP, wildcards.name, wildcards.ext)
