"""Rule gallery_experiment: record which experiment the committed gallery (figures/) holds, once its PNGs are copied."""

import _bootstrap  # noqa: F401
from findeval import io, process

process.setup_logging(snakemake.log[0])
with io.atomic_path(snakemake.output[0]) as tmp:
    with open(tmp, "w") as fh:
        fh.write(f"{snakemake.params.experiment}\n")
process.exit_now()
