"""Rules train_find and train_eval: train a masked network and record its metrics."""

import _bootstrap
from findeval import process
from findeval.a1 import jobs
from findeval.hparams import H

process.setup_logging(snakemake.log[0])
p = snakemake.params
jobs.train_run(
    snakemake.output.metrics,
    out_trained=snakemake.output.get("trained"),
    start=snakemake.input.start,
    mask=snakemake.input.get("mask"),
    data=snakemake.input.data,
    kind=p.kind,
    role=snakemake.rule,
    h_find=H.parse(p.hfind) if p.hfind else None,
    h_eval=H.parse(p.heval),
    level=int(snakemake.wildcards.level),
    seed=int(snakemake.wildcards.seed),
    **_bootstrap.training_args(snakemake),
)
process.exit_now()  # skip torch's interpreter teardown (1-2 s per job)
