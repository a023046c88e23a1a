"""Rule lpr_trajectory: the dense level-0 find run again, with the LPR pruning would give after every epoch."""

import _bootstrap  # noqa: F401
from findeval import early, jobs
from findeval.hparams import H

jobs.setup_logging(snakemake.log[0])
p = snakemake.params
early.lpr_trajectory(
    snakemake.output.table,
    init=snakemake.input.init,
    data=snakemake.input.data,
    h_find=H.parse(p.hfind),
    seed=int(snakemake.wildcards.seed),
    fraction=p.fraction,
    training=p.training,
    augment=p.augment,
    device=str(p.device),
    **p.speed,
    threads=snakemake.threads,
)
jobs.exit_now()
