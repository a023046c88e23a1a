"""Rules instability (copy B and the interpolation) and late_random_eval_sweep (findeval.instability)."""

import _bootstrap  # noqa: F401
from findeval import instability, jobs
from findeval.hparams import H

jobs.setup_logging(snakemake.log[0])
p, inp, out, w = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards
train = dict(training=p.training, augment=p.augment, device=str(p.device), threads=snakemake.threads, **p.speed)
if snakemake.rule == "instability":
    instability.instability(
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
    instability.random_eval_sweep(
        rkind=w.rkind,
        metrics=jobs.by_level(out, "metrics"),
        masks_in=jobs.by_level(inp, "mask"),
        reinit=inp.reinit,
        data=inp.data,
        h_find=H.parse(w.hfind),
        h_eval=H.parse(w.heval),
        seed=int(w.seed),
        group=p.get("grouped", {}).get("group", 0),
        **train,
    )
jobs.exit_now()
