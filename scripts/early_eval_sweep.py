"""Rule early_eval_sweep: every early mask of one chain trained with one H_eval (findeval.early)."""

import _bootstrap  # noqa: F401
from findeval import early, jobs
from findeval.hparams import H

jobs.setup_logging(snakemake.log[0])
p, inp = snakemake.params, snakemake.input
early.early_eval_sweep(
    metrics=jobs.by_level(snakemake.output, "metrics"),
    starts=jobs.by_level(inp, "start"),
    masks_in=jobs.by_level(inp, "mask"),
    data=inp.data,
    h_find=H.parse(p.hfind),
    h_eval=H.parse(p.heval),
    prune_epoch=int(p.epoch),
    seed=int(snakemake.wildcards.seed),
    training=p.training,
    augment=p.augment,
    device=str(p.device),
    **p.speed,
    group=p.get("grouped", {}).get("group", 0),
    threads=snakemake.threads,
)
jobs.exit_now()
