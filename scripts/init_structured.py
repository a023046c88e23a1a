"""Rule init_structured: theta of the dense network of the structured runs (A2 line 1), replicate {seed}."""

import _bootstrap  # noqa: F401
from findeval import process
from findeval.structured import jobs as structured_jobs

process.setup_logging(snakemake.log[0])
structured_jobs.init(snakemake.output.init, model=snakemake.params.model, dataset=snakemake.params.dataset,
                seed=int(snakemake.wildcards.seed))
