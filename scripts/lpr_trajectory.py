"""Rule lpr_trajectory: the dense level-0 find run again, with the LPR pruning would give after every epoch."""

import _bootstrap
from findeval import process
from findeval.early import jobs as early_jobs
from findeval.hparams import H

process.setup_logging(snakemake.log[0])
p = snakemake.params
early_jobs.lpr_trajectory(
    snakemake.output.table,
    init=snakemake.input.init,
    data=snakemake.input.data,
    h_find=H.parse(p.hfind),
    seed=int(snakemake.wildcards.seed),
    fraction=p.fraction,
    **_bootstrap.training_args(snakemake),
)
process.exit_now()
