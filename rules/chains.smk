# runtime.granularity "chain" (the default): one job per find chain (all levels of Algorithm A1 for one
# H_find and replicate) and one per evaluation sweep (every level of one mask source with one H_eval).
# The files are those of the per-level rules (rules/find.smk, baselines.smk, eval.smk, lpr_levels.smk),
# written by the same functions in the same order: only the number of process starts changes.
# See docs/pipeline.md, "Job granularity".

# Their input functions: eval_sweep_input in rules/common.smk, the LPR chains' in findeval.lpr; every file is
# named by findeval.paths (per_level: the named files of levels first..last of a chain folder).

# runtime.group > 0: the sweeps pass **SWEEP_GROUP (rules/common.smk).
# the folders of a find chain and of an LPR-constrained chain (rule patterns)
FIND_CHAIN = paths.find_chain("{exp}", "{hfind}", "{seed}")
LPR_CHAIN = paths.lpr_chain(EXP, "{chain}", "{seed}")


rule find_chain:
    input:
        data=paths.data("{exp}"),
        init=paths.init("{exp}", "{seed}"),
    output:
        **paths.per_level(FIND_CHAIN, 0, LEVELS, "trained", "metrics"),
        **paths.per_level(FIND_CHAIN, 1, LEVELS, "mask", "ticket"),
    log:
        paths.log("{exp}", "find_chain", "hfind", "seed"),
    benchmark:
        paths.benchmark("{exp}", "find_chain", "hfind", "seed")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **JOB.train(),
        hfind="{hfind}",
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/find_chain.py"


# runtime.find_group > 0: the find chains of one replicate whose H_find share a batch size are one job each
# (FIND_GROUPS, find_group_outputs and take_profile_settings in rules/common.smk). Each writes the files of its
# chains' find_chain jobs and takes precedence over find_chain for them (ruleorder); any other H_find keeps its
# find_chain job. One rule per (experiment, group): a Snakemake rule's outputs share one set of wildcards.
for _i, (_exp, _slugs) in enumerate(FIND_GROUPS):
    take_profile_settings(f"find_group_{_i}", "find_chain")

    rule:
        name:
            f"find_group_{_i}"
        input:
            data=paths.data(_exp),
            init=paths.init(_exp, "{seed}"),
        output:
            **find_group_outputs(_exp, _slugs),
        log:
            paths.log(_exp, f"find_group_{_i}", "seed"),
        benchmark:
            paths.benchmark(_exp, f"find_group_{_i}", "seed")
        conda:
            ENV
        threads: RUNTIME["threads"]
        resources:
            **GPU,
        params:
            **Experiment(_exp).train(),
            hfinds=_slugs,
            fraction=config["pruning"]["fraction"],
        script:
            "../scripts/find_group.py"

    workflow.ruleorder(f"find_group_{_i}", "find_chain")


# runtime.find_group > 0: a find chain alone in its batch size within its replicate is grouped with the same H_find
# of the other replicates (SEED_GROUPS, seed_group_outputs in rules/common.smk): one job, no wildcards, each network
# on its own replicate's theta_0 and data order; it takes precedence over find_chain for those files.
for _i, (_exp, _slug, _seeds) in enumerate(SEED_GROUPS):
    take_profile_settings(f"find_seeds_group_{_i}", "find_chain")

    rule:
        name:
            f"find_seeds_group_{_i}"
        input:
            **{f"init_{_s}": paths.init(_exp, _s) for _s in _seeds},
            data=paths.data(_exp),
        output:
            **seed_group_outputs(_exp, _slug, _seeds),
        log:
            paths.log(_exp, f"find_seeds_group_{_i}", name=_slug),
        benchmark:
            paths.benchmark(_exp, f"find_seeds_group_{_i}", name=_slug)
        conda:
            ENV
        threads: RUNTIME["threads"]
        resources:
            **GPU,
        params:
            **Experiment(_exp).train(),
            hfind=_slug,
            seeds=_seeds,
            fraction=config["pruning"]["fraction"],
        script:
            "../scripts/find_seeds_group.py"

    workflow.ruleorder(f"find_seeds_group_{_i}", "find_chain")


rule global_random_masks:
    input:
        architecture=paths.architecture("{exp}", "{seed}"),
    output:
        **paths.per_level(paths.global_random_masks("{exp}", "{seed}"), 1, LEVELS, "mask"),
    log:
        paths.log("{exp}", "global_random_masks", "seed"),
    localrule: True
    conda:
        ENV
    params:
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/random_masks.py"


rule preserve_lpr_masks:
    input:
        **paths.per_level(FIND_CHAIN, 1, LEVELS, lottery="mask"),
    output:
        **paths.per_level(paths.preserve_lpr_masks("{exp}", "{hfind}", "{seed}"), 1, LEVELS, "mask"),
    log:
        paths.log("{exp}", "preserve_lpr_masks", "hfind", "seed"),
    localrule: True
    conda:
        ENV
    script:
        "../scripts/random_masks.py"


rule eval_sweep:
    input:
        unpack(eval_sweep_input),
    output:
        **paths.per_level(
            paths.eval_sweep("{exp}", "{source}", "{heval}", "{seed}"), 1, LEVELS, "metrics"
        ),
    log:
        paths.log("{exp}", "eval_sweep", "source", "heval", "seed"),
    benchmark:
        paths.benchmark("{exp}", "eval_sweep", "source", "heval", "seed")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **SWEEP_GROUP,
        **JOB.train(),
        kind=source_kind,
        hfind=source_hfind,
        heval="{heval}",
    script:
        "../scripts/eval_sweep.py"


rule lpr_find_chain:
    input:
        unpack(MAIN.input(lpr.find_chain_input, LEVELS)),
    output:
        **paths.per_level(LPR_CHAIN, 1, LEVELS, "mask", "ticket", "trained", "metrics"),
    log:
        paths.log(EXP, "lpr_find_chain", "chain", "seed"),
    benchmark:
        paths.benchmark(EXP, "lpr_find_chain", "chain", "seed")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **MAIN.train(),
        spec=lambda w: lpr.chain_spec(w.chain),
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/lpr_find_chain.py"


# runtime.find_group > 0: the LPR-constrained chains of one replicate whose H_find share a batch size (match-LPR and
# local alike: findeval.lpr.plan.find_groups) are one job each, in lock-step, as the find groups above; each writes
# the files of its chains' lpr_find_chain jobs and takes precedence over lpr_find_chain for them.
LPR_FIND_GROUPS = lpr.find_groups(config, RUNTIME["find_group"])

for _i, _chains in enumerate(LPR_FIND_GROUPS):
    take_profile_settings(f"lpr_find_group_{_i}", "lpr_find_chain")

    rule:
        name:
            f"lpr_find_group_{_i}"
        input:
            unpack(MAIN.input(lpr.find_group_input, _chains, LEVELS)),
        output:
            **lpr.find_group_outputs(EXP, _chains, LEVELS),
        log:
            paths.log(EXP, f"lpr_find_group_{_i}", "seed"),
        benchmark:
            paths.benchmark(EXP, f"lpr_find_group_{_i}", "seed")
        conda:
            ENV
        threads: RUNTIME["threads"]
        resources:
            **GPU,
        params:
            **MAIN.train(),
            chains=_chains,
            fraction=config["pruning"]["fraction"],
        script:
            "../scripts/lpr_find_group.py"

    workflow.ruleorder(f"lpr_find_group_{_i}", "lpr_find_chain")


rule lpr_eval_sweep:
    input:
        unpack(MAIN.input(lpr.eval_sweep_input, LEVELS)),
    output:
        **paths.per_level(
            paths.eval_sweep(EXP, "{constrained}", "{heval}", "{seed}"), 1, LEVELS, "metrics"
        ),
    log:
        paths.log(EXP, "lpr_eval_sweep", "constrained", "heval", "seed"),
    benchmark:
        paths.benchmark(EXP, "lpr_eval_sweep", "constrained", "heval", "seed")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **SWEEP_GROUP,
        **MAIN.train(),
        spec=lambda w: lpr.chain_spec(w.constrained),
        heval="{heval}",
    script:
        "../scripts/lpr_eval_sweep.py"
