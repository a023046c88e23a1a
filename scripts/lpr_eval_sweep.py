"""Rule lpr_eval_sweep: every level of an LPR-constrained chain trained with one H_eval (granularity: chain)."""

import _bootstrap  # noqa: F401
from findeval import jobs, lpr
from findeval.hparams import H

jobs.setup_logging(snakemake.log[0])
p, inp = snakemake.params, snakemake.input
group = p.get("grouped", {}).get("group", 0)
constraint = p.spec["constraint"]
sweep = dict(
    metrics=jobs.by_level(snakemake.output, "metrics"),
    masks_in=jobs.by_level(inp, "mask"),
    data=inp.data,
    h_find=H.parse(p.spec["hfind"]),
    h_eval=H.parse(p.heval),
    seed=int(snakemake.wildcards.seed),
    training=p.training,
    augment=p.augment,
    device=str(p.device),
    **p.speed,
    threads=snakemake.threads,
)
h_ref = H.parse(p.spec["href"]) if p.spec["href"] else None
if group:  # runtime.group: lpr.train_chain's records (a lottery run + the constraint's keys), grouped
    jobs.grouped_sweep(group, starts=jobs.by_level(inp, "start"), kind="lottery", role="train_eval_lpr",
                       update={"kind": constraint, "constraint": constraint,
                               "H_ref": h_ref.as_dict() if h_ref else None}, **sweep)
else:
    lpr.constrained_eval_sweep(constraint=constraint, tickets=jobs.by_level(inp, "start"), h_ref=h_ref, **sweep)
jobs.exit_now()
