# findeval: the decoupled find-eval phenomenon of global magnitude pruning, end to end.
#
#   snakemake --cores all figures/fig2.pdf      one figure
#   snakemake --cores all                       every figure and results/<experiment>/summary.csv
#
# Parsing stays cheap (the SLURM plugin re-parses this file for every job): no torch, no file scans.


from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/find.smk"
include: "rules/baselines.smk"
include: "rules/eval.smk"
include: "rules/aggregate.smk"
include: "rules/figures.smk"


rule all:
    default_target: True
    input:
        summary=SUMMARY,
        figures=FIGURE_FILES,
