"""Structured figure rules (fig5, figA10-A12, figRethinking): draw one figure from the metrics it needs."""

import _bootstrap  # noqa: F401
from findeval import jobs, structured_plots

jobs.setup_logging(snakemake.log[0])
table = structured_plots.load_table(list(snakemake.input.metrics))
structured_plots.draw_figure(snakemake.params.params, table, pdf=snakemake.output.pdf,
                             png=snakemake.output.png, style=snakemake.params.style)
