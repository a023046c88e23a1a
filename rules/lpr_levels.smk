# Per-level rules of the LPR-constrained chains (runtime.granularity: level): prune_match_lpr /
# prune_local (mask and ticket) -> train_find_lpr -> ..., and train_eval_lpr. rules/chains.smk runs the
# same steps as one job per chain (lpr_find_chain) and per evaluation sweep (lpr_eval_sweep).

# the chain folders of the pruning rules, whose wildcards are {hfind} and {href} rather than one {chain}
MATCHED_CHAIN = paths.lpr_chain(EXP, lpr.chain_name("match_lpr", "{hfind}", "{href}"), "{seed}")
LOCAL_CHAIN = paths.lpr_chain(EXP, lpr.chain_name("local", "{hfind}"), "{seed}")


rule prune_match_lpr:
    input:
        unpack(MAIN.input(lpr.prune_match_lpr_input)),
    output:
        mask=paths.level_file(MATCHED_CHAIN, "{level}", "mask"),
        ticket=paths.level_file(MATCHED_CHAIN, "{level}", "ticket"),
    log:
        paths.log(EXP, "prune_match_lpr", "hfind", "href", "seed", "level"),
    localrule: True
    conda:
        ENV
    params:
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/prune_match_lpr.py"


rule prune_local:
    input:
        unpack(MAIN.input(lpr.prune_local_input)),
    output:
        mask=paths.level_file(LOCAL_CHAIN, "{level}", "mask"),
        ticket=paths.level_file(LOCAL_CHAIN, "{level}", "ticket"),
    log:
        paths.log(EXP, "prune_local", "hfind", "seed", "level"),
    localrule: True
    conda:
        ENV
    params:
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/prune_local.py"


rule train_find_lpr:
    input:
        unpack(MAIN.input(lpr.chain_train_input)),
    output:
        trained=paths.level_file(paths.lpr_chain(EXP, "{chain}", "{seed}"), "{level}", "trained"),
        metrics=paths.level_file(paths.lpr_chain(EXP, "{chain}", "{seed}"), "{level}", "metrics"),
    log:
        paths.log(EXP, "train_find_lpr", "chain", "seed", "level"),
    benchmark:
        paths.benchmark(EXP, "train_find_lpr", "chain", "seed", "level")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **MAIN.train(),
        constraint=lambda w: lpr.chain_spec(w.chain)["constraint"],
        hfind=lambda w: lpr.chain_spec(w.chain)["hfind"],
        href=lambda w: lpr.chain_spec(w.chain)["href"],
        heval=lambda w: lpr.chain_spec(w.chain)["hfind"],
    script:
        "../scripts/train_lpr_chain.py"


rule train_eval_lpr:
    input:
        unpack(MAIN.input(lpr.chain_eval_input)),
    output:
        metrics=paths.level_file(
            paths.eval_sweep(EXP, "{constrained}", "{heval}", "{seed}"), "{level}", "metrics"
        ),
    log:
        paths.log(EXP, "train_eval_lpr", "constrained", "heval", "seed", "level"),
    benchmark:
        paths.benchmark(EXP, "train_eval_lpr", "constrained", "heval", "seed", "level")
    conda:
        ENV
    threads: RUNTIME["threads"]
    resources:
        **GPU,
    params:
        **MAIN.train(),
        constraint=lambda w: lpr.chain_spec(w.constrained)["constraint"],
        hfind=lambda w: lpr.chain_spec(w.constrained)["hfind"],
        href=lambda w: lpr.chain_spec(w.constrained)["href"],
        heval="{heval}",
    script:
        "../scripts/train_lpr_chain.py"
