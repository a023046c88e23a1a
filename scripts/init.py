"""Rule init: theta_0, the random baselines' new init, and the architecture of replicate {seed}."""

import _bootstrap  # noqa: F401
from findeval import process
from findeval.a1 import jobs

process.setup_logging(snakemake.log[0])
jobs.init(
    snakemake.output.init,
    snakemake.output.reinit,
    snakemake.output.architecture,
    model=snakemake.params.model,
    dataset=snakemake.params.dataset,
    seed=int(snakemake.wildcards.seed),
)
process.exit_now()  # skip torch's interpreter teardown (1-2 s per job)
