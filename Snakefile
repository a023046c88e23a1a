# findeval: the decoupled find-eval phenomenon of global magnitude pruning, end to end.
#
#   snakemake --cores all figures/fig2.pdf      one figure
#   snakemake --cores all                       every figure and results/<experiment>/summary.csv
#
# Parsing stays cheap (the SLURM plugin re-parses this file for every job): no torch, no file scans.


from snakemake.utils import min_version

min_version("9.0")


# config.yaml is the default experiment. A --configfile (a preset under config/) replaces it instead of being
# merged into it: a preset's `model: {name: resnet50}` must not inherit config.yaml's resnet_cifar depth.
# (Snakemake's --replace-workflow-config would do the same, but it is not passed on to cluster jobs.)
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


# --- cluster execution (profiles/slurm, profiles/local-gpu; README "Running at scale") ---
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


# The same files either way (README "Job granularity"): one job per training step of Algorithm A1, or one
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
        summary=SUMMARY,
        figures=FIGURE_FILES,
        other_models=OTHER_FIGURE_FILES,
        lpr_figures=LPR_FIGURE_FILES,
        rewinding_figures=RW_FIGURE_FILES,
        early_figures=EARLY_FIGURE_FILES,
        structured=STRUCTURED_TARGETS,
        claims=CLAIMS_FILES,
        regime=REGIME_FILES,
