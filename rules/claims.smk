# The claims report (issues 3, 12 and 22): every claim of the paper a figure can test, measured on this run as a
# declared comparison paired over seeds (t interval, sign-flip p, one verdict rule, Holm). Reads only the tables the
# pipeline writes (summary.csv, the LPR figures', fig4's and fig9's tables, the structured summary when the
# config has a `structured:` block) and, when other_models sets figA8/figA9, the metrics.json of the stand-ins'
# compared runs (no rule writes a summary.csv of their experiments; scripts/claims.py does not pass these inputs:
# write_report reads the same paths from params.claims["other_models"]); see findeval.claims.

from findeval.claims import plan as claims

CLAIMS_INPUTS = claims.inputs(config)
CLAIMS_FILES = claims.targets(config)


rule claims:
    input:
        summary=CLAIMS_INPUTS["summary"],
        fig6=CLAIMS_INPUTS["fig6"],
        fig7=CLAIMS_INPUTS["fig7"],
        fig8=CLAIMS_INPUTS["fig8"],
        structured=CLAIMS_INPUTS["structured"],
        fig9=CLAIMS_INPUTS["fig9"],
        fig4=CLAIMS_INPUTS["fig4"],
        figA15=CLAIMS_INPUTS["figA15"],
        figA16=CLAIMS_INPUTS["figA16"],
        figA17=CLAIMS_INPUTS["figA17"],
        figA13=CLAIMS_INPUTS["figA13"],
        figA14=CLAIMS_INPUTS["figA14"],
        figA18=CLAIMS_INPUTS["figA18"],
        figA19=CLAIMS_INPUTS["figA19"],
        # C27/C28: the compared runs of the figA9/figA8 stand-ins (their metrics.json; empty without other_models)
        figA8=CLAIMS_INPUTS["figA8"],
        figA9=CLAIMS_INPUTS["figA9"],
    output:
        table=reported(
            paths.claims(EXP),
            caption="../report/claims_table.rst",
            category="Claims",
            subcategory="Claims table",
            labels={"figure": "claims.csv", "paper": "all sections"},
        ),
        pdf=plan.figure_path(config, "claims", "pdf"),
        png=reported(plan.figure_path(config, "claims", "png"), **plan.report_args("claims")),
    log:
        paths.log(EXP, "claims"),
    conda:
        ENV
    params:
        claims=claims.settings(config),
        style=config["figures"]["style"],
    script:
        "../scripts/claims.py"
