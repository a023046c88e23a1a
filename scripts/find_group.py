"""Rules find_group_<i>: Algorithm A1 for several H_find of one replicate, in lock-step (runtime.find_group)."""

import _bootstrap
from findeval import paths, process
from findeval.a1 import jobs
from findeval.hparams import H

process.setup_logging(snakemake.log[0])
p, out = snakemake.params, snakemake.output
chains = [
    {"h_find": H.parse(slug), **{key: paths.by_level(out, f"c{j}_{name}") for key, name in jobs.CHAIN_FILES.items()}}
    for j, slug in enumerate(p.hfinds)
]
jobs.find_chains(
    chains,
    init=snakemake.input.init,
    data=snakemake.input.data,
    seed=int(snakemake.wildcards.seed),
    fraction=p.fraction,
    group=len(chains),
    **_bootstrap.training_args(snakemake),
)
process.exit_now()
