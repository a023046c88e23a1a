# Random baselines (Section 2.3): trained from a new random init (reinit.pt) with H_eval.


rule global_random_mask:
    input:
        architecture="results/{exp}/seed{seed}/architecture.json",
    output:
        mask="results/{exp}/random/global/seed{seed}/level{level}/mask.h5",
    log:
        "results/{exp}/logs/global_random_mask/seed{seed}/level{level}.log",
    localrule: True
    conda:
        "../envs/findeval.yaml"
    params:
        fraction=config["pruning"]["fraction"],
    script:
        "../scripts/global_random_mask.py"


rule preserve_lpr_mask:
    input:
        mask="results/{exp}/find/{hfind}/seed{seed}/level{level}/mask.h5",
    output:
        mask="results/{exp}/random/preserve_lpr/{hfind}/seed{seed}/level{level}/mask.h5",
    log:
        "results/{exp}/logs/preserve_lpr_mask/{hfind}/seed{seed}/level{level}.log",
    localrule: True
    conda:
        "../envs/findeval.yaml"
    script:
        "../scripts/preserve_lpr_mask.py"
