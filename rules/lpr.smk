# Layerwise pruning ratios (Section 3.4): the LPR figures 6, 8 and A17 read the find chains' mask files;
# Figure 7 (match-LPR) and Figures A15/A16 (local pruning) run their own LPR-constrained chains:
# train with H_find -> prune_match_lpr / prune_local (mask and ticket) -> train_find_lpr -> ... (see
# findeval.lpr). Which runs each figure needs lives in findeval.lpr, their paths in findeval.paths.

from findeval import lpr

LPR_FIGURE_FILES = lpr.figure_files(config)


# the grammars lpr.chain_spec parses (and H.parse for href)
wildcard_constraints:
    href=SLUG,
    chain=lpr.CHAIN,
    constrained=lpr.CONSTRAINED,


for _fig in lpr.FIGURES:

    rule:
        name:
            _fig
        input:
            files=at_dag_time(lpr.figure_inputs, _fig),
        output:
            pdf=plan.figure_path(config, _fig, "pdf"),
            png=report(plan.figure_path(config, _fig, "png"), **plan.report_args(_fig)),
            table=lpr.data_path(config, _fig),
        log:
            paths.log(EXP, f"figures/{_fig}"),
        localrule: True
        conda:
            "../envs/findeval.yaml"
        params:
            figure=lpr.figure_params(config, _fig),
            style=config["figures"]["style"],
        script:
            "../scripts/lpr_figure.py"
