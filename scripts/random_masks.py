"""Rules global_random_masks and preserve_lpr_masks: a baseline's random masks of every level."""

import _bootstrap  # noqa: F401
from findeval import paths, process
from findeval.a1 import jobs

process.setup_logging(snakemake.log[0])
seed = int(snakemake.wildcards.seed)
masks_out = paths.by_level(snakemake.output, "mask")
if snakemake.rule == "global_random_masks":
    jobs.global_random_masks(
        masks_out,
        architecture=snakemake.input.architecture,
        fraction=snakemake.params.fraction,
        seed=seed,
    )
else:
    jobs.preserve_lpr_masks(masks_out, lottery_masks=paths.by_level(snakemake.input, "lottery"), seed=seed)
process.exit_now()  # skip torch's interpreter teardown (1-2 s per job)
