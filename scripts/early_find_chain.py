"""Rule early_find_chain: iterative early pruning for one H_find, pruning epoch k and replicate (findeval.early)."""

import _bootstrap
from findeval import paths, process
from findeval.early import jobs as early_jobs
from findeval.hparams import H

process.setup_logging(snakemake.log[0])
p, out = snakemake.params, snakemake.output
early_jobs.early_chain(
    trained=paths.by_level(out, "trained"),
    metrics=paths.by_level(out, "metrics"),
    masks_out=paths.by_level(out, "mask"),
    tickets=paths.by_level(out, "ticket"),
    init=snakemake.input.init,
    data=snakemake.input.data,
    h_find=H.parse(p.hfind),
    prune_epoch=int(p.epoch),
    seed=int(snakemake.wildcards.seed),
    fraction=p.fraction,
    **_bootstrap.training_args(snakemake),
)
process.exit_now()
