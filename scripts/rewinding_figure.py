"""Figure rules fig4, figA13 and figA14: draw one figure and write the table it draws."""

import _bootstrap  # noqa: F401
from findeval import jobs, rewinding_plots

jobs.setup_logging(snakemake.log[0])
rewinding_plots.draw_figure(
    snakemake.params.figure,
    pdf=snakemake.output.pdf,
    png=snakemake.output.png,
    table_out=snakemake.output.table,
    style=snakemake.params.style,
)
