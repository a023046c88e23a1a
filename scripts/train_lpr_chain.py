"""Rules train_find_lpr and train_eval_lpr: train the ticket of an LPR-constrained chain (match-LPR or local)."""

import _bootstrap  # noqa: F401
from findeval import jobs, lpr
from findeval.hparams import H

jobs.setup_logging(snakemake.log[0])
p = snakemake.params
lpr.train_chain(
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
    training=p.training,
    augment=p.augment,
    device=str(p.device),
    **p.speed,
    threads=snakemake.threads,
)
jobs.exit_now()  # skip torch's interpreter teardown (1-2 s per job)
