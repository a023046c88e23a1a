"""Rule find_chain: Algorithm A1 for one H_find and replicate, every level (runtime.granularity: chain)."""

import _bootstrap
from findeval import paths, process
from findeval.a1 import jobs
from findeval.hparams import H

process.setup_logging(snakemake.log[0])
p, out = snakemake.params, snakemake.output
jobs.find_chain(
    **{key: paths.by_level(out, name) for key, name in jobs.CHAIN_FILES.items()},
    init=snakemake.input.init,
    data=snakemake.input.data,
    h_find=H.parse(p.hfind),
    seed=int(snakemake.wildcards.seed),
    fraction=p.fraction,
    **_bootstrap.training_args(snakemake),
)
process.exit_now()
