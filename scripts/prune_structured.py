"""Rule prune_structured: one-shot global channel pruning by summed |BN gamma| (A2 line 3) at {ratio}."""

import _bootstrap  # noqa: F401
from findeval import process
from findeval.hparams import H
from findeval.structured import jobs as structured_jobs

process.setup_logging(snakemake.log[0])
structured_jobs.prune(
    snakemake.output.pruned,
    snakemake.output.channels,
    trained=snakemake.input.trained,
    data=snakemake.input.data,
    ratio=float(snakemake.wildcards.ratio),
    seed=int(snakemake.wildcards.seed),
    h_find=H.parse(snakemake.wildcards.hfind),
)
