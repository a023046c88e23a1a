"""Rules early_find_group_<i>: iterative early pruning for several H_find of one pruning epoch k and replicate,
in lock-step (runtime.find_group)."""

import _bootstrap
from findeval import paths, process
from findeval.early import jobs as early_jobs
from findeval.a1.jobs import CHAIN_FILES
from findeval.hparams import H

process.setup_logging(snakemake.log[0])
p, out = snakemake.params, snakemake.output
chains = [
    {"h_find": H.parse(slug), **{key: paths.by_level(out, f"c{j}_{name}") for key, name in
                                 CHAIN_FILES.items()}}
    for j, slug in enumerate(p.hfinds)
]
early_jobs.early_chains(
    chains,
    init=snakemake.input.init,
    data=snakemake.input.data,
    prune_epoch=int(p.epoch),
    seed=int(snakemake.wildcards.seed),
    fraction=p.fraction,
    group=len(chains),
    **_bootstrap.training_args(snakemake),
)
process.exit_now()
