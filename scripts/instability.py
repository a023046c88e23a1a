"""Rules instability (copy B and the interpolation) and late_random_eval_sweep (findeval.rewinding.instability_plan)."""

import _bootstrap
from findeval import paths, process
from findeval.hparams import H
from findeval.rewinding import instability_jobs

process.setup_logging(snakemake.log[0])
p, inp, out, w = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards
train = _bootstrap.training_args(snakemake)
if snakemake.rule == "instability":
    instability_jobs.instability(
        out.json,
        ticket=inp.ticket,
        mask=inp.mask,
        copy_a=inp.copy_a,
        copy_a_metrics=inp.copy_a_metrics,
        data=inp.data,
        h=H.parse(w.hfind),
        seed=int(w.seed),
        level=int(w.level),
        late_epoch=int(w.late_k),
        alphas=p.alphas,
        **train,
    )
else:
    instability_jobs.random_eval_sweep(
        rkind=w.rkind,
        metrics=paths.by_level(out, "metrics"),
        masks_in=paths.by_level(inp, "mask"),
        reinit=inp.reinit,
        data=inp.data,
        h_find=H.parse(w.hfind),
        h_eval=H.parse(w.heval),
        seed=int(w.seed),
        **_bootstrap.training_args(snakemake, grouped=True),
    )
process.exit_now()
