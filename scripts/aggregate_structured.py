"""Rule aggregate_structured: every structured run's metrics in one table (structured/summary.csv)."""

import _bootstrap  # noqa: F401
from findeval.structured import plots as structured_plots
from findeval import process

process.setup_logging(snakemake.log[0])
structured_plots.write_summary(list(snakemake.input.metrics), snakemake.output.summary,
                               experiment=snakemake.wildcards.exp)
