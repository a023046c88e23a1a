"""Rule aggregate: every metrics.json of the experiment in one tidy table."""

import _bootstrap  # noqa: F401
from findeval import analysis, process

process.setup_logging(snakemake.log[0])
analysis.write_summary(snakemake.input.metrics, snakemake.output.summary, experiment=snakemake.params.experiment)
