"""Rules train_find_lpr and train_eval_lpr: train the ticket of an LPR-constrained chain (match-LPR or local)."""

import _bootstrap
from findeval import process
from findeval.hparams import H
from findeval.lpr import jobs as lpr_jobs

process.setup_logging(snakemake.log[0])
p = snakemake.params
lpr_jobs.train_chain(
    snakemake.output.metrics,
    out_trained=snakemake.output.get("trained"),
    constraint=p.constraint,
    h_find=H.parse(p.hfind),
    h_eval=H.parse(p.heval),
    h_ref=H.parse(p.href) if p.href else None,
    start=snakemake.input.start,
    mask=snakemake.input.mask,
    data=snakemake.input.data,
    role=snakemake.rule,
    level=int(snakemake.wildcards.level),
    seed=int(snakemake.wildcards.seed),
    **_bootstrap.training_args(snakemake),
)
process.exit_now()  # skip torch's interpreter teardown (1-2 s per job)
