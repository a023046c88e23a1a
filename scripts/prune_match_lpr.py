"""Rule prune_match_lpr: mask of level {level} with every layer's count matched to H_ref's mask, and its ticket."""

import _bootstrap  # noqa: F401
from findeval import process
from findeval.hparams import H
from findeval.lpr import jobs as lpr_jobs

process.setup_logging(snakemake.log[0])
w = snakemake.wildcards
lpr_jobs.prune_chain(
    snakemake.output.mask,
    snakemake.output.ticket,
    constraint="match_lpr",
    trained=snakemake.input.trained,
    parent_mask=snakemake.input.get("parent"),
    start=snakemake.input.start,
    reference_mask=snakemake.input.reference,
    level=int(w.level),
    seed=int(w.seed),
    h_find=H.parse(w.hfind),
    h_ref=H.parse(w.href),
    fraction=snakemake.params.fraction,
)
process.exit_now()  # skip torch's interpreter teardown (1-2 s per job)
