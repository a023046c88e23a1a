"""LPR figure rules (fig6, fig7, fig8, figA15, figA16, figA17): draw one figure and write the table it draws."""

import _bootstrap  # noqa: F401
from findeval import jobs, lpr_plots

jobs.setup_logging(snakemake.log[0])
lpr_plots.draw_figure(
    snakemake.params.figure,
    pdf=snakemake.output.pdf,
    png=snakemake.output.png,
    table_out=snakemake.output.table,
    style=snakemake.params.style,
)
