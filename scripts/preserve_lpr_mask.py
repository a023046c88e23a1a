"""Rule preserve_lpr_mask: the lottery mask of level {level} shuffled within each layer."""

import _bootstrap  # noqa: F401
from findeval import process
from findeval.a1 import jobs

process.setup_logging(snakemake.log[0])
jobs.preserve_lpr_mask(
    snakemake.output.mask,
    lottery_mask=snakemake.input.mask,
    level=int(snakemake.wildcards.level),
    seed=int(snakemake.wildcards.seed),
)
process.exit_now()  # skip torch's interpreter teardown (1-2 s per job)
