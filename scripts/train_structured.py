"""Rules train_find_structured (dense, H_find), finetune_structured (narrow net, H_eval), scratch_e and
scratch_b (narrow architecture, new init, H_eval): train and write metrics.json."""

import _bootstrap
from findeval import process
from findeval.hparams import H
from findeval.structured import jobs as structured_jobs

process.setup_logging(snakemake.log[0])
p = snakemake.params
structured_jobs.train_run(
    snakemake.output.metrics,
    out_trained=snakemake.output.get("trained"),
    kind=p.kind,
    start=snakemake.input.start,
    data=snakemake.input.data,
    h_find=H.parse(p.hfind),
    h_eval=H.parse(p.heval),
    seed=int(snakemake.wildcards.seed),
    ratio=float(p.ratio),
    **_bootstrap.training_args(snakemake),
)
