"""Rule structured_speed: inference images/s of the dense network and of every narrow one (speed.csv)."""

import _bootstrap  # noqa: F401
from findeval import process
from findeval.structured import jobs as structured_jobs

process.setup_logging(snakemake.log[0])
s = snakemake.params.speed
structured_jobs.speed_table(
    snakemake.output.speed,
    dense=snakemake.input.dense,
    pruned=list(snakemake.input.pruned),
    data=snakemake.input.data,
    batch_size=s["batch_size"],
    repeats=s["repeats"],
    warmup=s["warmup"],
    threads=s["threads"],
)
