"""Figure rules (fig1, fig2, ...): draw one paper figure from the metrics it needs."""

import _bootstrap  # noqa: F401
from findeval import analysis, jobs, plotting

jobs.setup_logging(snakemake.log[0])
table = analysis.load_metrics(snakemake.input.metrics)
plotting.draw_figure(
    snakemake.params.figure,
    snakemake.params.panels,
    table,
    pdf=snakemake.output.pdf,
    png=snakemake.output.png,
    style=snakemake.params.style,
)
