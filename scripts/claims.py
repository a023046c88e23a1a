"""Rule claims: the claims report (results/<exp>/claims.csv, results/<exp>/figures/claims.pdf and .png)."""

import _bootstrap  # noqa: F401
from findeval import process
from findeval.claims import jobs as claims_jobs

process.setup_logging(snakemake.log[0])
claims_jobs.write_report(
    {
        "summary": snakemake.input.summary,
        "fig6": snakemake.input.fig6,
        "fig7": snakemake.input.fig7,
        "fig8": snakemake.input.fig8,
        "structured": list(snakemake.input.structured),
        "fig9": list(snakemake.input.fig9),
        "fig4": list(snakemake.input.fig4),
        "figA15": snakemake.input.figA15,
        "figA16": snakemake.input.figA16,
        "figA17": snakemake.input.figA17,
        "figA13": list(snakemake.input.figA13),
        "figA14": list(snakemake.input.figA14),
        "figA18": list(snakemake.input.figA18),
        "figA19": list(snakemake.input.figA19),
    },
    snakemake.params.claims,
    out_csv=snakemake.output.table,
    pdf=snakemake.output.pdf,
    png=snakemake.output.png,
    style=snakemake.params.style,
)
