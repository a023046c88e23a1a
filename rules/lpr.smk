# Layerwise pruning ratios (Section 3.4): the LPR figures 6, 8 and A17 read the find chains' mask files;
# Figure 7 (match-LPR) and Figures A15/A16 (local pruning) run their own LPR-constrained chains:
# train with H_find -> prune_match_lpr / prune_local (mask and ticket) -> train_find_lpr -> ... (see
# findeval.lpr). Their paths and which runs each figure needs live in findeval.lpr.

from findeval import lpr

LPR_FIGURE_FILES = lpr.figure_files(config)


wildcard_constraints:
    href=HSLUG,
    chain=rf"find_matched/{HSLUG}/match-{HSLUG}|find_local/{HSLUG}",
    constrained=rf"matched/{HSLUG}/match-{HSLUG}|local/{HSLUG}",


rule prune_match_lpr:
    input:
        unpack(lpr.prune_match_lpr_input),
    output:
        mask="results/{exp}/find_matched/{hfind}/match-{href}/seed{seed}/level{level}/mask.h5",
        ticket="results/{exp}/find_matched/{hfind}/match-{href}/seed{seed}/level{level}/ticket.pt",
    log:
        "results/{exp}/logs/prune_match_lpr/{hfind}/match-{href}/seed{seed}/level{level}.log",
    conda:
        "../envs/findeval.yaml"
    params:
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/prune_match_lpr.py"


rule prune_local:
    input:
        unpack(lpr.prune_local_input),
    output:
        mask="results/{exp}/find_local/{hfind}/seed{seed}/level{level}/mask.h5",
        ticket="results/{exp}/find_local/{hfind}/seed{seed}/level{level}/ticket.pt",
    log:
        "results/{exp}/logs/prune_local/{hfind}/seed{seed}/level{level}.log",
    conda:
        "../envs/findeval.yaml"
    params:
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/prune_local.py"


rule train_find_lpr:
    input:
        unpack(lpr.chain_train_input),
    output:
        trained="results/{exp}/{chain}/seed{seed}/level{level}/trained.pt",
        metrics="results/{exp}/{chain}/seed{seed}/level{level}/metrics.json",
    log:
        "results/{exp}/logs/train_find_lpr/{chain}/seed{seed}/level{level}.log",
    benchmark:
        "results/{exp}/benchmarks/train_find_lpr/{chain}/seed{seed}/level{level}.tsv"
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
        training=config["training"],
        augment=config["dataset"]["augment"],
        device=RUNTIME["device"],
    script:
        "../scripts/train_lpr_chain.py"


rule train_eval_lpr:
    input:
        unpack(lpr.chain_eval_input),
    output:
        metrics="results/{exp}/eval/{constrained}/{heval}/seed{seed}/level{level}/metrics.json",
    log:
        "results/{exp}/logs/train_eval_lpr/{constrained}/{heval}/seed{seed}/level{level}.log",
    benchmark:
        "results/{exp}/benchmarks/train_eval_lpr/{constrained}/{heval}/seed{seed}/level{level}.tsv"
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        constraint=lambda w: lpr.chain_spec(w.constrained)["constraint"],
        hfind=lambda w: lpr.chain_spec(w.constrained)["hfind"],
        href=lambda w: lpr.chain_spec(w.constrained)["href"],
        heval=lambda w: w.heval,
        training=config["training"],
        augment=config["dataset"]["augment"],
        device=RUNTIME["device"],
    script:
        "../scripts/train_lpr_chain.py"


for _fig in lpr.FIGURES:

    rule:
        name:
            _fig
        input:
            files=lpr.figure_inputs(config, _fig),
        output:
            pdf=f"figures/{_fig}.pdf",
            png=f"figures/{_fig}.png",
            table=lpr.data_path(config, _fig),
        log:
            f"results/{EXP}/logs/figures/{_fig}.log",
        localrule: True
        conda:
            "../envs/findeval.yaml"
        params:
            figure=lpr.figure_params(config, _fig),
            style=config["figures"]["style"],
        script:
            "../scripts/lpr_figure.py"
