# One terminal rule per figure, for every figure of the pipeline (findeval.figures, the figure registry):
# results/<experiment>/figures/<name>.pdf and a .png beside it, plus the table it draws for the families that
# write one. Each reads only the files it draws (an input function: evaluated at DAG time, not at parse time),
# so `snakemake figures/fig2.pdf` runs only what Figure 2 needs. figA8/figA9 (other models and datasets) draw
# their own experiment's runs and exist when the config's other_models sets them; the early-pruning figures
# exist with an early_pruning: block.

from findeval import figures

# the inputs of `rule all` (Snakefile), by name: summary, figures, structured tables, claims, regime
DEFAULT_TARGET = figures.default_target(config, EXPERIMENTS)


for _fig, _family in figures.rules(config):

    rule:
        name:
            _fig
        input:
            files=at_dag_time(figures.inputs, _fig),
        output:
            **figures.tables(config, _fig),
            pdf=plan.figure_path(config, _fig, "pdf"),
            png=reported(plan.figure_path(config, _fig, "png"), **plan.report_args(_fig)),
        log:
            paths.log(EXP, f"figures/{_fig}"),
        localrule: True
        conda:
            ENV
        params:
            family=_family.name,
            figure=figures.params(config, _fig),
            style=config["figures"]["style"],
        script:
            "../scripts/figure.py"
