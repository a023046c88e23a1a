"""Rule aggregate_structured: every structured run's metrics in one table (structured/summary.csv)."""

import _bootstrap  # noqa: F401
from findeval import process
from findeval.structured import plots as structured_plots

process.setup_logging(snakemake.log[0])
structured_plots.write_summary(list(snakemake.input.metrics), snakemake.output.summary,
                               experiment=snakemake.wildcards.exp)
