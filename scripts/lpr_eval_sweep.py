"""Rule lpr_eval_sweep: every level of an LPR-constrained chain trained with one H_eval (granularity: chain)."""

import _bootstrap
from findeval import paths, process
from findeval.hparams import H
from findeval.lpr import jobs as lpr_jobs

process.setup_logging(snakemake.log[0])
p, inp = snakemake.params, snakemake.input
lpr_jobs.constrained_eval_sweep(
    constraint=p.spec["constraint"],
    metrics=paths.by_level(snakemake.output, "metrics"),
    tickets=paths.by_level(inp, "start"),
    masks_in=paths.by_level(inp, "mask"),
    data=inp.data,
    h_find=H.parse(p.spec["hfind"]),
    h_eval=H.parse(p.heval),
    h_ref=H.parse(p.spec["href"]) if p.spec["href"] else None,
    seed=int(snakemake.wildcards.seed),
    **_bootstrap.training_args(snakemake, grouped=True),
)
process.exit_now()
