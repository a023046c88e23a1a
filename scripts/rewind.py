"""Rule rewind: the ticket theta_0 * M of level {level}."""

import _bootstrap  # noqa: F401
from findeval import process
from findeval.a1 import jobs

process.setup_logging(snakemake.log[0])
jobs.rewind(snakemake.output.ticket, start=snakemake.input.start, mask=snakemake.input.mask)
process.exit_now()  # skip torch's interpreter teardown (1-2 s per job)
