"""Rules find_seeds_group_<i>: Algorithm A1 for one H_find in several replicates, in lock-step (runtime.find_group;
each network its own theta_0 and data order)."""

import _bootstrap
from findeval import paths, process
from findeval.a1 import jobs
from findeval.hparams import H

process.setup_logging(snakemake.log[0])
p, inp, out = snakemake.params, snakemake.input, snakemake.output
h = H.parse(p.hfind)
chains = [
    {"h_find": h, "seed": int(s), "init": inp[f"init_{s}"],
     **{key: paths.by_level(out, f"s{s}_{name}") for key, name in jobs.CHAIN_FILES.items()}}
    for s in p.seeds
]
jobs.find_chains(chains, data=inp.data, fraction=p.fraction, group=len(chains), **_bootstrap.training_args(snakemake))
process.exit_now()
