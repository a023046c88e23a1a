# findeval: the decoupled find-eval phenomenon of global magnitude pruning, end to end.
#
#   snakemake --cores all                       every figure (results/<experiment>/figures/) and the tables
#   snakemake --cores all results/digits/figures/fig2.pdf     one figure of the default experiment
#   snakemake --cores all figures/fig2.pdf      the same figure, copied to figures/ (the PDF is not committed)
#   snakemake --cores all gallery               the committed gallery: this experiment's PNGs into figures/
#   snakemake --report report.zip               the report: every figure with its caption, claims, regime
#
# Parsing stays cheap (the SLURM plugin re-parses this file for every job): no torch, no file scans.


from snakemake.utils import min_version

min_version("9.0")


# `snakemake --report report.zip`: this description, then every figure (captions in report/<figure>.rst),
# the claims table and the regime table, by paper section
report: "report/workflow.rst"


# config.yaml is the default experiment. A --configfile (a preset under config/) replaces it instead of being
# merged into it: a preset's `model: {name: resnet50}` must not inherit config.yaml's resnet_cifar depth.
# (Snakemake's --replace-workflow-config would do the same, but it is not passed on to cluster jobs.)
if not workflow.overwrite_configfiles:
    import os

    from findeval.workflow import load_yaml_file

    # a YAML error in config.yaml then names its line and column (Snakemake's own message does not)
    if os.path.exists("config.yaml"):
        load_yaml_file("config.yaml", strict=False)

    configfile: "config.yaml"


# --- cluster execution (profiles/slurm, profiles/local-gpu; docs/scale.md) ---
# A `--resources gpu=N` cap counts per job, not across the cluster: a workstation profile can allow one
# GPU job at a time without throttling SLURM submissions. Cheap steps (seconds each) run on the submit
# host instead of waiting in the queue; only training jobs are submitted.
resource_scopes:
    gpu="local",


localrules:
    prepare_data,
    init,
    aggregate,
    init_structured,
    prune_structured,
    aggregate_structured,
    claims,


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/aggregate.smk"
include: "rules/figures.smk"
include: "rules/lpr.smk"
include: "rules/rewinding.smk"
include: "rules/early.smk"
include: "rules/claims.smk"
include: "rules/structured.smk"
include: "rules/regime.smk"


# The same files either way (docs/pipeline.md, "Job granularity"): one job per training step of Algorithm A1, or one
# job per find chain and per evaluation sweep over the levels (the default: 10x fewer process starts).
# The cheap steps of either (prune, rewind, random masks) say `localrule: True` in their rule files.
if RUNTIME["granularity"] == "level":

    include: "rules/find.smk"
    include: "rules/baselines.smk"
    include: "rules/eval.smk"
    include: "rules/lpr_levels.smk"

else:

    include: "rules/chains.smk"


rule all:
    default_target: True
    input:
        **DEFAULT_TARGET,


# --- the committed gallery, written only on purpose ---
# Ordinary runs write results/<experiment>/figures/ only. `snakemake gallery` builds the default target (so that
# `snakemake --report` then has every file it reports) and copies this experiment's PNGs (every figure of `all`,
# and the claims) into figures/, the gallery the README shows, and records the experiment in
# figures/experiment.txt; `snakemake figures/<fig>.pdf` (or .png) copies one figure there. A PNG of another
# experiment than the one figures/experiment.txt names is refused (plan.check_gallery): no mixed gallery.
GALLERY_FILES = plan.gallery_files(config, [f for files in DEFAULT_TARGET.values() for f in files])


rule gallery:
    input:
        gallery_inputs,


rule gallery_experiment:
    input:
        GALLERY_FILES,
    output:
        paths.gallery_experiment(),
    log:
        paths.log(EXP, "gallery/experiment"),
    localrule: True
    conda:
        "envs/findeval.yaml"
    params:
        experiment=EXP,
    script:
        "scripts/gallery_experiment.py"


rule gallery_figure:
    input:
        gallery_figure_input,
    output:
        paths.gallery("{name}", "{ext}"),
    log:
        paths.log(EXP, "gallery/{name}.{ext}"),
    wildcard_constraints:
        name="|".join(re.escape(fig) for fig in plan.REPORT_FIGURES),
        ext="|".join(paths.FIGURE_FORMATS),
    localrule: True
    conda:
        "envs/findeval.yaml"
    script:
        "scripts/gallery_figure.py"
