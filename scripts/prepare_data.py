"""Rule prepare_data: the dataset as one compact uint8 array file."""

import _bootstrap  # noqa: F401
from findeval import process
from findeval.a1 import jobs

process.setup_logging(snakemake.log[0])
jobs.prepare_data(snakemake.output.data, **snakemake.params.dataset)
