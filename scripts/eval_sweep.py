"""Rule eval_sweep: train every level's mask of one source with one H_eval (runtime.granularity: chain)."""

import _bootstrap
from findeval import paths, process
from findeval.a1 import jobs
from findeval.hparams import H

process.setup_logging(snakemake.log[0])
p, inp = snakemake.params, snakemake.input
metrics = paths.by_level(snakemake.output, "metrics")
starts = paths.by_level(inp, "start") or {level: inp.reinit for level in metrics}
jobs.eval_sweep(
    metrics=metrics,
    starts=starts,
    masks_in=paths.by_level(inp, "mask"),
    data=inp.data,
    kind=p.kind,
    h_find=H.parse(p.hfind) if p.hfind else None,
    h_eval=H.parse(p.heval),
    seed=int(snakemake.wildcards.seed),
    **_bootstrap.training_args(snakemake, grouped=True),
)
process.exit_now()
