"""Rule early_eval_sweep: every early mask of one chain trained with one H_eval (findeval.early)."""

import _bootstrap
from findeval import paths, process
from findeval.early import jobs as early_jobs
from findeval.hparams import H

process.setup_logging(snakemake.log[0])
p, inp = snakemake.params, snakemake.input
early_jobs.early_eval_sweep(
    metrics=paths.by_level(snakemake.output, "metrics"),
    starts=paths.by_level(inp, "start"),
    masks_in=paths.by_level(inp, "mask"),
    data=inp.data,
    h_find=H.parse(p.hfind),
    h_eval=H.parse(p.heval),
    prune_epoch=int(p.epoch),
    seed=int(snakemake.wildcards.seed),
    **_bootstrap.training_args(snakemake, grouped=True),
)
process.exit_now()
