"""Rule lpr_eval_sweep: every level of an LPR-constrained chain trained with one H_eval (granularity: chain)."""

import _bootstrap  # noqa: F401
from findeval import jobs, lpr
from findeval.hparams import H

jobs.setup_logging(snakemake.log[0])
p, inp = snakemake.params, snakemake.input
lpr.constrained_eval_sweep(
    constraint=p.spec["constraint"],
    metrics=jobs.by_level(snakemake.output, "metrics"),
    tickets=jobs.by_level(inp, "start"),
    masks_in=jobs.by_level(inp, "mask"),
    data=inp.data,
    h_find=H.parse(p.spec["hfind"]),
    h_eval=H.parse(p.heval),
    h_ref=H.parse(p.spec["href"]) if p.spec["href"] else None,
    seed=int(snakemake.wildcards.seed),
    training=p.training,
    augment=p.augment,
    device=str(p.device),
    **p.speed,
    group=p.get("grouped", {}).get("group", 0),
    threads=snakemake.threads,
)
jobs.exit_now()
