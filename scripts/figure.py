"""Figure rules (every figure, rules/figures.smk): draw one figure, and the table it draws where its family writes
one (findeval.figures.draw)."""

import _bootstrap  # noqa: F401
from findeval import figures, process

process.setup_logging(snakemake.log[0])
figures.draw(
    snakemake.params.family,
    snakemake.rule,
    snakemake.params.figure,
    files=list(snakemake.input.files),
    pdf=snakemake.output.pdf,
    png=snakemake.output.png,
    table=snakemake.output.get("table"),
    style=snakemake.params.style,
)
