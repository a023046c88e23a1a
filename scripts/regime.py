"""Rule regime: results/<exp>/regime.csv and regime_layers.csv (findeval.regime), the table also in the log."""

import _bootstrap  # noqa: F401
from findeval import regime

rows, layers, text = regime.report(snakemake.params.config)
regime.write_csv(snakemake.output.table, rows, regime.COLUMNS)
regime.write_csv(snakemake.output.layers, layers, regime.LAYER_COLUMNS)
with open(snakemake.log[0], "a") as fh:
    fh.write(text + "\n")
