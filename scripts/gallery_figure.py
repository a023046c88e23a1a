"""Rule gallery_figure: copy one figure of the experiment into the committed gallery (figures/), atomically."""

import shutil

import _bootstrap  # noqa: F401
from findeval import io, process

process.setup_logging(snakemake.log[0])
with io.atomic_path(snakemake.output[0]) as tmp:
    shutil.copyfile(snakemake.input[0], tmp)
process.exit_now()
