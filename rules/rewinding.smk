# Variants of the lottery ticket procedure (Section 3.3, Fig. 4) and the instability analysis (Figs. A13,
# A14). One job per variant find chain (every level) and per evaluation sweep, as rules/chains.smk does for
# Algorithm A1, in either runtime.granularity. Semantics and figure inputs: findeval.rewinding and
# findeval.rewinding.instability_plan (docs/analyses.md, "Rewinding variants and instability"); paths: findeval.paths.
#   late:      late_theta (theta_k) -> late_chain (prune, rewind to theta_k, train epochs k+1..E)
#   warmup:    warmup_chain (H_find with linear LR warmup, from theta_0, every level incl. the dense run)
#   lr_rewind: lr_rewind_chain (no weight rewinding: trained_{L-1} * M_L, the whole schedule)
#   variant_eval_sweep: a chain's masks trained with H_eval from the chain's tickets
#   instability (copy B + interpolation), late_preserve_lpr_masks, late_random_eval_sweep -> figA13, figA14

from findeval.rewinding import instability_plan as instability
from findeval.rewinding import plan as rewinding

RW = rewinding.settings(config)
RW_LEVELS = RW["levels"]
# These rules are the main experiment's own: they train with MAIN.train() (rules/common.smk), and the sweeps
# add **SWEEP_GROUP.


# the grammars rewinding.parse_variant and instability_jobs.random_eval_sweep accept
wildcard_constraints:
    late_k=paths.INDEX,
    warm=paths.INDEX,
    variant=rewinding.VARIANT,
    rkind=instability.RKIND,


# the chain folders of the variants (their wildcards: {late_k} or {warm}, {hfind}, {seed})
LATE = rewinding.variant_name("late", "{late_k}")
LATE_CHAIN = paths.variant_chain(EXP, LATE, "{hfind}", "{seed}")
WARMUP_CHAIN = paths.variant_chain(
    EXP, rewinding.variant_name("warmup", "{warm}"), "{hfind}", "{seed}"
)
LR_REWIND_CHAIN = paths.variant_chain(EXP, rewinding.variant_name("lr_rewind"), "{hfind}", "{seed}")


rule late_theta:
    input:
        init=paths.init(EXP, "{seed}"),
        data=paths.data(EXP),
    output:
        theta=paths.theta_k(EXP, LATE, "{hfind}", "{seed}"),
    log:
        paths.log(EXP, "late_theta", "late_k", "hfind", "seed"),
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **MAIN.train(),
    script:
        "../scripts/rewinding.py"


rule late_chain:
    input:
        unpack(MAIN.input(rewinding.chain_input, "late")),
    output:
        **paths.per_level(LATE_CHAIN, 1, RW_LEVELS, "mask", "ticket", "trained", "metrics"),
    log:
        paths.log(EXP, "late_chain", "late_k", "hfind", "seed"),
    benchmark:
        paths.benchmark(EXP, "late_chain", "late_k", "hfind", "seed")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **MAIN.train(),
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/rewinding.py"


rule warmup_chain:
    input:
        unpack(MAIN.input(rewinding.chain_input, "warmup")),
    output:
        **paths.per_level(WARMUP_CHAIN, 0, RW_LEVELS, "trained", "metrics"),
        **paths.per_level(WARMUP_CHAIN, 1, RW_LEVELS, "mask", "ticket"),
    log:
        paths.log(EXP, "warmup_chain", "warm", "hfind", "seed"),
    benchmark:
        paths.benchmark(EXP, "warmup_chain", "warm", "hfind", "seed")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **MAIN.train(),
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/rewinding.py"


rule lr_rewind_chain:
    input:
        unpack(MAIN.input(rewinding.chain_input, "lr_rewind")),
    output:
        **paths.per_level(LR_REWIND_CHAIN, 1, RW_LEVELS, "mask", "ticket", "trained", "metrics"),
    log:
        paths.log(EXP, "lr_rewind_chain", "hfind", "seed"),
    benchmark:
        paths.benchmark(EXP, "lr_rewind_chain", "hfind", "seed")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **MAIN.train(),
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/rewinding.py"


# runtime.find_group > 0 (granularity chain): Fig. 4's chains of one variant and replicate whose H_find share a
# batch size (findeval.rewinding.plan.find_groups) are one job each, in lock-step, as the find groups of
# rules/chains.smk; each writes the files of its chains' late_chain / warmup_chain / lr_rewind_chain jobs and
# takes precedence over that rule.
RW_GROUPS = (
    rewinding.find_groups(config, RUNTIME["find_group"])
    if RUNTIME["granularity"] == "chain"
    else []
)

for _i, _group in enumerate(RW_GROUPS):
    _chain_rule = f"{_group['variant']}_chain"
    take_profile_settings(f"rewinding_group_{_i}", _chain_rule)

    rule:
        name:
            f"rewinding_group_{_i}"
        input:
            unpack(
                MAIN.input(
                    rewinding.group_input, _group["variant"], _group["hs"], RW["late_epoch"]
                )
            ),
        output:
            **rewinding.group_outputs(EXP, _group, RW_LEVELS),
        log:
            paths.log(EXP, f"rewinding_group_{_i}", "seed"),
        benchmark:
            paths.benchmark(EXP, f"rewinding_group_{_i}", "seed")
        conda:
            ENV
        threads: RUNTIME["threads"]
        resources:
            **GPU,
        params:
            **MAIN.train(),
            variant=_group["variant"],
            hfinds=[h.slug for h in _group["hs"]],
            late_epoch=RW["late_epoch"] or 0,
            warmup_iters=RW["warmup_iters"],
            fraction=config["pruning"]["fraction"],
        script:
            "../scripts/rewinding_group.py"

    workflow.ruleorder(f"rewinding_group_{_i}", _chain_rule)


rule variant_eval_sweep:
    input:
        unpack(MAIN.input(rewinding.eval_sweep_input, RW_LEVELS)),
    output:
        **paths.per_level(
            paths.variant_eval(EXP, "{variant}", "{hfind}", "{heval}", "{seed}"),
            1,
            RW_LEVELS,
            "metrics",
        ),
    log:
        paths.log(EXP, "variant_eval_sweep", "variant", "hfind", "heval", "seed"),
    benchmark:
        paths.benchmark(EXP, "variant_eval_sweep", "variant", "hfind", "heval", "seed")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **MAIN.train(),
        **SWEEP_GROUP,
        warmup_in_eval=RW["warmup_in_eval"],
    script:
        "../scripts/rewinding.py"


rule instability:
    input:
        unpack(MAIN.input(instability.instability_input)),
    output:
        json=paths.interpolation(EXP, "{late_k}", "{hfind}", "{seed}", "{level}"),
    log:
        paths.log(EXP, "instability", "late_k", "hfind", "seed", "level"),
    benchmark:
        paths.benchmark(EXP, "instability", "late_k", "hfind", "seed", "level")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **MAIN.train(),
        alphas=instability.settings(config)["alphas"],
    script:
        "../scripts/instability.py"


rule late_preserve_lpr_masks:
    input:
        **paths.per_level(LATE_CHAIN, 1, RW_LEVELS, lottery="mask"),
    output:
        **paths.per_level(
            paths.variant_random_masks(EXP, LATE, "{hfind}", "{seed}"), 1, RW_LEVELS, "mask"
        ),
    log:
        paths.log(EXP, "late_preserve_lpr_masks", "late_k", "hfind", "seed"),
    localrule: True
    conda:
        ENV
    script:
        "../scripts/random_masks.py"


rule late_random_eval_sweep:
    input:
        unpack(MAIN.input(instability.random_eval_input, RW_LEVELS)),
    output:
        **paths.per_level(
            paths.variant_random_eval(EXP, LATE, "{rkind}", "{hfind}", "{heval}", "{seed}"),
            1,
            RW_LEVELS,
            "metrics",
        ),
    log:
        paths.log(EXP, "late_random_eval_sweep", "late_k", "rkind", "hfind", "heval", "seed"),
    benchmark:
        paths.benchmark(EXP, "late_random_eval_sweep", "late_k", "rkind", "hfind", "heval", "seed")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **MAIN.train(),
        **SWEEP_GROUP,
    script:
        "../scripts/instability.py"
