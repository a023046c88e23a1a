"""Rule prune: mask of level {level} by global magnitude pruning of level {level}-1's trained weights."""

import _bootstrap  # noqa: F401
from findeval import process
from findeval.a1 import jobs
from findeval.hparams import H

process.setup_logging(snakemake.log[0])
jobs.prune(
    snakemake.output.mask,
    trained=snakemake.input.trained,
    parent_mask=snakemake.input.get("parent"),
    fraction=snakemake.params.fraction,
    level=int(snakemake.wildcards.level),
    seed=int(snakemake.wildcards.seed),
    h_find=H.parse(snakemake.wildcards.hfind),
)
process.exit_now()  # skip torch's interpreter teardown (1-2 s per job)
