# Per-level rules of the LPR-constrained chains (runtime.granularity: level): prune_match_lpr /
# prune_local (mask and ticket) -> train_find_lpr -> ..., and train_eval_lpr. rules/chains.smk runs the
# same steps as one job per chain (lpr_find_chain) and per evaluation sweep (lpr_eval_sweep).


rule prune_match_lpr:
    input:
        unpack(MAIN_INPUT(lpr.prune_match_lpr_input)),
    output:
        mask=MAIN("results/{exp}/find_matched/{hfind}/match-{href}/seed{seed}/level{level}/mask.h5"),
        ticket=MAIN(
            "results/{exp}/find_matched/{hfind}/match-{href}/seed{seed}/level{level}/ticket.pt"
        ),
    log:
        MAIN("results/{exp}/logs/prune_match_lpr/{hfind}/match-{href}/seed{seed}/level{level}.log"),
    localrule: True
    conda:
        "../envs/findeval.yaml"
    params:
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/prune_match_lpr.py"


rule prune_local:
    input:
        unpack(MAIN_INPUT(lpr.prune_local_input)),
    output:
        mask=MAIN("results/{exp}/find_local/{hfind}/seed{seed}/level{level}/mask.h5"),
        ticket=MAIN("results/{exp}/find_local/{hfind}/seed{seed}/level{level}/ticket.pt"),
    log:
        MAIN("results/{exp}/logs/prune_local/{hfind}/seed{seed}/level{level}.log"),
    localrule: True
    conda:
        "../envs/findeval.yaml"
    params:
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/prune_local.py"


rule train_find_lpr:
    input:
        unpack(MAIN_INPUT(lpr.chain_train_input)),
    output:
        trained=MAIN("results/{exp}/{chain}/seed{seed}/level{level}/trained.pt"),
        metrics=MAIN("results/{exp}/{chain}/seed{seed}/level{level}/metrics.json"),
    log:
        MAIN("results/{exp}/logs/train_find_lpr/{chain}/seed{seed}/level{level}.log"),
    benchmark:
        MAIN("results/{exp}/benchmarks/train_find_lpr/{chain}/seed{seed}/level{level}.tsv")
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        constraint=lambda w: lpr.chain_spec(w.chain)["constraint"],
        hfind=lambda w: lpr.chain_spec(w.chain)["hfind"],
        href=lambda w: lpr.chain_spec(w.chain)["href"],
        heval=lambda w: lpr.chain_spec(w.chain)["hfind"],
        training=MAIN_CFG("training"),
        augment=MAIN_CFG("dataset", "augment"),
        device=RUNTIME["device"],
        speed=SPEED,
    script:
        "../scripts/train_lpr_chain.py"


rule train_eval_lpr:
    input:
        unpack(MAIN_INPUT(lpr.chain_eval_input)),
    output:
        metrics=MAIN(
            "results/{exp}/eval/{constrained}/{heval}/seed{seed}/level{level}/metrics.json"
        ),
    log:
        MAIN("results/{exp}/logs/train_eval_lpr/{constrained}/{heval}/seed{seed}/level{level}.log"),
    benchmark:
        MAIN(
            "results/{exp}/benchmarks/train_eval_lpr/{constrained}/{heval}/seed{seed}/level{level}.tsv"
        )
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        constraint=lambda w: lpr.chain_spec(w.constrained)["constraint"],
        hfind=lambda w: lpr.chain_spec(w.constrained)["hfind"],
        href=lambda w: lpr.chain_spec(w.constrained)["href"],
        heval="{heval}",
        training=MAIN_CFG("training"),
        augment=MAIN_CFG("dataset", "augment"),
        device=RUNTIME["device"],
        speed=SPEED,
    script:
        "../scripts/train_lpr_chain.py"
