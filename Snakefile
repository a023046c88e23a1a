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
    prune,
    rewind,
    global_random_mask,
    preserve_lpr_mask,
    aggregate,
    prune_match_lpr,
    prune_local,
    init_structured,
    prune_structured,
    aggregate_structured,


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/find.smk"
include: "rules/baselines.smk"
include: "rules/eval.smk"
include: "rules/aggregate.smk"
include: "rules/figures.smk"
include: "rules/lpr.smk"
include: "rules/structured.smk"


rule all:
    default_target: True
    input:
        summary=SUMMARY,
        figures=FIGURE_FILES,
        lpr_figures=LPR_FIGURE_FILES,
        structured=STRUCTURED_TARGETS,
