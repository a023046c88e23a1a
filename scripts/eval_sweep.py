"""Rule eval_sweep: train every level's mask of one source with one H_eval (runtime.granularity: chain)."""

import _bootstrap  # noqa: F401
from findeval import jobs
from findeval.hparams import H

jobs.setup_logging(snakemake.log[0])
p, inp = snakemake.params, snakemake.input
metrics = jobs.by_level(snakemake.output, "metrics")
starts = jobs.by_level(inp, "start") or {level: inp.reinit for level in metrics}
jobs.eval_sweep(
    metrics=metrics,
    starts=starts,
    masks_in=jobs.by_level(inp, "mask"),
    data=inp.data,
    kind=p.kind,
    h_find=H.parse(p.hfind) if p.hfind else None,
    h_eval=H.parse(p.heval),
    seed=int(snakemake.wildcards.seed),
    training=p.training,
    augment=p.augment,
    device=str(p.device),
    **p.speed,
    group=p.get("grouped", {}).get("group", 0),
    threads=snakemake.threads,
)
jobs.exit_now()
