# Algorithm A1: train with H_find (line 4) -> prune p% of the remaining weights globally (line 5)
# -> rewind to theta_0 (line 6) -> train the next level.


rule train_find:
    input:
        unpack(train_find_input),
    output:
        trained="results/{exp}/find/{hfind}/seed{seed}/level{level}/trained.pt",
        metrics="results/{exp}/find/{hfind}/seed{seed}/level{level}/metrics.json",
    log:
        "results/{exp}/logs/train_find/{hfind}/seed{seed}/level{level}.log",
    benchmark:
        "results/{exp}/benchmarks/train_find/{hfind}/seed{seed}/level{level}.tsv"
    conda:
        "../envs/findeval.yaml"
    threads: RUNTIME["threads"]
    resources:
        gpu=0 if RUNTIME["device"] == "cpu" else 1,
    params:
        kind="lottery",
        hfind="{hfind}",
        heval="{hfind}",
        training=XCFG("training"),
        augment=XCFG("dataset", "augment"),
        device=RUNTIME["device"],
        speed=SPEED,
    script:
        "../scripts/train.py"


rule prune:
    input:
        unpack(prune_input),
    output:
        mask="results/{exp}/find/{hfind}/seed{seed}/level{level}/mask.h5",
    log:
        "results/{exp}/logs/prune/{hfind}/seed{seed}/level{level}.log",
    localrule: True
    conda:
        "../envs/findeval.yaml"
    params:
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/prune.py"


rule rewind:
    input:
        start="results/{exp}/seed{seed}/init.pt",
        mask="results/{exp}/find/{hfind}/seed{seed}/level{level}/mask.h5",
    output:
        ticket="results/{exp}/find/{hfind}/seed{seed}/level{level}/ticket.pt",
    log:
        "results/{exp}/logs/rewind/{hfind}/seed{seed}/level{level}.log",
    localrule: True
    conda:
        "../envs/findeval.yaml"
    script:
        "../scripts/rewind.py"
