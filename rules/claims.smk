# The claims report (issue 3, item 9): every qualitative claim of the paper measured on this run, with a
# bootstrap interval over seeds and a verdict. Reads only the tables the pipeline writes (summary.csv, the
# LPR figures' tables, the structured summary when the config has a `structured:` block); see findeval.claims.

from findeval import claims

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
    output:
        table=f"results/{EXP}/claims.csv",
        pdf="figures/claims.pdf",
        png="figures/claims.png",
    log:
        f"results/{EXP}/logs/claims.log",
    conda:
        "../envs/findeval.yaml"
    params:
        claims=claims.settings(config),
        style=config["figures"]["style"],
    script:
        "../scripts/claims.py"
