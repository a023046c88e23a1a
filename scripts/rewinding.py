"""Rules late_theta, late_chain, warmup_chain, lr_rewind_chain and variant_eval_sweep (findeval.rewinding)."""

import _bootstrap
from findeval import paths, process
from findeval.hparams import H
from findeval.rewinding import jobs as rewinding_jobs

process.setup_logging(snakemake.log[0])
p, inp, out, w = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards
train = _bootstrap.training_args(snakemake)
rule = snakemake.rule
if rule == "late_theta":
    rewinding_jobs.late_theta(out.theta, init=inp.init, data=inp.data, h_find=H.parse(w.hfind), seed=int(w.seed),
                         late_epoch=int(w.late_k), **train)
elif rule in ("late_chain", "warmup_chain", "lr_rewind_chain"):
    variant = rule.removesuffix("_chain")
    rewinding_jobs.variant_chain(
        variant=variant,
        trained=paths.by_level(out, "trained"),
        metrics=paths.by_level(out, "metrics"),
        masks_out=paths.by_level(out, "mask"),
        tickets=paths.by_level(out, "ticket"),
        data=inp.data,
        init=inp.get("init"),
        dense=inp.get("dense"),
        theta=inp.get("theta"),
        late_epoch=int(w.late_k) if variant == "late" else 0,
        warmup_iters=int(w.warm) if variant == "warmup" else None,
        h_find=H.parse(w.hfind),
        seed=int(w.seed),
        fraction=p.fraction,
        **train,
    )
elif rule == "variant_eval_sweep":
    rewinding_jobs.variant_eval_sweep(
        vdir=w.variant,
        metrics=paths.by_level(out, "metrics"),
        starts=paths.by_level(inp, "start"),
        masks_in=paths.by_level(inp, "mask"),
        data=inp.data,
        h_find=H.parse(w.hfind),
        h_eval=H.parse(w.heval),
        seed=int(w.seed),
        warmup_in_eval=p.warmup_in_eval,
        **_bootstrap.training_args(snakemake, grouped=True),
    )
else:
    raise ValueError(f"scripts/rewinding.py does not run rule {rule}")
process.exit_now()
