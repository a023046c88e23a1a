"""Rule global_random_mask: exact-count uniformly random mask of level {level}."""

import _bootstrap  # noqa: F401
from findeval import process
from findeval.a1 import jobs

process.setup_logging(snakemake.log[0])
jobs.global_random_mask(
    snakemake.output.mask,
    architecture=snakemake.input.architecture,
    fraction=snakemake.params.fraction,
    level=int(snakemake.wildcards.level),
    seed=int(snakemake.wildcards.seed),
)
process.exit_now()  # skip torch's interpreter teardown (1-2 s per job)
