"""Rules rewinding_group_<i>: Fig. 4's chains of one rewinding variant and replicate, in lock-step
(runtime.find_group; findeval.rewinding)."""

import _bootstrap
from findeval import paths, process
from findeval.hparams import H
from findeval.rewinding import jobs as rewinding_jobs
from findeval.a1.jobs import CHAIN_FILES

process.setup_logging(snakemake.log[0])
p, inp, out = snakemake.params, snakemake.input, snakemake.output
chains = [
    {"h_find": H.parse(slug), "dense": inp.get(f"c{j}_dense"), "theta": inp.get(f"c{j}_theta"),
     **{key: paths.by_level(out, f"c{j}_{name}") for key, name in
        CHAIN_FILES.items()}}
    for j, slug in enumerate(p.hfinds)
]
init = {inp.get(f"c{j}_init") for j in range(len(chains))} - {None}
rewinding_jobs.variant_chains(
    chains,
    variant=p.variant,
    data=inp.data,
    init=init.pop() if init else None,
    late_epoch=int(p.late_epoch),
    warmup_iters=int(p.warmup_iters) if p.variant == "warmup" else None,
    seed=int(snakemake.wildcards.seed),
    fraction=p.fraction,
    group=len(chains),
    **_bootstrap.training_args(snakemake),
)
process.exit_now()
