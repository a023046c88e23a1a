"""Rule prune_local: mask of level {level} pruning every layer by the same fraction, and its ticket."""

import _bootstrap  # noqa: F401
from findeval import process
from findeval.hparams import H
from findeval.lpr import jobs as lpr_jobs

process.setup_logging(snakemake.log[0])
w = snakemake.wildcards
lpr_jobs.prune_chain(
    snakemake.output.mask,
    snakemake.output.ticket,
    constraint="local",
    trained=snakemake.input.trained,
    parent_mask=snakemake.input.get("parent"),
    start=snakemake.input.start,
    level=int(w.level),
    seed=int(w.seed),
    h_find=H.parse(w.hfind),
    fraction=snakemake.params.fraction,
)
process.exit_now()  # skip torch's interpreter teardown (1-2 s per job)
