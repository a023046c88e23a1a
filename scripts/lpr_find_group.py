"""Rules lpr_find_group_<i>: several LPR-constrained chains of one replicate, in lock-step (runtime.find_group)."""

import _bootstrap
from findeval import paths, process
from findeval.hparams import H
from findeval.lpr import jobs as lpr_jobs
from findeval.a1.jobs import CHAIN_FILES
from findeval.lpr.plan import chain_spec

process.setup_logging(snakemake.log[0])
p, inp, out = snakemake.params, snakemake.input, snakemake.output
chains = []
for j, chain in enumerate(p.chains):
    spec = chain_spec(chain)
    chains.append({
        "constraint": spec["constraint"],
        **{key: paths.by_level(out, f"c{j}_{name}") for key, name in
           CHAIN_FILES.items()},
        "dense_trained": inp[f"c{j}_dense"],
        "h_find": H.parse(spec["hfind"]),
        "h_ref": H.parse(spec["href"]) if spec["href"] else None,
        "reference_masks": paths.by_level(inp, f"c{j}_reference"),
    })
lpr_jobs.constrained_chains(
    chains,
    init=inp.init,
    data=inp.data,
    seed=int(snakemake.wildcards.seed),
    fraction=p.fraction,
    group=len(chains),
    **_bootstrap.training_args(snakemake),
)
process.exit_now()
