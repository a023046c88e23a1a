"""Rule gallery_figure: copy one figure of the experiment into the committed gallery (figures/), atomically."""

import shutil

import _bootstrap  # noqa: F401
from findeval import io, jobs

jobs.setup_logging(snakemake.log[0])
with io.atomic_path(snakemake.output[0]) as tmp:
    shutil.copyfile(snakemake.input[0], tmp)
jobs.exit_now()
