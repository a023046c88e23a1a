"""Rule lpr_find_chain: an LPR-constrained chain (match-LPR or local), every level (granularity: chain)."""

import _bootstrap
from findeval import paths, process
from findeval.hparams import H
from findeval.lpr import jobs as lpr_jobs

process.setup_logging(snakemake.log[0])
p, inp, out = snakemake.params, snakemake.input, snakemake.output
lpr_jobs.constrained_chain(
    constraint=p.spec["constraint"],
    trained=paths.by_level(out, "trained"),
    metrics=paths.by_level(out, "metrics"),
    masks_out=paths.by_level(out, "mask"),
    tickets=paths.by_level(out, "ticket"),
    dense_trained=inp.dense,
    init=inp.init,
    data=inp.data,
    h_find=H.parse(p.spec["hfind"]),
    h_ref=H.parse(p.spec["href"]) if p.spec["href"] else None,
    reference_masks=paths.by_level(inp, "reference"),
    seed=int(snakemake.wildcards.seed),
    fraction=p.fraction,
    **_bootstrap.training_args(snakemake),
)
process.exit_now()
