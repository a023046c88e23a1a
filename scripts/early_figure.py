"""Figure rules fig9, figA18, figA19 (findeval.early_plots): draw one figure and write the table it draws."""

import _bootstrap  # noqa: F401
from findeval import early_plots, jobs

jobs.setup_logging(snakemake.log[0])
early_plots.draw_figure(
    snakemake.params.figure,
    pdf=snakemake.output.pdf,
    png=snakemake.output.png,
    table_out=snakemake.output.table,
    style=snakemake.params.style,
)
