"""Rule find_chain: Algorithm A1 for one H_find and replicate, every level (runtime.granularity: chain)."""

import _bootstrap  # noqa: F401
from findeval import jobs
from findeval.hparams import H

jobs.setup_logging(snakemake.log[0])
p, out = snakemake.params, snakemake.output
jobs.find_chain(
    trained=jobs.by_level(out, "trained"),
    metrics=jobs.by_level(out, "metrics"),
    masks_out=jobs.by_level(out, "mask"),
    tickets=jobs.by_level(out, "ticket"),
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
