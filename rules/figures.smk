# One terminal rule per paper figure: figures/<name>.pdf and a .png beside it. Each reads only the
# metrics it draws, so `snakemake figures/fig2.pdf` runs only what Figure 2 needs. figA8/figA9 (other models
# and datasets) draw their own experiment's runs and exist when the config's other_models sets them.

for _fig in (*plan.FIGURES, *plan.other_figures(config)):

    rule:
        name:
            _fig
        input:
            metrics=at_dag_time(plan.figure_inputs, _fig),
        output:
            pdf=plan.figure_path(config, _fig, "pdf"),
            png=report(plan.figure_path(config, _fig, "png"), **plan.report_args(_fig)),
        log:
            paths.log(EXP, f"figures/{_fig}"),
        localrule: True
        conda:
            "../envs/findeval.yaml"
        params:
            figure=_fig,
            panels=plan.figure_params(config, _fig),
            style=config["figures"]["style"],
        script:
            "../scripts/figure.py"
